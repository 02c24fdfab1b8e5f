"""What every handler shares: telemetry to stdout in Lambda's shapes, the environment, trace ids.

Logs are Powertools Logger lines (its keys, plus the Lambda context keys Powertools
adds: cold_start, function_name, function_memory_size, function_arn,
function_request_id, and xray_trace_id in X-Ray's `1-xxxxxxxx-…` form); metrics are
EMF documents that CloudWatch extracts from the log group without an API call
(StdoutSink writes them); spans are OTel-shaped JSON lines in the same log stream. A trace
a handler starts gets an X-Ray id (the start's epoch seconds, then 96 random bits), so the
trace X-Ray shows from ingest through SQS to the worker is ours, under one id.

Nothing here imports boto3: adapters build their clients on first use.
"""

from __future__ import annotations

import os
import random
import re
from typing import IO, Any

from whispersync.deploy.aws.environment import ENV
from whispersync.errors import ConfigError
from whispersync.telemetry import StdoutSink, Telemetry

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # the telemetry logger's levels

# Lambda's tracing header: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
# https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
_XRAY_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")
_XRAY_PARENT = re.compile(r"Parent=([0-9a-f]{16})")
_XRAY_SAMPLED = re.compile(r"Sampled=([01])")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def xray_trace_id(trace_id: str) -> str | None:
    """A W3C trace id (32 hex) in X-Ray's form, `1-<8 hex>-<24 hex>`; None if it is not one."""
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        return None
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


def new_xray_trace_id(start_ns: int) -> str:
    """A new trace id X-Ray accepts: 8 hex digits of the start's epoch seconds, then 24 random hex digits.

    https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids"""
    return "%08x%024x" % (start_ns // 1_000_000_000, random.getrandbits(96))


def traceparent_from_xray(header: str | None) -> str | None:
    """An X-Ray tracing header (`_X_AMZN_TRACE_ID`, SQS's AWSTraceHeader) as a W3C traceparent.

    None when it names no root and parent: there is nothing to continue then."""
    if not header:
        return None
    root, parent = _XRAY_ROOT.search(header), _XRAY_PARENT.search(header)
    if root is None or parent is None:
        return None
    sampled = _XRAY_SAMPLED.search(header)
    flags = "00" if sampled is not None and sampled.group(1) == "0" else "01"
    return f"00-{root.group(1)}{root.group(2)}-{parent.group(1)}-{flags}"


def lambda_traceparent() -> str | None:
    """The invocation's own trace (Lambda sets `_X_AMZN_TRACE_ID` per invocation when tracing is on)."""
    return traceparent_from_xray(os.environ.get("_X_AMZN_TRACE_ID"))


class LambdaSink:
    """StdoutSink with the Powertools Lambda context keys on every log line."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._out = StdoutSink(stream)
        self.context: dict[str, Any] = {}

    def set_invocation(self, context: Any, *, cold_start: bool) -> None:
        """The keys Powertools' `inject_lambda_context` adds, from Lambda's context object."""
        fields = {"cold_start": cold_start}
        for key, attribute in (("function_name", "function_name"), ("function_memory_size", "memory_limit_in_mb"),
                               ("function_arn", "invoked_function_arn"), ("function_request_id", "aws_request_id")):
            value = getattr(context, attribute, None)
            if value is not None:
                fields[key] = value
        self.context = fields

    def emit(self, stream: str, record: dict) -> None:
        if stream == "logs":
            record.update(self.context)
            xray = xray_trace_id(record.get("trace_id", ""))
            if xray is not None:
                record["xray_trace_id"] = xray
        self._out.emit(stream, record)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


class Invocations:
    """One per handler module: its telemetry, and the cold-start flag Powertools logs."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.sink = LambdaSink(stream)
        service = os.environ.get(ENV.POWERTOOLS_SERVICE_NAME) or "whispersync"
        level = os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper()
        self.telemetry = Telemetry(self.sink, service=service, log_level=level if level in LEVELS else "INFO")
        self.telemetry.tracer.trace_id_generator = new_xray_trace_id
        self._cold = True

    def start(self, context: Any) -> Telemetry:
        """Call first in each invocation: sets the context keys of this invocation's log lines."""
        self.sink.set_invocation(context, cold_start=self._cold)
        self._cold = False
        return self.telemetry


def env(name: str) -> str:
    """A required environment variable the stack sets; ConfigError naming it when missing."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set (the CDK stack sets it)")
    return value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, not {value[:40]!r}") from None


_deployed_plans: dict[str, Any] = {}


def deployed_plan() -> Any:
    """The plan the stack was synthesized from: the built-in plan with the user's plan file layered on, when
    synth shipped one in the code directory (``ENV.PLAN_FILE``, relative to ``LAMBDA_TASK_ROOT``), else the
    built-in plan. Loaded once per container. (Imported here, not at the top: the worker does not need it.)"""
    from whispersync.plan import DEFAULT_PLAN, PlanError, effective_plan

    name = os.environ.get(ENV.PLAN_FILE)
    if not name:
        return DEFAULT_PLAN
    path = os.path.join(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd(), name)
    if path not in _deployed_plans:
        try:
            _deployed_plans[path] = effective_plan(path)
        except PlanError as exc:
            raise ConfigError(f"{ENV.PLAN_FILE}={name}: the shipped plan has {len(exc.problems)} problem(s): "
                              f"{'; '.join(map(str, exc.problems))[:500]}") from None
        except OSError as exc:
            raise ConfigError(f"{ENV.PLAN_FILE}={name}: cannot read {path} ({exc.strerror or exc})") from None
    return _deployed_plans[path]
