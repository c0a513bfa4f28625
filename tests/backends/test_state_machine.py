"""Each backend against a plain dict model: any sequence of calls must agree with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from suolink.backends import Storage
from suolink.backends.base import RecordsConversions
from suolink.errors import CodeTaken, LinkNotFound
from suolink.models import Conversion, Link, Visit

from .conftest import BACKENDS, StoreFactory

CODES = st.sampled_from(["a", "b", "B", "ab", "é", "码", "a-b_c"])
TAGS = st.sampled_from(["x", "y", "标签"])
BASE = datetime(2030, 1, 1, tzinfo=UTC)
# Few instants, written in several zones, so ties and "same instant, other offset" happen.
MOMENTS = st.builds(
    lambda minutes, hours: (BASE + timedelta(minutes=minutes)).astimezone(
        timezone(timedelta(hours=hours))
    ),
    st.integers(0, 4),
    st.sampled_from([0, 8, -5]),
)
MAX_VISITS = st.none() | st.integers(0, 3)
CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["https://x.example/", "https://例子.cn/新"]),
        "tags": st.lists(TAGS, max_size=3).map(tuple),
        "max_visits": MAX_VISITS,
        # NUL and lone surrogates are refused by every backend (tested in the contract
        # suite), so not drawn here.
        "title": st.none()
        | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=5),
        "disabled": st.booleans(),
        "expires_at": st.none() | MOMENTS,
    },
)


class StorageMachine(RuleBasedStateMachine):
    """Drives one fresh store and a dict model side by side."""

    make_storage: Callable[[], Storage]

    def __init__(self) -> None:
        super().__init__()
        self.storage = type(self).make_storage()
        self.links: dict[str, Link] = {}
        self.visits: dict[str, list[Visit]] = {}
        self.last_id = 0
        self.ids: set[int] = set()
        self.tombstones: set[str] = set()
        #: code -> (click id, kind) -> the conversion stored, in the order stored
        self.conversions: dict[str, dict[tuple[str, str], Conversion]] = {}
        self.converts = isinstance(self.storage, RecordsConversions)

    def teardown(self) -> None:
        release = getattr(type(self).make_storage, "release", None)
        if release is not None:  # the store goes back to the factory, to be reused
            release(self.storage)
        else:
            self.storage.close()

    @rule(
        code=CODES,
        at=MOMENTS,
        tags=st.lists(TAGS, max_size=3).map(tuple),
        max_visits=MAX_VISITS,
    )
    def create(
        self, code: str, at: datetime, tags: tuple[str, ...], max_visits: int | None
    ) -> None:
        link = Link(
            code=code, url=f"https://e.com/{code}", created_at=at, tags=tags, max_visits=max_visits
        )
        if code in self.links or code in self.tombstones:
            with pytest.raises(CodeTaken):
                self.storage.create(link)
            return
        assert self.storage.create(link) == link
        self.links[code] = link
        self.visits[code] = []

    @rule(code=CODES)
    def get(self, code: str) -> None:
        assert self.storage.get(code) == self.links.get(code)

    @rule(code=CODES, changes=CHANGES)
    def update(self, code: str, changes: dict[str, Any]) -> None:
        if code not in self.links:
            with pytest.raises(LinkNotFound):
                self.storage.update(code, changes)
            return
        expected = self.links[code].with_changes(changes)
        assert self.storage.update(code, changes) == expected
        self.links[code] = expected

    @rule(code=CODES, tombstone=st.booleans())
    def delete(self, code: str, tombstone: bool) -> None:
        assert self.storage.delete(code, tombstone=tombstone) is (code in self.links)
        if tombstone and code in self.links:
            self.tombstones.add(code)
        self.links.pop(code, None)
        self.visits.pop(code, None)
        self.conversions.pop(code, None)

    @rule(code=CODES, at=MOMENTS, count=st.booleans(), bot=st.booleans())
    def record_visit(self, code: str, at: datetime, count: bool, bot: bool) -> None:
        visit = Visit(code=code, at=at, is_bot=bot, user_agent="ua")
        if code not in self.links:
            with pytest.raises(LinkNotFound):
                self.storage.record_visit(visit, count=count)
            return
        link = self.links[code]
        allowed = not count or link.max_visits is None or link.visits < link.max_visits
        result = self.storage.record_visit(visit, count=count)
        if allowed:
            self.visits[code].append(visit)
            if count:
                link = replace(link, visits=link.visits + 1)
                self.links[code] = link
        assert (result.allowed, result.visits) == (allowed, link.visits)

    @rule(limit=st.integers(1, 4), tag=st.none() | TAGS)
    def list_everything(self, limit: int, tag: str | None) -> None:
        expected = sorted(
            (link for link in self.links.values() if tag is None or tag in link.tags),
            key=lambda link: (link.created_at, link.code),
            reverse=True,
        )
        got: list[Link] = []
        cursor = None
        while True:
            page = self.storage.list(cursor=cursor, limit=limit, tag=tag)
            assert len(page.links) <= limit
            start = len(got)
            got.extend(page.links)
            assert got == expected[: len(got)]
            assert (page.next_cursor is None) == (len(got) == len(expected))
            assert page.links or start == 0
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert got == expected

    @rule(
        code=CODES,
        since=st.none() | MOMENTS,
        until=st.none() | MOMENTS,
        limit=st.none() | st.integers(1, 5),
    )
    def read_visits(
        self, code: str, since: datetime | None, until: datetime | None, limit: int | None
    ) -> None:
        recorded = self.visits.get(code, [])
        order = sorted(range(len(recorded)), key=lambda i: (recorded[i].at, i))
        expected = [
            recorded[i]
            for i in order
            if (since is None or recorded[i].at >= since)
            and (until is None or recorded[i].at < until)
        ]
        if limit is not None:
            expected = expected[:limit]
        assert list(self.storage.visits(code, since=since, until=until, limit=limit)) == expected

    @rule(
        code=CODES,
        click=st.sampled_from(["c1", "c2", "链"]),
        kind=st.sampled_from(["lead", "sale"]),
        at=MOMENTS,
        value=st.none() | st.sampled_from([Decimal("0"), Decimal("19.99"), Decimal("1E+2")]),
    )
    def record_conversion(
        self, code: str, click: str, kind: str, at: datetime, value: Decimal | None
    ) -> None:
        if not self.converts:
            return
        assert isinstance(self.storage, RecordsConversions)
        conversion = Conversion(
            click_id=click,
            code=code,
            kind=kind,
            at=at,
            clicked_at=BASE,
            value=value,
            currency=None if value is None else "CNY",
        )
        if code not in self.links:
            with pytest.raises(LinkNotFound):
                self.storage.record_conversion(conversion)
            return
        kept = self.conversions.setdefault(code, {})
        first = kept.get((click, kind))
        got = self.storage.record_conversion(conversion)
        if first is None:
            assert got == (conversion, True)
            kept[click, kind] = conversion
        else:
            assert got == (first, False)

    @rule(
        code=CODES,
        since=st.none() | MOMENTS,
        until=st.none() | MOMENTS,
        limit=st.none() | st.integers(1, 3),
    )
    def read_conversions(
        self, code: str, since: datetime | None, until: datetime | None, limit: int | None
    ) -> None:
        if not self.converts:
            return
        assert isinstance(self.storage, RecordsConversions)
        stored = list(self.conversions.get(code, {}).values())
        order = sorted(range(len(stored)), key=lambda i: (stored[i].at, i))
        expected = [
            stored[i]
            for i in order
            if (since is None or stored[i].at >= since) and (until is None or stored[i].at < until)
        ]
        if limit is not None:
            expected = expected[:limit]
        got = list(self.storage.conversions(code, since=since, until=until, limit=limit))
        assert got == expected

    @rule()
    def next_id(self) -> None:
        value = self.storage.next_id()
        assert value > self.last_id
        assert value not in self.ids
        self.ids.add(value)
        self.last_id = value

    @invariant()
    def counts_agree(self) -> None:
        for code, link in self.links.items():
            stored = self.storage.get(code)
            assert stored is not None
            assert stored.visits == link.visits


#: Rows whose every step is a round trip to a server (a few ms each on a busy machine):
#: half the examples there. The in-process rows (memory, SQLite, Django on SQLite) run
#: the same machine at full size.
ON_A_SERVER = {"redis", "redis-cluster", "postgresql", "django-postgres", "mariadb"}


def test_backend_agrees_with_the_dict_model(storage_factory: StoreFactory) -> None:
    machine = type("Machine", (StorageMachine,), {"make_storage": staticmethod(storage_factory)})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30 if storage_factory.backend.name in ON_A_SERVER else 60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_the_server_rows_are_rows_of_the_table() -> None:
    assert {row.name for row in BACKENDS} >= ON_A_SERVER
    assert {"memory", "sqlite", "django"}.isdisjoint(ON_A_SERVER)
