"""The HTTP interface follows docs/json.md (issue 9 §2): one error shape for every
unknown route and wrong method, trace context honoured on ingest, StartQuery's field
names and GetQueryResults' shape on /v1/logs/query, and `next_token` on cut lists."""

from __future__ import annotations

import time

import pytest

from helpers import api_routes

from whispersync.web import create_app

_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
_PARENT_ID = "00f067aa0ba902b7"


def _concrete(path: str) -> str:
    return path.replace("{name}", "some-alarm").replace("{memo_id}", "m1").replace("{trace_id}", "t1")


def _wrong_methods(runtime) -> list[tuple[str, str]]:
    """(method, path) for every route and every method no route at that path allows."""
    routes = api_routes(create_app(runtime))
    assert {"/v1/logs/query", "/v1/alarms/{name}/history", "/v1/traces/{trace_id}"} <= {r.path for r in routes}
    cases = []
    for route in routes:
        path = _concrete(route.path)
        allowed = set().union(*(r.methods for r in routes if r.path_regex.fullmatch(path)))
        cases += [(method, path) for method in _METHODS if method not in allowed]
    return sorted(set(cases))


class TestErrorShapeEverywhere:
    def test_every_route_answers_a_wrong_method_with_a_405_in_the_error_shape(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        cases = _wrong_methods(runtime)
        assert len(cases) > 40  # every route, not a handful
        for method, path in cases:
            response = client.request(method, path)
            assert response.status_code == 405, (method, path, response.text)
            error = response.json()["error"]
            assert error["code"] == "method_not_allowed" and method in error["message"], (method, path)
            assert response.headers.get("allow"), (method, path)  # RFC 9110: a 405 lists what is allowed

    @pytest.mark.parametrize("path", ["/nothing-here", "/v1", "/v1/memo", "/v1/logs", "/v1/alarms/x/y/z", "/v2/memos"])
    def test_an_unknown_route_is_a_404_in_the_error_shape(self, api, path) -> None:  # noqa: F811
        _, _, client = api
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestTraceContextOnIngest:
    def test_an_incoming_traceparent_is_continued_and_returned(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        response = client.post("/v1/transcripts", json={"text": "Ship the release notes", "agent": "work"},
                               headers={"traceparent": f"00-{_TRACE_ID}-{_PARENT_ID}-01"})
        assert response.status_code == 202, response.text
        assert response.json()["trace_id"] == _TRACE_ID
        runtime.store.flush()
        spans = [s for s in runtime.store.spans(trace_id=_TRACE_ID) if s["name"] == "ingest"]
        assert len(spans) == 1 and spans[0]["parent_span_id"] == _PARENT_ID
        # The answer names the ingest span as the parent of whatever the client does next.
        assert response.headers["traceparent"] == f"00-{_TRACE_ID}-{spans[0]['span_id']}-01"
        assert response.headers["x-correlation-id"] == response.json()["correlation_id"]
        assert runtime.records.get(response.json()["id"]).trace_id == _TRACE_ID

    @pytest.mark.parametrize("header", [None, "garbage", f"ff-{_TRACE_ID}-{_PARENT_ID}-01",
                                        f"00-{'0' * 32}-{_PARENT_ID}-01"])
    def test_without_a_valid_traceparent_a_new_trace_starts(self, api, header) -> None:  # noqa: F811
        _, _, client = api
        headers = {"traceparent": header} if header else {}
        response = client.post("/v1/transcripts", json={"text": "Walk on the beach"}, headers=headers)
        assert response.status_code == 202, response.text
        trace_id = response.json()["trace_id"]
        assert trace_id != _TRACE_ID and trace_id != "0" * 32
        version, tid, span_id, flags = response.headers["traceparent"].split("-")
        assert (version, tid, len(span_id), flags) == ("00", trace_id, 16, "01")
        assert response.headers["x-correlation-id"] == response.json()["correlation_id"]

    def test_a_retried_post_answers_the_first_memo_and_this_requests_span(self, api) -> None:  # noqa: F811
        _, _, client = api
        headers = {"Idempotency-Key": "retry-1"}
        first = client.post("/v1/transcripts", json={"text": "Call Dana"}, headers=headers)
        again = client.post("/v1/transcripts", json={"text": "Call Dana"},
                            headers={**headers, "traceparent": f"00-{_TRACE_ID}-{_PARENT_ID}-01"})
        assert first.json() == again.json()  # the same memo, in its first trace
        # The header names the span that answered this request, in the caller's trace.
        assert again.headers["traceparent"].split("-")[1] == _TRACE_ID


def _emit_logs(runtime, at_ms: int, n: int = 3, group: str | None = None) -> None:
    for i in range(n):
        record = {"timestamp": at_ms + i, "level": "ERROR" if i == 0 else "INFO", "message": f"line {i}",
                  "service": "test", "n": i}
        if group:
            record["log_group"] = group
        runtime.store.emit("logs", record)
    runtime.store.flush()


class TestStartQueryFieldNames:
    def test_start_query_names_read_seconds_and_answer_the_same_as_ours(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        at_ms = (int(time.time()) - 600) * 1000
        _emit_logs(runtime, at_ms, group="/aws/lambda/whispersync")  # logGroupNames scopes the query to it
        ours = client.post("/v1/logs/query", json={"query": "fields n | sort n", "start": at_ms - 1000,
                                                   "end": at_ms + 1000})
        theirs = client.post("/v1/logs/query", json={
            "queryString": "fields n | sort n", "startTime": at_ms // 1000 - 1, "endTime": at_ms // 1000 + 1,
            "logGroupNames": ["/aws/lambda/whispersync"]})
        assert ours.status_code == theirs.status_code == 200, theirs.text
        assert theirs.json() == ours.json() and len(ours.json()["rows"]) == 3

    def test_the_end_second_is_included_whole(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        second = int(time.time()) - 600
        _emit_logs(runtime, second * 1000 + 500, n=1)
        body = client.post("/v1/logs/query", json={"queryString": "fields message", "startTime": second,
                                                   "endTime": second}).json()
        assert len(body["rows"]) == 1

    @pytest.mark.parametrize(("body", "words"), [
        ({"query": "fields a", "queryString": "fields a"}, "not both"),
        ({"queryString": "fields a", "start": 0, "startTime": 0}, "not both"),
        ({"queryString": "fields a", "startTime": "yesterday"}, "epoch seconds"),
        ({"queryString": "fields a", "startTime": True}, "epoch seconds"),
        ({"queryString": "fields a", "logGroupNames": "one"}, "list of strings"),
        ({"queryString": "fields a", "logGroupName": "a", "logGroupNames": ["b"]}, "exactly one"),
        ({"queryString": "fields a", "limit": 0}, "limit"),
        ({"queryString": "fields a", "limit": 10001}, "limit"),
    ])
    def test_bad_start_query_fields_are_a_400_naming_the_field(self, api, body, words) -> None:  # noqa: F811
        _, _, client = api
        response = client.post("/v1/logs/query", json=body)
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]["message"]

    def test_limit_cuts_the_rows(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        at_ms = (int(time.time()) - 600) * 1000
        _emit_logs(runtime, at_ms, n=5)
        body = client.post("/v1/logs/query", json={"queryString": "fields n", "startTime": at_ms // 1000 - 1,
                                                   "endTime": at_ms // 1000 + 1, "limit": 2}).json()
        assert len(body["rows"]) == 2


class TestStartQueryLogGroups:
    """logGroupName / logGroupNames / logGroupIdentifiers scope the query, as SOURCE does."""

    @staticmethod
    def _post(client, at_ms: int, **fields):
        return client.post("/v1/logs/query", json={"queryString": "stats count(*) as n by @log | sort @log",
                                                   "startTime": at_ms // 1000 - 1, "endTime": at_ms // 1000 + 1,
                                                   **fields})

    def test_each_field_reads_only_its_groups(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        at_ms = (int(time.time()) - 600) * 1000
        _emit_logs(runtime, at_ms, n=3, group="/aws/lambda/a")
        _emit_logs(runtime, at_ms, n=2, group="/aws/lambda/b")
        _emit_logs(runtime, at_ms, n=1)  # no group
        everything = self._post(client, at_ms).json()
        assert everything["rows"] == [["/aws/lambda/a", 3], ["/aws/lambda/b", 2], [None, 1]]
        one = self._post(client, at_ms, logGroupName="/aws/lambda/b").json()
        assert one["rows"] == [["/aws/lambda/b", 2]] and one["statistics"]["recordsScanned"] == 2
        both = self._post(client, at_ms, logGroupNames=["/aws/lambda/a", "/aws/lambda/b", "/aws/lambda/none"]).json()
        assert both["rows"] == [["/aws/lambda/a", 3], ["/aws/lambda/b", 2]]
        arn = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/a"
        by_arn = self._post(client, at_ms, logGroupIdentifiers=[arn, "/aws/lambda/b"]).json()
        assert by_arn["rows"] == both["rows"]
        assert self._post(client, at_ms, logGroupName="/aws/lambda/none").json()["rows"] == []

    @pytest.mark.parametrize(("fields", "code", "words"), [
        ({"logGroupNames": []}, "invalid_input", "at least one log group"),
        ({"logGroupNames": [f"/g/{i}" for i in range(51)]}, "invalid_input", "at most 50 log groups"),
        ({"logGroupName": ""}, "invalid_input", "may not be empty"),
        ({"logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:log-group:/x:*"]}, "invalid_input", "not a log group ARN"),
        ({"logGroupNames": ["/a"], "queryString": "SOURCE '/b' | fields n"}, "bad_query", "give them in one place"),
    ])
    def test_bad_log_group_fields_are_a_400(self, api, fields, code, words) -> None:  # noqa: F811
        _, _, client = api
        response = self._post(client, int(time.time()) * 1000, **fields)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == code and words in error["message"]


class TestGetQueryResultsShape:
    def test_format_cloudwatch_answers_results_of_field_value_pairs(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        at_ms = (int(time.time()) - 600) * 1000
        _emit_logs(runtime, at_ms)
        response = client.post("/v1/logs/query?format=cloudwatch", json={
            "queryString": "stats count(*) as n by level | sort level",
            "startTime": at_ms // 1000 - 1, "endTime": at_ms // 1000 + 1})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"status", "results", "statistics"} and body["status"] == "Complete"
        # Every value is a string, as GetQueryResults gives it.
        assert body["results"] == [[{"field": "level", "value": "ERROR"}, {"field": "n", "value": "1"}],
                                   [{"field": "level", "value": "INFO"}, {"field": "n", "value": "2"}]]
        assert set(body["statistics"]) == {"recordsMatched", "recordsScanned", "bytesScanned"}
        assert body["statistics"]["recordsScanned"] == 3

    def test_a_field_missing_from_an_event_is_left_out_of_its_row(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        at_ms = (int(time.time()) - 600) * 1000
        runtime.store.emit("logs", {"timestamp": at_ms, "message": "a", "extra": "x"})
        runtime.store.emit("logs", {"timestamp": at_ms + 1, "message": "b"})
        runtime.store.flush()
        body = client.post("/v1/logs/query?format=cloudwatch", json={
            "query": "fields message, extra | sort message", "start": at_ms - 1, "end": at_ms + 10}).json()
        assert body["results"] == [[{"field": "message", "value": "a"}, {"field": "extra", "value": "x"}],
                                   [{"field": "message", "value": "b"}]]

    def test_an_unknown_format_is_a_400(self, api) -> None:  # noqa: F811
        _, _, client = api
        response = client.post("/v1/logs/query?format=xml", json={"query": "fields a"})
        assert response.status_code == 400 and "cloudwatch" in response.json()["error"]["message"]


class TestNextToken:
    def test_memos_are_paged_with_next_token_until_it_is_null(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        ids = {client.post("/v1/transcripts", json={"text": f"memo {i}"}).json()["id"] for i in range(5)}
        seen, token, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"next_token": token} if token else {})}
            body = client.get("/v1/memos", params=params).json()
            assert set(body) == {"memos", "next_token"}
            seen += [m["id"] for m in body["memos"]]
            pages += 1
            token = body["next_token"]
            if token is None:
                break
        assert pages == 3 and len(seen) == 5 and set(seen) == ids

    def test_a_bad_next_token_is_a_400(self, api) -> None:  # noqa: F811
        _, _, client = api
        response = client.get("/v1/memos", params={"next_token": "not-a-token"})
        assert response.status_code == 400 and "next_token" in response.json()["error"]["message"]

    @pytest.mark.parametrize(("path", "key"), [("/v1/traces", "traces"), ("/v1/notifications", "deliveries"),
                                               ("/v1/alarms/SystemDown/history", "history")])
    def test_other_lists_carry_next_token(self, api, path, key) -> None:  # noqa: F811
        _, _, client = api
        response = client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body[key], list) and "next_token" in body
