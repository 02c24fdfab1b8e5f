"""The CloudWatch metric operations: the same store and engine as `whispersync metrics ...`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.web.aws._metrics_ops import get_metric_data, list_metrics, put_metric_data
from whispersync.web.aws._protocol import AwsError

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(minutes=30), NOW + timedelta(minutes=5)


def ms(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


def whispersync_cli(runtime, *args: str) -> dict:
    result = CliRunner().invoke(app, ["--home", str(runtime.settings.home), *args, "--json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


@pytest.fixture
def runtime(make_api):
    return make_api()[0]


def test_get_metric_data_pages_by_max_datapoints(make_api, make_cloudwatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "json")
    client.put_metric_data(Namespace="Pages", MetricData=[
        {"MetricName": name, "Value": float(i), "Timestamp": NOW - timedelta(minutes=i)}
        for name in ("a", "b") for i in range(1, 8)])
    queries = [{"Id": name, "MetricStat": {"Metric": {"Namespace": "Pages", "MetricName": name}, "Period": 60,
                                           "Stat": "Sum"}} for name in ("a", "b")]
    whole = client.get_metric_data(MetricDataQueries=queries, StartTime=START, EndTime=END)["MetricDataResults"]
    pages = list(client.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=START, EndTime=END, MaxDatapoints=3))
    assert len(pages) == 5  # 14 datapoints, 3 a page
    assert [r["StatusCode"] for r in pages[0]["MetricDataResults"]] == ["PartialData", "PartialData"]
    assert "NextToken" not in pages[-1]
    for index, result in enumerate(whole):
        values = [v for page in pages for v in page["MetricDataResults"][index]["Values"]]
        timestamps = [t for page in pages for t in page["MetricDataResults"][index]["Timestamps"]]
        assert (values, timestamps) == (result["Values"], result["Timestamps"])
        assert len(values) == 7
    # A token is good only for the request it came from.
    with pytest.raises(ClientError) as caught:
        client.get_metric_data(MetricDataQueries=queries[:1], StartTime=START, EndTime=END,
                               NextToken=pages[0]["NextToken"])
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_an_expression_equals_the_cli(runtime) -> None:
    put_metric_data(runtime, {"Namespace": "Math", "MetricData": [
        {"MetricName": "Errors", "Value": 2.0, "Timestamp": NOW - timedelta(minutes=2)},
        {"MetricName": "Calls", "Value": 8.0, "Timestamp": NOW - timedelta(minutes=2)}]})
    answer = get_metric_data(runtime, {
        "MetricDataQueries": [
            {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "Math", "MetricName": "Errors"}, "Period": 60,
                                            "Stat": "Sum"}, "ReturnData": False},
            {"Id": "calls", "MetricStat": {"Metric": {"Namespace": "Math", "MetricName": "Calls"}, "Period": 60,
                                           "Stat": "Sum"}, "ReturnData": False},
            {"Id": "rate", "Expression": "errors/calls*100", "Label": "Error %"}],
        "StartTime": START, "EndTime": END, "ScanBy": "TimestampAscending"})
    [result] = answer["MetricDataResults"]
    ours = whispersync_cli(runtime, "metrics", "get", "--metric", "errors=Math:Errors", "--metric",
                           "calls=Math:Calls", "--expression", "errors/calls*100", "--label", "Error %",
                           "--start", ms(START), "--end", ms(END))
    assert result["Values"] == ours["values"] == [25.0]
    assert result["Label"] == ours["label"] == "Error %"


def test_high_resolution_data_is_queryable_per_second(runtime) -> None:
    base = NOW - timedelta(minutes=1)
    put_metric_data(runtime, {"Namespace": "Fast", "MetricData": [
        {"MetricName": "Ticks", "Value": float(i), "StorageResolution": 1, "Timestamp": base + timedelta(seconds=i)}
        for i in range(3)]})
    answer = get_metric_data(runtime, {"MetricDataQueries": [
        {"Id": "t", "MetricStat": {"Metric": {"Namespace": "Fast", "MetricName": "Ticks"}, "Period": 1,
                                   "Stat": "Sum"}}], "StartTime": START, "EndTime": END,
        "ScanBy": "TimestampAscending"})
    ours = whispersync_cli(runtime, "metrics", "get", "Fast", "Ticks", "--period", "1", "--start", ms(START),
                           "--end", ms(END))
    assert answer["MetricDataResults"][0]["Values"] == ours["values"] == [0.0, 1.0, 2.0]


def test_a_value_the_store_refuses_names_its_datum(runtime) -> None:
    with pytest.raises(AwsError) as caught:
        put_metric_data(runtime, {"Namespace": "Big", "MetricData": [
            {"MetricName": "ok", "Value": 1.0}, {"MetricName": "huge", "Value": 2.0 ** 400}]})
    assert caught.value.code == "InvalidParameterValue"
    assert caught.value.message.startswith("MetricData.member.2: ")
    assert list_metrics(runtime, {"Namespace": "Big"})["Metrics"] == []  # nothing of the request was stored


def test_list_metrics_filters_by_dimension_name_and_recent_activity(runtime) -> None:
    put_metric_data(runtime, {"Namespace": "Recent", "MetricData": [
        {"MetricName": "fresh", "Value": 1.0, "Dimensions": [{"Name": "Host", "Value": "a"}]},
        {"MetricName": "stale", "Value": 1.0, "Timestamp": NOW - timedelta(hours=4),
         "Dimensions": [{"Name": "Host", "Value": "b"}]},
        {"MetricName": "plain", "Value": 1.0}]})
    names = lambda params: sorted(m["MetricName"] for m in list_metrics(runtime, params)["Metrics"])  # noqa: E731
    assert names({"Namespace": "Recent"}) == ["fresh", "plain", "stale"]
    assert names({"Namespace": "Recent", "RecentlyActive": "PT3H"}) == ["fresh", "plain"]
    assert names({"Namespace": "Recent", "Dimensions": [{"Name": "Host"}]}) == ["fresh", "stale"]
    assert names({"Namespace": "Recent", "Dimensions": [{"Name": "Host", "Value": "b"}]}) == ["stale"]
