from __future__ import annotations

import whispersync.agents as agents
from whispersync.domain import AGENTS


class TestExportedMembers:
    def test_all_lists_exactly_the_public_names(self):
        """Everything public is in __all__, and everything in __all__ exists."""
        public = {n for n in dir(agents) if not n.startswith("_") and n != "annotations" and n != "Path"}
        assert set(agents.__all__) == public

    def test_build_agents_returns_one_agent_per_known_name(self, outputs):
        built = agents.build_agents(outputs)
        assert tuple(built) == AGENTS
        assert all(isinstance(a, agents.Agent) and a.name == key for key, a in built.items())
