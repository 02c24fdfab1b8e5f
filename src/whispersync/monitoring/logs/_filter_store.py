"""Metric filters users bring: stored per log group, seen by a running server at its next flush.

A stored filter is CloudWatch's kind: it belongs to one log group and is named
within it (identity ``(logGroupName, filterName)``). It lives in SQLite
(``settings.monitoring_db``, beside the alarm store; our tables are prefixed
``metric_filter``), in WAL mode, so `whispersync filters put` in one process and
`whispersync up` in another both use it. Every write runs in one ``BEGIN IMMEDIATE``
transaction, which also checks CloudWatch's per-log-group quotas (PutMetricFilter:
"The maximum number of metric filters that can be associated with a log group is
100"; "a quota of five regular expression patterns per log group").

:meth:`MetricFilterStore.current` is what the telemetry store's writer asks at each
flush, so it must be cheap when nothing changed: it asks SQLite whether any other
connection committed to the file (``PRAGMA data_version``, which needs no read of
the tables) and only then reads the one version row that every filter write bumps;
the filters themselves are read again only when that version moved.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db
from whispersync.monitoring.logs._filter_requests import (
    MetricFilterInputError,
    check_metric_filter,
    metric_filter_from_request,
)
from whispersync.monitoring.logs._filters import parse_pattern
from whispersync.plan import MetricFilter

__all__ = ["FilterImportReport", "MetricFilterStore", "PutOutcome", "StoredFilter", "import_metric_filters"]

MAX_FILTERS_PER_LOG_GROUP = 100
MAX_REGEXES_PER_LOG_GROUP = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_filters (
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    definition BLOB NOT NULL,
    regex_count INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (log_group, name)
);
CREATE TABLE IF NOT EXISTS metric_filter_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredFilter:
    spec: MetricFilter
    created_ms: int  # DescribeMetricFilters' creationTime


@dataclass(frozen=True)
class PutOutcome:
    """What storing one filter did: ``created``, ``updated``, ``unchanged`` or ``skipped`` (with ``reason``)."""

    spec: MetricFilter
    status: str
    reason: str | None = None


class MetricFilterStore:
    """The stored metric filters. Opening it touches nothing: the file is opened (and its
    tables created) by the first call that needs it, so a process that never writes a log
    line never opens it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connections = sqlite_db.ThreadConnections(self.path, timeout=30, setup=self._setup)
        self._local = threading.local()  # per thread: the (connection, data_version, total_changes) last seen
        self._lock = threading.Lock()
        self._cached: tuple[MetricFilter, ...] = ()
        self._cached_version: int | None = None

    def _setup(self, con: sqlite3.Connection) -> None:
        con.executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    # -- reading

    def current(self) -> tuple[MetricFilter, ...]:
        """Every stored filter; the same tuple object while nothing changed.

        Cheap when nothing changed (one pragma). If the file cannot be read, the filters
        last read are kept: a broken monitoring file must not stop the plan's filters.
        """
        try:
            con = self._con()
            seen = (id(con), con.execute("PRAGMA data_version").fetchone()[0], con.total_changes)
            if getattr(self._local, "seen", None) == seen and self._cached_version is not None:
                return self._cached
            con.execute("BEGIN")  # one snapshot for the version and the rows it stands for
            try:
                version = _version(con)
                if version != self._cached_version:
                    rows = con.execute("SELECT definition FROM metric_filters ORDER BY log_group, name").fetchall()
                    with self._lock:
                        self._cached = tuple(MetricFilter.from_dict(orjson.loads(d)) for (d,) in rows)
                        self._cached_version = version
            finally:
                con.execute("COMMIT")
            self._local.seen = seen
        except sqlite3.Error:
            pass
        return self._cached

    def stored(self, log_group: str | None = None) -> list[StoredFilter]:
        """The stored filters (of one log group), ordered by log group and name."""
        sql, params = "SELECT definition, created_ms FROM metric_filters", ()
        if log_group is not None:
            sql, params = sql + " WHERE log_group = ?", (log_group,)
        rows = self._con().execute(sql + " ORDER BY log_group, name", params).fetchall()
        return [StoredFilter(MetricFilter.from_dict(orjson.loads(d)), created) for d, created in rows]

    # -- writing

    def put(self, spec: MetricFilter, *, now_ms: int | None = None) -> PutOutcome:
        """Create or replace one filter (checked; see :meth:`put_all`)."""
        return self.put_all([spec], now_ms=now_ms)[0]

    def put_all(self, specs: Sequence[MetricFilter], *, dry_run: bool = False,
                now_ms: int | None = None) -> list[PutOutcome]:
        """Create or replace each filter, in order, in one transaction; one outcome each.

        A filter that is not valid, or that would take its log group past CloudWatch's
        quotas, is ``skipped`` with the reason; the others are stored. A filter equal to
        the stored one is ``unchanged`` (it keeps its creation time). With ``dry_run``
        nothing is stored: the outcomes say what would have happened.
        """
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        outcomes: list[PutOutcome] = []
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            for spec in specs:
                outcomes.append(self._put_one(con, spec, now_ms))
            if any(o.status in ("created", "updated") for o in outcomes):
                con.execute("INSERT INTO metric_filter_version (id, version) VALUES (1, 1)"
                            " ON CONFLICT (id) DO UPDATE SET version = version + 1")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("ROLLBACK" if dry_run else "COMMIT")
        return outcomes

    def _put_one(self, con: sqlite3.Connection, spec: MetricFilter, now_ms: int) -> PutOutcome:
        try:
            check_metric_filter(spec)
        except MetricFilterInputError as exc:
            return PutOutcome(spec, "skipped", str(exc))
        definition = spec.to_dict()
        row = con.execute("SELECT definition FROM metric_filters WHERE log_group = ? AND name = ?",
                          (spec.log_group, spec.name)).fetchone()
        if row is not None and orjson.loads(row[0]) == definition:
            return PutOutcome(spec, "unchanged")
        others, regexes = con.execute(
            "SELECT count(*), coalesce(sum(regex_count), 0) FROM metric_filters WHERE log_group = ? AND name != ?",
            (spec.log_group, spec.name)).fetchone()
        if others + 1 > MAX_FILTERS_PER_LOG_GROUP:
            return PutOutcome(spec, "skipped", f"log group {spec.log_group} already has {others} metric filters;"
                                               f" CloudWatch allows {MAX_FILTERS_PER_LOG_GROUP} per log group")
        regex_count = parse_pattern(spec.pattern).regex_count
        if regex_count and regexes + regex_count > MAX_REGEXES_PER_LOG_GROUP:
            return PutOutcome(spec, "skipped", f"filterPattern: its {regex_count} regular expression(s) would give log"
                                               f" group {spec.log_group} {regexes + regex_count}; CloudWatch allows"
                                               f" {MAX_REGEXES_PER_LOG_GROUP} per log group")
        if row is None:
            con.execute("INSERT INTO metric_filters VALUES (?, ?, ?, ?, ?, ?)",
                        (spec.log_group, spec.name, orjson.dumps(definition), regex_count, now_ms, now_ms))
            return PutOutcome(spec, "created")
        con.execute("UPDATE metric_filters SET definition = ?, regex_count = ?, updated_ms = ?"
                    " WHERE log_group = ? AND name = ?",
                    (orjson.dumps(definition), regex_count, now_ms, spec.log_group, spec.name))
        return PutOutcome(spec, "updated")

    def delete(self, log_group: str, name: str) -> bool:
        """Delete one stored filter; False when there was none."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            deleted = con.execute("DELETE FROM metric_filters WHERE log_group = ? AND name = ?",
                                  (log_group, name)).rowcount > 0
            if deleted:
                con.execute("INSERT INTO metric_filter_version (id, version) VALUES (1, 1)"
                            " ON CONFLICT (id) DO UPDATE SET version = version + 1")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return deleted


def _version(con: sqlite3.Connection) -> int:
    return con.execute("SELECT coalesce(max(version), 0) FROM metric_filter_version").fetchone()[0]


@dataclass
class FilterImportReport:
    """What `import_metric_filters` did (or, in a dry run, would do) with each filter."""

    created: list[MetricFilter] = field(default_factory=list)
    updated: list[MetricFilter] = field(default_factory=list)
    unchanged: list[MetricFilter] = field(default_factory=list)
    # (position in metricFilters, log group, filter name, reason); names may be None in a broken item
    skipped: list[tuple[int, str | None, str | None, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def ids(specs: list[MetricFilter]) -> list[dict[str, Any]]:
            return [{"log_group": s.log_group, "name": s.name} for s in specs]

        return {"created": ids(self.created), "updated": ids(self.updated), "unchanged": ids(self.unchanged),
                "skipped": [{"index": i, "log_group": g, "name": n, "reason": r} for i, g, n, r in self.skipped]}


def import_metric_filters(store: MetricFilterStore, document: Any, *, log_group: str | None = None,
                          dry_run: bool = False) -> FilterImportReport:
    """Store the filters of `aws logs describe-metric-filters` output (``{"metricFilters": [...]}``).

    Each filter is checked on its own: one that cannot be used (a pattern our engine
    cannot parse, a CloudWatch limit, a field we cannot honour) is skipped with the
    reason and the others are stored. ``log_group`` is the group of filters that name
    none. Importing the same document again changes nothing (all ``unchanged``).
    """
    if not isinstance(document, dict) or not isinstance(document.get("metricFilters"), list):
        raise MetricFilterInputError('expected the output of `aws logs describe-metric-filters`:'
                                     ' {"metricFilters": [...]}')
    report = FilterImportReport()
    valid: list[tuple[int, MetricFilter]] = []
    seen: dict[tuple[str | None, str], int] = {}
    for index, item in enumerate(document["metricFilters"]):
        name = item.get("filterName") if isinstance(item, dict) else None
        group = (item.get("logGroupName") if isinstance(item, dict) else None) or log_group
        try:
            spec = metric_filter_from_request(item, described=True, log_group=log_group)
        except MetricFilterInputError as exc:
            report.skipped.append((index, _text_or_none(group), _text_or_none(name), str(exc)))
            continue
        key = (spec.log_group, spec.name)
        if key in seen:
            report.skipped.append((index, spec.log_group, spec.name, f"the same filter as metricFilters[{seen[key]}]"
                                                                     " (a log group's filter names are unique)"))
            continue
        seen[key] = index
        valid.append((index, spec))
    outcomes = store.put_all([spec for _, spec in valid], dry_run=dry_run)
    for (index, spec), outcome in zip(valid, outcomes):
        if outcome.status == "skipped":
            report.skipped.append((index, spec.log_group, spec.name, outcome.reason or ""))
        else:
            getattr(report, outcome.status).append(spec)
    report.skipped.sort()
    return report


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
