"""MetricDataResult's JSON: ISO 8601 UTC timestamps, each distinct time formatted once."""

from __future__ import annotations

from datetime import UTC, datetime

from whispersync.monitoring.metrics import MetricDataResult, iso8601

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class TestIso8601:
    def test_it_writes_whole_seconds_and_milliseconds_in_utc(self) -> None:
        """Whole seconds without a fraction, others with three digits; always Z."""
        for ms in (0, T0, T0 + 1, T0 + 999, T0 + 86_399_000, 253_402_300_799_000):
            when = datetime.fromtimestamp(ms / 1000, UTC)
            spec = "milliseconds" if ms % 1000 else "seconds"
            assert iso8601(ms) == when.replace(tzinfo=None).isoformat(timespec=spec) + "Z"

    def test_the_series_of_one_answer_format_their_shared_times_once(self) -> None:
        """A graph of many series over the same grid formats each time once, not once per point."""
        times = [T0 + i * 900_000 for i in range(672)]
        results = [MetricDataResult(f"m{i}", f"agent{i}", times, [float(i)] * len(times)) for i in range(5)]
        iso8601.cache_clear()
        docs = [r.to_dict() for r in results]
        info = iso8601.cache_info()
        assert info.misses == len(times) and info.hits == 4 * len(times)
        assert all(d["timestamps"] == [iso8601(t) for t in times] for d in docs)
        assert docs[0]["timestamps"][1] == "2026-01-01T00:15:00Z"
