"""The CDK stack compiled from the monitoring plan: the pipeline's resources on AWS, watched by the plan.

    from whispersync.deploy.aws.stack import DeploySettings, synth
    template = synth(effective_plan(), DeploySettings(), out_dir=Path("cdk.out"))

The only module that imports ``aws_cdk`` (the ``deploy`` extra); the package imports
without it. Synthesis runs the CDK's JavaScript through jsii, which needs Node.

What the stack holds:

- an S3 bucket whose ``transcripts/`` ObjectCreated events invoke the ingest function;
- the transcripts queue and its dead-letter queue (redrive maxReceiveCount from the settings),
  named as the catalog names them, so the collector's QueueName dimension matches the plan;
- the memo table, with the key schema and GSIs ``pipeline.aws.dynamodb.ensure_table`` creates;
- the functions of ``environment.FUNCTIONS``, each with its log group and retention: the
  worker on the queue (ReportBatchItemFailures, MaximumConcurrency), the collector every
  minute, the alert router on the P1–P4 topics, remediation as an alarm action;
- every plan metric filter, alarm, composite alarm and dashboard, as the local engine runs them
  (raw CloudFormation properties, so nothing is lost to a construct's defaults).

Secrets never enter the template: the alert router (the only function that reads them) gets the
*name* of the SSM parameter or Secrets Manager secret (``ENV.SECRETS_NAME``) and permission to read
that one (``environment.secret_read_statements``).

A user's plan file ships in the code directory (``ENV.PLAN_FILE``): the alert router routes and
remediation scales by the same plan the alarms come from.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from whispersync import catalog
from whispersync.deploy.aws._monitoring import (
    ACTION_PROPERTIES,
    ActionError,
    alarm_properties,
    dashboard_body_for_aws,
    remediation_function_arn,
    rule_references,
    topic_name,
)
from whispersync.deploy.aws.environment import (
    ENV,
    FUNCTIONS,
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    secret_read_statements,
)
from whispersync.errors import WhisperSyncError
from whispersync.plan import CompositeAlarm, Plan

__all__ = ["FUNCTION_NAMES", "LOG_RETENTION_DAYS", "PLAN_FILE_STEM", "DeploySettings", "StackError", "build_stack",
           "log_group_name", "placeholder_code_dir", "synth", "topic_name", "with_plan_file"]

FUNCTION_NAMES = frozenset(spec.name for spec in FUNCTIONS.values())
# PutRetentionPolicy's retentionInDays: only these values are accepted.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
# Lambda's SQS ScalingConfig.MaximumConcurrency range.
_MAX_CONCURRENCY = (2, 1000)
# The principal CloudWatch uses to invoke a Lambda alarm action
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html).
_ALARMS_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
# The runtime package.py builds for (one constant for both: environment.LAMBDA_RUNTIME).
_RUNTIME = lambda_.Runtime(LAMBDA_RUNTIME, lambda_.RuntimeFamily.PYTHON)
_RESOURCE_TYPES = {"MetricAlarm": "AWS::CloudWatch::Alarm", "CompositeAlarm": "AWS::CloudWatch::CompositeAlarm"}
_WORD_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


class StackError(WhisperSyncError):
    """The plan or the deploy settings cannot be compiled into a stack (the message says which item and why)."""


@dataclass(frozen=True)
class DeploySettings:
    """What the stack needs beyond the plan.

    ``visibility_timeout_seconds`` must be at least the worker's timeout: Lambda refuses
    an SQS event source whose queue hides messages for less time than the function may run.
    """

    max_receive_count: int = 3
    visibility_timeout_seconds: int = 180
    worker_timeout_seconds: int = 30
    worker_max_concurrency: int = 5
    log_retention_days: int = 30
    max_transcript_bytes: int = 1024 * 1024
    secrets_name: str = "whispersync/channels"
    # The alert router's email channel, all but the password (smtp_password in the secrets). No host: no email.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    stack_name: str = "WhisperSync"
    region: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_receive_count <= 1000:
            raise StackError(f"max_receive_count: must be 1-1000 (SQS's maxReceiveCount), got {self.max_receive_count}")
        if not 0 <= self.visibility_timeout_seconds <= 43_200:
            raise StackError("visibility_timeout_seconds: must be 0-43200 (12 hours)")
        if not 1 <= self.worker_timeout_seconds <= 900:
            raise StackError("worker_timeout_seconds: must be 1-900 (Lambda's limit)")
        if self.visibility_timeout_seconds < self.worker_timeout_seconds:
            raise StackError(f"visibility_timeout_seconds ({self.visibility_timeout_seconds}) must be at least the"
                             f" worker's timeout ({self.worker_timeout_seconds}); AWS advises six times it")
        low, high = _MAX_CONCURRENCY
        if not low <= self.worker_max_concurrency <= high:
            raise StackError(f"worker_max_concurrency: must be {low}-{high} (SQS event source MaximumConcurrency)")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise StackError(f"log_retention_days: CloudWatch Logs accepts only {LOG_RETENTION_DAYS},"
                             f" got {self.log_retention_days}")
        if self.max_transcript_bytes < 1:
            raise StackError("max_transcript_bytes: must be at least 1")
        if not self.secrets_name or not isinstance(self.secrets_name, str):
            raise StackError("secrets_name: the name of the Secrets Manager secret or SSM parameter is required")
        if not 1 <= self.smtp_port <= 65535:
            raise StackError(f"smtp_port: must be 1-65535, got {self.smtp_port}")
        if (self.email_to or self.email_from) and not self.smtp_host:
            raise StackError("email_to/email_from: set smtp_host too (the SMTP server the router sends through)")
        if self.smtp_host and not self.email_to:
            raise StackError("smtp_host: set email_to too (the recipients of the alarm emails)")
        for address in (*self.email_to, *([self.email_from] if self.email_from else [])):
            if "@" not in address or any(c in address for c in ", \n"):
                raise StackError(f"email address {address!r}: expected one address such as ops@example.com")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DeploySettings:
        """The queue and retention settings of a local ``Settings`` (its secrets are never read)."""
        retention = next((d for d in LOG_RETENTION_DAYS if d >= settings.retention_days), LOG_RETENTION_DAYS[-1])
        visibility = max(math.ceil(settings.visibility_timeout), cls.worker_timeout_seconds)
        values: dict[str, Any] = {"max_receive_count": settings.max_receive_count,
                                  "visibility_timeout_seconds": visibility, "log_retention_days": retention,
                                  "max_transcript_bytes": settings.max_transcript_bytes}
        return cls(**{**values, **overrides})


def log_group_name(function_name: str) -> str:
    """Lambda writes a function's logs to this group."""
    return f"/aws/lambda/{function_name}"


