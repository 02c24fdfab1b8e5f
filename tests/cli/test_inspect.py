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
        [entry] = orjson.loads(result.stdout)
        assert entry["body"] == "not json"
