"""How a query names a field: numbered members of flattened JSON arrays, ``list[index]`` and
``.member`` after a value, backquoted names, and resource tag fields (refused: no tags here).

Sources: CWL_AnalyzeLogData-discoverable-fields.html ("Fields in JSON logs"),
CWL_QuerySyntax-operations-functions.html ("Structure types") and
CWL_QuerySyntax-Guidelines.html ("Fields that contain special characters").
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query, run_query
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC
START, END = T0 - 60_000, T0 + 3_600_000

EVENTS = [
    {"name": "start", "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}},
     "counts": {"200": 7, "404": 1}, "detail-type": "Object Created", "my field": "spaced",
     "payload": orjson.dumps({"users": [{"action": "GetData"}, {"action": "PutData"}], "user.id": "123"}).decode()},
    {"name": "stop", "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-3"}]}},
     "counts": {"200": 2}, "detail-type": "Object Created",
     "payload": orjson.dumps({"users": [{"action": "ListData"}], "user.id": "456"}).decode()},
    {"name": "tick", "detail-type": "Scheduled Event", "payload": "not json"},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = TelemetryStore(tmp_path_factory.mktemp("fields") / "telemetry")
    lines = [orjson.dumps({"timestamp": T0 + i * 1000, **event}) for i, event in enumerate(EVENTS)]
    assert import_logs(store, b"\n".join(lines) + b"\n", log_group="/fields").imported == len(EVENTS)
    yield store
    store.close()


def rows(store, text: str) -> list[list]:
    return run_query(store, text + " | sort name asc", start_ms=START, end_ms=END)["rows"]


def refused(text: str, message: str) -> InsightsQueryError:
    with pytest.raises(InsightsQueryError) as info:
        parse_query(text)
    assert message in str(info.value)
    return info.value


class TestNumberedMembers:
    def test_a_number_member_indexes_a_flattened_array(self, store):
        """`items.0.instanceId` is the first item's id, as the docs' CloudTrail example reads it."""
        got = rows(store, 'filter requestParameters.instancesSet.items.0.instanceId = "i-1" | fields name')
        assert got == [["start"]]
        got = rows(store, "fields name, requestParameters.instancesSet.items.1.instanceId as second")
        assert got == [["start", "i-2"], ["stop", None], ["tick", None]]

    def test_a_number_member_is_also_an_object_key(self, store):
        """An object with key "200" flattens to the same name as an array's item 200 would."""
        assert rows(store, "fields name, counts.200 + 1 as ok") == [["start", 8], ["stop", 3], ["tick", None]]

    def test_a_numbered_object_comes_back_as_json(self, store):
        got = rows(store, "filter name = 'stop' | fields name, requestParameters.instancesSet.items.0 as item")
        assert got == [["stop", {"instanceId": "i-3"}]]

    def test_a_number_with_a_leading_zero_is_not_an_index(self, store):
        assert rows(store, "filter name = 'start' | fields requestParameters.instancesSet.items.00.instanceId as x,"
                           " name") == [[None, "start"]]


class TestIndexAndMemberAfterAValue:
    def test_bracket_index_of_a_parsed_list(self, store):
        """The docs' `json_message.users[1].action`."""
        got = rows(store, "fields jsonParse(payload) as json_message, name"
                          ' | filter json_message.users[1].action = "PutData" | display name')
        assert got == [["start"]]

    def test_member_of_a_call_result(self, store):
        """`jsonParse(x).startTime`: a member straight after the call."""
        got = rows(store, "fields name, jsonParse(payload).users[0].action as first, jsonParse(payload).users.0.action")
        assert got == [["start", "GetData", "GetData"], ["stop", "ListData", "ListData"], ["tick", None, None]]

    def test_a_backquoted_member_keeps_its_dots(self, store):
        """"map.attributes.`special.char`": the key is "user.id", not user → id."""
        got = rows(store, "fields jsonParse(payload) as m, name | fields m.`user.id` as uid | display name, uid")
        assert got == [["start", "123"], ["stop", "456"], ["tick", None]]

    def test_bracket_index_of_a_json_field_of_the_line(self, store):
        got = rows(store, "fields name, requestParameters.instancesSet.items[0].instanceId as first")
        assert got == [["start", "i-1"], ["stop", "i-3"], ["tick", None]]

    def test_an_index_out_of_range_or_of_a_non_list_is_null(self, store):
        got = rows(store, "fields name, jsonParse(payload).users[5].action as x, name[0] as y")
        assert got == [["start", None, None], ["stop", None, None], ["tick", None, None]]

    def test_in_list_after_a_field_is_still_a_list(self, store):
        assert rows(store, "filter name in ['stop', 'tick'] | fields name") == [["stop"], ["tick"]]

    def test_an_index_must_be_a_whole_number(self):
        error = refused("fields m.users[x]", "expected a list index (a whole number from 0) after '['")
        assert error.position == 15
        refused("fields m.users[1", "expected ']' to close the list index")

    def test_the_column_is_named_as_typed(self, store):
        result = run_query(store, "fields jsonParse(payload).users[0].action | limit 1", start_ms=START, end_ms=END)
        assert result["columns"] == ["jsonParse(payload).users[0].action"]


