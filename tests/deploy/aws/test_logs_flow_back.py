"""Production flows back: what CloudWatch holds of the handlers' stdout, exported with `aws logs filter-log-events`,
imported with `whispersync logs import` and `metrics import`, answers the same local queries.

FilterLogEvents' response: {"events": [{"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}],
"searchedLogStreams": [...]}; the AWS CLI prints it indented.
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
Lambda's log stream names: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from whispersync.telemetry import parse_emf

TEXT = "Standup. Need to fix the flaky deploy test. Will follow up with Sam about the release."
BUCKET = "whispersync-test-bucket"
MEMO_ID = "memo0001"
WHISPERSYNC = str(Path(sys.executable).with_name("whispersync"))
STREAM = "2026/12/02/[$LATEST]0123456789abcdef0123456789abcdef"


def _exported(lines: list[str], request_id: str, first_event: int) -> dict:
    """A function's stdout lines as FilterLogEvents returns them, between its platform START and REPORT lines."""
    now = int(time.time() * 1000)
    messages = [f"START RequestId: {request_id} Version: $LATEST\n", *(f"{line}\n" for line in lines),
                f"END RequestId: {request_id}\n",
                (f"REPORT RequestId: {request_id}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\t"
                 "Max Memory Used: 80 MB\tInit Duration: 301.22 ms\t\n")]
    events = [{"logStreamName": STREAM, "timestamp": now, "message": message, "ingestionTime": now + 250,
               # eventIds are 56-digit decimal strings
               "eventId": f"{first_event + n:056d}"} for n, message in enumerate(messages)]
    return {"events": events, "searchedLogStreams": []}


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([WHISPERSYNC, "--home", str(home), *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done


def test_a_memos_production_logs_and_metrics_are_queried_locally(deployed, lam, tmp_path):
    key = f"transcripts/work/{MEMO_ID}.txt"
    deployed.s3.put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())
    answer = deployed.modules["ingest"].handler(lam.s3_event(key, size=len(TEXT)), lam.context("whispersync-ingest"))
    assert answer["accepted"] == [MEMO_ID]
    ingest_lines = deployed.stdout.getvalue().splitlines()
    received = lam.receive_all(deployed.sqs, deployed.queue_url)
    worker = deployed.modules["worker"].handler
    assert worker(lam.sqs_event(received, lam.queue_arn(deployed.sqs, deployed.queue_url)), lam.context()) == {
        "batchItemFailures": []}
    worker_lines = deployed.stdout.getvalue().splitlines()[len(ingest_lines):]
    correlation_id = received[0]["MessageAttributes"]["correlationId"]["StringValue"]

    files = {}
    for function, lines, first in (("ingest", ingest_lines, 1), ("worker", worker_lines, 1000)):
        files[function] = tmp_path / f"{function}-events.json"
        # `aws logs filter-log-events` prints its response indented, as here.
        files[function].write_text(json.dumps(_exported(lines, f"req-{function}", first), indent=4))
    home = tmp_path / "home"
    for function, path in files.items():
        _cli(home, "logs", "import", str(path), "--log-group", f"/aws/lambda/whispersync-{function}")
        metrics = json.loads(_cli(home, "metrics", "import", str(path), "--json").stdout)
        # The log lines, spans and platform lines beside the EMF documents are passed over, not errors.
        assert metrics["skipped"] == [] and metrics["imported"] > 0, metrics

    # Logs Insights by the memo's correlation id: the memo's log lines, from both functions.
    query = (f"filter correlation_id = '{correlation_id}' and ispresent(level) "
             "| fields @log, message, function_name | sort @timestamp asc")
    rows = json.loads(_cli(home, "logs", "query", query, "--since", "1h", "--json").stdout)["rows"]
    expected = [json.loads(line) for line in ingest_lines + worker_lines]
    expected = [line for line in expected if line.get("correlation_id") == correlation_id and "level" in line]
    assert len(expected) >= 3
    assert sorted((row[0], row[1]) for row in rows) == sorted(
        (f"/aws/lambda/{line['function_name']}", line["message"]) for line in expected)
    assert {"Transcript accepted", "Processing transcript", "Processing successful"} <= {row[1] for row in rows}

    # The platform REPORT line is the invocation's, as CloudWatch discovers it.
    report = json.loads(_cli(home, "logs", "query", "filter @type = 'REPORT' | fields @log, @duration, @requestId",
                             "--since", "1h", "--json").stdout)["rows"]
    assert sorted(report) == [["/aws/lambda/whispersync-ingest", 12.34, "req-ingest"],
                              ["/aws/lambda/whispersync-worker", 12.34, "req-worker"]]

    # The EMF lines: TranscriptsProcessed counts the one memo.
    emitted = [r for line in worker_lines if '"_aws"' in line for r in parse_emf(line)
               if r["name"] == "TranscriptsProcessed"]
    assert emitted, "the worker emitted no TranscriptsProcessed"
    dims = [f"--dim={k}={v}" for k, v in sorted(emitted[0]["dimensions"].items())]
    got = json.loads(_cli(home, "metrics", "get", "WhisperSync/Business", "TranscriptsProcessed", *dims,
                          "--stat", "Sum", "--period", "3600", "--since", "2h", "--json").stdout)
    assert sum(got["values"]) == 1

    # Importing the same export again adds nothing.
    again = json.loads(_cli(home, "metrics", "import", str(files["worker"]), "--json").stdout)
    assert again["imported"] == 0
    again_logs = json.loads(_cli(home, "logs", "import", str(files["worker"]), "--log-group",
                                 "/aws/lambda/whispersync-worker", "--json").stdout)
    assert again_logs["imported"] == 0 and again_logs["already_imported"] == len(worker_lines) + 3
