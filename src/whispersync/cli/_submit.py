"""`submit`: feeding transcript files to the pipeline from the command line."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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
)
from whispersync.cli._serve import wait_for
from whispersync.domain import AGENTS, TEXT_SUFFIXES, Transcript
from whispersync.errors import InputError


_LINK_REFUSAL = "it is a symbolic link; links inside a submitted folder are not followed"


def _expand(paths: Iterable[Path]) -> list[tuple[Path, str | None]]:
    """The files to submit, each with the reason it is refused (None if it is not).

    A path named on the command line is used as given (a link the user names is
    their choice); inside a folder, links are refused rather than followed, so a
    folder never submits files from outside itself.
    """
    files: list[tuple[Path, str | None]] = []
    for path in paths:
        if not path.is_dir():
            files.append((path, None))
            continue
        found: list[tuple[Path, str | None]] = []
        for parent, folders, names in os.walk(path):  # does not enter linked folders
            base = Path(parent)
            found.extend((base / name, _LINK_REFUSAL) for name in folders if (base / name).is_symlink())
            for name in names:
                if name.lower().endswith(TEXT_SUFFIXES):  # the inbox's list: a folder there or here reads the same
                    found.append((base / name, _LINK_REFUSAL if (base / name).is_symlink() else None))
        files.extend(sorted(found))
    return files


def _memo_id(path: Path, agent: str | None, data: bytes) -> str:
    """The same file with the same content, for the same agent, always gets the same id,
    so a rerun (after a crash, say) submits nothing twice. The agent is part of it as it
    is for the inbox (its folder is in the path): asking for another agent is a new request."""
    digest = hashlib.sha256(b"\0".join([str(path.resolve()).encode("utf-8", "surrogateescape"),
                                        (agent or "").encode(), data]))
    return digest.hexdigest()[:32]


@app.command()
def submit(
    paths: Annotated[list[Path], typer.Argument(help="Transcript files, or folders of .txt, .text, .md and .markdown files.")],
    agent: Annotated[Optional[str], typer.Option(help=f"Agent to use ({', '.join(AGENTS)}); default: the router decides.")] = None,
    wait: Annotated[bool, typer.Option("--wait", metavar="", help="Wait until every memo is processed.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120.0,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Submit files again even if they were submitted before.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Submit transcripts; prints each memo's id and correlation id as it is accepted.

    --json prints {"results": [...]}: per file its memo (id, correlation_id, ...) or its error.

    Submitting is idempotent: a file already submitted (same path, same content) is
    reported as "already submitted" and not queued again, unless --force.
    """
    from whispersync.app import build_runtime

    if agent is not None and agent not in AGENTS:
        fail(f"unknown agent {agent!r}; known agents: {', '.join(AGENTS)}")
    files = _expand(paths)
    if not files:
        fail("no transcript files found")
    named = set(paths)
    runtime = build_runtime(load_settings())
    results: list[dict[str, Any]] = []
    try:
        # The bar is on stderr, so it shows with --json too (stdout stays one JSON document).
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, disable=len(files) < 5, transient=True, redirect_stdout=False) as progress:
            task = progress.add_task("submitting", total=len(files))
            for path, refusal in files:
                try:
                    if refusal is not None:
                        raise InputError(refusal)
                    data = runtime.ingestor.read_file(path, follow_symlinks=path in named)
                    text = runtime.ingestor.decode(data)
                    memo_id = None if force else _memo_id(path, agent, data)
                    duplicate = memo_id is not None and known_memo(runtime.records, memo_id)
                    receipt = runtime.ingestor.accept(Transcript(text=text, agent=agent, title=path.stem, source="cli"),
                                                      memo_id=memo_id)
                    result = {"file": str(path), **receipt.to_dict(), "duplicate": duplicate}
                except (InputError, OSError) as exc:
                    result = {"file": str(path), "error": str(exc)}
                results.append(result)
                if not as_json:
                    _report(result, progress)
                progress.advance(task)
        accepted = [r for r in results if "id" in r]
        if wait and accepted:
            wait_for(runtime.records, [r["id"] for r in accepted], timeout, quiet=as_json)
            for r in accepted:
                memo = runtime.records.get(r["id"])
                r.update(status=memo.status.value, agent=memo.agent)
                if memo.error:
                    r["error"] = memo.error
    finally:
        runtime.telemetry.flush()
        runtime.telemetry.close()
    if as_json:
        print_json({"results": results})
    else:
        if wait:
            for r in accepted:
                console.print(Text(f"{r['id']}  {r['status']}  {r['file']}"), soft_wrap=True)
        duplicates = sum(1 for r in results if r.get("duplicate"))
        if duplicates:
            err_console.print(f"{duplicates} file(s) already submitted: nothing new was queued for them "
                              "(use --force to submit them again)", highlight=False)
    if any("id" not in r for r in results) or any(r.get("status") == "failed" for r in results):
        raise typer.Exit(1)



def _report(result: dict[str, Any], progress: Progress) -> None:
    """One line per file as soon as it is accepted or refused, so a run cut short has said what it did."""
    if "id" not in result:
        progress.console.print(Text(f"refused {result['file']}: {result['error']}", style="red"), soft_wrap=True)
        return
    line = Text(f"{result['id']}  correlation_id={result['correlation_id']}  {result['file']}")
    if result["duplicate"]:
        line.append("  already submitted", style="yellow")
    # soft_wrap: one line per file even when piped (rich would wrap at 80 columns).
    if console.is_terminal and not progress.disable:
        progress.console.print(line, soft_wrap=True)  # the same screen as the bar: print above it, not through it
    else:
        console.print(line, soft_wrap=True)
