"""The hot redirect (``suolink.hotpath``): it answers ordinary redirects with the visit the
full path would record, and steps aside (nothing recorded) for everything else.

``tests/test_plans.py`` runs twins (planned and full path) through random settings,
changes and visitors; here are the hot path's own switches and caches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Visitor
from suolink.geoip import NOWHERE, Place
from suolink.hotpath import MAX_REMEMBERED
from suolink.models import Redirect, utcnow
from suolink.shortener import Shortener
from tests.clients import ALL
from tests.conftest import FakeClock
from tests.test_plans import FullPathMemory, _same_answer

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


def _cells(function: Any) -> dict[str, Any]:
    return {
        name: cell.cell_contents
        for name, cell in zip(
            function.__code__.co_freevars, function.__closure__ or (), strict=True
        )
    }


def test_requests_are_remembered_within_bounds() -> None:
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    hot = shortener._hot
    assert hot is not None
    cells = _cells(hot)
    remembered = cells["known"].__self__  # the dict of requests, read through its ``get``
    languages = _cells(cells["seen_of"])["languages"]
    for n in range(MAX_REMEMBERED + 10):
        visitor = Visitor(user_agent=SAFARI.user_agent, ip=f"10.0.{n // 256}.{n % 256}")
        shortener.resolve(code, visitor)
    assert 0 < len(remembered) <= MAX_REMEMBERED
    assert len(languages) <= MAX_REMEMBERED
    # the remembered id is the one the keyed hash gives
    visits = list(shortener.storage.visits(code))
    n = MAX_REMEMBERED + 9
    last = Visitor(user_agent=SAFARI.user_agent, ip=f"10.0.{n // 256}.{n % 256}")
    assert visits[-1].visitor_id == shortener.visitor_id(last)
    assert shortener.resolve(code, last).status == 302  # remembered: the same id again
    assert list(shortener.storage.visits(code))[-1].visitor_id == visits[-1].visitor_id
    assert shortener.get(code).visits == MAX_REMEMBERED + 12
    # a huge header is answered and recorded, not remembered
    remembered.clear()
    huge = Visitor(user_agent=SAFARI.user_agent, referer="https://a.example/" + "x" * 5000)
    assert shortener.resolve(code, huge).status == 302
    assert remembered == {}
    assert list(shortener.storage.visits(code))[-1].referer == "a.example"


def test_a_visitor_with_fields_that_are_not_text_takes_the_full_path() -> None:
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    seen = _calls(shortener)
    odd = Visitor(user_agent=SAFARI.user_agent, accept_language=None)  # type: ignore[arg-type]
    assert isinstance(shortener.resolve(code, odd), Redirect)
    unhashable = Visitor(user_agent=SAFARI.user_agent, ip=["10.0.0.1"])  # type: ignore[arg-type]
    assert isinstance(shortener.resolve(code, unhashable), Redirect)
    assert seen == [(code, False), (code, False)]
    assert shortener.get(code).visits == 3


def test_default_clock_visits_carry_the_time_they_were_made() -> None:
    """memory:// keeps a hot visit's time as integer nanoseconds until it is read."""
    shortener = _shortener()
    code = shortener.shorten("https://example.com/a").code
    before = utcnow()
    for _ in range(5):
        shortener.resolve(code, SAFARI)
    after = utcnow()
    moments = [v.at for v in shortener.storage.visits(code)]
    assert len(moments) == 5
    assert all(m.tzinfo is UTC for m in moments)
    assert moments == sorted(moments)
    assert before <= moments[0]
    assert moments[-1] <= after
    assert sum(shortener.stats(code).by_day.values()) == 5  # folded into its days


def test_a_link_changed_while_its_redirect_is_made_records_nothing_stale() -> None:
    """The plan's link is checked again under the store's lock before the visit goes in."""
    shortener: Shortener

    class Deleting:
        armed = False

        def lookup(self, ip: str | None) -> Place:
            if self.armed:  # between the plan and the append
                self.armed = False
                shortener.update(code, url="https://example.com/changed")
            return NOWHERE

    finder = Deleting()
    shortener = _shortener(geoip_db=finder)
    code = shortener.shorten("https://example.com/a").code
    shortener.resolve(code, SAFARI)
    finder.armed = True
    seen = _calls(shortener)
    answer = shortener.resolve(code, SAFARI)
    assert seen == [(code, False)]  # stepped aside, nothing recorded …
    assert isinstance(answer, Redirect)
    assert answer.location == "https://example.com/changed"  # … the full path answered
    assert shortener.get(code).visits == 2
    assert len(list(shortener.storage.visits(code))) == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    visits=st.lists(
        st.builds(
            Visitor,
            user_agent=st.sampled_from(sorted(ALL.values())) | st.text(max_size=40),
            ip=st.none() | st.sampled_from(["203.0.113.7", "2001:db8::1", "x\x00"]),
            accept_language=st.sampled_from(["", "zh-CN", "en-GB,en;q=0.8", "fr"]),
            referer=st.none() | st.sampled_from(["https://a.example/x", "http://[", "\ud800"]),
        ),
        max_size=12,
    ),
    store_ip=st.booleans(),
)
def test_default_clock_visits_match_the_full_path(visits: list[Visitor], store_ip: bool) -> None:
    """Twins on the real clock: the hot path records what the full path does (but the time)."""
    planned = Shortener("memory://", secret="s", store_ip=store_ip)
    full = Shortener(FullPathMemory(), secret="s", store_ip=store_ip)  # type: ignore[arg-type]
    code = planned.shorten("https://example.com/x").code
    full.shorten("https://example.com/x", code=code)
    for visitor in visits + visits:  # each request twice: remembered the second time
        _same_answer(planned.resolve(code, visitor), full.resolve(code, visitor))
    assert planned.get(code).visits == full.get(code).visits
    mine = [v.to_dict() | {"at": None} for v in planned.storage.visits(code)]
    theirs = [v.to_dict() | {"at": None} for v in full.storage.visits(code)]
    assert mine == theirs


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
