"""The memo-latency SLO against hand-computed figures: latency samples and failed memos put into a real
telemetry store at known times; the report's SLI, error budget, burn rates and Apdex; the plan's burn-rate
alarms evaluated by the alarm engine at a fake `now`; a synthetic memo through a real runtime not counting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.domain import Transcript
from whispersync.monitoring.alarms import AlarmEngine, AlarmStore
from whispersync.monitoring.slo import slo_report
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import ALARM, DEFAULT_PLAN, OK, Slo, slo_alarms

[SLO] = DEFAULT_PLAN.slos
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
H = 1_795_780_800_000  # 2026-11-27T12:00:00Z: a whole 6 hours (and so hour, 30 and 5 minutes) since the epoch


@pytest.fixture
def store(tmp_path: Path):
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


def memos(store, at_ms: int, *latencies_ms: float, failed: int = 0) -> None:
    """Memos as the worker publishes them: a MemoLatency sample per memo done (with and without AgentType),
    one MemosFailed per memo lost."""
    records = []
    for latency in latencies_ms:
        for dims in ({"AgentType": "work"}, {}):
            records.append({"namespace": catalog.MEMO_LATENCY.namespace, "name": catalog.MEMO_LATENCY.name,
                            "value": latency, "unit": "Milliseconds", "dimensions": dims, "timestamp": at_ms})
    records += [{"namespace": catalog.MEMOS_FAILED.namespace, "name": catalog.MEMOS_FAILED.name, "value": 1,
                 "unit": "Count", "timestamp": at_ms}] * failed
    if records:
        store.put_metrics(records)


class TestTheDefaultSlo:
    def test_it_is_99_percent_of_memos_within_10_s_over_28_days(self) -> None:
        assert (SLO.name, SLO.objective, SLO.threshold_ms, SLO.window_days, SLO.apdex_t_ms) == (
            "memo-latency", 0.99, 10_000, 28, 2_500)
        assert (SLO.namespace, SLO.metric_name, dict(SLO.dimensions)) == ("WhisperSync/Business", "MemoLatency", {})
        assert (SLO.failures_namespace, SLO.failures_metric_name) == ("WhisperSync/Business", "MemosFailed")


NOW = H + 30 * MINUTE  # 12:30


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One store for TestReport's tests (they only read it); the windows end at 12:31, the minute now running."""
    store = TelemetryStore(tmp_path_factory.mktemp("slo") / "telemetry")
    memos(store, NOW - 29 * DAY, *[60_000] * 100)                       # outside the 28 days
    memos(store, NOW - 10 * DAY, *[1_000] * 9_827, *[20_000] * 10)     # 9,827 good, 10 slow
    memos(store, NOW - 3 * HOUR, *[3_000] * 95, *[12_000] * 5)         # in 6 h, not in 1 h
    memos(store, NOW - 20 * MINUTE, *[2_500] * 40, *[10_000] * 8, *[10_001] * 2, failed=2)
    memos(store, NOW - 2 * MINUTE, *[500] * 10, failed=1)
    [report] = slo_report(store, [SLO], now_ms=NOW)
    store.close()
    return report


