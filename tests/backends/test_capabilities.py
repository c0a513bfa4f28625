"""The optional capabilities: each backend has exactly the ones its row claims, and each
capability keeps its promise on every backend that claims it (see ``CAPABILITIES``).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink.backends import Storage
from suolink.backends.base import (
    CAPABILITIES,
    HoldsLinksInProcess,
    KeepsAggregates,
    RecordsInOneTrip,
    RestoresInBatches,
    SharesRateLimits,
    StatsCounts,
)
from suolink.errors import InvalidOption
from suolink.models import AntiBlockMode, Link, Visit
from suolink.stats import aggregate, from_counts, link_stats

from .conftest import BACKENDS, Backend, StoreFactory, claiming

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------ claims


def test_every_claim_names_a_known_capability() -> None:
    for row in BACKENDS:
        assert row.capabilities <= CAPABILITIES.keys(), row.name


def test_every_capability_is_claimed_by_a_backend_in_the_table() -> None:
    claimed = set().union(*(row.capabilities for row in BACKENDS))
    assert claimed == CAPABILITIES.keys()  # else its contract tests would run nowhere


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_a_backend_has_exactly_the_capabilities_it_claims(
    backend: Backend, storage: Storage, capability: str
) -> None:
    protocol = CAPABILITIES[capability]
    assert isinstance(storage, protocol) == (capability in backend.capabilities)


CLAIMS = [
    pytest.param(row, capability, id=f"{row.name}-{capability}", marks=row.marks)
    for row in BACKENDS
    for capability in sorted(row.capabilities)
]


@pytest.mark.parametrize(("backend", "capability"), CLAIMS, indirect=["backend"])
def test_claimed_members_have_the_protocol_signature(storage: Storage, capability: str) -> None:
    protocol = CAPABILITIES[capability]
    members = {k: v for k, v in vars(protocol).items() if not k.startswith("_")}
    assert members
    for name, member in members.items():
        implementation = inspect.getattr_static(type(storage), name)
        assert inspect.getdoc(implementation), f"{name} says why in a docstring"
        if isinstance(member, property):
            assert isinstance(implementation, property), f"{name} is a property"
            continue
        got, want = inspect.signature(implementation), inspect.signature(member)
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()
        ], name


# ------------------------------------------------------------------ records_in_one_trip


def _link(code: str, **settings: Any) -> Link:
    return Link(code=code, url=f"https://example.com/{code}", created_at=T0, **settings)


def _visit(code: str, at: datetime = T0, **fields: Any) -> Visit:
    return Visit(code=code, at=at, user_agent="Mozilla/5.0 test", app="chrome", **fields)


#: Links a setting could refuse some visitor of: the one trip must leave them alone.
COULD_REFUSE: dict[str, dict[str, Any]] = {
    "disabled": {"disabled": True},
    "expired-exactly-now": {"expires_at": T0},
    "expired-before": {"expires_at": T0 - timedelta(days=1)},
    "password": {"password_hash": "pbkdf2_sha256$1$salt$hash"},
    "allow": {"allow": frozenset({"ios"})},
    "allow-everyone-listed": {"allow": frozenset({"human", "crawler", "preview"})},
    "deny": {"deny": frozenset({"bot"})},
    "anti-block-apps": {"anti_block": frozenset({"telegram"})},
    "anti-block-auto": {"anti_block": frozenset({"qq"}), "anti_block_mode": AntiBlockMode.AUTO},
}

#: Links no setting refuses anyone the one trip is tried for: it must record on them.
OPEN: dict[str, dict[str, Any]] = {
    "plain": {},
    "limited": {"max_visits": 5},
    "expires-later": {"expires_at": T0 + timedelta(microseconds=1)},
    "anti-block-preset": {"anti_block_mode": AntiBlockMode.AUTO},
    "anti-block-off": {"anti_block": frozenset({"qq"}), "anti_block_mode": AntiBlockMode.OFF},
    "targets-and-tags": {
        "targets": (("ios", "https://apps.example/x"),),
        "tags": ("t",),
        "title": "标题",
        "language": "zh-CN",
    },
}


def _one_trip(storage: Storage) -> RecordsInOneTrip:
    assert isinstance(storage, RecordsInOneTrip)
    return storage


@claiming("records_in_one_trip")
def test_one_trip_for_no_link_records_nothing(storage: Storage) -> None:
    assert _one_trip(storage).get_and_record(_visit("nobody")) == (None, None)
    assert _one_trip(storage).get_and_record(_visit("nobody"), count=False) == (None, None)
    assert storage.get("nobody") is None
    assert list(storage.visits("nobody")) == []


@claiming("records_in_one_trip")
@pytest.mark.parametrize("name", sorted(COULD_REFUSE))
def test_one_trip_leaves_a_link_a_setting_could_refuse(storage: Storage, name: str) -> None:
    stored = storage.create(_link("closed", max_visits=3, **COULD_REFUSE[name]))
    for count in (True, False):
        link, result = _one_trip(storage).get_and_record(_visit("closed"), count=count)
        assert (link, result) == (stored, None)
    assert storage.get("closed") == stored  # visits still 0
    assert list(storage.visits("closed")) == []


@claiming("records_in_one_trip")
@pytest.mark.parametrize("name", sorted(OPEN))
def test_one_trip_records_an_open_link_as_record_visit_would(storage: Storage, name: str) -> None:
    """Twin links with the same settings: one visited in one trip, one by ``record_visit``."""
    one_trip = _one_trip(storage)
    fast = storage.create(_link("fast", **OPEN[name]))
    storage.create(_link("slow", **OPEN[name]))
    visits = [
        _visit("", T0 - timedelta(hours=1), os="ios", device="mobile"),
        _visit("", T0 - timedelta(minutes=1), is_bot=True, outcome="bot"),
        _visit("", T0 - timedelta(seconds=1), visitor_id="abc", language="zh-CN"),
    ]
    for i, template in enumerate(visits):
        count = not template.is_bot
        link, result = one_trip.get_and_record(replace(template, code="fast"), count=count)
        expected = storage.record_visit(replace(template, code="slow"), count=count)
        assert result == expected, i
        assert link is not None
        assert link.visits == expected.visits
        assert link == storage.get("fast")
        assert replace(link, visits=0) == fast
    assert [replace(v, code="") for v in storage.visits("fast")] == [
        replace(v, code="") for v in storage.visits("slow")
    ]


@claiming("records_in_one_trip")
def test_one_trip_honours_max_visits(storage: Storage) -> None:
    one_trip = _one_trip(storage)
    storage.create(_link("few", max_visits=2))
    answers = [one_trip.get_and_record(_visit("few")) for _ in range(3)]
    results = [result for _, result in answers]
    assert [(r.allowed, r.visits) for r in results if r is not None] == [
        (True, 1),
        (True, 2),
        (False, 2),
    ]
    assert [link.visits for link, _ in answers if link is not None] == [1, 2, 2]
    assert len(list(storage.visits("few"))) == 2  # the refused one is not recorded
    # Uncounted visits (bots, previews) are recorded but neither counted nor limited.
    link, result = one_trip.get_and_record(_visit("few", is_bot=True), count=False)
    assert result is not None
    assert result.allowed
    assert (result.visits, getattr(link, "visits", None)) == (2, 2)
    assert len(list(storage.visits("few"))) == 3


@claiming("records_in_one_trip")
def test_one_trip_sees_settings_changed_by_update(storage: Storage) -> None:
    """The backend's idea of "could refuse" follows ``update`` both ways."""
    one_trip = _one_trip(storage)
    storage.create(_link("u"))
    for changes, recorded in [
        ({"password_hash": "pbkdf2_sha256$1$s$h"}, False),
        ({"password_hash": None}, True),
        ({"deny": frozenset({"qq"})}, False),
        ({"deny": frozenset()}, True),
        ({"expires_at": T0}, False),
        ({"expires_at": None}, True),
        ({"disabled": True}, False),
        ({"disabled": False}, True),
        ({"anti_block": frozenset({"line"})}, False),
        ({"anti_block_mode": AntiBlockMode.OFF}, True),
    ]:
        storage.update("u", changes)
        _, result = one_trip.get_and_record(_visit("u"))
        assert (result is not None) == recorded, changes


