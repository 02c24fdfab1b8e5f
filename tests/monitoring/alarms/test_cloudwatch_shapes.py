"""DescribeAlarms' shape out and in (monitoring/alarms/_cloudwatch.py): the exported alarms match the
CloudWatch service model, imports map ARNs and actions, and a round trip keeps definitions and evaluations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from whispersync.monitoring.alarms import (
    AlarmEngine,
    AlarmError,
    AlarmInputError,
    AlarmStore,
    describe_alarms,
    import_alarms,
    parse_alarm_request,
    plan_import,
    read_actions_map,
)
from whispersync.monitoring.alarms._cloudwatch import (
    READ_ONLY_FIELDS,
    ImportedAlarm,
    _request,
    describe_alarm,
    local_action,
)
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.times import parse_time
from whispersync.plan import ALARM, INSUFFICIENT_DATA, OK, CompositeAlarm, MetricAlarm, MetricDataQuery, MetricStat

NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z, a whole minute
PROD = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"
SNS = "arn:aws:sns:eu-west-1:123456789012:"

ERRORS = MetricAlarm("WorkerErrors", namespace="WS/Worker", metric_name="Errors", dimensions={"FunctionName": "w"},
                     statistic="Sum", period=60, threshold=2, evaluation_periods=3, datapoints_to_alarm=2,
                     treat_missing_data="notBreaching", priority="P1", description="worker errors",
                     alarm_actions=("topic:critical",), ok_actions=("topic:critical",), tags={"team": "voice"})
LATENCY = MetricAlarm("LatencyP90", namespace="WS/Worker", metric_name="Duration", dimensions={"FunctionName": "w"},
                      statistic="p90", period=60, threshold=500, evaluation_periods=2, unit="Milliseconds",
                      evaluate_low_sample_count_percentile="evaluate", comparison_operator="GreaterThanThreshold",
                      alarm_actions=("topic:medium", "remediation:scale_up"))
RATE = MetricAlarm("ErrorRate", threshold=10, evaluation_periods=2, comparison_operator="GreaterThanThreshold",
                   priority="P2", treat_missing_data="breaching", metrics=(
                       MetricDataQuery("rate", expression="100 * e / i", label="rate"),
                       MetricDataQuery("e", MetricStat("WS/Worker", "Errors", {"FunctionName": "w"}, "Sum", 60),
                                       return_data=False),
                       MetricDataQuery("i", MetricStat("WS/Worker", "Invocations", {"FunctionName": "w"}, "Sum", 60),
                                       return_data=False)))
COMBINED = CompositeAlarm("Combined", rule="ALARM(WorkerErrors) AND NOT OK(\"LatencyP90\")", priority="P1",
                          alarm_actions=("topic:critical",))
TOP = CompositeAlarm("Top", rule="ALARM(Combined) OR AT_LEAST(1, ALARM, (ErrorRate, WorkerErrors))",
                     actions_enabled=False, insufficient_data_actions=("topic:low",))
ALARMS = [ERRORS, LATENCY, RATE, COMBINED, TOP]


@pytest.fixture
def homes(tmp_path: Path):
    """Two engines over their own telemetry and alarm stores, as two homes: stored alarms only."""
    made = []

    def home(name: str) -> AlarmEngine:
        store = TelemetryStore(tmp_path / name / "telemetry")
        alarm_store = AlarmStore(tmp_path / name / "monitoring.sqlite3")
        engine = AlarmEngine(store, alarm_store, definitions=alarm_store.definitions, notifier=_Notifier())
        made.append(engine)
        return engine

    yield home
    for engine in made:
        engine.store.close()
        engine.alarm_store.close()


class _Notifier:
    """The notification port's edge: what was published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, object]] = []

    def publish(self, topic, notification):
        self.published.append((topic, notification))
        return []


def _model():
    botocore_session = pytest.importorskip("botocore.session")
    return botocore_session.get_session().get_service_model("cloudwatch")


