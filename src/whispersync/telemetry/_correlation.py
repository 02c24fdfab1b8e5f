"""Correlation ids: one id per memo, carried by every log line and span.

Resolution order follows the monitoring plan (§2): the ``X-Correlation-ID``
header, else the ``correlationId`` message attribute, else a new uuid4.
"""

from __future__ import annotations

import contextvars
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# One contextvar, read on every log line and span start (~40 ns).
_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "whispersync_correlation_id", default=None
)

# Ids arrive from outside (HTTP headers, queue attributes); anything else is
# replaced, so junk never reaches log lines, file names or query filters.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

get_correlation_id = _correlation_id.get


# A correlation id names a memo in logs and traces; it is no secret and guards nothing,
# so it comes from the random module as trace and span ids do (the OTel SDK's generator),
# not from os.urandom: uuid.uuid4() cost ~3.5 µs, this ~1.2 (one per memo; issue 15).
# The random module reseeds itself in a forked child.
_getrandbits = random.getrandbits
_V4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)  # clear the version and variant bits
_V4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, variant RFC 4122


def new_correlation_id() -> str:
    """Return a fresh correlation id: a random (version 4) UUID in its 36-character form."""
    h = "%032x" % (_getrandbits(128) & _V4_KEEP | _V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def current_correlation_id() -> str | None:
    """Return the correlation id bound in this context, if any."""
    return _correlation_id.get()


@contextmanager
def correlation_scope(correlation_id: str) -> Iterator[str]:
    """Bind *correlation_id* for logs and spans until the block exits."""
    if not isinstance(correlation_id, str) or not _VALID_ID.fullmatch(correlation_id):
        raise ValueError(f"invalid correlation id: {correlation_id!r}")
    token = _correlation_id.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation_id.reset(token)


def _valid(candidate: Any) -> str | None:
    if isinstance(candidate, str):
        candidate = candidate.strip()
        if _VALID_ID.fullmatch(candidate):
            return candidate
    return None


def resolve_correlation_id(
    header: str | None = None, attributes: Mapping[str, Any] | None = None
) -> str:
    """Pick the correlation id for a request or message, or make a new one.

    *attributes* may map ``correlationId`` to a plain string or to the SQS
    shape ``{"StringValue": ..., "DataType": "String"}``. A value that is not
    1–128 characters of ``[A-Za-z0-9._:-]`` is ignored.
    """
    found = _valid(header)
    if found is None and attributes:
        value = attributes.get("correlationId")
        if type(value) is not str and isinstance(value, Mapping):  # a str, mostly: spare the ABC check
            value = value.get("StringValue", value.get("stringValue"))
        found = _valid(value)
    return found or new_correlation_id()
