"""The HTTP server `up` runs: uvicorn with connection limits and a stop in bounded time.

uvicorn alone lets a client hold a connection for ever by sending its headers a
byte at a time (it has no header timeout), accepts any number of connections, and
on a stop waits without limit for every connection to finish. Here:

- a client has `http_header_timeout` seconds, from its connection or from the first
  byte of its next request on a kept-alive one, to send the request line and
  headers; then it gets a 408 and is closed (the body has its own time limit, in
  the app: `http_body_timeout`);
- an idle kept-alive connection is closed after `http_keepalive_timeout`;
- beyond `http_max_connections` open connections a new one is answered 503 and
  closed as it is accepted, before a byte of it is read: so a flood costs no
  memory and never reaches the app, whose 5xx count (the P1 alarm) stays clean;
- a stop closes idle connections at once, gives requests in flight
  `shutdown_timeout` seconds, then cancels them and closes what is left;
- uvicorn's own messages go to the structured log, never a traceback on the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import h11
import orjson
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from whispersync.settings import Settings
from whispersync.telemetry import Logger


def _canned(status: int, reason: str, code: str, message: str, *extra: bytes) -> bytes:
    """A whole HTTP/1.1 answer in the project's error shape, written before the
    request was parsed (h11 cannot send one then), so built by hand."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    head = [f"HTTP/1.1 {status} {reason}".encode(), b"content-type: application/json",
            b"content-length: %d" % len(body), b"connection: close", *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class ServerConfig(uvicorn.Config):
    """uvicorn's config plus the two limits its protocol does not have."""

    def __init__(self, app: Any, *, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a cap on open connections."""

    config: ServerConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.config.max_connections:
            self._refused = True
            self.transport = transport
            transport.write(_canned(503, "Service Unavailable", "too_many_connections",
                                    "the server has too many open connections; retry shortly",
                                    b"retry-after: 1"))
            transport.close()
            return
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        # A kept-alive connection between requests is under the keep-alive timeout;
        # the first byte of its next request starts that request's header clock.
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._cancel_header_timer()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.config.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why it is cut off (RFC 9110 §15.5.9)
            self.transport.write(_canned(408, "Request Timeout", "header_timeout",
                                         f"request headers not received within {self.config.header_timeout:g}s"))
        self.transport.close()


class GracefulServer(uvicorn.Server):
    """A first SIGINT or SIGTERM asks for a graceful stop; a second SIGINT calls
    `force_stop` (which does not return).

    uvicorn re-raises the signal once it has stopped, which would kill the process
    before the workers finish their memos, and restores the default handlers, under
    which a signal during that drain kills it halfway. Here the handlers stay for
    the rest of the process, and `up` drains the pool within what is left of the
    stop budget (`remaining`).
    """

    def __init__(self, config: ServerConfig, *, force_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self.force_stop = force_stop
        self._stop_deadline: float | None = None

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is threading.main_thread():  # signals are the main thread's only
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self.handle_exit)
        yield

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not self.should_exit:
            self.should_exit = True
            self._stop_deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 0)
        elif sig == signal.SIGINT:
            self.force_exit = True
            self.force_stop()

    def remaining(self, default: float) -> float:
        """Seconds left of the stop budget (at least 1, to flush); `default` if no signal came."""
        if self._stop_deadline is None:
            return default
        return max(1.0, self._stop_deadline - time.monotonic())

    async def shutdown(self, sockets: Any = None) -> None:
        await super().shutdown(sockets)
        # uvicorn cancels the requests still running after timeout_graceful_shutdown
        # but leaves their connections open; a slow client is not kept waiting.
        for connection in list(self.server_state.connections):
            connection.transport.close()


class _ToStructuredLog(logging.Handler):
    """uvicorn's records (a bad request, a request cancelled at a stop, an error that
    escaped the app) as one structured line each in our log; an error also as one
    line on stderr, without the traceback."""

    def __init__(self, log: Logger) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().strip()
            fields: dict[str, Any] = {"source": record.name}
            error = record.exc_info[1] if record.exc_info else None
            if error is not None:
                fields["error_type"] = type(error).__name__
            # A request cancelled because a stop ran out of time is the stop working, not an error.
            if record.levelno >= logging.ERROR and not isinstance(error, asyncio.CancelledError):
                self._log.error(message, **fields)
                suffix = f" ({fields['error_type']})" if "error_type" in fields else ""
                sys.stderr.write(f"uvicorn: {message}{suffix}\n")
            else:
                self._log.warning(message, **fields)
        except Exception:  # noqa: BLE001, S110 - logging must never break serving (nor print a traceback)
            pass


def build_server(app: Any, settings: Settings, log: Logger, *, force_stop: Callable[[], None]) -> GracefulServer:
    handler = _ToStructuredLog(log)
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.handlers = [handler]
    uvicorn_log.propagate = False
    config = ServerConfig(
        app, host=settings.host, port=settings.port,
        http=LimitedH11Protocol, header_timeout=settings.http_header_timeout,
        max_connections=settings.http_max_connections,
        timeout_keep_alive=settings.http_keepalive_timeout,  # type: ignore[arg-type]  # a float works
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
        log_config=None, log_level="warning", access_log=False,
    )
    return GracefulServer(config, force_stop=force_stop)
