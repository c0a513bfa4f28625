"""Short domains as data (``suolink.domains``): names, pools, states, the rotation rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink.detect.platforms import normalize_platforms
from suolink.domains import (
    Domain,
    DomainBook,
    Health,
    changed_platforms,
    check_domain_name,
    check_pool,
    check_reason,
    check_settings,
    default_domain,
    domain_from_dict,
    domain_to_dict,
    parse_domains,
    pick,
    with_state,
)
from suolink.errors import InvalidDomain, InvalidOption

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "name", "scheme"),
    [
        ("s1.example", "s1.example", None),
        ("  S1.Example. ", "s1.example", None),
        ("https://s1.example", "s1.example", "https"),
        ("HTTP://s1.example/", "s1.example", "http"),
        ("短.例子", "xn--s7y.xn--fsqu00a", None),
        ("bücher.example", "xn--bcher-kva.example", None),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "http"),
        ("localhost:5000", "localhost:5000", None),
        ("[::1]:8080", "[::1]:8080", None),
        ("203.0.113.9", "203.0.113.9", None),
    ],
)
def test_domain_names(raw: str, name: str, scheme: str | None) -> None:
    assert check_domain_name(raw) == (name, scheme)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "s1.example:8000",  # a port only on loopback
        "ftp://s1.example",
        "https://s1.example/path",
        "https://user@s1.example",
        "s1 .example",
        "-bad.example",
        "a..example",
        "s1.example/x",
        "s1.example\x00",
        "x" * 64 + ".example",
        "localhost:0",
        "localhost:99999",
        "<script>.example",
        None,
        42,
    ],
)
def test_bad_domain_names(raw: object) -> None:
    with pytest.raises(InvalidDomain):
        check_domain_name(raw)


@given(st.text(max_size=80))
def test_any_text_is_a_name_or_invalid_domain(text: str) -> None:
    try:
        name, _ = check_domain_name(text)
    except InvalidDomain:
        return
    assert name == name.lower()
    assert name.isascii()
    assert check_domain_name(name)[0] == name  # idempotent


def test_pools_and_reasons() -> None:
    assert check_pool(" Main ") == "main"
    for bad in ("", "a b", "x" * 33, "池", None):
        with pytest.raises(InvalidDomain):
            check_pool(bad)
    assert check_reason(None) == ""
    for bad in ("a\nb", "x" * 501, 3):
        with pytest.raises(InvalidOption):
            check_reason(bad)


def test_settings() -> None:
    settings = check_settings(
        {"anti_block": "weixin", "not_found_url": "https://e.example/", "language": "en"},
        check_platforms=normalize_platforms,
    )
    assert settings.anti_block == {"wechat"}
    assert settings.language == "en"
    for bad in (
        {"colour": "red"},
        {"not_found_url": "javascript:alert(1)"},
        {"language": "xx"},
        {"allow": ["nowhere-app"]},
        "text",
    ):
        with pytest.raises(InvalidOption):
            check_settings(bad, check_platforms=normalize_platforms)  # type: ignore[arg-type]


def _pool() -> list[Domain]:
    return [
        Domain("s1.example", default=True, added_at=T0),
        Domain("s2.example", added_at=T0 + timedelta(seconds=1)),
        Domain("s3.example", pool="promo", added_at=T0 + timedelta(seconds=2)),
    ]


def test_pick_prefers_the_links_domain_then_the_pool_in_order() -> None:
    s1, s2, s3 = _pool()
    domains = [s1, s2, s3]
    assert pick(domains, pool="main", preferred="s2.example", platform="wechat") is s2
    assert pick(domains, pool="main", platform="wechat") is s1
    assert pick(domains, pool="promo") is s3
    assert pick(domains, pool="nowhere") is None
    blocked = with_state(s1, ["wechat"], Health.BLOCKED, "", T0)
    domains = [blocked, s2, s3]
    assert pick(domains, pool="main", preferred="s1.example", platform="wechat") is s2
    assert pick(domains, pool="main", preferred="s1.example", platform="qq") is blocked
    assert pick(domains, pool="main", preferred="s1.example") is s2  # None: no block at all
    # suspect beats blocked; everything blocked falls back to the link's own domain
    suspect = with_state(s2, ["wechat"], Health.SUSPECT, "", T0)
    assert pick([blocked, suspect], pool="main", preferred="s1.example", platform="wechat") is (
        suspect
    )
    both = with_state(s2, ["wechat"], Health.BLOCKED, "", T0)
    assert pick([blocked, both], pool="main", preferred="s1.example", platform="wechat") is (
        blocked
    )


def test_states_keep_since_and_ok_clears() -> None:
    s1 = _pool()[0]
    later = T0 + timedelta(hours=1)
    one = with_state(s1, ["wechat"], Health.BLOCKED, "page", T0)
    two = with_state(one, ["wechat", "qq"], Health.BLOCKED, "", later)
    assert two.states["wechat"].since == T0
    assert two.states["wechat"].reason == "page"
    assert two.states["qq"].since == later
    assert changed_platforms(one, two) == ["qq"]
    assert two.health() is Health.BLOCKED
    assert two.health("weibo") is Health.OK
    cleared = with_state(two, None, Health.OK, "", later)
    assert cleared.states == {}
    assert changed_platforms(two, cleared) == ["qq", "wechat"]


def test_json_round_trip() -> None:
    s1 = with_state(_pool()[0], ["wechat"], Health.SUSPECT, "slow", T0)
    assert domain_from_dict(domain_to_dict(s1)) == s1


def test_matches_and_origin() -> None:
    local = Domain("127.0.0.1:8000", scheme="http", added_at=T0)
    assert local.matches("127.0.0.1", 8000)
    assert not local.matches("127.0.0.1", 8001)
    assert local.origin == "http://127.0.0.1:8000"
    assert local.port == 8000
    assert Domain("s1.example", added_at=T0).matches("s1.example", 443)


def test_parse_domains() -> None:
    specs = parse_domains("s1.example=main, https://s2.example , s3.example=promo")
    assert [(s.name, s.pool, s.default) for s in specs] == [
        ("s1.example", "main", True),
        ("s2.example", "main", False),
        ("s3.example", "promo", False),
    ]
    specs = parse_domains(["a.example", {"name": "b.example", "pool": "x", "default": True}])
    assert [s.default for s in specs] == [False, True]
    assert parse_domains(None) == ()
    assert parse_domains("") == ()
    for bad in ("a.example, a.example", [{"name": "a.example", "colour": 1}], [3]):
        with pytest.raises(InvalidDomain):
            parse_domains(bad)


def test_default_domain_and_book() -> None:
    s1, s2, s3 = _pool()
    assert default_domain([s2, s1]) is s1
    assert default_domain([s2, s3]) is s2
    assert default_domain([]) is None
    loads: list[int] = []

    def load() -> list[Domain]:
        loads.append(1)
        return [s1, s2]

    book = DomainBook(load)
    assert book.find("s2.example", None) is s2
    assert book.find("s9.example", None) is None
    assert len(loads) == 1  # a copy, not a read per question
    book.forget()
    book.all()
    assert len(loads) == 2
    assert DomainBook(None).all() == ()
    assert not DomainBook(None).supported


def test_book_keeps_its_last_copy_while_the_store_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from suolink import domains as module
    from suolink.errors import BackendUnavailable

    s1 = _pool()[0]
    answers: list[object] = [[s1], BackendUnavailable("down")]

    def load() -> list[Domain]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    book = DomainBook(load)
    assert book.all() == (s1,)
    book.forget()
    assert book.all() == (s1,)  # the store failed: the last list stands
    never = DomainBook(lambda: (_ for _ in ()).throw(BackendUnavailable("down")))
    with pytest.raises(BackendUnavailable):
        never.all()
    assert module.REFRESH_SECONDS > 0
