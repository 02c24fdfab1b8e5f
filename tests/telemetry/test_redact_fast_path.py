"""The fast redaction paths (issue 15) mask exactly what the slow path masked.

``redact_flat`` (span annotations and metadata, nested dicts) and the logger's
one-pass ``_clean_fields`` replaced a recursive comprehension and two passes.
Both are checked against that slow path, kept here verbatim as the reference,
on a corpus of records with secret-looking keys and values; then end to end:
no secret of the corpus reaches a store segment.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whispersync.monitoring.store import TelemetryStore
from whispersync.telemetry import Telemetry, correlation_scope
from whispersync.telemetry._logger import _bound_fields, _clean_fields
from whispersync.telemetry._redact import MASK, is_secret_key, redact_fields, redact_flat, redact_string, redact_value


def slow_redact_value(value: Any) -> Any:
    """redact_value as it was before issue 15: a comprehension per dict level."""
    kind = type(value)
    if kind is str:
        return redact_string(value)
    if kind is dict or isinstance(value, dict):
        return {k: MASK if is_secret_key(k) else slow_redact_value(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [slow_redact_value(v) for v in value]
    return value


SECRETS = ["hunter22", "s3cr3t", "eyJhbGciOiJIUzI1NiJ9", "abcd1234efgh", "AKIAABCDEFGHIJKLMNOP",
           "xoxb-1234567890-abcdef", "ghp_abcdefghijklmnopqrstuvwxyz", "sk-abcdefghijklmnopqrstuvwx"]

CORPUS: list[dict[str, Any]] = [
    {"memo_id": "6c24a43c95e14617addcd0fa27108d3c", "agent_type": "work", "duration_ms": 22.7, "ok": True},
    {"password": "hunter22", "apiKey": 12345, "token": None, "input_tokens": 812},
    {"agent_type": "api_key=abcd1234efgh", "memo_id": "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"},
    {"title": "dsn postgres://app:s3cr3t@db:5432/x", "note": "AKIAABCDEFGHIJKLMNOP in a log"},
    {"routing": {"confidence": 1.0, "reasons": ["requested 'work'", "token=hunter22"],
                 "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "abcd1234efgh"}}},
    {"nested": [{"client_secret": "s3cr3t"}, ("xoxb-1234567890-abcdef", 3)], 7: "int key"},
    {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX", "url": "https://example.com/a?b=c"},
    {"ghp": "ghp_abcdefghijklmnopqrstuvwxyz", "model": "sk-abcdefghijklmnopqrstuvwx", "empty": ""},
    {"long": "x" * 5000 + " password=hunter22", "text": "Processing transcript"},
]


@pytest.mark.parametrize("record", CORPUS)
def test_redact_flat_matches_the_slow_path(record):
    before = copy.deepcopy(record)
    assert redact_flat(record) == slow_redact_value(record)
    assert redact_value(record) == slow_redact_value(record)
    assert record == before  # a copy: the span's own dicts are left as they are


@pytest.mark.parametrize("record", CORPUS)
def test_log_fields_one_pass_matches_two_passes(record):
    fields = {k: v for k, v in record.items() if isinstance(k, str)}
    assert _clean_fields(copy.deepcopy(fields)) == redact_fields(_bound_fields(copy.deepcopy(fields)))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=40), st.sampled_from(SECRETS + ["api_key=" + s for s in SECRETS]))
keys = st.one_of(st.text(max_size=12), st.sampled_from(["password", "token", "xApiKey", "memo_id", "agent_type"]))
values = st.recursive(json_scalars,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_fast_paths_match_the_slow_path_on_generated_records(record):
    assert redact_flat(record) == slow_redact_value(record)
    assert _clean_fields(copy.deepcopy(record)) == redact_fields(_bound_fields(copy.deepcopy(record)))


def test_no_secret_of_the_corpus_reaches_a_segment(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    with Telemetry(store) as tel, correlation_scope("redaction-check"):
        log = tel.logger("whispersync.test")
        for record in CORPUS:
            fields = {k: v for k, v in record.items() if isinstance(k, str)}
            log.info("record with password=hunter22 inside", **fields)
            with tel.tracer.span("redaction") as span:
                for key, value in fields.items():
                    if isinstance(value, (str, int, float, bool)):
                        span.put_annotation(key, value)
                    span.put_metadata(key, value)
    written = b"".join(p.read_bytes() for p in (tmp_path / "telemetry").rglob("*.jsonl"))
    assert written.count(b"\n") == 2 * len(CORPUS)
    for secret in SECRETS:
        assert secret.encode() not in written, secret


def test_store_encodes_at_emit_and_keeps_non_string_keys(tmp_path):
    # emit serialises at once (issue 15): a later change to the dict does not reach the
    # segment, and a dict with non-string keys falls back to OPT_NON_STR_KEYS.
    store = TelemetryStore(tmp_path / "telemetry")
    record = {"name": "s", "metadata": {7: "seven"}, "annotations": {"password": MASK}}
    store.emit("spans", record)
    record["annotations"]["password"] = "hunter22"
    store.close()
    [line] = b"".join(p.read_bytes() for p in (tmp_path / "telemetry").rglob("*.jsonl")).splitlines()
    assert line == b'{"name":"s","metadata":{"7":"seven"},"annotations":{"password":"***"}}'
    assert store.faults == 0
