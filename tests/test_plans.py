"""Redirect plans (``suolink.plans``): the planned redirect of ``memory://`` answers and
records exactly what the full path does, and forgets a plan as soon as its link changes.

Each test runs twins: a Shortener on ``memory://`` (planned redirects) and one on the same
backend with the in-process capability hidden (every request takes the full path).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Visitor
from suolink.backends.base import HoldsLinksInProcess, StatsCounts, When
from suolink.backends.memory import MemoryStorage
from suolink.models import Conversion, Decision, Link, LinkPage, Visit, VisitResult
from suolink.plans import MAX_CLIENTS_PER_PLAN, RedirectPlans
from suolink.policy import BotAction
from suolink.shortener import Shortener
from tests.clients import ALL
from tests.conftest import FakeClock


class FullPathMemory:
    """``memory://`` without the in-process capability: the Shortener takes the full path."""

    url = "memory://"

    def __init__(self) -> None:
        self._inner = MemoryStorage()

    def create(self, link: Link) -> Link:
        return self._inner.create(link)

    def get(self, code: str) -> Link | None:
        return self._inner.get(code)

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        return self._inner.update(code, changes)

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        return self._inner.delete(code, tombstone=tombstone)

    def list(
        self, *, cursor: str | None = None, limit: int = 50, tag: str | None = None
    ) -> LinkPage:
        return self._inner.list(cursor=cursor, limit=limit, tag=tag)

    def next_id(self) -> int:
        return self._inner.next_id()

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        return self._inner.record_visit(visit, count=count)

    def visits(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Visit]:
        return self._inner.visits(code, since=since, until=until, limit=limit)

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        return self._inner.counts(code, since=since, until=until)

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        return self._inner.record_conversion(conversion)

    def conversions(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Conversion]:
        return self._inner.conversions(code, since=since, until=until, limit=limit)

    def check(self) -> None:
        self._inner.check()

    def close(self) -> None:
        self._inner.close()


VISITORS = [
    Visitor(user_agent=ALL["chrome_android"], ip="198.51.100.1", accept_language="zh-CN"),
    Visitor(
        user_agent=ALL["safari_iphone"],
        ip="203.0.113.7",
        referer="https://news.example.org/a?b=1",
        accept_language="en-GB,en;q=0.8",
    ),
    Visitor(user_agent=ALL["wechat_ios"], ip="203.0.113.9"),
    Visitor(user_agent=ALL["qq_android"], headers={"x-requested-with": "com.tencent.mobileqq"}),
    Visitor(user_agent=ALL["googlebot"], ip="66.249.66.1"),
    Visitor(user_agent=ALL["slack_preview"]),
    Visitor(user_agent=ALL["no_user_agent"]),
    Visitor(user_agent=ALL["chrome_android"], password="wrong"),
    Visitor(user_agent=ALL["safari_iphone"] + "\x00ü" * 600, ip="2001:db8::1", referer="http://["),
    Visitor(
        user_agent=ALL["chrome_android"],
        ip="198.51.100.2",
        query=(("ref", "a b"), ("sl_click", "forged"), ("continue", "1"), ("x", "9")),
    ),
]

#: Link settings the twins are made with, and changes ``update`` makes to them.
SETTINGS: list[dict[str, Any]] = [
    {},
    {"targets": {"ios": "https://apps.example/ios"}},
    {"anti_block_mode": "off"},
    {"allow": ["ios"]},
    {"deny": ["bot"]},
    {"max_visits": 2},
    {"password": "pw"},
    {"expires_at": "in 1 hour"},
    {"anti_block": ["android"]},
    {"forward_query": True},
    {"forward_click_id": True},
    {"utm": {"source": "wechat", "campaign": "spring"}},
]
CHANGES: list[dict[str, Any]] = [
    {"url": "https://example.com/changed"},
    {"disabled": True},
    {"disabled": False},
    {"max_visits": 1},
    {"max_visits": None},
    {"deny": ["ios"]},
    {"deny": []},
    {"anti_block_mode": "guide"},
    {"forward_query": True},
    {"forward_click_id": True},
    {"forward_query": None, "forward_click_id": False},
    {"utm": {"medium": "qr"}},
]


def _settings(choice: dict[str, Any], clock: FakeClock) -> dict[str, Any]:
    if choice.get("expires_at") == "in 1 hour":
        return {"expires_at": clock.now + timedelta(hours=1)}
    return choice


def _twins(clock: FakeClock, **options: Any) -> tuple[Shortener, Shortener]:
    common: dict[str, Any] = {"secret": "s", "base_url": "https://s.example", "clock": clock}
    planned = Shortener("memory://", **common, **options)
    full = Shortener(FullPathMemory(), **common, **options)  # type: ignore[arg-type]
    assert isinstance(planned.storage, HoldsLinksInProcess)
    assert not isinstance(full.storage, HoldsLinksInProcess)
    return planned, full


def _same_answer(a: Decision, b: Decision) -> None:
    assert (type(a), a.status, a.reason) == (type(b), b.status, b.reason)
    if a.status in (301, 302, 303, 307, 308):
        assert a.headers == b.headers


