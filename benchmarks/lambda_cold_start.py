"""The worker Lambda's cold start: import time and memory of its handler module, beside a Powertools peer.

    python benchmarks/lambda_cold_start.py [--runs 7]

Each run is a fresh interpreter, as a new Lambda container's is:

  import time   `python -X importtime -c "import MODULE"`, the module's cumulative time
                (what Python spent importing it and everything it pulled in), median of RUNS.
  memory        the process's peak resident set (ru_maxrss) after the import, median, and
                the bare interpreter's for reference.

The peer is the handler a Powertools user writes: Logger + Metrics + Tracer at module
level (Tracer needs aws-xray-sdk). Both are run alternately, in the same run.

Package size: the files of every distribution the worker's import loads (whispersync's
own package included, boto3/botocore/s3transfer excluded: Lambda's Python runtime has
them), unzipped: what a worker-only deployment package has to hold.

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
PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}  # in Lambda's runtime
MEASURE = (
    "import resource, sys, json; import {module}; "
    "print(json.dumps({{'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "'modules': sorted({{m.split('.')[0] for m in sys.modules}})}}))"
)


def one_run(module: str, env: dict[str, str]) -> tuple[float, int, list[str]]:
    """(import ms, peak RSS kB, top-level modules loaded) of importing `module` in a fresh interpreter."""
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
    return cumulative, answer["rss_kb"], answer["modules"]


def bare_rss(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", "import resource; print(resource.getrusage(resource.RUSAGE_SELF)"
                           ".ru_maxrss)"], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout)


def package_bytes(modules: list[str]) -> tuple[int, list[tuple[str, int]]]:
    """Bytes on disk of the non-stdlib top-level packages in `modules` (minus Lambda's own)."""
    stdlib = set(sys.stdlib_module_names)
    sizes = []
    for name in modules:
        if name in stdlib or name.startswith("_") or name in PROVIDED or name == "__main__":
            continue
        try:
            spec = __import__("importlib.util").util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.origin in ("built-in", "frozen"):
            continue
        # A namespace package (opentelemetry) has no origin, only its folders.
        roots = [Path(p) for p in spec.submodule_search_locations] if spec.submodule_search_locations else [
            Path(spec.origin)]
        roots = [r for r in roots if "site-packages" in str(r) or name == "whispersync"]
        files = [f for r in roots for f in ([r] if r.is_file() else r.rglob("*"))
                 if f.is_file() and "__pycache__" not in f.parts]
        if files:
            sizes.append((name, sum(f.stat().st_size for f in files)))
    return sum(size for _, size in sizes), sorted(sizes, key=lambda item: -item[1])


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
        loaded: list[str] = []
        one_run(WORKER, env), one_run(PEER, env)  # warm the page cache for both
        for _ in range(runs):
            for module in (WORKER, PEER):  # alternately, so drift hits both
                ms, rss, modules = one_run(module, env)
                results[module].append((ms, rss))
                if module == WORKER:
                    loaded = modules
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
    total, sizes = package_bytes(loaded)
    print(f"worker package (unzipped, without boto3): {total / 1e6:.1f} MB (target < 10 MB)"
          f"{'' if total < 10e6 else '  MISSED'}")
    for name, size in sizes:
        print(f"  {name:20s} {size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
