"""`shared_paths(memo)`: exactly the files a memo's processing may change that other memos change too.

The AWS worker merges these through the bucket (each Lambda container has its own disk), so a
path missing here is a file whose entries get overwritten there."""

from __future__ import annotations

from datetime import timedelta

from whispersync.agents import GithubIdeasAgent, MemoryAgent, WorkJournalAgent
from whispersync.agents._base import BaseAgent

from .conftest import MONDAY, memo

WORK = "Need to send the release notes to Priya by Friday."
IDEA = "An app called Plant Pal. It should remind me to water the plants."


class TestSharedPaths:
    def test_the_work_agent_shares_the_journal_of_the_memos_week(self, outputs):
        """Memos of one week share one journal; the next week's memo another; the response is not shared."""
        agent = WorkJournalAgent(outputs)
        first, same_week, next_week = (memo(WORK, "m-1"), memo(WORK, "m-2", recorded_at=MONDAY + timedelta(days=3)),
                                       memo(WORK, "m-3", recorded_at=MONDAY + timedelta(days=7)))
        result = agent.process(first)
        assert agent.shared_paths(first) == [result.data["journal"]] == ["work/journal/2024-W19.md"]
        assert agent.shared_paths(same_week) == agent.shared_paths(first)
        assert agent.shared_paths(next_week) == ["work/journal/2024-W20.md"]

    def test_the_memory_agent_shares_its_archive_not_the_memory_page(self, outputs):
        agent = MemoryAgent(outputs)
        result = agent.process(memo("A lovely picnic at the lake with my sister Anna.", "m-1"))
        assert agent.shared_paths(memo("Another day.", "m-2")) == [result.data["archive"]] == ["memory/archive.jsonl"]

    def test_the_ideas_agent_shares_the_owner_marks_of_the_folders_it_may_claim(self, outputs):
        """Two ideas with one name: the first owns `<slug>/`, the second moves to `<slug>-<id8>/`;
        each folder's `.memo` is among the shared paths of the memo that claimed it."""
        agent = GithubIdeasAgent(outputs)
        for memo_id in ("idea-one-aaaaaaaa", "idea-two-bbbbbbbb"):
            idea = memo(IDEA, memo_id)
            folder = agent.process(idea).outputs[0].rsplit("/", 1)[0]
            assert (outputs / folder / ".memo").read_text() == memo_id
            assert f"{folder}/.memo" in agent.shared_paths(idea)
        assert agent.shared_paths(memo(IDEA, "idea-one-aaaaaaaa"))[0] == agent.shared_paths(memo(IDEA, "x-2"))[0]

    def test_an_agent_writes_nothing_shared_unless_it_says_so(self, outputs):
        assert BaseAgent(outputs).shared_paths(memo(WORK)) == []