def _conforms(value, shape, where: str) -> list[str]:
    """Where ``value`` is not of the service model's ``shape``; timestamps are the AWS CLI's ISO 8601 strings."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        problems = [f"{where}.{k}: not a member of {shape.name}" for k in value if k not in shape.members]
        for k, v in value.items():
            if k in shape.members:
                problems += _conforms(v, shape.members[k], f"{where}.{k}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, v in enumerate(value) for p in _conforms(v, shape.member, f"{where}[{i}]")]
    if kind == "timestamp":
        return [] if isinstance(value, str) and parse_time(value) and value.endswith("Z") else [f"{where}: {value!r}"]
    expected = {"string": str, "integer": int, "double": float, "boolean": bool}[kind]
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if ok and kind == "string" and shape.enum:
        ok = value in shape.enum
    return [] if ok else [f"{where}: {value!r} is not a {kind}"]


def _by_name(document) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in document["MetricAlarms"] + document["CompositeAlarms"]}


class TestDescribeAlarms:
    def test_every_alarm_has_the_service_models_shape(self, homes) -> None:
        """Each exported alarm is a MetricAlarm or CompositeAlarm of botocore's model (Tags added, as documented)."""
        engine = homes("a")
        engine.put_all(ALARMS)
        engine.set_state("WorkerErrors", ALARM, "drill", {"version": "1.0", "threshold": 2.0}, at_ms=NOW)
        document = describe_alarms(engine)
        model = _model()
        assert set(document) == {"MetricAlarms", "CompositeAlarms"}
        assert [a["AlarmName"] for a in document["CompositeAlarms"]] == ["Combined", "Top"]
        for key, shape in (("MetricAlarms", "MetricAlarm"), ("CompositeAlarms", "CompositeAlarm")):
            for alarm in document[key]:
                tags = alarm.pop("Tags")
                assert _conforms(alarm, model.shape_for(shape), alarm["AlarmName"]) == []
                assert tags[0] == {"Key": "Priority", "Value": _priority(alarm["AlarmName"])}

    def test_without_the_read_only_fields_each_alarm_is_a_put_request_boto3_accepts(self, homes) -> None:
        from botocore.validate import ParamValidator

        engine = homes("a")
        engine.put_all(ALARMS)
        model = _model()
        for alarm in describe_alarms(engine)["MetricAlarms"] + describe_alarms(engine)["CompositeAlarms"]:
            request = {k: v for k, v in alarm.items() if k not in READ_ONLY_FIELDS}
            operation = "PutCompositeAlarm" if "AlarmRule" in request else "PutMetricAlarm"
            report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
            assert not report.has_errors(), report.generate_report()

    def test_fields_say_what_cloudwatch_says(self, homes) -> None:
        engine = homes("a")
        engine.put_all(ALARMS)
        engine.set_state("WorkerErrors", ALARM, "drill", {"version": "1.0", "threshold": 2.0}, at_ms=NOW)
        alarms = _by_name(describe_alarms(engine))
        errors = alarms["WorkerErrors"]
        assert errors["AlarmArn"] == "arn:aws:cloudwatch:local:000000000000:alarm:WorkerErrors"
        assert errors["AlarmActions"] == errors["OKActions"] == ["arn:aws:sns:local:000000000000:critical"]
        assert (errors["StateValue"], errors["StateReason"]) == (ALARM, "drill")
        assert orjson.loads(errors["StateReasonData"]) == {"version": "1.0", "threshold": 2.0}
        assert errors["StateUpdatedTimestamp"] == errors["StateTransitionedTimestamp"] == "2027-01-15T08:00:00.000Z"
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": "w"}]
        assert (errors["Statistic"], errors["DatapointsToAlarm"], errors["Threshold"]) == ("Sum", 2, 2.0)
        assert {"Key": "team", "Value": "voice"} in errors["Tags"]
        assert "AlarmConfigurationUpdatedTimestamp" in errors
        latency = alarms["LatencyP90"]
        assert latency["ExtendedStatistic"] == "p90" and "Statistic" not in latency
        assert latency["AlarmActions"][1] == "remediation:scale_up"  # no AWS form: as it is
        assert (latency["StateValue"], latency["StateReason"]) == \
            (INSUFFICIENT_DATA, "Unchecked: Initial alarm creation")
        assert "StateUpdatedTimestamp" not in latency and "StateReasonData" not in latency
        rate = alarms["ErrorRate"]
        assert "Namespace" not in rate and "Period" not in rate
        assert rate["Metrics"][1]["MetricStat"] == {
            "Metric": {"Namespace": "WS/Worker", "MetricName": "Errors",
                       "Dimensions": [{"Name": "FunctionName", "Value": "w"}]}, "Period": 60, "Stat": "Sum"}
        assert [q["ReturnData"] for q in rate["Metrics"]] == [True, False, False]
        assert alarms["Top"]["AlarmRule"] == TOP.rule and alarms["Top"]["ActionsEnabled"] is False

    def test_state_filter(self, homes) -> None:
        engine = homes("a")
        engine.put_all(ALARMS)
        engine.set_state("WorkerErrors", ALARM, "drill", at_ms=NOW)
        assert list(_by_name(describe_alarms(engine, ALARM))) == ["WorkerErrors"]

    def test_an_actions_suppressor_is_written_as_an_alarm_arn(self) -> None:
        alarm = CompositeAlarm("C", rule="ALARM(A)")
        # Set past the model's checks: the exporter reads these attributes when an alarm has them.
        object.__setattr__(alarm, "actions_suppressor", "Maintenance")
        object.__setattr__(alarm, "actions_suppressor_wait_period", 120)
        object.__setattr__(alarm, "actions_suppressor_extension_period", 60)
        described = describe_alarm(alarm)
        assert described["ActionsSuppressor"] == "arn:aws:cloudwatch:local:000000000000:alarm:Maintenance"
        assert (described["ActionsSuppressorWaitPeriod"], described["ActionsSuppressorExtensionPeriod"]) == (120, 60)
        assert "ActionsSuppressor" not in describe_alarm(CompositeAlarm("C", rule="ALARM(A)"))

    def test_actions_held_back_say_by_what(self) -> None:
        held = describe_alarm(CompositeAlarm("C", rule="ALARM(A)"), suppressed_by="WaitPeriod",
                              suppressed_reason="waiting for Maintenance")
        assert (held["ActionsSuppressedBy"], held["ActionsSuppressedReason"]) == \
            ("WaitPeriod", "waiting for Maintenance")
        del held["Tags"]
        assert _conforms(held, _model().shape_for("CompositeAlarm"), "C") == []
        assert "ActionsSuppressedBy" not in describe_alarm(CompositeAlarm("C", rule="ALARM(A)"))


