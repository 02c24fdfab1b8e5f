"""POST /v1/metrics/query answers exactly what get_metric_data computes, encoded by the route itself."""

from __future__ import annotations

import httpx
from helpers import ServerThread

from whispersync.monitoring.metrics import get_metric_data, parse_request
from whispersync.web import create_app

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NS = "WhisperSync/Test"
AGENTS = 20


class TestAnswer:
    def test_a_many_series_answer_is_get_metric_datas_in_both_shapes(self, runtime) -> None:
        """Our shape and GetMetricData's, for a graph of 20 series x 60 points, as the engine gives them."""
        runtime.store.put_metrics([
            {"namespace": NS, "name": "Duration", "value": (a * 7 + m) % 13 + 0.25, "timestamp": T0 + m * 60_000,
             "unit": "Milliseconds", "dimensions": {"AgentType": f"agent{a:02d}"}}
            for a in range(AGENTS) for m in range(60)
        ])
        ours = {"queries": [{"id": f"m{a}", "label": f"agent{a:02d}",
                             "metric_stat": {"namespace": NS, "name": "Duration", "stat": "Average", "period": 60,
                                             "dimensions": {"AgentType": f"agent{a:02d}"}}} for a in range(AGENTS)],
                "start": T0, "end": T0 + 3_600_000}
        aws = {"MetricDataQueries": [{"Id": q["id"], "MetricStat": {
                   "Metric": {"Namespace": NS, "MetricName": "Duration",
                              "Dimensions": [{"Name": "AgentType", "Value": q["label"]}]},
                   "Period": 60, "Stat": "Average"}} for q in ours["queries"]],
               "StartTime": "2026-01-01T00:00:00Z", "EndTime": "2026-01-01T01:00:00Z"}
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            got_ours = client.post("/v1/metrics/query", json=ours)
            got_aws = client.post("/v1/metrics/query", json=aws)
        for response, body, shape in ((got_ours, ours, "results"), (got_aws, aws, "MetricDataResults")):
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            queries, start_ms, end_ms, scan_by, is_aws = parse_request(body)
            expected = get_metric_data(runtime.store, queries, start_ms=start_ms, end_ms=end_ms, scan_by=scan_by)
            answer = response.json()
            assert answer[shape] == [r.to_aws() if is_aws else r.to_dict() for r in expected]
            assert len(answer[shape]) == AGENTS and all(len(r.get("values", r.get("Values"))) == 60
                                                        for r in answer[shape])
        assert got_aws.json()["Messages"] == []
