"""``TracksPeople`` on every backend that claims it: the kept rows equal a fold of the
visits by hand, through single visits, group commit and restores; forgetting works."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink.backends import Storage
from suolink.backends.base import PeopleTotals, PersonRow, TracksPeople
from suolink.models import Link, Visit

from .conftest import Backend, claiming

#: Backends whose ``forget_visitor`` also takes the id off raw visits (docs/people.md).
SCRUBS_RAW_VISITS = ("memory", "sqlite")

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

#: (code, campaign, recipient) of the links every test makes.
LINKS = (
    ("a1", "spring", "m-1"),
    ("a2", "spring", "m-2"),
    ("a3", "spring", "m-1"),  # a second link for m-1
    ("b1", "autumn", "m-1"),
    ("c1", None, "m-9"),  # a recipient without campaign
    ("d1", "spring", None),  # a campaign link for nobody
    ("z1", None, None),  # not a people link: never counted
)


def _people(store: Storage) -> TracksPeople:
    assert isinstance(store, TracksPeople)
    return store


def _make_links(store: Storage) -> None:
    for code, campaign, recipient in LINKS:
        store.create(
            Link(code=code, url="https://example.com/", campaign=campaign, recipient=recipient)
        )


def _expected(
    visits: list[Visit], campaign: str | None
) -> tuple[list[PersonRow], list[PersonRow], PeopleTotals]:
    """The rows by hand: the definitions of docs/people.md, from the visit list."""
    meta = {code: (c, r) for code, c, r in LINKS}

    def in_scope(code: str) -> bool:
        c, r = meta[code]
        if c is None and r is None:
            return False
        return campaign is None or c == campaign

    clicks = [
        v
        for v in visits
        if in_scope(v.code) and v.outcome == "redirect" and not v.is_bot and v.visitor_id
    ]
    visitors: list[PersonRow] = []
    for who in {v.visitor_id for v in clicks}:
        mine = [v for v in clicks if v.visitor_id == who]
        visitors.append(
            PersonRow(
                str(who),
                len(mine),
                len({v.code for v in mine}),
                min(v.at for v in mine),
                max(v.at for v in mine),
            )
        )
    recipients: list[PersonRow] = []
    names = {r for code, c, r in LINKS if r is not None and (campaign is None or c == campaign)}
    for name in names:
        mine = [v for v in clicks if meta[v.code][1] == name]
        order = list(dict.fromkeys(v.visitor_id for v in mine))
        recipients.append(
            PersonRow(
                name,
                len(mine),
                len({v.code for v in mine}),
                min((v.at for v in mine), default=None),
                max((v.at for v in mine), default=None),
                reach=max(0, len(order) - 1),
                visitor=order[0] if order else None,
            )
        )

    def ranked(rows: list[PersonRow]) -> list[PersonRow]:
        return sorted(rows, key=lambda r: (-r.clicks, r.id))

    totals = PeopleTotals(
        recipients=len(recipients),
        clicks=sum(r.clicks for r in recipients),
        reach=sum(r.reach for r in recipients),
    )
    return ranked(visitors), ranked(recipients), totals


visit_strategy = st.tuples(
    st.sampled_from([code for code, _, _ in LINKS]),
    st.sampled_from(["v1", "v2", "v3", "v4", None]),
    st.sampled_from(["redirect", "redirect", "redirect", "guide", "bot"]),
    st.integers(min_value=0, max_value=10_000),
)


def _visit(code: str, who: str | None, outcome: str, minutes: int) -> Visit:
    return Visit(
        code=code,
        at=T0 + timedelta(minutes=minutes),
        visitor_id=who,
        outcome=outcome,
        is_bot=outcome == "bot",
    )


def _check(store: Storage, visits: list[Visit]) -> None:
    people = _people(store)
    for campaign in (None, "spring", "autumn", "winter"):
        visitors, recipients, totals = _expected(visits, campaign)
        assert people.top_visitors(campaign, limit=None) == visitors, campaign
        assert people.top_recipients(campaign, limit=None) == recipients, campaign
        assert people.top_recipients(campaign, limit=2) == recipients[:2], campaign
        assert people.top_recipients(campaign, limit=None, min_clicks=2) == [
            r for r in recipients if r.clicks >= 2
        ]
        assert people.people_totals(campaign) == totals, campaign
    assert set(people.campaigns()) == {"spring", "autumn"}


@claiming("tracks_people")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.lists(visit_strategy, max_size=40))
def test_kept_rows_equal_the_fold_by_hand(storage_factory: Any, raw: list[Any]) -> None:
    store = storage_factory()
    try:
        _make_links(store)
        visits = [_visit(*item) for item in raw]
        for visit in visits:
            store.record_visit(visit, count=visit.outcome == "redirect")
        # visits in time order define "first visitor": record them in that order
        _check(store, visits)
    finally:
        storage_factory.release(store)  # emptied for the next example, not a new store


@claiming("tracks_people")
def test_a_recipient_with_no_click_is_listed_and_counted_in_the_average(
    storage: Storage,
) -> None:
    _make_links(storage)
    people = _people(storage)
    rows = people.top_recipients("spring", limit=None)
    assert [(r.id, r.clicks, r.first_seen, r.visitor) for r in rows] == [
        ("m-1", 0, None, None),
        ("m-2", 0, None, None),
    ]
    storage.record_visit(_visit("a1", "v1", "redirect", 0))
    storage.record_visit(_visit("a1", "v2", "redirect", 1))
    storage.record_visit(_visit("a1", "v3", "redirect", 2))
    totals = people.people_totals("spring")
    assert totals == PeopleTotals(recipients=2, clicks=3, reach=2)
    assert totals.average_reach == 1.0
    assert people.people_totals("nothing-here") == PeopleTotals()


@claiming("tracks_people")
def test_forget_visitor(storage: Storage, backend: Backend) -> None:
    _make_links(storage)
    people = _people(storage)
    for i, who in enumerate(["own", "x", "y", "x"]):
        storage.record_visit(_visit("a1", who, "redirect", i))
    assert people.top_recipients("spring", limit=1)[0].reach == 2
    assert people.forget_visitor("x") is True
    row = people.top_recipients("spring", limit=1)[0]
    assert (row.id, row.clicks, row.reach, row.visitor) == ("m-1", 4, 1, "own")
    assert "x" not in {r.id for r in people.top_visitors(None, limit=None)}
    if backend.name in SCRUBS_RAW_VISITS:
        assert all(v.visitor_id != "x" for v in storage.visits("a1"))
    assert people.forget_visitor("own") is True
    row = people.top_recipients("spring", limit=1)[0]
    assert (row.reach, row.visitor) == (1, None)  # own forgotten: not counted as reach
    assert people.forget_visitor("never-seen") is False


@claiming("tracks_people")
def test_forget_recipient(storage: Storage) -> None:
    _make_links(storage)
    people = _people(storage)
    storage.record_visit(_visit("a1", "v1", "redirect", 0))
    assert people.forget_recipient("m-1") is True
    assert [r.id for r in people.top_recipients(None, limit=None)] == ["m-2", "m-9"]
    for code in ("a1", "a3", "b1"):
        link = storage.get(code)
        assert link is not None
        assert link.recipient is None
        assert link.campaign is not None
    # the visitor's own row is theirs, not the recipient's: it stays
    assert [r.id for r in people.top_visitors("spring", limit=None)] == ["v1"]
    assert people.forget_recipient("m-1") is False
    # later clicks on the links count for nobody's reach
    storage.record_visit(_visit("a1", "v2", "redirect", 1))
    assert "m-1" not in {r.id for r in people.top_recipients(None, limit=None)}


@claiming("tracks_people")
def test_deleting_a_link_keeps_the_people_counts(storage: Storage) -> None:
    _make_links(storage)
    people = _people(storage)
    storage.record_visit(_visit("a2", "v1", "redirect", 0))
    storage.delete("a2")
    rows = {r.id: r.clicks for r in people.top_recipients("spring", limit=None)}
    assert rows == {"m-2": 1, "m-1": 0}  # the deleted link's click still counts


@claiming("tracks_people")
def test_not_people_links_and_non_clicks_count_nothing(storage: Storage) -> None:
    _make_links(storage)
    people = _people(storage)
    storage.record_visit(_visit("z1", "v1", "redirect", 0))
    storage.record_visit(_visit("a1", "v1", "guide", 0), count=False)
    storage.record_visit(_visit("a1", "v1", "bot", 0), count=False)
    storage.record_visit(_visit("a1", None, "redirect", 0))
    assert people.top_visitors(None, limit=None) == []
    assert Counter(r.clicks for r in people.top_recipients(None, limit=None)) == {0: 3}


def test_claims_cover_the_memory_and_sqlite_rows() -> None:
    from .conftest import BACKENDS

    claimed = {row.name for row in BACKENDS if "tracks_people" in row.capabilities}
    assert {"memory", "sqlite"} <= claimed
    assert cast(Any, TracksPeople) is not None


def test_sqlite_group_commit_counts_people_in_the_batch(tmp_path: Any) -> None:
    """Visits written by group commit (background mode, many threads) count as one by one."""
    from concurrent.futures import ThreadPoolExecutor

    from suolink.backends import open_storage

    store = open_storage(f"sqlite:///{tmp_path / 'b.db'}?visits=background&batch_size=16")
    try:
        _make_links(store)
        visits = [
            _visit(code, f"v{i % 7}", "redirect", i)
            for i, code in enumerate(["a1", "a2", "a3", "b1", "c1", "d1", "z1"] * 30)
        ]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(store.record_visit, visits))
        store.close()
        store = open_storage(f"sqlite:///{tmp_path / 'b.db'}")
        people = _people(store)
        for campaign in (None, "spring"):
            _, recipients, totals = _expected(visits, campaign)
            got = people.top_recipients(campaign, limit=None)
            # order of arrival decides "own"; clicks, links and times do not depend on it
            assert [(r.id, r.clicks, r.links, r.first_seen, r.last_seen) for r in got] == [
                (r.id, r.clicks, r.links, r.first_seen, r.last_seen) for r in recipients
            ]
            assert people.people_totals(campaign).clicks == totals.clicks
    finally:
        store.close()


def test_sqlite_restore_many_counts_people(tmp_path: Any) -> None:
    from suolink.backends import open_storage
    from suolink.backends.sqlite import SQLiteStorage

    store = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        assert isinstance(store, SQLiteStorage)
        link = Link(code="a1", url="https://example.com/", campaign="spring", recipient="m-1")
        visits = [_visit("a1", who, "redirect", i) for i, who in enumerate(["v1", "v2", "v1"])]
        assert store.restore_many([(link, visits)]) == [True]
        row = store.top_recipients("spring", limit=1)[0]
        assert (row.clicks, row.reach, row.visitor) == (3, 1, "v1")
    finally:
        store.close()
