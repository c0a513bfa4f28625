"""The Shortener end to end over real backends: create, resolve, update, delete, stats."""

from __future__ import annotations

import pytest

from suolink import (
    CodeTaken,
    ConfigurationError,
    InvalidCode,
    InvalidOption,
    InvalidURL,
    LinkNotFound,
    PageDecision,
    Redirect,
    Visitor,
)
from suolink.shortener import Shortener

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def test_shorten_and_resolve_redirects_and_counts(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/path?q=1", title="Example", tags=["a", "b"])
    assert shortener.short_url(link) == f"https://s.example/{link.code}"
    decision = shortener.resolve(link.code, Visitor(user_agent=CHROME, ip="203.0.113.7"))
    assert isinstance(decision, Redirect)
    assert decision.status == 302
    assert ("Location", "https://example.com/path?q=1") in decision.headers
    assert shortener.get(link.code).visits == 1
    stats = shortener.stats(link.code)
    assert stats.total == 1
    assert stats.top_visitors == [
        (shortener.visitor_id(Visitor(user_agent=CHROME, ip="203.0.113.7")), 1)
    ]
    assert "203.0.113.7" not in str(list(shortener.storage.visits(link.code)))


def test_generated_codes_are_distinct_and_canonical(shortener: Shortener) -> None:
    codes = {shortener.shorten(f"https://example.com/{i}").code for i in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert shortener.codes.codec.decode(code) is not None


def test_random_strategy(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", strategy="random")
    assert len(link.code) == 7
    assert shortener.get(link.code).url == "https://example.com/"


def test_custom_alias_and_taken(shortener: Shortener) -> None:
    shortener.shorten("https://example.com/a", code="promo-2030")
    with pytest.raises(CodeTaken):
        shortener.shorten("https://example.com/b", code="promo-2030")
    assert shortener.get("promo-2030").url == "https://example.com/a"


@pytest.mark.parametrize("alias", ["api", "Admin", "bad alias", "", "x" * 200, "a/b"])
def test_bad_alias_is_refused(shortener: Shortener, alias: str) -> None:
    with pytest.raises(InvalidCode):
        shortener.shorten("https://example.com/", code=alias)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.com/", "https://", "http://a b.com/", 42]
)
def test_bad_url_is_refused_and_nothing_stored(shortener: Shortener, url: object) -> None:
    with pytest.raises(InvalidURL):
        shortener.shorten(url)  # type: ignore[arg-type]
    assert shortener.list().links == ()


def test_unknown_non_canonical_and_disabled_codes_are_404(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    assert shortener.resolve("zzzzzzzz", Visitor()).status == 404
    assert shortener.resolve("../etc", Visitor()).status == 404
    assert shortener.resolve("", Visitor()).status == 404
    shortener.update(link.code, disabled=True)
    decision = shortener.resolve(link.code, Visitor())
    assert isinstance(decision, PageDecision)
    assert decision.status == 404
    assert shortener.get(link.code).visits == 0


def test_expired_link_is_410(shortener: Shortener, clock) -> None:
    link = shortener.shorten("https://example.com/", expires_in=60)
    assert shortener.resolve(link.code, Visitor()).status == 302
    clock.advance(seconds=61)
    decision = shortener.resolve(link.code, Visitor(accept_language="zh-CN,zh;q=0.9"))
    assert decision.status == 410
    assert "已过期" in decision.body.decode()


def test_max_visits_exhausts_with_410(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", max_visits=2)
    person = Visitor(user_agent=CHROME)
    statuses = [shortener.resolve(link.code, person).status for _ in range(4)]
    assert statuses == [302, 302, 410, 410]
    assert shortener.get(link.code).visits == 2


def test_empty_user_agent_does_not_use_up_max_visits(shortener: Shortener) -> None:
    """Issue 12: a request with no User-Agent is a bot (README), so it cannot spend visits."""
    link = shortener.shorten("https://example.com/", max_visits=1)
    for user_agent in ("", "   "):
        decision = shortener.resolve(link.code, Visitor(user_agent=user_agent))
        assert decision.status == 403
    assert shortener.get(link.code).visits == 0
    assert shortener.resolve(link.code, Visitor(user_agent=CHROME)).status == 302
    assert shortener.get(link.code).visits == 1


def test_password_flow(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/secret", password="s3cret", title="<b>Plan</b>")
    first = shortener.resolve(link.code, Visitor(user_agent=CHROME))
    assert first.status == 401
    html = first.body.decode()
    assert "&lt;b&gt;Plan&lt;/b&gt;" in html
    assert "<b>Plan</b>" not in html
    wrong = shortener.resolve(link.code, Visitor(user_agent=CHROME, password="nope"))
    assert wrong.status == 401
    assert 'aria-invalid="true"' in wrong.body.decode()
    right = shortener.resolve(link.code, Visitor(user_agent=CHROME, password="s3cret"))
    assert isinstance(right, Redirect)
    assert right.location == "https://example.com/secret"
    assert shortener.get(link.code).visits == 1
    assert "s3cret" not in (shortener.get(link.code).password_hash or "")


def test_update_changes_settings_and_keeps_visits(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/old")
    shortener.resolve(link.code, Visitor(user_agent=CHROME))
    updated = shortener.update(link.code, url="https://example.com/new", title="New", tags="x,y")
    assert updated.url == "https://example.com/new"
    assert updated.tags == ("x", "y")
    assert updated.visits == 1
    with pytest.raises(InvalidOption):
        shortener.update(link.code, max_visits=0)
    with pytest.raises(InvalidOption):
        shortener.update(link.code, colour="red")
    assert shortener.get(link.code).url == "https://example.com/new"
    with pytest.raises(LinkNotFound):
        shortener.update("missing1", title="x")


def test_delete_removes_link_and_visits(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    shortener.resolve(link.code, Visitor())
    assert shortener.delete(link.code) is True
    assert shortener.delete(link.code) is False
    with pytest.raises(LinkNotFound):
        shortener.get(link.code)
    assert shortener.resolve(link.code, Visitor()).status == 404


def test_list_pages_newest_first_and_filters_by_tag(shortener: Shortener, clock) -> None:
    made = []
    for i in range(7):
        made.append(
            shortener.shorten(f"https://example.com/{i}", tags=["even" if i % 2 == 0 else "odd"])
        )
        clock.advance(seconds=1)
    seen, cursor = [], None
    while True:
        page = shortener.list(cursor=cursor, limit=3)
        seen.extend(link.code for link in page.links)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [link.code for link in reversed(made)]
    evens = [link.code for link in shortener.iter_links(tag="even")]
    assert evens == [link.code for link in reversed(made) if "even" in link.tags]
    with pytest.raises(InvalidOption):
        shortener.list(limit=0)


def test_language_of_pages_follows_visitor_and_link(shortener: Shortener) -> None:
    assert (
        "not exist" in shortener.resolve("nothere", Visitor(accept_language="en-US")).body.decode()
    )
    zh = shortener.resolve("nothere", Visitor(accept_language="zh-TW,zh;q=0.8,en;q=0.5"))
    assert "不存在" in zh.body.decode()
    link = shortener.shorten("https://example.com/", password="pw", language="zh-CN")
    assert "需要密码" in shortener.resolve(link.code, Visitor(accept_language="en")).body.decode()


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        Shortener("memory://", redirect_status=200)
    with pytest.raises(ConfigurationError):
        Shortener("nosuch://x")
    with pytest.raises(ConfigurationError):
        Shortener("memory://", base_url="ftp://x")
    with pytest.raises(ConfigurationError, match="base_url"):
        Shortener("memory://").short_url("abc")


def test_redirect_status_is_configurable() -> None:
    with Shortener("memory://", base_url="https://s.example", redirect_status=301) as s:
        link = s.shorten("https://example.com/")
        assert s.resolve(link.code, Visitor()).status == 301
