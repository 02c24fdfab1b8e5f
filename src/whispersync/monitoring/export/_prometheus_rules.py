"""The plan's alarms as a Prometheus alerting-rule file (``promtool check rules`` format).

Every plan alarm becomes one alerting rule; none is dropped. A metric alarm's CloudWatch
semantics are carried over as closely as PromQL allows, and each rule says where it differs in
its ``semantics`` annotation (the rule-file format: prometheus/docs configuration/alerting_rules.md,
recording_rules.md). What cannot be expressed at all (a statistic a counter does not keep, a
metric-math function without a PromQL equivalent, ``AT_LEAST`` in a composite rule) becomes a
rule that never fires and whose ``untranslated`` annotation says why.

How a metric alarm maps (names from ``_prometheus_names``):

* a period's datapoint is the statistic over the ``[P]`` window ending at a multiple of P:
  ``sum(increase(counter_total{...}[P]))`` for a Sum of a counter, ``max(max_over_time(gauge
  [P-1s] offset 1s))`` for a Maximum of a gauge (the window ``[t-P, t)``, as CloudWatch's
  period), ``histogram_quantile`` over the buckets for a percentile of a duration;
* "M out of N" is ``count_over_time((datapoint OP threshold)[N*P-1s:P]) >= M``: the subquery
  evaluates the comparison at the last N multiples of P, i.e. on the last N complete periods;
* treat-missing-data: ``notBreaching`` and ``ignore`` count only datapoints that breach;
  ``breaching`` adds the missing ones (N minus the datapoints present); ``missing`` fires when
  M of N breach, or all present ones do when fewer than M are present (CloudWatch's "as few
  missing datapoints as possible"), and never with no datapoint at all.

Where CloudWatch looks back N + 2 periods for datapoints, keeps an ``ignore`` alarm's state
through a gap, or has an INSUFFICIENT_DATA state, Prometheus has only "firing" or not: the
annotations say so. Composite alarms become rules over ``ALERTS{alertname=...,
alertstate="firing"}``. Priorities become a ``severity`` label (P1 critical, P2 error, P3
warning, P4 info) beside ``priority``; the description is the ``description`` annotation; a
``runbook_url`` tag becomes the ``runbook_url`` annotation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from whispersync.monitoring.export._prometheus_names import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    PrometheusMetric,
    label_name,
    prometheus_metric,
)
from whispersync.plan import CompositeAlarm, MetricAlarm, MetricStat, Plan

__all__ = ["COMPOSITE_GROUP_NAME", "GROUP_NAME", "SEVERITIES", "prometheus_rules", "rules_yaml"]

GROUP_NAME = "whispersync-alarms"
COMPOSITE_GROUP_NAME = "whispersync-composite-alarms"
SEVERITIES: Mapping[str, str] = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
_OPERATORS = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">",
              "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}
_NEVER = "vector(1) == 0"  # an expression with no result: the rule never fires
_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d+)?)$")


class Untranslatable(Exception):
    """What a rule cannot express, in words for its annotation."""


@dataclass
class _Datapoints:
    """A per-period datapoint as PromQL (a vector without labels), and notes on how it differs."""

    expr: str
    notes: list[str]


def prometheus_rules(plan: Plan) -> dict[str, Any]:
    """The rule file as a document: ``{"groups": [...]}``, metric alarms first, then composites."""
    metric_rules = [_metric_rule(a) for a in plan.alarms if isinstance(a, MetricAlarm)]
    composite_rules = [_composite_rule(a) for a in plan.alarms if isinstance(a, CompositeAlarm)]
    groups = [{"name": GROUP_NAME, "interval": "1m", "rules": metric_rules}]
    if composite_rules:
        # Their own group, after the metric alarms': they read the ALERTS series those write.
        groups.append({"name": COMPOSITE_GROUP_NAME, "interval": "1m", "rules": composite_rules})
    return {"groups": groups}


# ---------------------------------------------------------------------- metric alarms


def _metric_rule(alarm: MetricAlarm) -> dict[str, Any]:
    notes: list[str] = []
    try:
        if alarm.threshold_metric_id is not None:
            raise Untranslatable("an anomaly detection band (ThresholdMetricId) is a model, not a threshold")
        datapoint = _math(alarm) if alarm.metrics else _stat(alarm.request, scale_to_cloudwatch=False)
        notes += datapoint.notes
        threshold = float(alarm.threshold)
        if not alarm.metrics and alarm.statistic != "SampleCount":  # a count has no unit to convert
            threshold *= prometheus_metric(alarm.namespace or "", alarm.metric_name or "", alarm.unit or "None").scale
        expr = _m_of_n(alarm, datapoint.expr, threshold, notes)
        untranslated = None
    except Untranslatable as exc:
        expr, untranslated = _NEVER, str(exc)
    annotations = _annotations(alarm, _cloudwatch_summary(alarm))
    if untranslated:
        annotations["untranslated"] = f"This alarm has no PromQL equivalent, so this rule never fires: {untranslated}"
    annotations["semantics"] = " ".join(notes) if not untranslated else "See untranslated."
    return {"alert": alarm.name, "expr": expr, "labels": _labels(alarm), "annotations": annotations}


def _m_of_n(alarm: MetricAlarm, datapoint: str, threshold: float, notes: list[str]) -> str:
    n, m, period = alarm.evaluation_periods, alarm.m, alarm.period
    window = f"[{n * period - 1}s:{period}s]"
    comparison = f"({datapoint}) {_OPERATORS[alarm.comparison_operator]} {_number(threshold)}"
    breaching = f"(count_over_time(({comparison}){window}) or vector(0))"
    present = f"(count_over_time(({datapoint}){window}) or vector(0))"
    notes.append(f"{m} of the last {n} periods of {period} s must breach; each period is evaluated at a multiple of"
                 f" {period} s (the subquery {window}).")
    treat = alarm.treat_missing_data
    if treat in ("notBreaching", "ignore"):
        if treat == "ignore":
            notes.append("treat_missing_data=ignore: missing periods do not count, but Prometheus cannot keep the"
                         " previous state through a gap; with no data the alert resolves.")
        else:
            notes.append("treat_missing_data=notBreaching: missing periods do not count towards M.")
        return f"{breaching} >= {m}"
    if treat == "breaching":
        notes.append("treat_missing_data=breaching: each of the N periods without a datapoint counts as breaching.")
        return f"{breaching} + ({n} - {present}) >= {m}"
    notes.append("treat_missing_data=missing: with fewer than N datapoints, all present ones must breach"
                 " (at most M); with none the alert does not fire (CloudWatch: INSUFFICIENT_DATA). CloudWatch looks"
                 " back N + 2 periods for datapoints, this rule only N.")
    return (f"{breaching} >= {m} or ({breaching} == {present} and {present} > 0)" if m > 1
            else f"{breaching} >= 1")


def _selector(prom: PrometheusMetric, dimensions: Mapping[str, str], suffix: str = "") -> str:
    matchers = ", ".join(f"{label_name(d)}={_string(v)}" for d, v in sorted(dimensions.items()))
    return f"{prom.name}{suffix}{{{matchers}}}" if matchers else f"{prom.name}{suffix}"


def _stat(stat: MetricStat, *, scale_to_cloudwatch: bool) -> _Datapoints:
    """One statistic of one metric per period, as a vector without labels."""
    prom = prometheus_metric(stat.namespace, stat.name, stat.unit or "None")
    p, statistic = stat.period, stat.statistic
    notes: list[str] = []
    percentile = _PERCENTILE.match(statistic or "")
    where = f"{stat.namespace} {stat.name}"
    if prom.kind == COUNTER:
        if statistic != "Sum":
            raise Untranslatable(f"{statistic} of {where}: Prometheus keeps a running total of this counter, not"
                                 " single datapoints, so only Sum can be computed.")
        expr = f"sum(increase({_selector(prom, stat.dimensions)}[{p}s]))"
        notes.append("Sum is the counter's increase over the period (a restart of the process is handled;"
                     " increase() may extrapolate a fraction when scrapes do not line up with the period).")
    elif prom.kind == GAUGE:
        window = f"{_selector(prom, stat.dimensions)}[{p - 1}s] offset 1s" if p > 1 else \
            f"{_selector(prom, stat.dimensions)}[{p}s]"
        functions = {"Maximum": "max(max_over_time", "Minimum": "min(min_over_time",
                     "Average": "avg(avg_over_time", "Sum": "sum(sum_over_time", "SampleCount": "sum(count_over_time"}
        if statistic in functions:
            expr = f"{functions[statistic]}({window}))"
        elif percentile:
            expr = f"max(quantile_over_time({_number(float(percentile.group(1)) / 100)}, {window}))"
        else:
            raise Untranslatable(f"statistic {statistic} of {where} has no PromQL counterpart.")
        notes.append(f"{statistic} is taken over the scraped samples of the gauge (its last value at each scrape),"
                     " not over every datapoint published.")
    elif prom.kind == HISTOGRAM:
        sum_, count = (f"sum(increase({_selector(prom, stat.dimensions, s)}[{p}s]))" for s in ("_sum", "_count"))
        if statistic == "Sum":
            expr = sum_
        elif statistic == "SampleCount":
            expr = count
        elif statistic == "Average":
            expr = f"{sum_} / {count}"
        elif percentile:
            q = float(percentile.group(1)) / 100
            expr = (f"histogram_quantile({_number(q)}, sum by (le) "
                    f"(increase({_selector(prom, stat.dimensions, '_bucket')}[{p}s])))")
            notes.append(f"{statistic} is estimated from histogram buckets (linear within a bucket), not exact.")
        else:
            raise Untranslatable(f"{statistic} of {where}: a histogram keeps buckets, a sum and a count, not the"
                                 " extremes.")
        notes.append("The duration is exposed in seconds; the threshold is converted.")
    else:  # pragma: no cover - the table knows three kinds
        raise Untranslatable(f"{where} has no Prometheus kind")
    if scale_to_cloudwatch and prom.scale != 1.0 and statistic != "SampleCount":
        expr = f"({expr}) / {_number(prom.scale)}"
    return _Datapoints(expr, notes)


# ---------------------------------------------------------------------- metric math

_MATH_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                         r"|(?P<op>[-+*/^(),]))")


def _math(alarm: MetricAlarm) -> _Datapoints:
    """The returned query of a metric-math alarm, with each metric in its CloudWatch unit."""
    by_id = {q.id: q for q in alarm.metrics}
    notes: list[str] = []
    cache: dict[str, str] = {}

    def query(query_id: str, seen: tuple[str, ...]) -> str:
        if query_id in seen:
            raise Untranslatable(f"query {query_id} refers to itself")
        if query_id not in cache:
            q = by_id[query_id]
            if q.metric_stat is not None:
                datapoints = _stat(q.metric_stat, scale_to_cloudwatch=True)
                notes.extend(n for n in datapoints.notes if n not in notes)
                cache[query_id] = datapoints.expr
            else:
                cache[query_id] = _expression(q.expression or "", by_id, alarm.period,
                                              lambda name: query(name, (*seen, query_id)), notes)
        return cache[query_id]

    [returned] = [q for q in alarm.metrics if q.return_data]
    expr = query(returned.id, ())
    notes.append("Metric math over vectors without labels; a division by zero gives NaN or Inf in PromQL where"
                 " CloudWatch drops the datapoint.")
    return _Datapoints(expr, notes)


def _expression(text: str, by_id: Mapping[str, Any], period: int, query: Any, notes: list[str]) -> str:
    """``errors/invocations*100`` -> PromQL; ids, numbers, + - * / ^, parentheses, FILL(x, n), PERIOD(x)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _MATH_TOKEN.match(text, pos)
        if not match:
            raise Untranslatable(f"metric math {text!r}: cannot read {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "name" and i + 1 < len(tokens) and tokens[i + 1] == ("op", "("):
            close = _closing(tokens, i + 1, text)
            args = _split_args(tokens[i + 2:close])
            inner = [_expression(" ".join(v for _, v in arg), by_id, period, query, notes) for arg in args]
            function = value.upper()
            if function == "FILL" and len(inner) == 2 and _is_number(args[1]):
                out.append(f"(({inner[0]}) or vector({inner[1]}))")
                notes.append("FILL(x, n) is `x or vector(n)`: a missing datapoint becomes n.")
            elif function == "PERIOD" and len(args) == 1:
                out.append(str(period))
            else:
                raise Untranslatable(f"metric math {text!r}: {function}() has no PromQL translation here.")
            i = close + 1
            continue
        if kind == "name":
            if value not in by_id:
                raise Untranslatable(f"metric math {text!r}: {value} is not a query id of this alarm.")
            out.append(f"({query(value)})")
        else:
            out.append(value)
        i += 1
    return " ".join(out)


def _closing(tokens: Sequence[tuple[str, str]], start: int, text: str) -> int:
    depth = 0
    for j in range(start, len(tokens)):
        if tokens[j] == ("op", "("):
            depth += 1
        elif tokens[j] == ("op", ")"):
            depth -= 1
            if depth == 0:
                return j
    raise Untranslatable(f"metric math {text!r}: unbalanced parentheses")


def _split_args(tokens: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    args: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for token in tokens:
        if token == ("op", ",") and depth == 0:
            args.append([])
            continue
        depth += token == ("op", "(")
        depth -= token == ("op", ")")
        args[-1].append(token)
    return args


def _is_number(tokens: Sequence[tuple[str, str]]) -> bool:
    return len(tokens) == 1 and tokens[0][0] == "number"


# ---------------------------------------------------------------------- composite alarms

def _composite_rule(alarm: CompositeAlarm) -> dict[str, Any]:
    notes = ["ALARM(x) is `x` firing in ALERTS; OK(x) is `x` not firing (Prometheus has no INSUFFICIENT_DATA, so"
             " an alarm without data counts as OK). It reads the ALERTS series its alarms' group writes, so it may"
             " follow them by one evaluation interval."]
    try:
        expr = _RuleParser(alarm.rule, notes).parse()
        untranslated = None
    except Untranslatable as exc:
        expr, untranslated = _NEVER, str(exc)
    annotations = _annotations(alarm, f"Composite rule: {alarm.rule}")
    if untranslated:
        annotations["untranslated"] = f"This rule has no PromQL equivalent, so it never fires: {untranslated}"
    annotations["semantics"] = " ".join(notes) if not untranslated else "See untranslated."
    if alarm.actions_suppressor:
        annotations["semantics"] += (f" The actions suppressor ({alarm.actions_suppressor}) is not carried over:"
                                     " use an Alertmanager inhibit rule.")
    return {"alert": alarm.name, "expr": expr, "labels": _labels(alarm), "annotations": annotations}


class _RuleParser:
    """CloudWatch's AlarmRule grammar (see monitoring.alarms) -> PromQL over ALERTS, vectors without labels."""

    def __init__(self, text: str, notes: list[str]) -> None:
        self.text, self.pos, self.notes = text, 0, notes

    def fail(self, message: str) -> Untranslatable:
        return Untranslatable(f"rule {self.text!r}, at {self.pos + 1}: {message}")

    def peek(self) -> str | None:
        rest = self.text[self.pos:].lstrip()
        if not rest:
            return None
        match = re.match(r"[A-Za-z_]+", rest)
        return match.group(0) if match else rest[0]

    def take(self, word: str) -> None:
        self.pos = self.text.index(word, self.pos) + len(word)

    def parse(self) -> str:
        expr = self.parse_or()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")
        return expr

    def parse_or(self) -> str:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.take("OR")
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def parse_and(self) -> str:
        parts = [self.parse_not()]
        while self.peek() == "AND":
            self.take("AND")
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def parse_not(self) -> str:
        if self.peek() == "NOT":
            self.take("NOT")
            return f"absent({self.parse_not()})"
        return self.parse_primary()

    def parse_primary(self) -> str:
        word = self.peek()
        if word == "(":
            self.take("(")
            expr = self.parse_or()
            if self.peek() != ")":
                raise self.fail("expected )")
            self.take(")")
            return expr
        if word is not None and word.upper() in ("TRUE", "FALSE"):
            self.take(word)
            return "vector(1)" if word.upper() == "TRUE" else f"({_NEVER})"
        if word in ("ALARM", "OK", "INSUFFICIENT_DATA"):
            self.take(word)
            name = self.name()
            firing = f'count(ALERTS{{alertname={_string(name)}, alertstate="firing"}})'
            if word == "ALARM":
                return firing
            if word == "OK":
                return f"absent({firing})"
            raise self.fail("INSUFFICIENT_DATA() has no Prometheus counterpart (an alert is firing or not)")
        raise self.fail(f"{word!r} is not translated (AT_LEAST and others have no rule here)")

    def name(self) -> str:
        rest = self.text[self.pos:]
        match = re.match(r'\s*\(\s*(?:"([^"]*)"|([^)]*?))\s*\)', rest)
        if not match:
            raise self.fail("expected (alarm name)")
        self.pos += match.end()
        name = match.group(1) if match.group(1) is not None else match.group(2)
        arn = re.match(r"^arn:aws[\w-]*:cloudwatch:[^:]*:[^:]*:alarm:(.+)$", name)
        return arn.group(1) if arn else name


# ---------------------------------------------------------------------- labels, annotations, YAML


def _labels(alarm: MetricAlarm | CompositeAlarm) -> dict[str, str]:
    return {"severity": SEVERITIES[alarm.priority], "priority": alarm.priority, "source": "whispersync-plan"}


def _annotations(alarm: MetricAlarm | CompositeAlarm, cloudwatch: str) -> dict[str, str]:
    annotations = {"summary": f"{alarm.name} ({alarm.priority})",
                   "description": alarm.description or alarm.name,
                   "cloudwatch": cloudwatch}
    runbook = alarm.tags.get("runbook_url") or alarm.tags.get("RunbookUrl")
    if runbook:
        annotations["runbook_url"] = runbook
    actions = [*alarm.alarm_actions]
    if actions:
        annotations["cloudwatch_actions"] = ", ".join(actions) + " (route with Alertmanager on the severity label)"
    return annotations


def _cloudwatch_summary(alarm: MetricAlarm) -> str:
    if alarm.metrics:
        [returned] = [q for q in alarm.metrics if q.return_data and q.id != alarm.threshold_metric_id]
        subject = f"metric math {returned.expression or returned.id}"
    else:
        dims = ", ".join(f"{k}={v}" for k, v in alarm.dimensions.items())
        subject = f"{alarm.statistic} of {alarm.namespace} {alarm.metric_name}{{{dims}}}"
    if alarm.threshold_metric_id is not None:
        limit = f"{alarm.comparison_operator} of band {alarm.threshold_metric_id}"
    else:
        limit = f"{_OPERATORS[alarm.comparison_operator]} {_number(float(alarm.threshold))}"  # type: ignore[arg-type]
    return (f"{subject} {limit} in {alarm.m} of"
            f" {alarm.evaluation_periods} periods of {alarm.period} s; missing data: {alarm.treat_missing_data}")


def _string(value: str) -> str:
    """A PromQL string literal (Go's escapes, which JSON's are a subset of)."""
    return json.dumps(value)


def _number(value: float) -> str:
    value = round(float(value), 12)  # 70 % as a ratio is 0.7, not 0.7000000000000001
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def rules_yaml(document: Mapping[str, Any]) -> str:
    """The document as block-style YAML; every string double-quoted (JSON escapes are YAML's), so
    no value can be read as another type or break the layout. No YAML library needed."""
    lines: list[str] = ["# Generated by `whispersync export prometheus-rules` from the monitoring plan."]
    _emit(document, 0, lines)
    return "\n".join(lines) + "\n"


def _emit(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, (Mapping, list)) and item:
                lines.append(f"{pad}{_key(key)}:")
                _emit(item, indent + 2, lines)
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (Mapping, list)) and item:
                sub: list[str] = []
                _emit(item, indent + 2, sub)
                sub[0] = f"{pad}- " + sub[0][indent + 2:]
                lines.extend(sub)
            else:
                lines.append(f"{pad}- {_scalar(item)}")


def _key(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else _scalar(text)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value), ensure_ascii=False)