def _logical(name: str) -> str:
    """A construct id from a plan name: ``whispersync-system-health`` → ``WhispersyncSystemHealth``."""
    return "".join(part[:1].upper() + part[1:] for part in _WORD_SEPARATORS.split(name)) or "Item"


class WhisperSyncStack(cdk.Stack):
    def __init__(self, scope: Construct, plan: Plan, settings: DeploySettings, code_dir: Path,
                 plan_file: Path | None = None) -> None:
        env = cdk.Environment(account=settings.account, region=settings.region) if (
            settings.account or settings.region) else None
        super().__init__(scope, settings.stack_name, env=env,
                         description="WhisperSync: the pipeline and its monitoring plan (whispersync deploy aws synth)")
        self.plan = plan
        self.settings = settings
        self._alarm_resources: dict[str, cdk.CfnResource] = {}
        self._storage()
        self._functions(code_dir, plan_file)
        self._topics()
        self._metric_filters()
        self._alarms()
        self._dashboards()
        self._outputs()

    # -- the pipeline ---------------------------------------------------------

    def _storage(self) -> None:
        self.bucket = s3.Bucket(self, "Transcripts", encryption=s3.BucketEncryption.S3_MANAGED,
                                block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
                                removal_policy=cdk.RemovalPolicy.RETAIN)
        # SQS keeps a dead letter for at most 14 days; the DLQ keeps them that long.
        self.dlq = sqs.Queue(self, "DeadLetterQueue", queue_name=catalog.DEAD_LETTER_QUEUE,
                             retention_period=cdk.Duration.days(14), enforce_ssl=True)
        self.queue = sqs.Queue(
            self, "Queue", queue_name=catalog.QUEUE, enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(self.settings.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=self.settings.max_receive_count, queue=self.dlq))
        # The schema of pipeline/aws/dynamodb.py's ensure_table (its docstring draws it).
        self.table = dynamodb.Table(
            self, "Memos", table_name=catalog.RECORDS_TABLE,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, removal_policy=cdk.RemovalPolicy.RETAIN)
        # Point-in-time recovery, spelled in CloudFormation (the CDK's own property changed name across 2.x).
        self.table.node.default_child.add_property_override(
            "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", True)
        self.table.add_global_secondary_index(
            index_name="by_status",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL)
        self.table.add_global_secondary_index(
            index_name="by_id",
            partition_key=dynamodb.Attribute(name="shard", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY)

    def _functions(self, code_dir: Path, plan_file: Path | None) -> None:
        settings = self.settings
        common = {
            ENV.BUCKET: self.bucket.bucket_name, ENV.QUEUE_URL: self.queue.queue_url,
            ENV.DLQ_URL: self.dlq.queue_url, ENV.TABLE: self.table.table_name,
            ENV.MAX_RECEIVE_COUNT: str(settings.max_receive_count), ENV.POWERTOOLS_SERVICE_NAME: catalog.SERVICE,
        }
        if plan_file is not None:
            code_dir, common[ENV.PLAN_FILE] = with_plan_file(code_dir, plan_file)
        code = lambda_.Code.from_asset(str(code_dir))
        timeouts = {"worker": settings.worker_timeout_seconds}
        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for key, spec in FUNCTIONS.items():
            group = logs.LogGroup(self, f"{_logical(key)}Logs", log_group_name=log_group_name(spec.name),
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
            # RetentionDays is an enum of names; the plain number is what CloudFormation takes.
            group.node.default_child.add_property_override("RetentionInDays", settings.log_retention_days)
            self.log_groups[spec.name] = group
            self.functions[key] = lambda_.Function(
                self, f"{_logical(key)}Function", function_name=spec.name, description=spec.description,
                handler=spec.handler, runtime=_RUNTIME, architecture=lambda_.Architecture.custom(LAMBDA_ARCHITECTURE),
                code=code, memory_size=512, timeout=cdk.Duration.seconds(timeouts.get(key, 30)),
                tracing=lambda_.Tracing.ACTIVE, log_group=group, environment=dict(common))

        ingest, worker = self.functions["ingest"], self.functions["worker"]
        ingest.add_environment(ENV.MAX_TRANSCRIPT_BYTES, str(settings.max_transcript_bytes))
        self.bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(ingest),
                                           s3.NotificationKeyFilter(prefix=f"{catalog.TRANSCRIPTS_PREFIX}/"))
        self.bucket.grant_read(ingest)
        self.table.grant_read_write_data(ingest)
        self.queue.grant_send_messages(ingest)
        # POST /v1/transcripts over HTTPS, as `whispersync up` serves it. IAM auth (SigV4-signed
        # requests), never public: a transcript reaches the agents and costs money to process.
        self.bucket.grant_put(ingest, f"{catalog.TRANSCRIPTS_PREFIX}/*")
        self.ingest_url = ingest.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)

        # One bad memo must not retry its whole batch: the worker reports the failed items.
        self.worker_source = event_sources.SqsEventSource(
            self.queue, batch_size=10, report_batch_item_failures=True,
            max_concurrency=settings.worker_max_concurrency)
        worker.add_event_source(self.worker_source)
        self.bucket.grant_read_write(worker)
        self.table.grant_read_write_data(worker)
        # A memo that fails for good is moved to the DLQ by the worker itself (MemoProcessor), not only by redrive.
        self.dlq.grant_send_messages(worker)

        collector = self.functions["collector"]
        events.Rule(self, "CollectorSchedule", description="The collector publishes the queue gauges every minute",
                    schedule=events.Schedule.rate(cdk.Duration.minutes(1)),
                    targets=[targets.LambdaFunction(collector)])
        collector.add_to_role_policy(iam.PolicyStatement(
            actions=["sqs:GetQueueAttributes"], resources=[self.queue.queue_arn, self.dlq.queue_arn]))

        remediation = self.functions["remediation"]
        remediation.add_environment(ENV.WORKER_EVENT_SOURCE, self.worker_source.event_source_mapping_id)
        remediation.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
            resources=[self.worker_source.event_source_mapping_arn]))

        # The channels' webhooks and keys: only the router reads them (the worker has no voice key on Lambda).
        router = self.functions["alert_router"]
        router.add_environment(ENV.SECRETS_NAME, settings.secrets_name)
        for statement in secret_read_statements(settings.secrets_name, partition=self.partition,
                                                region=self.region, account=self.account):
            router.add_to_role_policy(iam.PolicyStatement(actions=statement["actions"],
                                                          resources=statement["resources"]))
        if settings.smtp_host:
            email = {ENV.SMTP_HOST: settings.smtp_host, ENV.SMTP_PORT: str(settings.smtp_port),
                     ENV.SMTP_USER: settings.smtp_user, ENV.EMAIL_FROM: settings.email_from,
                     ENV.EMAIL_TO: ",".join(settings.email_to)}
            for name, value in email.items():
                if value:
                    router.add_environment(name, value)

    def _topics(self) -> None:
        self.topics: dict[str, sns.Topic] = {}
        router = self.functions["alert_router"]
        for priority, local in self.plan.topics.items():
            topic = sns.Topic(self, f"{priority}Topic", topic_name=topic_name(local),
                              display_name=f"WhisperSync {priority} ({local})")
            topic.add_subscription(subscriptions.LambdaSubscription(router))
            self.topics[local] = topic

    # -- the plan -------------------------------------------------------------

    def _metric_filters(self) -> None:
        for mf in self.plan.metric_filters:
            # A filter without a log group watches every log event locally; on AWS a filter
            # belongs to one group, so it goes on each function's group (the metric is the sum).
            groups = [mf.log_group] if mf.log_group else list(self.log_groups)
            for group in groups:
                transformation: dict[str, Any] = {"MetricNamespace": mf.namespace, "MetricName": mf.metric_name,
                                                  "MetricValue": mf.value}
                if mf.default_value is not None:
                    transformation["DefaultValue"] = mf.default_value
                if mf.dimensions:
                    transformation["Dimensions"] = [{"Key": k, "Value": v} for k, v in mf.dimensions.items()]
                if mf.unit:
                    transformation["Unit"] = mf.unit
                ours = self.log_groups.get(group)
                resource = cdk.CfnResource(
                    self, f"{_logical(mf.name)}{_logical(group)}", type="AWS::Logs::MetricFilter",
                    properties={"FilterName": mf.name, "FilterPattern": mf.pattern,
                                "LogGroupName": ours.log_group_name if ours else group,
                                "MetricTransformations": [transformation]})
                if ours:
                    resource.node.add_dependency(ours)

    def _alarm_arn(self, name: str) -> str:
        return self.format_arn(service="cloudwatch", resource="alarm", resource_name=name,
                               arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

    def _remediation_permission(self, alarm_name: str) -> None:
        """The permission CloudWatch needs to invoke the remediation function for this alarm."""
        permission_id = f"{_logical(alarm_name)}Invoke"
        if self.node.try_find_child(permission_id) is None:
            lambda_.CfnPermission(self, permission_id, action="lambda:InvokeFunction",
                                  function_name=self.functions["remediation"].function_arn,
                                  principal=_ALARMS_PRINCIPAL, source_account=self.account,
                                  source_arn=self._alarm_arn(alarm_name))

    def _alarms(self) -> None:
        # The actions are ARNs built from the names (_monitoring.action_arn, as `deploy aws check` builds them):
        # the dependencies make CloudFormation create the topics and the function first.
        remediation_arn = remediation_function_arn(partition=self.partition, region=self.region,
                                                   account=self.account)
        topic_by_arn = {f"arn:{self.partition}:sns:{self.region}:{self.account}:{topic_name(local)}": topic
                        for local, topic in self.topics.items()}
        for alarm in self.plan.alarms:
            try:
                props = alarm_properties(self.plan, alarm, partition=self.partition, region=self.region,
                                         account=self.account)
            except ActionError as exc:
                raise StackError(str(exc)) from None
            kind = _RESOURCE_TYPES[props.pop("Kind")]
            resource = cdk.CfnResource(self, f"{_logical(alarm.name)}Alarm", type=kind, properties=props)
            self._alarm_resources[alarm.name] = resource
            for arn in {a for prop in ACTION_PROPERTIES for a in props.get(prop, [])}:
                if arn == remediation_arn:
                    self._remediation_permission(alarm.name)
                    resource.node.add_dependency(self.functions["remediation"])
                elif arn in topic_by_arn:
                    resource.node.add_dependency(topic_by_arn[arn])
        # A composite rule names its alarms, which CloudFormation does not see as a
        # reference: without the dependency it may create the composite first and fail.
        for alarm in self.plan.alarms:
            if isinstance(alarm, CompositeAlarm):
                names = rule_references(alarm.rule) + ([alarm.actions_suppressor] if alarm.actions_suppressor else [])
                for name in names:
                    if name in self._alarm_resources and name != alarm.name:
                        self._alarm_resources[alarm.name].node.add_dependency(self._alarm_resources[name])

    def _dashboards(self) -> None:
        for dashboard in self.plan.dashboards:
            body = dashboard_body_for_aws(dashboard, self._alarm_arn, cdk.Aws.REGION)
            cdk.CfnResource(self, f"{_logical(dashboard.name)}Dashboard", type="AWS::CloudWatch::Dashboard",
                            properties={"DashboardName": dashboard.name, "DashboardBody": self.to_json_string(body)})

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "IngestUrl", value=self.ingest_url.url)
        cdk.CfnOutput(self, "QueueUrl", value=self.queue.queue_url)
        cdk.CfnOutput(self, "DeadLetterQueueUrl", value=self.dlq.queue_url)
        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
        cdk.CfnOutput(self, "SecretsName", value=self.settings.secrets_name)
        cdk.CfnOutput(self, "Dashboards", value=",".join(d.name for d in self.plan.dashboards) or "-")


