from __future__ import annotations

import json
import time
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whispersync.agents import Route, Router
from whispersync.domain import AGENTS
from whispersync.errors import UnknownAgent

from .conftest import JUNK

SMALL_RULES = {"work": {"deploy": 3, "pull request": 2}, "memory": {"beach": 2, "picnic": 2}}


def _samples() -> list[dict]:
    root = resources.files("whispersync") / "samples"
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))["samples"]


def _sample_text(entry: dict) -> str:
    return (resources.files("whispersync") / "samples" / entry["file"]).read_text(encoding="utf-8")


class TestRequested:
    def test_a_requested_agent_wins_with_full_confidence(self):
        """A request beats any keyword: a work memo asked to go to memory goes there."""
        route = Router().route("deploy the pull request to staging", requested="memory")
        assert route == Route("memory", 1.0, ["requested 'memory'"])

    def test_it_accepts_case_and_dashes(self):
        """Inbox folders may be spelled github-ideas or Work."""
        assert Router().route("x", requested="github-ideas").agent == "github_ideas"
        assert Router().route("x", requested=" Work ").agent == "work"

    def test_an_unknown_agent_is_refused_with_the_known_ones_listed(self):
        """The error names every agent, so the user can fix the request."""
        with pytest.raises(UnknownAgent) as info:
            Router().route("text", requested="calendar")
        message = str(info.value)
        assert "'calendar'" in message
        assert all(agent in message for agent in AGENTS)

    def test_a_blank_request_means_no_request(self):
        """An empty form field or inbox root routes by content."""
        assert Router().route("went to the beach with my sister", requested="  ").agent == "memory"


class TestClassifier:
    def test_it_scores_distinct_terms_and_explains_the_winner(self):
        """work: deploy 3 + pull request 2 = 5; memory: beach 2; confidence 5/7 * 5/6 = 0.60."""
        route = Router(SMALL_RULES).route("We deployed the pull request, then went to the beach.")
        assert route.agent == "work"
        assert route.confidence == 0.6
        assert route.reasons == [
            'matched "deploy", "pull request" (work keywords, score 5)',
            "runner-up memory scored 2",
        ]

    def test_a_term_said_many_times_counts_once(self):
        """Three deploys score 3, not 9: confidence 3/3 * 3/6 = 0.5."""
        route = Router(SMALL_RULES).route("deploy, deploy, deploy")
        assert (route.agent, route.confidence) == ("work", 0.5)
        assert route.reasons == ['matched "deploy" (work keywords, score 3)']

    def test_ties_go_to_the_agent_listed_first(self):
        """report 2 vs picnic 2 is a tie; work comes before memory in AGENTS."""
        router = Router({"work": {"report": 2}, "memory": {"picnic": 2}})
        route = router.route("a report about the picnic")
        assert route.agent == "work"
        assert "tie broken by agent order" in route.reasons[1]

    def test_nothing_matched_goes_to_the_default_with_low_confidence(self):
        """No clue at all: memory, 0.1, and a reason that says so."""
        route = Router().route("zxq blorp")
        assert route == Route("memory", 0.1, ["no keywords matched; defaulted to 'memory'"])

    def test_it_matches_inflections_and_hyphenated_phrases(self):
        """"deploying" is "deploy"; "stand-up" is "stand up"."""
        matched = Router().matches("The stand-up ran long; we are deploying later.")
        labels = [label for label, _ in matched["work"]]
        assert labels[:2] == ["stand up", "deploy"]

    def test_words_inside_other_words_do_not_match(self):
        """"prod" (a work term) does not fire inside "productive" or "reproduction"."""
        assert "work" not in Router().matches("productive reproduction")

    def test_rules_must_name_known_agents(self):
        with pytest.raises(ValueError):
            Router({"calendar": {"meeting": 1}})

    @pytest.mark.parametrize("name", sorted(JUNK))
    def test_junk_does_not_crash_it(self, name):
        """Any language, emoji, 1 MiB lines: a route comes back, quickly."""
        started = time.perf_counter()
        route = Router().route(JUNK[name])
        assert route.agent in AGENTS
        assert time.perf_counter() - started < 0.5

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    def test_any_text_gets_a_known_agent_and_a_confidence_in_range(self, text):
        route = Router().route(text)
        assert route.agent in AGENTS
        assert 0.0 <= route.confidence <= 1.0
        assert route.reasons


class TestSamples:
    @pytest.mark.parametrize(
        "entry", [e for e in _samples() if e["agent"]], ids=lambda e: e["file"]
    )
    def test_it_routes_each_hinted_sample_to_its_intended_agent(self, entry):
        """Without the hint, the classifier alone agrees with the manifest."""
        assert Router().route(_sample_text(entry)).agent == entry["agent"]

    def test_it_routes_at_least_90_percent_of_all_good_samples_correctly(self):
        """Including the samples with no hint in their name or manifest entry."""
        good = [e for e in _samples() if not e["reject"]]
        right = sum(Router().route(_sample_text(e)).agent == e["expected"] for e in good)
        assert right / len(good) >= 0.9, f"{right}/{len(good)}"

    def test_the_manifest_lists_every_sample_file(self):
        root = resources.files("whispersync") / "samples"
        listed = {e["file"] for e in _samples()}
        on_disk = {p.name for p in root.iterdir() if p.name.endswith(".txt")}
        on_disk |= {f"bad/{p.name}" for p in (root / "bad").iterdir()}
        assert listed == on_disk

    def test_the_samples_spread_across_the_agents(self):
        expected = [e["expected"] for e in _samples() if not e["reject"]]
        assert (expected.count("work"), expected.count("memory"), expected.count("github_ideas")) == (12, 10, 8)
        assert sum(1 for e in _samples() if not e["reject"] and e["agent"] is None) >= 5
