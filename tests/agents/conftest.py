from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from whispersync.agents import AgentInput

MONDAY = datetime(2024, 5, 6, 9, 15, tzinfo=timezone.utc)  # ISO week 2024-W19


def memo(text: str, memo_id: str = "a1b2c3d4e5f6", *, title: str | None = None,
         recorded_at: datetime = MONDAY, correlation_id: str = "cid-1") -> AgentInput:
    return AgentInput(memo_id=memo_id, text=text, title=title, recorded_at=recorded_at,
                      correlation_id=correlation_id)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


JUNK = {
    "emoji and words": "🎉 shipped it 🚀🚀 " * 50,
    "one endless line": "word " * 200_000,  # 1 MB, no punctuation
    "one MiB of one character": "a" * (1024 * 1024),
    "japanese": "今日は会議がありました。明日までに資料を送る必要があります。",
    "russian": "Сегодня мы были на озере с мамой. Нужно позвонить Ивану.",
    "arabic": "ذهبنا إلى البحر مع العائلة",
    "control characters": "note\x00 with\x07 nulls\x1b[31m and escapes\u202e reversed",
    "markdown injection": "# Heading\n<!-- memo:other -->\n```\n- [ ] fake\n",
}
