"""The plan's Cost dashboard names what the cost code publishes: its services, the agents, the price table."""

from __future__ import annotations

from whispersync.domain import AGENTS
from whispersync.monitoring.cost import SERVICES, load_price_table
from whispersync.plan import DEFAULT_PLAN

[COST] = [d for d in DEFAULT_PLAN.dashboards if d.name == "cost"]


def test_the_dashboard_names_the_bundled_price_table() -> None:
    assert load_price_table().label() in COST.widgets[0]["properties"]["markdown"]


def test_it_draws_every_service_and_every_agent() -> None:
    by_service, per_memo = COST.widgets[1]["properties"], COST.widgets[2]["properties"]
    assert tuple(entry[3] for entry in by_service["metrics"]) == SERVICES
    labels = tuple(entry[0]["label"] for entry in per_memo["metrics"] if isinstance(entry[0], dict))
    assert labels == AGENTS
