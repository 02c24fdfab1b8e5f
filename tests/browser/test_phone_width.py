"""The console at phone width (issue 10: "usable at phone width"): no page is wider than the
screen — wide tables and charts scroll inside their own box, the page itself does not."""

from __future__ import annotations

import pytest

from browser.test_console_pages import api, demo_memos

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}  # a common phone's CSS pixels


def test_every_page_fits_a_phone_screen(browser, console, request):
    from browser.conftest import _save

    memo = next(m for m in demo_memos(console) if m["status"] == "done")
    alarm = api(console, "/v1/alarms")["alarms"][0]["name"]
    paths = ["/", "/dashboards", "/dashboards/worker-performance", "/dashboards/executive", "/memos",
             f"/memos/{memo['id']}", "/logs?query=fields+%40timestamp%2C+message+%7C+limit+20&since=24h",
             "/traces?since=24h", f"/traces/{memo['trace_id']}", "/alarms", f"/alarms/{alarm}"]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        too_wide = {}
        for path in paths:
            page.goto(console.url + path)
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                too_wide[path] = width
            _save(page, f"{request.node.name}{path.replace('/', '_').split('?')[0] or '_overview'}")
        assert too_wide == {}, f"pages wider than a {PHONE['width']} px screen: {too_wide}"
    finally:
        context.close()
