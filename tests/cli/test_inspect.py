"""Tests for `whispersync memos` and `whispersync dlq …` (CLI) on bad input."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from whispersync import catalog
from whispersync.cli import app
from whispersync.pipeline.queue import SqliteQueueBroker
from whispersync.settings import Settings

runner = CliRunner()


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def invoke(home, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})


class TestBadLimits:
    @pytest.mark.parametrize(
        "args", [("dlq", "list", "--limit", "0"), ("dlq", "redrive", "--limit", "-1"), ("memos", "--limit", "-5")]
    )
    def test_a_limit_out_of_range_is_a_usage_error_not_a_traceback(self, home, args) -> None:
        """A bad --limit exits 2 with a message naming the option."""
        result = invoke(home, *args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "--limit" in result.output


class TestDlqList:
    def test_a_message_whose_body_is_not_json_is_listed(self, home) -> None:
        """A malformed message dead-lettered by the worker is shown as its raw body."""
        broker = SqliteQueueBroker(Settings.load(home=home).queue_db)
        broker.queue(catalog.DEAD_LETTER_QUEUE).send("not json")
        broker.close()

        result = invoke(home, "dlq", "list", "--json")

        assert result.exit_code == 0, result.output
        [entry] = orjson.loads(result.stdout)["messages"]
        assert entry["body"] == "not json"


def _memo(memo_id: str, **fields):
    from whispersync.domain import Memo, MemoStatus

    base = dict(
        id=memo_id,
        key=f"transcripts/work/{memo_id}.txt",
        correlation_id=f"cid-{memo_id}",
        trace_id=memo_id[::-1],
        status=MemoStatus.DONE,
        created_at=1_767_225_600.5,
        updated_at=1_767_225_601.0,
        agent="work",
        title="Standup notes",
    )
    base.update(fields)
    return Memo(**base)


@pytest.fixture
def memo_home(home):
    """Two memos whose ids share 9 characters, one failed and dead-lettered with a long error."""
    from whispersync.app import open_records

    error = "RuntimeError: " + "the agent could not write its journal entry because the disk is full " * 2
    with open_records(Settings.load(home=home)) as records:
        records.create(_memo("0123456789" + "a" * 22))
        records.create(_memo("0123456780" + "b" * 22, status=_memo("x").status.FAILED, error=error))
    broker = SqliteQueueBroker(Settings.load(home=home).queue_db)
    broker.queue(catalog.DEAD_LETTER_QUEUE).send(orjson.dumps({"memo_id": "0123456780" + "b" * 22}).decode())
    broker.close()
    return home, error


class TestJsonShapes:
    """docs/json.md: one object at the top, lists under a named key, ISO 8601 UTC times."""

    def test_memos_is_an_object_with_a_next_token_and_iso_times(self, memo_home) -> None:
        home, _ = memo_home
        result = invoke(home, "memos", "--json")
        assert result.exit_code == 0, result.output
        doc = orjson.loads(result.stdout)
        assert set(doc) == {"memos", "next_token"} and doc["next_token"] is None
        assert {m["created_at"] for m in doc["memos"]} == {"2026-01-01T00:00:00.500Z"}

    def test_dlq_list_is_an_object_with_messages(self, memo_home) -> None:
        home, error = memo_home
        doc = orjson.loads(invoke(home, "dlq", "list", "--json").stdout)
        [message] = doc["messages"]
        assert message["error"] == error and message["sent_at"].endswith("Z")


class TestNarrowTables:
    def run80(self, home, *args):
        return runner.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "80"})

    def test_memos_at_80_columns_one_line_per_memo_with_unique_prefixes(self, memo_home) -> None:
        home, _ = memo_home
        result = self.run80(home, "memos")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        assert len(lines) == 4 + 2  # borders, header and one line per memo
        # 9 shared characters: the prefixes are 10 long, and each names its memo
        assert "0123456789 " in result.stdout and "0123456780 " in result.stdout

    def test_dlq_list_shows_the_whole_error_at_80_columns(self, memo_home) -> None:
        home, error = memo_home
        result = self.run80(home, "dlq", "list")
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.stdout.splitlines()) <= 80
        shown = "".join(line.strip("│ ") for line in result.stdout.splitlines())
        assert "".join(error.split()) in "".join(shown.split())


class TestIdPrefixes:
    def test_a_memo_id_prefix_finds_its_trace(self, memo_home) -> None:
        from whispersync.app import open_store

        home, _ = memo_home
        store = open_store(Settings.load(home=home))
        store.emit(
            "spans",
            {
                "trace_id": "a" * 22 + "9876543210",
                "span_id": "1" * 16,
                "parent_span_id": None,
                "name": "process_memo",
                "start_time_unix_nano": 1_767_225_600 * 10**9,
                "end_time_unix_nano": 1_767_225_601 * 10**9,
                "duration_ms": 1000.0,
                "status": "OK",
                "correlation_id": "cid-other",
            },
        )
        store.close()
        result = invoke(home, "trace", "0123456789", "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout)["trace_id"] == "a" * 22 + "9876543210"

    def test_an_ambiguous_memo_prefix_lists_both(self, memo_home) -> None:
        home, _ = memo_home
        result = invoke(home, "trace", "01234567")
        assert result.exit_code == 2
        text = " ".join(result.output.split())
        assert "memo 0123456789" in text and "memo 0123456780" in text


class TestDlqRedrive:
    def test_memo_moves_only_that_memo_and_sets_it_queued(self, memo_home) -> None:
        """`dlq redrive --memo ID` (the console's per-memo Redrive, from the shell)."""
        from whispersync.app import open_records
        from whispersync.domain import MemoStatus

        home, _ = memo_home
        failed = "0123456780" + "b" * 22
        assert orjson.loads(invoke(home, "dlq", "redrive", "--memo", "0" * 32, "--json").stdout) == {"moved": 0}
        result = invoke(home, "dlq", "redrive", "--memo", failed, "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout) == {"moved": 1}
        with open_records(Settings.load(home=home)) as records:
            assert records.get(failed).status is MemoStatus.QUEUED
        assert orjson.loads(invoke(home, "dlq", "list", "--json").stdout) == {"messages": []}
