"""SQL counts folded in batches: exact reads, each visit counted once, upgrades.

A visit on PostgreSQL or MariaDB queues one ``count_queue`` row; folds add the queued visits to
``visit_cubes``, the day's ``visitor`` cells and ``visitor_counts`` (see
``docs/storage.md``). Here: stats read right after visits are exact with no fold run
before; folds in several processes at once, while visits keep coming, count every
visit once; a schema-5 database keeps the counts it had and adds new visits to them.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from suolink.backends import Storage, open_storage
from suolink.backends.memory import MemoryStorage
from suolink.backends.relational import ALL_TIME, PEOPLE, LinkTable, count_cells
from suolink.backends.sql import EMPTY_KEY, SQLStorage
from suolink.backends.sql import schema as s
from suolink.backends.sql._options import parse_url
from suolink.models import Link, Visit
from tests import processes

from .sql_servers import mariadb_store_url, postgres_store_url

pytestmark = pytest.mark.slow

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
CTX = processes.CTX  # forked from a preloaded server (tests/processes.py)
APPS = ("wechat", "qq", None)


def visit(code: str, i: int) -> Visit:
    """A varied visit: days, apps, people (some twice), bots, referers."""
    return Visit(
        code=code,
        at=T0 + timedelta(hours=7 * i),
        app=APPS[i % 3],
        os="ios" if i % 2 else "android",
        is_bot=i % 11 == 0,
        visitor_id=f"p{i % 7}",
        referer="https://r.example" if i % 5 == 0 else None,
        outcome="redirect" if i % 4 else "interstitial",
    )


def expected(visits: list[Visit], code: str) -> Any:
    """What every backend's counts say for these visits (the memory store's)."""
    memory = MemoryStorage()
    memory.create(Link(code=code, url="https://e.com"))
    for v in visits:
        memory.record_visit(v, count=False)
    return memory


def assert_same_counts(store: Storage, reference: Storage, code: str) -> None:
    days = (None, T0.date(), (T0 + timedelta(days=3)).date())
    for since in days:
        for until in (None, (T0 + timedelta(days=2)).date()):
            got = store.counts(code, since=since, until=until)  # type: ignore[attr-defined]
            want = reference.counts(code, since=since, until=until)  # type: ignore[attr-defined]
            assert got == want, (since, until)


@pytest.fixture
def pg_url() -> str:
    return postgres_store_url()


@pytest.fixture(params=["postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """A fresh store on each engine (MariaDB queues its visits' counts too)."""
    return postgres_store_url() if request.param == "postgresql" else mariadb_store_url()


def queued(store: SQLStorage) -> int:
    with store._read("count the queue") as conn:
        return int(conn.execute(select(func.count()).select_from(s.count_queue)).scalar_one())


def test_reads_right_after_visits_are_exact_with_no_fold_before(
    sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("suolink.backends.sql.FOLD_EVERY", 10**9)
    monkeypatch.setattr("suolink.backends.sql.FOLD_SECONDS", 10**9)
    store = open_storage(sql_url)
    assert isinstance(store, SQLStorage)
    try:
        store.create(Link(code="k", url="https://e.com"))
        visits = [visit("k", i) for i in range(40)]
        for v in visits:
            store.record_visit(v, count=False)
        assert queued(store) == 40  # nothing folded yet
        assert_same_counts(store, expected(visits, "k"), "k")
        assert queued(store) == 0  # the read folded the link's visits
    finally:
        store.close()


def fold_while_visiting(url: str, worker: int, visits: int, go: Any, results: Any) -> None:
    """Record ``visits`` visits, folding a few queued visits after each (other
    processes' too), then fold until the queue is empty."""
    store = open_storage(url)
    assert isinstance(store, SQLStorage)
    try:
        go.wait(timeout=120)
        for i in range(visits):
            store.record_visit(visit("k", worker * 1000 + i), count=False)
            store._retrying(lambda: store._fold(None, 3, wait=False))
        while store._retrying(lambda: store._fold(None, 5, wait=False)):
            pass
        results.put((worker, None))
    except BaseException:
        results.put((worker, traceback.format_exc()))
    finally:
        store.close()


def test_folds_in_several_processes_at_once_count_each_visit_once(
    sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers fold small batches while all of them record: nothing lost or doubled."""
    monkeypatch.setattr("suolink.backends.sql.FOLD_EVERY", 10**9)
    store = open_storage(sql_url)
    assert isinstance(store, SQLStorage)
    try:
        store.create(Link(code="k", url="https://e.com"))
        workers, each = 4, 30
        go, results = CTX.Barrier(workers), CTX.Queue()
        procs = [
            processes.Process(fold_while_visiting, (sql_url, w, each, go, results))
            for w in range(workers)
        ]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=300) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert [error for _, error in outcomes if error] == []
        visits = [visit("k", w * 1000 + i) for w in range(workers) for i in range(each)]
        assert queued(store) == 0
        assert_same_counts(store, expected(visits, "k"), "k")
    finally:
        store.close()


def test_a_schema_5_database_keeps_its_counts_and_adds_new_visits_to_them(pg_url: str) -> None:
    """Counts written by version 5 (a cell per dimension, at visit time) stay and are
    summed with those folded after the upgrade; existing links get ``extra_open``."""
    opts = parse_url(pg_url)
    engine = create_engine(
        opts.driver_url, connect_args={"options": f"-c search_path={opts.schema}"}
    )
    old = [visit("k", i) for i in range(25)]
    table = LinkTable()
    with engine.connect() as conn:
        assert s.migrate(conn, lock_name="t", schema=opts.schema, target=5) == 5
        for code, warning in (("k", None), ("warned", "careful")):
            link = Link(code=code, url="https://e.com", warning=warning)
            conn.execute(s.links.insert(), {**table.values(link), "created_us": 0})
        conn.execute(s.user_agents.insert().values(id=1, hash=s.key_hash(""), text=""))
        for v in old:  # what version 5 wrote for each visit
            cells, _ = count_cells(v)
            for code, dim, day, value in cells:
                found = conn.execute(
                    s.visit_counts.update()
                    .where(
                        s.visit_counts.c.code == code,
                        s.visit_counts.c.dimension == dim,
                        s.visit_counts.c.day == day,
                        s.visit_counts.c.value_key == s.key_hash(value),
                    )
                    .values(n=s.visit_counts.c.n + 1)
                ).rowcount
                if not found:
                    conn.execute(
                        s.visit_counts.insert().values(
                            code=code, dimension=dim, day=day, value_key=s.key_hash(value),
                            value=value, n=1,
                        )
                    )  # fmt: skip
        people = Counter(who for v in old if (who := count_cells(v)[1]) is not None)
        for who, n in people.items():
            conn.execute(
                s.visitor_counts.insert().values(
                    code="k", visitor_key=s.key_hash(who), visitor=who, n=n
                )
            )
        conn.execute(
            s.visit_counts.insert().values(
                code="k", dimension=PEOPLE, day=ALL_TIME, value_key=EMPTY_KEY, value="",
                n=len(people),
            )
        )  # fmt: skip
        conn.commit()
    engine.dispose()
    store = open_storage(pg_url)  # migrates to 6
    assert isinstance(store, SQLStorage)
    try:
        assert_same_counts(store, expected(old, "k"), "k")
        new = [visit("k", i) for i in range(25, 60)]
        for v in new:
            store.record_visit(v, count=False)
        assert_same_counts(store, expected(old + new, "k"), "k")
        with store._read("read extra_open") as conn:
            rows = conn.exec_driver_sql("SELECT code, extra_open FROM links").all()
        flags = {str(code): bool(flag) for code, flag in rows}
        assert flags == {"k": True, "warned": False}
    finally:
        store.close()


def test_postgresql_folds_in_a_thread_of_its_own_and_close_waits_for_it(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The visit that reaches ``FOLD_EVERY`` wakes the store's folder thread instead of
    folding itself; the counts come out the same, and ``close`` stops the thread."""
    monkeypatch.setattr("suolink.backends.sql.FOLD_EVERY", 5)
    store = open_storage(pg_url)
    assert isinstance(store, SQLStorage)
    folded_in: set[str] = set()
    fold = store._fold

    def spy(code: str | None, limit: int, *, wait: bool) -> int:
        folded_in.add(threading.current_thread().name)
        return fold(code, limit, wait=wait)

    monkeypatch.setattr(store, "_fold", spy)
    try:
        store.create(Link(code="k", url="https://e.com"))
        visits = [visit("k", i) for i in range(23)]
        for v in visits:
            store.record_visit(v, count=False)
        deadline = time.monotonic() + 30
        while queued(store) > 3 and time.monotonic() < deadline:  # (the last 3: no wake yet)
            time.sleep(0.02)
        assert queued(store) <= 3
        assert folded_in == {"suolink-pg-fold"}
        assert_same_counts(store, expected(visits, "k"), "k")  # the read folds the rest
        assert queued(store) == 0
        folder = store._folder  # type: ignore[attr-defined]
        assert folder is not None
        assert folder.is_alive()
    finally:
        store.close()
    assert not folder.is_alive()
