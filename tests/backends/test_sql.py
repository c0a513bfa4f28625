"""What the PostgreSQL and MySQL/MariaDB backend does beyond the contract suite.

The contract, capability, state-machine and concurrency suites run on both engines as
rows of ``tests/backends/conftest.py``; here: URL parsing, a missing driver, schema
versions, MySQL's byte-exact codes, and the outage test (a server killed mid-load →
``BackendUnavailable``, a 503 over HTTP, and recovery when it returns).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from suolink.backends import Storage, open_storage
from suolink.backends.sql import SQLStorage
from suolink.backends.sql._options import parse_url
from suolink.backends.sql.postgres import PostgreSQLStorage
from suolink.backends.sql.schema import SCHEMA_VERSION, schema_version
from suolink.errors import (
    BackendError,
    BackendUnavailable,
    CodeTaken,
    ConfigurationError,
    InvalidCode,
    MissingDependencyError,
)
from suolink.models import Link, Visit
from suolink.stats import link_stats

from .conftest import with_query
from .sql_servers import MariaDB, Postgres, mariadb_store_url, postgres_store_url

T0 = datetime(2030, 1, 1, tzinfo=UTC)

# ------------------------------------------------------------------ URLs, no server


@pytest.mark.parametrize(
    ("url", "family", "driver"),
    [
        ("postgresql://u:p@db.example:5433/links", "postgresql", "postgresql+psycopg"),
        ("postgres://db.example/links?schema=suolink", "postgresql", "postgresql+psycopg"),
        ("mysql://u:p@db.example/links?pool_size=20", "mysql", "mysql+pymysql"),
        ("mariadb://db.example:3307/links?ssl_disabled=true", "mysql", "mariadb+pymysql"),
    ],
)
def test_urls_name_the_dialect_and_driver(url: str, family: str, driver: str) -> None:
    options = parse_url(url)
    assert options.family == family
    assert options.driver_url.startswith(driver + "://")
    assert "?" not in options.driver_url  # suolink's options never reach the driver URL


def test_options_are_read_and_checked() -> None:
    options = parse_url("mysql://h/db?pool_size=3&max_overflow=0&pool_timeout=1.5&ssl_disabled=1")
    assert (options.pool_size, options.max_overflow, options.pool_timeout) == (3, 0, 1.5)
    assert options.passed == {"ssl_disabled": True}
    assert parse_url("postgresql://h/db?sslmode=require").passed == {"sslmode": "require"}
    assert parse_url("mysql://h/db").retention_days == 0
    assert parse_url("postgresql://h/db?retention_days=90").retention_days == 90


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:///db",  # no host
        "postgresql://h",  # no database
        "postgresql://h/",
        "mysql://h/db?pool_size=0",
        "mysql://h/db?pool_size=x",
        "mysql://h/db?pool_timeout=-1",
        "mysql://h/db?nonsense=1",
        "mysql://h/db?schema=x",  # PostgreSQL only
        "postgresql://h/db?schema=Bad-Name",
        "postgresql://h/db?ssl_disabled=true",  # MySQL's option
        "mysql://h/db?ssl_disabled=maybe",
        "mysql://h:99999/db",
        "mysql://h/db#frag",
        "mysql://h/db?a",
        "mysql://h/db?retention_days=-1",
        "postgresql://h/db?retention_days=36501",
        "postgresql://h/db?retention_days=1.5",
        "mysql://h/db?retention_days=",
        "mysql://h/db?retention_days=٣",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_url(url)


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_storage("mysql://u:s3cret@h/db?nonsense=1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://h/db", "psycopg", "postgres"),
        ("mysql://h/db", "pymysql", "mysql"),
        ("mariadb://h/db", "sqlalchemy", "mysql"),
    ],
)
def test_a_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(MissingDependencyError) as caught:
        open_storage(url)
    assert caught.value.extra == extra
    assert f"suolink[{extra}]" in str(caught.value)


def test_an_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable):
        open_storage("postgresql://127.0.0.1:1/db?connect_timeout=1")
    with pytest.raises(BackendUnavailable):
        open_storage("mysql://127.0.0.1:1/db?connect_timeout=1&ssl_disabled=true")


# ------------------------------------------------------------------ on each engine

ENGINES: dict[str, Callable[[], str]] = {
    "postgresql": postgres_store_url,
    "mariadb": mariadb_store_url,
}


@pytest.fixture(params=list(ENGINES))
def store_url(request: pytest.FixtureRequest) -> str:
    return ENGINES[request.param]()


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStorage]:
    opened = open_storage(store_url)
    assert isinstance(opened, SQLStorage)
    yield opened
    opened.close()


def test_opening_again_migrates_nothing_and_a_newer_schema_is_refused(
    store: SQLStorage, store_url: str
) -> None:
    with store._write("read versions") as conn:
        versions = [row[0] for row in conn.execute(schema_version.select())]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    again = open_storage(store_url)  # already migrated: opens as is
    again.close()
    with store._write("pretend a newer suolink ran") as conn:
        conn.execute(
            schema_version.insert().values(
                version=SCHEMA_VERSION + 1, description="future", applied_at=T0.isoformat()
            )
        )
    with pytest.raises(BackendError, match="newer than this suolink knows"):
        open_storage(store_url)


def test_codes_compare_by_code_point_not_by_collation(store: SQLStorage) -> None:
    """MySQL's text collations would call these equal (case, trailing space, accents)."""
    codes = ["a", "A", "a ", "á", "ä", "ß", "ss"]
    for code in codes:
        store.create(Link(code=code, url=f"https://e.com/{code}", created_at=T0))
    with pytest.raises(CodeTaken):
        store.create(Link(code="a", url="https://e.com/again"))
    assert [link.code for link in store.list(limit=100).links] == sorted(codes, reverse=True)
    for code in codes:
        assert store.get(code).url == f"https://e.com/{code}"  # type: ignore[union-attr]


