"""Issue 12, "Password limiter, tokens, hosts, privacy": one regression test per finding."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from suolink.errors import ConfigurationError
from suolink.http import HttpApi, HttpRequest
from suolink.http.auth import RateLimiter, WrongTryLimiter, address_of
from suolink.http.hosts import AllowedHosts
from suolink.models import Decision
from suolink.shortener import Shortener
from tests.http.conftest import TOKEN, json_request, request

NEW = b'{"url": "https://example.com/"}'
NAT = "203.0.113.7"


class Clock:
    """``time.time`` under the test's control (``limits`` reads it for its windows)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    return fake


def _post_password(api: HttpApi, code: str, password: str, ip: str = NAT) -> Decision:
    req = request("POST", form=(("password", password),), remote_addr=ip)
    return api.handle("resolve", req, code=code)


def _events(limiter: RateLimiter) -> dict[str, list[object]]:
    events: dict[str, list[object]] = limiter.storage.events
    return events


# -- 1. refused password tries ------------------------------------------------------------


def test_refused_password_tries_count_toward_the_daily_window(
    make_api: Callable[..., HttpApi], shortener: Shortener, clock: Clock
) -> None:
    """101 posts in a burst used to lock the right password out for a day (86400 s)."""
    api = make_api()  # the default "10/minute;100/day"
    code = shortener.shorten("https://example.com/a", password="right").code
    answers = [_post_password(api, code, "guess").status for _ in range(101)]
    assert answers == [401] * 10 + [429] * 91  # only ten were checked
    refused = _post_password(api, code, "right")
    assert refused.status == 429
    assert int(dict(refused.headers)["Retry-After"]) <= 60
    clock.advance(61)
    assert _post_password(api, code, "right").status == 302


def test_past_the_daily_window_the_right_password_waits_a_minute_not_a_day(
    make_api: Callable[..., HttpApi], shortener: Shortener, clock: Clock
) -> None:
    api = make_api(password_rate_limit="10/minute;30/day")
    code = shortener.shorten("https://example.com/a", password="right").code
    for _ in range(3):  # thirty wrong tries, ten a minute: the daily window is full
        assert {_post_password(api, code, "guess").status for _ in range(10)} == {401}
        clock.advance(61)
    # the slow lane: one checked try a minute, right or wrong
    assert _post_password(api, code, "guess").status == 401
    slowed = _post_password(api, code, "guess")
    assert slowed.status == 429
    assert int(dict(slowed.headers)["Retry-After"]) <= 60
    clock.advance(61)
    assert _post_password(api, code, "right").status == 302
    assert _post_password(api, code, "right", ip="198.51.100.1").status == 302  # others free


def test_a_right_password_is_never_counted_as_a_wrong_one(
    make_api: Callable[..., HttpApi], shortener: Shortener, clock: Clock
) -> None:
    api = make_api(password_rate_limit="10/minute;3/day")
    code = shortener.shorten("https://example.com/a", password="right").code
    for _ in range(20):
        assert _post_password(api, code, "right").status == 302
        clock.advance(7)  # ten checks a minute at most
    assert _post_password(api, code, "wrong").status == 401


def test_password_limiter_state_only_for_existing_password_links(
    make_api: Callable[..., HttpApi], shortener: Shortener
) -> None:
    """Posting to missing codes used to create limiter keys (100k keys = 118 MB a day)."""
    api = make_api()
    assert api.password_limiter is not None
    open_link = shortener.shorten("https://example.com/open").code
    for i in range(200):
        assert _post_password(api, f"nope{i}", "x", ip=f"10.0.{i // 250}.{i % 250}").status == 404
        _post_password(api, open_link, "x", ip=f"10.1.{i // 250}.{i % 250}")
    assert _events(api.password_limiter) == {}


def test_the_in_process_limit_store_is_bounded() -> None:
    limiter = RateLimiter("5/minute;100/day", max_entries=500)
    for i in range(500):  # many addresses, one try each: bounded in keys
        limiter.hit("ns", f"key{i}")
    assert len(_events(limiter)) <= 50
    for i in range(40):  # few addresses, many tries each: bounded in entries
        for _ in range(100):
            limiter.hit("ns", f"busy{i}")
    assert sum(len(entries) for entries in _events(limiter).values()) <= 500
    assert limiter.hit("ns", "busy39") is not None  # the newest keys keep their counts


# -- 2. no raw address in limiter keys ----------------------------------------------------


def test_with_store_ip_false_raw_ips_still_sit_in_limiter_keys(
    make_api: Callable[..., HttpApi], shortener: Shortener
) -> None:
    api = make_api(api_token=TOKEN, allow_anonymous=True)
    code = shortener.shorten("https://example.com/a", password="right").code
    created = api.handle("links", replace(json_request("POST", NEW, token=None), remote_addr=NAT))
    assert created.status == 201
    _post_password(api, code, "wrong")
    api.handle("links", replace(request("GET", token="wrong"), remote_addr=NAT))
    limiters = [api.rate_limiter, api.password_limiter, api.token_limiter]
    keys = [key for limiter in limiters if limiter for key in _events(limiter)]
    assert len(keys) >= 3  # every limiter counted something
    assert not [key for key in keys if NAT in key or "203.0.113" in key]


def test_address_ids_are_keyed_by_the_secret() -> None:
    with Shortener("memory://", secret="a") as a, Shortener("memory://", secret="a") as same:
        assert a.address_id(NAT) == same.address_id(NAT)  # every worker counts alike
        with Shortener("memory://", secret="b") as other:
            assert other.address_id(NAT) != a.address_id(NAT)
        assert NAT not in a.address_id(NAT)


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert address_of("2001:db8:1:2:aaaa::1") == address_of("2001:db8:1:2:bbbb::9")
    assert address_of("2001:db8:1:3::1") != address_of("2001:db8:1:2::1")
    assert address_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_of(None) == "unknown"
    assert address_of("not-an-ip") == "not-an-ip"


# -- 3. wrong API tokens ------------------------------------------------------------------


def test_wrong_api_tokens_are_never_throttled(
    make_api: Callable[..., HttpApi], clock: Clock
) -> None:
    """400 wrong tokens in 0.6 s all got a 401; now 429 with Retry-After."""
    api = make_api(api_token=TOKEN, token_rate_limit="20/minute;200/day")

    def with_token(token: str, ip: str = NAT) -> Decision:
        return api.handle("links", replace(request("GET", token=token), remote_addr=ip))

    assert [with_token("guess").status for _ in range(20)] == [401] * 20
    limited = with_token("guess")
    assert limited.status == 429
    assert json.loads(limited.body)["error"]["type"] == "rate_limited"
    assert int(dict(limited.headers)["Retry-After"]) <= 60
    assert with_token(TOKEN).status == 429  # over the limit, not even the right one is checked
    assert with_token(TOKEN, ip="198.51.100.1").status == 200  # another address
    clock.advance(61)
    assert with_token(TOKEN).status == 200
    for _ in range(50):  # a right token is never counted
        assert with_token(TOKEN).status == 200


def test_the_stats_page_form_token_is_throttled_too(
    make_api: Callable[..., HttpApi], shortener: Shortener
) -> None:
    api = make_api(api_token=TOKEN, token_rate_limit="2/minute")
    code = shortener.shorten("https://example.com/").code

    def form(token: str) -> Decision:
        req = request("POST", form=(("token", token),), remote_addr=NAT)
        return api.handle("stats_page", req, code=code)

    assert [form("no").status for _ in range(3)] == [401, 401, 429]
    assert make_api(token_rate_limit=None).token_limiter is None


def test_wrong_try_limiter_fails_open(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = WrongTryLimiter("1/minute", count_checks=True)

    def broken(*args: object) -> bool:
        raise ConnectionError("limits storage down")

    monkeypatch.setattr(limiter.limiter, "hit", broken)
    monkeypatch.setattr(limiter.limiter, "test", broken)
    assert limiter.admit("ns", "k") is None
    limiter.failed("ns", "k")  # logged, never raised


# -- 5. trusted hosts ---------------------------------------------------------------------


@pytest.fixture
def hostless() -> Iterator[Shortener]:
    with Shortener("memory://", secret="s") as s:
        yield s


def _from_host(host: str, method: str = "GET", **fields: object) -> HttpRequest:
    return replace(request(method, **fields), base_url=f"http://{host}")  # type: ignore[arg-type]


def test_without_base_url_short_urls_location_and_qr_follow_the_host_header(
    hostless: Shortener,
) -> None:
    api = HttpApi(hostless, api_token=TOKEN, allowed_hosts=["s.example", ".short.example"])
    code = hostless.shorten("https://example.com/").code
    for host in ("s.example", "s.example:8080", "short.example", "a.short.example"):
        assert api.handle("qr_png", _from_host(host), code=code).status == 200
    evil = api.handle("qr_png", _from_host("evil.example"), code=code)
    assert (evil.status, evil.reason) == (400, "bad_host")
    assert dict(evil.headers)["Content-Type"].startswith("text/plain")
    assert api.handle("resolve", _from_host("evil.example"), code=code).status == 400
    refused = api.handle(
        "links",
        replace(json_request("POST", NEW), base_url="http://evil.example"),
    )
    assert refused.status == 400
    assert json.loads(refused.body)["error"]["type"] == "bad_host"
    assert api.handle("health", _from_host("10.0.0.5")).status == 200  # load balancers
    for broken in ("http://[", "http://", None):
        assert api.handle("resolve", replace(request(), base_url=broken), code=code).status == 400


def test_a_fixed_base_url_makes_the_host_header_irrelevant(
    make_api: Callable[..., HttpApi],
) -> None:
    api = make_api(allowed_hosts=["only.example"])  # the fixture's Shortener has a base_url
    assert api.handle("health", _from_host("evil.example")).status == 200
    created = api.handle(
        "links", replace(json_request("POST", NEW, token=None), base_url="http://evil.example")
    )
    assert created.status in (401, 403)  # refused for want of a token, not for its host


def test_qr_images_that_follow_the_host_vary_on_it(hostless: Shortener) -> None:
    """``/<code>.png`` was ``public, max-age=86400`` with no ``Vary: Host``."""
    api = HttpApi(hostless)
    code = hostless.shorten("https://example.com/").code
    for route, params in (("qr_png", {"code": code}), ("qr_svg", {"code": code}), ("openapi", {})):
        answer = api.handle(route, _from_host("s.example"), **params)
        headers = dict(answer.headers)
        assert answer.status == 200
        assert "public" in headers["Cache-Control"]
        assert headers["Vary"] == "Host"
    json_answer = api.handle("links", _from_host("s.example"))
    assert "Vary" not in dict(json_answer.headers)  # not stored by shared caches at all


def test_allowed_hosts_patterns() -> None:
    hosts = AllowedHosts.of("s.example, localhost:8000, .example.org, [::1]")
    assert hosts.allows("http://S.Example./x")
    assert hosts.allows("http://localhost:8000")
    assert not hosts.allows("http://localhost:9000")
    assert hosts.allows("https://example.org")
    assert hosts.allows("https://a.b.example.org")
    assert not hosts.allows("https://badexample.org")
    assert hosts.allows("http://[::1]:8000")
    assert AllowedHosts.of(["*"]).allows("http://anything")
    assert not AllowedHosts.of([]).allows("http://s.example")
    with pytest.raises(ConfigurationError, match="not a host name"):
        AllowedHosts.of(["https://s.example/"])
