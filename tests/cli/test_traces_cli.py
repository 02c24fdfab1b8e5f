"""Tests for `whispersync traces …` and `whispersync logs test-filter` (CLI, --json)."""

from __future__ import annotations

import orjson
import pytest
from monitoring.traces.test_traces import A, B, C, make_spans
from typer.testing import CliRunner

from whispersync.app import open_store
from whispersync.cli import app
from whispersync.monitoring.traces import get_trace
from whispersync.settings import Settings

runner = CliRunner()


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    store = open_store(Settings.load(home=home))
    for record in make_spans():
        store.emit("spans", record)
    store.emit("logs", {"timestamp": "2099-01-01T00:00:00.000Z", "level": "ERROR", "message": "boom"})
    store.close()
    return home


def invoke(home, *args: str, input: str | None = None):
    return runner.invoke(app, ["--home", str(home), *args], input=input, env={"COLUMNS": "250"})


class TestTracesSearch:
    def test_it_prints_json_summaries(self, home) -> None:
        result = invoke(home, "traces", "search", "--since", "36500d", "--filter",
                        'agent_type = "work" AND success = false', "--json")
        assert result.exit_code == 0, result.output
        traces = orjson.loads(result.stdout)["traces"]
        assert [t["trace_id"] for t in traces] == [A]
        assert traces[0]["root_span"] == "process_memo"
        assert traces[0]["has_error"] is True and traces[0]["span_count"] == 3

    def test_it_combines_options(self, home) -> None:
        result = invoke(home, "traces", "search", "--start", "2026-11-27T13:00:00Z", "--slowest", "2", "--json")
        assert [t["trace_id"] for t in orjson.loads(result.stdout)["traces"]] == [A, C]
        result = invoke(home, "traces", "search", "--since", "36500d", "--errors", "--json")
        assert [t["trace_id"] for t in orjson.loads(result.stdout)["traces"]] == [A]
        result = invoke(home, "traces", "search", "--since", "36500d", "--correlation-id", "cid-b",
                        "--min-duration-ms", "50", "--json")
        assert [t["trace_id"] for t in orjson.loads(result.stdout)["traces"]] == [B]

    def test_a_bad_filter_is_an_error_with_the_position(self, home) -> None:
        result = invoke(home, "traces", "search", "--filter", "agent_type =", "--json")
        assert result.exit_code == 2
        assert "line 1, column 13: " in " ".join(result.output.split())
        assert "  agent_type =\n" + " " * 14 + "^" in result.output  # a caret under the place

    def test_it_prints_a_table(self, home) -> None:
        result = invoke(home, "traces", "search", "--since", "36500d")
        assert result.exit_code == 0 and "process_memo" in result.stdout

    def test_at_80_columns_it_is_one_line_per_trace_with_unique_short_ids(self, home) -> None:
        result = runner.invoke(app, ["--home", str(home), "traces", "search", "--since", "36500d"],
                               env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80 and len(lines) == 3 + 4
        assert all(f"│ {t[:8]} " in result.stdout for t in (A, B, C))
        shown = invoke(home, "traces", "show", A[:8], "--json")  # a prefix shown can be typed back
        assert orjson.loads(shown.stdout)["trace_id"] == A

    def test_the_aws_cli_spellings_of_start_and_end(self, home) -> None:
        result = invoke(home, "traces", "search", "--start-time", "2026-11-27T13:00:00Z",
                        "--end-time", "2026-11-27T13:59:00Z", "--json")
        assert result.exit_code == 0, result.output
        assert [t["trace_id"] for t in orjson.loads(result.stdout)["traces"]] == [B, A]


class TestTracesShow:
    def test_it_prints_the_trace_as_json(self, home) -> None:
        result = invoke(home, "traces", "show", A, "--json")
        assert result.exit_code == 0, result.output
        body = orjson.loads(result.stdout)
        assert body["trace_id"] == A and len(body["spans"]) == 3
        assert body["summary"]["duration_ms"] == 800.0

    def test_it_accepts_a_correlation_id(self, home) -> None:
        assert orjson.loads(invoke(home, "traces", "show", "cid-b", "--json").stdout)["trace_id"] == B

    def test_it_prints_a_tree_with_metadata(self, home) -> None:
        result = invoke(home, "traces", "show", A)
        assert "agent_processing" in result.stdout and "transcript_length" in result.stdout

    def test_an_unknown_id_fails(self, home) -> None:
        assert invoke(home, "traces", "show", "nope").exit_code == 1

    def test_json_is_the_document_of_the_http_route(self, home) -> None:
        """`trace`, `traces show` and GET /v1/traces/{id} answer with one document (get_trace)."""
        store = open_store(Settings.load(home=home))
        expected = orjson.loads(orjson.dumps(get_trace(store, A)))
        store.close()
        for command in (("traces", "show"), ("trace",)):
            result = invoke(home, *command, A, "--json")
            assert result.exit_code == 0, result.output
            assert orjson.loads(result.stdout) == expected

    @pytest.mark.parametrize("command", [("traces", "show"), ("trace",)])
    def test_a_unique_prefix_is_enough(self, home, command) -> None:
        """Ids are usable at any width, as git accepts short hashes."""
        result = invoke(home, *command, A[:6], "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout)["trace_id"] == A
        assert orjson.loads(invoke(home, *command, "cid-", "--json").stdout or "null") is None

    def test_an_ambiguous_prefix_is_a_usage_error_listing_the_candidates(self, home) -> None:
        result = invoke(home, "traces", "show", "cid-")
        assert result.exit_code == 2
        text = " ".join(result.output.split())
        assert "ambiguous" in text
        assert all(f"correlation id cid-{x}" in text for x in "abc")

    def test_a_prefix_shorter_than_four_characters_is_not_resolved(self, home) -> None:
        assert invoke(home, "traces", "show", A[:3]).exit_code == 1


class TestLogsTestFilter:
    def test_it_tests_a_file_like_test_metric_filter(self, home, tmp_path) -> None:
        lines = tmp_path / "lines.log"
        lines.write_text('{"level": "ERROR", "ms": 7}\n{"level": "INFO", "ms": 1}\n')
        result = invoke(home, "logs", "test-filter", '{ $.level = "ERROR" }', str(lines), "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout) == {"matches": [
            {"eventNumber": 1, "eventMessage": '{"level": "ERROR", "ms": 7}', "extractedValues": {"$.level": "ERROR"}},
        ]}

    def test_it_reads_stdin(self, home) -> None:
        result = invoke(home, "logs", "test-filter", "[a, b = 2*]", "-", "--json", input="x 200\ny 404\nz\n")
        matches = orjson.loads(result.stdout)["matches"]
        assert [(m["eventNumber"], m["extractedValues"]) for m in matches] == [(1, {"$a": "x", "$b": "200"})]

    def test_without_a_file_it_tests_stored_logs(self, home) -> None:
        result = invoke(home, "logs", "test-filter", '{ $.level = "ERROR" }', "--since", "36500d", "--json")
        assert [m["eventNumber"] for m in orjson.loads(result.stdout)["matches"]] == [1]

    def test_a_bad_pattern_is_an_error_with_the_position(self, home) -> None:
        result = invoke(home, "logs", "test-filter", "{ $.level = }", "-", input="x\n")
        assert result.exit_code == 2
        assert "line 1, column 13: " in " ".join(result.output.split())
        assert "  { $.level = }\n" + " " * 14 + "^" in result.output


class TestIdOptionsTakePrefixes:
    def test_traces_search_correlation_id_prefix(self, home) -> None:
        result = invoke(home, "traces", "search", "--since", "36500d", "--correlation-id", "cid-b", "--json")
        assert [t["trace_id"] for t in orjson.loads(result.stdout)["traces"]] == [B]
        ambiguous = invoke(home, "traces", "search", "--since", "36500d", "--correlation-id", "cid-")
        assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.output

    def test_logs_search_trace_and_correlation_id_prefixes(self, home) -> None:
        store = open_store(Settings.load(home=home))
        store.emit("logs", {"timestamp": "2099-01-01T00:00:01.000Z", "level": "INFO", "message": "hello",
                            "correlation_id": "corr-12345", "trace_id": A})
        store.close()
        for option, value in (("--correlation-id", "corr-1"), ("--trace-id", A[:6])):
            result = invoke(home, "logs", "search", option, value, "--since", "36500d", "--json")
            assert result.exit_code == 0, result.output
            assert [e["message"] for e in orjson.loads(result.stdout)["events"]] == ["hello"]