def test_tags_and_visitors_longer_than_an_index_entry(store: SQLStorage) -> None:
    tag, visitor = "标签" * 2000, "v" * 5000
    store.create(Link(code="long", url="https://e.com", tags=(tag,)))
    assert [link.code for link in store.list(tag=tag).links] == ["long"]
    assert store.list(tag=tag[:-1]).links == ()
    store.record_visit(Visit(code="long", at=T0, visitor_id=visitor, referer="r" * 5000))
    counts = store.counts("long")
    assert counts.top_visitors == [(visitor, 1)]
    assert counts.dimensions["referer"] == {"r" * 5000: 1}


def test_retention_drops_old_raw_visits_a_batch_at_a_time_and_keeps_the_counts(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``sqlite://?retention_days=N``, on the counted path and PostgreSQL's one trip."""
    monkeypatch.setattr("suolink.backends.sql.RETENTION_BATCH", 3)
    monkeypatch.setattr("suolink.backends.sql._RETENTION_PAUSE", 0.0)
    storage = open_storage(with_query(store_url, retention_days=2))
    assert isinstance(storage, SQLStorage)
    try:
        assert storage.retention_days == 2
        storage.create(Link(code="old", url="https://e.com"))
        storage.create(Link(code="new", url="https://e.com"))
        for i in range(8):  # a backlog of 8 raw visits 10 days old
            visit = Visit(code="old", at=T0 + timedelta(minutes=i), visitor_id=f"v{i % 3}")
            storage.record_visit(visit)
        before = link_stats(storage, "old")
        assert before.total == 8
        later = T0 + timedelta(days=10)
        storage.record_visit(Visit(code="new", at=later))  # a batch of at most 3 goes
        assert len(list(storage.visits("old"))) == 5
        one_trip = getattr(storage, "get_and_record", None)
        for i in range(3):
            visit = Visit(code="new", at=later + timedelta(seconds=i))
            if one_trip is not None and i % 2:
                one_trip(visit)
            else:
                storage.record_visit(visit, count=bool(i))
        assert list(storage.visits("old")) == []
        assert len(list(storage.visits("new"))) == 4  # within the retention: all kept
        assert link_stats(storage, "old") == before  # the counts stay
        assert storage.get("old").visits == 8  # type: ignore[union-attr]
    finally:
        storage.close()


def test_without_retention_every_raw_visit_stays(store: SQLStorage) -> None:
    assert store.retention_days == 0
    store.create(Link(code="k", url="https://e.com"))
    store.record_visit(Visit(code="k", at=T0))
    store.record_visit(Visit(code="k", at=T0 + timedelta(days=10_000)))
    assert len(list(store.visits("k"))) == 2


def test_postgresql_direct_statements_stay_short_enough_for_psycopg_to_cache() -> None:
    """psycopg converts (and caches) a query's placeholders only up to 4 KiB and 50
    parameters; past that every redirect would parse its 3 KiB statement again."""
    from psycopg import _queries

    store = open_storage(postgres_store_url())
    assert isinstance(store, PostgreSQLStorage)
    try:
        for name, sql in store._direct_sql.items():
            assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH, name
            names = set(re.findall(r"%\((\w+)\)s", sql))
            assert len(names) <= _queries.MAX_CACHED_STATEMENT_PARAMS, name
    finally:
        store.close()


def test_postgresql_direct_connections_are_bounded_and_come_back() -> None:
    """The redirect path's own connections: ``pool_size + max_overflow`` at most, a call
    that finds none free within ``pool_timeout`` is ``BackendUnavailable``."""
    url = with_query(postgres_store_url(), pool_size=1, max_overflow=0, pool_timeout=0.2)
    store = open_storage(url)
    assert isinstance(store, PostgreSQLStorage)
    try:
        store.create(Link(code="k", url="https://e.com"))
        with store._direct.connection(), pytest.raises(BackendUnavailable):  # the only one
            store.get("k")
        assert store.get("k") is not None  # given back: usable again
        assert store.record_visit(Visit(code="k", at=T0)).visits == 1
    finally:
        store.close()
    with pytest.raises(BackendUnavailable):
        store.get("k")


def test_mysql_refuses_codes_longer_than_its_column() -> None:
    store = open_storage(mariadb_store_url())
    try:
        with pytest.raises(InvalidCode):
            store.create(Link(code="x" * 256, url="https://e.com"))
        with pytest.raises(InvalidCode):  # an import too, before anything is stored
            store.restore_many([(Link(code="ok", url="https://e.com"), []),
                                (Link(code="x" * 256, url="https://e.com"), [])])  # fmt: skip
        assert store.get("ok") is None
        store.create(Link(code="码" * 255, url="https://e.com"))
    finally:
        store.close()


# ------------------------------------------------------------------ outages

SERVERS = {"postgresql": Postgres, "mariadb": MariaDB}


@pytest.mark.slow
@pytest.mark.parametrize("engine", list(SERVERS))
def test_killing_the_server_mid_load_then_restarting_it(engine: str) -> None:
    """Visits fail as ``BackendUnavailable`` (503 over HTTP) while the server is gone, then
    recover on the same store object; nothing acknowledged is lost or counted twice."""
    try:
        server = SERVERS[engine]()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"no {engine} binaries: {exc}")
    server.start()
    url = server.url + ("&" if "?" in server.url else "?") + "connect_timeout=1&pool_timeout=2"
    store = open_storage(url)
    try:
        _outage(store, server, engine)
    finally:
        store.close()
        server.remove()


