"""`memos`, `trace` and `dlq`: what became of memos."""

from __future__ import annotations

import re
import time
from typing import Annotated, Optional

import orjson
import typer
from rich.table import Table
from rich.tree import Tree

from whispersync.cli._common import (
    JsonOption,
    app,
    console,
    dlq_app,
    fail,
    load_settings,
    print_json,
)
from whispersync.domain import MemoStatus
from whispersync.errors import NotFound


@app.command()
def memos(
    status: Annotated[Optional[str], typer.Option(help="Only memos in this status: " + ", ".join(s.value for s in MemoStatus))] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List memos and what became of them."""
    from whispersync.app import open_records

    if status is not None and status not in {s.value for s in MemoStatus}:
        fail(f"unknown status {status!r}; one of: {', '.join(s.value for s in MemoStatus)}")
    with open_records(load_settings()) as records:
        rows = records.list(status=MemoStatus(status) if status else None, limit=limit)
    if as_json:
        print_json([m.to_dict() for m in rows])
        return
    table = Table("id", "status", "agent", "title", "correlation id", "created", "error")
    for m in rows:
        table.add_row(m.id, m.status.value, m.agent or "", (m.title or "")[:30], m.correlation_id,
                      time.strftime("%H:%M:%S", time.localtime(m.created_at)), (m.error or "")[:40])
    console.print(table)



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
    from whispersync.app import open_records, open_store

    settings = load_settings()
    store = open_store(settings)
    with open_records(settings) as records:
        trace_ids = _resolve_trace_ids(store, records, ident)
    if not trace_ids:
        fail(f"no trace found for {ident!r} (telemetry reaches the store within a second or two)", code=1)
    traces = [{"trace_id": t, "spans": store.spans(trace_id=t)} for t in trace_ids]
    if as_json:
        print_json(traces if len(traces) > 1 else traces[0])
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



@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many messages.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Messages in the dead-letter queue, with the memo's last error."""
    from whispersync.app import open_queues, open_records

    settings = load_settings()
    with open_queues(settings) as queues, open_records(settings) as records:
        rows = [_dlq_entry(message, records) for message in queues.dlq.peek(limit)]
    if as_json:
        print_json(rows)
        return
    table = Table("message id", "memo id", "correlation id", "error")
    for r in rows:
        table.add_row(r["message_id"], r.get("memo_id", ""), r.get("correlation_id", ""), (r.get("error") or "")[:60])
    console.print(table if rows else "the dead-letter queue is empty")


def _dlq_entry(message, records) -> dict:
    """A dead-lettered message, with its memo's last error when the body names a memo."""
    try:
        body = orjson.loads(message.body)
    except orjson.JSONDecodeError:  # a malformed message the worker dead-lettered
        body = message.body
    entry = {"message_id": message.message_id, "body": body, "attributes": message.attributes,
             "receive_count": message.receive_count, "sent_at": message.sent_at}
    try:
        memo = records.get(body["memo_id"])
        entry.update(memo_id=memo.id, error=memo.error, correlation_id=memo.correlation_id)
    except (NotFound, KeyError, TypeError):
        pass
    return entry


@dlq_app.command("redrive")
def dlq_redrive(
    limit: Annotated[Optional[int], typer.Option(min=0, help="Move at most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move dead-lettered messages back to the transcripts queue for another try."""
    from whispersync.app import open_queues, open_records

    settings = load_settings()
    with open_queues(settings) as queues, open_records(settings) as records:
        before = _dlq_memo_ids(queues.dlq)
        moved = queues.broker.redrive(queues.dlq.name, destination=queues.queue.name, limit=limit)
        for memo_id in before - _dlq_memo_ids(queues.dlq):
            try:
                records.update(memo_id, status=MemoStatus.QUEUED, updated_at=time.time())
            except NotFound:
                pass
    if as_json:
        print_json({"moved": moved})
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
