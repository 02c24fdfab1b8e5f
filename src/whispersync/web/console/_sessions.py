"""Console sessions and CSRF tokens: signed cookies that never hold the API token.

A session cookie is ``KIND.SID.ISSUED.MAC``: a random session id, the second it was
issued and an HMAC-SHA256 of the rest under a secret made when the process starts
and kept only in memory. So a cookie cannot be forged or stretched, it reveals
nothing of the API token, and a restart (or a new token, which needs one) ends
every session. KIND is ``auth`` (logged in with the token) or ``open`` (a console
on loopback with no token, which still needs a session id for its CSRF tokens);
with a token configured only ``auth`` sessions count.

Nothing is stored per session, so cookie-less clients cost no memory; only a
logout is remembered (the id, until the session would have expired anyway).

CSRF: every console form that changes state carries ``csrf_token``, an HMAC of the
session id; a POST without the right one is refused. The cookie is
``SameSite=Strict`` as well, and the app's guard refuses cross-site Origins: three
locks on one door, because each has been bypassed alone in some browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

COOKIE = "whispersync_session"
MAX_AGE_SECONDS = 12 * 3600
_KINDS = ("auth", "open")


class Sessions:
    """Issues and checks session cookies and their CSRF tokens; see the module docstring."""

    def __init__(self, *, secret: bytes | None = None, max_age: float = MAX_AGE_SECONDS,
                 clock=time.time) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.max_age = max_age
        self._clock = clock
        self._ended: dict[str, float] = {}  # session id -> when its cookie would have expired
        self._lock = threading.Lock()

    def open(self, kind: str) -> tuple[str, str]:
        """A new session: (cookie value, session id)."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
        sid = secrets.token_urlsafe(18)
        payload = f"{kind}.{sid}.{int(self._clock())}"
        return f"{payload}.{self._mac('session', payload)}", sid

    def session_id(self, cookie: str | None, *, kinds: tuple[str, ...] = _KINDS) -> str | None:
        """The session id of a valid, live cookie of one of ``kinds``; None for anything else."""
        if not cookie or len(cookie) > 200:
            return None
        payload, _, mac = cookie.rpartition(".")
        kind, sid, issued = (payload.split(".") + ["", "", ""])[:3] if payload.count(".") == 2 else ("", "", "")
        if kind not in kinds or not sid or not issued.isdigit():
            return None
        if not hmac.compare_digest(mac.encode(), self._mac("session", payload).encode()):
            return None
        now = self._clock()
        if not 0 <= now - int(issued) < self.max_age:
            return None
        with self._lock:
            if sid in self._ended:
                return None
        return sid

    def end(self, sid: str) -> None:
        """Log a session out: its cookie is refused from now on."""
        now = self._clock()
        with self._lock:
            # Forget the ended ones whose cookies have expired by themselves.
            for old in [s for s, until in self._ended.items() if until <= now]:
                del self._ended[old]
            self._ended[sid] = now + self.max_age

    def csrf_token(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        if sid is None or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(sid).encode())

    def _mac(self, purpose: str, text: str) -> str:
        # The purpose keeps a CSRF token from ever being valid as a session MAC, and back.
        return hmac.new(self._secret, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()