def _priority(name: str) -> str:
    return next(a.priority for a in ALARMS if a.name == name)


class TestLocalActions:
    @pytest.mark.parametrize(("action", "local"), [
        (SNS + "prod-critical", "topic:critical"),
        (SNS + "critical", "topic:critical"),
        (SNS + "alerts_P2", "topic:high"),
        (SNS + "team.medium", "topic:medium"),
        (SNS + "ops-p4", "topic:low"),
        ("arn:aws-cn:sns:cn-north-1:123456789012:oncall-high", "topic:high"),
        ("arn:aws:sns:local:000000000000:custom", "topic:custom"),  # ours, from `alarms list --format cloudwatch`
        ("topic:high", "topic:high"),
        ("remediation:scale_up", "remediation:scale_up"),
        ("critical", "critical"),
    ])
    def test_it_maps_sns_topics_by_name(self, action, local) -> None:
        assert local_action(action) == (local, None)

    @pytest.mark.parametrize(("action", "words"), [
        (SNS + "oncall", "no local topic for SNS topic 'oncall'"),
        ("arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:1:autoScalingGroupName/web:policyName/up",
         "an Auto Scaling policy"),
        ("arn:aws:automate:eu-west-1:ec2:stop", "an EC2 action"),
        ("arn:aws:ssm:eu-west-1:123456789012:opsitem:3#CATEGORY=Availability", "a Systems Manager OpsItem"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:restart", "a Lambda function"),
    ])
    def test_it_drops_what_cannot_run_here_and_says_what_it_was(self, action, words) -> None:
        local, why = local_action(action)
        assert local is None and words in why

    def test_a_map_entry_wins_by_arn_or_by_topic_name(self) -> None:
        actions_map = {SNS + "prod-critical": "topic:low", "oncall": "topic:high",
                       "arn:aws:lambda:eu-west-1:123456789012:function:restart": "remediation:scale_up"}
        assert local_action(SNS + "prod-critical", actions_map) == ("topic:low", None)
        assert local_action("arn:aws:sns:us-east-1:999999999999:oncall", actions_map) == ("topic:high", None)
        assert local_action("arn:aws:lambda:eu-west-1:123456789012:function:restart", actions_map) == \
            ("remediation:scale_up", None)


class TestReadActionsMap:
    def test_json_and_toml_with_topics_priorities_and_remediations(self) -> None:
        json_map = orjson.dumps({SNS + "a": "critical", SNS + "b": "P3", "c": "topic:low", "d": "remediation:x"})
        toml_map = f'"{SNS}a" = "critical"\n"{SNS}b" = "P3"\nc = "topic:low"\nd = "remediation:x"\n'.encode()
        expected = {SNS + "a": "topic:critical", SNS + "b": "topic:medium", "c": "topic:low", "d": "remediation:x"}
        assert read_actions_map(json_map) == read_actions_map(toml_map) == expected

    @pytest.mark.parametrize(("data", "field", "words"), [
        (b'{"arn:aws:sns:x:1:t": "critcal"}', "arn:aws:sns:x:1:t", "must map to critical, high, medium, low"),
        (b'{"t": 3}', "t", "must map to"),
        (b'{"t": "topic:nope"}', "t", "must map to"),
        (b'{"t": "remediation:nope"}', "t", "no remediation named 'nope'; known: scale_up"),
        (b'["critical"]', "file", "must be an object"),
        (b'{not json = nor toml', "file", "is neither JSON"),
    ])
    def test_a_bad_map_names_the_entry(self, data, field, words) -> None:
        with pytest.raises(AlarmInputError) as caught:
            read_actions_map(data, remediations=["scale_up"])
        assert caught.value.field == field and words in str(caught.value)


def _metric(name: str, **fields) -> dict:
    return {"AlarmName": name, "AlarmArn": PROD + name, "StateValue": OK, "StateReason": "fine",
            "Namespace": "WS/Worker", "MetricName": "Errors", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
            "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold", "Dimensions": [], "OKActions": [],
            "AlarmActions": [], "InsufficientDataActions": [], "ActionsEnabled": True, **fields}


class TestPlanImport:
    def test_rule_arns_become_names_and_composites_come_after_what_they_name(self) -> None:
        document = {"CompositeAlarms": [
            {"AlarmName": "Outer", "AlarmRule": f'ALARM("{PROD}Inner") OR OK(A)'},
            {"AlarmName": "Inner", "AlarmRule": f"ALARM({PROD}A) AND AT_LEAST(1, ALARM, ({PROD}A, B))"},
        ], "MetricAlarms": [_metric("A"), _metric("B")]}
        report = plan_import(document, existing={})
        assert [a.name for a in report.alarms] == ["A", "B", "Inner", "Outer"]
        alarms = {a.name: a.alarm for a in report.alarms}
        assert alarms["Outer"].rule == 'ALARM("Inner") OR OK(A)'
        assert alarms["Inner"].rule == "ALARM(A) AND AT_LEAST(1, ALARM, (A, B))"
        assert [a.outcome for a in report.alarms] == ["created"] * 4

    def test_an_actions_suppressor_arn_becomes_a_name_and_the_periods_go_without_one(self) -> None:
        item = ImportedAlarm("C", "composite", "alarm")
        request = _request({"AlarmName": "C", "AlarmRule": "ALARM(A)", "ActionsSuppressor": PROD + "Maintenance",
                            "ActionsSuppressorWaitPeriod": 60, "ActionsSuppressorExtensionPeriod": 0}, item, {})
        assert request["ActionsSuppressor"] == "Maintenance" and request["ActionsSuppressorWaitPeriod"] == 60
        bare = _request({"AlarmName": "C", "AlarmRule": "ALARM(A)", "ActionsSuppressorWaitPeriod": 0,
                         "ActionsSuppressorExtensionPeriod": 0}, item, {})
        assert not {"ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"} & set(bare)
        parse_alarm_request(bare)  # CloudWatch's zero periods of an alarm without a suppressor are not refused

    def test_a_suppressor_arn_names_an_alarm_that_comes_first_or_is_already_here(self) -> None:
        document = {"CompositeAlarms": [
            {"AlarmName": "Paged", "AlarmRule": "ALARM(A)", "ActionsSuppressor": PROD + "Maintenance",
             "ActionsSuppressorWaitPeriod": 120, "ActionsSuppressorExtensionPeriod": 60},
            {"AlarmName": "Maintenance", "AlarmRule": "ALARM(B)"}], "MetricAlarms": [_metric("A"), _metric("B")]}
        report = plan_import(document, existing={})
        assert [a.name for a in report.alarms] == ["A", "B", "Maintenance", "Paged"]
        paged = report.alarms[-1].alarm
        assert (paged.actions_suppressor, paged.actions_suppressor_wait_period) == ("Maintenance", 120)
        alone = {"AlarmName": "Paged", "AlarmRule": "TRUE", "ActionsSuppressor": PROD + "Gone",
                 "ActionsSuppressorWaitPeriod": 0, "ActionsSuppressorExtensionPeriod": 0}
        with pytest.raises(AlarmInputError, match="names alarm\\(s\\) Gone") as caught:
            plan_import(alone, existing={})
        assert caught.value.field == "alarm.ActionsSuppressor"
        here = {"Gone": replace(ERRORS, name="Gone")}
        assert plan_import({**alone, "ActionsSuppressor": "Gone"}, existing=here).alarms[0].outcome == "created"

    def test_actions_are_mapped_or_dropped_and_the_priority_follows_the_paging_topic(self) -> None:
        raw = _metric("A", AlarmActions=[SNS + "prod-low", SNS + "prod-critical", SNS + "pager-p1",
                                         "arn:aws:automate:eu-west-1:ec2:reboot"], OKActions=[SNS + "prod-critical"])
        item = plan_import(raw, existing={}).alarms[0]
        assert item.alarm.alarm_actions == ("topic:low", "topic:critical")  # two topics that page: one page here
        assert item.alarm.ok_actions == ("topic:critical",)
        assert (item.alarm.priority, item.priority_from) == ("P1", "topic")
        assert item.mapped_actions[0] == {"field": "AlarmActions", "from": SNS + "prod-low", "to": "topic:low"}
        assert [d["action"] for d in item.dropped_actions] == ["arn:aws:automate:eu-west-1:ec2:reboot"]

    def test_the_priority_tag_becomes_the_priority_and_leaves_the_tags(self) -> None:
        raw = _metric("A", AlarmActions=[SNS + "prod-critical"],
                      Tags=[{"Key": "Priority", "Value": "P4"}, {"Key": "team", "Value": "voice"}])
        item = plan_import([raw], existing={}).alarms[0]
        assert (item.alarm.priority, item.priority_from, dict(item.alarm.tags)) == ("P4", "tag", {"team": "voice"})
        plain = plan_import(_metric("A"), existing={}).alarms[0]
        assert (plain.alarm.priority, plain.priority_from) == ("P3", "default")

    def test_a_math_alarm_as_cloudwatch_lists_it(self) -> None:
        raw = {k: v for k, v in _metric("Rate").items() if k not in ("Namespace", "MetricName", "Statistic", "Period")}
        raw["Metrics"] = [{"Id": "e", "Expression": "m * 2", "ReturnData": True},
                          {"Id": "m", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M", "Dimensions": []},
                                                     "Period": 60, "Stat": "Sum"}, "ReturnData": False}]
        item = plan_import(raw, existing={}).alarms[0]
        assert item.outcome == "created" and item.alarm.metrics[0].expression == "m * 2"

    def test_unsupported_alarms_are_skipped_and_so_are_composites_naming_them(self) -> None:
        anomaly = _metric("Anomaly", ThresholdMetricId="ad1")
        promql = {"AlarmName": "Prom", "EvaluationCriteria": {"PromQLCriteria": {"Query": "up == 0"}},
                  "EvaluationInterval": 60}
        document = {"MetricAlarms": [anomaly, promql, _metric("Fine")], "CompositeAlarms": [
            {"AlarmName": "Uses", "AlarmRule": "ALARM(Anomaly) OR ALARM(Fine)"},
            {"AlarmName": "UsesUses", "AlarmRule": "ALARM(Uses)"},
            {"AlarmName": "Ok", "AlarmRule": "ALARM(Fine)"}]}
        report = plan_import(document, existing={})
        outcomes = {a.name: (a.outcome, a.reason) for a in report.alarms}
        assert outcomes["Anomaly"][0] == "skipped" and outcomes["Anomaly"][1].startswith("ThresholdMetricId:")
        assert outcomes["Prom"][0] == "skipped" and "PromQL" in outcomes["Prom"][1]
        assert outcomes["Uses"] == ("skipped", "it names alarm(s) Anomaly, which are skipped")
        assert outcomes["UsesUses"] == ("skipped", "it names alarm(s) Uses, which are skipped")
        assert outcomes["Fine"][0] == outcomes["Ok"][0] == "created"
        assert (report.count("created"), report.count("skipped")) == (2, 4)

    @pytest.mark.parametrize(("document", "field", "words"), [
        ("text", "file", "expected what `aws cloudwatch describe-alarms` prints"),
        ({"Alarms": []}, "file", "expected what"),
        ({"MetricAlarms": {}}, "MetricAlarms", "must be a list"),
        ({"MetricAlarms": [], "Extra": 1}, "Extra", "unknown field"),
        ({"MetricAlarms": ["x"]}, "MetricAlarms[0]", "must be an alarm object"),
        ({"MetricAlarms": [{"Namespace": "N"}]}, "MetricAlarms[0].AlarmName", "must be a non-empty string"),
        ({"MetricAlarms": [{"AlarmName": "C", "AlarmRule": "TRUE"}]}, "MetricAlarms[0].AlarmRule", "CompositeAlarms"),
        ({"CompositeAlarms": [{"AlarmName": "C"}]}, "CompositeAlarms[0].AlarmRule", "is required"),
        ([_metric("A"), _metric("A")], "[1].AlarmName", "'A' is also at [0]"),
        ({"CompositeAlarms": [{"AlarmName": "C", "AlarmRule": f"ALARM({PROD}Gone)"}]}, "CompositeAlarms[0].AlarmRule",
         "names alarm(s) Gone, which are neither in the file nor in this home"),
    ])
    def test_a_file_that_cannot_be_imported_names_the_place(self, document, field, words) -> None:
        with pytest.raises(AlarmInputError) as caught:
            plan_import(document, existing={})
        assert caught.value.field == field and words in str(caught.value)

    def test_boto3s_answer_is_taken_and_one_page_of_it_is_pointed_out(self) -> None:
        answer = {"MetricAlarms": [_metric("A")], "ResponseMetadata": {"HTTPStatusCode": 200}}
        assert plan_import(answer, existing={}).warnings == []
        paged = plan_import({**answer, "NextToken": "abc"}, existing={})
        assert paged.alarms[0].outcome == "created" and "NextToken" in paged.warnings[0]

    def test_a_cycle_is_refused(self) -> None:
        document = {"CompositeAlarms": [{"AlarmName": "X", "AlarmRule": "ALARM(Y)"},
                                        {"AlarmName": "Y", "AlarmRule": "ALARM(X)"}]}
        with pytest.raises(AlarmError, match="cycle"):
            plan_import(document, existing={})

    def test_a_rule_may_name_an_alarm_of_this_home(self) -> None:
        report = plan_import({"CompositeAlarms": [{"AlarmName": "C", "AlarmRule": "ALARM(WorkerErrors)"}]},
                             existing={"WorkerErrors": ERRORS})
        assert report.alarms[0].outcome == "created"

    def test_the_state_is_read_only_when_asked(self) -> None:
        raw = _metric("A", StateValue=ALARM, StateReason="Threshold Crossed",
                      StateReasonData='{"version": "1.0", "threshold": 1.0}',
                      StateUpdatedTimestamp="2027-01-15T07:00:00.000Z")
        assert plan_import(raw, existing={}).alarms[0].state is None
        state = plan_import(raw, existing={}, keep_state=True, now_ms=NOW).alarms[0].state
        assert state == {"value": ALARM, "reason": "Threshold Crossed",
                         "reason_data": {"version": "1.0", "threshold": 1.0}, "at_ms": NOW - 3_600_000}
        future = plan_import({**raw, "StateUpdatedTimestamp": "2030-01-01T00:00:00+00:00"}, existing={},
                             keep_state=True, now_ms=NOW).alarms[0].state
        assert future["at_ms"] == NOW  # never in our future
        with pytest.raises(AlarmInputError, match="StateReasonData"):
            plan_import({**raw, "StateReasonData": "not json"}, existing={}, keep_state=True)
        with pytest.raises(AlarmInputError, match="StateValue"):
            plan_import({**raw, "StateValue": "BROKEN"}, existing={}, keep_state=True)