class TestReport:
    def test_the_sli_and_the_error_budget_over_28_days(self, report) -> None:
        """Done: 10 + 50 + 100 + 9,837 = 9,997, failed 3, total 10,000; bad: 2 + 5 + 10 slow + 3 failed = 20.
        Allowed bad: 1 % of 10,000 = 100; remaining 80 events, 0.8 of the budget."""
        assert report["window"] == {"start": "2026-10-30T12:31:00.000Z", "end": "2026-11-27T12:31:00.000Z",
                                    "good": 9_980, "done": 9_997, "failed": 3, "total": 10_000, "bad": 20,
                                    "sli": 0.998}
        assert report["error_budget"] == {"allowed_bad": 100.0, "spent": 20, "remaining": 80.0,
                                          "remaining_fraction": 0.8}

    def test_a_sample_at_the_threshold_is_good_and_one_above_is_not(self, report) -> None:
        """TC(:10000) is inclusive on its upper bound: the 8 memos of exactly 10 s are good, 10.001 s bad."""
        thirty = next(b for b in report["burn_rates"] if b["window"] == "30m")
        assert (thirty["good"], thirty["bad"]) == (40 + 8 + 10, 2 + 3)

    def test_burn_rates_per_window(self, report) -> None:
        """Burn rate = bad / total / 1 %."""
        by_window = {b["window"]: b for b in report["burn_rates"]}
        assert list(by_window) == ["5m", "30m", "1h", "6h"]
        expected = {"5m": (11, 1), "30m": (63, 5), "1h": (63, 5), "6h": (163, 10)}
        for window, (total, bad) in expected.items():
            assert (by_window[window]["total"], by_window[window]["bad"]) == (total, bad), window
            assert by_window[window]["burn_rate"] == pytest.approx(bad / total * 100, abs=1e-9), window
        assert by_window["5m"]["burn_rate"] == pytest.approx(9.090909090909, abs=1e-9)  # 1/11 / 0.01
        assert by_window["6h"]["burn_rate"] == pytest.approx(6.134969325153, abs=1e-9)  # 10/163 / 0.01

    def test_apdex_over_the_last_hour(self, report) -> None:
        """T = 2.5 s: satisfied 40 (exactly T) + 10; tolerating the 8 of 10 s (= 4T); frustrated the 2 of
        10.001 s and the 3 failed memos. (50 + 8/2) / 63 = 6/7."""
        assert report["apdex"]["last_hour"] == {"satisfied": 50, "tolerating": 8, "frustrated": 5, "total": 63,
                                                "score": pytest.approx(6 / 7, abs=1e-12)}

    def test_apdex_per_hour(self, report) -> None:
        periods = report["apdex"]["periods"]
        assert len(periods) == 24 and periods[-1]["start"] == "2026-11-27T12:00:00.000Z"
        assert periods[-1]["score"] == pytest.approx(6 / 7, abs=1e-12)
        # 09:00-10:00: 95 tolerating (3 s), 5 frustrated (12 s): 47.5 / 100.
        nine = next(p for p in periods if p["start"] == "2026-11-27T09:00:00.000Z")
        assert (nine["satisfied"], nine["tolerating"], nine["frustrated"], nine["score"]) == (0, 95, 5, 0.475)
        quiet = [p for p in periods if p["total"] == 0]
        assert len(quiet) == 22 and all(p["score"] is None for p in quiet)

    def test_no_memos_is_a_full_budget_and_no_burn(self, store) -> None:
        [report] = slo_report(store, [SLO], now_ms=NOW)
        assert report["window"]["sli"] is None
        assert report["error_budget"]["remaining_fraction"] == 1.0
        assert {b["burn_rate"] for b in report["burn_rates"]} == {0.0}
        assert report["apdex"]["last_hour"]["score"] is None

    def test_an_slo_without_a_failures_metric_counts_latency_only(self, store) -> None:
        memos(store, NOW - MINUTE, 1_000, 1_000, 1_000, 20_000, failed=5)
        slo = Slo(name="latency-only", objective=0.5, failures_namespace=None, failures_metric_name=None)
        [report] = slo_report(store, [slo], now_ms=NOW)
        assert (report["window"]["total"], report["window"]["bad"], report["window"]["sli"]) == (4, 1, 0.75)
        assert report["burn_rates"][0]["burn_rate"] == 0.5  # 1/4 bad over a 50 % budget

    def test_the_report_names_the_derived_alarms(self, report) -> None:
        assert [a["name"] for a in report["alarms"]] == [a.name for a in slo_alarms(SLO)]


# ---------------------------------------------------------------------- the burn-rate alarms


