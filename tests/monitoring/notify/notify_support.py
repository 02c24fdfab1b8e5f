"""Shared by the notify tests (on sys.path via conftest): loopback receivers, secrets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
from helpers import free_port

from whispersync.monitoring.notify import AlarmNotification

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with ``status``.

    ``down()`` closes the socket (connection refused); ``up()`` listens again on the same port.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict] = []
        self.status = 200
        self.body = b"ok"
        self.headers: dict[str, str] = {}  # extra response headers, e.g. Retry-After
        self._server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "raw": raw, "json": orjson.loads(raw) if raw else None})
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.body)))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def bodies(self) -> list[dict]:
        return [r["json"] for r in self.requests]


def notification(name: str = "SystemDown", *, priority: str = "P1", old: str = "OK", new: str = "ALARM",
                 at: float = T0, reason: str = "Threshold Crossed: 1 datapoint [12.0] was >= the threshold (10.0).",
                 ) -> AlarmNotification:
    return AlarmNotification(alarm_name=name, description="Worker errors >= 10 in 1 minute", priority=priority,
                             old_state=old, new_state=new, reason=reason,
                             reason_data={"recentDatapoints": [12.0], "threshold": 10.0}, timestamp=at)


def all_files_text(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


SLACK_SECRET = "T0AAAA/B0BBBB/slacksecretpath0123456789"
PD_KEY = "R0UTINGKEYpagerduty0123456789ab"
WEBHOOK_SECRET = "whsec_signing_key_0123456789"