# The plan file's name in the code directory (its suffix kept: it says how to load it).
PLAN_FILE_STEM = "whispersync-plan"


def with_plan_file(code_dir: Path, plan_file: Path) -> tuple[Path, str]:
    """A copy of ``code_dir`` holding ``plan_file`` too, and the plan's path relative to it (``ENV.PLAN_FILE``).

    A copy, so the user's package directory is never written to; the CDK copies it into the assembly anyway.
    """
    plan_file = Path(plan_file)
    if not plan_file.is_file():
        raise StackError(f"plan file {plan_file}: not a file")
    staged = Path(tempfile.mkdtemp(prefix="whispersync-lambda-code-"))
    shutil.copytree(code_dir, staged, dirs_exist_ok=True, symlinks=True)
    relative = f"{PLAN_FILE_STEM}{plan_file.suffix}"
    shutil.copyfile(plan_file, staged / relative)
    return staged, relative


def placeholder_code_dir() -> Path:
    """A directory standing in for the Lambda package when only the template matters (tests, review).

    A deployable package is built with ``whispersync deploy aws package --out DIR`` (the handlers and only
    what they import) and passed as ``code_dir``.
    """
    directory = Path(tempfile.mkdtemp(prefix="whispersync-lambda-placeholder-"))
    (directory / "README.txt").write_text(
        "Placeholder Lambda code: build the package with `whispersync deploy aws package --out DIR`\n"
        "and synthesize with `whispersync deploy aws synth --code DIR` before deploying.\n", encoding="utf-8")
    return directory


def build_stack(plan: Plan, settings: DeploySettings | None = None, *, app: cdk.App | None = None,
                code_dir: Path | None = None, plan_file: Path | None = None) -> cdk.Stack:
    """The stack for ``plan`` in ``app`` (a new App when None). ``code_dir`` None uses a placeholder package.
    ``plan_file``: the user's plan file ``plan`` was built from (``effective_plan(plan_file)``), shipped with
    the code so the handlers run the same plan."""
    settings = settings or DeploySettings()
    app = app or cdk.App()
    return WhisperSyncStack(app, plan, settings, code_dir or placeholder_code_dir(), plan_file)


def synth(plan: Plan, settings: DeploySettings | None = None, *, out_dir: Path,
          code_dir: Path | None = None, plan_file: Path | None = None) -> Path:
    """Write the cloud assembly (cdk.out style) to ``out_dir``; return the stack's template path."""
    settings = settings or DeploySettings()
    app = cdk.App(outdir=str(out_dir))
    stack = build_stack(plan, settings, app=app, code_dir=code_dir, plan_file=plan_file)
    assembly = app.synth()
    return Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path)
