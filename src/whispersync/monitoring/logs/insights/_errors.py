"""The one error a query can raise."""

from __future__ import annotations

from whispersync.errors import QuerySyntaxError


class InsightsQueryError(QuerySyntaxError):
    """A query that cannot be parsed or run (see QuerySyntaxError for ``position``,
    ``line``, ``column`` and ``reason``).

    ``detail`` holds the query engine's own text when it refused to run the query:
    for the server's log only, never for the client.
    """

    code = "bad_query"

    def __init__(self, message: str, query: str = "", position: int = 0) -> None:
        super().__init__(message, query, position)
        self.detail: str | None = None
