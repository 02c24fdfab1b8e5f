"""The public surface of whispersync.telemetry is exactly __all__, and __all__ is deliberate."""

import whispersync.telemetry as telemetry

EXPECTED = {
    "MAX_DIMENSION_KEY",
    "MAX_DIMENSION_VALUE",
    "MAX_DIMENSIONS",
    "STREAMS",
    "Logger",
    "MemorySink",
    "Metrics",
    "NullSink",
    "OtlpExporter",  # OTLP/HTTP out (issue 12): a sink that batches off the hot path
    "Sink",
    "Span",
    "StdoutSink",
    "TeeSink",  # the store and the OTLP exporter both get every record
    "Telemetry",
    "Tracer",
    "Unit",
    "correlation_scope",
    "current_correlation_id",
    "emf_document",
    "new_correlation_id",
    "parse_emf",
    "redact",
    "resolve_correlation_id",
}


def test_all_is_the_agreed_api():
    """Adding or removing a public name is a decision: update EXPECTED with it."""
    assert set(telemetry.__all__) == EXPECTED
    assert len(telemetry.__all__) == len(EXPECTED)


def test_every_exported_member_exists_and_is_defined_here():
    for name in telemetry.__all__:
        member = getattr(telemetry, name)
        if isinstance(member, (tuple, int)):  # a constant such as STREAMS: no __module__ to check
            continue
        assert member.__module__.startswith("whispersync.telemetry"), name


def test_no_other_public_names_leak():
    public = {n for n in vars(telemetry) if not n.startswith("_")}
    assert public - set(telemetry.__all__) <= {"testing"}
