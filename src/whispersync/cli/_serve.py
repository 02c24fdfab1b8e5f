"""`up` and `demo`: running the pipeline and showing it at work."""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import threading
import time
from enum import Enum
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
    known_memo,
    load_settings,
    print_json,
    self_command,
)
from whispersync.cli._events import EventPrinter
from whispersync.domain import AGENTS, MemoStatus, Transcript, iso_utc
from whispersync.errors import InputError
from whispersync.settings import Settings


class LogFormat(str, Enum):
    auto = "auto"
    text = "text"
    json = "json"


@app.command()
def up(
    port: Annotated[Optional[int], typer.Option(help="HTTP port (default 8765).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (loopback unless an API token is set).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker threads (memos processed at once).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also submit the sample transcripts and show progress.")] = False,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="A Python plan file adding or overriding alarms.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the events as they happen.")] = False,
    otlp_port: Annotated[Optional[int], typer.Option(
        "--otlp-port", min=0, max=65535,
        help="OTLP/HTTP receiver port for OpenTelemetry SDKs and collectors (default 4318; 0: off).")] = None,
    log_format: Annotated[LogFormat, typer.Option(
        "--log-format", help="Event lines as text, or as JSON lines (one object per event); "
                             "auto: JSON when stdout is not a terminal.")] = LogFormat.auto,
) -> None:
    """Run WhisperSync: ingest API, inbox, queue, workers and monitoring, until Ctrl-C.

    Prints one line per notable event as it happens (a memo failed or went to the dead-letter queue, an inbox file was rejected, an alarm changed state, a notification was sent or failed, remediation ran, any error).
    """
    from whispersync.app import build_runtime
    from whispersync.home_lock import HomeLocked, lock_home
    from whispersync.web import create_app
    from whispersync.web.server import build_server

    settings = load_settings(port=port, host=host, workers=workers, plan_file=plan, otlp_port=otlp_port)
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
    otlp_port = _otlp_port(settings)
    fmt = log_format.value if log_format is not LogFormat.auto else ("text" if sys.stdout.isatty() else "json")
    # In JSON mode stdout holds only JSON lines (for journald, containers, scripts): the
    # lines for people (where to submit, where to look) go to stderr.
    out = console if fmt == "text" else err_console
    events = None if quiet else EventPrinter(sys.stdout, fmt, max_receive_count=settings.max_receive_count)
    runtime = build_runtime(settings, log_listeners=[events] if events is not None else [])
    # The app before the workers: /metrics counts from its telemetry listener, attached in
    # create_app, so a memo left queued by the last run and processed at once is counted too.
    web_app = create_app(runtime)
    # What start-up made (modules, the plan, the runtime, the app: ~100,000 objects) lives
    # as long as the process. Out of the garbage collector's sight, a full collection, which
    # holds every thread, walks only what came after: 63 ms -> under 1 ms (issue 15).
    gc.collect()
    gc.freeze()
    # The demo shows remediation acting: a memo that failed transiently gets its one automatic redrive.
    runtime.start(auto_redrive=True if demo else None)

    def force_stop() -> None:
        # A second Ctrl-C: stop now, as a crash would (the queue hands the memos in
        # flight out again at the next start). Called in a signal handler, so no rich.
        settings.server_file.unlink(missing_ok=True)
        os.write(2, b"Forced stop: memos in flight will be processed at the next start.\n")
        os._exit(130)

    server = build_server(web_app, settings, runtime.telemetry.logger("whispersync.http"), force_stop=force_stop)
    log = runtime.telemetry.logger("whispersync.server")
    otlp_server = _start_otlp_receiver(runtime, settings, otlp_port)

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        # Written whole, then renamed: a script (or `whispersync` itself) that sees the file reads all of it.
        partial = settings.server_file.with_suffix(".json.tmp")
        partial.write_bytes(orjson.dumps({"pid": os.getpid(), "url": url, "started_at": time.time()}))
        os.replace(partial, settings.server_file)
        log.info("WhisperSync is up", url=url, console_url=f"{url}/",
                 workers=runtime.pool.concurrency if runtime.pool else 0)
        home = settings.home.resolve()
        if events is not None and fmt == "json":
            events.emit({"timestamp": iso_utc(time.time()), "level": "INFO", "event": "server_started",
                         "message": f"WhisperSync is up on {url}", "url": url, "console_url": f"{url}/",
                         "home": str(home), "pid": os.getpid()})
        sign_in = "  (sign in with WHISPERSYNC_API_TOKEN)" if settings.api_token else ""
        out.print(f"[bold green]Console:[/]   {url}/{sign_in}")
        out.print(f"[bold green]WhisperSync is up[/] on {url}  (workers: {settings.workers if workers is None else workers})")
        out.print(f"  submit:   curl -X POST {url}/v1/transcripts -H 'Content-Type: text/plain' --data 'Need to ship the release'")
        out.print(f"  inbox:    drop .txt files into {home / 'inbox'}/<agent>/ ({', '.join(AGENTS)})")
        out.print(f"  outputs:  {home / 'outputs'}")
        if otlp_server is not None:
            out.print(f"  OTLP in:  http://{settings.host}:{otlp_port}/v1/{{traces,logs,metrics}}")
        ws = self_command()
        out.print(f"  inspect:  {ws} memos | {ws} trace ID | {ws} logs search --correlation-id ID"
                  f" | {ws} metrics list")
        out.print("  stop:     Ctrl-C (twice: at once)" + ("" if quiet else "; events are printed as they happen"))
        if demo:
            out.print("  demo:     transient failures in the dead-letter queue are redriven once automatically"
                      " (the plan's redrive_transient rule, off outside the demo)")
            _run_demo(runtime.ingestor, runtime.records, out)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run()  # a signal stops accepting, ends requests within shutdown_timeout, then returns
    finally:
        out.print("Stopping: letting in-flight memos finish…")
        if otlp_server is not None:
            otlp_server.should_exit = True
        # One budget for the whole stop: what the HTTP drain left of shutdown_timeout.
        runtime.close(timeout=server.remaining(settings.shutdown_timeout))
        settings.server_file.unlink(missing_ok=True)
        home_lock.release()
        out.print("Stopped.")
        if events is not None and fmt == "json":
            events.emit({"timestamp": iso_utc(time.time()), "level": "INFO", "event": "server_stopped",
                         "message": "WhisperSync stopped", "url": url})


