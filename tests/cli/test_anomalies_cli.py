"""`whispersync anomalies list`: points outside their bands, from an alarm's band and a stored detector's."""

from __future__ import annotations

import math
import random
import time

import orjson
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.monitoring.alarms import AnomalyDetector
from whispersync.plan import MetricAlarm, MetricDataQuery, MetricStat

DAY, STEP = 86_400_000, 300_000


def _seed(store, name: str, spike_at: int, start: int, end: int) -> None:
    rng = random.Random(5)
    records = [{"namespace": "App", "name": name, "value": 300.0 if t == spike_at else
                100 + 30 * math.sin(2 * math.pi * (t % DAY) / DAY) + rng.gauss(0, 2),
                "unit": "Milliseconds", "timestamp": t + 1_000} for t in range(start, end, STEP)]
    store.put_metrics(records)


def test_it_lists_the_points_outside_their_bands(runtime) -> None:
    now = int(time.time() * 1000)
    end = now // STEP * STEP
    start = (now // DAY - 3) * DAY
    spike = end - 24 * STEP  # two hours ago
    _seed(runtime.store, "Latency", spike, start, end)
    _seed(runtime.store, "Queue", spike - STEP, start, end)
    runtime.alarms.put(MetricAlarm(
        name="LatencyAnomaly", threshold=None, evaluation_periods=1, threshold_metric_id="ad1",
        comparison_operator="GreaterThanUpperThreshold",
        metrics=(MetricDataQuery("m1", metric_stat=MetricStat("App", "Latency", {}, "Average", 300)),
                 MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(m1, 3)"))))
    runtime.alarms.alarm_store.detectors.put(AnomalyDetector(namespace="App", metric_name="Queue", stat="Average"))
    home = str(runtime.settings.home)
    result = CliRunner().invoke(app, ["--home", home, "anomalies", "list", "--since", "24h", "--json"])
    assert result.exit_code == 0, result.output
    found = orjson.loads(result.stdout)["anomalies"]
    latency = max((a for a in found if a["metric"].startswith("App Latency")), key=lambda a: a["distance"])
    queue = max((a for a in found if a["metric"].startswith("App Queue")), key=lambda a: a["distance"])
    assert (latency["alarm"], latency["value"]) == ("LatencyAnomaly", 300.0)
    assert latency["distance"] == latency["value"] - latency["upper"] and latency["band_widths"] > 1
    assert (queue["alarm"], queue["value"]) == (None, 300.0)
    text = CliRunner().invoke(app, ["--home", home, "anomalies", "list"])
    assert text.exit_code == 0 and "300 is " in text.stdout and "above the band" in text.stdout


def test_a_marked_incident_is_excluded_from_every_band_until_unmarked(runtime) -> None:
    home = str(runtime.settings.home)
    cli = CliRunner()
    now = int(time.time() * 1000)
    start, end = now - 2 * DAY, now - 2 * DAY + 90 * 60_000
    marked = cli.invoke(app, ["--home", home, "anomalies", "mark-incident", "--start", str(start), "--end", str(end),
                              "--reason", "database failover", "--json"])
    assert marked.exit_code == 0, marked.output
    incident = orjson.loads(marked.stdout)
    assert (incident["start_ms"], incident["end_ms"], incident["reason"]) == (start, end, "database failover")
    listed = orjson.loads(cli.invoke(app, ["--home", home, "anomalies", "incidents", "--json"]).stdout)["incidents"]
    assert [i["id"] for i in listed] == [incident["id"]]

    detector = AnomalyDetector(namespace="App", metric_name="Latency", stat="Average")
    assert (start, end) in runtime.alarms.detector_settings(detector, now).excluded

    assert cli.invoke(app, ["--home", home, "anomalies", "unmark-incident", str(incident["id"])]).exit_code == 0
    assert (start, end) not in runtime.alarms.detector_settings(detector, now).excluded
    missing = cli.invoke(app, ["--home", home, "anomalies", "unmark-incident", str(incident["id"])])
    assert missing.exit_code == 1 and "no incident" in missing.output


def test_an_incident_needs_a_range_and_a_reason(runtime) -> None:
    home = str(runtime.settings.home)
    backwards = CliRunner().invoke(app, ["--home", home, "anomalies", "mark-incident", "--start", "2026-12-01T15:00Z",
                                         "--end", "2026-12-01T14:00Z", "--reason", "x"])
    assert backwards.exit_code == 2 and "must end after it starts" in backwards.output
    blank = CliRunner().invoke(app, ["--home", home, "anomalies", "mark-incident", "--start", "2026-12-01T14:00Z",
                                     "--end", "2026-12-01T15:00Z", "--reason", "  "])
    assert blank.exit_code == 2 and "reason" in blank.output
    assert "Traceback" not in backwards.output + blank.output
