"""`whispersync metrics get/put/import`, driven through the Typer app."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from whispersync.cli._common import app

START, END = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    (tmp_path / "home").mkdir(exist_ok=True)  # reading commands do not create a home

    def run(*args: str):
        return runner.invoke(app, ["--home", str(tmp_path / "home"), *args])

    return run


def test_put_then_get_json_reads_it_at_once(cli) -> None:
    """A datapoint put by one command is returned by the next, as a GetMetricData-like result."""
    assert cli("metrics", "put", "WhisperSync/T", "Errors", "3", "--unit", "Count", "--dim", "Fn=a",
               "--timestamp", "2026-01-01T00:01:30Z").exit_code == 0
    result = cli("metrics", "get", "WhisperSync/T", "Errors", "--dim", "Fn=a", "--start", START, "--end", END, "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"label": "Errors", "timestamps": ["2026-01-01T00:01:00Z"],
                                           "values": [3.0], "unit": "Count"}


def test_get_with_an_expression_over_metric_ids(cli) -> None:
    for name, value in (("Errors", "1"), ("Invocations", "4")):
        cli("metrics", "put", "WhisperSync/T", name, value, "--dim", "Fn=a", "--timestamp", "2026-01-01T00:00:10Z")
    result = cli("metrics", "get", "--metric", "errors=WhisperSync/T:Errors:Sum,Fn=a",
                 "--metric", "invocations=WhisperSync/T:Invocations,Fn=a",
                 "--expression", "errors/invocations*100", "--label", "Error %",
                 "--start", START, "--end", END, "--json")
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert (doc["label"], doc["timestamps"], doc["values"]) == ("Error %", ["2026-01-01T00:00:00Z"], [25.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("metrics", "get", "--expression", "x +", "--metric", "x=N:M"), "column 4"),
        (("metrics", "get", "--expression", "y * 2", "--metric", "x=N:M"), "unknown id 'y'"),
        (("metrics", "get", "--expression", "x", "--metric", "x=N"), "ID=NAMESPACE:NAME"),
        (("metrics", "get", "N", "M", "--period", "45"), "period must be"),
        (("metrics", "get", "N", "M", "--stat", "Median"), "unknown statistic"),
        (("metrics", "put", "N", "M", "1", "--unit", "Parsecs"), "not a CloudWatch standard unit"),
        (("metrics", "put", "AWS/Lambda", "M", "1"), "reserved"),
    ],
)
def test_errors_are_one_clear_line(cli, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_import_emf_lines_skipping_invalid_ones(cli, tmp_path) -> None:
    good = {"_aws": {"Timestamp": 1767225630000, "CloudWatchMetrics": [
        {"Namespace": "WhisperSync/T", "Dimensions": [["Fn"]], "Metrics": [{"Name": "Duration", "Unit": "Milliseconds"}]}]},
        "Fn": "a", "Duration": [10, 30]}
    wrapped = {"timestamp": 1767225690000, "message": orjson.dumps({**good, "_aws": {**good["_aws"], "Timestamp": 1767225690000}}).decode()}
    bad = {"_aws": {"Timestamp": 1767225630000, "CloudWatchMetrics": [
        {"Namespace": "WhisperSync/T", "Dimensions": [["Fn"]], "Metrics": [{"Name": "Duration"}]}]}, "Duration": 1}
    lines = [orjson.dumps(good), b"not json", orjson.dumps(bad), orjson.dumps(wrapped), b'{"level": "INFO"}']
    path = tmp_path / "emf.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = cli("metrics", "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["imported"] == 4  # two values in each of two documents
    assert [s["line"] for s in doc["skipped"]] == [2, 3, 5]
    assert "no target member" in doc["skipped"][1]["reason"]
    assert "_aws" in doc["skipped"][2]["reason"]
    got = cli("metrics", "get", "WhisperSync/T", "Duration", "--dim", "Fn=a", "--stat", "Average",
              "--start", START, "--end", END, "--json")
    assert orjson.loads(got.stdout)["values"] == [20.0, 20.0]


def _put_two_series(cli) -> None:
    for status, value in (("Success", "2"), ("Failure", "1")):
        assert cli("metrics", "put", "WhisperSync/T", "Done", value, "--dim", "AgentType=work", "--dim",
                   f"Status={status}", "--timestamp", "2026-01-01T00:01:30Z").exit_code == 0


def test_list_json_is_an_object(cli) -> None:
    """docs/json.md: a list sits under a named key."""
    _put_two_series(cli)
    doc = orjson.loads(cli("metrics", "list", "--json").stdout)
    assert [m["dimensions"]["Status"] for m in doc["metrics"]] == ["Failure", "Success"]


def test_no_such_series_lists_the_dimension_sets_that_exist(cli) -> None:
    """Dimensions match exactly: a query with a subset finds nothing, and stderr says which sets exist."""
    _put_two_series(cli)
    result = cli("metrics", "get", "WhisperSync/T", "Done", "--dim", "AgentType=work", "--start", START, "--end", END,
                 "--json")
    assert result.exit_code == 0
    assert orjson.loads(result.stdout)["values"] == []
    assert "--dim AgentType=work --dim Status=Failure" in result.stderr
    assert "--dim AgentType=work --dim Status=Success" in result.stderr
    unknown = cli("metrics", "get", "WhisperSync/T", "Nope", "--start", START, "--end", END)
    assert unknown.exit_code == 0 and "metrics list" in unknown.stderr


def test_an_existing_series_with_no_data_in_range_says_nothing_more(cli) -> None:
    _put_two_series(cli)
    result = cli("metrics", "get", "WhisperSync/T", "Done", "--dim", "AgentType=work", "--dim", "Status=Success",
                 "--start", "2025-01-01T00:00:00Z", "--end", "2025-01-01T01:00:00Z", "--json")
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize("dims", [
    ("--dimensions", "Name=AgentType,Value=work", "--dimensions", "Name=Status,Value=Success"),
    ("--dimensions", "Name=AgentType,Value=work Name=Status,Value=Success"),
    ("--dimensions", '[{"Name": "AgentType", "Value": "work"}, {"Name": "Status", "Value": "Success"}]'),
    ("--dim", "AgentType=work", "--dimensions", "Name=Status,Value=Success"),
])
def test_the_aws_cli_spellings_are_accepted(cli, dims) -> None:
    _put_two_series(cli)
    result = cli("metrics", "get", "WhisperSync/T", "Done", *dims, "--start-time", START, "--end-time", END, "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["values"] == [2.0]


def test_a_bad_aws_dimension_is_one_clear_line(cli) -> None:
    result = cli("metrics", "get", "N", "M", "--dimensions", "AgentType=work")
    assert result.exit_code == 2 and "Name=K,Value=V" in result.output


def test_put_prints_what_it_stored(cli) -> None:
    """`metrics put` used to print nothing on success; --json prints the datapoint stored."""
    result = cli("metrics", "put", "WhisperSync/T", "Errors", "3", "--unit", "Count", "--dim", "Fn=a",
                 "--timestamp", "2026-01-01T00:01:30Z", "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"stored": {
        "namespace": "WhisperSync/T", "name": "Errors", "value": 3.0, "unit": "Count", "dimensions": {"Fn": "a"},
        "timestamp": "2026-01-01T00:01:30.000Z"}}
    plain = cli("metrics", "put", "WhisperSync/T", "Errors", "4", "--dim", "Fn=a")
    assert plain.exit_code == 0 and "stored WhisperSync/T Errors value 4" in plain.stdout


def test_a_statistic_set_is_put_and_read_back(cli) -> None:
    """put-metric-data --statistic-values: the four numbers are the set, and Sum/Average read it."""
    assert cli("metrics", "put", "WhisperSync/T", "Latency", "--statistic-values",
               "SampleCount=4,Sum=20,Minimum=2,Maximum=8", "--unit", "Milliseconds",
               "--timestamp", "2026-01-01T00:01:30Z").exit_code == 0
    for stat, expected in (("Sum", 20.0), ("Average", 5.0), ("Maximum", 8.0), ("SampleCount", 4.0)):
        result = cli("metrics", "get", "WhisperSync/T", "Latency", "--stat", stat, "--start", START, "--end", END,
                     "--json")
        assert orjson.loads(result.stdout)["values"] == [expected], (stat, result.output)
    bad = cli("metrics", "put", "WhisperSync/T", "Latency", "--statistic-values", "SampleCount=4,Sum=x")
    assert bad.exit_code == 2


def test_a_high_resolution_datapoint_is_queryable_per_second(cli) -> None:
    for second, value in ((1, "1"), (2, "2")):
        cli("metrics", "put", "WhisperSync/T", "Hi", value, "--storage-resolution", "1",
            "--timestamp", f"2026-01-01T00:00:0{second}Z")
    result = cli("metrics", "get", "WhisperSync/T", "Hi", "--period", "1", "--start", START, "--end", END, "--json")
    assert orjson.loads(result.stdout)["values"] == [1.0, 2.0], result.output
    assert cli("metrics", "put", "WhisperSync/T", "Hi", "1", "--storage-resolution", "5").exit_code == 2


def test_series_are_oldest_first_unless_order_desc(cli) -> None:
    for minute, value in ((1, "1"), (2, "2")):
        cli("metrics", "put", "WhisperSync/T", "Ord", value, "--timestamp", f"2026-01-01T00:0{minute}:00Z")
    q = ("metrics", "get", "WhisperSync/T", "Ord", "--start", START, "--end", END, "--json")
    assert orjson.loads(cli(*q).stdout)["values"] == [1.0, 2.0]
    assert orjson.loads(cli(*q, "--order", "desc").stdout)["values"] == [2.0, 1.0]
    assert cli(*q, "--order", "sideways").exit_code == 2
