"""Metric series decoded once and kept in memory: the fast path of metric statistics.

Why: a metric query asks for a few series (one function's ``Invocations``) out of a
day file holding every series of the day (200 x 1,440 rows). DuckDB answered it by
scanning and aggregating the files on every call, 40-130 ms for one series over 24 h
(benchmarks/metrics_query.py), most of it the scan, where Prometheus answers in ~15 ms.
Compacted files never change, so the rows of a series in a file only need reading once.

Design:

* ``_File``: per live file (Parquet or still-open JSONL) and per metric key asked for,
  the rows of that key, one ``_Run`` per unit, sorted by time, as numpy arrays. A file
  is known by its path and identity (inode, size, mtime): compaction, merging and
  retention replace or delete files, and an appended segment grows, so a changed file
  is simply another entry and stale entries age out of the LRU. Keys are loaded on
  first use, all the missing keys of a query in one filtered statement per file, from
  exactly the SELECT the SQL path reads (``_schema.from_parquet`` / ``from_jsonl``), so
  both paths see the same typed columns. Compaction sorts metric files by series, in
  small row groups (``_schema.COMPACTED_ORDER``), so that statement reads only the row
  groups of the keys asked, not the whole day. Files whose time range (Parquet footer
  statistics) misses the query are not read at all.
* ``statistics``: the statistic per bucket in numpy, with the SQL path's semantics
  (``_store._grouped_statistics_sql``): buckets ``[t, t + period)`` from the origin,
  standard-resolution points at the start of their minute below 60 s periods, one
  series per unit, statistic sets counted as SampleCount samples, and CloudWatch's
  nearest-rank percentile (the ``ceil(p/100 * n)``-th sorted sample, rank computed
  exactly as the SQL's DECIMAL arithmetic does; buckets with a negative value or a
  set that is not SampleCount copies of one value are omitted).
* Only Sum, Average, Minimum, Maximum, SampleCount and pNN take this path; trimmed
  statistics (TM, WM, TC, TS, PR) and series holding anything unusual (a non-finite
  value, an incomplete statistic set, a unit that is not a CloudWatch unit) answer
  through SQL, as does everything when numpy is not installed: ``statistics``
  returns None and the caller runs the SQL.
* Memory is bounded: least recently used files are dropped past ``_MAX_BYTES``.

Sums are added in time order, as DuckDB's sequential sum does; with values that are
not exact in binary floating point the last bit may differ from DuckDB's parallel sum
(as DuckDB's own answers do between runs).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from whispersync.errors import QueryTimeout
from whispersync.monitoring.store import _schema, _segments
from whispersync.plan import MetricStat, check_period

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is optional; the SQL path answers without it
    np = None  # type: ignore[assignment]

__all__ = ["clear", "statistics", "supported"]

# Decoded series kept at most (bytes of arrays); a week of 200 one-minute series is ~35 MB.
_MAX_BYTES = 256 * 1024 * 1024
_SIMPLE = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
# Keys loaded per statement: bounds the statement's parameter list.
_KEYS_PER_LOAD = 500

Key = tuple[str, str, str]  # metric_key: (namespace, name, dims)
# One unit's series as the store's callers take it: (unit, bucket starts, values, data points).
UnitSeries = tuple[str, list[int], list[float], int]


def supported(statistic: str) -> bool:
    """Whether ``statistic`` (validated) is answered here rather than by SQL."""
    if np is None:
        return False
    kind = MetricStat.parse_statistic(statistic)[0]
    return kind in _SIMPLE or kind == "p"


@dataclass
class _Run:
    """One key's rows of one unit in one file, ascending by ``ts``.

    ``sets`` is None when no row is a statistic set, else (count, sum, min, max) with
    NaN on raw points; ``hires`` is None when no row has StorageResolution 1.
    """

    ts: Any
    value: Any
    sets: tuple[Any, Any, Any, Any] | None
    hires: Any

    def nbytes(self) -> int:
        arrays = [self.ts, self.value, *(self.sets or ()), *([self.hires] if self.hires is not None else [])]
        return sum(a.nbytes for a in arrays)


# A key's runs by unit in one file; None: the key holds rows this path does not
# model (see the module docstring) and the SQL path must answer for it.
_Runs = dict[str, _Run] | None


@dataclass
class _File:
    identity: tuple[int, int, int]
    ts_range: tuple[int, int] | None  # min and max ts from the footer; None: unknown
    keys: dict[Key, _Runs] = field(default_factory=dict)
    nbytes: int = 0
    text: bytes | None = None  # a JSONL file's bytes, to skip keys it cannot hold


_CACHE: collections.OrderedDict[str, _File] = collections.OrderedDict()
_LOCK = threading.Lock()
_TOTAL = [0]


def clear() -> None:
    """Forget every decoded series (tests; memory pressure)."""
    with _LOCK:
        _CACHE.clear()
        _TOTAL[0] = 0


def statistics(
    *,
    keys: Iterable[Key],
    statistic: str,
    period: int,
    start_ms: int,
    end_ms: int,
    unit: str | None,
    origin_ms: int | None,
    parquet: list[str],
    jsonl: list[str],
    cursor: Callable[[], duckdb.DuckDBPyConnection],
    deadline: float | None,
) -> dict[Key, list[UnitSeries]] | None:
    """Each key's series per unit, as ``_store._grouped_statistics`` builds them from SQL rows.

    ``parquet`` and ``jsonl`` are the files live now (``_segments.live_files``).
    Returns None when a key holds rows only SQL answers for. A file that vanished
    raises FileNotFoundError or ``duckdb.IOException``: list the files again.
    """
    keys = sorted(set(keys))
    files: list[_File] = []
    for path, is_parquet in [(p, True) for p in parquet] + [(p, False) for p in jsonl]:
        if deadline is not None and time.monotonic() > deadline:
            raise QueryTimeout("the query ran past its time budget: narrow the time range or simplify it")
        entry = _entry(path, is_parquet, cursor)
        if entry.ts_range is not None and (entry.ts_range[1] < start_ms or entry.ts_range[0] >= end_ms):
            continue
        _load(path, is_parquet, entry, keys, cursor)
        files.append(entry)
    kind, _, upper = MetricStat.parse_statistic(statistic)
    period_ms = check_period(period) * 1000
    origin = int(origin_ms or 0)
    out: dict[Key, list[UnitSeries]] = {}
    for key in keys:
        per_unit: dict[str, list[_Run]] = {}
        for entry in files:
            runs = entry.keys.get(key)
            if runs is None and key in entry.keys:
                return None
            for u, run in (runs or {}).items():
                if unit is None or u == unit:
                    per_unit.setdefault(u, []).append(run)
        series = []
        for u in sorted(per_unit):
            one = _bucketed(per_unit[u], kind, upper, period_ms, origin, start_ms, end_ms)
            if one is not None:
                series.append((u, *one))
        if series:
            out[key] = series
    return out


# ----------------------------------------------------------------------- reading


def _entry(path: str, is_parquet: bool, cursor: Callable[[], duckdb.DuckDBPyConnection]) -> _File:
    st = os.stat(path)  # before reading: a file growing meanwhile is read again next time
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _LOCK:
        entry = _CACHE.get(path)
        if entry is not None and entry.identity == identity:
            _CACHE.move_to_end(path)
            return entry
    if is_parquet:
        ts_range = _footer_range(path)
        text = None
    else:
        ts_range = None
        with open(path, "rb") as fh:
            text = fh.read(st.st_size)
    entry = _File(identity, ts_range, text=text)
    with _LOCK:
        old = _CACHE.pop(path, None)
        if old is not None:
            _TOTAL[0] -= old.nbytes
        _CACHE[path] = entry
    _account(path, entry, len(text or b""))
    return entry


def _footer_range(path: str) -> tuple[int, int] | None:
    """The file's min and max ``ts`` (epoch ms) from its row-group statistics, if every row group has them."""
    found = _segments.parquet_ts_range(path)  # epoch microseconds, cached per file
    return None if found is None else (found[0] // 1000, found[1] // 1000)


def _units() -> list[str]:
    from whispersync.telemetry import Unit

    return sorted(Unit.ALL | {"None"})


def _load(path: str, is_parquet: bool, entry: _File, keys: list[Key],
          cursor: Callable[[], duckdb.DuckDBPyConnection]) -> None:
    """Read the rows of the ``keys`` not yet in ``entry`` from the file, one statement per batch."""
    missing = [k for k in keys if k not in entry.keys]
    if entry.text is not None:
        # Our writers write JSONL with orjson, which escapes only '"', '\' and control
        # characters: a namespace or name whose text is not in the file has no rows here.
        def may_hold(key: Key) -> bool:
            return all(_json_text(part) in entry.text for part in key[:2])  # type: ignore[operator]
        for key in [k for k in missing if not may_hold(k)]:
            entry.keys[key] = {}
        missing = [k for k in missing if k not in entry.keys]
    for i in range(0, len(missing), _KEYS_PER_LOAD):
        batch = missing[i:i + _KEYS_PER_LOAD]
        found = _read(path, is_parquet, batch, cursor)
        added = 0
        for key in batch:
            runs = found.get(key, {})
            entry.keys[key] = runs
            added += sum(run.nbytes() for run in runs.values()) if runs else 0
        _account(path, entry, added)


def _json_text(text: str) -> bytes:
    import orjson

    return orjson.dumps(text)[1:-1]


def _account(path: str, entry: _File, added: int) -> None:
    with _LOCK:
        if _CACHE.get(path) is not entry:
            return  # dropped meanwhile: its arrays go when the query holding them ends
        entry.nbytes += added
        _TOTAL[0] += added
        while _TOTAL[0] > _MAX_BYTES and len(_CACHE) > 1:
            _, old = _CACHE.popitem(last=False)
            _TOTAL[0] -= old.nbytes


def _read(path: str, is_parquet: bool, keys: list[Key],
          cursor: Callable[[], duckdb.DuckDBPyConnection]) -> dict[Key, _Runs]:
    source = (_schema.from_parquet if is_parquet else _schema.from_jsonl)("metrics", [path])
    units = _units()
    values = ", ".join("(?, ?, ?, ?)" for _ in keys)
    # The IN lists let DuckDB skip row groups by their statistics; the join keeps exact keys.
    sql = f"""
        SELECT k.id, coalesce(list_position(?, coalesce(d.unit, 'None')), 0) AS u, d.ts,
               d.value, d.set_count, d.set_sum, d.set_min, d.set_max,
               coalesce(d.storage_resolution = 1, false) AS hires
        FROM ({source}) AS d
        JOIN (VALUES {values}) AS k(id, namespace, name, dims)
          ON d.namespace = k.namespace AND d.name = k.name AND d.dims = k.dims
        WHERE d.ts IS NOT NULL AND (d.value IS NOT NULL OR d.set_count IS NOT NULL)
          AND d.namespace IN ({', '.join('?' * len({k[0] for k in keys}))})
          AND d.name IN ({', '.join('?' * len({k[1] for k in keys}))})
          AND d.dims IN ({', '.join('?' * len({k[2] for k in keys}))})
    """
    params: list[Any] = [units]
    for i, key in enumerate(keys):
        params += [i, *key]
    for part in range(3):
        params += sorted({k[part] for k in keys})
    con = cursor()
    try:
        cols = con.execute(sql, params).fetchnumpy()
    finally:
        con.close()
    ids = np.asarray(cols["id"], dtype=np.int64)
    if not len(ids):
        return {}
    u = np.asarray(np.ma.filled(cols["u"], 0), dtype=np.int64)
    ts = np.asarray(cols["ts"], dtype=np.int64)
    order = np.lexsort((ts, u, ids))
    ids, u, ts = ids[order], u[order], ts[order]
    value, count, total, low, high = (
        np.asarray(np.ma.filled(np.ma.asarray(cols[c], dtype=np.float64), np.nan), dtype=np.float64)[order]
        for c in ("value", "set_count", "set_sum", "set_min", "set_max"))
    hires = np.asarray(np.ma.filled(cols["hires"], False), dtype=bool)[order]
    starts = np.flatnonzero(np.r_[True, (ids[1:] != ids[:-1]) | (u[1:] != u[:-1])])
    ends = np.r_[starts[1:], len(ids)]
    out: dict[Key, _Runs] = {}
    for s, e in zip(starts.tolist(), ends.tolist()):
        key = keys[int(ids[s])]
        if out.get(key, {}) is None:
            continue
        is_set = ~np.isnan(count[s:e])
        raw = ~is_set
        regular = (
            int(u[s]) != 0
            and np.isfinite(value[s:e][raw]).all()
            and (count[s:e][is_set] > 0).all()
            and all(np.isfinite(a[s:e][is_set]).all() for a in (count, total, low, high))
        )
        if not regular:
            out[key] = None
            continue
        any_set = bool(is_set.any())
        run = _Run(
            ts=ts[s:e].copy(),
            value=value[s:e].copy(),
            sets=tuple(a[s:e].copy() for a in (count, total, low, high)) if any_set else None,  # type: ignore[arg-type]
            hires=hires[s:e].copy() if hires[s:e].any() else None,
        )
        out.setdefault(key, {})[units[int(u[s]) - 1]] = run  # type: ignore[index]
    return out


# -------------------------------------------------------------------- statistics


def _bucketed(runs: list[_Run], kind: str, upper: Any, period_ms: int, origin: int,
              start_ms: int, end_ms: int) -> tuple[list[int], list[float], int] | None:
    """(bucket starts, values, data points) of one unit's runs, or None when no bucket has a value."""
    parts = []
    for run in runs:
        lo, hi = np.searchsorted(run.ts, [start_ms, end_ms], side="left")
        if hi > lo:
            parts.append((run, lo, hi))
    if not parts:
        return None
    ts = np.concatenate([r.ts[lo:hi] for r, lo, hi in parts])
    value = np.concatenate([r.value[lo:hi] for r, lo, hi in parts])
    has_sets = any(r.sets is not None for r, _, _ in parts)
    if has_sets:
        nan = np.full(len(ts), np.nan)
        count, total, low, high = (
            np.concatenate([r.sets[j][lo:hi] if r.sets is not None else nan[: hi - lo] for r, lo, hi in parts])
            for j in range(4))
    if period_ms < 60_000:
        # Standard-resolution points count at the start of their minute (see the SQL).
        hires = np.concatenate([r.hires[lo:hi] if r.hires is not None else np.zeros(hi - lo, bool)
                                for r, lo, hi in parts])
        ts = np.where(hires, ts, ts // 60_000 * 60_000)
    bucket = (ts - origin) // period_ms * period_ms + origin
    if len(parts) > 1 or (len(bucket) > 1 and (np.diff(bucket) < 0).any()):
        order = np.argsort(bucket, kind="stable")
        bucket, value = bucket[order], value[order]
        if has_sets:
            count, total, low, high = count[order], total[order], low[order], high[order]
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    points = np.diff(np.r_[starts, len(bucket)])
    if has_sets:
        is_set = ~np.isnan(count)
        x_sum = np.where(is_set, total, value)
        x_count = np.where(is_set, count, 1.0)
        x_min = np.where(is_set, low, value)
        x_max = np.where(is_set, high, value)
    else:
        is_set = None
        x_sum = x_min = x_max = value
        x_count = None
    keep = None
    if kind == "Sum":
        out = np.add.reduceat(x_sum, starts)
    elif kind == "Minimum":
        out = np.minimum.reduceat(x_min, starts)
    elif kind == "Maximum":
        out = np.maximum.reduceat(x_max, starts)
    elif kind in ("SampleCount", "Average"):
        n = np.add.reduceat(x_count, starts) if x_count is not None else points.astype(np.float64)
        out = n if kind == "SampleCount" else np.add.reduceat(x_sum, starts) / n
    else:
        out, keep = _percentile(bucket, starts, points, value, is_set, x_min,
                                count if has_sets else None, low if has_sets else None,
                                high if has_sets else None, upper[0])
    buckets = bucket[starts]
    if keep is not None:
        buckets, out, points = buckets[keep], out[keep], points[keep]
    if not len(buckets):
        return None
    return buckets.tolist(), out.tolist(), int(points.sum())


def _percentile(bucket: Any, starts: Any, points: Any, value: Any, is_set: Any, x_min: Any,
                count: Any, low: Any, high: Any, percent: float) -> tuple[Any, Any]:
    """Nearest-rank pNN per bucket, and which buckets have one (see ``_sample_statistic``)."""
    # Percentiles need raw samples: a statistic set counts only as SampleCount copies of
    # its Minimum when that is what it is (SampleCount 1, or Minimum = Maximum), and
    # "are not available for metrics when any of the metric values are negative".
    nonneg = np.minimum.reduceat(x_min, starts) >= 0
    if is_set is None:
        keep = nonneg
        sample, weight = value, np.ones(len(value), np.int64)
    else:
        ok = ~is_set | (count == 1) | (low == high)
        keep = nonneg & np.logical_and.reduceat(ok, starts)
        sample = np.where(is_set, low, value)
        weight = np.where(is_set, np.ceil(np.where(is_set, count, 1.0)), 1.0).astype(np.int64)
    # Sorted by bucket, then by value within it; weights count repeated samples.
    order = np.lexsort((sample, bucket))
    sample, weight = sample[order], weight[order]
    cumulative = np.cumsum(weight)
    before = np.r_[0, cumulative[:-1]][starts]
    n = np.add.reduceat(weight, starts)
    # rank = max(1, ceil(p/100 * n)) with p as the SQL's DECIMAL(28, 10): exact integers.
    scaled = int(Decimal(f"{percent:.10f}").scaleb(10))
    if int(n.max()) < 2**63 // max(scaled, 1):
        rank = -((-scaled * n) // 10**12)
    else:
        rank = np.array([-((-scaled * int(c)) // 10**12) for c in n], dtype=np.int64)
    rank = np.maximum(rank, 1)
    at = np.searchsorted(cumulative, before + rank, side="left")
    return sample[np.minimum(at, len(sample) - 1)], keep
