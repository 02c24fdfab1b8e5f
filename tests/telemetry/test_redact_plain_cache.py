"""Strings found free of secret shapes are remembered (issue 15): the memory never lets a secret through."""

from __future__ import annotations

from pathlib import Path

from whispersync.monitoring.store import TelemetryStore
from whispersync.telemetry import MemorySink, Telemetry, correlation_scope
from whispersync.telemetry import _redact
from whispersync.telemetry._redact import MASK, redact_flat, redact_string

SECRET = "api_key=hunter22hunter22"


def test_plain_strings_are_remembered_and_secret_shaped_ones_never():
    redact_flat({"memo_id": "d7f53619b199421d8c2068b6687d6fd0", "note": SECRET})
    assert "d7f53619b199421d8c2068b6687d6fd0" in _redact._plain
    assert SECRET not in _redact._plain
    assert redact_flat({"note": SECRET}) == {"note": redact_string(SECRET)} != {"note": SECRET}


def test_a_value_under_a_secret_key_is_masked_unread_and_never_remembered():
    assert redact_flat({"password": "plainlooking1"}) == {"password": MASK}
    assert "plainlooking1" not in _redact._plain


def test_the_memory_is_bounded_and_a_secret_after_it_overflows_is_still_masked():
    for n in range(_redact._PLAIN_MAX * 2):
        redact_flat({"memo_id": f"memo-{n}"})
    assert len(_redact._plain) <= _redact._PLAIN_MAX
    redact_flat({"note": "x" * (_redact._PLAIN_LEN + 1)})
    assert "x" * (_redact._PLAIN_LEN + 1) not in _redact._plain  # long strings are not kept
    assert MASK in redact_flat({"note": SECRET})["note"]


def test_repeated_values_in_spans_and_logs_reach_the_store_masked_every_time(tmp_path: Path):
    store = TelemetryStore(tmp_path / "store")
    telemetry = Telemetry(store)
    log = telemetry.logger("whispersync.worker")
    sink = MemorySink()
    twin = Telemetry(sink)
    for _ in range(3):
        for tel, lg in ((telemetry, log), (twin, twin.logger("w"))):
            with correlation_scope("memo-1"), tel.tracer.span("worker") as span:
                span.put_annotation("agent_type", "work")
                span.put_annotation("header", "Bearer abcdef123456")
                lg.info("Processing transcript", agent_type="work", note=SECRET)
                lg.info(SECRET)
    telemetry.close()
    written = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*.jsonl"))
    assert b"hunter22" not in written and b"abcdef123456" not in written
    assert written.count(b'"agent_type":"work"') == 6
    assert [r["annotations"]["header"] for r in sink.records["spans"]] == ["Bearer " + MASK] * 3
