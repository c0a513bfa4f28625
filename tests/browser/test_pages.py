"""Visitor pages as a phone draws them: the guide's dark band is drawn once, not tiled."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.browser.conftest import Server
from tests.http_scenarios import WECHAT

PAGE_COLOUR = (245, 245, 247)  # --bg in light mode


def test_guide_background_does_not_repeat_below_the_card(
    browser: Any, server: Server, artifacts: Path
) -> None:
    status, link = server.create(url=server.url + "/landing", code="band")
    assert status == 201, link
    context = browser.new_context(
        user_agent=WECHAT, viewport={"width": 390, "height": 844}, color_scheme="light"
    )
    page = context.new_page()
    page.goto(link["short_url"])
    shot = page.screenshot(full_page=True)
    (artifacts / "guide-390x844.png").write_bytes(shot)
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    width, height = image.size
    assert height >= 844
    card_bottom = int(page.locator("main").evaluate("m => m.getBoundingClientRect().bottom"))
    # everything below the card (and the footer under it) is the page colour, at the edges
    for y in range(max(card_bottom + 80, int(height * 0.5)), height, 7):
        for x in (2, width - 3):
            assert image.getpixel((x, y)) == PAGE_COLOUR, (x, y, image.getpixel((x, y)))
    # and the top of the screen is the dark band
    assert max(image.getpixel((2, 10))) < 80
    context.close()
