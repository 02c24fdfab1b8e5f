from __future__ import annotations

import json
import threading

import pytest

from whispersync.agents import MemoryAgent
from whispersync.agents._memory import people, places, sentiment, themes
from whispersync.agents._text import words
from whispersync.errors import ProcessingError

from .conftest import JUNK, memo

LISBON = (
    "I went to Lisbon with my sister Anna and Tom. We watched a beautiful sunset at Belém and laughed a lot. "
    "I was not happy about the flight."
)


class TestExtraction:
    def test_people_are_relations_with_names_and_capitalised_names(self):
        text = ("I went to Lisbon with my sister Anna and Tom. Later Maria called. "
                "We had dinner with Jo Lee, Sam and Ali at Café Luso in Porto. My dad was not happy.")
        assert people(text) == ["Anna (sister)", "my dad", "Jo Lee", "Sam", "Ali", "Tom", "Maria"]

    def test_places_follow_in_at_near_and_travel_verbs(self):
        text = "We drove to the Lake District, stayed in Keswick and had tea at Grandma's. Talked to Ben."
        assert places(text) == ["Lake District", "Keswick"]

    def test_days_months_and_pronouns_are_not_people(self):
        assert people("On Monday in May, I called. Then Christmas came and She left.") == []

    def test_sentiment_counts_lexicon_words_and_flips_negations(self):
        """beautiful, laughed: +2; "not happy": -1 -> (2 - 1) / 3 = 0.33, positive."""
        assert sentiment(words("A beautiful day, we laughed, but I was not happy.")) == (0.33, "positive")

    @pytest.mark.parametrize(("text", "expected"), [
        ("We cried and felt lonely.", (-1.0, "negative")),
        ("Happy but tired.", (0.0, "mixed")),
        ("We went to the shop.", (0.0, "neutral")),
    ])
    def test_sentiment_labels(self, text, expected):
        assert sentiment(words(text)) == expected

    def test_themes_rank_families_by_hits(self):
        """family: mom, sister (2); nature: beach (1); food: dinner (1) -> ties in THEMES order."""
        assert themes(words("Dinner on the beach with mom and my sister")) == ["family", "nature", "food"]


class TestMemoryFiles:
    def test_it_writes_a_page_and_an_archive_line(self, outputs):
        result = MemoryAgent(outputs).process(memo(LISBON, title="Lisbon with Anna"))
        page = outputs / "memory" / "memories" / "2024-05-06-lisbon-with-anna-a1b2c3d4.md"
        assert result.outputs == [
            "memory/memories/2024-05-06-lisbon-with-anna-a1b2c3d4.md",
            "memory/archive.jsonl",
            "memory/lisbon-with-anna-a1b2c3d4_response.json",
        ]
        text = page.read_text(encoding="utf-8")
        assert text.startswith("# Lisbon with Anna\n<!-- memo:a1b2c3d4e5f6 -->\n")
        assert "- **People:** Anna (sister), Tom\n" in text
        assert "- **Places:** Lisbon, Belém\n" in text
        assert "- **Sentiment:** positive (+0.33)\n" in text
        assert "> I went to Lisbon" in text
        (line,) = (outputs / "memory" / "archive.jsonl").read_text(encoding="utf-8").splitlines()
        record = json.loads(line)
        assert record["id"] == "a1b2c3d4e5f6"
        assert record["date"] == "2024-05-06"
        assert record["people"] == ["Anna (sister)", "Tom"]
        assert record["places"] == ["Lisbon", "Belém"]
        assert record["sentiment"] == {"score": 0.33, "label": "positive"}
        assert record["themes"] == ["family", "travel", "nature"]
        assert record["file"] == result.outputs[0]
        assert result.summary == "Lisbon with Anna: I went to Lisbon with my sister Anna and Tom."

    def test_without_a_title_the_first_words_name_it(self, outputs):
        result = MemoryAgent(outputs).process(memo("So, pancakes with Leo. It was perfect."))
        assert result.data["title"] == "Pancakes with Leo"
        assert result.outputs[0] == "memory/memories/2024-05-06-pancakes-with-leo-a1b2c3d4.md"


class TestIdempotency:
    def test_processing_a_memo_twice_keeps_one_archive_line_and_one_page(self, outputs):
        agent = MemoryAgent(outputs)
        first = agent.process(memo(LISBON))
        second = agent.process(memo(LISBON))
        assert len((outputs / "memory" / "archive.jsonl").read_text().splitlines()) == 1
        assert len(list((outputs / "memory" / "memories").iterdir())) == 1
        assert (first.data["appended"], second.data["appended"]) == (True, False)
        assert first.outputs == second.outputs

    def test_a_torn_archive_line_does_not_stop_the_archive_being_read(self, outputs):
        archive = outputs / "memory" / "archive.jsonl"
        archive.parent.mkdir(parents=True)
        archive.write_text('{"id": "old"}\n{"id": "tor', encoding="utf-8")
        from whispersync.agents import _files
        _files._registry.clear()
        assert MemoryAgent(outputs).process(memo(LISBON, "old")).data["appended"] is False


class TestConcurrency:
    def test_threads_archiving_at_once_write_each_memory_once(self, outputs):
        agent = MemoryAgent(outputs)
        errors: list[BaseException] = []

        def work(thread: int) -> None:
            try:
                for i in range(20):
                    for _ in range(2):
                        agent.process(memo(f"A walk with Tom, day {i}.", f"t{thread}m{i}"))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        lines = (outputs / "memory" / "archive.jsonl").read_text(encoding="utf-8").splitlines()
        ids = [json.loads(line)["id"] for line in lines]
        assert sorted(ids) == sorted(f"t{t}m{i}" for t in range(6) for i in range(20))


class TestBadInput:
    @pytest.mark.parametrize("text", ["", " \n ", "👍👍👍"])
    def test_text_with_nothing_to_remember_is_a_permanent_failure(self, outputs, text):
        with pytest.raises(ProcessingError) as info:
            MemoryAgent(outputs).process(memo(text))
        assert info.value.permanent is True

    @pytest.mark.parametrize("name", sorted(JUNK))
    def test_junk_is_archived_without_crashing(self, outputs, name):
        result = MemoryAgent(outputs).process(memo(JUNK[name]))
        assert (outputs / result.outputs[0]).exists()
        assert result.data["sentiment"]["label"] in {"positive", "negative", "mixed", "neutral"}

    def test_a_long_transcript_is_quoted_up_to_the_analysed_part_and_says_so(self, outputs):
        result = MemoryAgent(outputs).process(memo(JUNK["one endless line"]))
        assert "_Transcript shortened to its first 20,000 characters._" in (
            outputs / result.outputs[0]).read_text(encoding="utf-8")
