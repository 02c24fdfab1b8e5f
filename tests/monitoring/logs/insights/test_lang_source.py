"""SOURCE and run_query(log_groups=...): which log groups a query reads.

The store holds events of three log groups and two of our own records, which belong
to no group. Forms from CWL_QuerySyntax-Source and from CloudWatch dashboards' log
widgets (the CDK's LogQueryWidget writes ``SOURCE 'a' | SOURCE 'b' | query``).
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.errors import InputError
from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, explain, parse_query, run_query
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC
START, END = T0 - 60_000, T0 + 3_600_000
GROUPS = {"/aws/lambda/ingest": 3, "/aws/lambda/worker": 2, "/whispersync/api": 1}


@pytest.fixture
def store(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    for group, count in GROUPS.items():
        lines = [orjson.dumps({"timestamp": T0 + i * 1000, "message": f"{group} {i}", "n": i}) for i in range(count)]
        assert import_logs(store, b"\n".join(lines) + b"\n", log_group=group).imported == count
    for i in range(2):  # our own records: no log group
        store.emit("logs", {"timestamp": T0 + 10_000 + i, "level": "INFO", "message": f"own {i}"})
    store.flush()
    yield store
    store.close()


def run(store, text: str, **kw):
    return run_query(store, text, start_ms=START, end_ms=END, **kw)


def counts_by_group(store, text: str, **kw) -> dict:
    return {group: n for group, n in run(store, text + " | stats count() as n by @log", **kw)["rows"]}


class TestSourceForms:
    def test_repeated_source_commands_read_those_groups(self, store):
        """The dashboard form: one SOURCE per group, quotes of either kind."""
        got = counts_by_group(store, "SOURCE '/aws/lambda/ingest' | SOURCE \"/whispersync/api\" | fields n")
        assert got == {"/aws/lambda/ingest": 3, "/whispersync/api": 1}

    def test_name_prefixes_read_the_groups_they_start(self, store):
        got = counts_by_group(store, "SOURCE logGroups(namePrefix: ['/aws/lambda/', '/nothing'])")
        assert got == {"/aws/lambda/ingest": 3, "/aws/lambda/worker": 2}

    def test_names_and_prefixes_add_up(self, store):
        got = counts_by_group(store, "SOURCE '/whispersync/api' | SOURCE logGroups(namePrefix: ['/aws/lambda/w'])")
        assert got == {"/whispersync/api": 1, "/aws/lambda/worker": 2}

    def test_log_groups_with_no_keys_is_every_group(self, store):
        """`SOURCE logGroups()` selects all log groups: our own records too."""
        assert run(store, "SOURCE logGroups() | stats count() as n")["rows"] == [[8]]
        assert run(store, "SOURCE logGroups(class: ['STANDARD']) | stats count() as n")["rows"] == [[8]]

    def test_a_group_without_events_is_an_empty_answer(self, store):
        result = run(store, "SOURCE '/aws/lambda/none' | fields @message")
        assert result["rows"] == []
        assert result["statistics"] == {"recordsMatched": 0, "recordsScanned": 0, "bytesScanned": 0}

    def test_source_alone_shows_the_default_columns(self, store):
        result = run(store, "SOURCE '/whispersync/api'")
        assert result["columns"] == ["@timestamp", "@message"] and len(result["rows"]) == 1

    def test_statistics_count_only_the_groups_read(self, store):
        every = run(store, "fields n")["statistics"]
        some = run(store, "SOURCE '/aws/lambda/worker' | filter n = 1")["statistics"]
        assert (every["recordsScanned"], some["recordsScanned"], some["recordsMatched"]) == (8, 2, 1)
        assert 0 < some["bytesScanned"] < every["bytesScanned"]

    def test_the_time_range_stays_the_first_predicate(self):
        """Parquet row groups are skipped on ts; the log groups come second."""
        # The last: the statistics' subquery (recordsScanned) comes first, in the SELECT list.
        where = explain("SOURCE 'a' | filter x = 1", 0, 1000).rsplit(" FROM logs WHERE ", 1)[1]
        assert where.startswith("(ts >= ") and where.index("log_group IN ('a')") < where.index("x")


class TestSourceErrors:
    @pytest.mark.parametrize(("query", "position", "words"), [
        ("fields a | SOURCE 'x'", 11, "SOURCE must come first"),
        ("SOURCE 'a', 'b' | fields x", 10, "one log group per SOURCE; repeat it"),
        ("SOURCE | fields x", 7, "expected a log group name in quotes or logGroups(...)"),
        ("SOURCE ''", 7, "not an empty string"),
        ("SOURCE logGroups(accountIdentifiers: ['111122223333'])", 17, "belongs to no AWS account"),
        ("SOURCE logGroups(class: ['INFREQUENT_ACCESS'])", 17, "no INFREQUENT_ACCESS groups"),
        ("SOURCE logGroups(namePrefix: ['a', 'b', 'c', 'd', 'e', 'f'])", 17, "at most 5 prefixes"),
        ("SOURCE logGroups(prefix: ['a'])", 17, "expected namePrefix, class or accountIdentifiers"),
        ("SOURCE logGroups(namePrefix: 'a')", 29, "expected '['"),
        ("SOURCE logGroups(namePrefix: ['a']", 34, "expected ')' to close logGroups("),
        ("SOURCE dataSource(['amazon_vpc.flow']) logGroups(namePrefix: ['a'])", 7, "vended log types"),
        ("SOURCE logGroups(namePrefix: ['/aws']) logGroupTags([{\"key\": \"team\"}])", 39, "by their AWS tags"),
    ])
    def test_it_points_at_the_problem(self, query, position, words):
        with pytest.raises(InsightsQueryError) as info:
            parse_query(query)
        assert info.value.position == position and words in info.value.reason

    def test_keywords_ignore_case(self):
        query = parse_query("source LOGGROUPS(NAMEPREFIX: ['/x']) | Source 'y'")
        assert (query.source.names, query.source.prefixes, query.commands) == (("y",), ("/x",), ())


class TestLogGroupsParameter:
    def test_it_scopes_like_source(self, store):
        """StartQuery's logGroupNames: the same answer as SOURCE."""
        by_parameter = run(store, "stats count() as n by @log", log_groups=["/aws/lambda/worker", "/whispersync/api"])
        by_source = run(store, "SOURCE '/aws/lambda/worker' | SOURCE '/whispersync/api' | stats count() as n by @log")
        assert by_parameter == by_source and by_parameter["statistics"]["recordsScanned"] == 3

    def test_a_query_with_source_may_not_have_it_too(self, store):
        """StartQuery takes the groups as parameters or as SOURCE in the query, not both."""
        assert run(store, "fields n | limit 1", log_groups=["/aws/lambda/worker"])["rows"] == [[1]]
        with pytest.raises(InsightsQueryError) as info:
            run(store, "# groups\nSOURCE '/x' | fields n", log_groups=["/aws/lambda/worker"])
        assert info.value.position == len("# groups\n") and "give them in one place" in info.value.reason

    @pytest.mark.parametrize("groups", [[], [""], [f"/g/{i}" for i in range(51)]])
    def test_an_empty_or_too_long_list_is_an_input_error(self, store, groups):
        with pytest.raises(InputError) as info:
            run(store, "fields n", log_groups=groups)
        assert not isinstance(info.value, InsightsQueryError)

    def test_a_plain_string_is_a_programming_error(self, store):
        with pytest.raises(TypeError):
            run(store, "fields n", log_groups="/aws/lambda/worker")
