"""Anti-block pages, access rules, previews and bots through Shortener.resolve (issue 4)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import InvalidOption, PageDecision, Redirect, Visitor
from suolink.shortener import Shortener
from tests.clients import ALL, OTHERS, PRESET_APPS

MOBILE_BROWSERS = ["safari_iphone", "chrome_android"]
XSS = "\"><script>alert(1)</script><img src=x onerror=alert(2)>'\u2028中文"


def visit(shortener: Shortener, code: str, name: str, **extra: str) -> PageDecision | Redirect:
    decision = shortener.resolve(code, Visitor(user_agent=ALL[name], ip="198.51.100.9", **extra))
    assert isinstance(decision, PageDecision | Redirect)
    return decision


def header(decision: PageDecision | Redirect, name: str) -> str:
    return next(v for k, v in decision.headers if k.lower() == name.lower())


@pytest.mark.parametrize(("app", "os"), sorted(PRESET_APPS))
def test_preset_apps_get_the_guide_and_browsers_the_redirect(
    shortener: Shortener, app: str, os: str
) -> None:
    link = shortener.shorten("https://example.com/landing")
    guide = visit(shortener, link.code, f"{app}_{os}", accept_language="zh-CN")
    assert guide.status == 200
    assert guide.reason == "guide"
    html = guide.body.decode()
    assert shortener.short_url(link) in html
    assert "https://example.com/landing" not in html  # the guide never leaks the target
    for name in MOBILE_BROWSERS:
        redirect = visit(shortener, link.code, name)
        assert redirect.status == 302
        assert header(redirect, "Location") == "https://example.com/landing"
    assert shortener.get(link.code).visits == len(MOBILE_BROWSERS)


def test_guide_page_is_self_contained_small_and_strict(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    page = visit(shortener, link.code, "wechat_ios", accept_language="zh-CN,zh;q=0.9")
    html = page.body.decode()
    assert len(page.body) < 20_000
    assert "在 Safari 中打开" in html
    # The short link's own QR code: its image route beside the page, drawn when asked for.
    assert f'<img class="qr" src="./{link.code}.png?size=168&amp;border=2"' in html
    assert "img-src data: 'self'" in header(page, "Content-Security-Policy")
    csp = header(page, "Content-Security-Policy")
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in html
    assert "default-src 'none'" in csp
    assert header(page, "X-Robots-Tag").startswith("noindex")
    assert header(page, "Cache-Control").startswith("private, no-store")
    assert header(page, "Referrer-Policy")
    assert not re.search(r"(src|href)=\"(https?:)?//", html.replace(shortener.short_url(link), ""))
    assert "<link" not in html


def test_the_guide_qr_image_is_the_short_link_drawn_by_its_own_route() -> None:
    """The page links the image; the route beside it draws the short URL at the page's size."""
    import html as html_lib

    from suolink.http import HttpApi, HttpRequest
    from suolink.qr import decode

    with Shortener("memory://", secret="s") as shortener:
        api = HttpApi(shortener)
        code = shortener.shorten("https://example.com/").code
        wechat = (("user-agent", ALL["wechat_ios"]),)
        base = "https://mounted.example/s"
        request = HttpRequest(method="GET", headers=wechat, base_url=base)
        page = api.handle("resolve", request, code=code)
        src = re.search(r'<img class="qr" src="([^"]+)"', page.body.decode())
        assert src is not None
        path, _, query = html_lib.unescape(src.group(1)).partition("?")
        assert path == f"./{code}.png"
        pairs = tuple(tuple(pair.split("=")) for pair in query.split("&"))
        image = api.handle(
            "qr_png", HttpRequest(method="GET", query=pairs, base_url=base), code=code
        )
        assert image.status == 200
        assert decode(image.body) == [f"{base}/{code}"]
        assert shortener.qr(code, base_url=base, size=168, border=2) == image.body


def test_the_guide_shows_no_qr_without_the_qr_extra(shortener: Shortener) -> None:
    from tests.http_scenarios import without_qr_extra

    link = shortener.shorten("https://example.com/")
    with without_qr_extra():
        page = visit(shortener, link.code, "wechat_ios")
    assert page.reason == "guide"
    assert 'class="qr"' not in page.body.decode()


