"""CloudWatch Logs' API (AWS JSON 1.1) driven by the real clients: boto3's `logs` client and the AWS CLI,
against a real server over a fresh home, checked against what WhisperSync's own CLI and engines answer."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers import ServerThread, run_cli, wait_until
from whispersync.app import build_runtime
from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.metrics import get_metric_data
from whispersync.plan import MetricDataQuery, MetricStat
from whispersync.settings import Settings
from whispersync.web import create_app

GROUP = "/whispersync/api"


def serve(home: Path, **settings):
    runtime = build_runtime(Settings.load(home=home, collector_interval=3600, compaction_interval=3600, **settings))
    return runtime, ServerThread(create_app(runtime))


@pytest.fixture
def served(cli_env):
    """(runtime, server URL, cli_env): the server's home is the one `run_cli(cli_env, ...)` reads."""
    runtime, server = serve(Path(cli_env["WHISPERSYNC_HOME"]))
    with server:
        yield runtime, server.url, cli_env
    runtime.close(timeout=2)


@pytest.fixture
def logs(served):
    _, url, _ = served
    return boto3.client("logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="whispersync",
                        aws_secret_access_key="any")


def now_ms() -> int:
    return int(time.time() * 1000)


def as_text(value) -> str:
    """A value of `whispersync logs query --json` as GetQueryResults writes it: a string, whole numbers bare."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


def make_stream(logs, group: str = GROUP, stream: str = "web-1") -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value.response["Error"]["Code"]


class TestGroupsAndStreams:
    def test_created_groups_and_streams_are_described(self, logs) -> None:
        make_stream(logs)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="web-2")
        groups = logs.describe_log_groups(logGroupNamePrefix="/whispersync")["logGroups"]
        assert [g["logGroupName"] for g in groups] == [GROUP]
        assert groups[0]["arn"].endswith(f":log-group:{GROUP}:*")
        streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["web-1", "web-2"]

    def test_creating_twice_or_in_a_missing_group_gets_the_documented_errors(self, logs) -> None:
        make_stream(logs)
        assert error_code(logs.create_log_group, logGroupName=GROUP) == "ResourceAlreadyExistsException"
        assert error_code(logs.create_log_stream, logGroupName=GROUP,
                          logStreamName="web-1") == "ResourceAlreadyExistsException"
        assert error_code(logs.create_log_stream, logGroupName="/nope",
                          logStreamName="s") == "ResourceNotFoundException"
        assert error_code(logs.describe_log_streams, logGroupName="/nope") == "ResourceNotFoundException"

    def test_a_name_the_model_refuses_is_an_invalid_parameter(self, logs) -> None:
        with pytest.raises(ClientError) as info:
            logs.create_log_group(logGroupName="bad:name")
        assert info.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "logGroupName" in info.value.response["Error"]["Message"]

    def test_retention_takes_only_the_documented_values(self, logs) -> None:
        make_stream(logs)
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=14)
        assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 14
        assert error_code(logs.put_retention_policy, logGroupName=GROUP,
                          retentionInDays=2) == "InvalidParameterException"
        assert error_code(logs.put_retention_policy, logGroupName="/nope",
                          retentionInDays=1) == "ResourceNotFoundException"

    def test_describe_log_groups_paginator_walks_every_group(self, logs) -> None:
        names = [f"/app/g{i}" for i in range(7)]
        for name in names:
            logs.create_log_group(logGroupName=name)
        pages = list(logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix="/app/", PaginationConfig={"PageSize": 3}))
        assert len(pages) == 3
        assert [g["logGroupName"] for page in pages for g in page["logGroups"]] == names


class TestEvents:
    def test_put_then_get_log_events_both_ways(self, logs) -> None:
        make_stream(logs)
        start = now_ms() - 10_000
        messages = [f"line {i}" for i in range(5)]
        answer = logs.put_log_events(logGroupName=GROUP, logStreamName="web-1",
                                     logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)])
        assert "rejectedLogEventsInfo" not in answer
        head = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", startFromHead=True, limit=2)
        assert [e["message"] for e in head["events"]] == messages[:2]
        following = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", startFromHead=True,
                                        nextToken=head["nextForwardToken"])
        assert [e["message"] for e in following["events"]] == messages[2:]
        # "If you have reached the end of the stream, it returns the same token you passed in."
        end = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", startFromHead=True,
                                  nextToken=following["nextForwardToken"])
        assert end["events"] == [] and end["nextForwardToken"] == following["nextForwardToken"]
        # Without startFromHead the latest events come first; the backward token pages to older ones.
        tail = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", limit=2)
        assert [e["message"] for e in tail["events"]] == messages[3:]
        older = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", limit=2,
                                    nextToken=tail["nextBackwardToken"])
        assert [e["message"] for e in older["events"]] == messages[1:3]
        assert head["events"][0]["timestamp"] == start

    def test_filter_log_events_uses_filter_patterns_and_paginates(self, logs) -> None:
        make_stream(logs)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="worker-1")
        base = now_ms() - 60_000
        logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=[
            {"timestamp": base, "message": "ERROR disk full"},
            {"timestamp": base + 2, "message": '{"level": "INFO", "latency": 12}'},
            {"timestamp": base + 4, "message": "ERROR timeout"}])
        logs.put_log_events(logGroupName=GROUP, logStreamName="worker-1", logEvents=[
            {"timestamp": base + 1, "message": "ERROR worker crashed"},
            {"timestamp": base + 3, "message": '{"level": "ERROR", "latency": 300}'}])
        found = logs.filter_log_events(logGroupName=GROUP, filterPattern="ERROR")["events"]
        assert [e["message"] for e in found] == ["ERROR disk full", "ERROR worker crashed",
                                                  '{"level": "ERROR", "latency": 300}', "ERROR timeout"]
        assert [e["logStreamName"] for e in found] == ["web-1", "worker-1", "worker-1", "web-1"]
        json_found = logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.latency > 100 }")["events"]
        assert [e["message"] for e in json_found] == ['{"level": "ERROR", "latency": 300}']
        one_stream = logs.filter_log_events(logGroupName=GROUP, logStreamNames=["web-1"], filterPattern="ERROR")
        assert [e["message"] for e in one_stream["events"]] == ["ERROR disk full", "ERROR timeout"]
        window = logs.filter_log_events(logGroupName=GROUP, startTime=base + 1, endTime=base + 3)["events"]
        assert [e["timestamp"] for e in window] == [base + 1, base + 2, base + 3]
        pages = list(logs.get_paginator("filter_log_events").paginate(
            logGroupName=GROUP, PaginationConfig={"PageSize": 2}))
        assert len(pages) == 3
        assert [e["timestamp"] for p in pages for e in p["events"]] == [base + i for i in range(5)]

    def test_a_bad_filter_pattern_is_an_invalid_parameter(self, logs) -> None:
        make_stream(logs)
        assert error_code(logs.filter_log_events, logGroupName=GROUP,
                          filterPattern="{ $.a = }") == "InvalidParameterException"

    def test_put_log_events_rules(self, logs) -> None:
        make_stream(logs)
        now = now_ms()
        out_of_order = [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]
        assert error_code(logs.put_log_events, logGroupName=GROUP, logStreamName="web-1",
                          logEvents=out_of_order) == "InvalidParameterException"
        wide = [{"timestamp": now - 25 * 3_600_000, "message": "a"}, {"timestamp": now, "message": "b"}]
        assert error_code(logs.put_log_events, logGroupName=GROUP, logStreamName="web-1",
                          logEvents=wide) == "InvalidParameterException"
        big = [{"timestamp": now, "message": "x" * 300_000} for _ in range(4)]  # 1,200,104 bytes with the 26 each
        assert error_code(logs.put_log_events, logGroupName=GROUP, logStreamName="web-1",
                          logEvents=big) == "InvalidParameterException"
        assert error_code(logs.put_log_events, logGroupName=GROUP, logStreamName="nope",
                          logEvents=[{"timestamp": now, "message": "a"}]) == "ResourceNotFoundException"
        too_many = [{"timestamp": now, "message": "a"}] * 10_001  # the model's maximum is 10,000
        assert error_code(logs.put_log_events, logGroupName=GROUP, logStreamName="web-1",
                          logEvents=too_many) == "InvalidParameterException"
        assert error_code(logs.get_log_events, logGroupName=GROUP, logStreamName="web-1",
                          nextToken="garbage") == "InvalidParameterException"
        assert logs.get_log_events(logGroupName=GROUP, logStreamName="web-1")["events"] == []

    def test_too_old_and_too_new_events_are_rejected_and_the_rest_stored(self, logs) -> None:
        make_stream(logs)
        now = now_ms()
        events = [{"timestamp": now - 15 * 86_400_000, "message": "too old"},
                  {"timestamp": now - 1000, "message": "kept 1"},
                  {"timestamp": now, "message": "kept 2"},
                  {"timestamp": now + 3 * 3_600_000, "message": "too new"}]
        answer = logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=events)
        assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 3}
        stored = logs.get_log_events(logGroupName=GROUP, logStreamName="web-1", startFromHead=True)["events"]
        assert [e["message"] for e in stored] == ["kept 1", "kept 2"]

    def test_events_older_than_the_groups_retention_are_expired(self, logs) -> None:
        make_stream(logs)
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
        now = now_ms()
        answer = logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=[
            {"timestamp": now - 2 * 86_400_000, "message": "expired"}, {"timestamp": now, "message": "kept"}])
        assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}

    def test_events_show_in_the_streams_description(self, logs) -> None:
        make_stream(logs)
        now = now_ms()
        logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=[
            {"timestamp": now - 500, "message": "a"}, {"timestamp": now, "message": "b"}])
        stream = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                           descending=True)["logStreams"][0]
        assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (now - 500, now)


    def test_a_group_imported_by_logs_import_is_a_log_group_too(self, served, logs) -> None:
        runtime, _, _ = served
        now = now_ms()
        events = {"events": [{"timestamp": now - 5, "message": "ERROR imported", "logStreamName": "lambda-1"}]}
        import_logs(runtime.store, json.dumps(events).encode(), log_group="/aws/lambda/f")
        assert "/aws/lambda/f" in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/f")["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["lambda-1"]
        logs.put_log_events(logGroupName="/aws/lambda/f", logStreamName="lambda-1",
                            logEvents=[{"timestamp": now, "message": "ERROR over the API"}])
        found = logs.filter_log_events(logGroupName="/aws/lambda/f", filterPattern="ERROR")["events"]
        assert [e["message"] for e in found] == ["ERROR imported", "ERROR over the API"]
        assert error_code(logs.create_log_group, logGroupName="/aws/lambda/f") == "ResourceAlreadyExistsException"


class TestInsights:
    def put_sample(self, logs) -> int:
        make_stream(logs)
        base = now_ms() - 30_000
        logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=[
            {"timestamp": base + i, "message": json.dumps({"level": level, "duration_ms": d})}
            for i, (level, d) in enumerate([("INFO", 10), ("ERROR", 250), ("INFO", 30), ("ERROR", 90)])])
        return base

    def wait_for(self, logs, query_id: str) -> dict:
        answers = []
        wait_until(lambda: answers.append(logs.get_query_results(queryId=query_id))
                   or answers[-1]["status"] not in ("Scheduled", "Running"), timeout=30)
        return answers[-1]

    def test_start_query_answers_as_whispersync_logs_query(self, served, logs) -> None:
        _, _, env = served
        base = self.put_sample(logs)
        query = "filter level = 'ERROR' | stats count(*) as errors, max(duration_ms) as slowest by level"
        start_s, end_s = base // 1000 - 60, (base + 60_000) // 1000
        started = logs.start_query(logGroupName=GROUP, startTime=start_s, endTime=end_s, queryString=query)
        answer = self.wait_for(logs, started["queryId"])
        assert answer["status"] == "Complete"
        cli = run_cli(env, "logs", "query", query, "--start", str(start_s * 1000), "--end", str(end_s * 1000 + 999),
                      "--log-group-name", GROUP, "--json", timeout=60)
        assert cli.returncode == 0, cli.stderr
        ours = json.loads(cli.stdout)
        expected = [[{"field": c, "value": as_text(v)} for c, v in zip(ours["columns"], row) if v is not None]
                    for row in ours["rows"]]
        assert answer["results"] == expected
        assert answer["results"] == [[{"field": "level", "value": "ERROR"}, {"field": "errors", "value": "2"},
                                      {"field": "slowest", "value": "250"}]]
        assert answer["statistics"] == {k: float(v) for k, v in ours["statistics"].items()}

    def test_query_errors_and_unknown_ids(self, logs) -> None:
        self.put_sample(logs)
        now_s = now_ms() // 1000
        assert error_code(logs.start_query, logGroupName=GROUP, startTime=now_s - 60, endTime=now_s,
                          queryString="fields @message | sort") == "MalformedQueryException"
        assert error_code(logs.start_query, logGroupName="/nope", startTime=now_s - 60, endTime=now_s,
                          queryString="fields @message") == "ResourceNotFoundException"
        assert error_code(logs.get_query_results, queryId="no-such-query") == "ResourceNotFoundException"
        assert error_code(logs.stop_query, queryId="no-such-query") == "ResourceNotFoundException"
        done = logs.start_query(logGroupName=GROUP, startTime=now_s - 60, endTime=now_s,
                                queryString="fields @message")["queryId"]
        self.wait_for(logs, done)
        assert error_code(logs.stop_query, queryId=done) == "InvalidParameterException"


class TestMetricFilters:
    def test_put_log_events_feed_a_metric_filter_put_over_the_api(self, served, logs) -> None:
        runtime, _, _ = served
        make_stream(logs)
        logs.put_metric_filter(logGroupName=GROUP, filterName="SlowRequests", filterPattern="{ $.latency > 100 }",
                               metricTransformations=[{"metricName": "SlowLatency", "metricNamespace": "Api",
                                                       "metricValue": "$.latency"}])
        described = logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]
        assert [f["filterName"] for f in described] == ["SlowRequests"]
        assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 1
        now = now_ms()
        logs.put_log_events(logGroupName=GROUP, logStreamName="web-1", logEvents=[
            {"timestamp": now - 2, "message": '{"latency": 150}'},
            {"timestamp": now - 1, "message": '{"latency": 20}'},
            {"timestamp": now, "message": '{"latency": 400}'}])
        query = [MetricDataQuery("m1", MetricStat("Api", "SlowLatency", {}, "Sum", 3600))]

        def total() -> float:
            results = get_metric_data(runtime.store, query, start_ms=now - 3_600_000, end_ms=now + 3_600_000)
            return sum(results[0].values)

        wait_until(lambda: total() == 550.0, timeout=20)

    def test_metric_filter_errors(self, logs) -> None:
        make_stream(logs)
        transformation = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
        assert error_code(logs.put_metric_filter, logGroupName="/nope", filterName="f", filterPattern="ERROR",
                          metricTransformations=transformation) == "ResourceNotFoundException"
        assert error_code(logs.put_metric_filter, logGroupName=GROUP, filterName="f", filterPattern="{ $.a = ",
                          metricTransformations=transformation) == "InvalidParameterException"
        logs.put_metric_filter(logGroupName=GROUP, filterName="f", filterPattern="ERROR",
                               metricTransformations=transformation)
        logs.delete_metric_filter(logGroupName=GROUP, filterName="f")
        assert logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"] == []
        assert error_code(logs.delete_metric_filter, logGroupName=GROUP,
                          filterName="f") == "ResourceNotFoundException"

    def test_test_metric_filter_matches_the_documented_example(self, logs) -> None:
        # CloudWatch Logs API Reference, TestMetricFilter, "To test a metric filter pattern on Apache
        # access.log events". (The page's "$size": "1534," carries a stray comma the event does not have,
        # and numbers the events from 0; WhisperSync's engine numbers them from 1.)
        messages = ['127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
                    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
                    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355']
        answer = logs.test_metric_filter(filterPattern="[ip, identity, user_id, timestamp, request, status_code, size]",
                                         logEventMessages=messages)
        assert [m["eventMessage"] for m in answer["matches"]] == messages
        assert answer["matches"][1]["extractedValues"] == {
            "$ip": "127.0.0.1", "$identity": "-", "$user_id": "frank", "$timestamp": "10/Oct/2000:13:35:22 -0700",
            "$request": "GET /apache_pb.gif HTTP/1.0", "$status_code": "500", "$size": "5324"}
        assert error_code(logs.test_metric_filter, filterPattern="[a, a]",
                          logEventMessages=["x y"]) == "InvalidParameterException"


def test_with_an_api_token_calls_must_be_signed_with_it(tmp_path) -> None:
    token = "t0ken-t0ken-t0ken-t0ken"
    runtime, server = serve(tmp_path / "home", api_token=token)
    try:
        with server:
            def client(secret: str):
                return boto3.client("logs", endpoint_url=server.url, region_name="us-east-1",
                                    aws_access_key_id="whispersync", aws_secret_access_key=secret)

            with pytest.raises(ClientError) as info:
                client("not-the-token").create_log_group(logGroupName="/signed")
            assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
            client(token).create_log_group(logGroupName="/signed")
            assert [g["logGroupName"] for g in client(token).describe_log_groups()["logGroups"]] == ["/signed"]
    finally:
        runtime.close(timeout=2)


class TestAwsCli:
    def aws(self, url: str, *args: str) -> dict:
        aws = shutil.which("aws", path=str(Path(__import__("sys").executable).parent))
        if aws is None:
            pytest.skip("the AWS CLI (awscli) is not installed in this environment")
        env = {"AWS_ACCESS_KEY_ID": "whispersync", "AWS_SECRET_ACCESS_KEY": "any", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}
        done = subprocess.run([aws, "--endpoint-url", url, "--output", "json", "logs", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def test_put_log_events_and_a_query_through_the_aws_cli(self, served, logs) -> None:
        _, url, _ = served
        make_stream(logs)
        now = now_ms()
        self.aws(url, "put-log-events", "--log-group-name", GROUP, "--log-stream-name", "web-1", "--log-events",
                 f"timestamp={now - 1},message=hello from the cli", f"timestamp={now},message=ERROR from the cli")
        assert [e["message"] for e in logs.get_log_events(logGroupName=GROUP, logStreamName="web-1",
                                                          startFromHead=True)["events"]] == [
            "hello from the cli", "ERROR from the cli"]
        started = self.aws(url, "start-query", "--log-group-name", GROUP, "--start-time", str(now // 1000 - 60),
                           "--end-time", str(now // 1000 + 1), "--query-string", "filter @message like /ERROR/"
                           " | fields @message")
        answers = []
        wait_until(lambda: answers.append(self.aws(url, "get-query-results", "--query-id", started["queryId"]))
                   or answers[-1]["status"] == "Complete", timeout=30)
        assert answers[-1]["results"] == [[{"field": "@message", "value": "ERROR from the cli"}]]
