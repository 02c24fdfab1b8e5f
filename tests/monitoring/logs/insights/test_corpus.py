"""Every query of AWS's Logs Insights docs, run on events the real producers write.

The queries, their sources and their hand-worked answers are in ``corpus/queries.py``;
the events in ``corpus/datasets.py``. A query that needs what only CloudWatch has
must be refused with a clear InsightsQueryError. For a summary of the whole corpus:

    python -m tests.monitoring.logs.insights.corpus.report
"""

from __future__ import annotations

import pytest

from monitoring.logs.insights.corpus.queries import CASES
from monitoring.logs.insights.corpus.runner import Stores, run_case


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """One store per dataset, imported once for the module."""
    opened = Stores(tmp_path_factory.mktemp("corpus"))
    yield opened
    opened.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_query(case, stores):
    """The documented query gives the answer worked out by hand, or is refused where it must be."""
    outcome = run_case(case, stores(case.data))
    assert outcome.ok, outcome.explain()
