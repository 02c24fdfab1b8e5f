from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone

import pytest

from whispersync.agents import WorkJournalAgent
from whispersync.agents._work import action_items
from whispersync.errors import ProcessingError

from .conftest import JUNK, memo

STANDUP = (
    "So, Monday stand-up. Priya finished the migration. We need to deploy by Thursday. "
    "The tests are flaky. Action item: ping Sarah about the review."
)


def _markers(path, memo_id):
    return path.read_text(encoding="utf-8").count(f"<!-- memo:{memo_id} -->")


class TestActionItems:
    def test_it_picks_commitments_and_imperatives_in_order(self):
        """Three of five sentences ask for something; the lead-in "Action item:" goes."""
        text = ("The demo went fine. We need to fix the login bug. Send the deck to Priya. "
                "It was sunny. Action item: book the room.")
        assert action_items(text) == ["We need to fix the login bug", "Send the deck to Priya", "Book the room"]

    def test_bullets_count_and_fillers_go(self):
        """A bullet starting with an imperative is an item; "so, um," is dropped."""
        assert action_items("- update the roadmap\n- nice weather\n- so, um, remember to call Bo") == [
            "Update the roadmap", "Remember to call Bo",
        ]

    def test_a_repeated_item_is_listed_once(self):
        assert action_items("Call the vendor. call the vendor!") == ["Call the vendor"]

    def test_plain_statements_are_not_items(self):
        assert action_items("The build is green. Coffee was good.") == []


class TestJournal:
    def test_it_appends_an_entry_to_the_iso_week_journal(self, outputs):
        """Heading with date and title, marker, one-line summary, checklist."""
        result = WorkJournalAgent(outputs).process(memo(STANDUP))
        journal = outputs / "work" / "journal" / "2024-W19.md"
        assert journal.read_text(encoding="utf-8") == (
            "# Work journal · 2024-W19\n\n"
            "## Mon 2024-05-06 09:15 UTC · Monday stand-up\n"
            "<!-- memo:a1b2c3d4e5f6 -->\n"
            "\n"
            "Monday stand-up.\n"
            "\n"
            "**Action items**\n"
            "\n"
            "- [ ] We need to deploy by Thursday\n"
            "- [ ] Ping Sarah about the review\n"
            "\n"
        )
        assert result.agent == "work"
        assert result.summary == "Monday stand-up. (2 action items)"
        assert result.data["week"] == "2024-W19"
        assert result.data["action_items"] == ["We need to deploy by Thursday", "Ping Sarah about the review"]

    def test_the_week_is_the_iso_week_of_the_recording_in_utc(self, outputs):
        """3 Jan 2021 is a Sunday in ISO week 53 of 2020; 23:30 at UTC-5 is already the 4th (W01)."""
        agent = WorkJournalAgent(outputs)
        agent.process(memo("Call Bo.", "m1", recorded_at=datetime(2021, 1, 3, 12, tzinfo=timezone.utc)))
        late = datetime.fromisoformat("2021-01-03T23:30:00-05:00")
        agent.process(memo("Call Bo.", "m2", recorded_at=late))
        journals = sorted(p.name for p in (outputs / "work" / "journal").iterdir())
        assert journals == ["2020-W53.md", "2021-W01.md"]

    def test_a_title_is_used_as_the_heading(self, outputs):
        WorkJournalAgent(outputs).process(memo("Ship it.", title="Release day"))
        text = (outputs / "work" / "journal" / "2024-W19.md").read_text(encoding="utf-8")
        assert "## Mon 2024-05-06 09:15 UTC · Release day\n" in text

    def test_it_writes_a_response_file_and_returns_relative_outputs(self, outputs):
        result = WorkJournalAgent(outputs).process(memo(STANDUP, title="Stand-up"))
        assert result.outputs == ["work/journal/2024-W19.md", "work/stand-up-a1b2c3d4_response.json"]
        response = json.loads((outputs / result.outputs[1]).read_text(encoding="utf-8"))
        assert response["memo_id"] == "a1b2c3d4e5f6"
        assert response["correlation_id"] == "cid-1"
        assert response["agent"] == "work"
        assert response["summary"] == result.summary
        assert response["outputs"] == result.outputs

    def test_transcript_text_can_not_fake_a_marker(self, outputs):
        """A memo quoting "<!-- memo:m2 -->" does not stop memo m2 from being journaled."""
        agent = WorkJournalAgent(outputs)
        agent.process(memo("<!-- memo:m2 --> need to check this", "m1"))
        assert agent.process(memo("Call Bo.", "m2")).data["appended"] is True


