"""Load a dataset the way a user does, run one documented query, judge the answer.

A dataset's log groups are written as FilterLogEvents files and imported with
``import_logs`` (what `whispersync logs import FILE --log-group NAME` calls). A
query runs over the whole store, 11:00 to 15:00 UTC: the store holds only the
log groups its dataset names, as the console holds only the groups a user selects.

Values compare as CloudWatch shows them: GetQueryResults returns every value as
text, so the number 404 and the string "404" are the same answer, as are a
true comparison and 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, run_query
from whispersync.monitoring.store import TelemetryStore

from .datasets import DATASETS
from .producers import at, filter_log_events

START_MS, END_MS = at(11, 0), at(15, 0)
REL_TOLERANCE = 1e-9  # averages and quotients: a float's last bits may differ


@dataclass(frozen=True)
class Case:
    """One documented query, where it is documented, and the answer for its dataset.

    Exactly one of these says what the answer is:

    - ``columns`` and ``rows``: the answer worked out by hand (``ordered`` when the
      query sorts on values that are all distinct; ``sorted_by`` when it sorts with ties);
    - ``check``: a function that asserts on the result, for results whose exact form
      the docs leave open (a generated id, an estimate, where inserted rows end);
    - ``reason``: the query needs what only CloudWatch has; it must be refused with a
      clear InsightsQueryError;
    - ``invalid``: the docs call the query not valid; it must be refused the same way;
    - ``undetermined``: the docs' own query cannot give what its prose says, so no answer
      is fixed; it must give a result or an InsightsQueryError, nothing worse.
    """

    id: str
    doc: str
    section: str
    query: str
    data: str = "app"
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    ordered: bool = False
    sorted_by: tuple[str, bool] | None = None  # (column, descending)
    check: Callable[[dict], None] | None = None
    reason: str | None = None
    invalid: str | None = None
    undetermined: str | None = None
    # The page's placeholders and what stands for them in our data ("x.x.x.x" → the NAT's IP).
    substitutions: tuple[tuple[str, str], ...] = ()
    note: str = ""

    @property
    def text(self) -> str:
        """The query as run: the documented text with its placeholders filled in."""
        text = self.query
        for placeholder, value in self.substitutions:
            text = text.replace(placeholder, value)
        return text

    @property
    def refused(self) -> bool:
        return self.reason is not None or self.invalid is not None


@dataclass
class Outcome:
    case: Case
    ok: bool
    cause: str = ""  # why not, in a few words that group alike failures
    detail: str = ""
    result: dict | None = field(default=None, repr=False)

    def explain(self) -> str:
        note = f"\nnote: {self.case.note}" if self.case.note else ""
        return f"{self.case.id} ({self.case.doc}): {self.cause}\n{self.detail}{note}\nquery:\n{self.case.text}"


class Stores:
    """One store per dataset, filled on first use under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stores: dict[str, TelemetryStore] = {}

    def __call__(self, name: str) -> TelemetryStore:
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = load(name, self.root / name)
        return store

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()


def load(name: str, directory: Path) -> TelemetryStore:
    """A fresh store holding dataset ``name``, each log group imported from its own file."""
    directory.mkdir(parents=True, exist_ok=True)
    store = TelemetryStore(directory / "telemetry")
    for n, group in enumerate(DATASETS[name]):
        path = directory / f"group-{n}.json"
        path.write_bytes(filter_log_events(list(group.events), id_prefix=f"{name}-{n}-"))
        report = import_logs(store, path, log_group=group.name)
        if (report.imported, report.errors, report.without_timestamp) != (len(group.events), [], []):
            raise AssertionError(f"dataset {name}: importing {group.name} gave {report}")
    return store


def run_case(case: Case, store: TelemetryStore) -> Outcome:
    try:
        result = run_query(store, case.text, start_ms=START_MS, end_ms=END_MS)
    except InsightsQueryError as exc:
        if case.refused or case.undetermined:
            return Outcome(case, True, "refused", str(exc))
        return Outcome(case, False, f"InsightsQueryError: {_first_line(exc)}", str(exc))
    except Exception as exc:  # noqa: BLE001 - any other error is the engine's fault, and is reported
        return Outcome(case, False, f"engine error: {type(exc).__name__}", f"{type(exc).__name__}: {exc}")
    if case.refused:
        return Outcome(case, False, "answered where it must refuse", _shape(result), result)
    if case.undetermined:
        return Outcome(case, True, "answered", _shape(result), result)
    if case.check is not None:
        try:
            case.check(result)
        except AssertionError as exc:
            return Outcome(case, False, "check failed", f"{exc}\n{_shape(result)}", result)
        return Outcome(case, True, result=result)
    if result["columns"] != case.columns:
        return Outcome(case, False, "wrong columns", f"expected {case.columns}\n     got {result['columns']}", result)
    problem = compare_rows(result["rows"], case.rows or [], ordered=case.ordered)
    if problem is None and case.sorted_by is not None:
        problem = _check_sorted(result, *case.sorted_by)
    if problem is not None:
        return Outcome(case, False, "wrong rows", problem, result)
    return Outcome(case, True, result=result)


def same(actual: Any, expected: Any) -> bool:
    """One value equals another as CloudWatch would show both (see the module doc)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, dict) or isinstance(actual, dict):
        return (isinstance(expected, dict) and isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(same(actual[k], v) for k, v in expected.items()))
    if isinstance(expected, list) or isinstance(actual, list):
        return (isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual)
                and all(same(a, e) for a, e in zip(actual, expected, strict=True)))
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        return math.isclose(a, e, rel_tol=REL_TOLERANCE, abs_tol=1e-12)
    return actual == expected


def compare_rows(actual: list[list], expected: list[list], *, ordered: bool) -> str | None:
    """None when the rows match; otherwise what differs."""
    if len(actual) != len(expected):
        return f"expected {len(expected)} rows, got {len(actual)}\nexpected {expected}\n     got {actual}"
    if ordered:
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            if not same(a, e):
                return f"row {i}: expected {e}\n        got {a}"
        return None
    left = list(actual)
    for e in expected:
        hit = next((i for i, a in enumerate(left) if same(a, e)), None)
        if hit is None:
            return f"no row {e}\namong {actual}"
        left.pop(hit)
    return None


def _check_sorted(result: dict, column: str, descending: bool) -> str | None:
    i = result["columns"].index(column)
    values = [_number(row[i]) for row in result["rows"]]
    pairs = list(zip(values, values[1:]))
    if any(a is None or b is None or (a < b if descending else a > b) for a, b in pairs):
        return f"not sorted by {column} {'desc' if descending else 'asc'}: {values}"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _shape(result: dict) -> str:
    rows = result["rows"]
    return f"columns {result['columns']}, {len(rows)} rows: {rows[:5]}{' …' if len(rows) > 5 else ''}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
