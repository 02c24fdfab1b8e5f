"""`submit`: feeding transcript files to the pipeline from the command line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from whispersync.cli._common import JsonOption, app, console, err_console, fail, load_settings, print_json
from whispersync.cli._serve import wait_for
from whispersync.domain import AGENTS, Transcript
from whispersync.errors import InputError


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
        fail(f"unknown agent {agent!r}; known agents: {', '.join(AGENTS)}")
    files = _expand(paths)
    if not files:
        fail("no transcript files found")
    runtime = build_runtime(load_settings())
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
        print_json(results)
    else:
        for r in results:
            if "id" not in r:
                err_console.print(Text(f"refused {r['file']}: {r['error']}", style="red"))
            else:
                status = f"  {r['status']}" if "status" in r else ""
                console.print(Text(f"{r['id']}  correlation_id={r['correlation_id']}  {r['file']}{status}"))
    if any("id" not in r for r in results) or any(r.get("status") == "failed" for r in results):
        raise typer.Exit(1)
