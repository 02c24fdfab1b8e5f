"""`whispersync filters import | list | put | delete` as real processes, and the metrics they make.

The imported document is what `aws logs describe-metric-filters` prints, with filters
from the CloudWatch Logs User Guide ("Creating metric filters", "Filter pattern
syntax") and the CIS benchmark's CloudTrail filter, plus one whose pattern is broken.
"""

from __future__ import annotations

import orjson
import pytest
from helpers import run_cli

from whispersync.app import open_store

ACCESS = "MyApp/access.log"
TRAIL = "CloudTrail/DefaultLogGroup"

DESCRIBED = {"metricFilters": [
    {   # "Example: Extract fields from an Apache log and assign dimensions": named fields as value and dimension
        "filterName": "BytesTransferred",
        "filterPattern": "[ip, id, user, timestamp, request, status_code, size]",
        "metricTransformations": [{"metricName": "BytesTransferred", "metricNamespace": "MyApp",
                                   "metricValue": "$size", "dimensions": {"StatusCode": "$status_code"},
                                   "unit": "Bytes"}],
        "creationTime": 1741080600000, "logGroupName": ACCESS, "applyOnTransformedLogs": False,
    },
    {   # "Example: Count HTTP 404 codes", as describe-metric-filters lists it
        "filterName": "HTTP404Errors",
        "filterPattern": "[ip, id, user, timestamp, request, status_code=404, size]",
        "metricTransformations": [{"metricName": "ApacheNotFoundErrorCount", "metricNamespace": "MyApp",
                                   "metricValue": "1", "defaultValue": 0.0}],
        "creationTime": 1399277571078, "logGroupName": ACCESS,
    },
    {   # CIS CloudWatch.1-style: unauthorized API calls in CloudTrail's JSON events
        "filterName": "UnauthorizedAPICalls",
        "filterPattern": '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        "metricTransformations": [{"metricName": "UnauthorizedAPICalls", "metricNamespace": "CloudTrailMetrics",
                                   "metricValue": "1", "unit": "Count"}],
        "creationTime": 1741080600000, "logGroupName": TRAIL, "applyOnTransformedLogs": False,
    },
    {   # "Using values in log events to increment a metric's value"
        "filterName": "Latency",
        "filterPattern": "{ $.latency = * }",
        "metricTransformations": [{"metricName": "myMetric", "metricNamespace": "MyApp", "metricValue": "$.latency",
                                   "defaultValue": 0.0, "unit": "Milliseconds"}],
        "creationTime": 1741080600000, "logGroupName": "MyApp/api",
    },
    {   # its closing brace lost in a copy and paste
        "filterName": "ConsoleLoginFailures",
        "filterPattern": '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") ',
        "metricTransformations": [{"metricName": "ConsoleLoginFailures", "metricNamespace": "CloudTrailMetrics",
                                   "metricValue": "1"}],
        "creationTime": 1741080600000, "logGroupName": TRAIL,
    },
]}

T0 = 1795780800000  # 2026-11-27T12:00:00Z


def _access_events(prefix: str) -> dict:
    """FilterLogEvents output: the User Guide's Apache lines, each event at its own minute."""
    lines = [('"GET /index.html HTTP/1.1" 404 287', 0), ('"GET /~test/ HTTP/1.1" 200 3', 60_000),
             ('"GET /favicon.ico HTTP/1.1" 404 308', 60_500), ('"GET /~test/index.html HTTP/1.1" 200 3', 120_000)]
    return {"events": [{"logStreamName": "web-1", "timestamp": T0 + offset, "eventId": f"{prefix}{i}",
                        "message": f"127.0.0.1 - - [27/Nov/2026:12:00:00 +0000] {request}"}
                       for i, (request, offset) in enumerate(lines)]}