def _outage(store: Storage, server: Postgres | MariaDB, engine: str) -> None:
    from suolink.adapters.flask import create_app

    store.create(Link(code="k", url="https://e.com/k"))
    app = create_app(storage=store, secret="s" * 32)
    client = app.test_client()
    outcomes: list[str] = []
    stop = threading.Event()

    def visit_forever() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                result = store.record_visit(Visit(code="k", at=T0, user_agent=f"ua-{i}"))
                outcomes.append("ok" if result.allowed else "refused")
            except BackendUnavailable as exc:
                outcomes.append("down" if exc.http_status == 503 else "odd")
                time.sleep(0.01)
            except BaseException as exc:  # surfaces in the assertions below
                outcomes.append(f"error:{type(exc).__name__}:{exc}")
                return

    worker = threading.Thread(target=visit_forever)
    worker.start()
    mark = 0
    try:
        _wait(lambda: outcomes.count("ok") >= 30)
        server.stop()
        _wait(lambda: outcomes.count("down") >= 10)
        answer = client.get("/k")
        assert answer.status_code == 503, (engine, answer.status_code)
        server.start()  # same port, same data, same storage object
        mark = len(outcomes)
        _wait(lambda: outcomes[mark:].count("ok") >= 20)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert set(outcomes) <= {"ok", "down"}, sorted(set(outcomes))
    assert outcomes.count("down") >= 10, "visits did not fail while the server was down"
    assert outcomes[mark:].count("ok") >= 20, "visits did not come back after the restart"
    assert client.get("/k").status_code < 500
    link = store.get("k")
    assert link is not None
    agents = [v.user_agent for v in store.visits("k") if v.user_agent.startswith("ua-")]
    assert len(agents) == len(set(agents)), "a visit was recorded twice"
    # At most the visit in flight when the server died was stored without its answer.
    assert outcomes.count("ok") <= len(agents) <= outcomes.count("ok") + 1
    assert link.visits - len(agents) in (0, 1)  # (1: the HTTP visit, if it was counted)


