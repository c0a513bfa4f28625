"""Contract: visits written by group commit lose, double and over-count nothing.

Runs on every row of the backend table that batches visits (``BATCHING``), in both
modes: ``durable`` (a call returns once its batch is written) and ``background`` (a
visit that cannot be refused is queued and written by a flusher thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from suolink.backends import Storage, open_storage
from suolink.backends.base import KeepsAggregates
from suolink.backends.sqlite import SQLiteStorage
from suolink.errors import BackendError, LinkNotFound
from suolink.models import Link, Visit, VisitResult

from .conftest import BATCHING_PARAMS, Backend, refused_writes, with_query

MODES = ("durable", "background")
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
THREADS = 8


class Opener:
    """Opens one fresh store of a backend row, with URL options, as often as asked."""

    def __init__(self, row: Backend, url: str) -> None:
        self.name = row.name
        self.url = url
        self.opened: list[Storage] = []

    def __call__(self, **options: object) -> Storage:
        store = open_storage(with_query(self.url, **options) if options else self.url)
        self.opened.append(store)
        return store


@pytest.fixture(params=BATCHING_PARAMS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open the same fresh store (of each batching backend) as often as asked."""
    row: Backend = request.param
    opener = Opener(row, row.url(request, tmp_path))
    yield opener
    for store in opener.opened:
        store.close()


def _visit(code: str, n: int, *, bot: bool = False) -> Visit:
    return Visit(
        code=code,
        at=T0,
        user_agent=f"agent {n}",
        ip=f"10.0.{n // 250}.{n % 250}",
        visitor_id=f"v{n % 37}",
        is_bot=bot,
        app="wechat" if n % 3 == 0 else None,
        os="ios" if n % 2 else "android",
    )


def _hammer(work: Callable[[int], Any], threads: int = THREADS) -> list[Any]:
    """Run ``work(worker)`` in ``threads`` threads released together; their returns."""
    go = threading.Barrier(threads)
    out: list[Any] = [None] * threads
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            go.wait(timeout=30)
            out[worker] = work(worker)
        except BaseException as exc:  # reported below, with the worker's traceback
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return out


@pytest.mark.parametrize("mode", MODES)
def test_concurrent_visits_are_counted_exactly(open_store: Opener, mode: str) -> None:
    store = open_store(visits=mode)
    codes = ["a", "b", "c"]
    for code in codes:
        store.create(Link(code=code, url=f"https://example.com/{code}"))
    per_worker = 60

    def work(worker: int) -> None:
        for i in range(per_worker):
            n = worker * per_worker + i
            store.record_visit(_visit(codes[n % 3], n, bot=n % 5 == 0), count=n % 5 != 0)

    _hammer(work)
    store.close()
    again = open_store()
    total = THREADS * per_worker
    counted = sum(1 for n in range(total) if n % 5 != 0)
    assert sum(again.get(code).visits for code in codes) == counted  # type: ignore[union-attr]
    assert sum(len(list(again.visits(code))) for code in codes) == total
    if isinstance(again, KeepsAggregates):
        for code in codes:
            counts = again.counts(code)
            assert counts is not None
            assert sum(counts.by_day.values()) == len(list(again.visits(code)))


@pytest.mark.parametrize("mode", MODES)
def test_max_visits_is_never_exceeded(open_store: Opener, mode: str) -> None:
    store = open_store(visits=mode)
    store.create(Link(code="few", url="https://example.com/", max_visits=37))
    results = _hammer(lambda w: [store.record_visit(_visit("few", w * 20 + i)) for i in range(20)])
    allowed = [r for batch in results for r in batch if r.allowed]
    assert len(allowed) == 37
    assert sorted(r.visits for r in allowed) == list(range(1, 38))  # each count once
    assert store.get("few").visits == 37  # type: ignore[union-attr]
    assert len(list(store.visits("few"))) == 37


def test_background_mode_loses_nothing_on_a_clean_close(
    open_store: Opener,
) -> None:
    store = open_store(visits="background", batch_ms=50)
    store.create(Link(code="bg", url="https://example.com/"))
    for n in range(300):
        result = store.record_visit(_visit("bg", n, bot=n % 2 == 0), count=n % 2 == 1)
        assert result.allowed
    store.close()  # returns once every queued visit is written
    again = open_store()
    assert len(list(again.visits("bg"))) == 300
    assert again.get("bg").visits == 150  # type: ignore[union-attr]