def _trail_events() -> dict:
    events = [{"eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation"},
              {"eventName": "GetObject", "errorCode": "AccessDenied"},
              {"eventName": "ListBuckets"}]
    return {"events": [{"timestamp": T0 + i * 1000, "message": orjson.dumps(e).decode(), "eventId": f"t{i}"}
                       for i, e in enumerate(events)]}


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _write(tmp_path, name: str, document) -> str:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(document))
    return str(path)


def _series(env, namespace: str, name: str, *dims: str) -> list[tuple[str, float]]:
    args = ["metrics", "get", namespace, name, "--stat", "Sum", "--period", "60",
            "--start", "2026-11-27T12:00:00Z", "--end", "2026-11-27T12:10:00Z", "--json"]
    for dim in dims:
        args += ["--dim", dim]
    series = _json(run_cli(env, *args))
    return list(zip(series["timestamps"], series["values"]))


class TestImport:
    def test_a_describe_metric_filters_document_is_imported_and_its_metrics_appear(self, cli_env, tmp_path) -> None:
        described = _write(tmp_path, "filters.json", DESCRIBED)
        report = _json(run_cli(cli_env, "filters", "import", described, "--json"))
        assert {(c["log_group"], c["name"]) for c in report["created"]} == {
            (ACCESS, "BytesTransferred"), (ACCESS, "HTTP404Errors"), (TRAIL, "UnauthorizedAPICalls"),
            ("MyApp/api", "Latency")}
        [skipped] = report["skipped"]
        assert (skipped["index"], skipped["log_group"], skipped["name"]) == (4, TRAIL, "ConsoleLoginFailures")
        assert skipped["reason"].startswith("filterPattern: line 1, column ")
        assert "a JSON pattern must end with }" in skipped["reason"]

        # Log lines imported into the filters' groups make the metrics, at the events' own times.
        imported = run_cli(cli_env, "logs", "import", _write(tmp_path, "access.json", _access_events("a")),
                           "--log-group", ACCESS)
        assert imported.returncode == 0, imported.stderr
        imported = run_cli(cli_env, "logs", "import", _write(tmp_path, "trail.json", _trail_events()),
                           "--log-group", TRAIL)
        assert imported.returncode == 0, imported.stderr
        assert _series(cli_env, "MyApp", "BytesTransferred", "StatusCode=404") == [
            ("2026-11-27T12:00:00Z", 287.0), ("2026-11-27T12:01:00Z", 308.0)]
        assert _series(cli_env, "MyApp", "BytesTransferred", "StatusCode=200") == [
            ("2026-11-27T12:01:00Z", 3.0), ("2026-11-27T12:02:00Z", 3.0)]
        assert _series(cli_env, "MyApp", "ApacheNotFoundErrorCount") == [
            ("2026-11-27T12:00:00Z", 1.0), ("2026-11-27T12:01:00Z", 1.0)]
        assert _series(cli_env, "CloudTrailMetrics", "UnauthorizedAPICalls") == [("2026-11-27T12:00:00Z", 2.0)]

        # The same lines in another log group are not the filters' to count.
        imported = run_cli(cli_env, "logs", "import", _write(tmp_path, "other.json", _access_events("o")),
                           "--log-group", "MyApp/other.log")
        assert imported.returncode == 0, imported.stderr
        assert _series(cli_env, "MyApp", "BytesTransferred", "StatusCode=404") == [
            ("2026-11-27T12:00:00Z", 287.0), ("2026-11-27T12:01:00Z", 308.0)]

    def test_importing_the_same_file_again_changes_nothing(self, cli_env, tmp_path) -> None:
        described = _write(tmp_path, "filters.json", DESCRIBED)
        assert run_cli(cli_env, "filters", "import", described).returncode == 0
        again = run_cli(cli_env, "filters", "import", described)
        assert again.returncode == 0, again.stderr
        assert "0 created, 0 updated, 4 unchanged, 1 skipped" in again.stdout
        assert "metricFilters[4] (CloudTrail/DefaultLogGroup ConsoleLoginFailures): filterPattern: line 1" \
               in " ".join(again.stderr.split())

    def test_a_dry_run_reports_and_stores_nothing(self, cli_env, tmp_path) -> None:
        report = _json(run_cli(cli_env, "filters", "import", _write(tmp_path, "f.json", DESCRIBED), "--dry-run",
                               "--json"))
        assert report["dry_run"] is True and len(report["created"]) == 4
        listed = _json(run_cli(cli_env, "filters", "list", "--json"))["metric_filters"]
        assert [f["source"] for f in listed] == ["built-in"]

    def test_a_file_of_which_nothing_can_be_imported_exits_1(self, cli_env, tmp_path) -> None:
        broken = {"metricFilters": [DESCRIBED["metricFilters"][4]]}
        result = run_cli(cli_env, "filters", "import", _write(tmp_path, "f.json", broken))
        assert result.returncode == 1
        assert "skipped" in result.stderr and "Traceback" not in result.stderr

    @pytest.mark.parametrize(("content", "message"), [
        (b"{", "is not JSON"),
        (b'{"MetricAlarms": []}', 'expected the output of `aws logs describe-metric-filters`'),
    ])
    def test_a_file_that_is_not_describe_output_is_a_usage_error(self, cli_env, tmp_path, content, message) -> None:
        path = tmp_path / "f.json"
        path.write_bytes(content)
        result = run_cli(cli_env, "filters", "import", str(path))
        assert result.returncode == 2
        assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


