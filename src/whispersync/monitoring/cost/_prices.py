"""The price table: dated, versioned list prices read from a TOML file shipped with the package.

Prices are data (``prices/<region>-<yyyy>-<mm>.toml``), so a price change is a new file and
every estimate names the table it used. A table that is missing a price, has a negative or
non-numeric one, or has no version/date/region is refused with a message naming the field.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from whispersync.errors import ConfigError

__all__ = ["DEFAULT_PRICE_TABLE", "PriceTable", "PriceTableError", "load_price_table"]

DEFAULT_PRICE_TABLE = "us-east-1-2026-12.toml"

# Every price the estimate reads, by section; a table must give them all.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "lambda": ("usd_per_million_requests", "usd_per_gb_second", "duration_rounding_ms",
               "free_requests_per_month", "free_gb_seconds_per_month"),
    "sqs": ("usd_per_million_requests", "payload_chunk_bytes", "free_requests_per_month"),
    "s3": ("usd_per_thousand_put", "usd_per_thousand_get"),
    "dynamodb": ("usd_per_million_write_units", "usd_per_million_read_units", "write_unit_bytes", "read_unit_bytes"),
    "cloudwatch": ("usd_per_alarm_month", "usd_per_dashboard_month", "usd_per_metric_month",
                   "free_alarms", "free_dashboards", "free_metrics"),
}
# Sizes and roundings must be positive (a zero would divide by zero); prices may be zero.
_POSITIVE = {"duration_rounding_ms", "payload_chunk_bytes", "write_unit_bytes", "read_unit_bytes"}


class PriceTableError(ConfigError):
    """A price table that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class PriceTable:
    """List prices of one region from one date. ``prices[service][name]`` as in the file."""

    version: str
    region: str
    effective: _dt.date
    currency: str
    prices: dict[str, dict[str, float]]
    sources: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def price(self, service: str, name: str) -> float:
        return self.prices[service][name]

    def label(self) -> str:
        """How an estimate names its prices: "us-east-1 list prices, table 2026-12.1 of 2026-12-01"."""
        return f"{self.region} list prices, table {self.version} of {self.effective.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "region": self.region, "effective": self.effective.isoformat(),
                "currency": self.currency, "sources": dict(self.sources)}


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """The table in ``path``, or the bundled default; PriceTableError says what is wrong with a bad one."""
    if path is None:
        bundled = resources.files("whispersync.monitoring.cost") / "prices" / DEFAULT_PRICE_TABLE
        where, text = str(bundled), bundled.read_text("utf-8")
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise PriceTableError(f"price table {where}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise PriceTableError(f"price table {where}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceTableError(f"price table {where}: not valid TOML ({exc})") from None
    return _parse(data, where)


def _parse(data: dict[str, Any], where: str) -> PriceTable:
    def bad(reason: str) -> PriceTableError:
        return PriceTableError(f"price table {where}: {reason}")

    for key in ("version", "region", "currency"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise bad(f"`{key}` must be a non-empty string")
    effective = data.get("effective")
    if isinstance(effective, _dt.datetime) or not isinstance(effective, _dt.date):
        raise bad("`effective` must be a date such as 2026-12-01")
    if data["currency"] != "USD":
        raise bad(f"`currency` must be USD (prices are list prices in USD), not {data['currency']!r}")
    prices: dict[str, dict[str, float]] = {}
    sources: dict[str, str] = {}
    for service, names in _REQUIRED.items():
        section = data.get(service)
        if not isinstance(section, dict):
            raise bad(f"missing section [{service}]")
        source = section.get("source")
        if not isinstance(source, str) or not source.startswith("https://"):
            raise bad(f"[{service}] needs `source`, the https URL of the pricing page the prices come from")
        sources[service] = source
        prices[service] = {}
        for name in names:
            value = section.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(f"[{service}] `{name}` must be a number, got {value!r}")
            if value < 0 or value != value or value == float("inf") or (name in _POSITIVE and value == 0):
                raise bad(f"[{service}] `{name}` must be {'> 0' if name in _POSITIVE else '>= 0'}, got {value!r}")
            prices[service][name] = float(value)
    return PriceTable(version=data["version"], region=data["region"], effective=effective,
                      currency=data["currency"], prices=prices, sources=sources, path=where)
