from __future__ import annotations

import json

import pytest

from whispersync.agents import GithubIdeasAgent
from whispersync.agents._github_ideas import features, project_name, suggest_stack
from whispersync.agents._text import words
from whispersync.errors import ProcessingError

from .conftest import JUNK, memo

PLANTPAL = (
    "App idea: an app called PlantPal that reminds me to water my plants. "
    "It should track the watering history. Users could share plants with friends. "
    "The logo is green."
)


class TestSpec:
    def test_the_title_names_the_project(self):
        assert project_name("Bike Routes", "an app called Other") == "Bike Routes"

    def test_called_x_names_the_project(self):
        assert project_name(None, PLANTPAL) == "PlantPal"
        assert project_name(None, 'A tool named "Lockscore", for lock files.') == "Lockscore"

    def test_without_a_name_three_content_words_make_one(self):
        """"What if", "a", "website", "that" are idea-speak; bike, routes, pleasant remain."""
        assert project_name(None, "What if a website that plans bike routes by how pleasant") == \
            "Plans Bike Routes"

    def test_features_are_sentences_that_describe_behaviour(self):
        """Sentence one is the description; of the rest, two describe behaviour."""
        assert features(PLANTPAL) == ["It should track the watering history", "Users could share plants with friends"]

    def test_without_feature_words_the_remaining_sentences_are_features(self):
        assert features("A timer for tea. Green tea three minutes. Black tea five.") == [
            "Green tea three minutes", "Black tea five",
        ]

    def test_the_stack_follows_keyword_rules_and_says_why(self):
        stack = suggest_stack(words("A mobile app with reminders that keeps a history"))
        assert stack == [
            {"technology": "React Native (Expo)", "for": "mobile app", "because": 'mentions "mobile"'},
            {"technology": "SQLite", "for": "storage", "because": 'mentions "history"'},
            {"technology": "ntfy (push notifications)", "for": "notifications", "because": 'mentions "reminders"'},
        ]

    def test_with_no_platform_named_the_stack_starts_with_a_default(self):
        stack = suggest_stack(words("Predict the weather"))
        assert [s["technology"] for s in stack] == ["Python + FastAPI", "scikit-learn"]


class TestFiles:
    def test_it_writes_spec_and_readme_in_a_folder_named_for_the_project(self, outputs):
        result = GithubIdeasAgent(outputs).process(memo(PLANTPAL))
        assert result.outputs == [
            "github_ideas/plantpal/spec.json",
            "github_ideas/plantpal/README.md",
            "github_ideas/app-idea-an-app-called-plantpal-a1b2c3d4_response.json",
        ]
        spec = json.loads((outputs / "github_ideas/plantpal/spec.json").read_text(encoding="utf-8"))
        assert spec["name"] == "PlantPal"
        assert spec["slug"] == "plantpal"
        assert spec["description"] == "App idea: an app called PlantPal that reminds me to water my plants."
        assert spec["features"] == ["It should track the watering history", "Users could share plants with friends"]
        assert spec["memo_id"] == "a1b2c3d4e5f6"
        readme = (outputs / "github_ideas/plantpal/README.md").read_text(encoding="utf-8")
        assert readme.startswith("# PlantPal\n\nApp idea: an app called PlantPal")
        assert "## Features\n\n- It should track the watering history\n" in readme
        assert "- **SQLite** for storage (mentions \"history\")" in readme
        assert result.summary.startswith("Project idea PlantPal: 2 features, stack ")

    def test_the_same_memo_twice_rewrites_the_same_files(self, outputs):
        agent = GithubIdeasAgent(outputs)
        first = agent.process(memo(PLANTPAL))
        listing = sorted(p.relative_to(outputs).as_posix() for p in outputs.rglob("*"))
        content = (outputs / first.outputs[0]).read_bytes()
        second = agent.process(memo(PLANTPAL))
        assert first.outputs == second.outputs
        assert sorted(p.relative_to(outputs).as_posix() for p in outputs.rglob("*")) == listing
        assert (outputs / second.outputs[0]).read_bytes() == content

    def test_another_idea_with_the_same_name_gets_its_own_folder(self, outputs):
        agent = GithubIdeasAgent(outputs)
        agent.process(memo(PLANTPAL, "aaaa1111"))
        other = agent.process(memo("An app called PlantPal for plant swaps.", "bbbb2222"))
        assert other.outputs[0] == "github_ideas/plantpal-bbbb2222/spec.json"
        again = agent.process(memo(PLANTPAL, "aaaa1111"))
        assert again.outputs[0] == "github_ideas/plantpal/spec.json"


class TestBadInput:
    @pytest.mark.parametrize("text", ["", "\n\n", "💡💡💡"])
    def test_an_idea_without_words_is_a_permanent_failure(self, outputs, text):
        with pytest.raises(ProcessingError) as info:
            GithubIdeasAgent(outputs).process(memo(text))
        assert info.value.permanent is True

    @pytest.mark.parametrize("name", sorted(JUNK))
    def test_junk_gets_a_spec_without_crashing(self, outputs, name):
        result = GithubIdeasAgent(outputs).process(memo(JUNK[name]))
        spec = json.loads((outputs / result.outputs[0]).read_text(encoding="utf-8"))
        assert spec["slug"] and len(spec["features"]) <= 10
