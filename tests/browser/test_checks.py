"""The browser checks themselves can fail: axe-core, target sizes, sideways scrolling."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, scrolls_sideways, small_targets

pytestmark = [pytest.mark.browser]

BAD = """<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
<h1>Bad page</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<button style="width:30px;height:30px"></button>
<p><button aria-label="one" style="width:12px;height:12px;padding:0;margin:0"></button><button
 aria-label="two" style="width:12px;height:12px;padding:0;margin:0"></button></p>
<p>Read <a href="#">this link</a> in a sentence.</p>
<div style="width:2000px">wide</div>
</main></body></html>"""


def test_the_checks_find_what_they_look_for(browser):
    page = browser.new_page(viewport={"width": 800, "height": 600})
    try:
        page.set_content(BAD)
        rules = {v["rule"] for v in axe_violations(page)}
        assert {"image-alt", "button-name", "target-size"} <= rules
        staff = small_targets(page, 24, inline_exempt=True)
        assert [size for _, *size in staff] == [[12, 12], [12, 12]]  # the link is exempt
        tablet = small_targets(page, 44, inline_exempt=False)
        assert len(tablet) == 4  # on the tablet, the link in the sentence is too small too
        assert scrolls_sideways(page)
    finally:
        page.close()
