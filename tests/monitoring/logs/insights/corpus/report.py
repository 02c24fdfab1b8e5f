"""Run every documented query and print how many give their documented answer.

    python -m tests.monitoring.logs.insights.corpus.report [--all]

Prints the number of documented queries, how many run and match, and each failing
query grouped by its cause (``--all`` also lists the ones that pass).
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from .queries import CASES
from .runner import Outcome, Stores, run_case


def run_all(root: Path) -> list[Outcome]:
    stores = Stores(root)
    try:
        return [run_case(case, stores(case.data)) for case in CASES]
    finally:
        stores.close()


def summary(outcomes: list[Outcome], *, show_passing: bool = False) -> str:
    answered = [o for o in outcomes if o.case.rows is not None or o.case.check is not None]
    refused = [o for o in outcomes if o.case.refused]
    open_ended = [o for o in outcomes if o.case.undetermined]
    lines = [
        f"documented queries: {len(outcomes)}",
        f"  with an answer worked out: {len(answered)}, matching: {sum(o.ok for o in answered)}",
        f"  needing what only CloudWatch has, or documented as invalid: {len(refused)}, "
        f"refused with InsightsQueryError: {sum(o.ok for o in refused)}",
        f"  whose own text cannot give the documented answer: {len(open_ended)}, "
        f"run without an engine error: {sum(o.ok for o in open_ended)}",
        f"  all passing: {sum(o.ok for o in outcomes)} of {len(outcomes)}",
    ]
    by_cause: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if not outcome.ok:
            by_cause[outcome.cause].append(outcome)
    for cause, failing in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"\n{len(failing)} x {cause}")
        lines += [f"    {o.case.id}" for o in failing]
    if show_passing:
        lines.append("\npassing:")
        lines += [f"    {o.case.id}" for o in outcomes if o.ok]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="insights-corpus-") as root:
        outcomes = run_all(Path(root))
    print(summary(outcomes, show_passing="--all" in argv))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
