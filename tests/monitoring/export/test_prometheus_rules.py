"""The plan's alarms as Prometheus alerting rules: checked and unit-tested by the real promtool.

`promtool test rules` gets, per threshold alarm, a series that makes it fire and then clear; the
expected alert at every minute is what the local alarm engine (`decide` over the same datapoints,
in the evaluation window the engine uses) says, so the two engines are shown to agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from whispersync.monitoring.alarms import decide, evaluation_window
from whispersync.monitoring.export import prometheus_labels, prometheus_metric, prometheus_rules, rules_yaml
from whispersync.plan import ALARM, DEFAULT_PLAN, CompositeAlarm, MetricAlarm, MetricDataQuery, MetricStat, Plan

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("REQUIRE_PROMETHEUS"),
    reason="promtool is not installed (Debian package `prometheus`; .ci/run installs it)")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert PROMTOOL is not None, "REQUIRE_PROMETHEUS is set but promtool is missing"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rules_of(plan: Plan) -> dict[str, dict]:
    return {r["alert"]: r for g in prometheus_rules(plan)["groups"] for r in g["rules"]}


_WORKER = {"FunctionName": "whispersync-worker"}
EXTRA = (
    # Metric math, as the plan's dashboards use it.
    MetricAlarm(name="ErrorRate", threshold=5, evaluation_periods=3, datapoints_to_alarm=2, priority="P3",
                description="More than 5% of memos fail", treat_missing_data="breaching",
                tags={"runbook_url": "https://runbooks.example/error-rate"},
                metrics=(MetricDataQuery("errors", MetricStat("WhisperSync/Worker", "Errors", _WORKER, "Sum", 60),
                                         return_data=False),
                         MetricDataQuery("invocations", MetricStat("WhisperSync/Worker", "Invocations", _WORKER,
                                                                   "Sum", 60), return_data=False),
                         MetricDataQuery("rate", expression="FILL(errors, 0)/invocations*100"))),
    MetricAlarm(name="SlowMemos", namespace="WhisperSync/Business", metric_name="ProcessingDuration",
                statistic="p99", period=300, threshold=30_000, evaluation_periods=1, priority="P4"),
    # A counter keeps totals, not single datapoints: Average has no PromQL form.
    MetricAlarm(name="AverageErrors", namespace="WhisperSync/Worker", metric_name="Errors", dimensions=_WORKER,
                statistic="Average", threshold=0.5, evaluation_periods=1),
    MetricAlarm(name="IfMath", threshold=1, evaluation_periods=1,
                metrics=(MetricDataQuery("e", MetricStat("WhisperSync/Worker", "Errors", _WORKER, "Sum", 60),
                                         return_data=False),
                         MetricDataQuery("x", expression="IF(e > 1, 1, 0)"))),
    CompositeAlarm(name="NotBoth", rule='ALARM("SystemDown") AND NOT (OK(Api5xx) OR FALSE)', priority="P2"),
    CompositeAlarm(name="AtLeast", rule="AT_LEAST(2, ALARM, (SystemDown, Api5xx, DLQMessages))"),
)


def test_every_alarm_is_a_rule_with_severity_annotations_and_semantics() -> None:
    plan = Plan(alarms=(*DEFAULT_PLAN.alarms, *EXTRA))
    rules = rules_of(plan)
    assert set(rules) == {a.name for a in plan.alarms}  # none dropped
    for alarm in plan.alarms:
        rule = rules[alarm.name]
        assert rule["labels"]["priority"] == alarm.priority
        assert rule["labels"]["severity"] == {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}[
            alarm.priority]
        assert rule["annotations"]["description"] == (alarm.description or alarm.name)
        assert rule["annotations"]["semantics"]
    assert rules["ErrorRate"]["annotations"]["runbook_url"] == "https://runbooks.example/error-rate"
    assert "or vector(0)) / (sum(increase(whispersync_worker_invocations_total" in rules["ErrorRate"]["expr"]
    assert "histogram_quantile(0.99" in rules["SlowMemos"]["expr"] and ">= 30)" in rules["SlowMemos"]["expr"]
    for name in ("AverageErrors", "IfMath", "AtLeast"):
        assert "untranslated" in rules[name]["annotations"], name
        assert rules[name]["expr"] == "vector(1) == 0"
    assert 'ALERTS{alertname="SystemDown", alertstate="firing"}' in rules["whispersync-system-health"]["expr"]
    assert rules["NotBoth"]["expr"] == ('(count(ALERTS{alertname="SystemDown", alertstate="firing"}) and absent('
                                        '(absent(count(ALERTS{alertname="Api5xx", alertstate="firing"})) or '
                                        '(vector(1) == 0))))')


@needs_promtool
def test_promtool_accepts_the_exported_default_plan_and_the_extras(tmp_path) -> None:
    out = tmp_path / "rules.yml"
    done = subprocess.run([sys.executable, "-m", "whispersync", "export", "prometheus-rules", str(out)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "WHISPERSYNC_HOME":
                                                                            str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    assert f"wrote {len(DEFAULT_PLAN.alarms)} alerting rules" in done.stdout  # every plan alarm, none dropped
    checked = promtool("check", "rules", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    extras = tmp_path / "extras.yml"
    extras.write_text(rules_yaml(prometheus_rules(Plan(alarms=(*DEFAULT_PLAN.alarms, *EXTRA)))))
    checked = promtool("check", "rules", str(extras), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(DEFAULT_PLAN.alarms) + len(EXTRA)} rules found" in checked.stdout


# ---------------------------------------------------------------------- fire and clear, both engines


def scenario(alarm: MetricAlarm) -> list[float]:
    """Per-period datapoints: quiet, then breaching long enough to fire, then quiet long enough to clear."""
    high, low = alarm.threshold * 2, 0.0
    if alarm.comparison_operator.startswith("Less"):
        high, low = low, high
    n = alarm.evaluation_periods
    return [low] * 3 + [high] * (n + 1) + [low] * (n + 3)


def input_series(alarm: MetricAlarm, values: list[float]) -> tuple[str, list[float]]:
    """The Prometheus series (one sample a minute) whose per-period statistic is `values`."""
    prom = prometheus_metric(alarm.namespace, alarm.metric_name)
    labels = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(prometheus_labels(alarm.dimensions).items()))
    per_period = alarm.period // 60
    if prom.kind == "counter":  # the running total at the end of each minute; the period's events come in its first
        samples, total = [0.0], 0.0
        for value in values:
            for minute in range(per_period):
                total += value if minute == 0 else 0
                samples.append(total)
    else:  # a gauge holding the period's value for the whole period
        assert prom.kind == "gauge" and alarm.statistic in ("Maximum", "Minimum", "Average")
        samples = [v for v in values for _ in range(per_period)]
    return f"{prom.name}{{{labels}}}", samples


def local_engine_fires(alarm: MetricAlarm, values: list[float], minute: int) -> bool:
    """The local engine's decision at `minute`, over the complete periods before it."""
    start, _, periods = evaluation_window(alarm, minute * 60_000)
    first = start // (alarm.period * 1000)
    complete = minute * 60 // alarm.period  # periods whose datapoint exists by then
    window = [values[j] if 0 <= j < min(len(values), complete) else None for j in range(first, first + periods)]
    return decide(window, alarm).state == ALARM


