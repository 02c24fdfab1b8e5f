"""`memos`, `trace` and `dlq`: what became of memos."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Optional

import orjson
import typer
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from whispersync.cli._common import (
    JsonOption,
    app,
    console,
    dlq_app,
    err_console,
    fail,
    load_settings,
    print_json,
)
from whispersync.domain import MemoStatus
from whispersync.errors import NotFound

# Ids in narrow tables: at least this many characters, more where needed to stay unique (git shows 7).
SHORT_ID = 8


def short_ids(ids: Iterable[str], matches: Callable[[str], int] | None = None) -> dict[str, str]:
    """Each id → its shortest prefix of at least SHORT_ID characters that names it alone, as git
    shortens hashes: unique among ``ids`` and, when ``matches(prefix)`` (how many stored ids start
    so) is given, in the whole store, so the prefix can be typed back into any command."""
    ids = sorted(set(ids))
    out = {}
    for i, full in enumerate(ids):
        n = SHORT_ID
        neighbours = [x for x in (ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None) if x]
        while n < len(full) and any(x.startswith(full[:n]) for x in neighbours):
            n += 1
        while n < len(full) and matches is not None and matches(full[:n]) > 1:
            n += 1
        out[full] = full[:n]
    return out


# A text column that is cut (or wrapped) to fit keeps at least this many characters.
MIN_TEXT = 16
MAX_WORD = 24


def fitted_table(headers: Sequence[str], rows: Sequence[Sequence[str | Text]], *,
                 short_rows: Sequence[Sequence[str | Text]] = (), drop: Sequence[str] = (),
                 cut: Sequence[str] = (), wrap: Sequence[str] = (), **options) -> Table:
    """A table at the console's width, one line per row, instead of rows wrapped over many lines.

    Ids in full when everything fits, else ``short_rows`` (the same rows with ids as unique
    prefixes); then the columns of ``drop`` (least useful first) are left out until the rest
    fits with the texts of ``cut`` cut short (…) and those of ``wrap`` wrapped (a DLQ error is
    shown whole). Cells are plain text (no markup: an alarm reason's "[Breaching]" stays), or
    rich Text for colour.
    """
    rows = [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
    short = [[c if isinstance(c, Text) else Text(c) for c in row] for row in short_rows] or rows
    if _width(_table(headers, headers, rows, {}, wrap, options)) <= console.width:
        return _table(headers, headers, rows, {}, wrap, options)
    keep = list(headers)
    for name in [None, *drop]:
        if name is not None:
            keep.remove(name)
        limits = _limits(headers, keep, short, [*cut, *wrap], wrap, options)
        if limits is not None:
            break
    return _table(headers, keep, short, limits or {}, wrap, options)


def _limits(headers, keep, rows, flexible, wrap, options) -> dict[str, int] | None:
    """Widths for the flexible (cut or wrapped) columns so the table fits, or None if it cannot."""
    flexible = [name for name in keep if name in flexible]
    natural = {name: max([len(name), *(row[headers.index(name)].cell_len for row in rows)]) for name in flexible}
    # A wrapped column keeps room for its longer words (up to MAX_WORD), so it wraps at spaces, not mid-word.
    words = {name: max([0, *(len(w) for row in rows for w in row[headers.index(name)].plain.split())])
             for name in flexible if name in wrap}
    least = {name: min(natural[name], max(MIN_TEXT, min(words.get(name, 0), MAX_WORD))) for name in flexible}
    spare = console.width - _width(_table(headers, keep, rows, least, wrap, options, probe=True))
    if spare < 0:
        return None
    needs = {name: natural[name] - least[name] for name in flexible}
    limits = dict(least)
    while spare > 0 and any(needs.values()):  # share the room out, none getting more than it needs
        wanting = [name for name in flexible if needs[name]]
        share = max(1, spare // len(wanting))
        for name in wanting:
            given = min(share, needs[name], spare)
            limits[name] += given
            needs[name] -= given
            spare -= given
    return limits


def _table(headers, keep, rows, limits, wrap, options, probe: bool = False) -> Table:
    table = Table(**options)
    for name in keep:
        wraps = name in wrap and name in limits
        table.add_column(name, no_wrap=not wraps, overflow="fold",
                         width=limits[name] if wraps and not probe else None)
    index = [headers.index(name) for name in keep]
    for row in rows:
        cells = []
        for i in index:
            cell = row[i]
            limit = limits.get(headers[i])
            if limit is not None and (probe or headers[i] not in wrap) and cell.cell_len > limit:
                cell = cell.copy()
                cell.truncate(limit, overflow="ellipsis")
            cells.append(cell)
        table.add_row(*cells)
    return table


def _width(table: Table) -> int:
    """The width the table wants, not clamped to the console's (as rich's own measure would be)."""
    return Measurement.get(console, console.options.update_width(1_000_000), table).maximum


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
    with open_records(load_settings(read_only=True)) as records:
        rows = records.list(status=MemoStatus(status) if status else None, limit=limit)
        short = short_ids((m.id for m in rows), lambda prefix: len(records.find_by_prefix(prefix, limit=2)))
    if as_json:
        print_json({"memos": [m.to_dict() for m in rows], "next_token": None})
        return
    if not rows:
        err_console.print("no memos" + (f" with status {status}" if status else ""))
        return
    headers = ("id", "status", "agent", "title", "created (UTC)", "correlation id", "error")
    full = [[m.id, m.status.value, m.agent or "", m.title or "",
             time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(m.created_at)), m.correlation_id, m.error or ""]
            for m in rows]
    console.print(fitted_table(headers, full, short_rows=[[short[r[0]], *r[1:]] for r in full],
                               drop=("correlation id", "created (UTC)", "agent"), cut=("title", "error")))



# Shorter prefixes would match half the store; git asks for 4 characters too.
MIN_PREFIX = 4


def resolve_trace_ids(store, records, ident: str) -> list[str]:
    """A trace id, a memo id or a correlation id, in full or as a unique prefix, → the trace ids it names.

    An exact id wins; otherwise a prefix of at least MIN_PREFIX characters that names
    one memo, trace or correlation id (as git accepts a short hash). A prefix that names
    several is a usage error listing them. No match: [].
    """
    from whispersync.monitoring.traces import find_correlation_ids, find_trace_ids

    if store.spans(trace_id=ident, limit=1):
        return [ident]
    try:
        return _memo_trace_ids(store, records.get(ident))
    except NotFound:
        pass
    found = store.trace_ids_for(ident)
    if found or len(ident) < MIN_PREFIX:
        return found
    candidates: dict[str, tuple[str, ...]] = {}
    for memo_id in records.find_by_prefix(ident):
        candidates[f"memo {memo_id}"] = tuple(_memo_trace_ids(store, records.get(memo_id)))
    for trace_id in find_trace_ids(store, ident):
        candidates[f"trace {trace_id}"] = (trace_id,)
    for correlation_id in find_correlation_ids(store, ident):
        candidates[f"correlation id {correlation_id}"] = tuple(store.trace_ids_for(correlation_id))
    named = set(candidates.values())
    if len(named) > 1:  # a memo and its own trace id may share a prefix: that is one answer, not two
        fail(f"the id {ident!r} is ambiguous; it starts: {', '.join(sorted(candidates))}. Give more characters.")
    return list(named.pop()) if named else []


def complete_ids(correlation_id: str | None, trace_id: str | None) -> tuple[str | None, str | None]:
    """A --correlation-id / --trace-id option as given, or completed from a unique prefix of one."""
    if correlation_id is None and trace_id is None:
        return None, None
    from whispersync.app import open_store
    from whispersync.monitoring.traces import find_correlation_ids, find_trace_ids

    store = open_store(load_settings(read_only=True))
    try:
        if correlation_id is not None:
            correlation_id = _complete(correlation_id, find_correlation_ids(store, correlation_id), "correlation id")
        if trace_id is not None:
            trace_id = _complete(trace_id, find_trace_ids(store, trace_id), "trace id")
    finally:
        store.close()
    return correlation_id, trace_id


def _complete(ident: str, found: list[str], what: str) -> str:
    if ident in found or not found or len(ident) < MIN_PREFIX:
        return ident  # an exact id, or nothing to complete (the search then finds nothing)
    if len(found) > 1:
        fail(f"the {what} {ident!r} is ambiguous; it starts: {', '.join(found)}. Give more characters.")
    return found[0]


def _memo_trace_ids(store, memo) -> list[str]:
    return store.trace_ids_for(memo.correlation_id) or [memo.trace_id]


@app.command()
def trace(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A memo id, correlation id or trace id, or a unique "
                                                              "prefix of one (at least 4 characters).")],
    as_json: JsonOption = False,
) -> None:
    """Show a memo's trace: the span tree with durations, annotations and metadata (same as `traces show`).

    --json prints the document of GET /v1/traces/{id}: {"trace_id", "summary", "spans"};
    when the id names several traces (a retried memo), {"traces": [...]} of those.
    """
    show_traces(ident, as_json)


def show_traces(ident: str, as_json: bool) -> None:
    """What `trace` and `traces show` print: the traces an id names, as a tree or as JSON."""
    from whispersync.app import open_records, open_store
    from whispersync.monitoring.traces import get_trace

    settings = load_settings(read_only=True)
    store = open_store(settings)
    with open_records(settings) as records:
        trace_ids = resolve_trace_ids(store, records, ident)
    if not trace_ids:
        fail(f"no trace found for {ident!r} (telemetry reaches the store within a second or two)", code=1)
    try:
        traces = [get_trace(store, t) for t in trace_ids]
    except NotFound as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(traces[0] if len(traces) == 1 else {"traces": traces})
        return
    for t in traces:
        console.print(_span_tree(t["trace_id"], t["spans"]))
        with_metadata = [s for s in t["spans"] if s.get("metadata")]
        if with_metadata:
            table = Table("span", "metadata", title="metadata", title_justify="left")
            for s in with_metadata:
                table.add_row(s["name"], orjson.dumps(s["metadata"], default=str).decode())
            console.print(table)
    from whispersync.cli._cost import print_memo_cost

    print_memo_cost(settings, [s for t in traces for s in t["spans"]])  # the memo's estimated cost (§7)


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
    from whispersync.app import dead_letters, open_queues, open_records

    settings = load_settings(read_only=True)
    with open_queues(settings) as queues, open_records(settings) as records:
        rows = [dead_letters.entry(message, records) for message in queues.dlq.peek(limit)]
    if as_json:
        print_json({"messages": rows})
        return
    if not rows:
        console.print("the dead-letter queue is empty")
        return
    headers = ("message id", "memo id", "correlation id", "error")
    full = [[r["message_id"], r.get("memo_id", ""), r.get("correlation_id", ""), r.get("error") or ""] for r in rows]
    memo_short = short_ids(r[1] for r in full if r[1])
    message_short = short_ids(r[0] for r in full)
    short = [[message_short[r[0]], memo_short.get(r[1], ""), *r[2:]] for r in full]
    # The error is why the memo is here: it wraps rather than being cut.
    console.print(fitted_table(headers, full, short_rows=short, drop=("correlation id", "message id"), wrap=("error",)))


@dlq_app.command("redrive")
def dlq_redrive(
    limit: Annotated[Optional[int], typer.Option(min=0, help="Move at most this many.")] = None,
    memo: Annotated[Optional[list[str]], typer.Option(
        "--memo", help="Move only this memo's message (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move dead-lettered messages back to the transcripts queue for another try."""
    from whispersync.app import dead_letters, open_queues, open_records

    settings = load_settings()
    with open_queues(settings) as queues, open_records(settings) as records:
        result = dead_letters.redrive(queues.broker, dlq=queues.dlq, queue=queues.queue, records=records,
                                      memo_ids=memo or None, limit=limit)
    if as_json:
        print_json({"moved": result.moved})
    else:
        console.print(f"moved {result.moved} message(s) back to the transcripts queue")
