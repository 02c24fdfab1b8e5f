"""The `whispersync` command: a thin shell over app.py and the stores.

Every inspection command takes `--json` and then prints one JSON document, so
scripts can rely on it; without it, tables for people.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from whispersync.domain import AGENTS, MemoStatus, Transcript
from whispersync.errors import ConfigError, InputError, NotFound, WhisperSyncError
from whispersync.settings import Settings

app = typer.Typer(
    help="WhisperSync: voice-memo transcripts in, actions out, everything observable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
logs_app = typer.Typer(help="Search the structured logs.", no_args_is_help=True)
metrics_app = typer.Typer(help="List and query metrics.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and redrive the dead-letter queue.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")
app.add_typer(metrics_app, name="metrics")
app.add_typer(dlq_app, name="dlq")

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]
_state: dict[str, Any] = {}


@app.callback()
def _main(
    home: Annotated[Optional[Path], typer.Option(help="State directory (default: $WHISPERSYNC_HOME or ./.whispersync).")] = None,
) -> None:
    _state["home"] = home


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(home=_state.get("home"), **overrides)
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _parse_since(value: str) -> float:
    """'90s', '15m', '1h', '7d' → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
    if not match:
        raise typer.BadParameter(f"{value!r} is not a duration like 30s, 15m, 1h or 7d")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


# --------------------------------------------------------------------------- up


@app.command()
def up(
    port: Annotated[Optional[int], typer.Option(help="HTTP port (default 8765).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (loopback unless an API token is set).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker threads (memos processed at once).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also submit the sample transcripts and show progress.")] = False,
) -> None:
    """Run WhisperSync: ingest API, inbox, queue, workers and monitoring, until Ctrl-C."""
    import uvicorn

    from whispersync.app import build_runtime
    from whispersync.web import create_app

    _GracefulServer = _graceful_server_class()

    settings = _settings(port=port, host=host, workers=workers)
    runtime = build_runtime(settings)
    runtime.start()
    server = _GracefulServer(uvicorn.Config(create_app(runtime), host=settings.host, port=settings.port,
                                            log_level="warning", access_log=False))
    url = f"http://{settings.host}:{settings.port}"
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
        console.print("  inspect:  whispersync memos | whispersync trace ID | whispersync logs search --correlation-id ID"
                      " | whispersync metrics list")
        console.print("  stop:     Ctrl-C")
        if demo:
            _run_demo(runtime.ingestor, runtime.records, console)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run()  # handles SIGINT/SIGTERM: stops accepting, then returns
    finally:
        console.print("Stopping: letting in-flight memos finish…")
        runtime.close()
        settings.server_file.unlink(missing_ok=True)
        console.print("Stopped.")


def _graceful_server_class():
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGINT/SIGTERM once it has stopped, which would kill the
        process before the workers finish their memos; here a signal only asks for a
        graceful stop, and `up` then drains the pool and flushes telemetry."""

        @contextlib.contextmanager
        def capture_signals(self):
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


# ------------------------------------------------------------------- submit/demo


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.txt") if p.is_file()))
        else:
            files.append(path)
    return files


@app.command()
def submit(
    paths: Annotated[list[Path], typer.Argument(help="Transcript files or folders of .txt files.")],
    agent: Annotated[Optional[str], typer.Option(help=f"Agent to use ({', '.join(AGENTS)}); default: the router decides.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every memo is processed.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Submit transcripts; prints each memo's id and correlation id."""
    from whispersync.app import build_runtime
    from whispersync.pipeline.ingest import decode_transcript

    if agent is not None and agent not in AGENTS:
        _fail(f"unknown agent {agent!r}; known agents: {', '.join(AGENTS)}")
    files = _expand(paths)
    if not files:
        _fail("no transcript files found")
    runtime = build_runtime(_settings())
    results: list[dict[str, Any]] = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, disable=len(files) < 5 or as_json, transient=True) as progress:
            task = progress.add_task("submitting", total=len(files))
            for path in files:
                try:
                    text = decode_transcript(path.read_bytes(), max_bytes=runtime.settings.max_transcript_bytes)
                    receipt = runtime.ingestor.accept(Transcript(text=text, agent=agent, title=path.stem, source="cli"))
                    results.append({"file": str(path), **receipt.to_dict()})
                except (InputError, OSError) as exc:
                    results.append({"file": str(path), "error": str(exc)})
                progress.advance(task)
        accepted = [r for r in results if "id" in r]
        if wait and accepted:
            _wait_for(runtime.records, [r["id"] for r in accepted], timeout, quiet=as_json)
            for r in accepted:
                memo = runtime.records.get(r["id"])
                r.update(status=memo.status.value, agent=memo.agent)
                if memo.error:
                    r["error"] = memo.error
    finally:
        runtime.telemetry.flush()
        runtime.telemetry.close()
    if as_json:
        _print_json(results)
    else:
        for r in results:
            if "id" not in r:
                err_console.print(Text(f"refused {r['file']}: {r['error']}", style="red"))
            else:
                status = f"  {r['status']}" if "status" in r else ""
                console.print(Text(f"{r['id']}  correlation_id={r['correlation_id']}  {r['file']}{status}"))
    if any("id" not in r for r in results) or any(r.get("status") == "failed" for r in results):
        raise typer.Exit(1)


