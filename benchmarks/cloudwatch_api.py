"""CloudWatch's API through boto3: WhisperSync (a real `whispersync up`) beside moto's server mode.

    python benchmarks/cloudwatch_api.py [--batches 20] [--runs 15] [--protocol json] [--quick]

Both servers run in this one run, on this machine, and get the same calls from the same
boto3 client code, alternately (so load from other processes hits both alike):

* PutMetricData throughput: batches of 1,000 values (1,000 MetricData items of one value
  each, PutMetricData's limit), over 10 metrics and the past ~16 minutes; values per second.
* GetMetricData latency: the Sum of those 10 metrics at a 60 s period over the past hour,
  one call; the median in ms.

moto (``moto.server.ThreadedMotoServer``) is the emulator users would otherwise pick for
boto3 code. It keeps datapoints in memory and answers GetMetricData by scanning them;
WhisperSync writes to its telemetry store (durable) and answers with the query engine of
`whispersync metrics get`. The ratio is moto's figure over WhisperSync's (above 1 = WhisperSync
faster for latency; for throughput it is WhisperSync's over moto's). ``--protocol`` forces the
wire protocol of both clients (as tests/web/aws/conftest.py does); botocore's own choice is
``json``. `--quick` (3 batches, 5 runs) is a smoke run.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from console import free_port, start_server  # noqa: E402  (the same `whispersync up` the console benchmark runs)

BATCH = 1000
METRICS = 10
NAMESPACE = "Bench/Api"


def client(endpoint: str, protocol: str) -> Any:
    session = botocore.session.get_session()
    data = session.get_component("data_loader").load_service_model("cloudwatch", "service-2")
    data["metadata"]["protocols"] = [protocol]
    data["metadata"]["protocol"] = protocol
    return boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1}))


def batch(number: int, now: datetime) -> list[dict[str, Any]]:
    """1,000 datapoints: each of the 10 metrics once a second over 100 s, batch `number` further back."""
    return [{"MetricName": f"m{i % METRICS}", "Value": float((number * BATCH + i) % 97),
             "Timestamp": now - timedelta(seconds=number * (BATCH // METRICS) + i // METRICS)}
            for i in range(BATCH)]


def queries() -> list[dict[str, Any]]:
    return [{"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": f"m{i}"},
                                           "Period": 60, "Stat": "Sum"}} for i in range(METRICS)]


def put_throughput(clients: dict[str, Any], batches: int, now: datetime) -> dict[str, float]:
    """Values per second for each client; batches sent alternately."""
    elapsed = dict.fromkeys(clients, 0.0)
    for number in range(batches):
        data = batch(number, now)
        for name, c in clients.items():
            start = time.perf_counter()
            c.put_metric_data(Namespace=NAMESPACE, MetricData=data)
            elapsed[name] += time.perf_counter() - start
    return {name: batches * BATCH / seconds for name, seconds in elapsed.items()}


def get_latency(clients: dict[str, Any], runs: int, now: datetime) -> tuple[dict[str, float], dict[str, int]]:
    """Median ms of one GetMetricData call for each client, and the datapoints it returned."""
    def call(c: Any) -> int:
        answer = c.get_metric_data(MetricDataQueries=queries(), StartTime=now - timedelta(hours=1),
                                   EndTime=now + timedelta(minutes=1))
        return sum(len(r["Values"]) for r in answer["MetricDataResults"])

    points = {name: call(c) for name, c in clients.items()}  # warm up, and what each returns
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(runs):
        for name, c in clients.items():
            start = time.perf_counter()
            call(c)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}, points


def run(batches: int, runs: int, protocol: str) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    with tempfile.TemporaryDirectory(prefix="ws-cw-bench-") as tmp:
        root = Path(tmp)
        port, moto_port = free_port(), free_port()
        server = start_server(root, root / "home", port)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        try:
            clients = {"whispersync": client(f"http://127.0.0.1:{port}", protocol),
                       "moto": client(f"http://127.0.0.1:{moto_port}", protocol)}
            now = datetime.now(UTC).replace(microsecond=0)
            throughput = put_throughput(clients, batches, now)
            latency, points = get_latency(clients, runs, now)
        finally:
            moto.stop()
            server.terminate()
            server.wait(timeout=30)
    print(f"CloudWatch API through boto3 ({protocol} protocol); {batches} PutMetricData batches of {BATCH:,} "
          f"values, GetMetricData median of {runs}")
    rows: list[tuple[str, Callable[[str], str], str]] = [
        ("PutMetricData values/s", lambda n: f"{throughput[n]:,.0f}",
         f"{throughput['whispersync'] / throughput['moto']:.2f}x"),
        ("GetMetricData ms", lambda n: f"{latency[n]:.1f}", f"{latency['moto'] / latency['whispersync']:.2f}x"),
        ("GetMetricData datapoints", lambda n: str(points[n]), ""),
    ]
    print(f"{'':26}{'whispersync':>14}{'moto':>14}{'ratio':>10}")
    for label, cell, ratio in rows:
        print(f"{label:26}{cell('whispersync'):>14}{cell('moto'):>14}{ratio:>10}")
    print("ratio: above 1 means WhisperSync is faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="PutMetricData calls of 1,000 values, per server")
    parser.add_argument("--runs", type=int, default=15, help="GetMetricData calls timed, per server")
    parser.add_argument("--protocol", default="json", choices=["json", "query", "smithy-rpc-v2-cbor"],
                        help="the wire protocol of both clients")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 batches, 5 runs")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.runs = 3, 5
    run(args.batches, args.runs, args.protocol)


if __name__ == "__main__":
    main()