class TestIdempotency:
    def test_processing_a_memo_twice_writes_one_entry(self, outputs):
        agent = WorkJournalAgent(outputs)
        first = agent.process(memo(STANDUP))
        journal = outputs / "work" / "journal" / "2024-W19.md"
        before = journal.read_bytes()
        second = agent.process(memo(STANDUP))
        assert journal.read_bytes() == before
        assert _markers(journal, "a1b2c3d4e5f6") == 1
        assert (first.data["appended"], second.data["appended"]) == (True, False)
        assert first.outputs == second.outputs

    def test_a_fresh_agent_reads_the_markers_already_in_the_file(self, outputs):
        """After a restart, a redelivered memo is still recognised."""
        WorkJournalAgent(outputs).process(memo(STANDUP))
        from whispersync.agents import _files
        _files._registry.clear()  # what a new process starts with
        assert WorkJournalAgent(outputs).process(memo(STANDUP)).data["appended"] is False

    def test_a_journal_changed_behind_its_back_is_reread(self, outputs):
        """Deleting the journal forgets its entries instead of trusting a stale cache."""
        agent = WorkJournalAgent(outputs)
        agent.process(memo(STANDUP))
        (outputs / "work" / "journal" / "2024-W19.md").unlink()
        assert agent.process(memo(STANDUP)).data["appended"] is True


class TestConcurrency:
    def test_threads_writing_one_week_leave_every_entry_exactly_once(self, outputs):
        """8 threads x 25 memos, each memo sent twice, into the same week."""
        agent = WorkJournalAgent(outputs)
        ids = [f"m{t}x{i}" for t in range(8) for i in range(25)]
        errors: list[BaseException] = []

        def work(thread: int) -> None:
            try:
                for i in range(25):
                    for _ in range(2):
                        agent.process(memo(f"Memo {i}. We need to ship item {i}.", f"m{thread}x{i}"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        text = (outputs / "work" / "journal" / "2024-W19.md").read_text(encoding="utf-8")
        assert sorted(re.findall(r"<!-- memo:(\S+) -->", text)) == sorted(ids)
        assert text.count("# Work journal") == 1
        assert text.startswith("# Work journal · 2024-W19\n")


class TestBadInput:
    @pytest.mark.parametrize("text", ["", "   \n\t ", "🎉🎉 !!! ??"])
    def test_text_with_nothing_to_act_on_is_a_permanent_failure(self, outputs, text):
        with pytest.raises(ProcessingError) as info:
            WorkJournalAgent(outputs).process(memo(text))
        assert info.value.permanent is True

    @pytest.mark.parametrize("name", sorted(JUNK))
    def test_junk_is_journaled_without_crashing(self, outputs, name):
        result = WorkJournalAgent(outputs).process(memo(JUNK[name]))
        assert len(result.summary) <= 200
        assert (outputs / "work" / "journal" / "2024-W19.md").exists()

    def test_a_naive_recording_time_is_refused(self):
        with pytest.raises(ValueError, match="timezone-aware"):
            memo("hi", recorded_at=datetime(2024, 5, 6))

    @pytest.mark.parametrize("memo_id", ["", "a b", "x" * 200, "../etc", "id-->"])
    def test_a_memo_id_unfit_for_file_names_is_refused(self, memo_id):
        with pytest.raises(ValueError, match="memo_id"):
            memo("hi", memo_id)
