"""Issue 17: `metrics import` reads the EMF the real producers write.

The documents come from the real libraries (test extras): aws-lambda-powertools'
Metrics and aws-embedded-metrics. Each generator writes two dimension sets, a metric
with several values (a value array) and a high-resolution metric; after the import,
`metrics get` must return exactly the Sum and SampleCount each series was given, and
the high-resolution metric must answer at a 1-second period. The same lines behind a
Lambda runtime's prefix import the same.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from contextlib import redirect_stdout
from datetime import datetime, timezone

import orjson
import pytest
from typer.testing import CliRunner

from whispersync.cli._common import app

NS = "WhisperSync/Test"
REQUEST_ID = "5b1f6a0e-8c9d-4c44-9f0e-2c7d1f0b3a11"

# Half a minute into a whole minute an hour ago: inside the store's retention, and every
# datapoint of one generator falls in one 60-second period whatever the clock says.
TS_MS = (int(time.time()) // 60 * 60 - 3600 + 30) * 1000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# What each generator is given, per metric: its values. Every dimension set gets them all.
LATENCY = [10.0, 20.0, 30.5]
MEMOS = [2.0, 3.0]
QUEUE_DEPTH = [7.0]  # high resolution


def powertools_lines() -> list[str]:
    """Powertools' Metrics, flushed to stdout as a Lambda function's would be."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricResolution, MetricUnit

    out = io.StringIO()
    with redirect_stdout(out):
        metrics = Metrics(namespace=NS, service="svc")
        metrics.clear_metrics()  # Powertools keeps metrics in class-level state
        metrics.set_timestamp(TS_MS)
        metrics.add_dimension(name="Stage", value="prod")
        metrics.add_dimensions(Stage="prod", Operation="transcribe")  # a second dimension set
        for value in LATENCY:
            metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=value)
        for value in MEMOS:
            metrics.add_metric(name="Memos", unit=MetricUnit.Count, value=value)
        for value in QUEUE_DEPTH:
            metrics.add_metric(name="QueueDepth", unit=MetricUnit.Count, value=value,
                               resolution=MetricResolution.High)
        metrics.flush_metrics()
    return out.getvalue().splitlines()


_EMF_SCRIPT = """
import asyncio, sys
from datetime import datetime, timezone
from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger
from aws_embedded_metrics.storage_resolution import StorageResolution

async def main(ts_ms, latency, memos, depth):
    logger = create_metrics_logger()
    logger.set_namespace("%s")
    logger.set_timestamp(datetime.fromtimestamp(ts_ms / 1000, timezone.utc))
    logger.put_dimensions({"Stage": "prod"})
    logger.put_dimensions({"Stage": "prod", "Operation": "transcribe"})
    for value in latency:
        logger.put_metric("Latency", value, "Milliseconds")
    for value in memos:
        logger.put_metric("Memos", value, "Count")
    for value in depth:
        logger.put_metric("QueueDepth", value, "Count", StorageResolution.HIGH)
    await logger.flush()

asyncio.run(main(%d, %r, %r, %r))
""" % (NS, TS_MS, LATENCY, MEMOS, QUEUE_DEPTH)


def embedded_metrics_lines() -> list[str]:
    """aws-embedded-metrics in its Local environment, which prints to stdout.

    A process of its own: the library reads its environment once and keeps it.
    """
    env = {**os.environ, "AWS_EMF_ENVIRONMENT": "Local", "AWS_EMF_SERVICE_NAME": "svc",
           "AWS_EMF_SERVICE_TYPE": "worker", "AWS_EMF_LOG_GROUP_NAME": "/aws/lambda/svc"}
    proc = subprocess.run([sys.executable, "-c", _EMF_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


# The series each library writes: its dimension sets as the library fills them in.
PRODUCERS = {
    "powertools": (powertools_lines, [
        {"Stage": "prod", "service": "svc"},  # Powertools adds `service` to the first set
        {"Stage": "prod", "Operation": "transcribe"},
    ]),
    "aws-embedded-metrics": (embedded_metrics_lines, [
        # put_dimensions adds to the default dimensions (LogGroup, ServiceName, ServiceType)
        {"LogGroup": "/aws/lambda/svc", "ServiceName": "svc", "ServiceType": "worker", "Stage": "prod"},
        {"LogGroup": "/aws/lambda/svc", "ServiceName": "svc", "ServiceType": "worker", "Stage": "prod",
         "Operation": "transcribe"},
    ]),
}

PREFIXES = {
    "bare": "",
    # console.log-style (Node.js runtime) and the Python runtime's logging handler.
    "lambda": f"2026-12-02T03:08:37.969Z\t{REQUEST_ID}\tINFO\t",
    "lambda-python": f"[INFO]\t2026-12-02T03:08:37.969Z\t{REQUEST_ID}\t",
}


@pytest.fixture(scope="module")
def generated() -> dict[str, list[str]]:
    return {name: generate() for name, (generate, _) in PRODUCERS.items()}


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    (tmp_path / "home").mkdir(exist_ok=True)

    def run(*args: str):
        result = runner.invoke(app, ["--home", str(tmp_path / "home"), *args])
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)

    return run


def get(cli, name: str, dims: dict[str, str], stat: str, period: int, start_ms: int, end_ms: int) -> dict:
    dim_args = [arg for key, value in dims.items() for arg in ("--dim", f"{key}={value}")]
    return cli("metrics", "get", NS, name, *dim_args, "--stat", stat, "--period", str(period),
               "--start", iso(start_ms), "--end", iso(end_ms), "--json")


@pytest.mark.parametrize("prefix", PREFIXES.values(), ids=PREFIXES.keys())
@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_series_has_exactly_what_the_producer_wrote(cli, tmp_path, generated, producer, prefix) -> None:
    lines = generated[producer]
    assert lines and all('"_aws"' in line for line in lines), lines
    path = tmp_path / "emf.log"
    path.write_text("".join(prefix + line + "\n" for line in lines))

    answer = cli("metrics", "import", str(path), "--json")
    dimension_sets = PRODUCERS[producer][1]
    per_set = len(LATENCY) + len(MEMOS) + len(QUEUE_DEPTH)
    assert answer == {"imported": per_set * len(dimension_sets), "already_imported": 0, "skipped": []}

    minute = TS_MS // 60_000 * 60_000
    for dims in dimension_sets:
        for name, values, unit in (("Latency", LATENCY, "Milliseconds"), ("Memos", MEMOS, "Count"),
                                   ("QueueDepth", QUEUE_DEPTH, "Count")):
            for stat, expected in (("Sum", sum(values)), ("SampleCount", float(len(values)))):
                series = get(cli, name, dims, stat, 60, minute, minute + 60_000)
                assert (series["timestamps"], series["values"], series["unit"]) == (
                    [iso(minute)], [expected], unit), (dims, name, stat)

        # High resolution: the datapoint keeps its own second at a 1-second period, where a
        # standard-resolution one (Latency, from the same document) stays on its minute.
        series = get(cli, "QueueDepth", dims, "Sum", 1, minute, minute + 60_000)
        assert (series["timestamps"], series["values"]) == ([iso(TS_MS)], [sum(QUEUE_DEPTH)]), dims
        series = get(cli, "Latency", dims, "Sum", 1, minute, minute + 60_000)
        assert (series["timestamps"], series["values"]) == ([iso(minute)], [sum(LATENCY)]), dims