def _wait_for(records, ids: list[str], timeout: float, *, quiet: bool) -> None:
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
    from whispersync.pipeline.ingest import decode_transcript

    manifest = orjson.loads((samples_dir() / "manifest.json").read_bytes())
    entries = manifest["samples"] if isinstance(manifest, dict) else manifest
    results: list[dict[str, Any]] = []
    for entry in entries:
        path = samples_dir() / entry["file"]
        try:
            text = decode_transcript(path.read_bytes(), max_bytes=ingestor.max_bytes)
            receipt = ingestor.accept(Transcript(text=text, agent=entry.get("agent"), title=path.stem, source="cli"))
            results.append({"file": entry["file"], **receipt.to_dict()})
        except InputError as exc:
            results.append({"file": entry["file"], "error": str(exc)})
    accepted = [r for r in results if "id" in r]
    rejected = [r for r in results if "error" in r]
    out.print(f"demo: submitted {len(accepted)} sample transcripts; {len(rejected)} bad ones were refused:")
    for r in rejected:
        out.print(Text(f"  refused {r['file']}: {r['error']}", style="yellow"))
    _wait_for(records, [r["id"] for r in accepted], 300, quiet=False)
    counts: dict[str, int] = {}
    for r in accepted:
        memo = records.get(r["id"])
        r.update(status=memo.status.value, agent=memo.agent)
        counts[memo.status.value] = counts.get(memo.status.value, 0) + 1
    out.print("demo: done — " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if accepted:
        example = accepted[0]
        out.print(f"  try:  whispersync trace {example['correlation_id']}")
        out.print(f"        whispersync logs search --correlation-id {example['correlation_id']}")
        out.print("        whispersync metrics get WhisperSync/Business TranscriptsProcessed --stat Sum")
    return results


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Submit ~30 sample transcripts (a few bad) to the running server and follow them."""
    import httpx

    from whispersync.app import build_runtime

    settings = _settings()
    if not _server_running(settings, httpx):
        _fail("WhisperSync is not running here: start it with `whispersync up` (or `make run`)")
    runtime = build_runtime(settings)
    try:
        results = _run_demo(runtime.ingestor, runtime.records, err_console if as_json else console)
    finally:
        runtime.telemetry.flush()
        runtime.telemetry.close()
    if as_json:
        _print_json(results)


def _server_running(settings: Settings, httpx) -> bool:
    try:
        info = orjson.loads(settings.server_file.read_bytes())
        return httpx.get(f"{info['url']}/healthz", timeout=2).status_code == 200
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


# ----------------------------------------------------------------------- memos


@app.command()
def memos(
    status: Annotated[Optional[str], typer.Option(help="Only memos in this status: " + ", ".join(s.value for s in MemoStatus))] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List memos and what became of them."""
    from whispersync.pipeline.records import SqliteRecordStore

    if status is not None and status not in {s.value for s in MemoStatus}:
        _fail(f"unknown status {status!r}; one of: {', '.join(s.value for s in MemoStatus)}")
    settings = _settings()
    rows = SqliteRecordStore(settings.records_db).list(status=MemoStatus(status) if status else None, limit=limit)
    if as_json:
        _print_json([m.to_dict() for m in rows])
        return
    table = Table("id", "status", "agent", "title", "correlation id", "created", "error")
    for m in rows:
        table.add_row(m.id, m.status.value, m.agent or "", (m.title or "")[:30], m.correlation_id,
                      time.strftime("%H:%M:%S", time.localtime(m.created_at)), (m.error or "")[:40])
    console.print(table)


# ----------------------------------------------------------------------- trace


def _resolve_trace_ids(store, records, ident: str) -> list[str]:
    """A trace id, a correlation id, or a memo id → the trace ids it names."""
    if re.fullmatch(r"[0-9a-f]{32}", ident):
        if store.spans(trace_id=ident, limit=1):
            return [ident]
        try:
            memo = records.get(ident)
            return store.trace_ids_for(memo.correlation_id) or [memo.trace_id]
        except NotFound:
            pass
    return store.trace_ids_for(ident)


@app.command()
def trace(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A correlation id, trace id or memo id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a memo's trace: the span tree with durations, annotations and metadata."""
    from whispersync.app import open_store
    from whispersync.pipeline.records import SqliteRecordStore

    settings = _settings()
    store = open_store(settings)
    trace_ids = _resolve_trace_ids(store, SqliteRecordStore(settings.records_db), ident)
    if not trace_ids:
        _fail(f"no trace found for {ident!r} (telemetry reaches the store within a second or two)", code=1)
    traces = [{"trace_id": t, "spans": store.spans(trace_id=t)} for t in trace_ids]
    if as_json:
        _print_json(traces if len(traces) > 1 else traces[0])
        return
    for t in traces:
        console.print(_span_tree(t["trace_id"], t["spans"]))


def _span_tree(trace_id: str, spans: list[dict]) -> Tree:
    by_parent: dict[str | None, list[dict]] = {}
    ids = {s["span_id"] for s in spans}
    for s in sorted(spans, key=lambda s: s["start_time_unix_nano"]):
        parent = s.get("parent_span_id") if s.get("parent_span_id") in ids else None
        by_parent.setdefault(parent, []).append(s)
    root = Tree(f"trace [bold]{trace_id}[/]")

    def add(node: Tree, parent: str | None) -> None:
        for s in by_parent.get(parent, []):
            status = "[red]ERROR[/]" if s.get("status") == "ERROR" else ""
            notes = " ".join(f"{k}={v}" for k, v in (s.get("annotations") or {}).items() if k != "correlation_id")
            child = node.add(f"[bold]{s['name']}[/] {s['duration_ms']:.2f} ms {status} [dim]{notes}[/]")
            add(child, s["span_id"])

    add(root, None)
    return root


# ------------------------------------------------------------------------ logs


@logs_app.command("search")
def logs_search(
    correlation_id: Annotated[Optional[str], typer.Option("--correlation-id", help="Only lines with this correlation id.")] = None,
    trace_id: Annotated[Optional[str], typer.Option("--trace-id", help="Only lines of this trace.")] = None,
    level: Annotated[Optional[str], typer.Option(help="Only this level (INFO, WARNING, ERROR…).")] = None,
    since: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 7d.")] = "24h",
    limit: Annotated[int, typer.Option(help="At most this many lines.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Show log lines, oldest first."""
    from whispersync.app import open_store

    start_ms = int((time.time() - _parse_since(since)) * 1000)
    rows = open_store(_settings()).logs(start_ms=start_ms, correlation_id=correlation_id, trace_id=trace_id,
                                         level=level.upper() if level else None, limit=limit)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        err_console.print("no matching log lines")
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in {"timestamp", "level", "message", "service", "location",
                                                          "logger", "correlation_id", "trace_id", "span_id"}}
        style = {"ERROR": "red", "CRITICAL": "red", "WARNING": "yellow"}.get(r.get("level", ""), "")
        line = Text(f"{r.get('timestamp')} ")
        line.append(f"{r.get('level', ''):8}", style=style)
        line.append(str(r.get("message")))
        if extra:
            line.append(" " + orjson.dumps(extra, default=str).decode(), style="dim")
        console.print(line)


# --------------------------------------------------------------------- metrics


@metrics_app.command("list")
def metrics_list(
    namespace: Annotated[Optional[str], typer.Option(help="Only this namespace.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the metrics recorded (namespace, name, dimensions)."""
    from whispersync.app import open_store

    rows = open_store(_settings()).list_metrics(namespace=namespace)
    if as_json:
        _print_json(rows)
        return
    table = Table("namespace", "name", "dimensions")
    for r in rows:
        table.add_row(r["namespace"], r["name"], " ".join(f"{k}={v}" for k, v in sorted(r["dimensions"].items())))
    console.print(table)


@metrics_app.command("get")
def metrics_get(
    namespace: Annotated[str, typer.Argument(help="e.g. WhisperSync/Business")],
    name: Annotated[str, typer.Argument(help="e.g. TranscriptsProcessed")],
    dim: Annotated[Optional[list[str]], typer.Option("--dim", help="Dimension K=V; repeat for more. Exact match, as in CloudWatch.")] = None,
    stat: Annotated[str, typer.Option(help="Sum, Average, Minimum, Maximum, SampleCount or pNN (p99, p99.9).")] = "Sum",
    period: Annotated[int, typer.Option(help="Seconds per datapoint.")] = 60,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 7d.")] = "1h",
    as_json: JsonOption = False,
) -> None:
    """Statistics of one metric per period, like CloudWatch GetMetricStatistics."""
    from whispersync.app import open_store

    dimensions: dict[str, str] = {}
    for item in dim or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--dim takes K=V, got {item!r}")
        dimensions[key] = value
    if not re.fullmatch(r"Sum|Average|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?|p100", stat):
        _fail(f"unknown statistic {stat!r}; use Sum, Average, Minimum, Maximum, SampleCount or pNN")
    if period <= 0:
        _fail("--period must be a positive number of seconds")
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(_parse_since(since) * 1000)
    series = open_store(_settings()).metric_statistics(namespace, name, dimensions=dimensions, statistic=stat,
                                                       period=period, start_ms=start_ms, end_ms=end_ms)
    if as_json:
        _print_json({"label": series.label, "unit": series.unit, "timestamps": series.timestamps,
                     "values": series.values})
        return
    if not series.values:
        err_console.print(f"no datapoints for {namespace} {name} {dimensions or ''} in the last {since}")
        return
    table = Table("timestamp (UTC)", f"{stat} ({series.unit or 'None'})")
    for ts, value in zip(series.timestamps, series.values):
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)), f"{value:g}")
    console.print(table)


# ------------------------------------------------------------------------- dlq


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(help="At most this many messages.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Messages in the dead-letter queue, with the memo's last error."""
    from whispersync.app import DLQ_NAME
    from whispersync.pipeline.queue import SqliteQueueBroker
    from whispersync.pipeline.records import SqliteRecordStore

    settings = _settings()
    broker = SqliteQueueBroker(settings.queue_db)
    records = SqliteRecordStore(settings.records_db)
    rows = []
    for message in broker.queue(DLQ_NAME).peek(limit):
        entry = {"message_id": message.message_id, "body": orjson.loads(message.body),
                 "attributes": message.attributes, "receive_count": message.receive_count,
                 "sent_at": message.sent_at}
        try:
            memo = records.get(entry["body"]["memo_id"])
            entry.update(memo_id=memo.id, error=memo.error, correlation_id=memo.correlation_id)
        except (NotFound, KeyError, TypeError):
            pass
        rows.append(entry)
    if as_json:
        _print_json(rows)
        return
    table = Table("message id", "memo id", "correlation id", "error")
    for r in rows:
        table.add_row(r["message_id"], r.get("memo_id", ""), r.get("correlation_id", ""), (r.get("error") or "")[:60])
    console.print(table if rows else "the dead-letter queue is empty")


@dlq_app.command("redrive")
def dlq_redrive(
    limit: Annotated[Optional[int], typer.Option(help="Move at most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move dead-lettered messages back to the transcripts queue for another try."""
    from whispersync.app import DLQ_NAME, QUEUE_NAME
    from whispersync.pipeline.queue import SqliteQueueBroker
    from whispersync.pipeline.records import SqliteRecordStore

    settings = _settings()
    broker = SqliteQueueBroker(settings.queue_db)
    records = SqliteRecordStore(settings.records_db)
    dlq = broker.queue(DLQ_NAME)
    before = _dlq_memo_ids(dlq)
    moved = broker.redrive(DLQ_NAME, destination=QUEUE_NAME, limit=limit)
    for memo_id in before - _dlq_memo_ids(dlq):
        try:
            records.update(memo_id, status=MemoStatus.QUEUED, updated_at=time.time())
        except NotFound:
            pass
    if as_json:
        _print_json({"moved": moved})
    else:
        console.print(f"moved {moved} message(s) back to the transcripts queue")


def _dlq_memo_ids(dlq) -> set[str]:
    ids = set()
    for message in dlq.peek(1_000_000):
        try:
            ids.add(orjson.loads(message.body)["memo_id"])
        except (ValueError, KeyError, TypeError):
            pass
    return ids


def main() -> None:
    try:
        app()
    except WhisperSyncError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
