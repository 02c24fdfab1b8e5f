"""The CloudWatch dashboard operations: the same dashboards as `whispersync dashboards ...`."""

from __future__ import annotations

import json

import orjson
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.web.aws._dashboard_ops import LIST_PAGE

BODY = {"start": "-PT3H", "widgets": [
    {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
     "properties": {"title": "Errors", "region": "eu-west-1", "stat": "Sum", "period": 60,
                    "metrics": [["ApiTest", "Errors", "Service", "voice"]]}},
    {"type": "text", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {"markdown": "# hello"}}]}


def cli(runtime, *args: str) -> dict:
    result = CliRunner().invoke(app, ["--home", str(runtime.settings.home), *args, "--json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def exported(runtime, tmp_path) -> dict[str, dict]:
    """Every dashboard body as `whispersync dashboards export` writes it."""
    written = cli(runtime, "dashboards", "export", str(tmp_path / "export"))["dashboards"]
    return {d["name"]: orjson.loads(open(d["file"], "rb").read()) for d in written}


def test_put_get_list_delete_equal_the_cli(cw, tmp_path) -> None:
    runtime, client = cw
    answer = client.put_dashboard(DashboardName="api-made", DashboardBody=json.dumps(BODY))
    # The region property is a warning: the dashboard is kept, and the message says where.
    assert answer["DashboardValidationMessages"] == [
        {"DataPath": "/widgets/0/properties/region", "Message": answer["DashboardValidationMessages"][0]["Message"]}]
    listed = cli(runtime, "dashboards", "list")["dashboards"]
    assert {d["name"]: d["source"] for d in listed}["api-made"] == "stored"
    bodies = exported(runtime, tmp_path)
    entries = [e for p in client.get_paginator("list_dashboards").paginate() for e in p["DashboardEntries"]]
    assert [e["DashboardName"] for e in entries] == sorted(d["name"] for d in listed)
    for entry in entries:
        got = client.get_dashboard(DashboardName=entry["DashboardName"])
        assert json.loads(got["DashboardBody"]) == bodies[entry["DashboardName"]]
        assert got["DashboardArn"] == entry["DashboardArn"]
        assert entry["Size"] == len(got["DashboardBody"].encode())
    made = next(e for e in entries if e["DashboardName"] == "api-made")
    updated_at = next(d for d in listed if d["name"] == "api-made")["updated_at"]
    assert made["LastModified"].isoformat(timespec="milliseconds").replace("+00:00", "Z") == updated_at
    prefixed = client.list_dashboards(DashboardNamePrefix="api-")["DashboardEntries"]
    assert [e["DashboardName"] for e in prefixed] == ["api-made"]
    client.delete_dashboards(DashboardNames=["api-made"])
    assert "api-made" not in [d["name"] for d in cli(runtime, "dashboards", "list")["dashboards"]]


def error(call, **kwargs) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_errors_and_the_plan_dashboards(make_api, make_cloudwatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "json")
    plan_name = cli(runtime, "dashboards", "list")["dashboards"][0]["name"]
    original = client.get_dashboard(DashboardName=plan_name)["DashboardBody"]
    assert error(client.get_dashboard, DashboardName="nowhere")[:2] == ("ResourceNotFound", 404)
    code, status, message = error(client.put_dashboard, DashboardName="bad",
                                  DashboardBody=json.dumps({"widgets": [{"type": "metric"}]}))
    assert (code, status) == ("InvalidParameterInput", 400) and "/widgets/0" in message
    assert error(client.put_dashboard, DashboardName="bad", DashboardBody="{not json")[0] == "InvalidParameterInput"
    # A plan dashboard is not deleted, and an error deletes nothing of the request.
    client.put_dashboard(DashboardName="mine", DashboardBody=json.dumps(BODY))
    code, _, message = error(client.delete_dashboards, DashboardNames=["mine", plan_name])
    assert code == "InvalidParameterValue" and "monitoring plan" in message
    assert error(client.delete_dashboards, DashboardNames=["mine", "nowhere"])[:2] == ("ResourceNotFound", 404)
    assert client.get_dashboard(DashboardName="mine")["DashboardName"] == "mine"
    # PutDashboard replaces a plan dashboard; deleting that brings the plan's back.
    client.put_dashboard(DashboardName=plan_name, DashboardBody=json.dumps(BODY))
    assert json.loads(client.get_dashboard(DashboardName=plan_name)["DashboardBody"]) != json.loads(original)
    client.delete_dashboards(DashboardNames=[plan_name])
    assert client.get_dashboard(DashboardName=plan_name)["DashboardBody"] == original
    assert error(client.list_dashboards, NextToken="garbage")[0] == "InvalidParameterValue"


def test_list_dashboards_pages(make_api, make_cloudwatch, monkeypatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "query")
    monkeypatch.setattr("whispersync.web.aws._dashboard_ops.LIST_PAGE", 2)  # CloudWatch's page is 1,000
    assert LIST_PAGE == 1000
    for i in range(3):
        client.put_dashboard(DashboardName=f"paged-{i}", DashboardBody=json.dumps(BODY))
    pages = list(client.get_paginator("list_dashboards").paginate(DashboardNamePrefix="paged-"))
    assert [[e["DashboardName"] for e in p["DashboardEntries"]] for p in pages] == [["paged-0", "paged-1"],
                                                                                   ["paged-2"]]
