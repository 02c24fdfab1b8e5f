"""The CDK stack compiled from the plan: one synth for the module, checked item by item against the plan.

The plan synthesized is the built-in plan plus a few items the built-in one lacks
(a percentile alarm, a metric-math alarm, a composite with an actions suppressor, a
scoped metric filter with dimensions, a remediation rule), so every path of the
compiler is exercised. `test_every_plan_item_is_in_the_template_as_the_engine_runs_it`
walks the plan: an item added to the plan and forgotten by the stack fails it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.deploy.aws.environment import ENV, FUNCTIONS
from whispersync.plan import (
    DEFAULT_PLAN,
    CompositeAlarm,
    MetricAlarm,
    MetricDataQuery,
    MetricFilter,
    MetricStat,
    Plan,
    RemediationRule,
    topic_actions,
)
from whispersync.settings import Settings

pytest.importorskip("aws_cdk", reason="the deploy extra (aws-cdk-lib) is not installed")

_WORKER = dict(catalog.WORKER_ERRORS.dimensions)
EXTRA = Plan(
    alarms=(
        MetricAlarm(name="WorkerDurationP99", namespace=catalog.WORKER_DURATION.namespace,
                    metric_name=catalog.WORKER_DURATION.name, dimensions=_WORKER, statistic="p99", period=60,
                    evaluation_periods=5, datapoints_to_alarm=3, threshold=5000,
                    comparison_operator="GreaterThanThreshold", treat_missing_data="breaching",
                    evaluate_low_sample_count_percentile="ignore", unit="Milliseconds", priority="P3",
                    alarm_actions=topic_actions("P3")),
        MetricAlarm(name="WorkerErrorRate", threshold=5, evaluation_periods=3, treat_missing_data="ignore",
                    priority="P4", alarm_actions=topic_actions("P4"), insufficient_data_actions=topic_actions("P4"),
                    metrics=(
                        MetricDataQuery("errors", MetricStat(catalog.WORKER_ERRORS.namespace, "Errors", _WORKER, "Sum",
                                                             60), return_data=False),
                        MetricDataQuery("invocations", MetricStat(catalog.WORKER_INVOCATIONS.namespace, "Invocations",
                                                                  _WORKER, "Sum", 60), return_data=False),
                        MetricDataQuery("rate", expression="100*errors/invocations", label="Error %"),
                    )),
        CompositeAlarm(name="SlowAndFailing", rule='ALARM("WorkerErrorRate") AND NOT OK(WorkerDurationP99)',
                       priority="P2", alarm_actions=topic_actions("P2"), actions_suppressor="SystemDown",
                       actions_suppressor_wait_period=60, actions_suppressor_extension_period=120),
    ),
    metric_filters=(
        MetricFilter(name="MemoDuration", pattern='{ $.message = "memo processed" }', namespace="WhisperSync/Test",
                     metric_name="MemoDuration", value="$.duration_ms", dimensions={"AgentType": "$.agent"},
                     log_group="/aws/lambda/whispersync-worker"),
    ),
    remediation=(RemediationRule(name="scale-on-slow", alarm="WorkerDurationP99", action="scale_up"),),
)
PLAN = DEFAULT_PLAN.layered(EXTRA, "test")
# Channel secrets a user has configured locally: none may reach the template.
SECRETS = {
    "slack_webhook": "https://hooks.slack.com/services/T000/B000/canarysecretslack",
    "slack_critical_webhook": "https://hooks.slack.com/services/T000/B001/canarysecretcritical",
    "pagerduty_routing_key": "canarysecretpagerdutykey0123456789",
    "webhook_url": "https://example.invalid/hook/canarysecretwebhook",
    "webhook_secret": "canarysecretsigningkey",
    "smtp_password": "canarysecretsmtp",
    "elevenlabs_api_key": "canarysecretelevenlabs",
}
PSEUDO = {"AWS::Region": "REGION", "AWS::Partition": "PARTITION", "AWS::AccountId": "ACCOUNT"}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """(the template dict, its file, the deploy settings): the module's one synth."""
    from aws_cdk import assertions

    from whispersync.deploy.aws.stack import DeploySettings, build_stack

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    settings = Settings.load(home=tmp_path_factory.mktemp("home"), max_receive_count=4, visibility_timeout=45,
                             retention_days=10, max_transcript_bytes=512 * 1024, **SECRETS)
    deploy = DeploySettings.from_settings(settings, secrets_name="whispersync/test-channels")
    stack = build_stack(PLAN, deploy)
    template = assertions.Template.from_stack(stack)
    path = tmp_path_factory.mktemp("template") / "WhisperSync.template.json"
    data = template.to_json()
    path.write_text(json.dumps(data), encoding="utf-8")
    return template, data, path, deploy


