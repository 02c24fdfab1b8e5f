"""PoolScaler's guards against a fake clock: bounded targets, cooldown, stabilization, hourly cap, dry run."""

from __future__ import annotations

import sqlite3
import time

import pytest
from helpers import FakeClock

from whispersync.monitoring.remediation import (
    PoolScaler,
    RemediationAudit,
    RemediationRequest,
)
from whispersync.plan import RemediationRule


class Pool:
    """The port as app.py binds it, without threads: the size the scaler asked for."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.sizes: list[int] = []

    def resize(self, concurrency: int) -> int:
        previous, self.concurrency = self.concurrency, concurrency
        self.sizes.append(concurrency)
        return previous


def _rule(**overrides) -> RemediationRule:
    values = {"name": "scale_up", "alarm": "HighQueueDepth", "action": "remediation:scale_up", "minimum": 1,
              "maximum": 8, "cooldown_seconds": 300, "stabilization_seconds": 300, "max_actions_per_hour": 6}
    return RemediationRule(**{**values, **overrides})


def _alarm(clock: FakeClock, state: str = "ALARM") -> RemediationRequest:
    return RemediationRequest("scale_up", "HighQueueDepth", state, "OK" if state == "ALARM" else "ALARM",
                              "Threshold Crossed", int(clock.now * 1000))


def _oldest_first(audit: RemediationAudit) -> list[dict]:
    return audit.entries()[::-1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_767_225_600.0)


@pytest.fixture
def audit(settings):
    store = RemediationAudit(settings.monitoring_db)
    yield store
    store.close()


def _scaler(rule, pool, clock, audit=None, state=None, **kw) -> PoolScaler:
    states = (lambda: {"HighQueueDepth": {"state": state[0], "reason": "r", "reason_data": {}}}) if state else None
    return PoolScaler(rule, pool, baseline=1, alarm_states=states, audit=audit, clock=clock, **kw)


def test_alarm_sets_a_doubled_target_capped_at_the_maximum(clock, audit):
    pool = Pool(1)
    scaler = _scaler(_rule(maximum=3, cooldown_seconds=0), pool, clock, audit)
    results = []
    for _ in range(3):
        results.append(scaler.handle(_alarm(clock))["result"])
        clock.now += 1
    assert pool.sizes == [2, 3]            # 1 -> 2 -> 3 (capped), never past the maximum
    assert results == ["executed", "executed", "noop"]
    entries = _oldest_first(audit)
    assert [(e["before"], e["after"], e["result"]) for e in entries] == [(1, 2, "executed"), (2, 3, "executed"),
                                                                         (3, 3, "noop")]


def test_an_alarm_flapping_inside_the_cooldown_yields_one_action(clock, audit):
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(), pool, clock, audit, state)
    scaler.handle(_alarm(clock))
    for _ in range(4):           # OK, ALARM, OK, ALARM ... every 30 s, within the 300 s cooldown
        clock.now += 30
        state[0] = "OK"
        assert scaler.tick() is None           # the window still holds the high recommendation
        clock.now += 30
        state[0] = "ALARM"
        scaler.handle(_alarm(clock))
    assert pool.sizes == [2]
    assert [e["result"] for e in _oldest_first(audit)] == ["executed"] + ["suppressed"] * 4
    assert "cooldown" in _oldest_first(audit)[-1]["detail"]


def test_scale_down_waits_for_the_stabilization_window_and_takes_its_highest_recommendation(clock, audit):
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(maximum=8, cooldown_seconds=60, stabilization_seconds=300), pool, clock, audit, state)
    scaler.handle(_alarm(clock))           # 1 -> 2
    clock.now += 100
    scaler.handle(_alarm(clock))           # 2 -> 4 (the cooldown of 60 s is over)
    assert pool.concurrency == 4
    clock.now += 60
    state[0] = "OK"
    for _ in range(4):                     # OK for 240 s: the 4 recommended 60..240 s ago still wins
        assert scaler.tick() is None
        clock.now += 60
    assert pool.concurrency == 4
    clock.now += 1                         # 301 s after the last high recommendation
    entry = scaler.tick()
    assert entry is not None and entry["action"] == "scale_down" and entry["result"] == "executed"
    assert (entry["before"], entry["after"]) == (4, 1)
    assert pool.sizes == [2, 4, 1]


def test_the_hourly_cap_stops_acting_and_escalates_once_at_p1(settings, clock, audit, runtime):
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(maximum=16, cooldown_seconds=0, stabilization_seconds=0, max_actions_per_hour=2),
                     pool, clock, audit, state, notifier=runtime.notifier)
    results = []
    for _ in range(4):
        results.append(scaler.handle(_alarm(clock))["result"])
        clock.now += 60
    assert results == ["executed", "executed", "escalated", "rate_limited"]
    assert pool.sizes == [2, 4]
    pages = [d for d in runtime.notifier.deliveries() if d["alarm_name"] == "Remediation-scale_up"]
    assert pages and {d["priority"] for d in pages} == {"P1"} and {d["topic"] for d in pages} == {"critical"}
    assert {d["channel"] for d in pages} >= {"pagerduty"}
    clock.now += 3600                      # a new hour has room again
    assert scaler.handle(_alarm(clock))["result"] == "executed"
    assert pool.sizes == [2, 4, 8]


def test_dry_run_decides_and_records_but_never_resizes(clock, audit):
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(dry_run=True, stabilization_seconds=0, cooldown_seconds=0), pool, clock, audit, state)
    assert scaler.handle(_alarm(clock))["result"] == "dry_run"
    clock.now += 10
    state[0] = "OK"
    assert scaler.tick()["result"] == "dry_run"
    assert pool.sizes == [] and pool.concurrency == 1
    assert [(e["action"], e["before"], e["target"], e["result"]) for e in _oldest_first(audit)] == [
        ("scale_up", 1, 2, "dry_run"), ("scale_down", 2, 1, "dry_run")]


def test_the_audit_log_is_append_only_and_keeps_every_field(settings, clock, audit):
    pool = Pool(2)
    states = {"HighQueueDepth": {"state": "ALARM", "reason": "r",
                                 "reason_data": {"recentDatapoints": [1200.0, 1500.0]}}}
    scaler = PoolScaler(_rule(), pool, baseline=2, alarm_states=lambda: states, audit=audit, clock=clock)
    scaler.handle(_alarm(clock))
    [entry] = RemediationAudit(settings.monitoring_db, read_only=True).entries()
    assert entry["occurred_at"] == "2026-01-01T00:00:00.000Z" and entry["rule"] == "scale_up"
    assert entry["alarm"] == "HighQueueDepth" and entry["state"] == "ALARM"
    assert entry["state_reason"] == "Threshold Crossed" and entry["metrics"] == [1200.0, 1500.0]
    assert (entry["before"], entry["after"], entry["result"]) == (2, 4, "executed")
    assert len(entry["correlation_id"]) == 32
    con = sqlite3.connect(settings.monitoring_db)
    for statement in ("UPDATE remediation_audit SET result = 'x'", "DELETE FROM remediation_audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(statement)
    con.close()


def test_every_decision_is_counted_by_action_and_result(runtime, clock, audit):
    pool = Pool(1)
    scaler = _scaler(_rule(), pool, clock, audit, metrics=runtime.telemetry.metrics)
    scaler.handle(_alarm(clock))
    scaler.handle(_alarm(clock))           # inside the cooldown
    runtime.telemetry.flush()
    now_ms = int(time.time() * 1000)

    def total(dims):
        series = runtime.store.metric_statistics("WhisperSync/Health", "RemediationExecuted", dimensions=dims,
                                                 statistic="Sum", start_ms=now_ms - 600_000, end_ms=now_ms + 60_000,
                                                 period=3600)
        return sum(series.values)

    assert total({"Action": "scale_up", "Result": "executed"}) == 1
    assert total({"Action": "scale_up", "Result": "suppressed"}) == 1


def test_the_rule_refuses_meaningless_knobs():
    with pytest.raises(ValueError, match="max_actions_per_hour"):
        _rule(max_actions_per_hour=0)
    with pytest.raises(ValueError, match="dry_run"):
        _rule(dry_run="yes")


def test_up_binds_the_scale_up_action_to_the_real_worker_pool(runtime, settings):
    runtime.start(workers=1, inbox=False, collector=False, maintenance=False, sweep=False)
    result = runtime.alarms.remediation.run("scale_up", alarm="HighQueueDepth", state="ALARM", previous_state="OK",
                                            reason="Threshold Crossed", at_ms=int(time.time() * 1000))
    assert result["result"] == "executed"
    assert runtime.pool.concurrency == 2 and runtime.pool.alive() == 2
    [entry] = RemediationAudit(settings.monitoring_db, read_only=True).entries()
    assert (entry["action"], entry["before"], entry["after"]) == ("scale_up", 1, 2)


def test_a_backlog_that_persists_doubles_the_pool_again_after_each_cooldown_until_the_maximum(clock, audit):
    """As EC2 Auto Scaling repeats its policy while the alarm stays in ALARM; the action alone runs once."""
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(maximum=8, cooldown_seconds=300), pool, clock, audit, state)
    scaler.handle(_alarm(clock))               # the state change: 1 -> 2
    for _ in range(4):                         # the alarm holds; ticks inside the cooldown do nothing, quietly
        clock.now += 60
        assert scaler.tick() is None
    clock.now += 60                            # 300 s after the scale-up
    entry = scaler.tick()
    assert (entry["action"], entry["before"], entry["after"], entry["result"]) == ("scale_up", 2, 4, "executed")
    clock.now += 300
    assert scaler.tick()["after"] == 8
    clock.now += 300
    assert scaler.tick() is None               # at the maximum: nothing to do, nothing recorded each minute
    assert pool.sizes == [2, 4, 8]
    assert [(e["before"], e["after"], e["result"]) for e in _oldest_first(audit)] == [
        (1, 2, "executed"), (2, 4, "executed"), (4, 8, "executed")]


def test_repeats_while_alarm_holds_obey_the_hourly_cap_and_dry_run(settings, clock, audit, runtime):
    pool = Pool(1)
    state = ["ALARM"]
    scaler = _scaler(_rule(maximum=16, cooldown_seconds=60, max_actions_per_hour=2), pool, clock, audit, state,
                     notifier=runtime.notifier)
    results = []
    for _ in range(5):
        entry = scaler.tick()
        results.append(entry and entry["result"])
        clock.now += 60
    # Two actions, one P1 escalation, then the rate-limited repeats are not written every minute.
    assert results == ["executed", "executed", "escalated", None, None]
    assert pool.sizes == [2, 4]

    dry_pool = Pool(1)
    dry = _scaler(_rule(dry_run=True, cooldown_seconds=0), dry_pool, clock, None, state)
    assert dry.tick()["result"] == "dry_run" and dry.size == 2
    assert dry.tick()["target"] == 4 and dry_pool.sizes == []


def test_a_maintenance_window_holds_the_repeat_as_it_holds_the_alarm_s_actions(clock, audit):
    pool = Pool(1)
    held = [True]
    scaler = _scaler(_rule(cooldown_seconds=0), pool, clock, audit, ["ALARM"], in_maintenance=lambda: held[0])
    assert scaler.tick() is None and pool.sizes == []
    held[0] = False
    assert scaler.tick()["result"] == "executed" and pool.sizes == [2]
