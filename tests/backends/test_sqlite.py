"""What only the SQLite backend promises: WAL, busy timeout, migrations, paths, processes."""

from __future__ import annotations

import gc
import json
import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink.backends import open_storage
from suolink.backends._common import to_micros
from suolink.backends.sqlite import (
    LINK_CHECK,
    MIGRATIONS,
    SCHEMA_VERSION,
    VISIT_CACHE_KB,
    VISIT_CHECKPOINT,
    SQLiteStorage,
    migrate,
)
from suolink.errors import BackendError, BackendUnavailable, ConfigurationError
from suolink.models import AntiBlockMode, Link, Visit
from suolink.stats import aggregate, link_stats

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, to look at the file without going through suolink."""
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "links.db"


@pytest.fixture
def store(db: Path):  # type: ignore[no-untyped-def]
    storage = SQLiteStorage(f"sqlite:///{db}")
    yield storage
    storage.close()


def test_open_storage_picks_sqlite(db: Path) -> None:
    storage = open_storage(f"sqlite:///{db}")
    try:
        assert isinstance(storage, SQLiteStorage)
        assert storage.url == f"sqlite:///{db}"
    finally:
        storage.close()


# ------------------------------------------------------------------ pragmas


def test_the_file_is_in_wal_mode(store: SQLiteStorage, db: Path) -> None:
    store.create(Link(code="a", url="https://e.com"))
    assert raw(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.with_name(db.name + "-wal").exists()


def test_busy_timeout_defaults_to_five_seconds(store: SQLiteStorage) -> None:
    assert store.timeout == 5.0
    assert store._thread_connection().execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_timeout_and_synchronous_come_from_the_url(db: Path) -> None:
    storage = SQLiteStorage(f"sqlite:///{db}?timeout=2.5&synchronous=full")
    try:
        seen: list[tuple[int, int]] = []

        def look() -> None:
            conn = storage._thread_connection()
            seen.append(
                (
                    conn.execute("PRAGMA busy_timeout").fetchone()[0],
                    conn.execute("PRAGMA synchronous").fetchone()[0],
                )
            )

        look()
        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        assert seen == [(2500, 2), (2500, 2)]  # 2 is FULL, in every thread's connection
    finally:
        storage.close()


def test_a_held_write_lock_is_backend_unavailable_after_the_timeout(db: Path) -> None:
    storage = SQLiteStorage(f"sqlite:///{db}?timeout=0")
    holder = raw(db)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailable) as caught:
            storage.create(Link(code="blocked", url="https://e.com"))
        assert isinstance(caught.value.original, sqlite3.OperationalError)
        assert "locked" in str(caught.value)
        assert storage.get("none") is None  # readers are not blocked by the writer (WAL)
    finally:
        holder.execute("ROLLBACK")
    assert storage.get("blocked") is None
    storage.create(Link(code="blocked", url="https://e.com"))
    storage.close()


def test_a_writer_waits_for_the_lock_within_the_timeout(db: Path) -> None:
    storage = SQLiteStorage(f"sqlite:///{db}?timeout=30")
    holder = raw(db)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE counters SET value = 41")

    def release() -> None:
        time.sleep(0.3)  # let next_id() below start waiting on the lock
        holder.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    try:
        assert storage.next_id() == 42
    finally:
        thread.join()
        storage.close()


# ------------------------------------------------------------------ schema


def test_schema_version_table_lists_every_migration_once(store: SQLiteStorage, db: Path) -> None:
    SQLiteStorage(f"sqlite:///{db}").close()  # opening again applies nothing
    rows = raw(db).execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m[0] for m in MIGRATIONS]
    assert SCHEMA_VERSION >= 2


def test_the_indexes_exist(store: SQLiteStorage, db: Path) -> None:
    names = {
        row[0] for row in raw(db).execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {
        "links_by_created",
        "link_tags_by_tag",
        "visits_by_code",
        "visits_by_time",
        "visitor_counts_by_n",
    } <= names


def test_an_old_database_is_migrated_forward_with_its_data(db: Path) -> None:
    old = raw(db)
    assert migrate(old, target=1) == 1
    old.execute(
        "INSERT INTO links (code, url, created_at, created_us, anti_block_mode, deny, targets,"
        " tags, disabled, visits) VALUES (?, ?, ?, ?, 'auto', '[]', '[]', ?, 0, 3)",
        (
            "old1",
            "https://old.example",
            "2024-05-01T10:00:00+08:00",
            1714528800000000,
            json.dumps(["旧", "keep"]),
        ),
    )
    old.close()

    storage = SQLiteStorage(f"sqlite:///{db}")
    try:
        versions = raw(db).execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        assert versions == SCHEMA_VERSION
        link = storage.get("old1")
        assert link is not None
        assert link.tags == ("旧", "keep")
        assert link.visits == 3
        assert [x.code for x in storage.list(tag="旧").links] == ["old1"]
        storage.create(Link(code="new1", url="https://new.example", tags=("keep",)))
        assert [x.code for x in storage.list(tag="keep").links] == ["new1", "old1"]
    finally:
        storage.close()


def test_a_v3_database_opens_migrates_and_reads_back_unchanged(db: Path) -> None:
    # Rows exactly as suolink wrote them at schema version 3 (before the extra column).
    old = raw(db)
    assert migrate(old, target=3) == 3
    old.execute(
        "INSERT INTO links (code, url, created_at, created_us, expires_at, max_visits,"
        " password_hash, anti_block, anti_block_mode, allow, deny, targets, title, tags,"
        " disabled, visits, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "v3",
            "https://例子.测试/路径",
            "2029-05-06T07:08:09.123456+08:00",
            1872716889123456,
            "2031-02-03T04:05:06.000007-03:30",
            12,
            "pbkdf2_sha256$1$salt$hash",
            '["qq","wechat","微博"]',
            "guide",
            '["android","ios"]',
            '["bot"]',
            '[["ios","https://apps.apple.com/x"],["android","https://play.example/x"]]',
            "标题",
            '["季度","b","a","b"]',
            1,
            2,
            "zh-CN",
        ),
    )
    old.executemany(
        "INSERT INTO link_tags (code, tag, created_us) VALUES ('v3', ?, 1872716889123456)",
        [("季度",), ("a",), ("b",)],
    )
    old.execute(
        "INSERT INTO visits (code, at, at_us, ip, user_agent, referer, app, os, device, is_bot,"
        " language, visitor_id, browser, outcome) VALUES ('v3', '2030-01-01T12:00:00+00:00',"
        " 1893499200000000, '2001:db8::1', 'UA', NULL, 'wechat', 'ios', 'mobile', 0, 'zh',"
        " 'vid', 'safari', 'guide')"
    )
    old.close()
    expected = Link(
        code="v3",
        url="https://例子.测试/路径",
        created_at=datetime(2029, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=8))),
        expires_at=datetime(
            2031, 2, 3, 4, 5, 6, 7, tzinfo=timezone(-timedelta(hours=3, minutes=30))
        ),
        max_visits=12,
        password_hash="pbkdf2_sha256$1$salt$hash",
        anti_block=frozenset({"qq", "wechat", "微博"}),
        anti_block_mode=AntiBlockMode.GUIDE,
        allow=frozenset({"android", "ios"}),
        deny=frozenset({"bot"}),
        targets=(("ios", "https://apps.apple.com/x"), ("android", "https://play.example/x")),
        title="标题",
        tags=("季度", "b", "a", "b"),
        disabled=True,
        visits=2,
        language="zh-CN",
    )

    storage = SQLiteStorage(f"sqlite:///{db}")
    try:
        assert (
            raw(db).execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            == SCHEMA_VERSION
        )
        assert raw(db).execute("SELECT extra FROM links").fetchall() == [("{}",)]
        assert storage.get("v3") == expected
        assert storage.list(tag="季度").links == (expected,)
        assert list(storage.visits("v3")) == [
            Visit(
                code="v3",
                at=datetime(2030, 1, 1, 12, tzinfo=UTC),
                ip="2001:db8::1",
                user_agent="UA",
                app="wechat",
                os="ios",
                device="mobile",
                language="zh",
                visitor_id="vid",
                browser="safari",
                outcome="guide",
            )
        ]
        assert storage.update("v3", {"title": None}) == replace(expected, title=None)
        assert (
            storage.record_visit(Visit(code="v3", at=datetime(2030, 1, 2, tzinfo=UTC))).visits == 3
        )
        # The counts were backfilled from the visit recorded before migration 6.
        assert link_stats(storage, "v3") == aggregate("v3", storage.visits("v3"))
        assert link_stats(storage, "v3").top_visitors == [("vid", 1)]
    finally:
        storage.close()


def test_a_newer_schema_is_refused(db: Path) -> None:
    SQLiteStorage(f"sqlite:///{db}").close()
    raw(db).execute(
        "INSERT INTO schema_version VALUES (?, 'from the future', '2099-01-01')",
        (SCHEMA_VERSION + 1,),
    )
    with pytest.raises(BackendError, match="upgrade suolink") as caught:
        SQLiteStorage(f"sqlite:///{db}")
    assert not isinstance(caught.value, BackendUnavailable)


def test_a_file_that_is_not_a_database_is_a_backend_error(db: Path) -> None:
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(BackendError) as caught:
        SQLiteStorage(f"sqlite:///{db}")
    assert not isinstance(caught.value, BackendUnavailable)
    assert isinstance(caught.value.original, sqlite3.DatabaseError)


def test_a_file_that_cannot_be_opened_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        SQLiteStorage(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    assert isinstance(caught.value.original, sqlite3.OperationalError)


def _open_and_count(url: str) -> int:
    storage = SQLiteStorage(url)
    try:
        return storage.next_id()
    finally:
        storage.close()


def test_processes_opening_a_new_file_at_once_migrate_it_once(db: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        ids = pool.map(_open_and_count, [f"sqlite:///{db}"] * 8)
    assert sorted(ids) == list(range(1, 9))
    rows = raw(db).execute("SELECT version FROM schema_version").fetchall()
    assert sorted(r[0] for r in rows) == [m[0] for m in MIGRATIONS]


# ------------------------------------------------------------------ URLs and paths


def test_a_relative_path_is_resolved_once_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = SQLiteStorage("sqlite:///rel.db")
    try:
        assert storage.path == str(tmp_path / "rel.db")
        assert (tmp_path / "rel.db").exists()
        storage.create(Link(code="r", url="https://e.com"))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        found: list[object] = []
        thread = threading.Thread(target=lambda: found.append(storage.get("r")))
        thread.start()
        thread.join()  # a new thread, a new connection: still the same file
        assert found[0] is not None
        assert not (elsewhere / "rel.db").exists()
    finally:
        storage.close()


def test_an_absolute_path_and_percent_escapes(tmp_path: Path) -> None:
    path = tmp_path / "my links 短.db"
    storage = SQLiteStorage(
        "sqlite:///" + str(tmp_path).replace(" ", "%20") + "/my%20links%20短.db"
    )
    try:
        assert storage.path == str(path)
        storage.create(Link(code="x", url="https://e.com"))
        assert path.exists()
    finally:
        storage.close()
    assert str(tmp_path).startswith("/")
    reopened = SQLiteStorage(f"sqlite:///{path}")  # "sqlite:////tmp/..." is absolute
    try:
        assert reopened.get("x") is not None
    finally:
        reopened.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_in_memory_database_is_one_store_for_all_threads(url: str) -> None:
    storage = SQLiteStorage(url)
    try:
        assert storage.path == ":memory:"
        storage.create(Link(code="m", url="https://e.com"))
        results: list[object] = []

        def work() -> None:
            results.append(storage.get("m"))
            storage.record_visit(Visit(code="m"))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r is not None for r in results)
        link = storage.get("m")
        assert link is not None
        assert link.visits == 4
    finally:
        storage.close()
    with pytest.raises(BackendUnavailable):
        storage.get("m")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///dir/",
        "sqlite:///x.db?timeout=abc",
        "sqlite:///x.db?timeout=-1",
        "sqlite:///x.db?timeout=nan",
        "sqlite:///x.db?synchronous=sometimes",
        "sqlite:///x.db?colour=blue",
        "sqlite:///x.db?timeout",
        "sqlite:///x.db?retention_days=-1",
        "sqlite:///x.db?retention_days=36501",
        "sqlite:///x.db?retention_days=1.5",
        "sqlite:///x.db?retention_days=",
        "sqlite:///x.db?retention_days=٣",
        "sqlite:///x%00.db",
        "postgres:///x.db",
    ],
)
def test_bad_urls_are_configuration_errors(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError):
        SQLiteStorage(url)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ connections


def test_one_connection_per_thread_and_close_closes_them_all(store: SQLiteStorage) -> None:
    connections: list[sqlite3.Connection] = []
    ready = threading.Barrier(4)
    done = threading.Event()

    def work() -> None:
        store.get("x")
        connections.append(store._thread_connection())
        ready.wait()
        done.wait()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    ready.wait()
    connections.append(store._thread_connection())
    assert len({id(c) for c in connections}) == 4
    store.close()
    done.set()
    for t in threads:
        t.join()
    for conn in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_finished_threads_release_their_connections(store: SQLiteStorage) -> None:
    threads = [threading.Thread(target=store.get, args=("x",)) for _ in range(5)]
    for t in threads:
        t.start()
        t.join()
    gc.collect()
    assert len(store._conns) == 1  # only this thread's


def _use_inherited(storage: SQLiteStorage) -> None:
    storage.create(Link(code="from-child", url="https://child.example"))
    storage.record_visit(Visit(code="parent"))


def test_a_forked_child_opens_its_own_connection(store: SQLiteStorage) -> None:
    store.create(Link(code="parent", url="https://parent.example"))
    parent_conn = store._thread_connection()
    process = multiprocessing.get_context("fork").Process(target=_use_inherited, args=(store,))
    process.start()
    process.join()
    assert process.exitcode == 0
    assert store._thread_connection() is parent_conn
    assert store.get("from-child") is not None
    link = store.get("parent")
    assert link is not None
    assert link.visits == 1


def _create_many(url: str, prefix: str) -> None:
    storage = SQLiteStorage(url)
    try:
        for i in range(50):
            storage.create(Link(code=f"{prefix}{i}", url="https://e.com", tags=(prefix,)))
    finally:
        storage.close()


def test_processes_see_each_others_writes(db: Path) -> None:
    url = f"sqlite:///{db}"
    reader = SQLiteStorage(url)
    try:
        ctx = multiprocessing.get_context("spawn")
        processes = [ctx.Process(target=_create_many, args=(url, p)) for p in ("p", "q")]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
        assert [p.exitcode for p in processes] == [0, 0]
        assert len(reader.list(tag="p", limit=100).links) == 50
        assert len(reader.list(tag="q", limit=100).links) == 50
    finally:
        reader.close()


# ------------------------------------------------------------------ growth

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_a_user_agent_is_stored_once_and_read_back_per_visit(
    store: SQLiteStorage, db: Path
) -> None:
    store.create(Link(code="ua", url="https://e.com"))
    agents = ["Mozilla/5.0 " + "x" * 1000, "Mozilla/5.0 " + "x" * 1000, "other", ""]
    for i, agent in enumerate(agents):
        store.record_visit(Visit(code="ua", at=T0 + timedelta(seconds=i), user_agent=agent))
    assert [v.user_agent for v in store.visits("ua")] == agents
    look = raw(db)
    assert look.execute("SELECT COUNT(*) FROM user_agents").fetchone()[0] == 3
    columns = {row[1] for row in look.execute("PRAGMA table_info(visits)")}
    assert "ua_id" in columns
    assert "user_agent" not in columns


def _retaining(db: Path, days: int, monkeypatch: pytest.MonkeyPatch) -> SQLiteStorage:
    monkeypatch.setattr("suolink.backends.sqlite.RETENTION_BATCH", 3)
    monkeypatch.setattr("suolink.backends.sqlite._RETENTION_PAUSE", 0.0)
    return SQLiteStorage(f"sqlite:///{db}?retention_days={days}")


def test_retention_drops_old_raw_visits_a_batch_at_a_time_and_keeps_the_counts(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = _retaining(db, 2, monkeypatch)
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
        for i in range(3):
            storage.record_visit(Visit(code="new", at=later + timedelta(seconds=i)))
        assert list(storage.visits("old")) == []
        assert len(list(storage.visits("new"))) == 4  # within the retention: all kept
        assert link_stats(storage, "old") == before  # the counts stay
        assert storage.get("old") is not None
    finally:
        storage.close()


def test_without_retention_every_raw_visit_stays(store: SQLiteStorage) -> None:
    assert store.retention_days == 0
    store.create(Link(code="k", url="https://e.com"))
    store.record_visit(Visit(code="k", at=T0))
    store.record_visit(Visit(code="k", at=T0 + timedelta(days=10_000)))
    assert len(list(store.visits("k"))) == 2


def _remove_database(db: Path, *, journal: bool) -> None:
    db.unlink()
    if journal:
        for suffix in ("-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "file-only"])
def test_a_deleted_database_file_is_created_again(
    store: SQLiteStorage, db: Path, journal: bool
) -> None:
    """Regression: once the file was deleted, every call failed until a restart."""
    store.create(Link(code="before", url="https://e.com"))
    store.record_visit(Visit(code="before", at=T0))
    _remove_database(db, journal=journal)
    store.check()
    assert store.get("before") is None  # a new, empty database
    store.create(Link(code="after", url="https://e.com"))
    store.record_visit(Visit(code="after", at=T0, user_agent="UA"))
    assert store.get("after") is not None
    assert [v.user_agent for v in store.visits("after")] == ["UA"]
    look = raw(db)
    assert look.execute("SELECT code FROM links").fetchall() == [("after",)]
    assert look.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert look.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_every_thread_follows_the_database_to_its_new_file(store: SQLiteStorage, db: Path) -> None:
    store.create(Link(code="a", url="https://e.com"))
    seen: list[Link | None] = []
    worker = threading.Thread(target=lambda: seen.append(store.get("a")))
    worker.start()
    worker.join()
    _remove_database(db, journal=True)
    store.create(Link(code="b", url="https://e.com"))  # this thread reopens
    worker = threading.Thread(target=lambda: seen.extend([store.get("a"), store.get("b")]))
    worker.start()
    worker.join()
    assert [link.code if link else None for link in seen] == ["a", None, "b"]


def test_a_replaced_database_file_is_read_from_then_on(
    store: SQLiteStorage, db: Path, tmp_path: Path
) -> None:
    store.create(Link(code="mine", url="https://e.com"))
    other_path = tmp_path / "other.db"
    other = SQLiteStorage(f"sqlite:///{other_path}")
    other.create(Link(code="theirs", url="https://e.com"))
    other.close()
    _remove_database(db, journal=True)
    other_path.rename(db)
    assert store.get("theirs") is not None
    assert store.get("mine") is None


def test_a_database_whose_folder_is_gone_fails_its_health_check_clearly(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    storage = SQLiteStorage(f"sqlite:///{folder / 'links.db'}")
    try:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        with pytest.raises(BackendUnavailable, match="could not"):
            storage.check()
        with pytest.raises(BackendUnavailable):
            storage.get("x")
        folder.mkdir()  # the folder is back: the store recovers on its own
        storage.check()
        storage.create(Link(code="x", url="https://e.com"))
    finally:
        storage.close()


# -- the link cache: never older than the last commit, from any connection or process ---


def test_the_link_cache_sees_every_change_made_through_another_store(db: Path) -> None:
    url = f"sqlite:///{db}"
    reader, writer = SQLiteStorage(url), SQLiteStorage(url)
    try:
        assert reader.get("c") is None  # cached as "no such link"
        writer.create(Link(code="c", url="https://example.com/1"))
        assert reader.get("c") is not None
        assert reader.get("c") is reader.get("c")  # served from the cache while unchanged
        writer.update("c", {"url": "https://example.com/2"})
        assert reader.get("c").url == "https://example.com/2"  # type: ignore[union-attr]
        writer.record_visit(Visit(code="c", at=datetime.now(UTC), user_agent="u"))
        assert reader.get("c").visits == 1  # type: ignore[union-attr]
        writer.delete("c")
        assert reader.get("c") is None
    finally:
        reader.close()
        writer.close()


def test_the_link_cache_sees_a_change_by_plain_sqlite(db: Path) -> None:
    store = SQLiteStorage(f"sqlite:///{db}")
    try:
        store.create(Link(code="c", url="https://example.com/1"))
        assert store.get("c").disabled is False  # type: ignore[union-attr]
        with raw(db) as conn:
            conn.execute("UPDATE links SET disabled = 1 WHERE code = 'c'")
        assert store.get("c").disabled is True  # type: ignore[union-attr]
    finally:
        store.close()


def _update_in_a_child(url: str) -> None:
    store = SQLiteStorage(url)
    store.update("c", {"title": "from another process"})
    store.close()


def test_the_link_cache_sees_a_change_by_another_process(db: Path) -> None:
    url = f"sqlite:///{db}"
    store = SQLiteStorage(url)
    try:
        store.create(Link(code="c", url="https://example.com/1"))
        assert store.get("c").title is None  # type: ignore[union-attr]
        child = multiprocessing.get_context("spawn").Process(target=_update_in_a_child, args=(url,))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert store.get("c").title == "from another process"  # type: ignore[union-attr]
    finally:
        store.close()


# -- the link version: visits leave the link cache alone, link changes anywhere empty it --


def test_visits_by_another_store_leave_peek_alone_and_get_exact(db: Path) -> None:
    url = f"sqlite:///{db}"
    reader, writer = SQLiteStorage(url), SQLiteStorage(url)
    try:
        writer.create(Link(code="c", url="https://example.com/1"))
        first = reader.peek("c")
        assert first is not None
        writer.record_visit(Visit(code="c", at=datetime.now(UTC), user_agent="u"))
        assert reader.peek("c") is first  # a visit is not a change of the link
        assert reader.get("c").visits == 1  # type: ignore[union-attr]  # get stays exact
        writer.update("c", {"title": "changed"})
        time.sleep(2 * LINK_CHECK)  # another store: seen within LINK_CHECK
        assert reader.peek("c").title == "changed"  # type: ignore[union-attr]
        writer.delete("c")
        time.sleep(2 * LINK_CHECK)
        assert reader.peek("c") is None
    finally:
        reader.close()
        writer.close()


def test_peek_sees_changes_by_plain_sqlite_but_not_counts(store: SQLiteStorage, db: Path) -> None:
    store.create(Link(code="c", url="https://example.com/1"))
    first = store.peek("c")
    with raw(db) as conn:
        conn.execute("UPDATE links SET visits = visits + 5 WHERE code = 'c'")
    assert store.peek("c") is first
    assert store.get("c").visits == 5  # type: ignore[union-attr]
    with raw(db) as conn:
        conn.execute("UPDATE links SET url = 'https://example.com/2' WHERE code = 'c'")
    time.sleep(2 * LINK_CHECK)
    assert store.peek("c").url == "https://example.com/2"  # type: ignore[union-attr]
    with raw(db) as conn:
        conn.execute("DELETE FROM links WHERE code = 'c'")
    time.sleep(2 * LINK_CHECK)
    assert store.peek("c") is None


def test_peek_sees_its_own_store_s_changes_at_once_and_others_within_link_check(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import suolink.backends.sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "LINK_CHECK", 3600.0)  # only own changes, then
    url = f"sqlite:///{db}"
    store, other = SQLiteStorage(url), SQLiteStorage(url)
    try:
        store.create(Link(code="c", url="https://example.com/1"))
        assert store.peek("c").title is None  # type: ignore[union-attr]
        store.update("c", {"title": "mine"})
        assert store.peek("c").title == "mine"  # type: ignore[union-attr]  # at once
        other.update("c", {"title": "theirs"})
        assert store.peek("c").title == "mine"  # type: ignore[union-attr]  # not asked yet
        assert store.get("c").title == "theirs"  # type: ignore[union-attr]  # get is exact
        monkeypatch.setattr(sqlite_backend, "LINK_CHECK", 0.0)
        store._fresh_until = 0.0  # the window passed
        assert store.peek("c").title == "theirs"  # type: ignore[union-attr]
    finally:
        store.close()
        other.close()


def test_peek_on_a_memory_database_sees_its_own_changes() -> None:
    store = SQLiteStorage("sqlite:///:memory:")
    try:
        store.create(Link(code="c", url="https://example.com/1"))
        first = store.peek("c")
        store.record_visit(Visit(code="c", at=datetime.now(UTC), user_agent="u"))
        assert store.peek("c") is first
        store.update("c", {"disabled": True})
        assert store.peek("c").disabled is True  # type: ignore[union-attr]
    finally:
        store.close()


def test_the_link_version_triggers_cover_every_column_but_visits(
    store: SQLiteStorage, db: Path
) -> None:
    """A migration adding a column to ``links`` must call ``_link_version_triggers`` again."""
    conn = raw(db)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(links)")} - {"visits"}
    sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'links_version_update'"
    ).fetchone()[0]
    listed = sql.split("UPDATE OF", 1)[1].split(" ON links", 1)[0]
    assert {c.strip() for c in listed.split(",")} == columns
    conn.close()


def _resolve_in_a_child(url: str, calls: int, out: Any) -> None:
    from suolink import Shortener
    from suolink.models import Redirect, Visitor

    with Shortener(url, secret="s") as shortener:
        shortener.update("hot", url="https://example.com/2")
        chrome = Visitor(user_agent=CHROME, ip="10.0.0.2")
        out.put(sum(isinstance(shortener.resolve("lim", chrome), Redirect) for _ in range(calls)))


def test_two_processes_share_max_visits_and_see_each_others_changes(db: Path) -> None:
    from suolink import Shortener
    from suolink.models import Redirect, Visitor

    url = f"sqlite:///{db}"
    chrome = Visitor(user_agent=CHROME, ip="10.0.0.1")
    with Shortener(url, secret="s") as shortener:
        shortener.shorten("https://example.com/1", code="hot")
        shortener.shorten("https://example.com/x", code="lim", max_visits=30)
        first = shortener.resolve("hot", chrome)
        assert isinstance(first, Redirect)
        assert first.location == "https://example.com/1"  # now planned in this process
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        child = context.Process(target=_resolve_in_a_child, args=(url, 25, out))
        child.start()
        mine = sum(isinstance(shortener.resolve("lim", chrome), Redirect) for _ in range(25))
        theirs = out.get(timeout=120)
        child.join(timeout=60)
        assert child.exitcode == 0
        assert mine + theirs == 30
        assert shortener.get("lim").visits == 30
        again = shortener.resolve("hot", chrome)
        assert isinstance(again, Redirect)
        assert again.location == "https://example.com/2"  # changed by the other process
        assert shortener.get("hot").visits == 2


# ------------------------------------------------------- counts in visit cubes (v13)

#: How a schema-12 suolink counted one visit: ~15 ``visit_counts`` cells, the person's
#: row, the ``people`` cell when the person is new (what an older process still running
#: during an upgrade writes).
_V12_CELL = (
    "INSERT INTO visit_counts (code, dimension, day, value, n) VALUES (?, ?, ?, ?, 1) "
    "ON CONFLICT (code, dimension, day, value) DO UPDATE SET n = n + 1"
)


def _record_as_v12(conn: sqlite3.Connection, visit: Visit) -> None:
    from suolink.backends.relational import ALL_TIME, PEOPLE, count_cells, visit_row

    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE links SET visits = visits + 1 WHERE code = ?", (visit.code,))
    conn.execute("INSERT OR IGNORE INTO user_agents (text) VALUES (?)", (visit.user_agent,))
    ua = conn.execute("SELECT id FROM user_agents WHERE text = ?", (visit.user_agent,)).fetchone()
    row = visit_row(visit, ua[0])
    conn.execute(
        f"INSERT INTO visits ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})",
        row,
    )
    cells, who = count_cells(visit)
    conn.executemany(_V12_CELL, cells)
    if who is not None:
        n = conn.execute(
            "INSERT INTO visitor_counts (code, visitor, n) VALUES (?, ?, 1) "
            "ON CONFLICT (code, visitor) DO UPDATE SET n = n + 1 RETURNING n",
            (visit.code, who),
        ).fetchone()[0]
        if n == 1:
            conn.execute(_V12_CELL, (visit.code, PEOPLE, ALL_TIME, ""))
    conn.execute("COMMIT")


def _v12_visits(code: str) -> list[Visit]:
    return [
        Visit(code=code, at=T0, visitor_id="ann", app="wechat", os="ios", referer="r.example"),
        Visit(code=code, at=T0 + timedelta(days=1), visitor_id="ann", browser="chrome"),
        Visit(code=code, at=T0 + timedelta(days=1), visitor_id="bob", country="CN", arm="b"),
        Visit(code=code, at=T0, is_bot=True, app="googlebot", outcome="bot"),
        Visit(code=code, at=T0, ip="10.0.0.9", domain="s.example"),  # an old record: no id
    ]


def _assert_counts_exact(storage: SQLiteStorage, code: str) -> None:
    """Stats from the counts (cells and cubes) equal stats folded from the raw visits."""
    assert storage.counts(code) is not None
    assert link_stats(storage, code) == aggregate(code, storage.visits(code))
    midnight = T0.replace(hour=0)  # whole UTC days: answered from the counts
    for days in (1, 2):
        window = {"since": midnight, "until": midnight + timedelta(days=days)}
        assert link_stats(storage, code, **window) == aggregate(
            code, storage.visits(code, **window)
        )


def test_counts_of_schema_12_survive_migration_13_and_mix_with_cubes(db: Path) -> None:
    old = raw(db)
    assert migrate(old, target=12) == 12
    old.execute(
        "INSERT INTO links (code, url, created_at, created_us, anti_block_mode, deny, targets,"
        " tags, disabled, visits) VALUES ('old', 'https://e.com', ?, 0, 'auto', '[]', '[]',"
        " '[]', 0, 0)",
        (T0.isoformat(),),
    )
    for visit in _v12_visits("old"):
        _record_as_v12(old, visit)
    storage = SQLiteStorage(f"sqlite:///{db}")  # migration 13: link_people backfilled
    try:
        assert storage.counts("old").unique_visitors == 3  # ann, bob, 10.0.0.9
        _assert_counts_exact(storage, "old")
        for visit in _v12_visits("old"):  # written as cubes now, summed with the old cells
            renamed = visit.visitor_id and f"new-{visit.visitor_id}"
            storage.record_visit(replace(visit, visitor_id=renamed))
        _assert_counts_exact(storage, "old")
        assert storage.counts("old").unique_visitors == 5
        for visit in _v12_visits("old"):  # an older process still writing during the upgrade
            _record_as_v12(old, replace(visit, visitor_id=visit.visitor_id and "late"))
        _assert_counts_exact(storage, "old")
        assert storage.counts("old").unique_visitors == 6
        assert storage.get("old").visits == 15
    finally:
        storage.close()
        old.close()


def test_a_batch_of_alike_visits_writes_two_cube_rows_and_one_person(
    store: SQLiteStorage, db: Path
) -> None:
    store.create(Link(code="one", url="https://e.com"))
    at = datetime.now(UTC)
    batch = [(Visit(code="one", at=at, visitor_id="ann", os="ios"), True)] * 32
    store._write_visits(batch)
    look = raw(db)
    cubes = look.execute("SELECT day, n FROM visit_cubes WHERE code = 'one'").fetchall()
    assert sorted(cubes) == [("", 32), (at.date().isoformat(), 32)]
    cells = look.execute("SELECT dimension, n FROM visit_counts WHERE code = 'one'").fetchall()
    assert cells == [("visitor", 32)]
    assert look.execute("SELECT n FROM link_people").fetchall() == [(1,)]
    assert store.counts("one").dimensions["os"] == {"ios": 32}


def test_visits_alike_but_for_their_domain_are_counted_apart(store: SQLiteStorage) -> None:
    store.create(Link(code="d", url="https://e.com"))
    store._write_visits(
        [(Visit(code="d", at=T0, domain=name), True) for name in ("a.example", "b.example")]
    )
    assert store.counts("d").dimensions["domain"] == {"a.example": 1, "b.example": 1}
    assert link_stats(store, "d") == aggregate("d", store.visits("d"))


def test_people_counts_follow_forgetting_and_deleting(store: SQLiteStorage, db: Path) -> None:
    store.create(Link(code="p", url="https://e.com"))
    for who in ("ann", "bob", "ann"):
        store.record_visit(Visit(code="p", at=T0, visitor_id=who))
    assert store.counts("p").unique_visitors == 2
    assert store.forget_visitor("bob")
    assert store.counts("p").unique_visitors == 1  # as memory:// counts
    assert store.delete("p", tombstone=False)
    look = raw(db)
    for table in ("visit_cubes", "link_people", "visitor_counts"):
        assert look.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def test_a_batch_larger_than_one_statement_is_written_whole(store: SQLiteStorage) -> None:
    # 301 visits: statements of 256, 32, 8, 4 and 1 rows; every person and combination new.
    for code in ("big", "other"):
        store.create(Link(code=code, url="https://e.com"))
    batch = [
        (
            Visit(
                code="big" if i % 7 else "other",
                at=T0 + timedelta(hours=i),
                visitor_id=f"v{i}",
                user_agent=f"agent {i % 5}",
                referer=f"r{i % 11}.example",
                is_bot=i % 13 == 0,
            ),
            True,
        )
        for i in range(301)
    ]
    results = store._write_visits(batch)
    assert all(getattr(r, "allowed", False) for r in results)
    for code in ("big", "other"):
        _assert_counts_exact(store, code)
        assert len(list(store.visits(code))) == store.get(code).visits  # type: ignore[union-attr]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(min_value=-3 * 86_400_000_000, max_value=3 * 86_400_000_000)),
    zone_hours=st.lists(st.sampled_from([None, 0, 8, -5]), min_size=1),
)
def test_a_batch_stores_each_visit_s_time_exactly_whatever_its_zone(
    store: SQLiteStorage, db: Path, offsets: list[int], zone_hours: list[int | None]
) -> None:
    # The writer builds ``at`` and ``at_us`` from the second a visit falls in (UTC
    # visits): whole seconds, neighbours in one second, other zones, midnight crossed.
    code = f"t{len(offsets)}x{len(zone_hours)}"
    if store.get(code) is None:
        store.create(Link(code=code, url="https://e.com"))
    look = raw(db)
    first = look.execute("SELECT COALESCE(MAX(id), 0) FROM visits").fetchone()[0]
    ats = []
    for i, offset in enumerate([0, 1, 999_999, 1_000_000, *offsets]):
        hours = zone_hours[i % len(zone_hours)]
        zone = UTC if hours is None else timezone(timedelta(hours=hours))
        ats.append((T0 + timedelta(microseconds=offset)).astimezone(zone))
    store._write_visits([(Visit(code=code, at=at, visitor_id="ann"), True) for at in ats])
    rows = look.execute(
        "SELECT at, at_us FROM visits WHERE id > ? ORDER BY id", (first,)
    ).fetchall()
    assert rows == [(at.isoformat(), to_micros(at)) for at in ats]
    days = Counter(at.astimezone(UTC).date().isoformat() for at in ats)
    cubes = look.execute(
        "SELECT day, SUM(n) FROM visit_cubes WHERE code = ? AND day != '' GROUP BY day", (code,)
    ).fetchall()
    assert Counter(dict(cubes)) >= days  # this example's visits, on top of earlier ones


def test_user_agent_ids_remembered_by_a_store_follow_its_file_when_replaced(
    store: SQLiteStorage, db: Path, tmp_path: Path
) -> None:
    # The writer remembers user agents' ids per file: a replaced file has its own ids.
    store.create(Link(code="mine", url="https://e.com"))
    store._write_visits([(Visit(code="mine", at=T0, user_agent=CHROME), True)])
    store._write_visits([(Visit(code="mine", at=T0, user_agent=CHROME), True)])  # remembered
    other_path = tmp_path / "other.db"
    other = SQLiteStorage(f"sqlite:///{other_path}")
    other.create(Link(code="mine", url="https://e.com"))
    other._write_visits([(Visit(code="mine", at=T0, user_agent="first agent"), True)])
    other.close()
    _remove_database(db, journal=True)
    other_path.rename(db)
    store._write_visits([(Visit(code="mine", at=T0, user_agent=CHROME), True)])
    agents = [visit.user_agent for visit in store.visits("mine")]
    assert agents == ["first agent", CHROME]


def test_visits_are_written_on_a_connection_of_their_own_tuned_for_them(
    store: SQLiteStorage,
) -> None:
    # A thread's visit connection gets the larger cache and rarer checkpoints; the
    # thread's own connection (links, reads) keeps SQLite's defaults and its key checks.
    store.create(Link(code="tuned", url="https://e.com"))
    conn = store._thread_connection()
    store._write_visits([(Visit(code="tuned", at=T0), True)])
    visits = store._thread_connection(for_visits=True)
    assert visits is not conn
    assert visits.execute("PRAGMA cache_size").fetchone()[0] == -VISIT_CACHE_KB
    assert visits.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == VISIT_CHECKPOINT
    assert visits.execute("PRAGMA foreign_keys").fetchone()[0] == 0
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.visits("tuned")


@pytest.mark.parametrize("size", [1, 2, 15, 16, 40])
def test_a_batch_skips_sqlite_s_key_checks_yet_stores_no_orphan(
    store: SQLiteStorage, db: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    # Every visit's link is read in the batch's transaction first, so the visit
    # connection checks no keys: a visit of no link still fails alone (whatever the
    # batch's size), and a batch that failed leaves no transaction open.
    store.create(Link(code="here", url="https://e.com"))
    batch = [(Visit(code="gone" if i % 5 == 4 else "here", at=T0), True) for i in range(size)]
    results = store._write_visits(batch)
    missing = sum(1 for i in range(size) if i % 5 == 4)
    assert [type(r).__name__ for r in results].count("LinkNotFound") == missing
    look = raw(db)
    assert look.execute("SELECT code, COUNT(*) FROM visits GROUP BY code").fetchall() == [
        ("here", size - missing)
    ]
    assert look.execute("PRAGMA foreign_key_check").fetchall() == []

    def fail(*args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_record_records", fail)
    with pytest.raises(BackendUnavailable):
        store._write_visits(batch)
    assert not store._thread_connection(for_visits=True).in_transaction
    assert not store._thread_connection().in_transaction


@pytest.mark.parametrize("visits", [True, False])
def test_a_commit_that_fails_leaves_no_transaction_open(
    store: SQLiteStorage, monkeypatch: pytest.MonkeyPatch, visits: bool
) -> None:
    # SQLite may keep a transaction open after a failed COMMIT (busy): rolled back, so
    # the connection's next write can begin. Both connections of a thread.
    store.create(Link(code="full", url="https://e.com"))
    conn = store._thread_connection(for_visits=visits)
    real = conn.execute

    def execute(sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database is locked")
        return real(sql, *args)

    monkeypatch.setattr(conn, "execute", execute)
    write: Callable[[], object] = (
        (lambda: store._write_visits([(Visit(code="full", at=T0), True)]))
        if visits
        else (lambda: store.create(Link(code="other", url="https://e.com")))
    )
    with pytest.raises(BackendUnavailable):
        write()
    assert not conn.in_transaction
    monkeypatch.undo()
    store._write_visits([(Visit(code="full", at=T0), True)])
    store.create(Link(code="other", url="https://e.com"))
    assert store.get("full").visits == 1  # type: ignore[union-attr]


def test_deleting_a_link_still_deletes_its_visits(store: SQLiteStorage, db: Path) -> None:
    # Visits are written with key checks off, but deletes cascade on the thread's own
    # connection, which keeps them on.
    store.create(Link(code="doomed", url="https://e.com"))
    store._write_visits([(Visit(code="doomed", at=T0), True) for _ in range(20)])
    assert store.delete("doomed")
    assert raw(db).execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 0


def test_a_batch_keeps_each_link_s_visits_in_arrival_order(store: SQLiteStorage) -> None:
    # The writer sorts a batch by link (each B-tree walked left to right); a link's own
    # visits keep the order they came in, the tie-break of visits at the same time.
    codes = ("zeta", "alpha", "mid")
    for code in codes:
        store.create(Link(code=code, url="https://e.com"))
    batch = [(Visit(code=codes[i % 3], at=T0, visitor_id=f"v{i}"), True) for i in range(60)]
    store._write_visits(batch)
    for n, code in enumerate(codes):
        assert [v.visitor_id for v in store.visits(code)] == [f"v{i}" for i in range(n, 60, 3)]
        _assert_counts_exact(store, code)


def test_none_and_bools_bind_as_before_through_the_adapters_suolink_registers() -> None:
    # suolink registers adapters for None and bool (cheaper binding); what SQLite stores
    # is what it stored without them: NULL, and the integers 0 and 1.
    from suolink.backends import sqlite as module

    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters
    conn = sqlite3.connect(":memory:")
    row = conn.execute("SELECT ?, typeof(?), ?, typeof(?), ?", (None, None, True, True, False))
    assert row.fetchone() == (None, "null", 1, "integer", 0)
    # A program's own adapter, registered before, is the one that stays.
    mine = sqlite3.adapters.pop((bool, sqlite3.PrepareProtocol))
    try:
        sqlite3.register_adapter(bool, lambda value: "yes" if value else "no")
        module._adapt_none_and_bool_in_one_step()
        assert conn.execute("SELECT ?", (True,)).fetchone() == ("yes",)
    finally:
        sqlite3.adapters[(bool, sqlite3.PrepareProtocol)] = mine
    conn.close()
