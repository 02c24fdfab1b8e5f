from __future__ import annotations

import math

import pytest

from whispersync.telemetry import MemorySink, NullSink, Telemetry, Unit


class TestPut:
    def test_it_records_the_cloudwatch_model(self, telemetry, sink):
        telemetry.metrics.put(
            "WhisperSync/Business", "TranscriptsProcessed", 1, unit=Unit.COUNT,
            dimensions={"AgentType": "work", "Status": "Success"},
        )
        assert sink.records["metrics"] == [
            {
                "timestamp": 1_795_787_101_123,
                "namespace": "WhisperSync/Business",
                "name": "TranscriptsProcessed",
                "unit": "Count",
                "value": 1.0,
                "dimensions": {"AgentType": "work", "Status": "Success"},
            }
        ]

    def test_defaults_are_unit_none_and_no_dimensions(self, telemetry, sink):
        telemetry.metrics.put("WhisperSync/Health", "Up", 1, timestamp_ms=5)
        (record,) = sink.records["metrics"]
        assert (record["unit"], record["dimensions"], record["timestamp"]) == ("None", {}, 5)

    def test_dimensions_are_copied(self, telemetry, sink):
        dims = {"AgentType": "work"}
        telemetry.metrics.put("N", "M", 1, dimensions=dims)
        dims["AgentType"] = "changed"
        assert sink.records["metrics"][0]["dimensions"] == {"AgentType": "work"}


class TestMisuse:
    """Misuse is a programming error: ValueError, even with telemetry off."""

    @pytest.fixture(params=["on", "off"])
    def metrics(self, request):
        return Telemetry(MemorySink() if request.param == "on" else NullSink()).metrics

    @pytest.mark.parametrize("unit", ["count", "Millis", "ms", "", "Bytes/Minute"])
    def test_unknown_units_are_rejected(self, metrics, unit):
        with pytest.raises(ValueError, match="standard unit"):
            metrics.put("N", "M", 1, unit=unit)

    def test_every_standard_unit_is_accepted(self, telemetry, sink):
        for unit in sorted(Unit.ALL):
            telemetry.metrics.put("N", "M", 1, unit=unit)
        assert len(sink.records["metrics"]) == len(Unit.ALL) == 27

    def test_at_most_30_dimensions(self, metrics):
        metrics.put("N", "M", 1, dimensions={f"D{i}": "v" for i in range(30)})
        with pytest.raises(ValueError, match="30"):
            metrics.put("N", "M", 1, dimensions={f"D{i}": "v" for i in range(31)})

    @pytest.mark.parametrize("value", [math.nan, math.inf, "1", None, True])
    def test_values_are_finite_numbers(self, metrics, value):
        with pytest.raises(ValueError):
            metrics.put("N", "M", value)

    @pytest.mark.parametrize("dimensions", [{"A": ""}, {"A": 1}, {"": "v"}, {"A": "x" * 1025}, {"M": "v"}])
    def test_dimensions_are_non_empty_strings(self, metrics, dimensions):
        with pytest.raises(ValueError):
            metrics.put("N", "M", 1, dimensions=dimensions)

    @pytest.mark.parametrize("namespace,name", [("", "M"), ("N", ""), (None, "M")])
    def test_namespace_and_name_are_required(self, metrics, namespace, name):
        with pytest.raises(ValueError):
            metrics.put(namespace, name, 1)


class TestFaults:
    def test_a_failing_sink_is_counted_not_raised(self):
        """A sink that raises never reaches the caller; each failure is one fault."""

        class Broken:
            def emit(self, stream, record):
                raise OSError("disk full")

            def flush(self):
                raise OSError("disk full")

            def close(self):
                raise OSError("disk full")

        telemetry = Telemetry(Broken())
        telemetry.metrics.put("N", "M", 1)
        telemetry.logger("t").info("x")
        with telemetry.tracer.span("s"):
            pass
        telemetry.flush()
        telemetry.close()
        assert telemetry.faults == 5


class TestStorageResolution:
    """PutMetricData's StorageResolution: 1 (high resolution) or 60 (standard, the default)."""

    def test_high_resolution_is_recorded_and_standard_is_the_default(self, telemetry, sink):
        telemetry.metrics.put("N", "Fast", 1, storage_resolution=1)
        telemetry.metrics.put("N", "Slow", 1)
        telemetry.metrics.put("N", "Slow", 1, storage_resolution=60)
        fast, *slow = sink.records["metrics"]
        assert fast["storage_resolution"] == 1
        assert all("storage_resolution" not in r for r in slow)

    @pytest.mark.parametrize("resolution", [0, 5, 30, "1", 1.0, True])
    def test_other_values_are_refused(self, telemetry, resolution):
        with pytest.raises(ValueError, match="storage_resolution"):
            telemetry.metrics.put("N", "M", 1, storage_resolution=resolution)
