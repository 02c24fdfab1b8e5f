"""WhisperSync's instrumentation API: structured logs, metrics, spans, correlation.

Build one :class:`Telemetry` around a :class:`Sink` and pass it down::

    telemetry = Telemetry(StdoutSink())
    log = telemetry.logger("whispersync.worker")
    with correlation_scope(resolve_correlation_id(attributes=msg.attributes)):
        with telemetry.tracer.span("agent_processing", parent=msg.attributes.get("traceparent")) as span:
            span.put_annotation("agent_type", "work")
            log.info("Processing transcript", transcript_key=key)
            telemetry.metrics.put("WhisperSync/Business", "TranscriptsProcessed", 1,
                                  unit=Unit.COUNT, dimensions={"AgentType": "work"})

Records are plain dicts (Powertools log keys, CloudWatch metric model, OTel
span model); tests capture them with :mod:`whispersync.telemetry.testing`.
"""

from ._correlation import (
    correlation_scope,
    current_correlation_id,
    new_correlation_id,
    resolve_correlation_id,
)
from ._emf import MAX_DIMENSION_KEY, MAX_DIMENSION_VALUE, MAX_DIMENSIONS, Unit, emf_document, parse_emf
from ._logger import Logger
from ._metrics import Metrics
from ._otlp import OtlpExporter, TeeSink
from ._redact import redact_value as redact
from ._sink import STREAMS, MemorySink, NullSink, Sink, StdoutSink
from ._telemetry import Telemetry
from ._tracer import Span, Tracer

__all__ = [
    "MAX_DIMENSION_KEY",
    "MAX_DIMENSION_VALUE",
    "MAX_DIMENSIONS",
    "STREAMS",
    "Logger",
    "MemorySink",
    "Metrics",
    "NullSink",
    "OtlpExporter",
    "Sink",
    "Span",
    "StdoutSink",
    "TeeSink",
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
]
