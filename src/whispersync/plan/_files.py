"""A user's plan file: Python or TOML, adding to or replacing items of the built-in plan.

TOML uses the model's own field names:

    [[alarms]]
    name = "SlowMemos"
    namespace = "WhisperSync/Business"
    metric_name = "ProcessingDuration"
    statistic = "p99"
    period = 300
    evaluation_periods = 3
    threshold = 5000
    comparison_operator = "GreaterThanThreshold"
    priority = "P3"

Dashboards are CloudWatch dashboard bodies, widgets as CloudWatch writes them; one
named like a built-in dashboard replaces it:

    [[dashboards]]
    name = "my-errors"
    start = "-PT6H"

    [[dashboards.widgets]]
    type = "metric"
    x = 0
    y = 0
    width = 12
    height = 6

    [dashboards.widgets.properties]
    title = "Worker errors"
    period = 60
    metrics = [["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker", { stat = "Sum" }]]

A Python file defines ``PLAN`` (a :class:`Plan`) or any of ``ALARMS``,
``METRIC_FILTERS``, ``DASHBOARDS`` and ``ROUTES``. Every problem is reported at once, each with its
path (``alarms[0].threshold: must be a finite number``).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from whispersync.errors import ConfigError
from whispersync.plan._alarms import CompositeAlarm, MetricAlarm, alarm_from_dict
from whispersync.plan._metrics import MetricFilter
from whispersync.plan._plan import Plan
from whispersync.plan._slots import Baseline, CostModel, Dashboard, HealthCheck, RedriveRule, RemediationRule, Slo

MAX_PLAN_BYTES = 1024 * 1024
_MISSING_ARGUMENT = re.compile(r"missing \d+ required (?:positional|keyword-only) arguments?: (.+)$")


class PlanError(ConfigError):
    """A plan file that cannot be used; `problems` lists every one, each with its path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"plan file {source}: {len(problems)} problem(s):\n{listed}")


def load_plan_file(path: Path | str) -> Plan:
    """The plan a file declares (only its own items; layer it over the built-in plan)."""
    path = Path(path)
    data = _read(path)
    if path.suffix == ".toml":
        return plan_from_toml(data, source=str(path))
    if path.suffix == ".py":
        return _plan_from_python(path)
    raise PlanError(str(path), ["a plan file is Python (.py) or TOML (.toml)"])


