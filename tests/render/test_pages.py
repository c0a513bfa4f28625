"""render/pages.py: each ruling's page, in the chosen language, escaped, with strict headers."""

from __future__ import annotations

import re

import pytest

from suolink.detect import detect
from suolink.languages import LANGUAGES
from suolink.models import Link, PageDecision
from suolink.policy import Ruling, Verdict
from suolink.render import MESSAGES, render_page
from suolink.render.pages import PageContext, decision_for, password_throttled

WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
HOSTILE = '"><script>alert(1)</script>'
LINK = Link(code="abc", url="https://example.com/a", title=HOSTILE)


def ctx(lang: str = "en", short_url: str = "https://s.example/abc") -> PageContext:
    return PageContext(lang=lang, client=detect(WECHAT), code="abc", short_url=short_url)


def header(decision: PageDecision, name: str) -> str:
    return dict(decision.headers)[name]


def page(verdict: Verdict, lang: str = "en", link: Link | None = LINK) -> PageDecision:
    decision = decision_for(Ruling(verdict, link=link), ctx(lang))
    assert isinstance(decision, PageDecision)
    return decision


PAGES = [
    (Verdict.NOT_FOUND, 404, "not_found.title"),
    (Verdict.EXPIRED, 410, "expired.text"),
    (Verdict.EXHAUSTED, 410, "exhausted.text"),
    (Verdict.GUIDE, 200, "guide.title"),
    (Verdict.DENIED, 403, "denied.title"),
    (Verdict.BOT_DENIED, 403, "denied.bot"),
    (Verdict.PASSWORD_REQUIRED, 401, "password.text"),
    (Verdict.PASSWORD_WRONG, 401, "password.wrong"),
    (Verdict.BLOCKED, 451, "blocked.title"),
    (Verdict.WARNING, 200, "warning.title"),
]


def test_every_verdict_is_in_the_table() -> None:
    """decision_for ends in the password page: a new verdict needs its own branch and row."""
    tested_apart = {Verdict.REDIRECT, Verdict.PREVIEW}
    assert {verdict for verdict, _, _ in PAGES} | tested_apart == set(Verdict)


@pytest.mark.parametrize(("verdict", "status", "words"), PAGES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_verdict_has_its_page_in_the_chosen_language(
    verdict: Verdict, status: int, words: str, lang: str
) -> None:
    decision = page(verdict, lang)
    assert decision.status == status
    assert decision.reason == verdict.value
    assert f'<html lang="{lang}">' in decision.html
    assert MESSAGES[lang][words].split("{")[0] in decision.html
    for other in set(LANGUAGES) - {lang}:
        assert MESSAGES[other][words].split("{")[0] not in decision.html
    assert decision.body == decision.html.encode()
    assert header(decision, "Cache-Control") == "private, no-store"


def test_a_redirect_ruling_is_a_redirect_not_a_page() -> None:
    ruling = Ruling(Verdict.REDIRECT, link=LINK, location="https://example.com/a")
    decision = decision_for(ruling, ctx())
    assert not isinstance(decision, PageDecision)
    assert decision.status == 302
    assert dict(decision.headers)["Location"] == "https://example.com/a"


def test_no_link_is_the_not_found_page_whatever_the_verdict() -> None:
    assert page(Verdict.DENIED, link=None).status == 404


@pytest.mark.parametrize("verdict", [Verdict.PASSWORD_REQUIRED, Verdict.PREVIEW])
def test_the_owner_title_is_escaped(verdict: Verdict) -> None:
    html = page(verdict).html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_short_url_is_escaped_in_the_guide_markup_and_script() -> None:
    hostile = "https://s.example/abc?</script><img src=x onerror=alert(1)>"
    decision = decision_for(Ruling(Verdict.GUIDE, link=LINK), ctx(short_url=hostile))
    assert isinstance(decision, PageDecision)
    assert "<img src=x" not in decision.html
    assert "</script><img" not in decision.html
    assert decision.html.count("</script>") == 1  # only the page's own script closes


def test_the_guide_names_the_app_the_visitor_is_in() -> None:
    assert "WeChat" in page(Verdict.GUIDE, "en").html
    assert "微信" in page(Verdict.GUIDE, "zh-CN").html


def test_only_the_guide_allows_a_script_and_only_by_a_fresh_nonce() -> None:
    first, second = page(Verdict.GUIDE), page(Verdict.GUIDE)
    nonce = re.search(r"'nonce-([^']+)'", header(first, "Content-Security-Policy"))
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in first.html
    assert nonce.group(1) not in second.html  # a new nonce per page
    for verdict in (Verdict.NOT_FOUND, Verdict.EXPIRED, Verdict.DENIED, Verdict.PREVIEW):
        decision = page(verdict)
        assert "script-src 'none'" in header(decision, "Content-Security-Policy")
        assert "<script" not in decision.html


def test_the_preview_shows_the_target_host_only_for_open_links() -> None:
    assert "example.com" in page(Verdict.PREVIEW).html
    guarded = Link(code="abc", url="https://secret.example/a", password_hash="x")
    assert "secret.example" not in page(Verdict.PREVIEW, link=guarded).html


def test_denied_says_where_the_link_may_be_opened() -> None:
    only_desktop = Link(code="abc", url="https://example.com", allow=frozenset({"desktop"}))
    assert (
        MESSAGES["en"]["denied.only"].split("{")[0] in page(Verdict.DENIED, link=only_desktop).html
    )


def test_password_throttled_says_when_to_retry() -> None:
    decision = password_throttled("abc", "en", 30)
    assert decision.status == 429
    assert header(decision, "Retry-After") == "30"
    assert "30 seconds" in decision.html


def test_an_unknown_language_renders_in_the_default() -> None:
    assert '<html lang="en">' in render_page("not_found", lang="xx")
