"""The public surface of whispersync.monitoring.insights stays small and deliberate."""

from __future__ import annotations

from whispersync.monitoring.logs import insights


def test_all_lists_exactly_the_public_names():
    """Every name in __all__ exists, and nothing public is left out of it."""
    public = {name for name in vars(insights) if not name.startswith("_")} - {"annotations", "saved"}
    assert set(insights.__all__) == public