def test_guide_words_follow_app_os_and_language(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    android = visit(shortener, link.code, "wechat_android", accept_language="en").body.decode()
    assert "Open in Browser" in android
    assert "WeChat" in android
    weibo = visit(shortener, link.code, "weibo_ios", accept_language="zh-CN").body.decode()
    assert "用浏览器打开" in weibo
    assert "微博" in weibo


def test_auto_mode_escapes_line_with_its_documented_parameter(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/", anti_block=["line", "facebook"], anti_block_mode="auto"
    )
    line = visit(shortener, link.code, "line_android").body.decode()
    assert f"{shortener.short_url(link)}?openExternalBrowser=1" in line
    facebook = visit(shortener, link.code, "facebook_android").body.decode()
    assert "intent://s.example/" in facebook
    assert "scheme=https" in facebook
    guide_only = shortener.shorten(
        "https://example.com/", anti_block=["line"], anti_block_mode="guide"
    )
    assert (
        "?openExternalBrowser=1"
        not in visit(shortener, guide_only.code, "line_android").body.decode()
    )
    off = shortener.shorten("https://example.com/", anti_block_mode="off")
    assert visit(shortener, off.code, "wechat_ios").status == 302


def test_allow_wechat_only(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", allow=["weixin"])  # an alias of wechat
    assert shortener.get(link.code).allow == frozenset({"wechat"})
    # No guide: it would send WeChat visitors to a browser the link refuses.
    assert visit(shortener, link.code, "wechat_ios").status == 302
    zh = visit(shortener, link.code, "chrome_windows", accept_language="zh-CN")
    assert zh.status == 403
    assert "请在微信中打开此链接" in zh.body.decode()
    en = visit(shortener, link.code, "chrome_windows", accept_language="en")
    assert "Please open this link in WeChat" in en.body.decode()
    assert "https://example.com/" not in en.body.decode()


def test_allow_mobile_only(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", allow="mobile")
    refused = visit(shortener, link.code, "safari_mac", accept_language="en")
    assert refused.status == 403
    assert "on a phone" in refused.body.decode()
    for name in MOBILE_BROWSERS:
        assert visit(shortener, link.code, name).status == 302


def test_deny_list(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", deny=["qq"], anti_block=[])
    refused = visit(shortener, link.code, "qq_ios", accept_language="zh-CN")
    assert refused.status == 403
    assert "在QQ中" in refused.body.decode()
    assert visit(shortener, link.code, "wechat_ios").status == 302


def test_unknown_platform_names_are_refused(shortener: Shortener) -> None:
    with pytest.raises(InvalidOption, match="not a known platform"):
        shortener.shorten("https://example.com/", allow=["myspace"])
    with pytest.raises(InvalidOption):
        shortener.shorten("https://example.com/", targets={"palmos": "https://example.com/p"})


def test_per_os_targets(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/",
        targets={"ios": "https://apps.apple.com/app/id1", "android": "https://play.google.com/x"},
    )
    assert (
        header(visit(shortener, link.code, "safari_iphone"), "Location")
        == "https://apps.apple.com/app/id1"
    )
    assert (
        header(visit(shortener, link.code, "chrome_android"), "Location")
        == "https://play.google.com/x"
    )
    assert (
        header(visit(shortener, link.code, "firefox_linux"), "Location") == "https://example.com/"
    )


def test_previews_and_crawlers_leave_counts_and_limits_untouched(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/once", max_visits=1, title="Launch")
    for name in ["facebook_preview", "twitter_preview", "slack_preview"]:
        page = visit(shortener, link.code, name)
        assert page.status == 200
        assert 'property="og:title" content="Launch"' in page.body.decode()
    for name in ["googlebot", "bingbot"]:
        assert visit(shortener, link.code, name).status == 403
    stats = shortener.stats(link.code)
    assert (stats.humans, stats.bots) == (0, 5)
    assert shortener.get(link.code).visits == 0
    assert visit(shortener, link.code, "safari_iphone").status == 302
    assert visit(shortener, link.code, "chrome_android").status == 410
    stats = shortener.stats(link.code)
    assert stats.humans == 1
    assert stats.redirects == 1


def test_preview_shows_the_target_host_only_for_open_links(shortener: Shortener) -> None:
    public = shortener.shorten("https://example.com/secret/path")
    html = visit(shortener, public.code, "facebook_preview").body.decode()
    assert "example.com" in html
    assert "/secret/path" not in html
    private = shortener.shorten("https://example.com/secret/path", password="pw")
    assert "example.com" not in visit(shortener, private.code, "facebook_preview").body.decode()


def test_stats_count_platforms_people_and_bots(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    for name in [
        "wechat_ios",
        "wechat_ios",
        "qq_android",
        "safari_iphone",
        "chrome_windows",
        "googlebot",
    ]:
        visit(shortener, link.code, name)
    stats = shortener.stats(link.code)
    assert stats.total == 6
    assert stats.bots == 1
    assert stats.by_app == {"wechat": 2, "qq": 1, "browser": 2}
    assert stats.by_outcome == {"guide": 3, "redirect": 2, "bot": 1}
    assert stats.by_os["ios"] == 3
    assert stats.by_device == {"mobile": 4, "desktop": 1}
    assert stats.unique_visitors == 4
    assert stats.top_visitors[0][1] == 2


@settings(
    max_examples=60,
    deadline=None,  # scrypt and QR drawing on a loaded machine: speed is for benchmarks/
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    title=st.text(max_size=60).map(lambda t: t.replace("\x00", "")) | st.just(XSS),
    client_name=st.sampled_from(sorted(ALL)),
    allow=st.sampled_from([None, ["wechat"], ["desktop"]]),
    password=st.sampled_from([None, "pw"]),
)
def test_no_page_carries_a_script_outside_its_nonce(
    title: str, client_name: str, allow: list[str] | None, password: str | None
) -> None:
    shortener = SHARED
    try:
        link = shortener.shorten(
            "https://example.com/?q=%22%3E%3Cscript%3E", title=title, allow=allow, password=password
        )
    except InvalidOption:  # titles with control characters are refused; nothing to render
        return
    decision = visit(shortener, link.code, client_name, accept_language="zh-CN")
    if isinstance(decision, Redirect):
        assert decision.body == b""
        return
    html = decision.body.decode()
    nonce = re.search(r"'nonce-([^']+)'", header(decision, "Content-Security-Policy"))
    allowed = 1 if nonce and f'<script nonce="{nonce.group(1)}">' in html else 0
    assert len(re.findall(r"<script", html, re.IGNORECASE)) == allowed
    assert "onerror=alert" not in html
    if link.title:
        assert "<script>alert(1)" not in html


SHARED = Shortener("memory://", secret="xss", base_url="https://s.example")


def test_xss_payload_in_title_and_target_is_escaped_everywhere(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        title=XSS.replace("\u2028", ""),
    )
    for name in ["wechat_ios", "facebook_preview", "chrome_windows"]:
        decision = visit(shortener, link.code, name)
        text = decision.body.decode()
        assert "<script>alert(1)</script>" not in text
        assert "<img src=x" not in text
    assert OTHERS  # the shared table is in use
