"""HTTP: the ingest and query API served by `whispersync up`."""

from whispersync.web.api import create_app

__all__ = ["create_app"]
