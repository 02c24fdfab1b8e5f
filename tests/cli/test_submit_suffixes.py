"""`submit` of a folder takes the same text files as the inbox: .txt .text .md .markdown."""

from __future__ import annotations

from pathlib import Path

from whispersync.cli._submit import _expand
from whispersync.domain import TEXT_SUFFIXES


def test_a_folder_submits_every_text_suffix_the_inbox_takes(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.text", "c.md", "d.markdown", "E.MD", "photo.jpg", "notes.docx"):
        (folder / name).write_text("Need to follow up with Alex")
    taken = sorted(path.name for path, refusal in _expand([folder]) if refusal is None)
    assert taken == ["E.MD", "a.txt", "b.text", "c.md", "d.markdown"]


def test_the_inbox_and_submit_share_one_suffix_list() -> None:
    from whispersync.pipeline import inbox

    assert inbox.TEXT_SUFFIXES is TEXT_SUFFIXES == (".txt", ".text", ".md", ".markdown")