def _wait(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_postgresql_link_copy_with_visits_is_replace() -> None:
    from dataclasses import replace

    from suolink.backends.sql.postgres import _with_visits

    link = Link(code="k", url="https://e.com", tags=("a", "b"), max_visits=9, title="t")
    copied = _with_visits(link, 5)
    assert copied == replace(link, visits=5)
    assert type(copied) is Link
    assert copied is not link
    assert link.visits == 0


# ------------------------------------------------------------------ links held in process


def test_postgresql_follows_a_link_changed_by_another_process_and_counts_once() -> None:
    """A Shortener's store holds the link it planned; a second store on the same URL (as
    another process would) changes it: the next redirect's statement sees the version
    moved, records nothing, and the redirect is answered from the new link, counted once."""
    from suolink import Shortener
    from suolink.models import Redirect, Visitor

    url = postgres_store_url()
    here, there = open_storage(url), open_storage(url)
    assert isinstance(here, PostgreSQLStorage)
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0 Safari/537.36"
    visitor = Visitor(user_agent=chrome, ip="203.0.113.9")
    shortener = Shortener(here, secret="s", base_url="https://s.example")
    try:
        there.create(Link(code="moved", url="https://e.com/one"))
        for expected in ("https://e.com/one", "https://e.com/one"):
            answer = shortener.resolve("moved", visitor)
            assert isinstance(answer, Redirect)
            assert answer.location == expected
        held = here.peek("moved")
        assert held is not None
        assert here.peek("moved") is held  # no trip: held
        there.update("moved", {"url": "https://e.com/two"})
        assert here.peek("moved") is held  # not seen until a visit is appended
        for _ in range(2):
            answer = shortener.resolve("moved", visitor)
            assert isinstance(answer, Redirect)
            assert answer.location == "https://e.com/two"
        assert here.peek("moved") is not held
        assert there.get("moved").visits == 4  # type: ignore[union-attr]
        assert len(list(there.visits("moved"))) == 4
        there.update("moved", {"disabled": True})  # a setting the plan cannot answer
        assert shortener.resolve("moved", visitor).status == 404
        assert there.get("moved").visits == 4  # type: ignore[union-attr]
        there.delete("moved", tombstone=False)
        there.create(Link(code="moved", url="https://e.com/three"))  # same code, new link
        answer = shortener.resolve("moved", visitor)
        assert isinstance(answer, Redirect)
        assert answer.location == "https://e.com/three"
        assert there.get("moved").visits == 1  # type: ignore[union-attr]
        assert here.peek("moved").url == "https://e.com/three"  # type: ignore[union-attr]
        there.delete("moved", tombstone=False)
        assert shortener.resolve("moved", visitor).status == 404
        assert here.append_visit(Visit(code="moved", at=T0).to_record()) is None
    finally:
        shortener.close()
        there.close()


def test_postgresql_version_moves_on_changes_not_on_visits() -> None:
    """The trigger of schema 7: every change of a link but its count is a new version,
    and a link made again under a deleted code never has the old one."""
    store = open_storage(postgres_store_url())
    assert isinstance(store, PostgreSQLStorage)

    def version() -> int:
        with store._direct_call("read") as held:
            row = held.conn.execute("SELECT version FROM links WHERE code = 'v'").fetchone()
        assert row is not None
        return int(row[0])

    try:
        store.create(Link(code="v", url="https://e.com"))
        first = version()
        store.record_visit(Visit(code="v", at=T0))
        store.record_visit(Visit(code="v", at=T0), count=False)
        assert version() == first
        store.update("v", {"title": "t"})
        second = version()
        assert second != first
        store.delete("v", tombstone=False)
        store.create(Link(code="v", url="https://e.com"))
        assert version() not in (first, second)
    finally:
        store.close()


def test_postgresql_append_parameters_from_a_record_equal_those_of_its_visit() -> None:
    """``append_visit`` binds a record's values without making a ``Visit``: by name, the
    same parameters as the ``Visit`` path, for every field set."""
    from suolink.backends.sql.postgres import _APPEND_AT, _append_values

    visit = Visit(
        code="k", at=T0 + timedelta(microseconds=7), ip="203.0.113.9", user_agent="UA",
        referer="example.org", app="wechat", os="ios", device="mobile", is_bot=True,
        language="zh-CN", visitor_id="v1", browser="safari", outcome="bot", country="CN",
        region="GD", city="Shenzhen", arm="b", domain="s.example",
    )  # fmt: skip
    store = object.__new__(PostgreSQLStorage)
    for one in (visit, Visit(code="k", at=T0)):
        values = _append_values(one.to_record(), 7, True, 42)
        got = {name: values[i] for name, i in _APPEND_AT.items()}
        assert got == {**store._params(one, 7), "click": True, "ver": 42}