# ------------------------------------------------------------------ holds_links_in_process


def _in_process(storage: Storage) -> HoldsLinksInProcess:
    assert isinstance(storage, HoldsLinksInProcess)
    return storage


@claiming("holds_links_in_process")
def test_peek_is_the_same_object_until_the_link_changes(storage: Storage) -> None:
    held = _in_process(storage)
    assert held.peek("p") is None
    stored = storage.create(_link("p", title="one"))
    first = held.peek("p")
    assert first == stored
    storage.record_visit(_visit("p"))
    assert held.peek("p") is first  # a visit is not a change of the link
    storage.update("p", {"title": "two"})
    second = held.peek("p")
    assert second is not first
    assert second is not None
    assert second.title == "two"
    storage.delete("p", tombstone=False)
    assert held.peek("p") is None
    storage.create(_link("p"))
    assert held.peek("p") not in (None, first, second)


@claiming("holds_links_in_process")
@pytest.mark.parametrize("count", [True, False])
def test_append_visit_records_as_record_visit_would(storage: Storage, count: bool) -> None:
    """Twin links: visits appended as records and recorded as ``Visit`` read back equal."""
    held = _in_process(storage)
    storage.create(_link("fast", max_visits=2))
    storage.create(_link("slow", max_visits=2))
    templates = [
        _visit("", T0 + timedelta(hours=1), os="ios", device="mobile", visitor_id="v1"),
        _visit("", T0, referer="example.org", language="zh-CN", visitor_id="v2"),
        _visit("", T0 + timedelta(days=1), is_bot=True, outcome="bot"),
    ]
    for template in templates:
        recorded = held.append_visit(replace(template, code="fast").to_record(), count=count)
        expected = storage.record_visit(replace(template, code="slow"), count=count)
        assert recorded is expected.allowed
    fast_link, slow_link = storage.get("fast"), storage.get("slow")
    assert fast_link is not None
    assert slow_link is not None
    assert fast_link.visits == slow_link.visits == (2 if count else 0)
    assert [replace(v, code="") for v in storage.visits("fast")] == [
        replace(v, code="") for v in storage.visits("slow")
    ]
    assert isinstance(storage, KeepsAggregates)
    fast, slow = storage.counts("fast"), storage.counts("slow")
    assert fast == slow
    assert fast is not None
    assert sum(fast.by_day.values()) == (2 if count else 3)


