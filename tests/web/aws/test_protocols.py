"""CloudWatch's wire protocols, driven by the real clients: boto3 on each protocol, and the AWS CLI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from whispersync.cli import app

PROTOCOLS = ["smithy-rpc-v2-cbor", "json", "query"]
NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(minutes=30), NOW + timedelta(minutes=5)


def ms(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


def whispersync_cli(runtime, *args: str) -> dict:
    result = CliRunner().invoke(app, ["--home", str(runtime.settings.home), *args, "--json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def put_sample(client, namespace: str) -> None:
    client.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Latency", "Value": 3.0, "Unit": "Milliseconds", "Timestamp": NOW - timedelta(minutes=3),
         "Dimensions": [{"Name": "Agent", "Value": "work"}]},
        {"MetricName": "Latency", "Values": [1.0, 2.0, 10.0], "Counts": [1, 3, 2], "Unit": "Milliseconds",
         "Timestamp": NOW - timedelta(minutes=2), "Dimensions": [{"Name": "Agent", "Value": "work"}]},
        {"MetricName": "Latency", "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 1, "Maximum": 9},
         "Unit": "Milliseconds", "Timestamp": NOW - timedelta(minutes=1), "Dimensions": [{"Name": "Agent",
                                                                                           "Value": "work"}]},
    ])


@pytest.mark.parametrize("stat", ["Sum", "Average", "SampleCount", "Maximum"])
def test_get_metric_data_equals_the_cli_on_every_protocol(cw, stat) -> None:
    runtime, client = cw
    namespace = f"Test/{client.meta.service_model.resolved_protocol}"
    put_sample(client, namespace)
    answer = client.get_metric_data(
        MetricDataQueries=[{"Id": "m1", "MetricStat": {"Metric": {
            "Namespace": namespace, "MetricName": "Latency", "Dimensions": [{"Name": "Agent", "Value": "work"}]},
            "Period": 60, "Stat": stat}}],
        StartTime=START, EndTime=END, ScanBy="TimestampAscending")
    [result] = answer["MetricDataResults"]
    ours = whispersync_cli(runtime, "metrics", "get", namespace, "Latency", "--dim", "Agent=work", "--stat", stat,
                           "--start", ms(START), "--end", ms(END))
    assert len(result["Values"]) == 3
    assert [iso(t) for t in result["Timestamps"]] == ours["timestamps"]
    assert result["Values"] == ours["values"]
    assert result["StatusCode"] == "Complete"


def test_get_metric_statistics_equals_the_cli(cw) -> None:
    runtime, client = cw
    namespace = f"Stats/{client.meta.service_model.resolved_protocol}"
    put_sample(client, namespace)
    answer = client.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=[{"Name": "Agent", "Value": "work"}],
        StartTime=START, EndTime=END, Period=60, Statistics=["Sum", "Maximum", "SampleCount"])
    assert answer["Label"] == "Latency"
    points = sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])
    assert [p["Unit"] for p in points] == ["Milliseconds"] * 3
    for stat in ("Sum", "Maximum", "SampleCount"):
        ours = whispersync_cli(runtime, "metrics", "get", namespace, "Latency", "--dim", "Agent=work",
                               "--stat", stat, "--start", ms(START), "--end", ms(END))
        assert [iso(p["Timestamp"]) for p in points] == ours["timestamps"]
        assert [p[stat] for p in points] == ours["values"]
    # Values with Counts: 1 + 2*3 + 10*2 = 27 over 6 samples, at NOW - 2 min.
    assert (points[1]["Sum"], points[1]["SampleCount"], points[1]["Maximum"]) == (27.0, 6.0, 10.0)

    # Percentiles of plain values (the store gives none for a period holding a statistic set).
    client.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Size", "Values": [1.0, 5.0, 10.0], "Timestamp": NOW - timedelta(minutes=2)}])
    extended = client.get_metric_statistics(Namespace=namespace, MetricName="Size", StartTime=START, EndTime=END,
                                            Period=3600, ExtendedStatistics=["p100", "p50"])
    for stat in ("p100", "p50"):
        ours = whispersync_cli(runtime, "metrics", "get", namespace, "Size", "--stat", stat, "--period", "3600",
                               "--start", ms(START), "--end", ms(END))
        assert [p["ExtendedStatistics"][stat] for p in extended["Datapoints"]] == ours["values"]
        assert len(ours["values"]) == 1
    assert "Sum" not in extended["Datapoints"][0]


def test_list_metrics_paginator_walks_every_metric(cw) -> None:
    runtime, client = cw
    namespace = f"List/{client.meta.service_model.resolved_protocol}"
    client.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Hits", "Value": 1.0, "Dimensions": [{"Name": "Shard", "Value": f"s{i:03d}"}]}
        for i in range(520)])
    pages = list(client.get_paginator("list_metrics").paginate(Namespace=namespace))
    assert len(pages) == 2 and len(pages[0]["Metrics"]) == 500
    listed = [m for page in pages for m in page["Metrics"]]
    ours = whispersync_cli(runtime, "metrics", "list", "--namespace", namespace)["metrics"]
    assert [{"Namespace": r["namespace"], "MetricName": r["name"],
             "Dimensions": [{"Name": k, "Value": v} for k, v in r["dimensions"].items()]} for r in ours] == listed
    only = client.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Shard", "Value": "s007"}])["Metrics"]
    assert only == [{"Namespace": namespace, "MetricName": "Hits", "Dimensions": [{"Name": "Shard",
                                                                                    "Value": "s007"}]}]


def test_a_large_put_arrives_gzipped_and_is_stored(cw) -> None:
    """botocore gzips PutMetricData bodies of 10 KB and more (the operation's requestcompression trait)."""
    runtime, client = cw
    namespace = f"Big/{client.meta.service_model.resolved_protocol}"
    sent = []
    client.meta.events.register("before-send.cloudwatch.PutMetricData",
                                lambda request, **_: sent.append(request.headers.get("Content-Encoding")))
    client.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Batch", "Values": [float(v) for v in range(100)], "Timestamp": NOW - timedelta(minutes=1)}
        for _ in range(20)])
    assert sent == [b"gzip"] or sent == ["gzip"]
    ours = whispersync_cli(runtime, "metrics", "get", namespace, "Batch", "--stat", "SampleCount",
                           "--start", ms(START), "--end", ms(END))
    assert ours["values"] == [2000.0]