def plan_from_toml(data: bytes, *, source: str = "<toml>") -> Plan:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for key, value in document.items():
        build = _SECTIONS.get(key)
        if build is None and key not in ("routes", "cost"):
            problems.append(f"{key}: unknown key; allowed: {', '.join([*_SECTIONS, 'routes', 'cost'])}")
        elif key == "routes":
            sections["routes"] = _routes(value, problems)
        elif key == "cost":
            sections["cost"] = _item(CostModel, value, "cost", problems)
        elif not isinstance(value, list):
            problems.append(f"{key}: must be an array of tables ([[{key}]])")
        else:
            built = [build(item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
            sections[key] = tuple(b for b in built if b is not None)
    if not problems:
        try:
            plan = Plan(**sections)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise PlanError(source, problems)
    return plan


def _read(path: Path) -> bytes:
    """At most MAX_PLAN_BYTES of a regular file: a device or FIFO is refused, not read."""
    try:
        info = path.stat()
    except OSError as exc:
        raise PlanError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    if not stat.S_ISREG(info.st_mode):
        raise PlanError(str(path), ["not a regular file"])
    if info.st_size > MAX_PLAN_BYTES:
        raise PlanError(str(path), [f"it is {info.st_size} bytes; the limit is {MAX_PLAN_BYTES} bytes"])
    with path.open("rb") as fh:
        data = fh.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(str(path), [f"it is over {MAX_PLAN_BYTES} bytes"])
    return data


def _item(cls: type, value: Any, where: str, problems: list[str], allowed: Iterable[str] | None = None) -> Any:
    """`cls(**value)`, or None with the problems (unknown keys, missing or bad values) recorded."""
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    allowed = set(allowed if allowed is not None else (f.name for f in fields(cls)))
    unknown = sorted(set(value) - allowed)
    for key in unknown:
        problems.append(f"{where}.{key}: unknown key; allowed: {', '.join(sorted(allowed))}")
    try:
        # Built from the known keys even when there are unknown ones, so a bad value is reported too.
        item = cls(**{k: v for k, v in value.items() if k in allowed})
        return None if unknown else item
    except TypeError as exc:
        missing = _MISSING_ARGUMENT.search(str(exc))
        names = re.findall(r"'(\w+)'", missing.group(1)) if missing else []
        problems.extend(f"{where}.{n}: is required" for n in names) if names else problems.append(f"{where}: {exc}")
    except ValueError as exc:
        problems.append(f"{where}.{exc}")
    return None


def _alarm(value: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    kind = value.get("kind", "composite" if "rule" in value else "metric")
    cls = CompositeAlarm if kind == "composite" else MetricAlarm
    allowed = {f.name for f in fields(cls)} | {"kind"}
    return _item(lambda **kw: alarm_from_dict(kw), value, where, problems, allowed)


def _routes(value: Any, problems: list[str]) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(value, Mapping) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()):
        problems.append('routes: must be a table of priority = ["channel", ...]')
        return None
    return {p: tuple(c) for p, c in value.items()}


_SECTIONS: dict[str, Callable[[Any, str, list[str]], Any]] = {
    "alarms": _alarm,
    "metric_filters": lambda v, w, p: _item(MetricFilter, v, w, p),
    "dashboards": lambda v, w, p: _item(Dashboard, v, w, p),
    "health_checks": lambda v, w, p: _item(HealthCheck, v, w, p),
    "remediation": lambda v, w, p: _item(RemediationRule, v, w, p),
    "redrive_rules": lambda v, w, p: _item(RedriveRule, v, w, p),
    "baselines": lambda v, w, p: _item(Baseline, v, w, p),
    "slos": lambda v, w, p: _item(Slo, v, w, p),
}


def _plan_from_python(path: Path) -> Plan:
    import runpy

    try:
        namespace = runpy.run_path(os.fspath(path), run_name="whispersync_plan")
    except Exception as exc:  # noqa: BLE001 - a user's file: report what broke, where
        raise PlanError(str(path), [f"{type(exc).__name__}: {exc}"]) from None
    if isinstance(namespace.get("PLAN"), Plan):
        return namespace["PLAN"]
    problems: list[str] = []
    alarms = namespace.get("ALARMS", ())
    filters = namespace.get("METRIC_FILTERS", ())
    dashboards = namespace.get("DASHBOARDS", ())
    for name, items, kinds in (("ALARMS", alarms, (MetricAlarm, CompositeAlarm)),
                               ("METRIC_FILTERS", filters, (MetricFilter,)), ("DASHBOARDS", dashboards, (Dashboard,))):
        if not isinstance(items, Iterable) or isinstance(items, (str, bytes, Mapping)):
            problems.append(f"{name} must be a list")
            continue
        problems.extend(f"{name}[{i}] is a {type(item).__name__}, not one of {', '.join(k.__name__ for k in kinds)}"
                        for i, item in enumerate(items) if not isinstance(item, kinds))
    if not any(key in namespace for key in ("PLAN", "ALARMS", "METRIC_FILTERS", "DASHBOARDS", "ROUTES")):
        problems.append("it defines none of PLAN, ALARMS, METRIC_FILTERS, DASHBOARDS, ROUTES")
    if problems:
        raise PlanError(str(path), problems)
    try:
        routes = namespace.get("ROUTES")
        return Plan(alarms=tuple(alarms), metric_filters=tuple(filters), dashboards=tuple(dashboards),
                    **({"routes": {p: tuple(c) for p, c in routes.items()}} if routes else {}))
    except (ValueError, AttributeError) as exc:
        raise PlanError(str(path), [str(exc)]) from None