class TestListPutDelete:
    def test_list_shows_the_plan_and_stored_filters_with_their_source(self, cli_env, tmp_path) -> None:
        run_cli(cli_env, "filters", "import", _write(tmp_path, "f.json", DESCRIBED))
        listed = _json(run_cli(cli_env, "filters", "list", "--json"))["metric_filters"]
        assert [(f["log_group"], f["name"], f["source"]) for f in listed] == [
            (None, "ErrorMetricFilter", "built-in"), (TRAIL, "UnauthorizedAPICalls", "stored"),
            (ACCESS, "BytesTransferred", "stored"), (ACCESS, "HTTP404Errors", "stored"),
            ("MyApp/api", "Latency", "stored")]
        assert listed[0]["created_at"] is None and listed[1]["created_at"].endswith("Z")
        only = _json(run_cli(cli_env, "filters", "list", "--log-group", ACCESS, "--json"))["metric_filters"]
        assert [f["name"] for f in only] == ["BytesTransferred", "HTTP404Errors"]

    def test_the_cloudwatch_format_is_describe_output_and_imports_back_unchanged(self, cli_env, tmp_path) -> None:
        run_cli(cli_env, "filters", "import", _write(tmp_path, "f.json", DESCRIBED))
        shown = _json(run_cli(cli_env, "filters", "list", "--log-group", ACCESS, "--format", "cloudwatch"))
        [first, second] = shown["metricFilters"]
        expected = {k: v for k, v in DESCRIBED["metricFilters"][0].items() if k != "creationTime"}
        assert {k: v for k, v in first.items() if k != "creationTime"} == expected
        assert isinstance(first["creationTime"], int) and second["filterName"] == "HTTP404Errors"
        report = _json(run_cli(cli_env, "filters", "import", _write(tmp_path, "back.json", shown), "--json"))
        assert len(report["unchanged"]) == 2 and not (report["created"] or report["updated"] or report["skipped"])

    def test_put_takes_a_put_metric_filter_request(self, cli_env, tmp_path) -> None:
        request = {"logGroupName": ACCESS, "filterName": "HTTP4xxErrors",
                   "filterPattern": "[ip, id, user, timestamp, request, status_code=4*, size]",
                   "metricTransformations": [{"metricName": "HTTP4xxErrors", "metricNamespace": "MyApp",
                                              "metricValue": "1", "defaultValue": 0}]}
        path = _write(tmp_path, "put.json", request)
        done = _json(run_cli(cli_env, "filters", "put", "--cli-input-json", f"file://{path}", "--json"))
        assert done == {"log_group": ACCESS, "name": "HTTP4xxErrors", "status": "created"}
        done = _json(run_cli(cli_env, "filters", "put", "--cli-input-json", path, "--json"))
        assert done["status"] == "unchanged"

    @pytest.mark.parametrize(("document", "message"), [
        ({"logGroupName": ACCESS, "filterName": "F", "filterPattern": "ERROR",
          "metricTransformations": [{"metricName": "M", "metricNamespace": "N", "metricValue": "$.x"}]},
         "metricTransformations[0].metricValue: $.x refers to a field, but a text pattern names none"),
        (DESCRIBED, "is `describe-metric-filters` output (metricFilters); load it with `filters import"),
    ])
    def test_put_refuses_what_cloudwatch_would_refuse(self, cli_env, tmp_path, document, message) -> None:
        result = run_cli(cli_env, "filters", "put", "--cli-input-json", _write(tmp_path, "put.json", document))
        assert result.returncode == 2
        assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr

    def test_delete_removes_a_stored_filter_and_names_the_group_when_a_name_is_in_two(self, cli_env,
                                                                                        tmp_path) -> None:
        twice = {"metricFilters": [{**DESCRIBED["metricFilters"][1], "logGroupName": group}
                                   for group in (ACCESS, "MyApp/other.log")]}
        run_cli(cli_env, "filters", "import", _write(tmp_path, "f.json", twice))
        ambiguous = run_cli(cli_env, "filters", "delete", "HTTP404Errors")
        assert ambiguous.returncode == 2
        assert "in 2 log groups (MyApp/access.log, MyApp/other.log)" in " ".join(ambiguous.stderr.split())
        done = _json(run_cli(cli_env, "filters", "delete", "HTTP404Errors", "--log-group", ACCESS, "--json"))
        assert done == {"deleted": {"log_group": ACCESS, "name": "HTTP404Errors"}}
        done = _json(run_cli(cli_env, "filters", "delete", "HTTP404Errors", "--json"))  # now only one is left
        assert done == {"deleted": {"log_group": "MyApp/other.log", "name": "HTTP404Errors"}}
        gone = run_cli(cli_env, "filters", "delete", "HTTP404Errors")
        assert gone.returncode == 2 and "no stored metric filter named 'HTTP404Errors'" in gone.stderr

    def test_a_plan_filter_is_not_deleted_here(self, cli_env) -> None:
        result = run_cli(cli_env, "filters", "delete", "ErrorMetricFilter")
        assert result.returncode == 2
        assert "declared in the monitoring plan" in " ".join(result.stderr.split())


def test_a_running_store_counts_with_a_filter_another_process_put(cli_env, settings, tmp_path) -> None:
    """A long-running writer (as `whispersync up` is) picks up `filters put` from another process."""
    telemetry = open_store(settings)
    line = '127.0.0.1 - - [27/Nov/2026:12:00:00 +0000] "GET /missing HTTP/1.1" 404 12'
    try:
        telemetry.emit("logs", {"@timestamp": T0, "@message": line, "log_group": ACCESS})
        telemetry.flush()  # no stored filter yet: nothing counted
        request = {"logGroupName": ACCESS, **{k: v for k, v in DESCRIBED["metricFilters"][1].items()
                                              if k not in ("creationTime", "logGroupName")}}
        put = run_cli(cli_env, "filters", "put", "--cli-input-json", _write(tmp_path, "put.json", request))
        assert put.returncode == 0, put.stderr
        telemetry.emit("logs", {"@timestamp": T0 + 60_000, "@message": line, "log_group": ACCESS})
        telemetry.flush()
    finally:
        telemetry.close()
    assert _series(cli_env, "MyApp", "ApacheNotFoundErrorCount") == [("2026-11-27T12:01:00Z", 1.0)]