ERRORS = [
    # (operation, params, the code CloudWatch documents for it)
    ("get_metric_statistics", {"Namespace": "N", "MetricName": "m", "StartTime": START, "EndTime": END,
                               "Period": 60, "Statistics": ["Sum"], "ExtendedStatistics": ["p99"]},
     "InvalidParameterCombination"),
    ("get_metric_statistics", {"Namespace": "N", "MetricName": "m", "StartTime": START, "EndTime": END,
                               "Period": 60}, "MissingParameter"),
    ("get_metric_statistics", {"Namespace": "N", "MetricName": "m", "StartTime": NOW - timedelta(days=2),
                               "EndTime": END, "Period": 60, "Statistics": ["Sum"]}, "InvalidParameterCombination"),
    ("put_metric_data", {"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
     "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"Value": 1.0}]}, "MissingParameter"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Values": [1.0] * 151}]},
     "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Values": [1.0, 2.0],
                                                           "Counts": [1.0]}]}, "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [
        {"MetricName": "m", "Value": 1.0, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1,
                                                              "Maximum": 1}}]}, "InvalidParameterCombination"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1.0}] * 1001},
     "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}]},
     "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1.0,
                                                           "StorageResolution": 5}]}, "InvalidParameterValue"),
    ("put_metric_data", {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"}]},
     "InvalidParameterValue"),
    ("get_metric_data", {"MetricDataQueries": [{"Id": "e1", "Expression": "m1 +"}], "StartTime": START,
                         "EndTime": END}, "InvalidParameterValue"),
    ("get_metric_data", {"MetricDataQueries": [{"Id": "e1", "Expression": "TIME_SERIES(1)"}], "StartTime": START,
                         "EndTime": END, "NextToken": "not-a-token"}, "InvalidNextToken"),
    ("list_metrics", {"NextToken": "not-a-token"}, "InvalidParameterValue"),
]


