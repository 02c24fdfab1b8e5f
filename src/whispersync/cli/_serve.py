"""`up` and `demo`: running the pipeline and showing it at work."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from whispersync.cli._common import (
    JsonOption,
    app,
    console,
    err_console,
    fail,
    load_settings,
    print_json,
    self_command,
)
from whispersync.domain import AGENTS, MemoStatus, Transcript
from whispersync.errors import InputError
from whispersync.settings import Settings


@app.command()
def up(
    port: Annotated[Optional[int], typer.Option(help="HTTP port (default 8765).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (loopback unless an API token is set).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker threads (memos processed at once).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also submit the sample transcripts and show progress.")] = False,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="A Python plan file adding or overriding alarms.")] = None,
) -> None:
    """Run WhisperSync: ingest API, inbox, queue, workers and monitoring, until Ctrl-C."""
    from whispersync.app import build_runtime
    from whispersync.home_lock import HomeLocked, lock_home
    from whispersync.web import create_app
    from whispersync.web.server import build_server

    settings = load_settings(port=port, host=host, workers=workers, plan_file=plan)
    url = f"http://{settings.host}:{settings.port}"
    # First of all: a second `up` on this home must start nothing (no workers, no
    # alarms, no server.json) and say who holds it, even if it also wants the port.
    try:
        home_lock = lock_home(settings.home, url=url)
    except HomeLocked as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot lock {settings.home}: {exc.strerror}")
    _check_port_free(settings.host, settings.port)
    runtime = build_runtime(settings)
    runtime.start()

    def force_stop() -> None:
        # A second Ctrl-C: stop now, as a crash would (the queue hands the memos in
        # flight out again at the next start). Called in a signal handler, so no rich.
        settings.server_file.unlink(missing_ok=True)
        os.write(2, b"Forced stop: memos in flight will be processed at the next start.\n")
        os._exit(130)

    server = build_server(create_app(runtime), settings, runtime.telemetry.logger("whispersync.http"),
                          force_stop=force_stop)
    log = runtime.telemetry.logger("whispersync.server")

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        settings.server_file.write_bytes(orjson.dumps({"pid": os.getpid(), "url": url, "started_at": time.time()}))
        log.info("WhisperSync is up", url=url, workers=runtime.pool.concurrency if runtime.pool else 0)
        home = settings.home.resolve()
        console.print(f"[bold green]WhisperSync is up[/] on {url}  (workers: {settings.workers if workers is None else workers})")
        console.print(f"  submit:   curl -X POST {url}/v1/transcripts -H 'Content-Type: text/plain' --data 'Need to ship the release'")
        console.print(f"  inbox:    drop .txt files into {home / 'inbox'}/<agent>/ ({', '.join(AGENTS)})")
        console.print(f"  outputs:  {home / 'outputs'}")
        ws = self_command()
        console.print(f"  inspect:  {ws} memos | {ws} trace ID | {ws} logs search --correlation-id ID"
                      f" | {ws} metrics list")
        console.print("  stop:     Ctrl-C (twice: at once)")
        if demo:
            _run_demo(runtime.ingestor, runtime.records, console)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run()  # a signal stops accepting, ends requests within shutdown_timeout, then returns
    finally:
        console.print("Stopping: letting in-flight memos finish…")
        # One budget for the whole stop: what the HTTP drain left of shutdown_timeout.
        runtime.close(timeout=server.remaining(settings.shutdown_timeout))
        settings.server_file.unlink(missing_ok=True)
        home_lock.release()
        console.print("Stopped.")


def _check_port_free(host: str, port: int) -> None:
    """Say so before starting anything, rather than after the workers are up."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror}); is WhisperSync already running? "
                 "Choose another port with --port")


def wait_for(records, ids: list[str], timeout: float, *, quiet: bool) -> None:
    deadline = time.monotonic() + timeout
    finished = {MemoStatus.DONE, MemoStatus.FAILED}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=quiet, transient=True) as progress:
        task = progress.add_task("processing", total=len(ids))
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            pending = {i for i in pending if records.get(i).status not in finished}
            progress.update(task, completed=len(ids) - len(pending))
            if pending:
                time.sleep(0.2)
    if pending:
        err_console.print(f"[yellow]{len(pending)} memo(s) still processing after {timeout:.0f}s[/] — "
                          "is `whispersync up` running?")


def _run_demo(ingestor, records, out: Console) -> list[dict[str, Any]]:
    """Submit the bundled samples (a few deliberately bad) and follow them to the end."""
    from whispersync.app import samples_dir

    manifest = orjson.loads((samples_dir() / "manifest.json").read_bytes())
    entries = manifest["samples"] if isinstance(manifest, dict) else manifest
    results: list[dict[str, Any]] = []
    for entry in entries:
        path = samples_dir() / entry["file"]
        try:
            text = ingestor.decode(path.read_bytes())
            receipt = ingestor.accept(Transcript(text=text, agent=entry.get("agent"), title=path.stem, source="cli"))
            results.append({"file": entry["file"], **receipt.to_dict()})
        except InputError as exc:
            results.append({"file": entry["file"], "error": str(exc)})
    accepted = [r for r in results if "id" in r]
    rejected = [r for r in results if "error" in r]
    out.print(f"demo: submitted {len(accepted)} sample transcripts; {len(rejected)} bad ones were refused:")
    for r in rejected:
        out.print(Text(f"  refused {r['file']}: {r['error']}", style="yellow"))
    wait_for(records, [r["id"] for r in accepted], 300, quiet=False)
    counts: dict[str, int] = {}
    for r in accepted:
        memo = records.get(r["id"])
        r.update(status=memo.status.value, agent=memo.agent)
        counts[memo.status.value] = counts.get(memo.status.value, 0) + 1
    out.print("demo: done — " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    ws = self_command()
    if counts.get(MemoStatus.FAILED.value):
        out.print(f"  the failed ones are in the dead-letter queue: {ws} dlq list")
    if accepted:
        example = accepted[0]
        out.print(f"  try:  {ws} trace {example['correlation_id']}")
        out.print(f"        {ws} logs search --correlation-id {example['correlation_id']}")
        out.print(f"        {ws} metrics get WhisperSync/Business TranscriptsProcessed --stat Sum")
    return results


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Submit ~30 sample transcripts (a few bad) to the running server and follow them."""
    import httpx

    from whispersync.app import build_runtime

    settings = load_settings()
    if not _server_running(settings, httpx):
        fail("WhisperSync is not running here: start it with `whispersync up` (or `make run`)")
    runtime = build_runtime(settings)
    try:
        results = _run_demo(runtime.ingestor, runtime.records, err_console if as_json else console)
    finally:
        runtime.telemetry.flush()
        runtime.telemetry.close()
    if as_json:
        print_json(results)


def _server_running(settings: Settings, httpx) -> bool:
    try:
        info = orjson.loads(settings.server_file.read_bytes())
        return httpx.get(f"{info['url']}/healthz", timeout=2).status_code == 200
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
