"""The visitor cookie and the hop token: signed, bounded, forgeries and expiry ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.errors import ConfigurationError
from suolink.identity import HOP_PARAM, PeopleIds, without_hop
from suolink.models import Visitor

NOW = datetime(2030, 1, 1, tzinfo=UTC)
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def ids() -> PeopleIds:
    return PeopleIds(b"k" * 32)


def test_cookie_round_trip_and_attributes(ids: PeopleIds) -> None:
    header = ids.set_cookie("abc", secure=True)
    assert header.startswith("sl_vid=abc.")
    for part in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=31536000"):
        assert part in header
    assert "Secure" not in ids.set_cookie("abc", secure=False)
    value = header.split(";", 1)[0]
    assert ids.from_cookie_header(f"other=1; {value}; x=2") == "abc"


@pytest.mark.parametrize(
    "header",
    [None, "", "sl_vid=abc", "sl_vid=abc.AAAA", "sl_vid=.x", "sl_vid", "sl_vid==;;", "x" * 10_000],
)
def test_bad_cookies_are_ignored(ids: PeopleIds, header: str | None) -> None:
    assert ids.from_cookie_header(header) is None


def test_another_key_cannot_sign(ids: PeopleIds) -> None:
    other = PeopleIds(b"x" * 32)
    assert ids.from_cookie(other.cookie_value("abc")) is None
    assert ids.from_hop(other.hop_token("abc", NOW), NOW) is None


def test_hop_token_expires(ids: PeopleIds) -> None:
    token = ids.hop_token("abc", NOW)
    assert len(token) <= 64  # a Visitor keeps query values up to 64 characters
    assert ids.from_hop(token, NOW + timedelta(seconds=599)) == "abc"
    assert ids.from_hop(token, NOW + timedelta(seconds=601)) is None
    assert ids.from_hop(token.replace("abc", "abd"), NOW) is None


@given(st.text(max_size=80))
def test_any_token_or_cookie_text_is_safe(text: str) -> None:
    ids = PeopleIds(b"k" * 32)
    assert ids.from_hop(text, NOW) is None
    assert ids.from_cookie_header(text) is None


def test_identify_prefers_the_hop_token_and_sets_the_cookie(ids: PeopleIds) -> None:
    token = ids.hop_token("wechat-id", NOW)
    cookie = ids.set_cookie("safari-id", secure=False).split(";", 1)[0]
    person = ids.identify(Visitor(query=((HOP_PARAM, token),), cookie=cookie), NOW, secure=False)
    assert person.id == "wechat-id"
    assert person.set_cookie is not None
    assert person.set_cookie.startswith("sl_vid=wechat-id.")
    same = ids.identify(Visitor(cookie=cookie), NOW, secure=False)
    assert (same.id, same.set_cookie) == ("safari-id", None)
    new = ids.identify(Visitor(), NOW, secure=True)
    assert new.set_cookie is not None
    assert len(new.id) == 12


def test_without_hop() -> None:
    visitor = Visitor(query=((HOP_PARAM, "t"), ("a", "1")))
    assert without_hop(visitor).query == (("a", "1"),)
    plain = Visitor(query=(("a", "1"),))
    assert without_hop(plain) is plain


@pytest.mark.parametrize(("name", "days"), [("a b", 1), ("", 1), ("ok", 0), ("ok", True)])
def test_bad_cookie_settings(name: str, days: int) -> None:
    with pytest.raises(ConfigurationError):
        PeopleIds(b"k", cookie_name=name, cookie_days=days)


def test_wechat_then_safari_is_one_person() -> None:
    shortener = Shortener("memory://", base_url="https://s.example", secret="s", track_people=True)
    link = shortener.shorten("https://example.com/", recipient="m-1", campaign="c")
    guide = shortener.resolve(link.code, Visitor(user_agent=WECHAT, ip="1.1.1.1"))
    assert guide.status == 200
    cookie = dict(guide.headers)["Set-Cookie"]
    assert "Secure" in cookie
    token = guide.body.decode().split("_slh=", 1)[1].split('"', 1)[0]
    safari = shortener.resolve(
        link.code, Visitor(user_agent=SAFARI, ip="2.2.2.2", query=((HOP_PARAM, token),))
    )
    assert safari.status == 302
    assert dict(safari.headers)["Location"] == "https://example.com/"
    ids = {visit.visitor_id for visit in shortener.visits(link.code)}
    assert len(ids) == 1
    (row,) = shortener.top_recipients("c")
    assert (row.clicks, row.reach, row.visitor) == (1, 0, ids.pop())


def test_head_and_bots_get_no_cookie_and_count_nothing() -> None:
    shortener = Shortener("memory://", base_url="https://s.example", secret="s", track_people=True)
    link = shortener.shorten("https://example.com/", campaign="c")
    head = shortener.resolve(link.code, Visitor(user_agent=SAFARI), record=False)
    assert "Set-Cookie" not in dict(head.headers)
    bot = shortener.resolve(link.code, Visitor(user_agent="Googlebot/2.1"))
    assert "Set-Cookie" not in dict(bot.headers)
    assert shortener.top_visitors("c") == []


def test_without_track_people_no_cookie_is_set() -> None:
    shortener = Shortener("memory://", base_url="https://s.example", secret="s")
    link = shortener.shorten("https://example.com/", campaign="c")
    answer = shortener.resolve(link.code, Visitor(user_agent=SAFARI, ip="1.2.3.4"))
    assert "Set-Cookie" not in dict(answer.headers)
    (row,) = shortener.top_visitors("c")  # still counted, by the hash of IP and user agent
    assert row.clicks == 1