def _same_records(planned: Shortener, full: Shortener, code: str) -> None:
    a, b = planned.get(code), full.get(code)
    assert a.visits == b.visits
    assert list(planned.storage.visits(code)) == list(full.storage.visits(code))
    assert planned.stats(code) == full.stats(code)


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("visit"), st.integers(0, len(VISITORS) - 1), st.booleans()),
        st.tuples(st.just("update"), st.integers(0, len(CHANGES) - 1), st.just(False)),
        st.tuples(st.just("wait"), st.integers(1, 90), st.just(False)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    choice=st.integers(0, len(SETTINGS) - 1),
    bot_action=st.sampled_from(list(BotAction)),
    steps=STEPS,
)
def test_planned_redirects_answer_and_record_as_the_full_path(
    choice: int, bot_action: BotAction, steps: list[tuple[str, int, bool]]
) -> None:
    clock = FakeClock()
    planned, full = _twins(clock, bot_action=bot_action)
    made = _settings(SETTINGS[choice], clock)
    code = planned.shorten("https://example.com/x", **made).code
    assert full.shorten("https://example.com/x", code=code, **made).code == code
    for kind, n, head in steps:
        if kind == "visit":
            visitor = VISITORS[n]
            a = planned.resolve(code, visitor, record=not head)
            b = full.resolve(code, visitor, record=not head)
            _same_answer(a, b)
        elif kind == "update":
            a_link, b_link = planned.update(code, **CHANGES[n]), full.update(code, **CHANGES[n])
            assert replace(a_link, password_hash=None) == replace(b_link, password_hash=None)
        else:
            clock.advance(minutes=n)
    _same_records(planned, full, code)


def test_a_changed_link_is_redirected_by_its_new_settings() -> None:
    clock = FakeClock()
    planned, _ = _twins(clock)
    chrome = VISITORS[0]
    code = planned.shorten("https://example.com/old").code
    assert planned.resolve(code, chrome).headers[0] == ("Location", "https://example.com/old")
    planned.update(code, url="https://example.com/new")
    assert planned.resolve(code, chrome).headers[0] == ("Location", "https://example.com/new")
    planned.update(code, password="pw")
    assert planned.resolve(code, chrome).status == 401
    planned.update(code, password=None, disabled=True)
    assert planned.resolve(code, chrome).status == 404
    planned.update(code, disabled=False, expires_at=clock.now + timedelta(seconds=1))
    assert planned.resolve(code, chrome).status == 302
    clock.advance(seconds=1)
    assert planned.resolve(code, chrome).status == 410
    assert planned.delete(code)
    assert planned.resolve(code, chrome).status == 404
    assert planned.get  # the deleted code stays retired: nothing to redirect to


def test_a_code_reused_after_delete_gets_a_new_plan() -> None:
    clock = FakeClock()
    planned = Shortener("memory://", secret="s", clock=clock, reuse_deleted_codes=True)
    chrome = VISITORS[0]
    planned.shorten("https://example.com/first", code="again")
    assert planned.resolve("again", chrome).headers[0][1] == "https://example.com/first"
    planned.delete("again")
    planned.shorten("https://example.com/second", code="again")
    assert planned.resolve("again", chrome).headers[0][1] == "https://example.com/second"
    assert planned.get("again").visits == 1
    assert [v.outcome for v in planned.visits("again")] == ["redirect"]


def test_a_clock_outside_utc_takes_the_full_path() -> None:
    """Only visits stamped in UTC are appended unchecked; any other clock's are checked."""
    from datetime import timezone

    east = FakeClock(FakeClock().now.astimezone(timezone(timedelta(hours=8))))
    shortener = Shortener("memory://", secret="s", clock=east)
    code = shortener.shorten("https://example.com/").code
    assert shortener.resolve(code, VISITORS[0]).status == 302
    (visit,) = shortener.visits(code)
    assert visit.at == east.now


def test_plans_keep_few_clients_per_link_and_still_answer_the_rest() -> None:
    clock = FakeClock()
    plans = RedirectPlans(
        check_code=lambda code: code, redirect_status=302, bot_action=BotAction.REDIRECT
    )
    link = Link(code="c", url="https://example.com/")
    from suolink.detect import Detector

    clients = [
        Detector(cache_size=0).detect(f"Mozilla/5.0 (Windows NT 10.0) Chrome/{n}.0 Safari/537.36")
        for n in range(MAX_CLIENTS_PER_PLAN + 5)
    ]
    answers = [plans.answer(link, client, clock.now) for client in clients]
    assert all(a is not None and a.decision.status == 302 for a in answers)
    assert plans.answer(link, clients[0], clock.now) is answers[0]  # kept
    assert plans.answer(link, clients[-1], clock.now) is not answers[-1]  # answered afresh


@pytest.mark.parametrize(
    "settings_",
    [{"max_visits": 3}, {"password_hash": "x"}, {"disabled": True}],
    ids=["limited", "password", "disabled"],
)
def test_links_whose_answer_needs_more_than_the_client_are_not_planned(
    settings_: dict[str, Any],
) -> None:
    plans = RedirectPlans(
        check_code=lambda code: code, redirect_status=302, bot_action=BotAction.REDIRECT
    )
    link = Link(code="c", url="https://example.com/", **settings_)
    from suolink.detect import detect

    assert plans.answer(link, detect(ALL["chrome_android"]), FakeClock().now) is None


@pytest.mark.parametrize(
    ("settings", "defaults"),
    [
        ({"forward_query": True}, {}),
        ({"forward_click_id": True}, {}),
        ({}, {"forward_query": True}),
        ({}, {"forward_click_id": True}),
    ],
)
def test_links_that_forward_are_never_planned(
    settings: dict[str, Any], defaults: dict[str, bool]
) -> None:
    plans = RedirectPlans(
        check_code=str, redirect_status=302, bot_action=BotAction.REDIRECT, **defaults
    )
    link = Link(code="abc", url="https://example.com/", **settings)
    assert plans._plan(link) is None
    assert plans._plan(replace(link, forward_query=False, forward_click_id=False)) is not None
