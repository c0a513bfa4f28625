"""``sqlite:///path.db``: links in one SQLite file, shared safely by threads and processes.

* WAL journal, so readers never wait for the writer; ``synchronous=NORMAL`` by default.
* A busy timeout (``?timeout=5``, seconds) instead of "database is locked" errors.
* One connection per thread (thread-local); ``close()`` closes every one of them.
* Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes can never
  interleave a read and a write: create relies on the primary key (insert, catch the
  conflict), and ``record_visit`` checks ``max_visits`` and counts in one ``UPDATE``.
* ``schema_version`` records the applied migrations; opening a file brings it forward.

URLs: ``sqlite:///relative.db`` (from the current folder), ``sqlite:////abs/path.db``,
``sqlite:///:memory:`` (one private database, one connection behind a lock). Options go
in the query string: ``timeout`` (seconds, default 5) and ``synchronous``
(``off|normal|full|extra``, default ``normal``).

Indexes (what the benchmarks exercise): ``links`` primary key ``code``;
``links_by_created (created_us, code)`` for newest-first listing;
``link_tags_by_tag (tag, created_us, code)`` for listing one tag;
``visits_by_code (code, at_us)`` for a link's visits in time order (and delete).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import (
    BackendError,
    BackendUnavailable,
    CodeTaken,
    ConfigurationError,
    LinkNotFound,
)
from ..models import AntiBlockMode, Link, LinkPage, Visit, VisitResult
from . import redact_url
from ._common import (
    MAX_MICROS,
    MIN_MICROS,
    check_limit,
    check_tag,
    check_window,
    code_ok,
    decode_cursor,
    encode_cursor,
    link_key,
    normalise_changes,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_pages,
)
from .base import DEFAULT_PAGE_SIZE

__all__ = ["DEFAULT_TIMEOUT", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteStorage", "migrate"]

DEFAULT_TIMEOUT = 5.0
_SYNCHRONOUS = ("off", "normal", "full", "extra")
_MIN_US = MIN_MICROS
_MAX_US = MAX_MICROS

# Primary SQLite result codes that mean "try again later" rather than "broken".
_UNAVAILABLE_CODES = {
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    8,  # SQLITE_READONLY
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
}
_UNAVAILABLE_WORDS = (
    "locked",
    "busy",
    "unable to open",
    "readonly",
    "read-only",
    "disk i/o",
    "closed database",  # close() raced a call in another thread
)


# --------------------------------------------------------------------------- schema

Migration = Callable[[sqlite3.Connection], None]


def _statements(*sql: str) -> Migration:
    def run(conn: sqlite3.Connection) -> None:
        for statement in sql:
            conn.execute(statement)

    return run


def _backfill_link_tags(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT code, created_us, tags FROM links").fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO link_tags (code, tag, created_us) VALUES (?, ?, ?)",
        [(code, tag, created) for code, created, tags in rows for tag in set(json.loads(tags))],
    )


_V1 = _statements(
    """CREATE TABLE links (
        code TEXT PRIMARY KEY NOT NULL,
        url TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        expires_at TEXT,
        max_visits INTEGER,
        password_hash TEXT,
        anti_block TEXT,
        anti_block_mode TEXT NOT NULL,
        allow TEXT,
        deny TEXT NOT NULL,
        targets TEXT NOT NULL,
        title TEXT,
        tags TEXT NOT NULL,
        disabled INTEGER NOT NULL,
        visits INTEGER NOT NULL DEFAULT 0,
        language TEXT
    )""",
    "CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
    "INSERT INTO counters (name, value) VALUES ('links', 0)",
    """CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL REFERENCES links (code) ON DELETE CASCADE,
        at TEXT NOT NULL,
        at_us INTEGER NOT NULL,
        ip TEXT,
        user_agent TEXT NOT NULL,
        referer TEXT,
        app TEXT,
        os TEXT,
        device TEXT,
        is_bot INTEGER NOT NULL,
        language TEXT
    )""",
    "CREATE INDEX visits_by_code ON visits (code, at_us)",
)


def _v2(conn: sqlite3.Connection) -> None:
    _statements(
        """CREATE TABLE link_tags (
            code TEXT NOT NULL REFERENCES links (code) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            PRIMARY KEY (code, tag)
        ) WITHOUT ROWID""",
        "CREATE INDEX link_tags_by_tag ON link_tags (tag, created_us, code)",
        "CREATE INDEX links_by_created ON links (created_us, code)",
    )(conn)
    _backfill_link_tags(conn)


_V3 = _statements(
    "ALTER TABLE visits ADD COLUMN visitor_id TEXT",
    "ALTER TABLE visits ADD COLUMN browser TEXT",
    "ALTER TABLE visits ADD COLUMN outcome TEXT NOT NULL DEFAULT 'redirect'",
)


#: (version, what it does, step). Steps run in order inside one IMMEDIATE transaction;
#: add new ones at the end and never edit a released one.
MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "links, counters and visits", _V1),
    (2, "link_tags table for the tag filter; index for newest-first listing", _v2),
    (3, "visits: visitor id, browser and outcome", _V3),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchall()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the database on ``conn`` (autocommit mode) forward to ``target``; the version.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so processes opening a new file at
    the same moment apply each migration exactly once.
    """
    current = _current_version(conn)
    _refuse_newer(current)
    if current >= target:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = _current_version(conn)
        _refuse_newer(current)
        for version, description, step in MIGRATIONS:
            if current < version <= target:
                step(conn)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (version, description, datetime.now(UTC).isoformat()),
                )
                current = version
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return current


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise BackendError(
            f"the database has schema version {version}, newer than this suolink knows "
            f"({SCHEMA_VERSION}); upgrade suolink"
        )


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        # SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


