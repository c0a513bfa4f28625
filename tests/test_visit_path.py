"""Issue 12, hardening: visits that were recorded or counted but should not have been.

Each test is named after its finding and fails on the code before the fix. They run over
every built-in backend (the Redis one-trip path included) through the Shortener, and
over the framework-free :class:`~suolink.http.HttpApi`; the same findings run on Flask
and Django in ``tests/http_scenarios.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink import InvalidURL, Visitor
from suolink.http import HttpApi, HttpRequest
from suolink.shortener import Shortener
from suolink.visits import (
    MAX_STORED_TEXT,
    KeyedHash,
    referer_host,
    storable,
    storable_agent,
    visitor_id,
)
from tests.clients import ALL

CHROME = ALL["chrome_android"]
LINE = ALL["line_android"]


def outcomes(shortener: Shortener, code: str) -> list[str]:
    return [visit.outcome for visit in shortener.storage.visits(code)]


# -- 1. HEAD requests record and count visits ------------------------------------------------


def test_head_requests_record_and_count_visits(shortener: Shortener) -> None:
    """Three HEADs (link checkers, Safe Links) used up ``max_visits=3``; now none counts."""
    link = shortener.shorten("https://example.com/", max_visits=3)
    visitor = Visitor(user_agent=CHROME, ip="198.51.100.1")
    heads = [shortener.resolve(link.code, visitor, record=False) for _ in range(5)]
    assert len({(d.status, d.headers, d.body) for d in heads}) == 1
    assert heads[0].status == 302
    assert shortener.get(link.code).visits == 0
    assert outcomes(shortener, link.code) == []
    get = shortener.resolve(link.code, visitor)
    assert (get.status, get.headers) == (heads[0].status, heads[0].headers)
    assert shortener.get(link.code).visits == 1


def test_head_requests_record_no_guide_views_nor_refusals(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", deny=["android"])
    wechat = shortener.shorten("https://example.com/w")
    assert shortener.resolve(link.code, Visitor(user_agent=CHROME), record=False).status == 403
    head = shortener.resolve(wechat.code, Visitor(user_agent=ALL["wechat_ios"]), record=False)
    assert head.reason == "guide"
    assert outcomes(shortener, link.code) == outcomes(shortener, wechat.code) == []


def test_head_requests_record_and_count_visits_over_http() -> None:
    """``HttpApi`` hands a HEAD to the resolve handler as a HEAD and records nothing."""
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        api = HttpApi(shortener, api_token="t")
        code = shortener.shorten("https://example.com/", max_visits=3).code
        headers = (("user-agent", CHROME),)
        heads = [
            api.handle("resolve", HttpRequest(method="HEAD", headers=headers), code=code)
            for _ in range(3)
        ]
        assert [d.status for d in heads] == [302] * 3
        assert shortener.get(code).visits == 0
        get = api.handle("resolve", HttpRequest(method="GET", headers=headers), code=code)
        assert (get.status, get.headers) == (heads[0].status, heads[0].headers)
        assert shortener.get(code).visits == 1
        # HEAD on an API route needs what GET needs, and does what GET does
        auth = (("authorization", "Bearer t"),)
        read = api.handle("link", HttpRequest(method="HEAD", headers=auth), code=code)
        assert read.status == 200
        assert json.loads(read.body)["code"] == code


# -- 2. A link to its own short URL is accepted ----------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://s.example/abc",
        "http://s.example/abc",  # http redirects to https: the loop holds
        "https://S.Example./abc?x=1",
        "https://s.example:8443/abc",
        "https://s.example/%61bc",
    ],
)
def test_a_link_to_its_own_short_url_is_accepted(shortener: Shortener, target: str) -> None:
    """``curl -L`` followed 30 redirects and counted 31 visits: such targets are refused."""
    shortener.shorten("https://example.com/abc", code="abc")
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.shorten(target.replace("abc", "self").replace("%61bc", "self"), code="self")
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.shorten(target)
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.shorten("https://example.com/", targets={"ios": target})
    link = shortener.shorten("https://example.com/")
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.update(link.code, url=target)
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.update(link.code, targets={"android": target})
    assert shortener.get(link.code).url == "https://example.com/"
    assert len(shortener.list().links) == 2


def test_own_links_are_refused_at_the_request_host_too(shortener: Shortener) -> None:
    base = "https://links.example/l"
    link = shortener.shorten("https://example.com/")
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.shorten(f"{base}/{link.code}", base_url=base)
    with pytest.raises(InvalidURL, match="own short link"):
        shortener.update(link.code, url=f"{base}/{link.code}", base_url=base)
    # the host's other pages, codes no link has, images, other hosts and look-alikes
    for fine in (
        "https://links.example/blog",
        "https://links.example/list",
        f"{base}/not-a-link-yet",
        f"{base}/{link.code}/more",
        f"https://s.example/{link.code}.png",
        "https://s.example/",
        "https://s.example.org/abc",
        "https://example.com/s.example/abc",
    ):
        assert shortener.shorten(fine, base_url=base).url == fine


def test_short_base_ignores_hosts_it_cannot_read() -> None:
    from suolink.urls import ShortBase, URLRules  # new in issue 12

    assert ShortBase.parse(None) is None
    assert ShortBase.parse("http://exa mple/") is None  # an odd Host header
    assert ShortBase.parse("https://[::1]:8000/s/") == ShortBase("[::1]", "/s")
    own = (ShortBase("s.example"),)
    rules = URLRules(allowed_schemes=frozenset({"https", "weixin"}))
    assert rules.validate("weixin://s.example/x", own=own) == "weixin://s.example/x"
    with pytest.raises(InvalidURL, match="own short link"):
        rules.validate("https://s.example/x", own=own)


# -- 3. A LINE visitor is recorded as two guide views ----------------------------------------


def test_a_line_visitor_is_recorded_as_two_guide_views(shortener: Shortener) -> None:
    """LINE reloads the guide with ``openExternalBrowser=1`` before Chrome opens it."""
    link = shortener.shorten("https://example.com/", anti_block=["line"])
    first = shortener.resolve(link.code, Visitor(user_agent=LINE, ip="198.51.100.2"))
    assert first.reason == "guide"
    hop = Visitor(user_agent=LINE, ip="198.51.100.2", query=(("openExternalBrowser", "1"),))
    assert shortener.resolve(link.code, hop).reason == "guide"
    browser = Visitor(user_agent=CHROME, ip="198.51.100.2", query=hop.query)
    assert shortener.resolve(link.code, browser).status == 302
    assert outcomes(shortener, link.code) == ["guide", "redirect"]
    assert shortener.get(link.code).visits == 1


def test_the_line_hop_is_told_only_for_line(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    wechat = Visitor(user_agent=ALL["wechat_ios"], query=(("openExternalBrowser", "1"),))
    assert shortener.resolve(link.code, wechat).reason == "guide"
    assert outcomes(shortener, link.code) == ["guide"]


def test_the_line_hop_reaches_the_core_over_http() -> None:
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        api = HttpApi(shortener)
        code = shortener.shorten("https://example.com/", anti_block=["line"]).code
        for query in ((), (("openExternalBrowser", "1"),)):
            request = HttpRequest(method="GET", headers=(("user-agent", LINE),), query=query)
            assert api.handle("resolve", request, code=code).reason == "guide"
        assert outcomes(shortener, code) == ["guide"]


# -- 4. Uncached QR renders are not rate-limited ---------------------------------------------


def test_uncached_qr_renders_are_not_rate_limited() -> None:
    """New colours draw afresh every time; only those draws count, per address."""
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        api = HttpApi(shortener, api_token="t", qr_render_rate_limit="3/minute")
        code = shortener.shorten("https://example.com/").code

        def png(colour: str, *, token: bool = False, ip: str = "203.0.113.5") -> int:
            headers = (("authorization", "Bearer t"),) if token else ()
            request = HttpRequest(
                method="GET", query=(("fg", colour),), headers=headers, remote_addr=ip
            )
            decision = api.handle("qr_png", request, code=code)
            if decision.status == 429:
                assert int(dict(decision.headers)["Retry-After"]) >= 1
                assert json.loads(decision.body)["error"]["type"] == "rate_limited"
            return decision.status

        assert [png(c) for c in ("111111", "222222", "333333")] == [200] * 3
        assert png("444444") == 429
        assert png("111111") == 200  # drawn already: cache hits are free
        assert png("555555", token=True) == 200  # the token holder is not limited
        assert png("666666", ip="203.0.113.6") == 200  # each address counts apart
        assert shortener.qr_would_draw(code, fg="444444")
        assert not shortener.qr_would_draw(code, fg="111111")


def test_qr_render_limit_is_off_with_none() -> None:
    with Shortener("memory://", secret="s", base_url="https://s.example") as shortener:
        api = HttpApi(shortener, qr_render_rate_limit=None)
        assert api.qr_render_limiter is None
        code = shortener.shorten("https://example.com/").code
        for i in range(40):
            request = HttpRequest(method="GET", query=(("fg", f"{i:06x}"),))
            assert api.handle("qr_png", request, code=code).status == 200


# -- issue 14: the visit path's shortcuts give what the long way gives -------------------------


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(max_size=200), ip=st.none() | st.text(max_size=40), agent=st.text(max_size=300)
)
def test_keyed_hash_visitor_ids_equal_hmac_sha256(key: bytes, ip: str | None, agent: str) -> None:
    """Ids stay what they were before the key schedule was kept: old visits still match."""
    message = f"{ip or ''}\n{agent}".encode("utf-8", "surrogatepass")
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    hasher = KeyedHash(key)
    assert hasher.hexdigest(message) == expected
    assert hasher.visitor_id(ip, agent) == expected[:16]
    assert visitor_id(key, Visitor(user_agent=agent, ip=ip)) == expected[:16]


@settings(max_examples=300, deadline=None)
@given(agent=st.text(max_size=1100) | st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_kept_user_agent_is_the_storable_prefix(agent: str) -> None:
    assert storable_agent(agent) == (storable(agent[:MAX_STORED_TEXT]) or "")


@settings(max_examples=300, deadline=None)
@given(referer=st.text(max_size=60) | st.from_regex(r"https?://[a-zA-Z0-9.\[\]:@-]{0,30}/?.{0,20}"))
def test_the_kept_referer_host_is_what_urlsplit_reads(referer: str) -> None:
    try:
        expected = storable(urlsplit(referer[:MAX_STORED_TEXT]).hostname)
    except ValueError:
        expected = None
    assert referer_host(referer) == expected
    assert referer_host(referer) == expected  # and again, from the cache


@settings(max_examples=300, deadline=None)
@given(
    header=st.text(max_size=80)
    | st.lists(
        st.tuples(
            st.sampled_from(["zh", "zh-CN", "en-GB", "fr", "EN", "zh_TW", "*", ""]),
            st.sampled_from(["", ";q=0", ";q=0.5", ";q=x", ";q=1"]),
        ),
        max_size=5,
    ).map(lambda parts: ",".join(tag + q for tag, q in parts))
)
def test_the_visitor_language_is_parsed_as_before(header: str) -> None:
    from suolink.render.i18n import DEFAULT_LANGUAGE, _parse, _supported, pick_language

    expected = next(
        (found for _, _, tag in _parse(header) if (found := _supported(tag)) is not None),
        DEFAULT_LANGUAGE,
    )
    assert pick_language(header) == expected
