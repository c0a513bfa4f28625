"""Short domains on the Shortener (``suolink.shortener_domains``): managing them, links
bound to a domain or pool, resolution by host, and rotation away from blocked domains."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from suolink import Shortener
from suolink.backends.memory import MemoryStorage
from suolink.domains import Health
from suolink.errors import (
    ConfigurationError,
    DomainNotFound,
    DomainsUnsupported,
    DomainTaken,
    InvalidDomain,
    InvalidOption,
)
from suolink.http import HttpApi, HttpRequest
from suolink.models import Visitor

BROWSER = Visitor(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
WECHAT = Visitor(
    user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)


@pytest.fixture(params=["memory", "sqlite"])
def shortener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shortener]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    with Shortener(url, secret="s") as made:
        made.add_domain("s1.example", default=True)
        made.add_domain("s2.example")
        made.add_domain("s3.example", pool="promo")
        yield made


def test_add_list_remove_and_errors(shortener: Shortener) -> None:
    assert [(d.name, d.pool, d.default) for d in shortener.domains()] == [
        ("s1.example", "main", True),
        ("s2.example", "main", False),
        ("s3.example", "promo", False),
    ]
    with pytest.raises(DomainTaken):
        shortener.add_domain("S1.Example")
    with pytest.raises(InvalidDomain):
        shortener.add_domain("not a host")
    with pytest.raises(InvalidDomain):
        shortener.add_domain("s4.example", pool="bad pool")
    with pytest.raises(InvalidOption):
        shortener.add_domain("s4.example", settings={"colour": "red"})
    shortener.add_domain("s4.example", default=True)
    assert [d.name for d in shortener.domains() if d.default] == ["s4.example"]
    assert shortener.remove_domain("s4.example") is True
    assert shortener.remove_domain("s4.example") is False
    with pytest.raises(DomainNotFound):
        shortener.domain("s4.example")
    with pytest.raises(DomainNotFound):
        shortener.mark_blocked("s4.example")
    moved = shortener.change_domain("s2.example", pool="promo")
    assert moved.pool == "promo"


def test_marks_and_events(shortener: Shortener, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, object]] = []
    shortener.events.on("domain.state_changed", lambda event: seen.append(dict(event.payload)))
    with caplog.at_level(logging.INFO, logger="suolink.domains"):
        blocked = shortener.mark_blocked("s1.example", ["weixin", "qq"], reason="block page")
    assert blocked.health("wechat") is Health.BLOCKED
    assert blocked.health("qq") is Health.BLOCKED
    assert blocked.states["wechat"].reason == "block page"
    assert "domain.state_changed s1.example wechat: ok -> blocked" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="suolink.domains"):
        shortener.mark_blocked("s1.example", ["wechat"])  # no change, no event
    assert "state_changed" not in caplog.text
    suspect = shortener.mark_suspect("s2.example", "wechat")
    assert suspect.health("wechat") is Health.SUSPECT
    assert shortener.mark_ok("s1.example", ["qq"]).health("qq") is Health.OK
    assert shortener.mark_ok("s1.example").states == {}
    assert shortener.mark_checked("s1.example").last_check is not None
    with pytest.raises(InvalidOption):
        shortener.mark_blocked("s1.example", ["nowhere"])
    with pytest.raises(InvalidOption):
        shortener.mark_blocked("s1.example", [])
    _wait_for(lambda: len(seen) >= 2)
    assert sorted((p["platform"], p["before"], p["after"]) for p in seen[:2]) == [
        ("qq", "ok", "blocked"),
        ("wechat", "ok", "blocked"),
    ]
    assert seen[0]["domain"] == "s1.example"
    assert seen[0]["reason"] == "block page"


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_rotation_moves_new_urls_and_qr_codes(shortener: Shortener) -> None:
    on_s1 = shortener.shorten("https://example.com/a", domain="s1.example")
    in_promo = shortener.shorten("https://example.com/b", pool="promo")
    unbound = shortener.shorten("https://example.com/c")
    assert (on_s1.domain, on_s1.pool) == ("s1.example", "main")
    assert (in_promo.domain, in_promo.pool) == (None, "promo")
    assert shortener.short_url(on_s1, for_platform="wechat") == f"https://s1.example/{on_s1.code}"
    assert shortener.short_url(in_promo) == f"https://s3.example/{in_promo.code}"
    assert shortener.short_url(unbound.code) == f"https://s1.example/{unbound.code}"

    shortener.mark_blocked("s1.example", ["wechat"])
    assert shortener.short_url(on_s1, for_platform="wechat").startswith("https://s2.example/")
    assert shortener.short_url(on_s1, for_platform="weixin").startswith("https://s2.example/")
    assert shortener.short_url(on_s1, for_platform="qq").startswith("https://s1.example/")
    assert shortener.short_url(unbound, for_platform="wechat").startswith("https://s2.example/")
    pytest.importorskip("qrcode")
    from suolink.qr import decode

    pytest.importorskip("zxingcpp")
    image = shortener.qr(on_s1.code, for_platform="wechat")
    assert decode(image) == [f"https://s2.example/{on_s1.code}"]
    with pytest.raises(InvalidOption):
        shortener.short_url(on_s1, for_platform="nowhere")


def test_resolution_by_host(shortener: Shortener) -> None:
    on_s1 = shortener.shorten("https://example.com/a", domain="s1.example")
    in_promo = shortener.shorten("https://example.com/b", pool="promo")
    unbound = shortener.shorten("https://example.com/c")
    shortener.mark_blocked("s1.example", ["wechat"])  # old URLs keep resolving

    def status(code: str, host: str) -> int:
        return shortener.resolve(code, BROWSER, base_url=f"https://{host}").status

    assert [status(on_s1.code, h) for h in ("s1.example", "s2.example", "s3.example")] == [
        302,
        302,
        404,
    ]
    assert [status(in_promo.code, h) for h in ("s1.example", "s3.example")] == [404, 302]
    assert [status(unbound.code, h) for h in ("s1.example", "s3.example")] == [302, 302]
    assert status(unbound.code, "evil.example") == 404
    assert shortener.resolve(on_s1.code, BROWSER).status == 302  # no host: the caller's call


def test_guide_page_uses_the_platforms_domain(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/a", domain="s1.example", anti_block_mode="guide")
    shortener.mark_blocked("s1.example", ["wechat"])
    page = shortener.resolve(link.code, WECHAT, base_url="https://s1.example")
    assert page.status == 200
    assert f"https://s2.example/{link.code}".encode() in page.body
    assert b"s1.example" not in page.body


def test_binding_checks_and_defaults(shortener: Shortener) -> None:
    with pytest.raises(InvalidOption):
        shortener.shorten("https://example.com/", domain="s9.example")
    with pytest.raises(InvalidOption):
        shortener.shorten("https://example.com/", pool="nowhere")
    with pytest.raises(InvalidOption):
        shortener.shorten("https://example.com/", domain="s1.example", pool="promo")
    with pytest.raises(InvalidOption):
        shortener.shorten("https://example.com/", domain="not a host")
    shortener.change_domain(
        "s3.example",
        settings={"anti_block": ["qq"], "language": "en", "not_found_url": "https://e.example/"},
    )
    made = shortener.shorten("https://example.com/", pool="promo")
    assert made.anti_block == {"qq"}
    assert made.language == "en"
    own = shortener.shorten("https://example.com/", pool="promo", anti_block=["wechat"])
    assert own.anti_block == {"wechat"}
    moved = shortener.update(made.code, domain="s2.example")
    assert (moved.domain, moved.pool) == ("s2.example", "main")
    # an unknown code on a domain with a 404 URL redirects there
    answer = shortener.resolve("nothere", BROWSER, base_url="https://s3.example")
    assert answer.status == 302
    assert dict(answer.headers)["Location"] == "https://e.example/"
    # a target on one of the domains would loop
    with pytest.raises(Exception, match=r"own short links|loop|short link"):
        shortener.shorten(f"https://s2.example/{made.code}")


def test_http_hosts_and_urls(shortener: Shortener) -> None:
    api = HttpApi(shortener, api_token="t" * 32)
    link = shortener.shorten("https://example.com/a", domain="s1.example")
    shortener.mark_blocked("s1.example", ["wechat"])

    def get(path: str, host: str, **query: str) -> tuple[int, bytes]:
        request = HttpRequest(
            method="GET",
            path=path,
            query=tuple(query.items()),
            headers=(("authorization", "Bearer " + "t" * 32),),
            base_url=f"https://{host}",
        )
        route, params = (
            ("link", {"code": link.code})
            if path.startswith("/api")
            else (
                "resolve",
                {"code": link.code},
            )
        )
        answer = api.handle(route, request, **params)
        return answer.status, answer.body

    status, body = get(f"/api/links/{link.code}", "s1.example", for_platform="wechat")
    assert status == 200
    assert f"https://s2.example/{link.code}".encode() in body
    assert get(f"/{link.code}", "evil.example")[0] == 404
    status, body = get(f"/api/links/{link.code}", "evil.example")
    assert status == 404
    assert b"evil" not in body
    redirecting = HttpApi(
        Shortener(shortener.storage, secret="s", unknown_host_redirect="https://home.example/"),
        api_token="t" * 32,
    )
    answer = redirecting.handle(
        "resolve", HttpRequest(method="GET", base_url="https://evil.example"), code=link.code
    )
    assert answer.status == 302
    assert dict(answer.headers)["Location"] == "https://home.example/"


def test_configured_domains(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with Shortener(url, domains="s1.example=main, s2.example, https://s3.example=promo") as one:
        assert [(d.name, d.default) for d in one.domains()] == [
            ("s1.example", True),
            ("s2.example", False),
            ("s3.example", False),
        ]
        one.mark_blocked("s1.example", "wechat")
    with Shortener(url, domains=["s1.example", "s2.example"]) as two:  # a restart
        assert two.domain("s1.example").health("wechat") is Health.BLOCKED  # kept
    with pytest.raises(InvalidDomain):
        Shortener("memory://", domains="bad host")


class _NoDomains(MemoryStorage):
    """A third-party backend without ``keeps_domains``."""

    add_domain = None  # type: ignore[assignment]


def test_a_backend_without_domains() -> None:
    with Shortener(_NoDomains()) as plain:
        with pytest.raises(DomainsUnsupported):
            plain.add_domain("s1.example")
        with pytest.raises(DomainsUnsupported):
            plain.domains()
        link = plain.shorten("https://example.com/")
        assert plain.resolve(link.code, BROWSER, base_url="https://any.example").status == 302
    with pytest.raises(ConfigurationError):
        Shortener(_NoDomains(), domains="s1.example")


def test_no_domains_keeps_todays_behaviour() -> None:
    with Shortener("memory://", secret="s") as plain:
        link = plain.shorten("https://example.com/")
        assert plain.short_url(link, base_url="https://any.example") == (
            f"https://any.example/{link.code}"
        )
        assert plain.resolve(link.code, BROWSER, base_url="https://any.example").status == 302


def test_the_web_page_offers_only_healthy_domains(shortener: Shortener) -> None:
    api = HttpApi(shortener, api_token="t" * 32)
    shortener.mark_suspect("s2.example", ["qq"])
    page = api.handle("index", HttpRequest(method="GET", base_url="https://s1.example"))
    assert page.status == 200
    assert b'<option value="s1.example">' in page.body
    assert b'<option value="s3.example">' in page.body
    assert b'value="s2.example"' not in page.body
    plain = HttpApi(Shortener("memory://"), api_token="t" * 32)
    bare = plain.handle("index", HttpRequest(method="GET", base_url="https://x.example"))
    assert b'id="domain"' not in bare.body
