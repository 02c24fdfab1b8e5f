"""`deploy aws synth` and `deploy aws outputs`: the CloudFormation template of the pipeline and its
monitoring plan, through the AWS CDK, and where to look once it is deployed.

The CDK (``pip install 'whispersync[deploy]'``) and Node are needed only here: the
stack module is imported when the command runs, never by ``import whispersync``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Optional
from urllib.parse import quote

import orjson
import typer
from rich.markup import escape

from whispersync.cli._common import JsonOption, console, err_console, fail, load_settings, print_json
from whispersync.plan import Plan, PlanError, effective_plan

deploy_app = typer.Typer(help="Deploy the same pipeline and plan beyond one machine.", no_args_is_help=True)
aws_app = typer.Typer(help="AWS: synthesize the CDK stack compiled from the monitoring plan.", no_args_is_help=True)
deploy_app.add_typer(aws_app, name="aws")

_INSTALL_HINT = "pip install 'whispersync[deploy]'"
# What the count line reports, by CloudFormation resource type.
_COUNTED = {
    "alarms": "AWS::CloudWatch::Alarm",
    "composite_alarms": "AWS::CloudWatch::CompositeAlarm",
    "dashboards": "AWS::CloudWatch::Dashboard",
    "metric_filters": "AWS::Logs::MetricFilter",
}


@aws_app.command("synth")
def aws_synth(
    out: Annotated[Path, typer.Option("--out", help="Directory for the cloud assembly (cdk.out style).")] = Path(
        "cdk.out"),
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
    code: Annotated[Optional[Path], typer.Option(
        "--code", help="The Lambda code directory `whispersync deploy aws package --out DIR` built; default: a "
                       "placeholder package, enough to review the template but not to deploy it.")] = None,
    secrets_name: Annotated[str, typer.Option(
        "--secrets-name", help="Where the alert router reads the channel secrets (a JSON object): an SSM "
                               "SecureString parameter (a name starting with / or its ARN) or a Secrets Manager "
                               "secret (any other name).")] = "whispersync/channels",
    smtp_host: Annotated[Optional[str], typer.Option("--smtp-host", help="Email alerts: the SMTP server (its "
                                                     "password is smtp_password in the secrets).")] = None,
    smtp_port: Annotated[int, typer.Option("--smtp-port", help="Email alerts: the SMTP port (STARTTLS).")] = 587,
    smtp_user: Annotated[Optional[str], typer.Option("--smtp-user", help="Email alerts: the SMTP user.")] = None,
    email_from: Annotated[Optional[str], typer.Option("--email-from", help="Email alerts: the sender.")] = None,
    email_to: Annotated[Optional[list[str]], typer.Option("--email-to", help="Email alerts: a recipient "
                                                          "(repeat for more); needs --smtp-host.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the CloudFormation template of the stack: bucket, queues, table, functions, and every alarm,
    composite alarm, metric filter and dashboard of the effective plan. The plan file (--plan or the configured
    one) also ships in the code directory, so the alert router's routes and remediation's rules are that plan's.
    Deploy it with the CDK CLI: npx aws-cdk deploy --app DIR (DIR is the --out directory)."""
    from whispersync.monitoring.plan_check import check_plan

    settings = load_settings()
    plan_file = plan_file or settings.plan_file
    plan = _load_plan(plan_file)
    problems = check_plan(plan)
    if problems:
        for problem in problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
        fail(f"the plan has {len(problems)} problem(s); fix them before synthesizing (whispersync plan validate)", 1)
    if code is not None and not code.is_dir():
        fail(escape(f"--code {code}: not a directory"))
    stack = _stack_module()
    try:
        deploy_settings = stack.DeploySettings.from_settings(
            settings, secrets_name=secrets_name, smtp_host=smtp_host, smtp_port=smtp_port, smtp_user=smtp_user,
            email_from=email_from, email_to=tuple(email_to or ()))
        template = stack.synth(plan, deploy_settings, out_dir=out, code_dir=code, plan_file=plan_file)
    except stack.StackError as exc:
        fail(escape(str(exc)))
    except Exception as exc:  # jsii relays the CDK's JavaScript errors as its own exception types
        if type(exc).__module__.split(".")[0] != "jsii":
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(escape(f"the CDK could not synthesize the stack: {first_line}"))
    counts = _counts(template, stack.FUNCTION_NAMES)
    if as_json:
        print_json({"template": str(template), "out": str(out), "placeholder_code": code is None, "counts": counts})
        return
    console.print(str(template), highlight=False, soft_wrap=True)
    console.print(", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()), highlight=False)
    if code is None:
        err_console.print("note: the functions use a placeholder package; pass --code DIR to deploy",
                          highlight=False, soft_wrap=True)


@aws_app.command("package")
def aws_package(
    out: Annotated[Path, typer.Option("--out", help="The Lambda code directory to build (replaced if a previous "
                                                    "package).")] = Path("build/lambda"),
    as_json: JsonOption = False,
) -> None:
    """Build the Lambda code directory for `synth --code DIR`: whispersync and only the distributions its
    handlers import (no DuckDB, FastAPI or Jinja2; boto3 is Lambda's own), as Linux x86_64 wheels for
    Python 3.11. pip downloads them from your index.

    --json prints {"directory", "size_bytes", "distributions": [{"name", "version", "size_bytes"}]}.
    """
    from whispersync.deploy.aws.package import PackageError, build_package

    try:
        package = build_package(out)
    except PackageError as exc:
        fail(escape(str(exc)))
    if as_json:
        print_json({"directory": str(package.directory), "size_bytes": package.size_bytes,
                    "distributions": [{"name": d.name, "version": d.version, "size_bytes": d.size_bytes}
                                      for d in package.distributions]})
        return
    console.print(str(package.directory), highlight=False, soft_wrap=True)
    console.print(f"{package.size_bytes / 1e6:.1f} MB unzipped, {len(package.distributions)} distributions:",
                  highlight=False)
    for dist in package.distributions:
        console.print(f"  {escape(dist.name)} {escape(dist.version)}  {dist.size_bytes / 1e6:.2f} MB", highlight=False)


# An AWS region code (eu-west-1, us-gov-west-1, ap-southeast-4).
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@aws_app.command("outputs")
def aws_outputs(
    region: Annotated[str, typer.Option("--region", help="The region the stack is deployed in, e.g. eu-west-1.")],
    outputs_file: Annotated[Optional[Path], typer.Option(
        "--outputs-file", help="The file `npx aws-cdk deploy --outputs-file FILE` wrote: adds the stack's bucket, "
                               "queues, table and secret name.")] = None,
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where to look after deploying: console links to the plan's dashboards and alarms, and the stack's outputs.

    \b
    whispersync deploy aws outputs --region eu-west-1

    --json prints {"region", "dashboards": [{"name", "url"}], "alarms": [{"name", "kind", "priority", "url"}],
    "stack": {output name: value}}.
    """
    if not _REGION.fullmatch(region):
        fail(escape(f"--region {region!r}: not an AWS region code (like eu-west-1)"))
    plan = _load_plan(plan_file or load_settings().plan_file)
    stack_outputs = _read_outputs(outputs_file) if outputs_file else {}
    console_home = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
    data = {
        "region": region,
        "dashboards": [{"name": d.name, "url": f"{console_home}#dashboards:name={quote(d.name, safe='')}"}
                       for d in plan.dashboards],
        "alarms": [{"name": a.name, "kind": a.kind, "priority": a.priority,
                    "url": f"{console_home}#alarmsV2:alarm/{quote(a.name, safe='')}"} for a in plan.alarms],
        "stack": stack_outputs,
    }
    if as_json:
        print_json(data)
        return
    for title, items in (("Dashboards", data["dashboards"]), ("Alarms", data["alarms"])):
        console.print(f"[bold]{title}[/]")
        for item in items:
            label = item["name"] if "priority" not in item else f"{item['name']} ({item['priority']})"
            console.print(f"  {escape(label)}  {escape(item['url'])}", highlight=False, soft_wrap=True)
    if stack_outputs:
        console.print("[bold]Stack outputs[/]")
        for key, value in stack_outputs.items():
            console.print(f"  {escape(key)}: {escape(str(value))}", highlight=False, soft_wrap=True)


@aws_app.command("check")
def aws_check(
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
    region: Annotated[Optional[str], typer.Option(
        "--region", help="The region the stack is deployed in; default: AWS_REGION, else the AWS configuration's.",
    )] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the account's CloudWatch alarms and dashboards with what synth deploys from the plan, and list
    every drift: missing, extra (named whispersync-..., or alarms acting on its topics and functions) and changed
    fields. Reads with DescribeAlarms, ListDashboards and GetDashboard (and STS GetCallerIdentity for the account).

    Exit code 0: no drift; 1: drift; 2: the account could not be read.

    --json prints {"region", "account", "checked": {"alarms", "dashboards"}, "drift": [{"type": "alarm" or
    "dashboard", "name", "drift": "missing", "extra" or "changed", "field", "expected", "actual"}]}.
    """
    if region is not None and not _REGION.fullmatch(region):
        fail(escape(f"--region {region!r}: not an AWS region code (like eu-west-1)"))
    plan = _load_plan(plan_file or load_settings().plan_file)
    try:
        import boto3

        from whispersync.deploy.aws import drift
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("boto3", "botocore"):
            fail(escape(f"boto3 is not installed ({exc.name}); install it with: pip install 'whispersync[aws]'"))
        raise
    try:
        # botocore reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION, which the AWS CLI v2 and
        # the other SDKs read: honour it too.
        session = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
        if not session.region_name:
            fail("no AWS region: pass --region or set AWS_REGION")
        report = drift.compare(plan, drift.read_deployed(session))
    except drift.DriftError as exc:
        fail(escape(str(exc)))
    found = report["drift"]
    if as_json:
        print_json(report)
    else:
        for item in found:
            label = f"{item['type']} {item['name']}"
            if item["drift"] == "missing":
                line = f"{label}: missing (in the plan, not deployed)"
            elif item["drift"] == "extra":
                line = f"{label}: deployed, not in the plan"
            else:
                line = (f"{label}: {item['field']}: expected {_show(item['expected'])},"
                        f" deployed {_show(item['actual'])}")
            console.print(escape(line), highlight=False, soft_wrap=True)
        checked = report["checked"]
        summary = f"{checked['alarms']} alarms and {checked['dashboards']} dashboards checked in" \
                  f" {report['region']} ({report['account']}): "
        console.print(escape(summary + (f"{len(found)} drift(s)" if found else "no drift")), highlight=False)
    if found:
        raise typer.Exit(1)


def _show(value: Any) -> str:
    return "(absent)" if value is None else orjson.dumps(value).decode()


def _read_outputs(path: Path) -> dict[str, Any]:
    """The stack's outputs from a CDK outputs file: {"WhisperSync": {"BucketName": …}} (one stack)."""
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        fail(escape(f"--outputs-file {path}: {exc.strerror or exc}"))
    except orjson.JSONDecodeError as exc:
        fail(escape(f"--outputs-file {path}: not JSON ({exc})"))
    stacks = [v for v in raw.values() if isinstance(v, dict)] if isinstance(raw, dict) else []
    if len(stacks) != 1:
        fail(escape(f"--outputs-file {path}: expected one stack's outputs ({{\"WhisperSync\": {{...}}}}),"
                    f" found {len(stacks)}"))
    return stacks[0]


def _load_plan(path: Path | None) -> Plan:
    try:
        return effective_plan(path)
    except PlanError as exc:
        for problem in exc.problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
        fail(escape(f"{path}: {len(exc.problems)} problem(s)"), 1)
        raise  # unreachable: fail() exits


def _stack_module() -> Any:
    """The stack module, or a clear message when the CDK or Node is missing."""
    # jsii starts Node when aws_cdk is imported; without it the import fails with a low-level error.
    if shutil.which("node") is None:
        fail("the AWS CDK needs Node.js (18 or later) on PATH to synthesize; install it, then run this again")
    try:
        from whispersync.deploy.aws import stack
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("aws_cdk", "constructs", "jsii"):
            fail(escape(f"the AWS CDK is not installed ({exc.name}); install it with: {_INSTALL_HINT}"))
        raise
    return stack


def _counts(template: Path, function_names: frozenset[str]) -> dict[str, int]:
    resources = orjson.loads(template.read_bytes()).get("Resources", {})
    by_type = Counter(r.get("Type") for r in resources.values())
    counts = {key: by_type[kind] for key, kind in _COUNTED.items()}
    # Only the pipeline's functions: the CDK adds its own (the bucket-notification handler).
    counts["functions"] = sum(1 for r in resources.values() if r.get("Type") == "AWS::Lambda::Function"
                              and r.get("Properties", {}).get("FunctionName") in function_names)
    return counts
