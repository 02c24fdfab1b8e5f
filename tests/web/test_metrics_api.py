"""POST /v1/metrics/query: GetMetricData over HTTP, in our shape and in the AWS request shape."""

from __future__ import annotations

import httpx
from helpers import ServerThread

from whispersync.monitoring.store import TelemetryStore
from whispersync.web import create_app

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NS = "WhisperSync/Test"


def put(store: TelemetryStore, name: str, points: list[tuple[int, float]], **dims: str) -> None:
    store.put_metrics([
        {"namespace": NS, "name": name, "value": v, "timestamp": T0 + ms, "unit": "Count", "dimensions": dims}
        for ms, v in points
    ])


class TestHttp:
    def test_post_metrics_query(self, runtime) -> None:
        put(runtime.store, "Errors", [(0, 1)])
        put(runtime.store, "Invocations", [(0, 4)])
        body = {
            "queries": [
                {"id": "errors", "metric_stat": {"namespace": NS, "name": "Errors", "stat": "Sum", "period": 60},
                 "return_data": False},
                {"id": "invocations", "metric_stat": {"namespace": NS, "name": "Invocations", "period": 60},
                 "return_data": False},
                {"id": "pct", "expression": "errors/invocations*100", "label": "Error %"},
            ],
            "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z",
        }
        aws_body = {
            "MetricDataQueries": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "Errors"},
                                                              "Period": 60, "Stat": "Sum"}}],
            "StartTime": "2026-01-01T00:00:00Z", "EndTime": "2026-01-01T00:05:00Z",
        }
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            ok = client.post("/v1/metrics/query", json=body)
            aws = client.post("/v1/metrics/query", json=aws_body)
            bad = client.post("/v1/metrics/query", json={**body, "queries": [{"id": "e", "expression": "x +"}]})
            junk = client.post("/v1/metrics/query", content=b"{not json",
                               headers={"Content-Type": "application/json"})
        assert ok.status_code == 200
        assert ok.json() == {"results": [{"id": "pct", "label": "Error %", "timestamps": ["2026-01-01T00:00:00Z"],
                                          "values": [25.0], "status": "Complete", "unit": None}]}
        assert aws.json()["MetricDataResults"][0]["Values"] == [1.0]
        assert aws.json()["MetricDataResults"][0]["StatusCode"] == "Complete"
        assert bad.status_code == 400 and "column 4" in bad.json()["error"]["message"]
        assert bad.json()["error"]["code"] == "invalid_input"
        assert junk.status_code == 400 and junk.json()["error"]["code"] == "invalid_input"