class TestImportIntoAnEngine:
    def test_importing_twice_changes_nothing_the_second_time(self, homes) -> None:
        source, target = homes("a"), homes("b")
        source.put_all(ALARMS)
        document = describe_alarms(source)
        first = import_alarms(target, document)
        assert [a.outcome for a in first.alarms] == ["created"] * 5
        history = {a.name: target.alarm_store.history(a.name) for a in ALARMS}
        again = import_alarms(target, document)
        assert [a.outcome for a in again.alarms] == ["unchanged"] * 5
        assert {a.name: target.alarm_store.history(a.name) for a in ALARMS} == history

    def test_an_alarm_put_with_a_priority_tag_comes_back_unchanged(self, homes) -> None:
        """The import keeps the priority as a field; the tag `alarms put` also kept is not a change."""
        engine = homes("a")
        engine.put_all([parse_alarm_request({"AlarmName": "T", "AlarmRule": "TRUE",
                                             "Tags": [{"Key": "Priority", "Value": "P2"}]})])
        item = import_alarms(engine, describe_alarms(engine)).alarms[0]
        assert (item.outcome, item.alarm.priority, dict(item.alarm.tags)) == ("unchanged", "P2", {})

    def test_a_changed_alarm_is_updated(self, homes) -> None:
        engine = homes("a")
        engine.put_all(ALARMS)
        document = describe_alarms(engine)
        document["MetricAlarms"][0]["Threshold"] = 99.0
        report = import_alarms(engine, document)
        changed = [(a.name, a.outcome, a.changes) for a in report.alarms if a.outcome != "unchanged"]
        assert changed == [(document["MetricAlarms"][0]["AlarmName"], "updated", ["definition"])]

    def test_keep_state_sets_states_without_running_actions(self, homes) -> None:
        source, target = homes("a"), homes("b")
        source.put_all(ALARMS)
        source.set_state("WorkerErrors", ALARM, "drill", {"version": "1.0"}, at_ms=NOW - 60_000)
        published = len(source.notifier.published)
        document = describe_alarms(source)
        report = import_alarms(target, document, keep_state=True, now_ms=NOW)
        assert target.alarm_store.states()["WorkerErrors"] == {
            "state": ALARM, "reason": "drill", "reason_data": {"version": "1.0"}, "updated_ms": NOW - 60_000}
        assert target.notifier.published == [] and published == 1
        history = target.alarm_store.history("WorkerErrors")
        assert not [h for h in history if h["type"] == "Action"]
        assert [(h["summary"], h["timestamp_ms"]) for h in history if h["type"] == "StateUpdate"] == [
            ("Alarm updated from INSUFFICIENT_DATA to ALARM", NOW - 60_000)]
        again = import_alarms(target, document, keep_state=True, now_ms=NOW)
        assert {a.outcome for a in again.alarms} == {"unchanged"}
        target.alarm_store.set_state("WorkerErrors", OK, "moved on", {}, NOW, previous=ALARM)
        third = import_alarms(target, document, keep_state=True, now_ms=NOW)
        assert [(a.name, a.changes) for a in third.alarms if a.changes] == [("WorkerErrors", ["state"])]
        assert report.count("created") == 5

    def test_a_dry_run_writes_nothing(self, homes) -> None:
        source, target = homes("a"), homes("b")
        source.put_all(ALARMS)
        report = import_alarms(target, describe_alarms(source), keep_state=True, dry_run=True)
        assert report.dry_run and report.count("created") == 5
        assert target.alarm_store.definitions() == [] and target.alarm_store.states() == {}

    def test_a_refused_file_writes_nothing(self, homes) -> None:
        engine = homes("a")
        document = {"MetricAlarms": [_metric("A")],
                    "CompositeAlarms": [{"AlarmName": "C", "AlarmRule": "ALARM(A) OR ALARM(Missing)"}]}
        with pytest.raises(AlarmInputError, match="Missing"):
            import_alarms(engine, document)
        assert engine.alarm_store.definitions() == []