# Plain-statistic alarms (the SLO's burn-rate alarms are metric math over TC(:threshold), untranslated).
THRESHOLD_ALARMS = [a for a in DEFAULT_PLAN.alarms if isinstance(a, MetricAlarm) and not a.metrics]


@needs_promtool
def test_each_alarm_fires_and_clears_in_prometheus_as_in_the_local_engine(tmp_path) -> None:
    document = prometheus_rules(DEFAULT_PLAN)
    (tmp_path / "rules.yml").write_text(rules_yaml(document))
    rules = {r["alert"]: r for g in document["groups"] for r in g["rules"]}
    tests = []
    for alarm in THRESHOLD_ALARMS:
        values = scenario(alarm)
        series, samples = input_series(alarm, values)
        minutes = len(samples) - 1
        expected = [local_engine_fires(alarm, values, m) for m in range(minutes + 1)]
        # The scenario must show both transitions, or the comparison proves little.
        assert True in expected and expected[-1] is False and expected[0] is False, (alarm.name, expected)
        rule = rules[alarm.name]
        cases = [{"eval_time": f"{m}m", "alertname": alarm.name,
                  "exp_alerts": [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}] if fires
                  else []}
                 for m, fires in enumerate(expected)]
        # The composite reads the ALERTS series the metric alarms write; skip the minutes it turns on, where a
        # real Prometheus (groups on their own timers) may see them one evaluation late.
        health = rules["whispersync-system-health"]
        in_health = f"ALARM({alarm.name})" in health["annotations"]["cloudwatch"]
        cases += [{"eval_time": f"{m}m", "alertname": health["alert"],
                   "exp_alerts": [{"exp_labels": health["labels"], "exp_annotations": health["annotations"]}]
                   if in_health and expected[m - 1] and expected[m] else []}
                  for m in range(1, minutes + 1) if expected[m - 1] == expected[m] or not expected[m]]
        tests.append({"name": alarm.name, "interval": "1m",
                      "input_series": [{"series": series, "values": " ".join(repr(v) for v in samples)}],
                      "alert_rule_test": cases})
    # Metric alarms first, as in one Prometheus evaluation cycle where the composite's group runs after them.
    suite = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "group_eval_order": [g["name"] for g in document["groups"]], "tests": tests}
    (tmp_path / "tests.yml").write_text(rules_yaml(suite))
    done = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def test_the_command_refuses_a_broken_plan_and_an_unwritable_path_with_a_clear_message(cli_env, tmp_path) -> None:
    bad = tmp_path / "plan.toml"
    bad.write_text('[[alarms]]\nname = "X"\nthreshold = "high"\n')
    run = [sys.executable, "-m", "whispersync", "export", "prometheus-rules"]
    done = subprocess.run([*run, "--plan", str(bad), str(tmp_path / "out.yml")], env=cli_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "plan.toml" in done.stderr and not (tmp_path / "out.yml").exists()
    done = subprocess.run([*run, str(tmp_path / "missing-dir" / "out.yml")], env=cli_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "cannot write" in done.stderr
