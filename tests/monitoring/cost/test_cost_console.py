"""The console's memo page shows the memo's estimated cost, as `whispersync trace` does."""

from __future__ import annotations

import httpx

from helpers import ServerThread
from whispersync.app import build_runtime
from whispersync.domain import Transcript
from whispersync.monitoring.cost import load_price_table, memo_cost
from whispersync.web import create_app


def test_the_memo_page_shows_its_estimated_cost(settings) -> None:
    runtime = build_runtime(settings)
    try:
        receipt = runtime.ingestor.accept(Transcript(text="Need to ship the release", agent="work"))
        [message] = runtime.queue.receive(1)
        runtime.processor.process(message)
        runtime.telemetry.flush()
        memo = runtime.records.get(receipt.id)
        spans = runtime.store.spans(trace_id=memo.trace_id)
        expected = memo_cost(spans, memo, load_price_table(), memory_mb=settings.lambda_memory_mb)
        assert expected is not None and expected["total_usd"] > 0 and expected["deliveries"] == 1
        with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            html = client.get(f"/memos/{memo.id}").text
        assert 'data-testid="memo-cost"' in html
        assert f"${expected['total_usd']:.8f}" in html and "estimate at list price" in html
    finally:
        runtime.close(timeout=2)
