"""The campaign page: rows, bars, escaped text, the token form, every language."""

from __future__ import annotations

import pytest

from suolink.backends.base import PeopleTotals, PersonRow
from suolink.languages import LANGUAGES
from suolink.render.campaign import CAMPAIGN_MESSAGES, render_campaign, render_campaign_login


def test_every_language_has_every_word() -> None:
    keys = {frozenset(words) for words in CAMPAIGN_MESSAGES.values()}
    assert len(keys) == 1
    assert set(CAMPAIGN_MESSAGES) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_leaderboard_rows_bars_and_escaping(lang: str) -> None:
    rows = [
        PersonRow("<script>x</script>", 4, 1, None, None, reach=2),
        PersonRow("m-2", 1, 1, None, None, reach=0),
    ]
    html = render_campaign(lang=lang, campaign="spring", rows=rows, totals=PeopleTotals(2, 5, 2))
    assert "<script>x" not in html
    assert "&lt;script&gt;x" in html
    assert 'style="width: 100.0%"' in html
    assert 'style="width: 25.0%"' in html
    assert 'id="average">1.00<' in html


def test_empty_campaign_and_every_campaign() -> None:
    html = render_campaign(lang="en", campaign=None, rows=[], totals=PeopleTotals())
    assert "Every campaign" in html
    assert "No recipient links yet." in html


def test_login_form() -> None:
    html = render_campaign_login(lang="zh-CN", campaign="春季", wrong=True)
    assert 'name="token"' in html
    assert "令牌不对" in html
