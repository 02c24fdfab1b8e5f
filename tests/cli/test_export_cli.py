"""`whispersync export ...` as real processes writing real files."""

from __future__ import annotations

import json

import orjson
import pytest

from helpers import run_cli

pytest.importorskip("grafana_foundation_sdk")

MY_DASHBOARD = (b'[[dashboards]]\nname = "my-errors"\nstart = "-PT6H"\n\n'
                b'[[dashboards.widgets]]\ntype = "metric"\nx = 0\ny = 0\nwidth = 12\nheight = 6\n\n'
                b'[dashboards.widgets.properties]\ntitle = "Worker errors"\nperiod = 60\nliveData = true\n'
                b'metrics = [["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker",'
                b' { stat = "Sum" }]]\n')


class TestExportGrafana:
    def test_it_writes_one_dashboard_per_plan_dashboard_and_lists_what_is_not_carried(self, cli_env, tmp_path) -> None:
        out = tmp_path / "grafana" / "cloudwatch"
        result = run_cli(cli_env, "export", "grafana", "--datasource", "cloudwatch", str(out))
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["cost.json", "executive.json", "queue-health.json",
                                                         "worker-performance.json"]
        executive = json.loads((out / "executive.json").read_text())
        assert executive["title"] == "executive" and executive["schemaVersion"] == 41
        assert {t["datasource"]["type"] for p in executive["panels"] for t in p.get("targets", [])} == {"cloudwatch"}
        assert f"wrote {out / 'executive.json'}" in result.stdout
        assert "executive /widgets/0 properties/trend: " in result.stderr  # reported, not dropped

    def test_json_output_and_a_plan_file(self, cli_env, tmp_path) -> None:
        plan = tmp_path / "plan.toml"
        plan.write_bytes(MY_DASHBOARD)
        out = tmp_path / "out"
        result = run_cli(cli_env, "export", "grafana", "--plan", str(plan), "--json", str(out))
        assert result.returncode == 0, result.stderr
        report = orjson.loads(result.stdout)
        assert report["datasource"] == "prometheus"
        assert {"dashboard": "my-errors", "file": str(out / "my-errors.json")} in report["dashboards"]
        assert {"dashboard": "my-errors", "widget": "/widgets/0", "property": "properties/liveData",
                "reason": "liveData is not carried"} in report["not_carried"]
        mine = json.loads((out / "my-errors.json").read_text())
        target, = mine["panels"][0]["targets"]
        assert target["expr"] == ('sum(increase(whispersync_worker_errors_total{function_name="whispersync-worker"}'
                                  '[$__interval]))')
        assert mine["time"] == {"from": "now-6h", "to": "now"}

    def test_an_unknown_datasource_is_a_usage_error(self, cli_env, tmp_path) -> None:
        result = run_cli({**cli_env, "COLUMNS": "250"}, "export", "grafana", "--datasource", "influx",
                         str(tmp_path / "out"))
        assert result.returncode == 2
        assert "'influx': use one of prometheus, cloudwatch" in result.stderr
        assert not (tmp_path / "out").exists()

    def test_a_bad_plan_file_is_a_clear_error(self, cli_env, tmp_path) -> None:
        plan = tmp_path / "plan.toml"
        plan.write_bytes(b'[[dashboards]]\nname = "bad name"\n')
        result = run_cli(cli_env, "export", "grafana", "--plan", str(plan), str(tmp_path / "out"))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and "plan.toml" in result.stderr
