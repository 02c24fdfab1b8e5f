"""Billable units: what one memo (or a month of them) would use on AWS, before any price.

The sizing rules are AWS's, each cited where it is applied:
- DynamoDB item size: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  (attribute name bytes + value bytes; a number is ~1 byte per two significant digits + 1).
- DynamoDB units: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
  (writes round up to 1 KB, strongly consistent reads to 4 KB, per item; an update is sized
  at the larger of the item before and after; a read of a missing item still costs one unit).
- SQS: https://aws.amazon.com/sqs/pricing/ ("each 64 KB chunk of a payload is billed as 1 request").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Usage", "dynamodb_item_bytes", "read_units", "sqs_requests", "write_units"]


@dataclass(frozen=True)
class Usage:
    """Billable units, additive: a memo's, a day's, a month's.

    ``lambda_billed_ms`` is the sum over invocations of each one's duration rounded up
    to 1 ms; GB-seconds need the configured memory, which is configuration, not usage.
    """

    lambda_requests: int = 0
    lambda_billed_ms: int = 0
    sqs_requests: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    dynamodb_write_units: float = 0
    dynamodb_read_units: float = 0
    tts_characters: int = 0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)})

    def scaled(self, factor: int) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) * factor for f in dataclasses.fields(self)})

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def sqs_requests(payload_bytes: int, *, chunk_bytes: int = 65_536) -> int:
    """Requests one SQS call is billed as: one per started 64 KB chunk, at least one (an empty receive too)."""
    return max(1, math.ceil(payload_bytes / chunk_bytes))


def write_units(item_bytes: int, *, unit_bytes: int = 1024) -> int:
    """Write request units of one standard write: the item size rounded up to 1 KB, at least one."""
    return max(1, math.ceil(item_bytes / unit_bytes))


def read_units(item_bytes: int, *, unit_bytes: int = 4096, consistent: bool = True) -> float:
    """Read request units of one GetItem: 4 KB steps, at least one step; an eventually consistent read is half."""
    units = max(1, math.ceil(item_bytes / unit_bytes))
    return units if consistent else units / 2


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules, for plain Python values (None attributes are not stored)."""
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in item.items() if value is not None)


def _value_bytes(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float, Decimal)):
        return _number_bytes(value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, dict):
        # A map: 3 bytes of overhead, 1 more per element, plus each element's name and value.
        return 3 + sum(1 + len(str(k).encode("utf-8")) + _value_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 3 + sum(1 + _value_bytes(v) for v in value)
    return len(str(value).encode("utf-8"))


def _number_bytes(number: int | float | Decimal) -> int:
    """1 byte per two significant digits, plus 1; leading and trailing zeros are trimmed."""
    digits = Decimal(repr(number) if isinstance(number, float) else number).normalize().as_tuple().digits
    significant = len(tuple(digits)) if any(digits) else 1
    return math.ceil(significant / 2) + 1
