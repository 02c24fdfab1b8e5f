"""Commands that reshape rows or combine queries: where, `!`, subqueries, unnest, expand,
join, parse csv / logfmt / multi and json field=..., on a small store worked out by hand.

    group /orders (JSON, one a second from T0):
      0  {"rid": "r1", "tags": ["x", "y"], "n": 1}
      1  {"rid": "r2", "tags": "solo", "n": 2}
      2  {"rid": "r3", "tags": [], "n": 3}
      3  {"rid": "r4", "n": 4}
    group /payments (JSON, from T0 + 20 s):
      0  {"rid": "r1", "cost": 5}
      1  {"rid": "r1", "cost": 7}
      2  {"rid": "r3", "cost": 9}
    group /text (plain lines, from T0 + 40 s):
      0  k=1 msg="say \\"hi\\"" k=2 flag
      1  a,"b,c",,"d""e"
      2  audit {"user": {"name": "ana", "ids": [7, 8]}}
      3  ip 10.0.0.1 then 10.0.0.2
"""

from __future__ import annotations

import json

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query, run_query
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC

GROUPS = {
    "/orders": (0, [{"rid": "r1", "tags": ["x", "y"], "n": 1}, {"rid": "r2", "tags": "solo", "n": 2},
                    {"rid": "r3", "tags": [], "n": 3}, {"rid": "r4", "n": 4}]),
    "/payments": (20, [{"rid": "r1", "cost": 5}, {"rid": "r1", "cost": 7}, {"rid": "r3", "cost": 9}]),
    "/text": (40, ['k=1 msg="say \\"hi\\"" k=2 flag', 'a,"b,c",,"d""e"',
                   'audit {"user": {"name": "ana", "ids": [7, 8]}}', "ip 10.0.0.1 then 10.0.0.2"]),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    store = TelemetryStore(tmp_path_factory.mktemp("reshape") / "telemetry")
    for group, (offset, messages) in GROUPS.items():
        events = [{"timestamp": T0 + (offset + i) * 1000, "message": m if isinstance(m, str) else json.dumps(m),
                   "logStreamName": "s", "eventId": f"{group}-{i}"} for i, m in enumerate(messages)]
        assert import_logs(store, orjson.dumps({"events": events}), log_group=group).imported == len(messages)

    def run_(text: str, **kw):
        return run_query(store, text, start_ms=T0, end_ms=T0 + 60_000, **kw)

    yield run_
    store.close()


def refused(run, text: str) -> InsightsQueryError:
    with pytest.raises(InsightsQueryError) as info:
        run(text)
    return info.value


class TestWhereAndBang:
    def test_where_filters_as_filter_does(self, run):
        where = run("SOURCE '/orders' | where n > 2 | fields rid")
        assert where["rows"] == [["r4"], ["r3"]]
        assert where == run("SOURCE '/orders' | filter n > 2 | fields rid")

    def test_where_without_a_condition_names_where(self, run):
        error = refused(run, "fields rid | where")
        assert "expected a condition after 'where'" in str(error) and error.position == len("fields rid | where")

    def test_bang_negates_a_condition(self, run):
        """`!ispresent(x)`, as CWL_QuerySyntax-Join's second example writes it."""
        result = run("SOURCE '/orders' | filter !ispresent(tags) or n = 1 | fields rid")
        assert result["rows"] == [["r4"], ["r1"]]

    def test_bang_is_not_the_inequality(self, run):
        assert run("SOURCE '/orders' | filter rid != 'r1' and !(n > 3) | fields rid")["rows"] == [["r3"], ["r2"]]

    def test_a_bang_with_nothing_after_it(self):
        with pytest.raises(InsightsQueryError) as info:
            parse_query("filter !")
        assert info.value.position == len("filter !")


class TestSubqueries:
    def test_the_outer_rows_whose_field_the_subquery_gives(self, run):
        result = run("SOURCE '/orders' | filter rid in (SOURCE '/payments' | fields rid) | fields rid, n")
        assert result["rows"] == [["r3", 3], ["r1", 1]]
        assert result["statistics"]["recordsMatched"] == 2

    def test_not_in_a_subquery(self, run):
        result = run("SOURCE '/orders' | filter rid not in (SOURCE '/payments' | fields rid) | fields rid")
        assert result["rows"] == [["r4"], ["r2"]]

    def test_a_subquery_with_stats(self, run):
        result = run("SOURCE '/orders' | filter rid in (SOURCE '/payments' | stats count(*) as c by rid"
                     " | filter c > 1 | fields rid) | fields rid")
        assert result["rows"] == [["r1"]]

    def test_without_source_the_subquery_reads_the_outer_query_groups(self, run):
        # Over /orders only, no event has a cost: the subquery gives nothing.
        assert run("SOURCE '/orders' | filter rid in (filter cost > 6 | fields rid) | fields rid")["rows"] == []
        # The request's groups, for both.
        result = run("filter rid in (filter cost > 6 | fields rid) | fields rid, cost",
                     log_groups=["/orders", "/payments"])
        assert result["rows"] == [["r3", 9], ["r1", 7], ["r1", 5], ["r3", None], ["r1", None]]

    def test_nested_subqueries_are_refused_where_they_start(self, run):
        text = "filter rid in (SOURCE '/payments' | filter rid in (SOURCE '/orders' | fields rid) | fields rid)"
        error = refused(run, text)
        assert "nested subqueries are not supported" in str(error)
        assert error.position == text.index("(SOURCE '/orders'")

    def test_a_subquery_must_give_the_field(self, run):
        error = refused(run, "filter rid in (SOURCE '/payments' | fields cost, n)")
        assert "fields rid" in str(error) and error.position == len("filter ")

    def test_an_unclosed_subquery(self):
        with pytest.raises(InsightsQueryError, match="expected '\\|' or '\\)' to close the subquery"):
            parse_query("filter rid in (SOURCE '/payments' | fields rid")


class TestUnnestAndExpand:
    def test_a_record_for_each_item_a_string_is_one_item_and_no_items_no_record(self, run):
        result = run("SOURCE '/orders' | fields jsonParse(@message) as m | unnest m.tags into t | display rid, t")
        assert result["rows"] == [["r2", "solo"], ["r1", "x"], ["r1", "y"]]
        assert result["statistics"]["recordsMatched"] == 3

    def test_the_unnested_field_shows_after_the_fields(self, run):
        result = run("SOURCE '/orders' | fields rid | unnest jsonParse(@message).tags into t | filter t = 'y'")
        assert result["columns"] == ["rid", "t"] and result["rows"] == [["r1", "y"]]

    def test_members_of_unnested_maps(self, run):
        result = run("SOURCE '/text' | parse @message /(?<js>\\{.*\\})/ | unnest jsonParse(js) into doc"
                     " | display doc.user.name, doc.user.ids")
        assert result["rows"] == [["ana", [7, 8]]]

    def test_expand_puts_each_element_in_the_field(self, run):
        result = run("SOURCE '/orders' | expand tags | stats count(*) by tags")
        assert result["rows"] == [["solo", 1], ["x", 1], ["y", 1]]

    def test_expand_keeps_the_sort_before_it_and_each_list_in_order(self, run):
        result = run("SOURCE '/orders' | sort n asc | expand tags | display rid, tags")
        assert result["rows"] == [["r1", "x"], ["r1", "y"], ["r2", "solo"]]

    def test_unnest_after_stats(self, run):
        result = run("SOURCE '/payments' | stats sum(cost) as total by rid | unnest rid into r | display r, total")
        assert result["rows"] == [["r1", 12], ["r3", 9]]

    def test_unnest_needs_into(self):
        with pytest.raises(InsightsQueryError, match="expected 'into'") as info:
            parse_query("unnest tags | limit 1")
        assert info.value.position == len("unnest tags ")


class TestJoin:
    def test_inner_join(self, run):
        result = run("SOURCE '/orders' | join type=inner left=o right=p where o.rid=p.rid (SOURCE '/payments')"
                     " | fields o.rid, o.n, p.cost | sort p.cost desc")
        assert result["rows"] == [["r3", 3, 9], ["r1", 1, 7], ["r1", 1, 5]]

    def test_left_join_keeps_rows_without_a_match(self, run):
        result = run("SOURCE '/orders' | join type=left left=o right=p where p.rid=o.rid"
                     " (SOURCE '/payments' | filter cost > 6) | filter !ispresent(p.cost) | fields rid")
        assert result["rows"] == [["r4"], ["r2"]]

    def test_the_right_side_fields_and_system_fields(self, run):
        result = run("SOURCE '/orders' | join left=o right=p where o.rid=p.rid (SOURCE '/payments')"
                     " | filter p.cost = 9 | fields p.@timestamp, p.@message, @timestamp")
        assert result["rows"] == [["2026-11-27 12:00:22.000", '{"rid": "r3", "cost": 9}', "2026-11-27 12:00:02.000"]]

    @pytest.mark.parametrize(("text", "message", "at"), [
        ("join left=a where a.rid=b.rid (SOURCE '/payments')", "expected left=<alias> right=<alias>", "where"),
        ("join left=a right=b where a.rid=c.rid (SOURCE '/payments')", "one on each side", "c.rid"),
        ("join type=outer left=a right=b where a.rid=b.rid (SOURCE '/payments')", "inner or left", "join"),
        ("join left=a right=b where a.rid=b.rid SOURCE '/payments'", "expected '\\('", "SOURCE"),
    ])
    def test_join_errors(self, text, message, at):
        with pytest.raises(InsightsQueryError, match=message) as info:
            parse_query(text)
        assert info.value.position == text.index(at)

    def test_join_after_stats_is_refused(self, run):
        text = "stats count(*) by rid | join left=a right=b where a.rid=b.rid (SOURCE '/payments')"
        error = refused(run, text)
        assert "put it before stats" in str(error) and error.position == text.index("join")


class TestParseModes:
    def test_csv_with_quotes_empty_and_missing_values(self, run):
        result = run("SOURCE '/text' | parse csv as a, b, c, d, e | filter a = 'a' | display a, b, c, d, e")
        assert result["rows"] == [["a", "b,c", "", 'd"e', None]]

    def test_csv_values_compare_as_numbers(self, run):
        result = run("SOURCE '/text' | parse @message csv as a, b | filter strlen(a) < 4 | stats count(*) as c")
        assert result["rows"] == [[1]]

    def test_logfmt_is_a_map_quoted_values_unescaped_first_key_wins(self, run):
        result = run("SOURCE '/text' | parse @message logfmt as lf | filter ispresent(lf) | display lf, lf.msg, lf.k")
        assert result["rows"] == [[{"k": "1", "msg": 'say "hi"'}, 'say "hi"', "1"]]

    def test_logfmt_takes_one_name(self):
        with pytest.raises(InsightsQueryError, match="takes one name") as info:
            parse_query("parse @message logfmt as a, b")
        assert info.value.position == len("parse @message ")

    def test_multi_gives_a_row_for_each_match_and_keeps_events_without_one(self, run):
        result = run("SOURCE '/text' | parse @message /(?<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)/ multi | display ip")
        assert result["rows"] == [["10.0.0.1"], ["10.0.0.2"], [None], [None], [None]]
        groups = run("SOURCE '/text' | parse @message /(?<first>\\d+)\\.\\d+\\.\\d+\\.(?<last>\\d+)/ multi"
                     " | filter ispresent(first) | display first, last")
        assert groups["rows"] == [["10", "1"], ["10", "2"]]

    def test_multi_is_for_regexes(self):
        with pytest.raises(InsightsQueryError, match="not a glob") as info:
            parse_query('parse "x*" as a multi')
        assert info.value.position == len('parse "x*" as a ')

    def test_json_field_reads_a_path_in_a_field(self, run):
        result = run("SOURCE '/text' | parse @message /(?<payload>\\{.*\\})/"
                     ' | json field=payload "user.ids[1]" as second | json field=payload "user.name" as who'
                     " | display second, who")
        assert result["rows"] == [[None, None], [8, "ana"], [None, None], [None, None]]

    def test_json_field_of_a_json_field_of_the_line(self, run):
        assert run('SOURCE \'/orders\' | json field=tags "[1]" as t | filter ispresent(t) | display t')["rows"] \
            == [["y"]]

    @pytest.mark.parametrize(("text", "message", "at"), [
        ('json @message "a" as b', "expected field=<name>", "@message"),
        ('json field=@message "a..b" as b', "expected a key path", '"a..b"'),
        ('json field=@message "a" b', "expected 'as'", "b"),
    ])
    def test_json_errors(self, text, message, at):
        with pytest.raises(InsightsQueryError, match=message) as info:
            parse_query(text)
        assert info.value.position == text.rindex(at)
