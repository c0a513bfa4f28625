"""The hot redirect (``suolink.hotpath``): it answers ordinary redirects with the visit the
full path would record, and steps aside (nothing recorded) for everything else.

``tests/test_plans.py`` runs twins (planned and full path) through random settings,
changes and visitors; here are the hot path's own switches and caches.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from suolink import Visitor
from suolink.hotpath import MAX_REMEMBERED
from suolink.models import Redirect
from suolink.shortener import Shortener
from tests.clients import ALL
from tests.conftest import FakeClock

SAFARI = Visitor(
    user_agent=ALL["safari_iphone"],
    ip="203.0.113.7",
    accept_language="zh-CN,zh;q=0.9",
    referer="https://news.example.org/a",
)


def _shortener(**options: Any) -> Shortener:
    return Shortener("memory://", secret="s", base_url="https://s.example", **options)


def _calls(shortener: Shortener) -> list[tuple[str, bool]]:
    """Count the hot path's answers: (code, answered) per call."""
    seen: list[tuple[str, bool]] = []
    inner = shortener._hot_path
    assert inner is not None

    def spy(code: str, visitor: Visitor, record: bool = True) -> Any:
        answer = inner(code, visitor, record)
        seen.append((code, answer is not None))
        return answer

    shortener._hot_path = spy
    if shortener._hot is not None:
        shortener._hot = spy
    return seen


def test_an_ordinary_redirect_is_answered_by_the_hot_path_after_the_first_visit() -> None:
    shortener = _shortener()
    seen = _calls(shortener)
    code = shortener.shorten("https://example.com/a").code
    first = shortener.resolve(code, SAFARI)  # the full path: starts the webhook watch
    assert seen == []
    again = shortener.resolve(code, SAFARI)
    assert seen == [(code, True)]
    assert isinstance(first, Redirect)
    assert isinstance(again, Redirect)
    assert first.location == again.location == "https://example.com/a"
    visits = list(shortener.storage.visits(code))
    assert len(visits) == 2
    assert shortener.get(code).visits == 2
    a, b = (v.to_dict() for v in visits)
    assert {k: v for k, v in a.items() if k != "at"} == {k: v for k, v in b.items() if k != "at"}
    assert b["language"] == "zh-CN"
    assert b["referer"] == "news.example.org"


def test_head_requests_take_the_hot_path_and_record_nothing() -> None:
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    seen = _calls(shortener)
    answer = shortener.resolve(code, SAFARI, record=False)
    assert isinstance(answer, Redirect)
    assert seen == [(code, True)]
    assert shortener.get(code).visits == 1
    assert len(list(shortener.storage.visits(code))) == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"password": "pw"},
        {"max_visits": 5},
        {"disabled": True},
        {"allow": ["android"]},
        {"forward_query": True},
        {"split": [{"url": "https://a.example", "weight": 1}]},
    ],
    ids=lambda s: next(iter(s)),
)
def test_links_with_settings_that_decide_per_visit_take_the_full_path(
    settings: dict[str, Any],
) -> None:
    shortener = _shortener()
    warm = shortener.shorten("https://example.com/warm").code
    shortener.resolve(warm, SAFARI)
    code = shortener.shorten("https://example.com/a", **settings).code
    seen = _calls(shortener)
    shortener.resolve(code, SAFARI)
    assert seen == [(code, False)]


def test_an_expired_link_is_left_to_the_full_path() -> None:
    clock = FakeClock()
    shortener = _shortener(clock=clock)
    code = shortener.shorten("https://example.com/a", expires_at=clock.now + timedelta(minutes=1))
    shortener.resolve(code.code, SAFARI)
    shortener.resolve(code.code, SAFARI)
    clock.advance(minutes=2)
    seen = _calls(shortener)
    answer = shortener.resolve(code.code, SAFARI)
    assert seen == [(code.code, False)]
    assert not isinstance(answer, Redirect)
    assert shortener.get(code.code).visits == 2


def test_a_clock_not_in_utc_takes_the_full_path() -> None:
    shortener = _shortener(clock=lambda: datetime.now(timezone(timedelta(hours=8))))
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    seen = _calls(shortener)
    assert isinstance(shortener.resolve(code, SAFARI), Redirect)
    assert seen == [(code, False)]
    assert shortener.get(code).visits == 2


def test_people_tracking_and_judged_links_never_take_it() -> None:
    assert _shortener(track_people=True)._hot_path is None
    judged = _shortener(check_url=lambda url: None, check_on_resolve=True)
    assert judged._hot_path is None
    assert _shortener(check_url=lambda url: None)._hot_path is not None


def test_a_request_on_a_short_domain_takes_the_full_path() -> None:
    shortener = Shortener("memory://", secret="s", domains=["go.example"])
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI, base_url="https://go.example")
    seen = _calls(shortener)
    assert isinstance(shortener.resolve(code, SAFARI, base_url="https://go.example"), Redirect)
    unknown = shortener.resolve(code, SAFARI, base_url="https://other.example")
    assert not isinstance(unknown, Redirect)
    assert seen == []  # domains configured: the request's host decides first


def test_visitor_ids_and_languages_are_remembered_within_bounds() -> None:
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    hot = shortener._hot
    assert hot is not None
    cells = {
        name: cell.cell_contents
        for name, cell in zip(hot.__code__.co_freevars, hot.__closure__ or (), strict=True)
    }
    ids, languages = cells["ids"], cells["languages"]
    for n in range(MAX_REMEMBERED + 10):
        visitor = Visitor(user_agent=SAFARI.user_agent, ip=f"10.0.{n // 256}.{n % 256}")
        shortener.resolve(code, visitor)
    assert 0 < len(ids) <= MAX_REMEMBERED
    assert len(languages) <= MAX_REMEMBERED
    # the remembered id is the one the keyed hash gives
    visits = list(shortener.storage.visits(code))
    n = MAX_REMEMBERED + 9
    last = Visitor(user_agent=SAFARI.user_agent, ip=f"10.0.{n // 256}.{n % 256}")
    assert visits[-1].visitor_id == shortener.visitor_id(last)
    assert shortener.get(code).visits == MAX_REMEMBERED + 11


def test_hooks_see_hot_path_visits() -> None:
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    got: list[Any] = []
    shortener.on("link.clicked", got.append)
    shortener.resolve(code, SAFARI)
    shortener.resolve(code, SAFARI)
    assert shortener.events.drain()
    assert [e.payload["code"] for e in got] == [code, code]
    shortener.close()