class TestBackquotedNames:
    def test_the_column_of_a_backquoted_field_is_the_field_name(self, store):
        """The docs' EventBridge sample: `detail-type` is the field detail-type."""
        result = run_query(store, "stats count(*) as n by `detail-type` | sort n desc", start_ms=START, end_ms=END)
        assert result["columns"] == ["detail-type", "n"]
        assert result["rows"] == [["Object Created", 2], ["Scheduled Event", 1]]

    def test_a_backquoted_field_with_a_space_is_read(self, store):
        assert rows(store, "fields `my field`, name | filter name = 'start'") == [["spaced", "start"]]

    def test_an_expression_keeps_its_text_as_column_name(self, store):
        result = run_query(store, "fields toupper(`my field`) | limit 1", start_ms=START, end_ms=END)
        assert result["columns"] == ["toupper(`my field`)"]


class TestResourceTags:
    @pytest.mark.parametrize(("text", "position"), [
        ('filter @aws.tag.env = "production"', 7),
        ("stats count(*) by @aws.tag.team", 18),
        ('filter @`aws.tag.aws:cloudformation:stack-name` = "my-stack"', 7),
        ("dedup @aws.tag.team", 6),
    ])
    def test_tag_fields_are_refused_where_they_are(self, text, position):
        error = refused(text, "is a resource tag field: it reads the AWS tags of a log group, and local log groups"
                              " have none")
        assert error.position == position

    def test_a_system_field_in_backquotes_after_the_at_sign(self, store):
        """@`name` is the field @name (the docs' form for system fields with special characters)."""
        result = run_query(store, "fields @`log` | limit 1", start_ms=START, end_ms=END)
        assert result["columns"] == ["@log"] and result["rows"][0][0].endswith("/fields")


class TestTimeUnits:
    """bin/datefloor/dateceil periods (CWL_QuerySyntax-operations-functions.html, "Datetime functions")."""

    @staticmethod
    def period(text: str):
        return parse_query(f"stats count(*) by bin({text})").commands[0].by[0].expr.args[0]

    @pytest.mark.parametrize(("long", "short"), [
        ("5minutes", "5m"), ("5minute", "5m"), ("5mins", "5m"), ("2hrs", "2h"), ("2hours", "2h"), ("30secs", "30s"),
        ("500milliseconds", "500ms"), ("500msec", "500ms"), ("3days", "3d"), ("2weeks", "2w"), ("1months", "1mo"),
        ("1mons", "1mo"), ("2quarters", "2q"), ("2qtrs", "2q"), ("1years", "1y"), ("1yrs", "1y"),
    ])
    def test_long_and_plural_unit_names(self, long, short):
        """"For all units and abbreviations that include more than one character, adding s to pluralize
        is supported. So both hr and hrs work"."""
        got, want = self.period(long), self.period(short)
        assert (got.count, got.ms, got.calendar) == (want.count, want.ms, want.calendar)

    @pytest.mark.parametrize(("asked", "capped"), [
        ("300s", "60s"), ("90m", "60m"), ("48h", "24h"), ("5000ms", "1000ms"), ("45days", "45d"),
    ])
    def test_a_count_past_its_unit_is_capped(self, asked, capped):
        """"if you specify bin(300s), CloudWatch Logs actually implements this as 60 seconds ... The cap
        for ms is 1000, the caps for s and m are 60, and the cap for h is 24"; days have none."""
        assert self.period(asked).ms == self.period(capped).ms

    def test_a_long_unit_name_bins_and_names_the_column_as_typed(self, store):
        result = run_query(store, "stats count(*) by bin(1hours)", start_ms=START, end_ms=END)
        assert result["columns"] == ["bin(1hours)", "count(*)"]
        assert result["rows"] == [["2026-11-27 12:00:00.000", 3]]


class TestUnquotedText:
    def test_an_unquoted_url_is_refused_where_it_starts(self):
        """The docs' Apache sample writes `referrer= http://34.250.27.141/` without quotes."""
        error = refused('filter status="200" and referrer= http://34.250.27.141/ and method= "GET"',
                        'a text value must be quoted: "http://34.250.27.141/"')
        assert error.position == 34