def test_a_visit_of_no_link_fails_alone_in_its_batch(open_store: Opener) -> None:
    store = open_store(batch_ms=5)
    store.create(Link(code="here", url="https://example.com/"))

    def work(worker: int) -> list[object]:
        code = "gone" if worker % 2 else "here"
        out: list[object] = []
        for i in range(10):
            try:
                out.append(store.record_visit(_visit(code, worker * 10 + i)))
            except LinkNotFound as exc:
                out.append(exc)
        return out

    results = [r for batch in _hammer(work) for r in batch]
    assert sum(isinstance(r, LinkNotFound) for r in results) == 40
    assert sum(isinstance(r, VisitResult) and r.allowed for r in results) == 40
    assert store.get("here").visits == 40  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_batch_fails_every_waiting_visit_and_stores_none(
    open_store: Opener, mode: str
) -> None:
    # SQLite waits ``timeout`` seconds for the lock before it gives up
    store = open_store(visits=mode, **({"timeout": 0.2} if open_store.name == "sqlite" else {}))
    store.create(Link(code="ro", url="https://example.com/", max_visits=1000))

    def work(worker: int) -> list[object]:
        out: list[object] = []
        for i in range(3):
            try:
                out.append(store.record_visit(_visit("ro", worker * 3 + i)))
            except BackendError as exc:
                out.append(exc)
        return out

    with refused_writes(store):
        results = [r for batch in _hammer(work, threads=4) for r in batch]
    assert all(isinstance(r, BackendError) for r in results), results
    assert store.get("ro").visits == 0  # type: ignore[union-attr]
    assert list(store.visits("ro")) == []
    # and once the store takes writes again, visits are recorded as usual
    assert store.record_visit(_visit("ro", 99)).allowed


# -- SQLite: a batch's set-wise statements give what one transaction per visit gives --

_ZONES = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))
_visits = st.builds(
    lambda code, day, hour, zone, bot, app, os, referer, who, count: (
        Visit(
            code=code,
            at=datetime(2026, 5, 1 + day, hour, 30, tzinfo=UTC).astimezone(zone),
            user_agent=f"agent {app} {os}",
            ip=None if who is None else f"10.0.0.{who}",
            visitor_id=None if who is None or who % 2 else f"v{who}",
            is_bot=bot,
            app=app,
            os=os,
            referer=referer,
            outcome="redirect" if count else "guide",
        ),
        count,
    ),
    code=st.sampled_from(["x", "y", "limited", "nope"]),
    day=st.integers(0, 1),
    hour=st.integers(0, 23),
    zone=st.sampled_from(_ZONES),
    bot=st.booleans(),
    app=st.sampled_from([None, "wechat"]),
    os=st.sampled_from([None, "ios"]),
    referer=st.sampled_from([None, "example.org"]),
    who=st.one_of(st.none(), st.integers(0, 5)),
    count=st.booleans(),
)


def _alike(**fields: object) -> tuple[Visit, bool]:
    """Visits equal but for ``fields``: they must still be counted apart where they differ."""
    base: dict[str, Any] = {"code": "x", "at": T0, "user_agent": "u", "visitor_id": "p"}
    return Visit(**{**base, **fields}), True


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_visits, min_size=1, max_size=60))
@example(
    items=[
        _alike(),
        _alike(referer="example.org"),
        _alike(app="wechat"),
        _alike(os="ios", visitor_id="q"),
        _alike(device="phone", visitor_id=None, ip="10.0.0.1"),
        _alike(browser="safari"),
        _alike(is_bot=True, app="googlebot"),
        _alike(outcome="guide"),
        _alike(at=T0.astimezone(timezone(timedelta(hours=-14)))),
        _alike(code="limited"),
        _alike(code="limited"),
        _alike(code="limited"),
        _alike(code="limited"),
        _alike(code="nope"),
    ]
)
def test_a_sqlite_batch_equals_one_transaction_per_visit(
    items: list[tuple[Visit, bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("batch")
    batched = SQLiteStorage(f"sqlite:///{folder / 'batched.db'}")
    alone = SQLiteStorage(f"sqlite:///{folder / 'alone.db'}")
    try:
        for store in (batched, alone):
            store.create(Link(code="x", url="https://example.com/x"))
            store.create(Link(code="y", url="https://example.com/y"))
            store.create(Link(code="limited", url="https://example.com/l", max_visits=3))
        together = batched._write_visits(items)
        alone._visit_batches = None  # the reference: one transaction per visit, as before
        one_by_one: list[object] = []
        for visit, count in items:
            try:
                one_by_one.append(alone.record_visit(visit, count=count))
            except LinkNotFound as exc:
                one_by_one.append(exc)
        assert [_shown(r) for r in together] == [_shown(r) for r in one_by_one]
        for code in ("x", "y", "limited"):
            assert batched.get(code).visits == alone.get(code).visits  # type: ignore[union-attr]
            assert _rows(batched, code) == _rows(alone, code)
            for since, until in ((None, None), (date(2026, 5, 2), None), (None, date(2026, 5, 3))):
                assert batched.counts(code, since=since, until=until) == alone.counts(
                    code, since=since, until=until
                )
    finally:
        batched.close()
        alone.close()


def _shown(result: object) -> object:
    return repr(result) if isinstance(result, Exception) else result


def _rows(store: SQLiteStorage, code: str) -> list[tuple[object, ...]]:
    shown = ("user_agent", "ip", "visitor_id", "is_bot", "app", "os", "referer", "device")
    return sorted(
        (v.at, v.outcome, *(repr(getattr(v, name)) for name in shown)) for v in store.visits(code)
    )
