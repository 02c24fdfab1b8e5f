"""JSON functions and the map/list values they make, on events whose `payload` holds JSON text.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
("Structure types", "JSON functions").
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, inside the range of conftest.py's `query`

# name → extra fields of the event
EVENTS = {
    "object": {"payload": '{"status": 503, "user": {"id": "u1"}}'},
    "list": {"payload": '["admin", "dev", 1]'},
    "empty": {"payload": "[]"},
    "string": {"payload": '"just text"'},  # JSON, but neither a map nor a list
    "number": {"payload": "42"},
    "broken": {"payload": '{"status": '},
    "nested": {"payload": "plain", "obj": {"roles": ["admin", "ops"], "n": 2}},  # an object in the line itself
    "missing": {},
}
NAMES = sorted(EVENTS)


@pytest.fixture
def store(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    lines = [orjson.dumps({"timestamp": T0 + i * 1000, "message": "m", "name": name, **extra})
             for i, (name, extra) in enumerate(EVENTS.items())]
    report = import_logs(store, b"\n".join(lines) + b"\n", log_group="/app")
    assert report.imported == len(EVENTS) and not report.errors
    yield store
    store.close()


def values(query, expression: str) -> dict:
    """The value of ``expression`` for each event, by name."""
    return dict(query(f"fields name, {expression} as v | sort name asc")["rows"])


def test_jsonparse_reads_maps_and_lists_only(query):
    """A map or list for JSON objects and arrays; "an empty value" for anything else."""
    assert values(query, "jsonParse(payload)") == {
        "object": {"status": 503, "user": {"id": "u1"}}, "list": ["admin", "dev", 1], "empty": [],
        "string": None, "number": None, "broken": None, "nested": None, "missing": None}


def test_jsonparse_of_a_whole_json_line(query):
    """`jsonParse(@message)`, the documentation's own example, on JSON log lines."""
    got = values(query, "jsonStringify(jsonParse(@message))")
    assert orjson.loads(got["list"])["payload"] == '["admin", "dev", 1]'


def test_maps_are_null_for_string_and_number_functions(query):
    """"Maps and lists are treated as null for string, number, and datetime functions"."""
    assert values(query, "toupper(jsonParse(payload))")["object"] is None
    assert values(query, "strlen(jsonParse(payload))")["list"] is None
    assert values(query, "jsonParse(payload) + 1")["object"] is None
    assert values(query, "ispresent(jsonParse(payload))") == {**dict.fromkeys(NAMES, 0), "object": 1, "list": 1,
                                                              "empty": 1}


def test_comparing_a_map_is_false(query):
    """"Comparing map and list to any other fields result in false": no event passes."""
    result = query("filter jsonParse(payload) = payload or jsonParse(payload) = 503 or jsonParse(payload) != 'x'")
    assert result["rows"] == []


def test_jsonstringify(query):
    """The JSON text of a map or list, also of an object in the log line; null for anything else."""
    assert values(query, "jsonStringify(jsonParse(payload))") == {
        **dict.fromkeys(NAMES), "object": '{"status":503,"user":{"id":"u1"}}', "list": '["admin","dev",1]',
        "empty": "[]"}
    assert values(query, "jsonStringify(obj)")["nested"] == '{"roles":["admin","ops"],"n":2}'
    assert values(query, "jsonStringify(payload)")["object"] is None  # a string, not a map
    assert values(query, "jsonStringify(obj.n)")["nested"] is None


def test_jsonarraysize(query):
    """The element count of a JSON array; null when the value is not one."""
    assert values(query, "jsonArraySize(payload)") == {**dict.fromkeys(NAMES), "list": 3, "empty": 0}
    assert values(query, "jsonArraySize(obj.roles)")["nested"] == 2
    assert values(query, "jsonArraySize(jsonParse(payload))")["list"] == 3


@pytest.mark.parametrize(
    ("expression", "true_for"),
    [
        ("jsonArrayContains(payload, 'admin')", {"list"}),
        ("jsonArrayContains(payload, 'Admin')", set()),  # case-sensitive
        ("jsonArrayContains(payload, 1)", {"list"}),  # a number element, by its text
        ("jsonArrayContains(payload, 'status')", set()),  # a map is not an array
        ("jsonArrayContains(obj.roles, 'ops')", {"nested"}),
        ("jsonArrayContains(jsonParse(payload), 'dev')", {"list"}),
    ],
)
def test_jsonarraycontains(query, expression, true_for):
    """True (1) when the array holds the value; false (0) for invalid JSON, non-arrays, empty arrays, no field."""
    assert values(query, expression) == {n: int(n in true_for) for n in NAMES}


def test_split_makes_a_list(query):
    """split() "returns an array of substrings", a list like jsonParse's."""
    assert values(query, "split('a,b,,c', ',')")["missing"] == ["a", "b", "", "c"]
    assert values(query, "jsonArraySize(split('a,b,,c', ','))")["missing"] == 4
    assert values(query, "split(nope, ',')")["missing"] is None


@pytest.mark.parametrize(("query_text", "message"), [
    ("fields jsonParse(a, b)", "jsonparse() takes 1 argument, got 2"),
    ("fields jsonArrayContains(a)", "jsonarraycontains() takes 2 arguments, got 1"),
])
def test_misuse(query, query_text, message):
    with pytest.raises(InsightsQueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(query_text)
