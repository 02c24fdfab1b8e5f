"""OTLP in: OpenTelemetry export requests (OTLP/HTTP, protobuf or JSON) written into the
telemetry store in the shapes our own telemetry writes, so `traces search`, `logs query`,
metrics and dashboards see other services' spans, logs and metrics beside ours."""

from whispersync.monitoring.otlp._decode import (
    MAX_BODY_BYTES,
    SIGNALS,
    OtlpError,
    OtlpTooLarge,
    OtlpUnsupportedType,
    decode_request,
)
from whispersync.monitoring.otlp._mapping import OtlpIngest, unit_of
from whispersync.monitoring.otlp._receiver import OtlpAnswer, OtlpReceiver

__all__ = ["MAX_BODY_BYTES", "SIGNALS", "OtlpAnswer", "OtlpError", "OtlpIngest", "OtlpReceiver", "OtlpTooLarge",
           "OtlpUnsupportedType", "decode_request", "unit_of"]