def _put(store: TelemetryStore, series: dict[tuple[str, str], list[float | None]], start: int) -> None:
    """One datapoint a minute from ``start``, per (metric, value list); None leaves a minute out."""
    records = [{"namespace": "WS/Worker", "name": name, "value": v, "unit": unit, "dimensions": {"FunctionName": "w"},
                "timestamp": start + i * 60_000 + 1_000}
               for (name, unit), values in series.items() for i, v in enumerate(values) if v is not None]
    store.put_metrics(records)


class TestRoundTrip:
    def test_a_composite_with_an_actions_suppressor_comes_back_the_same(self, homes) -> None:
        source, target = homes("a"), homes("b")
        suppressed = CompositeAlarm("Suppressed", rule="ALARM(WorkerErrors)", actions_suppressor="Combined",
                                    actions_suppressor_wait_period=120, actions_suppressor_extension_period=0)
        source.put_all([*ALARMS, suppressed])
        document = describe_alarms(source)
        assert _by_name(document)["Suppressed"]["ActionsSuppressor"] == \
            "arn:aws:cloudwatch:local:000000000000:alarm:Combined"
        import_alarms(target, document)
        assert target.alarm_store.definitions() == source.alarm_store.definitions()

    def test_an_exported_home_imported_elsewhere_has_the_same_alarms_and_evaluates_the_same(self, homes) -> None:
        """Definitions match, and on the same data every evaluation gives the same states and reasons."""
        source, target = homes("a"), homes("b")
        source.put_all(ALARMS)
        report = import_alarms(target, orjson.loads(orjson.dumps(describe_alarms(source))))
        assert report.count("created") == len(ALARMS)
        assert [a.to_dict() for a in target.alarm_store.definitions()] == \
            [a.to_dict() for a in source.alarm_store.definitions()]
        start = NOW - 20 * 60_000
        series = {("Errors", "Count"): [0, 3, 3, None, 0, 5, 1, 0, None, None, 4, 4, 4, 0],
                  ("Invocations", "Count"): [10, 10, 20, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
                  ("Duration", "Milliseconds"): [100, 900, 800, 700, 100, 100, None, 600, 650, 700, 100, 100, 900, 900]}
        for engine in (source, target):
            _put(engine.store, series, start)
        seen = set()
        for minute in range(1, 16):
            at = start + minute * 60_000 + 5_000
            results = [[(r.name, r.state, r.previous, r.changed, r.reason) for r in engine.evaluate(at)]
                       for engine in (source, target)]
            assert results[0] == results[1], f"minute {minute}"
            seen.update((name, state) for name, state, *_ in results[0])
        # The data drives every alarm through OK and ALARM, so the comparison says something.
        assert {(a.name, state) for a in ALARMS for state in (OK, ALARM)} <= seen
        assert [(t, n.alarm_name, n.new_state) for t, n in source.notifier.published] == \
            [(t, n.alarm_name, n.new_state) for t, n in target.notifier.published]
