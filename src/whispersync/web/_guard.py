"""Who may talk to the API: the Host a request names and the Origin a browser sends.

A web page the user happens to visit can make their browser send requests to
`http://127.0.0.1:8765`: a "simple" cross-site POST goes out without a CORS
preflight (text/plain, form bodies), and DNS rebinding points a foreign name at
loopback so that even reads look same-origin. Two checks close both doors:

* the Host header must name this server: loopback, the bind address, or one of
  `allowed_hosts` (a foreign name means DNS rebinding); a server bound to every
  interface (0.0.0.0) must have a token, which browsers never attach on their own,
  so there any Host is taken unless `allowed_hosts` narrows it;
* a state-changing request (POST, PUT, PATCH, DELETE) that carries an Origin must
  come from this server's own origin or one of `allowed_origins`. Scripts and the
  CLI send no Origin and are not affected.

The console's own checks (a login session cookie, a CSRF token in every form) sit
behind these two: see `web.console._sessions`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from whispersync.settings import LOOPBACK_HOSTS, Settings

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def host_name(host_header: str) -> str:
    """`[::1]:8765` → `::1`; `LocalHost:8765` → `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class RequestGuard:
    def __init__(self, settings: Settings) -> None:
        extra = {h.lower() for h in settings.allowed_hosts}
        self._any_host = settings.host in _WILDCARD_BINDS and not extra
        self._hosts = frozenset(LOOPBACK_HOSTS | {settings.host.lower()} | extra)
        self._origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None or self._any_host:  # HTTP/1.0 clients may send no Host
            return True
        return host_name(host_header) in self._hosts

    def origin_allowed(self, method: str, origin: str | None, host_header: str | None) -> bool:
        if method not in STATE_CHANGING or origin is None:
            return True
        origin = origin.strip().lower()
        if origin in self._origins:
            return True
        if origin == "null":  # sandboxed frames, file:// pages
            return False
        # Same origin: the page was served by this very server.
        return host_header is not None and urlsplit(origin).netloc == host_header.strip().lower()