def _resources(data, kind):
    return {lid: r for lid, r in data["Resources"].items() if r["Type"] == kind}


def _resolve(data, value):
    """Template value → plain value: pseudo parameters as placeholders, our topics and functions by name."""
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in PSEUDO:
            return PSEUDO[ref]
        resource = data["Resources"][ref]
        if resource["Type"] == "AWS::SNS::Topic":
            return f"sns:{resource['Properties']['TopicName']}"
        return f"ref:{ref}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        lid, attribute = value["Fn::GetAtt"]
        resource = data["Resources"][lid]
        if resource["Type"] == "AWS::Lambda::Function" and attribute == "Arn":
            return f"lambda:{resource['Properties']['FunctionName']}"
        return f"getatt:{lid}.{attribute}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolve(data, p)) for p in parts)
    if isinstance(value, list):
        return [_resolve(data, v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(data, v) for k, v in value.items()}
    return value


def _expected_actions(alarm, plan_actions, extra=()):
    out = []
    for action in [*plan_actions, *extra]:
        # The ARNs as `deploy aws check` reads them back from DescribeAlarms.
        if action.startswith("remediation:"):
            out.append("arn:PARTITION:lambda:REGION:ACCOUNT:function:whispersync-remediation")
        elif action.startswith("topic:"):
            out.append(f"arn:PARTITION:sns:REGION:ACCOUNT:whispersync-{action.split(':', 1)[1]}")
        else:
            out.append(action)
    return list(dict.fromkeys(out))


def _arn(name):
    return f"arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:{name}"


class TestThePlanInTheTemplate:
    def test_every_plan_item_is_in_the_template_as_the_engine_runs_it(self, synthesized) -> None:
        """Each alarm, composite alarm, metric filter and dashboard of the plan, field by field."""
        _, data, _, _ = synthesized
        alarms = {r["Properties"]["AlarmName"]: _resolve(data, r["Properties"])
                  for r in _resources(data, "AWS::CloudWatch::Alarm").values()}
        composites = {r["Properties"]["AlarmName"]: _resolve(data, r["Properties"])
                      for r in _resources(data, "AWS::CloudWatch::CompositeAlarm").values()}
        remediated = {rule.alarm for rule in PLAN.remediation}
        for alarm in PLAN.alarms:
            if isinstance(alarm, MetricAlarm):
                props = alarms.pop(alarm.name)
                # An anomaly detection alarm (CostAnomaly) has ThresholdMetricId and no Threshold.
                assert props.get("Threshold") == alarm.threshold
                assert props.get("ThresholdMetricId") == alarm.threshold_metric_id
                assert props["ComparisonOperator"] == alarm.comparison_operator
                assert props["EvaluationPeriods"] == alarm.evaluation_periods
                # M of N: CloudWatch reads a missing DatapointsToAlarm as N, as the engine does.
                assert props.get("DatapointsToAlarm", props["EvaluationPeriods"]) == alarm.m
                assert props["TreatMissingData"] == alarm.treat_missing_data
                assert props.get("EvaluateLowSampleCountPercentile") == alarm.evaluate_low_sample_count_percentile
                if alarm.metrics:
                    assert props["Metrics"] == [_query(q) for q in alarm.metrics]
                    assert not {"Namespace", "MetricName", "Period", "Statistic", "ExtendedStatistic"} & set(props)
                else:
                    assert (props["Namespace"], props["MetricName"], props["Period"]) == (
                        alarm.namespace, alarm.metric_name, alarm.period)
                    assert props["Dimensions"] == [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()]
                    stat = props.get("Statistic") or props.get("ExtendedStatistic")
                    assert stat == alarm.statistic
                    assert ("ExtendedStatistic" in props) == (alarm.statistic not in
                                                              ("SampleCount", "Average", "Sum", "Minimum", "Maximum"))
                    assert props.get("Unit") == alarm.unit
                extra = ("remediation:rule",) if alarm.name in remediated else ()
                assert props.get("AlarmActions", []) == _expected_actions(alarm, alarm.alarm_actions, extra)
            else:
                props = composites.pop(alarm.name)
                assert props["AlarmRule"] == alarm.rule
                assert props.get("ActionsSuppressor") == alarm.actions_suppressor
                assert props.get("ActionsSuppressorWaitPeriod") == alarm.actions_suppressor_wait_period
                assert props.get("ActionsSuppressorExtensionPeriod") == alarm.actions_suppressor_extension_period
                assert props.get("AlarmActions", []) == _expected_actions(alarm, alarm.alarm_actions)
            assert props.get("OKActions", []) == _expected_actions(alarm, alarm.ok_actions)
            assert props.get("InsufficientDataActions", []) == _expected_actions(alarm, alarm.insufficient_data_actions)
            assert props["ActionsEnabled"] == alarm.actions_enabled
        assert alarms == {} and composites == {}, "alarms in the template that the plan does not have"

        filters = [_resolve(data, r["Properties"]) for r in _resources(data, "AWS::Logs::MetricFilter").values()]
        group_of = {f"ref:{lid}": r["Properties"]["LogGroupName"]
                    for lid, r in _resources(data, "AWS::Logs::LogGroup").items()}
        ours = sorted(group_of.values())
        for mf in PLAN.metric_filters:
            found = [f for f in filters if f["FilterName"] == mf.name]
            assert sorted(group_of.get(f["LogGroupName"], f["LogGroupName"]) for f in found) == (
                [mf.log_group] if mf.log_group else ours)
            for f in found:
                assert f["FilterPattern"] == mf.pattern
                [transformation] = f["MetricTransformations"]
                assert transformation == {
                    "MetricNamespace": mf.namespace, "MetricName": mf.metric_name, "MetricValue": mf.value,
                    **({"DefaultValue": mf.default_value} if mf.default_value is not None else {}),
                    **({"Dimensions": [{"Key": k, "Value": v} for k, v in mf.dimensions.items()]}
                       if mf.dimensions else {}),
                    **({"Unit": mf.unit} if mf.unit else {})}
            filters = [f for f in filters if f not in found]
        assert filters == []

        dashboards = {r["Properties"]["DashboardName"]: json.loads(_resolve(data, r["Properties"]["DashboardBody"]))
                      for r in _resources(data, "AWS::CloudWatch::Dashboard").values()}
        for dashboard in PLAN.dashboards:
            assert dashboards.pop(dashboard.name) == _expected_body(dashboard)
        assert dashboards == {}

    def test_the_dashboard_alarm_references_are_arns(self, synthesized) -> None:
        """CloudWatch wants ARNs in annotations.alarms and alarm widgets: the plan's names are converted."""
        _, data, _, _ = synthesized
        [body] = [json.loads(_resolve(data, r["Properties"]["DashboardBody"]))
                  for r in _resources(data, "AWS::CloudWatch::Dashboard").values()
                  if r["Properties"]["DashboardName"] == "executive"]
        [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
        assert alarm_widget["properties"]["alarms"] == [_arn("whispersync-system-health")]

    def test_a_composite_alarm_is_created_after_the_alarms_its_rule_names(self, synthesized) -> None:
        _, data, _, _ = synthesized
        lid_of = {r["Properties"]["AlarmName"]: lid for lid, r in data["Resources"].items()
                  if r["Type"].startswith("AWS::CloudWatch::") and "AlarmName" in r["Properties"]}
        depends = data["Resources"][lid_of["SlowAndFailing"]]["DependsOn"]
        assert {lid_of["WorkerErrorRate"], lid_of["WorkerDurationP99"], lid_of["SystemDown"]} <= set(depends)

    def test_an_alarm_is_created_after_the_topics_and_function_its_actions_name(self, synthesized) -> None:
        """The actions are ARNs built from names (as drift builds them): the dependencies order the creation."""
        _, data, _, _ = synthesized
        name_of = {lid: r["Properties"].get("TopicName") or r["Properties"].get("FunctionName")
                   for lid, r in data["Resources"].items() if r["Type"] in ("AWS::SNS::Topic", "AWS::Lambda::Function")}
        for resource in data["Resources"].values():
            if resource["Type"] not in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
                continue
            props = _resolve(data, resource["Properties"])
            targets = {arn.rsplit(":", 1)[1] for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                       for arn in props.get(key, [])}
            assert targets <= {name_of[lid] for lid in resource.get("DependsOn", []) if lid in name_of}, props

    def test_cloudwatch_may_invoke_remediation_for_the_alarms_that_name_it(self, synthesized) -> None:
        _, data, _, _ = synthesized
        permissions = [_resolve(data, r["Properties"]) for r in _resources(data, "AWS::Lambda::Permission").values()
                       if r["Properties"]["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com"]
        assert sorted(p["SourceArn"] for p in permissions) == [_arn("HighQueueDepth"), _arn("WorkerDurationP99")]
        assert {p["FunctionName"] for p in permissions} == {"lambda:whispersync-remediation"}


def _query(query: MetricDataQuery) -> dict:
    out = {"Id": query.id, "ReturnData": query.return_data}
    if query.metric_stat:
        s = query.metric_stat
        out["MetricStat"] = {"Metric": {"Namespace": s.namespace, "MetricName": s.name,
                                        "Dimensions": [{"Name": k, "Value": v} for k, v in s.dimensions.items()]},
                             "Period": s.period, "Stat": s.statistic, **({"Unit": s.unit} if s.unit else {})}
    for key, value in (("Expression", query.expression), ("Label", query.label), ("Period", query.period)):
        if value is not None:
            out[key] = value
    return out


def _expected_body(dashboard) -> dict:
    """The plan's body with alarm names as ARNs and the stack's region on metric and log widgets."""
    body = json.loads(json.dumps(dashboard.body()))
    for widget in body["widgets"]:
        props = widget["properties"]
        if widget["type"] in ("metric", "log"):
            props.setdefault("region", "REGION")
        if widget["type"] == "alarm":
            props["alarms"] = [_arn(a) for a in props["alarms"]]
        if "alarms" in props.get("annotations", {}):
            props["annotations"]["alarms"] = [_arn(a) for a in props["annotations"]["alarms"]]
    return body


class TestThePipelineResources:
    def test_resource_counts(self, synthesized) -> None:
        template, _, _, _ = synthesized
        template.resource_count_is("AWS::CloudWatch::Alarm", sum(isinstance(a, MetricAlarm) for a in PLAN.alarms))
        template.resource_count_is("AWS::CloudWatch::CompositeAlarm",
                                   sum(isinstance(a, CompositeAlarm) for a in PLAN.alarms))
        template.resource_count_is("AWS::CloudWatch::Dashboard", len(PLAN.dashboards))
        template.resource_count_is("AWS::SNS::Topic", len(PLAN.topics))
        template.resource_count_is("AWS::SNS::Subscription", len(PLAN.topics))
        template.resource_count_is("AWS::Logs::LogGroup", len(FUNCTIONS))
        template.resource_count_is("AWS::SQS::Queue", 2)
        template.resource_count_is("AWS::DynamoDB::Table", 1)
        for spec in FUNCTIONS.values():
            template.has_resource_properties("AWS::Lambda::Function",
                                             {"FunctionName": spec.name, "Handler": spec.handler})

    def test_every_function_runs_the_runtime_and_architecture_the_package_is_built_for(self, synthesized) -> None:
        """Wheels and .pyc files built for one Python and machine do not load on another."""
        from whispersync.deploy.aws.package import pip_command

        _, data, _, _ = synthesized
        functions = [r["Properties"] for r in _resources(data, "AWS::Lambda::Function").values()
                     if r["Properties"].get("FunctionName") in {spec.name for spec in FUNCTIONS.values()}]
        assert len(functions) == len(FUNCTIONS)
        command = pip_command(Path("out"), [])
        python, platform = command[command.index("--python-version") + 1], command[command.index("--platform") + 1]
        wheel_machine = platform.split("_", 1)[1]  # manylinux2014_x86_64
        machine = {"aarch64": "arm64"}.get(wheel_machine, wheel_machine)  # Lambda's spelling
        for props in functions:
            assert props["Runtime"] == f"python{python}", props["FunctionName"]
            assert props.get("Architectures", ["x86_64"]) == [machine], props["FunctionName"]

    def test_ingest_has_an_iam_authenticated_function_url_and_may_write_transcripts_only(self, synthesized) -> None:
        template, data, _, _ = synthesized
        template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM"})
        template.resource_count_is("AWS::Lambda::Url", 1)
        assert "IngestUrl" in data["Outputs"]
        puts = [s for p in _resources(data, "AWS::IAM::Policy").values()
                for s in p["Properties"]["PolicyDocument"]["Statement"]
                if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        assert any("transcripts/*" in str(s["Resource"]) for s in puts)

    def test_the_queue_redrives_to_the_dlq_after_max_receive_count(self, synthesized) -> None:
        from aws_cdk.assertions import Match

        template, data, _, deploy = synthesized
        assert deploy.max_receive_count == 4  # from the local settings
        [dlq] = [lid for lid, r in _resources(data, "AWS::SQS::Queue").items()
                 if r["Properties"]["QueueName"] == catalog.DEAD_LETTER_QUEUE]
        template.has_resource_properties("AWS::SQS::Queue", {
            "QueueName": catalog.QUEUE, "VisibilityTimeout": 45,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": 4},
        })
        template.has_resource_properties("AWS::SQS::Queue", {"QueueName": catalog.DEAD_LETTER_QUEUE,
                                                             "RedrivePolicy": Match.absent()})

    def test_the_worker_reports_batch_item_failures_with_bounded_concurrency(self, synthesized) -> None:
        template, data, _, deploy = synthesized
        [worker] = [lid for lid, r in _resources(data, "AWS::Lambda::Function").items()
                    if r["Properties"].get("FunctionName") == FUNCTIONS["worker"].name]
        template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "FunctionName": {"Ref": worker}, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": deploy.worker_max_concurrency},
        })

    def test_transcripts_in_the_bucket_invoke_ingest(self, synthesized) -> None:
        _, data, _, _ = synthesized
        [notification] = _resources(data, "Custom::S3BucketNotifications").values()
        [config] = _resolve(data, notification["Properties"]["NotificationConfiguration"])[
            "LambdaFunctionConfigurations"]
        assert config["LambdaFunctionArn"] == f"lambda:{FUNCTIONS['ingest'].name}"
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "transcripts/"}]

    def test_the_collector_runs_every_minute(self, synthesized) -> None:
        _, data, _, _ = synthesized
        [rule] = _resources(data, "AWS::Events::Rule").values()
        assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
        assert [_resolve(data, t["Arn"]) for t in rule["Properties"]["Targets"]] == [
            f"lambda:{FUNCTIONS['collector'].name}"]

    def test_each_log_group_keeps_the_configured_retention(self, synthesized) -> None:
        _, data, _, deploy = synthesized
        groups = {r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
                  for r in _resources(data, "AWS::Logs::LogGroup").values()}
        assert deploy.log_retention_days == 14  # 10 local days, rounded up to a value CloudWatch Logs accepts
        assert groups == {f"/aws/lambda/{spec.name}": 14 for spec in FUNCTIONS.values()}

    def test_the_table_has_the_schema_ensure_table_creates(self, synthesized) -> None:
        """The same key schema and GSIs as the adapter's own table (made here under moto)."""
        boto3 = pytest.importorskip("boto3")
        moto = pytest.importorskip("moto")
        from whispersync.pipeline.aws.dynamodb import ensure_table

        _, data, _, _ = synthesized
        [table] = _resources(data, "AWS::DynamoDB::Table").values()
        props = table["Properties"]
        with moto.mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            ensure_table(client, catalog.RECORDS_TABLE)
            made = client.describe_table(TableName=catalog.RECORDS_TABLE)["Table"]
        assert props["TableName"] == made["TableName"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["KeySchema"] == made["KeySchema"]
        key = lambda d: d["AttributeName"]  # noqa: E731
        assert sorted(props["AttributeDefinitions"], key=key) == sorted(made["AttributeDefinitions"], key=key)

        def indexes(items):
            return {i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"]) for i in items}

        assert indexes(props["GlobalSecondaryIndexes"]) == indexes(made["GlobalSecondaryIndexes"])


class TestSecretsAndPermissions:
    def test_no_secret_reaches_the_template(self, synthesized) -> None:
        _, _, path, _ = synthesized
        text = path.read_text(encoding="utf-8")
        assert [name for name, value in SECRETS.items() if value in text] == []
        assert "canarysecret" not in text and "hooks.slack.com" not in text

    def test_only_the_alert_router_gets_the_secret_name_and_read_permission(self, synthesized) -> None:
        """The router reads the channel secrets; nothing else does (the worker has no voice key on Lambda)."""
        from whispersync.deploy.aws.environment import secret_read_statements

        _, data, _, deploy = synthesized
        allowed = {v for k, v in vars(ENV).items() if k.isupper()}
        for resource in _resources(data, "AWS::Lambda::Function").values():
            props = resource["Properties"]
            if props.get("FunctionName") not in {spec.name for spec in FUNCTIONS.values()}:
                continue
            variables = props["Environment"]["Variables"]
            assert set(variables) <= allowed, props["FunctionName"]
            assert variables.get(ENV.SECRETS_NAME) == (
                deploy.secrets_name if props["FunctionName"] == FUNCTIONS["alert_router"].name else None)
            assert ENV.PLAN_FILE not in variables  # no user plan file: the handlers run the built-in plan
            assert variables[ENV.MAX_RECEIVE_COUNT] == "4"
            if props["FunctionName"] == FUNCTIONS["ingest"].name:
                assert variables[ENV.MAX_TRANSCRIPT_BYTES] == str(512 * 1024)
        secret_grants = {name: pairs for name, pairs in _grants_by_function(data).items()
                         if any(a.startswith(("secretsmanager:", "ssm:", "kms:")) for a, _ in pairs)}
        expected = [(a, r) for s in secret_read_statements(deploy.secrets_name, partition="PARTITION",
                                                           region="REGION", account="ACCOUNT")
                    for a in s["actions"] for r in s["resources"]]
        assert expected == [("secretsmanager:GetSecretValue",
                             "arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:whispersync/test-channels-??????")]
        assert {name: [p for p in pairs if p[0].startswith(("secretsmanager:", "ssm:", "kms:"))]
                for name, pairs in secret_grants.items()} == {"whispersync-alert-router": expected}

    def test_grants_are_least_privilege(self, synthesized) -> None:
        """No wildcard action; ingest sends to the queue only, the worker only to the DLQ (its permanent
        failures), and the alert router touches neither bucket nor table."""
        _, data, _, _ = synthesized
        grants = _grants_by_function(data)
        queue_of = {f"getatt:{lid}.Arn": r["Properties"]["QueueName"]
                    for lid, r in _resources(data, "AWS::SQS::Queue").items()}

        def sends(function: str) -> set[str]:
            return {queue_of.get(r, r) for a, r in grants[function] if a == "sqs:SendMessage"}

        everything = {a for pairs in grants.values() for a, _ in pairs}
        assert not [a for a in everything if a == "*" or a.endswith(":*")]
        assert sends("whispersync-ingest") == {catalog.QUEUE}
        assert sends("whispersync-worker") == {catalog.DEAD_LETTER_QUEUE}
        assert "sqs:ReceiveMessage" not in {a for a, _ in grants["whispersync-ingest"]}
        router = {a for a, _ in grants["whispersync-alert-router"]}
        assert not [a for a in router if a.startswith(("s3:", "dynamodb:", "sqs:"))]


def _grants_by_function(data) -> dict[str, list[tuple[str, str]]]:
    """Function name -> (action, resolved resource) pairs of its role's policies."""
    role_of = {r["Properties"]["FunctionName"]: r["Properties"]["Role"]["Fn::GetAtt"][0]
               for r in _resources(data, "AWS::Lambda::Function").values() if "FunctionName" in r["Properties"]}
    grants: dict[str, list[tuple[str, str]]] = {}
    for policy in _resources(data, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            pairs = [(a, str(_resolve(data, r))) for a in actions for r in resources]
            for role in policy["Properties"]["Roles"]:
                grants.setdefault(role["Ref"], []).extend(pairs)
    return {name: grants.get(role, []) for name, role in role_of.items()}


def _cfn_lint(path: Path) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("cfn-lint")
    if not executable.exists():
        pytest.skip("cfn-lint is not installed (the test extra)")
    return subprocess.run([str(executable), "-i", "W3005", "--", str(path)], capture_output=True, text=True,
                          timeout=300)


def test_cfn_lint_reports_no_errors(synthesized, tmp_path) -> None:
    """cfn-lint's exit code is a bitmask: 2 errors, 4 warnings, 8 informational (1: it could not run).
    W3005 is the CDK's redundant DependsOn. The same lint of a broken copy must report an error."""
    _, data, path, _ = synthesized
    result = _cfn_lint(path)
    assert not result.returncode & 3, result.stdout + result.stderr

    broken = json.loads(json.dumps(data))
    [alarm] = [r for r in broken["Resources"].values() if r["Properties"].get("AlarmName") == "SystemDown"]
    alarm["Properties"]["ComparisonOperator"] = "GreaterThanOrEqual"
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    assert _cfn_lint(tmp_path / "broken.json").returncode & 2


class TestDeploySettings:
    @pytest.mark.parametrize(("changes", "message"), [
        ({"visibility_timeout_seconds": 20, "worker_timeout_seconds": 30}, "at least the worker's timeout"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"max_receive_count": 0}, "max_receive_count"),
        ({"worker_max_concurrency": 1}, "MaximumConcurrency"),
    ])
    def test_it_refuses_what_aws_would_refuse(self, changes, message) -> None:
        from whispersync.deploy.aws.stack import DeploySettings, StackError

        with pytest.raises(StackError, match=message):
            DeploySettings(**changes)
