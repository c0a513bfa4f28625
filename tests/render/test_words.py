"""Words on pages: plural forms, the language an in-app browser's user agent names, and
a guide page whose background is drawn once."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.models import Link, Visitor
from suolink.render import language_hint, pick_language
from suolink.render.i18n import count_phrase, plural_category
from suolink.render.web import render_stats
from suolink.stats import LinkStats
from tests.http_scenarios import WECHAT

ALIPAY = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.5.36.6000) Nebula WK RVKType(1) "
    "AlipayDefined(nt:WIFI,ws:390|780|3.0) AlipayClient/10.5.36.6000 Language/zh-Hans Region/CN"
)
DINGTALK_EN = (
    "Mozilla/5.0 (Linux; Android 13) AliApp(DingTalk/7.0.40) DingTalk/7.0.40 language/en-US"
)


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 bots"), (1, "1 bot"), (2, "2 bots"), (11, "11 bots")]
)
def test_english_counts_agree_with_their_noun(count: int, expected: str) -> None:
    assert count_phrase(count, "bot", "bots") == expected


@given(st.integers(min_value=0, max_value=10**9))
def test_chinese_has_one_form_and_english_two(count: int) -> None:
    assert plural_category("zh-CN", count) == "other"
    assert plural_category("en", count) == ("one" if count == 1 else "other")


def _stats_page(lang: str, **counts: int) -> str:
    link = Link(code="abc", url="https://example.com/")
    stats = LinkStats(code="abc", **counts)
    return render_stats(lang=lang, link=link, short_url="https://s.example/abc", stats=stats)


def _tile(html: str, name: str) -> str:
    found = re.search(rf'<strong id="{name}">(\d+)</strong>([^<]+)</div>', html)
    assert found, name
    return f"{found.group(1)} {found.group(2)}"


def test_stats_tiles_say_1_bot_and_2_bots() -> None:
    one = _stats_page("en", total=1, humans=1, bots=1, unique_visitors=1)
    assert _tile(one, "bots") == "1 Bot"
    assert _tile(one, "humans") == "1 Person"
    assert _tile(one, "total") == "1 Visit"
    assert _tile(one, "unique") == "1 Unique visitor"
    two = _stats_page("en", total=2, humans=2, bots=2, unique_visitors=2)
    assert _tile(two, "bots") == "2 Bots"
    assert _tile(two, "humans") == "2 People"
    zh = _stats_page("zh-CN", total=1, bots=1)
    assert _tile(zh, "bots") == "1 机器人"


def test_a_missing_qr_extra_reads_as_one_subject() -> None:
    from suolink.errors import MissingDependencyError
    from suolink.qr import _deps

    message = str(MissingDependencyError(_deps._FEATURE, "qr", module="qrcode"))
    assert message.startswith("QR code support needs")


@pytest.mark.parametrize(
    ("user_agent", "hint", "lang"),
    [
        (WECHAT, "zh_CN", "zh-CN"),
        (WECHAT.replace("zh_CN", "en"), "en", "en"),
        (ALIPAY, "zh-Hans", "zh-CN"),
        (DINGTALK_EN, "en-US", "en"),
        ("Mozilla/5.0 (Windows NT 10.0) Chrome/124.0", None, "en"),
        ("", None, "en"),
    ],
)
def test_the_apps_language_hint_is_used_without_accept_language(
    user_agent: str, hint: str | None, lang: str
) -> None:
    assert language_hint(user_agent) == hint
    assert pick_language("", ua_hint=hint) == lang
    assert pick_language(None, ua_hint=hint) == lang


def test_accept_language_and_the_links_language_come_before_the_hint() -> None:
    assert pick_language("en-GB,en;q=0.8", ua_hint="zh_CN") == "en"
    assert pick_language("fr", ua_hint="zh_CN") == "zh-CN"  # nothing supported: the hint
    assert pick_language("", "en", ua_hint="zh_CN") == "en"  # the link's language wins
    assert pick_language("fr", ua_hint="de_DE") == "en"


@given(st.text(max_size=300))
def test_any_user_agent_gives_a_supported_language(user_agent: str) -> None:
    assert pick_language("", ua_hint=language_hint(user_agent)) in ("zh-CN", "en")


def test_a_wechat_visitor_without_accept_language_gets_the_chinese_guide() -> None:
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        shortener.shorten("https://example.com/", code="wx")
        decision = shortener.resolve("wx", Visitor(user_agent=WECHAT))
    html = decision.body.decode()
    assert decision.reason == "guide"
    assert '<html lang="zh-CN">' in html
    assert "请在浏览器中打开" in html


def test_the_guide_background_is_drawn_once() -> None:
    """The browser test measures it at 390×844; this keeps the rules that make it so."""
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        shortener.shorten("https://example.com/", code="wx")
        html = shortener.resolve("wx", Visitor(user_agent=WECHAT)).body.decode()
    assert re.search(r"html \{[^}]*min-height: 100%", html)
    assert re.search(r"body \{[^}]*min-height: 100vh", html)
    guide_body = re.search(r"body \{ background: ([^}]*)\}", html)
    assert guide_body
    assert "no-repeat" in guide_body.group(1)