@pytest.mark.parametrize(("operation", "params", "code"), ERRORS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_requests_get_the_documented_error_code(cw_server, make_cloudwatch, protocol, operation, params,
                                                     code) -> None:
    runtime, server = cw_server
    client = make_cloudwatch(server.url, protocol, validate=False)  # let bad input reach the server
    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(**params)
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    assert error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_operation_not_served_is_refused_by_name(cw_server, make_cloudwatch, protocol) -> None:
    client = make_cloudwatch(cw_server[1].url, protocol)
    with pytest.raises(ClientError) as caught:
        client.list_managed_insight_rules(ResourceARN="arn:aws:x")
    expected = "InvalidAction" if protocol == "query" else "UnknownOperationException"
    assert caught.value.response["Error"]["Code"] == expected
    assert "ListManagedInsightRules" in caught.value.response["Error"]["Message"]


def test_the_console_and_other_posts_to_root_are_untouched(cw_server) -> None:
    runtime, server = cw_server
    with httpx.Client(base_url=server.url, timeout=10) as http:
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        other = http.post("/", json={"hello": "world"})
        assert other.status_code == 405 and other.json()["error"]["code"] == "method_not_allowed"
        logs_target = http.post("/", content=b"{}", headers={"X-Amz-Target": "SomeOtherService.Op",
                                                             "Content-Type": "application/x-amz-json-1.1"})
        assert logs_target.status_code == 405  # another service's target is not CloudWatch's to answer


def test_a_raw_query_request_gets_xml(cw_server) -> None:
    """The query protocol by hand: flattened list members in, the model's XML out."""
    runtime, server = cw_server
    form = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Raw",
            "MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "2.5",
            "MetricData.member.1.Dimensions.member.1.Name": "k", "MetricData.member.1.Dimensions.member.1.Value": "v"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        put = http.post("/", data=form)
        assert put.status_code == 200, put.text
        assert put.text.startswith('<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">')
        listed = http.post("/", data={"Action": "ListMetrics", "Version": "2010-08-01", "Namespace": "Raw"})
        assert "<MetricName>m</MetricName>" in listed.text and "<Name>k</Name><Value>v</Value>" in listed.text
        bad = http.post("/", data={"Action": "ListMetrics", "Version": "2010-08-01", "Bogus": "1"})
        assert bad.status_code == 400
        assert "<Type>Sender</Type><Code>InvalidParameterValue</Code>" in bad.text
        zipped = http.post("/", content=gzip.compress(b"Action=ListMetrics&Version=2010-08-01&Namespace=Raw"),
                           headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
        assert "<MetricName>m</MetricName>" in zipped.text


def test_the_aws_cli_puts_and_gets_metric_data(cw_server, tmp_path) -> None:
    runtime, server = cw_server
    aws = str(Path(sys.executable).with_name("aws"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "whispersync", "AWS_SECRET_ACCESS_KEY": "anything",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([aws, "--endpoint-url", server.url, "--output", "json", "cloudwatch", *args],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    when = iso(NOW - timedelta(minutes=2))
    run("put-metric-data", "--namespace", "Cli/Test", "--metric-name", "Jobs", "--value", "4",
        "--dimensions", "Queue=main", "--timestamp", when)
    run("put-metric-data", "--namespace", "Cli/Test", "--metric-name", "Jobs", "--value", "6",
        "--dimensions", "Queue=main", "--timestamp", when)
    queries = [{"Id": "jobs", "MetricStat": {"Metric": {"Namespace": "Cli/Test", "MetricName": "Jobs",
                                                         "Dimensions": [{"Name": "Queue", "Value": "main"}]},
                                              "Period": 60, "Stat": "Sum"}}]
    got = json.loads(run("get-metric-data", "--metric-data-queries", json.dumps(queries), "--start-time", iso(START),
                         "--end-time", iso(END), "--scan-by", "TimestampAscending").stdout)
    [result] = got["MetricDataResults"]
    ours = whispersync_cli(runtime, "metrics", "get", "Cli/Test", "Jobs", "--dim", "Queue=main",
                           "--start", ms(START), "--end", ms(END))
    assert result["Values"] == ours["values"] == [10.0]
    # The AWS CLI v1 prints timestamps as the wire gave them (cli_timestamp_format "none"): epoch seconds here.
    assert [iso(datetime.fromtimestamp(t, UTC) if isinstance(t, (int, float)) else datetime.fromisoformat(t))
            for t in result["Timestamps"]] == ours["timestamps"]


def test_no_garbage_gets_a_5xx(cw_server) -> None:
    """Random bodies and operation names on each protocol: a 4xx in AWS's shape, never a 5xx."""
    import cbor2
    from hypothesis import HealthCheck, given, settings, strategies as st

    runtime, server = cw_server
    operations = st.sampled_from(["PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics", "Nope", ""])
    json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False)
                               | st.integers(-2**63, 2**64 - 1) | st.text(),
                               lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                           max_size=4),
                               max_leaves=12)
    structured = st.fixed_dictionaries({}, optional={
        "Namespace": json_values, "MetricData": json_values, "MetricDataQueries": json_values,
        "StartTime": json_values, "EndTime": json_values, "Period": json_values, "Statistics": json_values})
    http = httpx.Client(base_url=server.url, timeout=30)

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(protocol=st.sampled_from(PROTOCOLS), operation=operations, data=st.data())
    def one(protocol, operation, data) -> None:
        if protocol == "smithy-rpc-v2-cbor":
            doc = data.draw(structured)
            body = data.draw(st.binary(max_size=200) | st.just(cbor2.dumps(doc)))
            answer = http.post(f"/service/GraniteServiceVersion20100801/operation/{operation or 'x'}", content=body,
                               headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"})
        elif protocol == "json":
            body = data.draw(st.binary(max_size=200) | structured.map(lambda d: orjson.dumps(d)))
            answer = http.post("/", content=body, headers={
                "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
                "Content-Type": "application/x-amz-json-1.0"})
        else:
            pairs = data.draw(st.dictionaries(st.sampled_from(["Namespace", "MetricData.member.1.MetricName",
                                                               "MetricData.member.1.Value", "Period", "StartTime",
                                                               "Statistics.member.1", "NextToken", "x"]),
                                              st.text(max_size=20), max_size=5))
            answer = http.post("/", data={"Action": operation, "Version": "2010-08-01", **pairs})
        assert answer.status_code < 500, (protocol, operation, answer.text[:300])

    try:
        one()
    finally:
        http.close()


def test_a_gzip_bomb_is_refused_before_it_inflates(cw_server) -> None:
    runtime, server = cw_server
    bomb = gzip.compress(b"Action=ListMetrics&Version=2010-08-01&Namespace=" + b"x" * (40 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answer = http.post("/", content=bomb, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "Content-Encoding": "gzip"})
        assert answer.status_code == 413
        assert "<Code>RequestEntityTooLarge</Code>" in answer.text
        broken = http.post("/", content=bomb[:200], headers={"Content-Type": "application/x-www-form-urlencoded",
                                                             "Content-Encoding": "gzip"})
        assert broken.status_code == 400 and "<Code>MalformedHttpRequestException</Code>" in broken.text


def test_the_json_error_shape_serves_another_service() -> None:
    """`json_error_response` without a model: the plain AWS JSON error, as CloudWatch Logs (JSON 1.1) answers."""
    from whispersync.web.aws._protocol import AwsError, json_error_response

    answer = json_error_response(AwsError("ResourceNotFoundException", "no such group"), "1.1")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/x-amz-json-1.1"
    assert orjson.loads(answer.body) == {"__type": "ResourceNotFoundException", "message": "no such group"}
    assert "x-amzn-query-error" not in answer.headers


def test_cloudwatch_logs_targets_reach_the_logs_operations(cw_server) -> None:
    """The same mount dispatches CloudWatch Logs' JSON 1.1 target (its operations are logs_ops')."""
    import boto3

    runtime, server = cw_server
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="y")
    logs.create_log_group(logGroupName="from-boto3")
    assert "from-boto3" in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName="from-boto3")
    assert caught.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
