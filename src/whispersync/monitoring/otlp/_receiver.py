"""One OTLP/HTTP export request in, one answer out: what the web route calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whispersync.monitoring.otlp._decode import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    OtlpError,
    decode_request,
    encode_response,
    encode_status,
)
from whispersync.monitoring.otlp._mapping import OtlpIngest, RecordSink

# google.rpc.Code of a bad request (INVALID_ARGUMENT), for the Status body of a 4xx.
_INVALID_ARGUMENT = 3


@dataclass(frozen=True)
class OtlpAnswer:
    status: int
    content_type: str
    body: bytes


class OtlpReceiver:
    """Decodes OTLP/HTTP export requests and writes them into ``sink`` (the telemetry store)."""

    def __init__(self, sink: RecordSink, *, max_bytes: int = MAX_BODY_BYTES, **ingest_options: Any) -> None:
        self.max_bytes = max_bytes
        self._ingest = OtlpIngest(sink, **ingest_options)

    def handle(self, signal: str, body: bytes, content_type: str | None,
               content_encoding: str | None = None) -> OtlpAnswer:
        """The answer to ``POST /v1/<signal>``; never raises for a client's fault."""
        encoding = "json" if (content_type or "").split(";", 1)[0].strip().lower() == JSON else "protobuf"
        answer_type = JSON if encoding == "json" else PROTOBUF
        try:
            request = decode_request(signal, body, content_type, content_encoding, max_bytes=self.max_bytes)
        except OtlpError as exc:
            return OtlpAnswer(exc.http_status, answer_type, encode_status(encoding, _INVALID_ARGUMENT, str(exc)))
        rejected, message = self._ingest.write(signal, request)
        return OtlpAnswer(200, answer_type, encode_response(signal, encoding, rejected, message))