def _otlp_port(settings: Settings) -> int:
    """The OTLP receiver's port, 0 for none. A port someone chose (--otlp-port, the environment, the
    config file) must be free, as the API's must; the default 4318 is often a local collector's
    already, and then `up` runs without a receiver and says so."""
    port = settings.otlp_port
    if not port:
        return 0
    if "otlp_port" in settings.model_fields_set:
        _check_port_free(settings.host, port, option="--otlp-port")
        return port
    problem = _port_problem(settings.host, port)
    if problem is not None:
        err_console.print(f"[yellow]OTLP receiver off:[/] cannot listen on {settings.host}:{port} ({problem}); "
                          "choose a port with --otlp-port (0: off)")
        return 0
    return port


def _start_otlp_receiver(runtime, settings: Settings, port: int):
    """The OTLP/HTTP receiver on ``port`` in a thread (None when the port is 0): what OTel
    SDKs send lands in the telemetry store beside our own records."""
    if not port:
        return None
    from whispersync.monitoring.otlp import OtlpReceiver
    from whispersync.web.otlp import build_otlp_server

    server = build_otlp_server(OtlpReceiver(runtime.store), settings)
    threading.Thread(target=server.run, name="otlp-receiver", daemon=True).start()
    return server


def _check_port_free(host: str, port: int, option: str = "--port") -> None:
    """Say so before starting anything, rather than after the workers are up."""
    problem = _port_problem(host, port)
    if problem is not None:
        fail(f"cannot listen on {host}:{port} ({problem}); is WhisperSync already running? "
             f"Choose another port with {option}")


def _port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it can."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


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
            data = path.read_bytes()
            text = ingestor.decode(data)
            memo_id = _demo_memo_id(entry["file"], entry.get("agent"), data)
            already = known_memo(records, memo_id)
            receipt = ingestor.accept(Transcript(text=text, agent=entry.get("agent"), title=path.stem, source="cli"),
                                      memo_id=memo_id)
            results.append({"file": entry["file"], **receipt.to_dict(), "already_submitted": already})
        except InputError as exc:
            results.append({"file": entry["file"], "error": str(exc)})
    accepted = [r for r in results if "id" in r]
    rejected = [r for r in results if "error" in r]
    repeated = sum(1 for r in accepted if r["already_submitted"])
    out.print(f"demo: submitted {len(accepted)} sample transcripts"
              + (f" ({repeated} were already in this home, so not again)" if repeated else "")
              + f"; {len(rejected)} bad ones were refused:")
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



def _demo_memo_id(name: str, agent: str | None, data: bytes) -> str:
    """The same sample is the same memo: a second demo into the same home adds nothing."""
    return hashlib.sha256(b"\0".join([b"demo", name.encode(), (agent or "").encode(), data])).hexdigest()[:32]


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
        print_json({"results": results})  # one object at the top (docs/json.md)


def _server_running(settings: Settings, httpx) -> bool:
    try:
        info = orjson.loads(settings.server_file.read_bytes())
        return httpx.get(f"{info['url']}/healthz", timeout=2).status_code == 200
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
