"""The DLQ alarm's second rule: a transiently failed memo gets one automatic redrive; nothing else moves."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from helpers import FakeClock, wait_until

from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import ProcessingError
from whispersync.monitoring.remediation import (
    RemediationAudit,
    RemediationRequest,
    TransientRedriver,
    with_rule_action,
)
from whispersync.pipeline import dead_letters
from whispersync.plan import DEFAULT_PLAN, RedriveRule
from whispersync.settings import Settings

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Agent:
    """The work agent, failing as told: a memo whose text says "permanent" can never succeed, and one
    that says "flaky" fails (transiently, as a timeout would) while ``flaky_fails`` is set."""

    name = "work"

    def __init__(self, real) -> None:
        self.real = real
        self.flaky_fails = True

    def process(self, memo):
        if "permanent" in memo.text:
            raise ProcessingError("the transcript cannot be read", permanent=True)
        if "flaky" in memo.text and self.flaky_fails:
            raise ProcessingError("the journal disk timed out")
        return self.real.process(memo)


@pytest.fixture
def rt(tmp_path):
    from whispersync.app import build_runtime

    # One receive before the DLQ: a transient failure is dead-lettered on its first failed attempt.
    settings = Settings.load(home=tmp_path / "home", visibility_timeout=5, collector_interval=3600,
                             compaction_interval=3600, max_receive_count=1)
    runtime = build_runtime(settings)
    runtime.processor.agents = {**runtime.agents, "work": Agent(runtime.agents["work"])}
    yield runtime
    runtime.close(timeout=5)


@pytest.fixture
def audit(rt):
    store = RemediationAudit(rt.settings.monitoring_db)
    yield store
    store.close()


def _submit(rt, text: str) -> str:
    return rt.ingestor.accept(Transcript(text=text, agent="work")).id


def _process_until_idle(rt) -> None:
    """Run the worker by hand until the queue is empty (a final failure is released at once, and the
    next receive moves it to the DLQ, as SQS's redrive policy does)."""
    while messages := rt.queue.receive(1):
        rt.processor.process(messages[0])


def _redriver(rt, audit, clock, in_maintenance=None, **rule) -> TransientRedriver:
    """Bound as app.py's start_remediation binds it."""
    def redrive(limit: int) -> dict:
        return dead_letters.redrive_transient(rt.broker, dlq=rt.dlq, queue=rt.queue, records=rt.records,
                                              limit=limit).to_dict()

    states = {"DLQMessages": {"state": "ALARM", "reason": "Threshold Crossed",
                              "reason_data": {"recentDatapoints": [6.0]}}}
    values = {"name": "redrive_transient", "alarm": "DLQMessages", "enabled": True, "cooldown_seconds": 300}
    return TransientRedriver(RedriveRule(**{**values, **rule}), redrive, alarm_states=lambda: states, audit=audit,
                             metrics=rt.telemetry.metrics, clock=clock, in_maintenance=in_maintenance)


def _alarm(clock: FakeClock) -> RemediationRequest:
    return RemediationRequest("redrive_transient", "DLQMessages", "ALARM", "OK", "Threshold Crossed",
                              int(clock.now * 1000))


def _in_dlq(rt) -> set[str]:
    return dead_letters.memo_ids_in(rt.dlq)


def test_the_rule_is_off_by_default_and_only_an_enabled_rule_puts_its_action_on_the_dlq_alarm():
    [rule] = DEFAULT_PLAN.redrive_rules
    assert (rule.alarm, rule.action, rule.enabled) == ("DLQMessages", "remediation:redrive_transient", False)

    def dlq_actions(alarms):
        return next(a for a in alarms if a.name == "DLQMessages").alarm_actions

    assert dlq_actions(with_rule_action(DEFAULT_PLAN.alarms, rule)) == ("topic:critical",)
    enabled = replace(rule, enabled=True)
    assert dlq_actions(with_rule_action(DEFAULT_PLAN.alarms, enabled)) == (
        "remediation:redrive_transient", "topic:critical")
    twice = with_rule_action(with_rule_action(DEFAULT_PLAN.alarms, enabled), enabled)
    assert dlq_actions(twice).count("remediation:redrive_transient") == 1


def test_when_the_alarm_fires_a_transient_failure_is_redriven_once_and_processed_a_permanent_one_stays(rt):
    flaky, broken = _submit(rt, "Need to ship the flaky release"), _submit(rt, "permanent: unreadable")
    _process_until_idle(rt)
    assert _in_dlq(rt) == {flaky, broken}
    rt.processor.agents["work"].flaky_fails = False   # the disk is back
    rt.start(workers=1, inbox=False, collector=False, maintenance=False, sweep=False, checks=False,
             auto_redrive=True)                      # as `up --demo` does
    rt.alarms.set_state("DLQMessages", "ALARM", "Threshold Crossed")   # the state change runs the action

    wait_until(lambda: rt.records.get(flaky).status is MemoStatus.DONE, timeout=10)
    assert _in_dlq(rt) == {broken}
    assert rt.records.get(broken).status is MemoStatus.FAILED
    [entry] = RemediationAudit(rt.settings.monitoring_db, read_only=True).entries()
    assert (entry["rule"], entry["action"], entry["alarm"], entry["result"]) == (
        "redrive_transient", "redrive", "DLQMessages", "executed")
    assert entry["state_reason"] == "Threshold Crossed" and entry["memo_ids"] == [flaky]
    assert (entry["before"], entry["after"]) == (2, 1) and "1 permanent" in entry["detail"]
    rt.telemetry.flush()
    now_ms = int(time.time() * 1000)
    series = rt.store.metric_statistics("WhisperSync/Health", "RemediationExecuted", statistic="Sum", period=3600,
                                        dimensions={"Action": "redrive", "Result": "executed"},
                                        start_ms=now_ms - 600_000, end_ms=now_ms + 60_000)
    assert sum(series.values) == 1


def test_off_nothing_moves_and_nothing_is_recorded(rt, audit):
    flaky = _submit(rt, "Need to ship the flaky release")
    _process_until_idle(rt)
    rt.start(workers=1, inbox=False, collector=False, maintenance=False, sweep=False, checks=False)  # plan: off
    rt.alarms.set_state("DLQMessages", "ALARM", "Threshold Crossed")
    # The alarm carries no redrive action: it only told people.
    assert not [c for c in rt.alarms.remediation.calls if c["handler"] == "redrive_transient"]
    assert rt.alarms.history("DLQMessages")
    assert _in_dlq(rt) == {flaky} and rt.records.get(flaky).status is MemoStatus.FAILED
    assert audit.entries() == []


def test_a_memo_that_fails_again_after_its_automatic_redrive_stays_in_the_dlq(rt, audit):
    clock = FakeClock(T0)
    redriver = _redriver(rt, audit, clock)
    flaky = _submit(rt, "Need to ship the flaky release")
    _process_until_idle(rt)
    assert redriver.handle(_alarm(clock))["memo_ids"] == [flaky]
    assert rt.records.get(flaky).status is MemoStatus.QUEUED
    _process_until_idle(rt)                          # still failing: back in the DLQ
    assert _in_dlq(rt) == {flaky}
    [message] = rt.dlq.peek()
    assert dead_letters.AUTO_REDRIVEN_ATTRIBUTE in message.attributes

    clock.now += 3600                                # long past the cooldown
    second = redriver.handle(_alarm(clock))
    assert second["result"] == "noop" and second["memo_ids"] == []
    assert "1 already redriven once" in second["detail"]
    assert redriver.tick() is None                   # the alarm holds; nothing to move, nothing recorded
    assert _in_dlq(rt) == {flaky} and rt.records.get(flaky).status is MemoStatus.FAILED
    assert [e["result"] for e in audit.entries()[::-1]] == ["executed", "noop"]


def test_while_the_alarm_holds_a_later_transient_failure_is_redriven_after_the_cooldown(rt, audit):
    """The action ran once on the state change; permanent failures keep the alarm in ALARM, so the tick acts."""
    clock = FakeClock(T0)
    redriver = _redriver(rt, audit, clock, cooldown_seconds=300, max_per_run=1)
    first, second = _submit(rt, "flaky one"), _submit(rt, "flaky two")
    _process_until_idle(rt)
    assert redriver.handle(_alarm(clock))["memo_ids"] == [first]     # max_per_run: one per run
    clock.now += 60
    assert redriver.tick() is None                   # inside the cooldown: quietly waits
    assert second in _in_dlq(rt)
    clock.now += 240
    entry = redriver.tick()
    assert entry["result"] == "executed" and entry["memo_ids"] == [second]
    assert [e["result"] for e in audit.entries()[::-1]] == ["executed", "executed"]


def test_a_disabled_rule_s_handler_moves_nothing(rt, audit):
    clock = FakeClock(T0)
    redriver = _redriver(rt, audit, clock, enabled=False)
    flaky = _submit(rt, "flaky one")
    _process_until_idle(rt)
    assert redriver.handle(_alarm(clock))["result"] == "disabled"
    assert redriver.tick() is None
    assert _in_dlq(rt) == {flaky} and audit.entries() == []


def test_an_alarm_action_inside_the_cooldown_is_recorded_as_suppressed(rt, audit):
    clock = FakeClock(T0)
    redriver = _redriver(rt, audit, clock)
    _submit(rt, "flaky one")
    _process_until_idle(rt)
    redriver.handle(_alarm(clock))
    clock.now += 10
    assert redriver.handle(_alarm(clock))["result"] == "suppressed"
    assert redriver.handle(RemediationRequest("redrive_transient", "DLQMessages", "OK", "ALARM", "r", 0)
                           )["result"] == "noop"


def test_the_rule_refuses_meaningless_knobs():
    with pytest.raises(ValueError, match="enabled"):
        RedriveRule(name="r", alarm="DLQMessages", enabled="yes")
    with pytest.raises(ValueError, match="max_per_run"):
        RedriveRule(name="r", alarm="DLQMessages", max_per_run=0)
    with pytest.raises(ValueError, match="cooldown_seconds"):
        RedriveRule(name="r", alarm="DLQMessages", cooldown_seconds=-1)


def test_a_plan_file_turns_the_rule_on(tmp_path):
    from whispersync.monitoring.remediation import redrive_rule
    from whispersync.plan import effective_plan

    path = tmp_path / "plan.toml"
    path.write_text('[[redrive_rules]]\nname = "redrive_transient"\nalarm = "DLQMessages"\nenabled = true\n'
                    'max_per_run = 10\n')
    plan = effective_plan(path)
    rule = redrive_rule(plan)
    assert (rule.enabled, rule.max_per_run) == (True, 10)
    assert plan.source_of("redrive_rules", "redrive_transient") == str(path)
    assert redrive_rule(DEFAULT_PLAN).enabled is False


def test_a_maintenance_window_holds_the_periodic_redrive(rt, audit):
    clock = FakeClock(T0)
    redriver = _redriver(rt, audit, clock, in_maintenance=lambda: True)
    flaky = _submit(rt, "flaky one")
    _process_until_idle(rt)
    assert redriver.tick() is None and _in_dlq(rt) == {flaky}
