"""`whispersync logs query/import` through the Typer app, and `POST /v1/logs/query` on a real server."""

from __future__ import annotations

import httpx
import orjson
import pytest
from helpers import ServerThread
from typer.testing import CliRunner

from whispersync.cli._common import app

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC
START, END = "2026-11-27T12:00:00Z", "2026-11-27T13:00:00Z"
LINES = [
    {"timestamp": "2026-11-27T12:00:01.000Z", "level": "INFO", "message": "Processing transcript",
     "agent_type": "work", "correlation_id": "c1"},
    {"timestamp": "2026-11-27T12:00:02.000Z", "level": "INFO", "message": "Processing successful",
     "agent_type": "work", "correlation_id": "c1", "duration_ms": 40},
    {"timestamp": "2026-11-27T12:03:00.000Z", "level": "ERROR", "message": "Processing failed",
     "agent_type": "memory", "correlation_id": "c2", "error_type": "KeyError"},
]


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    (tmp_path / "home").mkdir(exist_ok=True)  # reading commands do not create a home

    def run(*args: str):
        return runner.invoke(app, ["--home", str(tmp_path / "home"), *args])

    return run


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in LINES) + b"oops\n")
    return path


class TestLogsCli:
    def test_import_then_query_json(self, cli, log_file):
        """Imported lines are queryable at once; the bad line is reported with its number."""
        imported = cli("logs", "import", str(log_file), "--log-group", "/local/app", "--json")
        assert imported.exit_code == 0, imported.output
        assert orjson.loads(imported.stdout) == {"imported": 3, "already_imported": 0, "without_timestamp": [], "errors": [
            {"line": 4, "reason": imported_reason(imported.stdout)}]}
        result = cli("logs", "query", "filter level = 'INFO' | fields correlation_id, @log, duration_ms",
                     "--start", START, "--end", END, "--json")
        assert result.exit_code == 0, result.output
        body = orjson.loads(result.stdout)
        assert body["columns"] == ["correlation_id", "@log", "duration_ms"]
        assert body["rows"] == [["c1", "/local/app", 40], ["c1", "/local/app", None]]
        assert body["statistics"]["recordsScanned"] == 3 and body["statistics"]["recordsMatched"] == 2

    def test_saved_query(self, cli, log_file):
        """--saved runs a seed query; epoch milliseconds work for --start/--end."""
        cli("logs", "import", str(log_file))
        result = cli("logs", "query", "--saved", "error_analysis", "--start", str(T0), "--end", str(T0 + 3_600_000),
                     "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout)["rows"] == [["KeyError", "memory", 1]]

    def test_table_output(self, cli, log_file):
        """Without --json, a table with the column names."""
        cli("logs", "import", str(log_file))
        result = cli("logs", "query", "stats count() as n by agent_type", "--start", START, "--end", END)
        assert result.exit_code == 0, result.output
        assert "agent_type" in result.stdout and "memory" in result.stdout

    def test_a_bad_query_shows_where(self, cli):
        """Exit code 2 and the position of the problem."""
        result = cli("logs", "query", "stats count() by", "--since", "1h")
        assert result.exit_code == 2
        assert "line 1, column 17: expected a field name after 'by'" in result.output

    def test_since_and_start_conflict(self, cli):
        result = cli("logs", "query", "limit 1", "--since", "1h", "--start", START)
        assert result.exit_code == 2 and "not both" in result.output

    def test_logs_search_still_works(self, cli):
        """The older `logs search` command is untouched."""
        result = cli("logs", "search", "--json")
        assert result.exit_code == 0 and orjson.loads(result.stdout) == {"events": []}  # docs/json.md: an object

    def test_the_aws_cli_spellings_of_start_and_end(self, cli, log_file):
        cli("logs", "import", str(log_file))
        result = cli("logs", "query", "stats count() as n", "--start-time", START, "--end-time", END, "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout)["rows"] == [[3]]


class TestLogsQueryLogGroups:
    def test_log_group_name_reads_only_those_groups(self, cli, log_file, tmp_path):
        """Like `aws logs start-query --log-group-names`: repeat the option for more groups."""
        other = tmp_path / "other.log"
        other.write_bytes(orjson.dumps(LINES[0]) + b"\n")
        cli("logs", "import", str(log_file), "--log-group", "/local/app")
        cli("logs", "import", str(other), "--log-group", "/local/other")
        args = ("--start", START, "--end", END, "--json")
        one = orjson.loads(cli("logs", "query", "stats count() as n", "--log-group-name", "/local/other", *args).stdout)
        assert one["rows"] == [[1]] and one["statistics"]["recordsScanned"] == 1
        both = cli("logs", "query", "stats count() as n", "--log-group-name", "/local/other",
                   "--log-group-name", "/local/app", *args)
        assert orjson.loads(both.stdout)["rows"] == [[4]]
        source = cli("logs", "query", "SOURCE '/local/app' | stats count() as n", *args)
        assert orjson.loads(source.stdout)["rows"] == [[3]]

    def test_with_source_in_the_query_it_is_refused(self, cli):
        result = cli("logs", "query", "SOURCE '/a' | fields x", "--log-group-name", "/b", "--since", "1h")
        assert result.exit_code == 2 and "give them in one place" in result.output


def imported_reason(stdout: str) -> str:
    reason = orjson.loads(stdout)["errors"][0]["reason"]
    assert reason.startswith("not valid JSON")
    return reason


class TestLogsQueryApi:
    @pytest.fixture
    def api(self, runtime, log_file):
        from whispersync.monitoring.logs import import_logs
        from whispersync.web.api import create_app

        import_logs(runtime.store, log_file)
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            yield client

    def test_it_answers_like_the_cli(self, api):
        """Same JSON document as `logs query --json`."""
        response = api.post("/v1/logs/query", json={"query": "stats count() by agent_type", "start": START,
                                                     "end": T0 + 3_600_000})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["columns"] == ["agent_type", "count()"]
        assert body["rows"] == [["memory", 1], ["work", 2]]

    def test_saved(self, api):
        response = api.post("/v1/logs/query", json={"saved": "performance_analysis", "start": START, "end": END})
        assert response.json()["rows"] == [["work", 40.0, 40, 40]]

    def test_a_bad_query_is_400_with_the_position(self, api):
        response = api.post("/v1/logs/query", json={"query": "filter x like"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_query" and error["position"] == 13
        assert "expected a /regex/" in error["message"]

    def test_a_bad_body_is_400(self, api):
        assert api.post("/v1/logs/query", json={"nope": 1}).status_code == 400
        assert api.post("/v1/logs/query", json={"query": "limit 1", "start": "soon"}).status_code == 400
        assert api.post("/v1/logs/query", json={"saved": "nope"}).status_code == 400


@pytest.mark.parametrize("args", [["logs", "search", "--limit", "-1"], ["logs", "test-filter", "ERROR", "--limit", "-1"]])
def test_a_negative_limit_is_a_usage_error_not_a_traceback(cli, args) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "--limit" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