class FakeNotifier:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, str]] = []

    def publish(self, topic, notification):
        self.published.append((topic, notification.alarm_name, notification.new_state))
        return ["delivery-1"]

    @property
    def alarms(self) -> list[tuple[str, str]]:
        """(topic, alarm) of each ALARM notification (the first evaluation also sends OK ones, as CloudWatch
        runs OK actions on INSUFFICIENT_DATA -> OK)."""
        return [(topic, name) for topic, name, state in self.published if state == ALARM]


def evaluate(store, tmp_path) -> tuple[dict[str, str], FakeNotifier]:
    """Every SLO alarm evaluated at H + 1 s (so each judges the window ending at H); states by name."""
    notifier = FakeNotifier()
    engine = AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: list(slo_alarms(SLO)),
                         notifier=notifier)
    results = engine.evaluate(H + 1_000)
    return {r.name: r.state for r in results}, notifier


class TestBurnRateAlarms:
    def test_the_plan_has_them_with_the_workbook_thresholds_and_priorities(self) -> None:
        alarms = {a.name: a for a in DEFAULT_PLAN.alarms}
        for window, period, threshold, priority in (("1h", 3600, 14.4, "P1"), ("5m", 300, 14.4, "P1"),
                                                    ("6h", 21_600, 6.0, "P2"), ("30m", 1800, 6.0, "P2")):
            alarm = alarms[f"SloBurn{window}-memo-latency"]
            assert (alarm.period, alarm.evaluation_periods, alarm.threshold, alarm.priority) == (
                period, 1, threshold, priority)
            assert (alarm.comparison_operator, alarm.treat_missing_data) == ("GreaterThanThreshold", "notBreaching")
            assert alarm.alarm_actions == ()  # the composite acts
            stats = {q.id: q.metric_stat.statistic for q in alarm.metrics if q.metric_stat}
            assert stats == {"good": "TC(:10000)", "done": "SampleCount", "failed": "Sum"}
        fast, slow = alarms["SloFastBurn-memo-latency"], alarms["SloSlowBurn-memo-latency"]
        assert fast.rule == "ALARM(SloBurn1h-memo-latency) AND ALARM(SloBurn5m-memo-latency)"
        assert (fast.priority, fast.alarm_actions, fast.ok_actions) == ("P1", ("topic:critical",), ("topic:critical",))
        assert slow.rule == "ALARM(SloBurn6h-memo-latency) AND ALARM(SloBurn30m-memo-latency)"
        assert (slow.priority, slow.alarm_actions) == ("P2", ("topic:high",))

    def test_a_fast_burn_in_both_windows_pages_at_p1(self, store, tmp_path) -> None:
        """1 h: 110 memos, 25 bad: 22.7x; 5 m: 10 memos, 5 bad: 50x. Both > 14.4: ALARM (the slow pair too:
        6 h is the same 22.7x, 30 m the same 50x, both > 6)."""
        memos(store, H - 50 * MINUTE, *[1_000] * 80, *[20_000] * 20)
        memos(store, H - 2 * MINUTE, *[1_000] * 5, *[20_000] * 3, failed=2)
        states, notifier = evaluate(store, tmp_path)
        assert states["SloBurn1h-memo-latency"] == ALARM and states["SloBurn5m-memo-latency"] == ALARM
        assert states["SloFastBurn-memo-latency"] == ALARM
        assert states["SloSlowBurn-memo-latency"] == ALARM
        assert sorted(notifier.alarms) == [("critical", "SloFastBurn-memo-latency"),
                                           ("high", "SloSlowBurn-memo-latency")]
        # Only the composites notify.
        assert {name for _, name, _ in notifier.published} == {"SloFastBurn-memo-latency",
                                                                "SloSlowBurn-memo-latency"}

    def test_only_the_long_window_burning_stays_ok(self, store, tmp_path) -> None:
        """1 h: 110 memos, 20 bad: 18.2x; but the last 5 minutes are clean (0x): the burn has stopped."""
        memos(store, H - 50 * MINUTE, *[1_000] * 80, *[20_000] * 20)
        memos(store, H - 2 * MINUTE, *[1_000] * 10)
        states, notifier = evaluate(store, tmp_path)
        assert states["SloBurn1h-memo-latency"] == ALARM and states["SloBurn5m-memo-latency"] == OK
        assert states["SloFastBurn-memo-latency"] == OK
        assert notifier.alarms == []

    def test_only_the_short_window_burning_stays_ok(self, store, tmp_path) -> None:
        """5 m: 10 memos, 5 bad: 50x; 1 h: 1,010 memos, 5 bad: 0.5x: a blip, not a burn."""
        memos(store, H - 50 * MINUTE, *[1_000] * 1_000)
        memos(store, H - 2 * MINUTE, *[1_000] * 5, *[20_000] * 5)
        states, notifier = evaluate(store, tmp_path)
        assert states["SloBurn1h-memo-latency"] == OK and states["SloBurn5m-memo-latency"] == ALARM
        assert states["SloFastBurn-memo-latency"] == OK
        assert notifier.alarms == []

    def test_a_burn_that_stopped_minutes_ago_no_longer_pages(self, store, tmp_path) -> None:
        """All slow from 11:45 to 11:50, nothing since: 1 h burns (100x), but the last 5 minutes had no memo,
        which is no burn (FILL 0), not the older 5 minutes that burned."""
        memos(store, H - 12 * MINUTE, *[20_000] * 10)
        states, _ = evaluate(store, tmp_path)
        assert states["SloBurn1h-memo-latency"] == ALARM
        assert states["SloBurn5m-memo-latency"] == OK and states["SloFastBurn-memo-latency"] == OK

    def test_a_slow_burn_opens_a_p2_and_does_not_page(self, store, tmp_path) -> None:
        """6 h: 1,100 memos, 88 bad: 8x; 30 m: 100 memos, 8 bad: 8x (> 6); 1 h: 8x (< 14.4); 5 m: none."""
        memos(store, H - 3 * HOUR, *[1_000] * 920, *[20_000] * 80)
        memos(store, H - 20 * MINUTE, *[1_000] * 92, *[20_000] * 6, failed=2)
        states, notifier = evaluate(store, tmp_path)
        assert states["SloBurn6h-memo-latency"] == ALARM and states["SloBurn30m-memo-latency"] == ALARM
        assert states["SloSlowBurn-memo-latency"] == ALARM
        assert states["SloBurn1h-memo-latency"] == OK and states["SloBurn5m-memo-latency"] == OK
        assert states["SloFastBurn-memo-latency"] == OK
        assert notifier.alarms == [("high", "SloSlowBurn-memo-latency")]

    def test_a_burn_rate_at_the_threshold_does_not_fire(self, store, tmp_path) -> None:
        """6x exactly (6 bad of 100) is not above 6, as the workbook's `>`."""
        memos(store, H - 20 * MINUTE, *[1_000] * 94, *[20_000] * 6)
        states, _ = evaluate(store, tmp_path)
        assert states["SloBurn30m-memo-latency"] == OK

    def test_no_memos_is_no_burn(self, store, tmp_path) -> None:
        states, notifier = evaluate(store, tmp_path)
        assert {states[a.name] for a in slo_alarms(SLO)} == {OK}
        assert notifier.alarms == []


# ---------------------------------------------------------------------- synthetic memos


def test_a_synthetic_memo_does_not_count_toward_the_slo(runtime) -> None:
    """A real memo and a canary's synthetic memo through a real runtime (queue, worker, agent): one memo done."""
    for source in ("api", "synthetic"):
        runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work", source=source))
    for _ in range(10):
        messages = runtime.queue.receive(1)
        if not messages:
            break
        runtime.processor.process(messages[0])
    runtime.telemetry.flush()
    [report] = slo_report(runtime.store, [SLO], now_ms=int(time.time() * 1000) + 1_000)
    assert (report["window"]["done"], report["window"]["failed"], report["window"]["good"]) == (1, 0, 1)
