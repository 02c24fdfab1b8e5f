"""Correlation ids: one id per memo, carried by every log line and span.

Resolution order follows the monitoring plan (§2): the ``X-Correlation-ID``
header, else the ``correlationId`` message attribute, else a new uuid4.
"""

from __future__ import annotations

import contextvars
import re
import uuid
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


def new_correlation_id() -> str:
    """Return a fresh correlation id (a uuid4 string)."""
    return str(uuid.uuid4())


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
        if isinstance(value, Mapping):
            value = value.get("StringValue", value.get("stringValue"))
        found = _valid(value)
    return found or new_correlation_id()
