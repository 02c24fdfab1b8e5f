"""The alarm routes: PUT /v1/alarms stores a list of alarms all or none."""

from __future__ import annotations

import copy

import httpx
import pytest
from helpers import ServerThread

from whispersync.web import create_app

PUT_METRIC_ALARM = {
    "AlarmName": "HighErrors",
    "MetricName": "Errors",
    "Namespace": "WhisperSync/Worker",
    "Statistic": "Sum",
    "Dimensions": [{"Name": "FunctionName", "Value": "whispersync-worker"}],
    "Period": 60,
    "EvaluationPeriods": 3,
    "Threshold": 5.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}


def _with(**changes):
    request = copy.deepcopy(PUT_METRIC_ALARM)
    request.update(changes)
    return request


class TestPutOverHttp:
    """PUT /v1/alarms with a list is atomic: every alarm is validated and stored, or none is."""

    @pytest.fixture
    def api(self, runtime):
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client

    @pytest.mark.parametrize("third", [
        {"AlarmName": "Third", "AlarmRule": "ALARM(First) OR ALARM(NoSuchAlarm)"},  # fails only when stored
        _with(AlarmName="Third", Period=45),                                         # fails when parsed
    ])
    def test_a_list_whose_third_alarm_is_bad_stores_nothing(self, api, runtime, third):
        response = api.put("/v1/alarms", json=[_with(AlarmName="First"), _with(AlarmName="Second"), third])
        assert response.status_code == 400, response.text
        assert "Third" in response.json()["error"]["message"] or "[2]" in response.json()["error"]["message"]
        assert runtime.alarms.alarm_store.definitions() == []
        names = {a["name"] for a in api.get("/v1/alarms").json()["alarms"]}
        assert not names & {"First", "Second", "Third"}

    def test_a_good_list_is_stored_whole(self, api, runtime):
        third = {"AlarmName": "Third", "AlarmRule": "ALARM(First) OR ALARM(Second)"}
        response = api.put("/v1/alarms", json=[_with(AlarmName="First"), _with(AlarmName="Second"), third])
        assert response.status_code == 200, response.text
        assert [(a["name"], a["replaced"]) for a in response.json()["alarms"]] == [
            ("First", False), ("Second", False), ("Third", False)]
        assert [a.name for a in runtime.alarms.alarm_store.definitions()] == ["First", "Second", "Third"]


class TestEvaluateInThePast:
    """POST /v1/alarms/evaluate at a time before an alarm's last state change is a dry run."""

    @pytest.fixture
    def api(self, runtime):
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client

    def test_it_answers_what_would_be_and_changes_nothing(self, api):
        assert api.put("/v1/alarms", json=_with(AlarmName="First")).status_code == 200
        assert api.post("/v1/alarms/First/state", json={"state": "ALARM", "reason": "drill"}).status_code == 200
        before = {a["name"]: a for a in api.get("/v1/alarms").json()["alarms"]}["First"]

        response = api.post("/v1/alarms/evaluate", json={"at": "2020-01-01T00:00:00Z"})

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["dry_run"] is True
        first = {a["name"]: a for a in body["alarms"]}["First"]
        assert (first["previous_state"], first["state"], first["dry_run"]) == ("ALARM", "INSUFFICIENT_DATA", True)
        after = {a["name"]: a for a in api.get("/v1/alarms").json()["alarms"]}["First"]
        assert (after["state"], after["updated_at"]) == ("ALARM", before["updated_at"])

    def test_a_dry_run_can_be_asked_for_and_must_be_a_boolean(self, api):
        response = api.post("/v1/alarms/evaluate", json={"dry_run": True})
        assert response.status_code == 200 and response.json()["dry_run"] is True
        assert api.post("/v1/alarms/evaluate", json={"dry_run": "yes"}).status_code == 400


class TestDescribeAlarmsShape:
    """GET /v1/alarms?format=cloudwatch answers what `alarms list --format cloudwatch` prints."""

    @pytest.fixture
    def api(self, runtime):
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client

    def test_it_is_describe_alarms_and_imports_back(self, api):
        third = {"AlarmName": "Third", "AlarmRule": "ALARM(First)"}
        assert api.put("/v1/alarms", json=[_with(AlarmName="First"), third]).status_code == 200
        answer = api.get("/v1/alarms", params={"format": "cloudwatch"}).json()
        assert set(answer) == {"MetricAlarms", "CompositeAlarms"}
        first = next(a for a in answer["MetricAlarms"] if a["AlarmName"] == "First")
        assert first["AlarmArn"].endswith(":alarm:First") and first["Threshold"] == 5.0
        assert [a["AlarmRule"] for a in answer["CompositeAlarms"] if a["AlarmName"] == "Third"] == ["ALARM(First)"]

    def test_an_unknown_format_is_a_clear_400(self, api):
        response = api.get("/v1/alarms", params={"format": "xml"})
        assert response.status_code == 400
        assert "format=cloudwatch" in response.json()["error"]["message"]