@claiming("holds_links_in_process")
def test_append_visit_to_no_link_records_nothing(storage: Storage) -> None:
    held = _in_process(storage)
    assert held.append_visit(_visit("gone").to_record()) is None
    storage.create(_link("gone"))
    assert held.append_visit(_visit("gone").to_record()) is True
    assert storage.delete("gone", tombstone=False)
    assert held.append_visit(_visit("gone").to_record()) is None
    storage.create(_link("gone"))  # the code again: the old link's visits are not its own
    assert list(storage.visits("gone")) == []
    assert storage.get("gone").visits == 0  # type: ignore[union-attr]


# ------------------------------------------------------------------ keeps_aggregates


def _counts(storage: Storage) -> KeepsAggregates:
    assert isinstance(storage, KeepsAggregates)
    return storage


_ZONES = [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5, minutes=30))]
_MOMENTS = st.builds(
    lambda day, micros, zone: (
        datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=day, microseconds=micros)
    ).astimezone(zone),
    st.integers(0, 4),
    st.sampled_from([0, 1, 3_600_000_000, 86_399_999_999]) | st.integers(0, 86_399_999_999),
    st.sampled_from(_ZONES),
)
_SOME = st.sampled_from(["wechat", "qq", "ios", "x", "微信", ""]) | st.none()
VISITS = st.lists(
    st.builds(
        Visit,
        code=st.sampled_from(["a", "b"]),
        at=_MOMENTS,
        ip=st.sampled_from(["1.2.3.4", "::1", ""]) | st.none(),
        user_agent=st.sampled_from(["UA one", "UA two", ""]),
        referer=_SOME,
        app=_SOME,
        os=_SOME,
        device=_SOME,
        is_bot=st.booleans(),
        visitor_id=st.sampled_from(["v1", "v2", "v3", "访客", ""]) | st.none(),
        browser=_SOME,
        outcome=st.sampled_from(["redirect", "guide", "bot", "preview"]),
    ),
    max_size=40,
)
_DAYS = st.none() | st.integers(0, 5).map(
    lambda n: datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=n)
)
_FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _windows(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"since": since, "until": until}


