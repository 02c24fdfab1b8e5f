"""render_body: the canonical body (golden files), stable through export -> import -> export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from whispersync.monitoring.dashboards import parse_body, render_body

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["console_export", "cdk_synth"])
def test_the_rendered_body_matches_its_golden_file(name):
    """console_export.json uses the console's "." and "..." shorthand; the golden file has
    them expanded (checked by hand) and every widget's x, y, width and height."""
    body, messages = parse_body((GOLDEN / f"{name}.json").read_text())
    assert not [m for m in messages if m.level == "error"]
    assert render_body(body) == json.loads((GOLDEN / f"{name}.rendered.json").read_text())


@pytest.mark.parametrize("name", ["console_export", "cdk_synth"])
def test_export_import_export_is_stable(name):
    once = render_body(parse_body((GOLDEN / f"{name}.json").read_text())[0])
    twice = render_body(parse_body(json.dumps(once))[0])
    assert twice == once
    assert '"."' not in json.dumps(once) and '"..."' not in json.dumps(once)


def test_the_shorthand_is_expanded_in_the_golden_file():
    rendered = json.loads((GOLDEN / "console_export.rendered.json").read_text())
    metrics = rendered["widgets"][0]["properties"]["metrics"]
    assert metrics[1][:4] == ["WhisperSync/Worker", "Invocations", "AgentType", "memory"]
    assert metrics[2][:4] == ["WhisperSync/Worker", "Errors", "AgentType", "work"]


def test_defaults_are_written_out_and_unknown_properties_kept():
    body, _ = parse_body({"widgets": [{"type": "text", "properties": {"markdown": "x", "extra": 1}}],
                          "theme": "dark"})
    assert render_body(body) == {"theme": "dark", "widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 6, "height": 6, "properties": {"markdown": "x", "extra": 1}}]}
