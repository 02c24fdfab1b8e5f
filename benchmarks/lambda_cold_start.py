"""The worker Lambda's cold start: import time and memory of its handler module, beside a Powertools peer.

    python benchmarks/lambda_cold_start.py [--runs 7]

Each run is a fresh interpreter, as a new Lambda container's is:

  import time   `python -X importtime -c "import MODULE"`, the module's cumulative time
                (what Python spent importing it and everything it pulled in), median of RUNS.
  memory        the process's peak resident set (ru_maxrss) after the import, median, and
                the bare interpreter's for reference.

The peer is the handler a Powertools user writes: Logger + Metrics + Tracer at module
level (Tracer needs aws-xray-sdk). Both are run alternately, in the same run.

Package size: a worker-only deployment package, built as `whispersync deploy aws package`
builds the full one (whispersync.deploy.aws.package: whispersync and the worker's third-party
closure as Lambda wheels, boto3 and its dependencies left to the runtime), unzipped. pip
downloads the wheels from the index; without one the size is reported as unavailable.

Target (issue 11): import <= 0.5x the Powertools handler's; package < 10 MB.
Benchmarks report, they do not gate: the exit code is 0; misses are marked MISSED.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from whispersync.deploy.aws.package import Package, PackageError, build_package

WORKER = "whispersync.deploy.aws.handlers.worker"
PEER = "powertools_peer"
PEER_SOURCE = '''
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics(namespace="WhisperSync/Business")
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    metrics.add_metric(name="TranscriptsProcessed", unit=MetricUnit.Count, value=1)
    return {"batchItemFailures": []}
'''
MEASURE = (
    "import resource, sys, json; import {module}; "
    "print(json.dumps({{'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))"
)


def one_run(module: str, env: dict[str, str]) -> tuple[float, int]:
    """(import ms, peak RSS kB) of importing `module` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", MEASURE.format(module=module)],
                          capture_output=True, text=True, env=env, check=True)
    cumulative = None
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            cumulative = int(parts[1]) / 1000
    if cumulative is None:
        raise SystemExit(f"no importtime line for {module}")
    answer = json.loads(done.stdout)
    return cumulative, answer["rss_kb"]


def bare_rss(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", "import resource; print(resource.getrusage(resource.RUSAGE_SELF)"
                           ".ru_maxrss)"], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout)


def worker_package() -> Package | str:
    """The worker-only Lambda package, built into a temporary directory; the reason when it cannot be."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            return build_package(Path(folder) / "lambda", modules=[WORKER])
        except PackageError as exc:
            return str(exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = max(args.runs, 7)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{PEER}.py").write_text(PEER_SOURCE)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([folder, os.environ.get("PYTHONPATH", "")]),
               "POWERTOOLS_SERVICE_NAME": "whispersync", "AWS_REGION": "eu-west-1", "PYTHONDONTWRITEBYTECODE": "1"}
        results: dict[str, list[tuple[float, int]]] = {WORKER: [], PEER: []}
        one_run(WORKER, env), one_run(PEER, env)  # warm the page cache for both
        for _ in range(runs):
            for module in (WORKER, PEER):  # alternately, so drift hits both
                results[module].append(one_run(module, env))
        bare = bare_rss(env)
    worker_ms = statistics.median(ms for ms, _ in results[WORKER])
    peer_ms = statistics.median(ms for ms, _ in results[PEER])
    print(f"import time (median of {runs}, fresh interpreter, -X importtime cumulative):")
    for module in (WORKER, PEER):
        ms = statistics.median(m for m, _ in results[module])
        rss = statistics.median(r for _, r in results[module])
        print(f"  {module:45s} {ms:8.1f} ms   peak RSS {rss / 1024:6.1f} MiB (bare interpreter {bare / 1024:.1f})")
    ratio = worker_ms / peer_ms
    print(f"  ratio worker / powertools: {ratio:.2f}x (target <= 0.5x){'' if ratio <= 0.5 else '  MISSED'}")
    package = worker_package()
    if isinstance(package, str):
        print(f"worker package: not built ({package})")
        return
    total = package.size_bytes
    print(f"worker package (unzipped, without boto3): {total / 1e6:.1f} MB (target < 10 MB)"
          f"{'' if total < 10e6 else '  MISSED'}")
    for dist in sorted(package.distributions, key=lambda d: -d.size_bytes):
        print(f"  {dist.name:20s} {dist.size_bytes / 1e6:7.2f} MB")

if __name__ == "__main__":
    main()