@claiming("keeps_aggregates")
@_FEW
@given(visits=VISITS, since=_DAYS, until=_DAYS)
def test_stats_from_counts_equal_stats_from_raw_visits(
    storage_factory: StoreFactory,
    visits: list[Visit],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Generated visit sets: the kept counts fold to exactly what the raw visits do."""
    storage = storage_factory()
    try:
        for code in ("a", "b"):
            storage.create(_link(code))
        for visit in visits:
            storage.record_visit(visit, count=not visit.is_bot)
        window = _windows(since, until)
        for code in ("a", "b"):
            raw = aggregate(code, storage.visits(code, **window))
            assert link_stats(storage, code, **window) == raw
            days = {k: None if v is None else v.date() for k, v in window.items()}
            counts = _counts(storage).counts(code, **days)
            assert counts is not None  # every visit of these links was counted
            assert from_counts(code, counts) == raw
    finally:
        # The store goes back to the factory: the next example's is this one, emptied,
        # not a new one migrated from scratch (0.3 s on the SQL rows).
        storage_factory.release(storage)


@claiming("keeps_aggregates")
def test_counts_of_no_link_are_empty_and_deleting_forgets_them(storage: Storage) -> None:
    kept = _counts(storage)
    assert kept.counts("nobody") == StatsCounts()
    assert kept.counts("\ud800") == StatsCounts()
    storage.create(_link("gone"))
    storage.record_visit(_visit("gone", visitor_id="v", referer="ref.example"))
    assert getattr(kept.counts("gone"), "unique_visitors", None) == 1
    assert storage.delete("gone", tombstone=False)  # free the code to create it anew
    storage.create(_link("gone"))
    assert kept.counts("gone") == StatsCounts()


@claiming("keeps_aggregates")
def test_counts_rank_many_visitors_and_keep_only_the_top_ten(storage: Storage) -> None:
    storage.create(_link("many"))
    for i in range(14):
        for _ in range(i % 3 + 1):
            storage.record_visit(_visit("many", visitor_id=f"v{i:02d}"))
    counts = _counts(storage).counts("many")
    assert counts is not None
    assert counts.unique_visitors == 14
    assert counts.top_visitors == aggregate("many", storage.visits("many")).top_visitors
    assert [n for _, n in counts.top_visitors] == [3] * 4 + [2] * 5 + [1]


# ------------------------------------------------------------------ shares_rate_limits


@claiming("shares_rate_limits")
def test_rate_limit_url_lets_two_limiters_share_counts(
    storage_factory: Callable[[], Storage],
) -> None:
    limits = pytest.importorskip("limits")
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    # Two store objects over the same server, as two worker processes would have.
    stores = [storage_factory(), storage_factory()]
    urls = [cast(SharesRateLimits, store).rate_limit_url for store in stores]
    assert all(isinstance(store, SharesRateLimits) for store in stores)
    assert all(isinstance(url, str) for url in urls)
    prefix = f"suolink-test-{uuid.uuid4().hex[:12]}"
    one, two = (
        MovingWindowRateLimiter(storage_from_string(url, key_prefix=prefix)) for url in urls
    )
    three_a_minute = limits.parse("3/minute")
    key = f"k-{uuid.uuid4().hex}"
    assert one.hit(three_a_minute, "create", key)
    assert two.hit(three_a_minute, "create", key)
    assert one.hit(three_a_minute, "create", key)
    assert not two.hit(three_a_minute, "create", key)  # the counts are one
    assert not one.hit(three_a_minute, "create", key)
    assert two.hit(three_a_minute, "create", "another-key")


# -- restores_in_batches ------------------------------------------------------------------


@claiming("restores_in_batches")
def test_restore_many_is_create_and_record_visit_per_link(storage: Storage) -> None:
    """Twin stores: one restored in a batch, one by create + record_visit; equal after."""
    batch = cast(RestoresInBatches, storage)
    storage.create(_link("taken"))
    limited = _link("limited", max_visits=2, tags=("x", "y"))
    items = [
        (_link("plain", title="t"), [_visit("plain"), _visit("plain", outcome="guide")]),
        (_link("taken"), [_visit("taken")]),
        (limited, [_visit("limited", T0 + timedelta(seconds=i)) for i in range(3)]),
    ]
    assert batch.restore_many(items) == [True, False, True]
    assert storage.get("taken") == _link("taken")  # the taken code's link untouched
    assert list(storage.visits("taken")) == []
    plain = storage.get("plain")
    assert plain is not None
    assert plain.visits == 1
    assert [v.outcome for v in storage.visits("plain")] == ["redirect", "guide"]
    after = storage.get("limited")
    assert after is not None
    assert after.visits == 2  # the third redirect was past max_visits, as record_visit
    assert len(list(storage.visits("limited"))) == 2
    assert storage.list(tag="y").links == (after,)


@claiming("restores_in_batches")
def test_restore_many_checks_everything_first(storage: Storage) -> None:
    batch = cast(RestoresInBatches, storage)
    bad = [(_link("one"), []), (_link("two"), [_visit("one")])]  # a visit of another link
    with pytest.raises(InvalidOption):
        batch.restore_many(bad)
    with pytest.raises(InvalidOption):
        batch.restore_many([(_link("three", title="a\x00b"), [])])
    assert storage.get("one") is None
    assert storage.get("three") is None


@claiming("restores_in_batches")
def test_restore_many_equals_create_and_record_visit_in_counts(
    storage_factory: Callable[[], Storage],
) -> None:
    """The batch path sums counts set-wise: its stats must be the one-by-one path's,
    visits differing only in country or split arm included."""
    batched, twin = storage_factory(), storage_factory()
    visits = [
        _visit("geo", T0, country="CN", arm="a", visitor_id="p1"),
        _visit("geo", T0 + timedelta(seconds=1), country="US", arm="b", visitor_id="p2"),
        _visit("geo", T0 + timedelta(seconds=2), country="US", arm="a", visitor_id="p1"),
        _visit("geo", T0 + timedelta(days=1), outcome="guide", visitor_id="p3"),
        _visit("geo", T0 + timedelta(days=1), is_bot=True, outcome="bot"),
    ]
    link = _link("geo", tags=("t",))
    assert cast(RestoresInBatches, batched).restore_many([(link, visits)]) == [True]
    twin.create(link)
    for visit in visits:
        twin.record_visit(visit, count=visit.outcome == "redirect")
    assert batched.get("geo") == twin.get("geo")
    assert list(batched.visits("geo")) == list(twin.visits("geo"))
    assert link_stats(batched, "geo") == link_stats(twin, "geo")
    assert link_stats(batched, "geo").by_country == {"CN": 1, "US": 2}  # p1 in both


@claiming("restores_in_batches")
def test_restore_many_refuses_tombstones_and_a_code_twice_in_one_batch(storage: Storage) -> None:
    batch = cast(RestoresInBatches, storage)
    storage.create(_link("gone"))
    storage.delete("gone")
    items = [
        (_link("gone"), []),
        (_link("twice", title="first"), [_visit("twice")]),
        (_link("twice", title="second"), [_visit("twice"), _visit("twice")]),
    ]
    assert batch.restore_many(items) == [False, True, False]
    assert storage.get("gone") is None
    twice = storage.get("twice")
    assert twice is not None
    assert (twice.title, twice.visits) == ("first", 1)
    assert len(list(storage.visits("twice"))) == 1


@claiming("restores_in_batches")
def test_restore_many_falls_back_to_a_savepoint_per_link(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the set-wise insert meets a constraint after all (a code taken meanwhile), the
    batch is done again link by link: the same links made, nothing of the failed
    attempt left (the built-in rows' ``_insert_restored``)."""
    storage.create(_link("taken"))
    items = [(_link(f"r{i}", tags=("t",)), [_visit(f"r{i}", country="CN")]) for i in range(3)]
    items.insert(1, (_link("taken", title="again"), []))
    cls = type(storage)
    real = cls._insert_restored  # type: ignore[attr-defined]
    error = _integrity_error(storage)

    def half_then_fail(self: Storage, tx: object, fresh: object) -> None:
        real(self, tx, fresh)
        raise error

    monkeypatch.setattr(cls, "_insert_restored", half_then_fail)
    assert cast(RestoresInBatches, storage).restore_many(items) == [True, False, True, True]
    assert storage.get("taken") == _link("taken")
    for i in range(3):
        got = storage.get(f"r{i}")
        assert got is not None
        assert got.visits == 1
        assert len(list(storage.visits(f"r{i}"))) == 1  # once: the failed attempt undone
    assert link_stats(storage, "r0").by_country == {"CN": 1}
    assert len(storage.list(tag="t").links) == 3


def _integrity_error(storage: Storage) -> Exception:
    """The "a constraint said no" of the row's driver."""
    from suolink.backends.sqlite import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        import sqlite3

        return sqlite3.IntegrityError("as if a constraint said no")
    from sqlalchemy import exc

    return exc.IntegrityError("INSERT", {}, Exception("as if a constraint said no"))
