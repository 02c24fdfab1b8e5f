from __future__ import annotations

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from helpers import ServerThread
from whispersync.app import build_runtime
from whispersync.settings import Settings
from whispersync.web import create_app


@pytest.fixture
def api(runtime):
    with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


class TestPostTranscript:
    def test_it_accepts_json_and_answers_202_with_ids(self, api, runtime) -> None:
        response = api.post("/v1/transcripts", json={"text": "Need to ship", "agent": "work", "title": "standup"})
        assert response.status_code == 202
        body = response.json()
        assert set(body) == {"id", "key", "correlation_id", "trace_id"}
        assert runtime.records.get(body["id"]).title == "standup"

    def test_it_accepts_plain_text_with_an_agent_parameter(self, api, runtime) -> None:
        response = api.post("/v1/transcripts?agent=memory", content="A walk in Porto",
                            headers={"content-type": "text/plain; charset=utf-8"})
        assert response.status_code == 202
        assert runtime.records.get(response.json()["id"]).agent == "memory"

    def test_it_honours_an_incoming_correlation_id(self, api) -> None:
        response = api.post("/v1/transcripts", json={"text": "hi"}, headers={"X-Correlation-ID": "abc-123"})
        assert response.json()["correlation_id"] == "abc-123"
        assert response.headers["x-correlation-id"] == "abc-123"

    @pytest.mark.parametrize(
        ("kwargs", "status", "code"),
        [
            ({"json": {"text": ""}}, 400, "empty_transcript"),
            ({"json": {"text": "hi", "agent": "poetry"}}, 422, "unknown_agent"),
            ({"json": {"txet": "hi"}}, 400, "invalid_input"),
            ({"json": {"text": 42}}, 400, "invalid_input"),
            ({"json": ["text"]}, 400, "invalid_input"),
            ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
            ({"content": b"\xff\xfe", "headers": {"content-type": "text/plain"}}, 400, "not_utf8"),
            ({"content": b"x" * (1024 * 1024 + 1), "headers": {"content-type": "text/plain"}}, 413,
             "transcript_too_large"),
            ({"content": b"x" * (3 * 1024 * 1024), "headers": {"content-type": "text/plain"}}, 413,
             "transcript_too_large"),
            ({"content": b"hi", "headers": {"content-type": "image/png"}}, 415, "unsupported_media_type"),
        ],
    )
    def test_bad_input_gets_a_json_error_and_nothing_is_enqueued(self, api, runtime, kwargs, status, code) -> None:
        response = api.post("/v1/transcripts", **kwargs)
        assert response.status_code == status
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]
        assert runtime.queue.counts().visible == 0


class TestMemos:
    def test_it_lists_and_shows_memos(self, api) -> None:
        memo_id = api.post("/v1/transcripts", json={"text": "Need to ship", "agent": "work"}).json()["id"]
        listed = api.get("/v1/memos").json()["memos"]
        assert [m["id"] for m in listed] == [memo_id]
        assert api.get("/v1/memos", params={"status": "queued"}).json()["memos"][0]["status"] == "queued"
        assert api.get(f"/v1/memos/{memo_id}").json()["id"] == memo_id

    def test_an_unknown_memo_is_a_404(self, api) -> None:
        response = api.get("/v1/memos/nope")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"

    def test_a_malformed_query_parameter_gets_the_json_error_shape(self, api) -> None:
        """FastAPI's own validation errors use the same {"error": {"code", "message"}} body."""
        response = api.get("/v1/memos", params={"limit": "many"})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_input" and "limit" in error["message"]

    def test_an_unknown_status_is_a_400(self, api) -> None:
        assert api.get("/v1/memos", params={"status": "weird"}).status_code == 400


class TestAuthentication:
    def test_a_configured_token_is_required(self, tmp_path) -> None:
        runtime = build_runtime(Settings.load(home=tmp_path / "h", api_token="t0ken-t0ken-t0ken-t0ken"))
        try:
            with ServerThread(create_app(runtime)) as server:
                url = f"{server.url}/v1/transcripts"
                assert httpx.post(url, json={"text": "hi"}).status_code == 401
                assert httpx.post(url, json={"text": "hi"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
                for empty in ("Bearer", "", "bearer", "Basic dDBrZW4="):
                    assert httpx.post(url, json={"text": "hi"}, headers={"Authorization": empty}).status_code == 401
                ok = httpx.post(url, json={"text": "hi"}, headers={"Authorization": "Bearer t0ken-t0ken-t0ken-t0ken"})
                assert ok.status_code == 202
                assert "t0ken-t0ken" not in httpx.post(url, json={"text": "hi"}).text
        finally:
            runtime.close(timeout=1)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
_bodies = st.one_of(
    st.binary(max_size=300).map(lambda b: ("text/plain", b)),
    st.text(max_size=300).map(lambda t: ("text/plain", t.encode())),
    st.fixed_dictionaries(
        {"text": st.one_of(st.text(max_size=200), _json_values)},
        optional={"agent": st.sampled_from(["work", "memory", "github_ideas", "nope", ""]) | _json_values,
                  "title": st.text(max_size=20), "recorded_at": st.text(max_size=30)},
    ).map(lambda d: ("application/json", orjson.dumps(d))),
    _json_values.map(lambda v: ("application/json", orjson.dumps(v))),
    st.binary(max_size=100).map(lambda b: ("application/json", b)),
    st.tuples(st.sampled_from(["", "text/html", "multipart/form-data", "application/x-www-form-urlencoded"]),
              st.binary(max_size=50)),
)


class TestIngestProperties:
    @hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=_bodies, agent=st.none() | st.sampled_from(["work", "memory", "bogus"]),
           correlation=st.none() | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
    def test_no_input_crashes_the_server_or_loses_an_accepted_memo(self, api, runtime, body, agent,
                                                                    correlation) -> None:
        content_type, content = body
        headers = {"content-type": content_type} if content_type else {}
        if correlation is not None:
            headers["X-Correlation-ID"] = correlation.strip()  # any header value a client can send
        before = runtime.queue.counts().visible
        response = api.post("/v1/transcripts", params={"agent": agent} if agent else None, content=content,
                            headers=headers)
        assert response.status_code < 500, response.text
        after = runtime.queue.counts().visible
        if response.status_code == 202:
            memo_id = response.json()["id"]
            assert runtime.records.get(memo_id).status.value == "queued"
            assert runtime.blobs.exists(response.json()["key"])
            assert after == before + 1
        else:
            assert response.json()["error"]["code"]
            assert after == before
        assert api.get("/healthz").status_code == 200


class TestUnexpectedErrors:
    def test_a_bug_answers_500_in_the_json_error_shape_and_is_counted(self, runtime) -> None:
        app = create_app(runtime)

        @app.get("/v1/boom")
        def boom():
            raise RuntimeError("secret-internal-detail")

        with ServerThread(app) as server:
            response = httpx.get(f"{server.url}/v1/boom")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert "secret-internal-detail" not in response.text
        runtime.telemetry.flush()
        [line] = runtime.store.logs(level="ERROR")
        assert line["message"] == "Unhandled API error" and line["error_type"] == "RuntimeError"
        assert runtime.store.list_metrics(namespace="WhisperSync/Api")
