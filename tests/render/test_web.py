"""render/web.py: the index page and the stats pages, their choices, words and escaping."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from suolink.detect.platforms import BLOCKING_APPS
from suolink.languages import LANGUAGES
from suolink.models import Link, Visit
from suolink.render.web import (
    ALLOW_CHOICES,
    ANTI_BLOCK_CHOICES,
    WEB_MESSAGES,
    render_index,
    render_stats,
    render_stats_login,
)
from suolink.stats import aggregate

HOSTILE = '"><script>alert(1)</script>'


def script_config(html: str) -> dict[str, object]:
    found = re.search(r"var config = (\{.*?\})(?:, words = config\.words)?;", html)
    assert found is not None
    config: dict[str, object] = json.loads(found.group(1))
    return config


def checked(html: str, name: str) -> set[str]:
    pattern = rf'<input[^>]*name="{name}"[^>]*value="([^"]+)"[^>]*\bchecked\b'
    return set(re.findall(pattern, html))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_index_speaks_the_language_and_offers_every_choice(lang: str) -> None:
    html = render_index(lang=lang, anonymous=True, nonce="n0nce")
    assert f'<html lang="{lang}">' in html
    assert WEB_MESSAGES[lang]["submit"] in html
    for name in (*ANTI_BLOCK_CHOICES, *ALLOW_CHOICES):
        assert f'value="{name}"' in html
    assert '<script nonce="n0nce">' in html


def test_the_index_ticks_the_blocking_apps_and_no_allow_choice() -> None:
    html = render_index(lang="en", anonymous=True, nonce="n")
    assert checked(html, "anti_block") == BLOCKING_APPS & set(ANTI_BLOCK_CHOICES)
    assert checked(html, "allow") == set()
    config = script_config(html)
    assert config["preset"] == sorted(BLOCKING_APPS)
    assert config["linkBase"] is None


def test_the_token_field_shows_only_when_the_api_needs_one() -> None:
    assert 'id="token"' not in render_index(lang="en", anonymous=True, nonce="n")
    assert 'id="token"' in render_index(lang="en", anonymous=False, nonce="n")


def test_the_link_base_travels_as_json_escaped() -> None:
    html = render_index(lang="en", anonymous=True, nonce="n", link_base="/s</script><b>")
    assert "</script><b>" not in html
    assert script_config(html)["linkBase"] == "/s</script><b>"


def test_the_stats_login_asks_for_the_token_and_says_when_it_was_wrong() -> None:
    first = render_stats_login(lang="en", code="abc", wrong=False)
    again = render_stats_login(lang="en", code="abc", wrong=True)
    assert WEB_MESSAGES["en"]["stats.token_text"] in first
    assert WEB_MESSAGES["en"]["stats.wrong"] not in first
    assert WEB_MESSAGES["en"]["stats.wrong"] in again


def test_the_stats_page_shows_totals_tables_chart_and_top_visitors() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    visits = [
        Visit(code="abc", at=at, app="wechat", os="ios", visitor_id="v1"),
        Visit(code="abc", at=at, app="wechat", os="android", visitor_id="v1"),
        Visit(code="abc", at=at, is_bot=True, app="googlebot", outcome="bot"),
    ]
    link = Link(code="abc", url="https://example.com/a", title="Launch")
    html = render_stats(
        lang="en", link=link, short_url="https://s.example/abc", stats=aggregate("abc", visits)
    )
    assert '<strong id="total">3</strong>' in html
    assert '<strong id="humans">2</strong>' in html
    assert '<strong id="bots">1</strong>' in html
    assert '<strong id="unique">1</strong>' in html
    assert "<svg" in html
    assert "WeChat" in html  # app ids shown by their display name
    for table in ("stats.by_app", "stats.by_os", "stats.by_bot"):
        assert WEB_MESSAGES["en"][table] in html
    assert WEB_MESSAGES["en"]["stats.top"] in html
    assert ">v1<" in html


def test_a_link_without_visits_says_so_and_draws_no_chart() -> None:
    link = Link(code="abc", url="https://example.com/a")
    html = render_stats(
        lang="zh-CN", link=link, short_url="https://s.example/abc", stats=aggregate("abc", [])
    )
    assert WEB_MESSAGES["zh-CN"]["stats.none"] in html
    assert "<svg" not in html
    assert WEB_MESSAGES["zh-CN"]["stats.by_app"] not in html  # empty tables are left out


def test_everything_the_owner_or_visitors_wrote_is_escaped_on_the_stats_page() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    visits = [Visit(code="abc", at=at, app=HOSTILE, os=HOSTILE, visitor_id=HOSTILE)]
    link = Link(code="abc", url="https://example.com/" + HOSTILE, title=HOSTILE)
    html = render_stats(
        lang="en", link=link, short_url="https://s.example/abc", stats=aggregate("abc", visits)
    )
    assert "<script>alert(1)" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_every_language_has_every_web_word() -> None:
    assert set(WEB_MESSAGES) == set(LANGUAGES)

    def words(lang: str) -> set[str]:
        # Plural forms (".one", ".other") exist only where the language has them.
        return {key.removesuffix(".one").removesuffix(".other") for key in WEB_MESSAGES[lang]}

    for lang in LANGUAGES:
        assert words(lang) == words("en"), lang
