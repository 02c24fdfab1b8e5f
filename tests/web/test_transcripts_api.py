"""POST /v1/transcripts refuses doomed input at once, with a 4xx and a short message."""

from __future__ import annotations

import time

import httpx
import pytest
from helpers import ServerThread

from whispersync.web import create_app


class TestDoomedInputOverHttp:
    """The same refusals through POST /v1/transcripts: a 4xx with a short message, at once."""

    @pytest.mark.parametrize(("body", "code"), [
        ({"text": "hello", "agent": "a" * 8000}, "unknown_agent"),
        ({"text": "\x00" * 100}, "not_text"),
        ({"text": "hello", "title": "t" * 900_000}, "title_too_long"),
        ({"text": "hello", "recorded_at": "9999-12-31T23:59:59-14:00"}, "invalid_recorded_at"),
    ])
    def test_it_is_a_4xx_with_a_short_message(self, runtime, body, code) -> None:
        with ServerThread(create_app(runtime)) as server:
            started = time.monotonic()
            response = httpx.post(f"{server.url}/v1/transcripts", json=body, timeout=30)
            assert time.monotonic() - started < 5  # an 8,000-character agent name once stalled the server 14-21 s
        assert 400 <= response.status_code < 500, response.text
        error = response.json()["error"]
        assert error["code"] == code and len(error["message"]) < 300
        assert runtime.records.list() == []