# --------------------------------------------------------------------------- rows

_LINK_COLUMNS = (
    "code, url, created_at, created_us, expires_at, max_visits, password_hash, anti_block, "
    "anti_block_mode, allow, deny, targets, title, tags, disabled, visits, language"
)
_SELECT_LINK = f"SELECT {_LINK_COLUMNS} FROM links"  # noqa: S608 - constant text
_INSERT_LINK = f"INSERT INTO links ({_LINK_COLUMNS}) VALUES ({', '.join('?' * 17)})"  # noqa: S608
_UPDATE_LINK = (
    "UPDATE links SET url = ?, expires_at = ?, max_visits = ?, password_hash = ?, "
    "anti_block = ?, anti_block_mode = ?, allow = ?, deny = ?, targets = ?, title = ?, "
    "tags = ?, disabled = ?, language = ? WHERE code = ?"
)
_LIST = f"{_SELECT_LINK} ORDER BY created_us DESC, code DESC LIMIT ?"
_LIST_AFTER = (
    f"{_SELECT_LINK} WHERE (created_us, code) < (?, ?) ORDER BY created_us DESC, code DESC LIMIT ?"
)
_TAGGED = (
    "SELECT l.code, l.url, l.created_at, l.created_us, l.expires_at, l.max_visits, "
    "l.password_hash, l.anti_block, l.anti_block_mode, l.allow, l.deny, l.targets, l.title, "
    "l.tags, l.disabled, l.visits, l.language "
    "FROM link_tags AS t JOIN links AS l ON l.code = t.code WHERE t.tag = ? "
)
_LIST_TAG = f"{_TAGGED} ORDER BY t.created_us DESC, t.code DESC LIMIT ?"
_LIST_TAG_AFTER = (
    f"{_TAGGED} AND (t.created_us, t.code) < (?, ?) ORDER BY t.created_us DESC, t.code DESC LIMIT ?"
)
_VISIT_COLUMNS = (
    "code, at, ip, user_agent, referer, app, os, device, is_bot, language, "
    "visitor_id, browser, outcome"
)
_INSERT_VISIT = (
    f"INSERT INTO visits (at_us, {_VISIT_COLUMNS}) "  # noqa: S608 - constant text
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_VISITS = (
    f"SELECT id, at_us, {_VISIT_COLUMNS} FROM visits "  # noqa: S608 - constant text
    "WHERE code = ? AND at_us >= ? AND at_us < ? AND (at_us, id) > (?, ?) "
    "ORDER BY at_us, id LIMIT ?"
)


def _json_list(values: Sequence[Any] | frozenset[str] | None) -> str | None:
    if values is None:
        return None
    items = sorted(values) if isinstance(values, frozenset) else list(values)
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def _set(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(json.loads(text))


def _link_values(link: Link) -> tuple[Any, ...]:
    """The updatable columns of ``link``, in the order of ``_UPDATE_LINK``."""
    return (
        link.url,
        None if link.expires_at is None else link.expires_at.isoformat(),
        link.max_visits,
        link.password_hash,
        _json_list(link.anti_block),
        link.anti_block_mode.value,
        _json_list(link.allow),
        _json_list(link.deny),
        _json_list([list(pair) for pair in link.targets]),
        link.title,
        _json_list(link.tags),
        int(link.disabled),
        link.language,
    )


def _link_row(link: Link) -> tuple[Any, ...]:
    """Every column of ``link`` for ``_INSERT_LINK``; a new link starts with 0 visits."""
    v = _link_values(link)
    created = (link.created_at.isoformat(), to_micros(link.created_at))
    return (link.code, v[0], *created, *v[1:12], 0, v[12])


def _to_link(row: Sequence[Any]) -> Link:
    (code, url, created_at, _, expires_at, max_visits, password_hash, anti_block, mode) = row[:9]
    (allow, deny, targets, title, tags, disabled, visits, language) = row[9:]
    return Link(
        code=code,
        url=url,
        created_at=datetime.fromisoformat(created_at),
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
        max_visits=max_visits,
        password_hash=password_hash,
        anti_block=_set(anti_block),
        anti_block_mode=AntiBlockMode(mode),
        allow=_set(allow),
        deny=frozenset(json.loads(deny)),
        targets=tuple((k, v) for k, v in json.loads(targets)),
        title=title,
        tags=tuple(json.loads(tags)),
        disabled=bool(disabled),
        visits=visits,
        language=language,
    )


def _to_visit(row: Sequence[Any]) -> Visit:
    (code, at, ip, user_agent, referer, app, os_name, device, is_bot, language) = row[2:12]
    visitor_id, browser, outcome = row[12:]
    return Visit(
        code=code,
        at=datetime.fromisoformat(at),
        ip=ip,
        user_agent=user_agent,
        referer=referer,
        app=app,
        os=os_name,
        device=device,
        is_bot=bool(is_bot),
        language=language,
        visitor_id=visitor_id,
        browser=browser,
        outcome=outcome,
    )


# --------------------------------------------------------------------------- URL


def _parse_url(url: str) -> tuple[str, float, str]:
    """``(path, timeout, synchronous)`` from a ``sqlite://`` URL; ``ConfigurationError``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise ConfigurationError(f"not a sqlite:// URL: {redact_url(url)!r}")
    if parts.netloc:
        raise ConfigurationError(
            f"sqlite URLs have no host ({redact_url(url)!r}); "
            "use sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    raw = unquote(parts.path)
    if raw in ("", "/:memory:"):
        path = ":memory:"
    else:
        path = raw[1:]  # sqlite:///x.db -> "x.db"; sqlite:////abs.db -> "/abs.db"
        if not path or path.endswith("/"):
            raise ConfigurationError(f"sqlite URL {url!r} names no file")
        if "\x00" in path:
            raise ConfigurationError("sqlite file path contains a NUL character")
        path = os.path.abspath(path)
    timeout, synchronous = DEFAULT_TIMEOUT, "normal"
    try:
        options = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ConfigurationError(f"malformed options in sqlite URL: {parts.query!r}") from exc
    for name, value in options:
        if name == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 <= timeout <= 86_400:
                raise ConfigurationError(f"sqlite timeout must be 0 to 86400 seconds: {value!r}")
        elif name == "synchronous":
            synchronous = value.lower()
            if synchronous not in _SYNCHRONOUS:
                raise ConfigurationError(f"sqlite synchronous must be one of {_SYNCHRONOUS}")
        else:
            raise ConfigurationError(
                f"unknown sqlite option {name!r}; known options: timeout, synchronous"
            )
    return path, timeout, synchronous


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced, so finished threads release theirs."""


# --------------------------------------------------------------------------- storage


class SQLiteStorage:
    """A ``Storage`` in one SQLite file; ``SQLiteStorage("sqlite:///suolink.db")``.

    Opening creates the file if needed and migrates it; errors then are
    ``BackendUnavailable`` (cannot open) or ``BackendError`` (not a suolink database).
    """

    def __init__(self, url: str = "sqlite:///suolink.db") -> None:
        self.url = redact_url(url)
        self.path, self.timeout, self.synchronous = _parse_url(url)
        self._closed = False
        self._pid = os.getpid()
        self._local = threading.local()
        self._conns: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._orphans: list[_Connection] = []  # a parent's connections, never touched
        self._state_lock = threading.Lock()
        self._shared: _Connection | None = None
        self._shared_lock = threading.RLock()
        with self._errors("open"):
            conn = self._connect()
            try:
                migrate(conn)
            except BaseException:
                conn.close()
                raise
        if self.path == ":memory:":
            self._shared = conn
        else:
            self._local.conn = conn
        self._conns.add(conn)

    def __repr__(self) -> str:
        return f"SQLiteStorage({self.url!r})"

    # -- connections --------------------------------------------------------------

    def _connect(self) -> _Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=_Connection,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if self.path != ":memory:":
                self._use_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment alone with the file and does not wait on the
        # busy handler, so a new file opened by several processes at once retries here.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if _primary(exc) not in (5, 6) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
                continue
            if str(mode).lower() != "wal":
                raise BackendError(f"SQLite refused WAL mode for {self.path} (got {mode!r})")
            return

    def _thread_connection(self) -> _Connection:
        if self._closed:
            raise BackendUnavailable(f"the storage {self.url} is closed")
        if os.getpid() != self._pid:
            # A forked child must never use (or close) its parent's connections.
            with self._state_lock:
                if os.getpid() != self._pid:
                    self._orphans.extend(self._conns)
                    self._conns = weakref.WeakSet()
                    self._local = threading.local()
                    self._pid = os.getpid()
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._state_lock:
                self._conns.add(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._shared is not None:
            with self._shared_lock:
                if self._closed:
                    raise BackendUnavailable(f"the storage {self.url} is closed")
                yield self._shared
        else:
            yield self._thread_connection()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back if not."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn driver exceptions into ``BackendError`` / ``BackendUnavailable``."""
        try:
            yield
        except sqlite3.Error as exc:
            message = f"SQLite could not {doing} ({self.url}): {exc}"
            text = str(exc).lower()
            if _primary(exc) in _UNAVAILABLE_CODES or any(w in text for w in _UNAVAILABLE_WORDS):
                raise BackendUnavailable(message, original=exc) from exc
            raise BackendError(message, original=exc) from exc

    # -- the Storage protocol -------------------------------------------------------

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, atomically; raise ``CodeTaken`` if not."""
        stored = normalise_link(link)
        created_us = to_micros(stored.created_at)
        with self._errors("create a link"):
            try:
                with self._write() as conn:
                    conn.execute(_INSERT_LINK, _link_row(stored))
                    conn.executemany(
                        "INSERT INTO link_tags (code, tag, created_us) VALUES (?, ?, ?)",
                        [(stored.code, tag, created_us) for tag in set(stored.tags)],
                    )
            except sqlite3.IntegrityError as exc:
                raise CodeTaken(stored.code) from exc
        return stored

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None."""
        if not code_ok(code):
            return None
        with self._errors("read a link"), self._connection() as conn:
            rows = conn.execute(f"{_SELECT_LINK} WHERE code = ?", (code,)).fetchall()
        return _to_link(rows[0]) if rows else None

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` in one IMMEDIATE transaction; ``LinkNotFound`` if absent."""
        checked = normalise_changes(changes)
        if not code_ok(code):
            raise LinkNotFound(str(code))
        with self._errors("update a link"), self._write() as conn:
            rows = conn.execute(f"{_SELECT_LINK} WHERE code = ?", (code,)).fetchall()
            if not rows:
                raise LinkNotFound(code)
            old = _to_link(rows[0])
            new = replace(old, **checked)
            conn.execute(_UPDATE_LINK, (*_link_values(new), code))
            if new.tags != old.tags:
                created_us = rows[0][3]
                conn.execute("DELETE FROM link_tags WHERE code = ?", (code,))
                conn.executemany(
                    "INSERT INTO link_tags (code, tag, created_us) VALUES (?, ?, ?)",
                    [(code, tag, created_us) for tag in set(new.tags)],
                )
        return new

    def delete(self, code: str) -> bool:
        """Remove the link, its tags and its visits in one transaction; True if it existed."""
        if not code_ok(code):
            return False
        with self._errors("delete a link"), self._write() as conn:
            conn.execute("DELETE FROM visits WHERE code = ?", (code,))
            conn.execute("DELETE FROM link_tags WHERE code = ?", (code,))
            deleted = conn.execute("DELETE FROM links WHERE code = ?", (code,)).rowcount
        return deleted > 0

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given."""
        check_limit(limit)
        check_tag(tag)
        after = None if cursor is None else decode_cursor(cursor)
        with self._errors("list links"), self._connection() as conn:
            if tag is None:
                if after is None:
                    rows = conn.execute(_LIST, (limit + 1,)).fetchall()
                else:
                    rows = conn.execute(_LIST_AFTER, (*after, limit + 1)).fetchall()
            elif after is None:
                rows = conn.execute(_LIST_TAG, (tag, limit + 1)).fetchall()
            else:
                rows = conn.execute(_LIST_TAG_AFTER, (tag, *after, limit + 1)).fetchall()
        links = tuple(_to_link(row) for row in rows[:limit])
        more = len(rows) > limit
        return LinkPage(
            links=links, next_cursor=encode_cursor(link_key(links[-1])) if more else None
        )

    def next_id(self) -> int:
        """A number never handed out before by this store (atomic, starts at 1)."""
        with self._errors("count"), self._write() as conn:
            rows = conn.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'links' RETURNING value"
            ).fetchall()
        return int(rows[0][0])

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` in one transaction, unless ``max_visits`` is reached."""
        visit = normalise_visit(visit)
        row = (
            to_micros(visit.at),
            visit.code,
            visit.at.isoformat(),
            visit.ip,
            visit.user_agent,
            visit.referer,
            visit.app,
            visit.os,
            visit.device,
            int(visit.is_bot),
            visit.language,
            visit.visitor_id,
            visit.browser,
            visit.outcome,
        )
        with self._errors("record a visit"), self._write() as conn:
            if count:
                bumped = conn.execute(
                    "UPDATE links SET visits = visits + 1 WHERE code = ? "
                    "AND (max_visits IS NULL OR visits < max_visits) RETURNING visits",
                    (visit.code,),
                ).fetchall()
                if bumped:
                    conn.execute(_INSERT_VISIT, row)
                    return VisitResult(allowed=True, visits=int(bumped[0][0]))
            current = conn.execute(
                "SELECT visits FROM links WHERE code = ?", (visit.code,)
            ).fetchall()
            if not current:
                raise LinkNotFound(visit.code)
            if count:  # the link exists, so the UPDATE found it at its limit
                return VisitResult(allowed=False, visits=int(current[0][0]))
            conn.execute(_INSERT_VISIT, row)
            return VisitResult(allowed=True, visits=int(current[0][0]))

    def visits(
        self,
        code: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``.

        Read lazily, a few hundred at a time, so a link with millions of visits streams.
        """
        low, high = check_window(since, until)
        if limit is not None:
            check_limit(limit, maximum=None)
        if not code_ok(code):
            return iter(())
        return self._iter_visits(
            code, _MIN_US if low is None else low, _MAX_US if high is None else high, limit
        )

    def _iter_visits(self, code: str, low: int, high: int, limit: int | None) -> Iterator[Visit]:
        def fetch(after: tuple[int, int], size: int) -> list[Any]:
            with self._errors("read visits"), self._connection() as conn:
                rows: list[Any] = conn.execute(
                    _SELECT_VISITS, (code, low, high, *after, size)
                ).fetchall()
            return rows

        for row in visit_pages(fetch, lambda row: (row[1], row[0]), limit):
            yield _to_visit(row)

    def check(self) -> None:
        """Raise ``BackendUnavailable`` if the file cannot be read right now."""
        try:
            with self._errors("be reached"), self._connection() as conn:
                conn.execute("SELECT MAX(version) FROM schema_version").fetchall()
        except BackendUnavailable:
            raise
        except BackendError as exc:
            raise BackendUnavailable(str(exc), original=exc.original) from exc

    def close(self) -> None:
        """Close every thread's connection; later calls raise ``BackendUnavailable``."""
        with self._state_lock, self._shared_lock:
            self._closed = True
            conns = list(self._conns)
            self._conns = weakref.WeakSet()
            self._shared = None
            self._local = threading.local()
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF
