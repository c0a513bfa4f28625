"""``sqlite:///path.db``: links in one SQLite file, shared safely by threads and processes.

* WAL journal, so readers never wait for the writer; ``synchronous=NORMAL`` by default.
* A busy timeout (``?timeout=5``, seconds) instead of "database is locked" errors.
* One connection per thread (thread-local); ``close()`` closes every one of them.
* Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes can never
  interleave a read and a write: create relies on the primary key (insert, catch the
  conflict), and ``record_visit`` checks ``max_visits`` and counts in one ``UPDATE``.
* ``schema_version`` records the applied migrations; opening a file brings it forward.
* Columns are named after the fields in :mod:`suolink.fields`; fields without a column
  of their own live in the ``extra`` JSON object (no migration for a new setting).

* Stats come from counts kept at write time (``KeepsAggregates``): ``visit_counts``
  holds visits per (link, dimension, UTC day, value) and ``visitor_counts`` people's
  visits per (link, visitor), both updated in the transaction that records the visit.
  A user agent is stored once in ``user_agents``; a visit holds its ``ua_id``.
* ``retention_days=N`` drops raw visits older than N days (before the visit being
  recorded) a small batch at a time while recording; the counts stay.
* The file deleted or replaced under a running process is noticed on the next call
  (its inode changed): the connection is reopened on the new file, migrated, and a
  warning logged, so the process recovers instead of failing every request.

URLs: ``sqlite:///relative.db`` (from the current folder), ``sqlite:////abs/path.db``,
``sqlite:///:memory:`` (one private database, one connection behind a lock). Options go
in the query string: ``timeout`` (seconds, default 5), ``synchronous``
(``off|normal|full|extra``, default ``normal``) and ``retention_days`` (0 to 36500,
default 0: keep every raw visit).

Indexes (what the benchmarks exercise): ``links`` primary key ``code``;
``links_by_created (created_us, code)`` for newest-first listing;
``link_tags_by_tag (tag, created_us, code)`` for listing one tag;
``visits_by_code (code, at_us)`` for a link's visits in time order (and delete);
``visits_by_time (at_us)`` for retention; ``visit_counts`` primary key
``(code, dimension, day, value)``; ``visitor_counts_by_n (code, n DESC, visitor)`` for
the top visitors.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import (
    BackendError,
    BackendUnavailable,
    ConfigurationError,
    InvalidOption,
    LinkNotFound,
)
from ..models import Link, Visit, VisitRecord, VisitResult
from ..people import is_people_link, scope_of, scopes
from . import redact_url
from ._common import DAY_US as _DAY_US
from ._common import (
    Position,
    code_ok,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_dimensions,
)
from .base import DIMENSIONS, TOP, PeopleTotals, PersonRow, StatsCounts
from .batching import OPTION_NAMES as BATCH_OPTION_NAMES
from .batching import BatchOptions
from .domain_rows import DomainRows
from .relational import ALL_TIME as _ALL_TIME
from .relational import (
    CONVERSION_COLUMNS,
    PLAIN_VISIT_FIELDS,
    Derived,
    LinkTable,
    RelationalConversions,
    RelationalPeople,
    visit_from_row,
)
from .relational import FIRST_DAY as _FIRST_DAY
from .relational import PEOPLE as _PEOPLE
from .relational import count_cells as _count_cells
from .relational import day_bounds as _day_bounds
from .relational import replayed as _replayed
from .sql_outbox import Ran, Run, SqlOutbox

__all__ = [
    "DEFAULT_TIMEOUT",
    "LINK_CHECK",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLiteStorage",
    "migrate",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
_SYNCHRONOUS = ("off", "normal", "full", "extra")
MAX_RETENTION_DAYS = 36_500
#: Raw visits dropped per retention step: small, so no write holds the lock for long.
RETENTION_BATCH = 200
#: Seconds between retention steps while the previous step found nothing more to drop.
_RETENTION_PAUSE = 1.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)

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

_V4 = _statements("ALTER TABLE links ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'")

_V5 = _statements(
    "CREATE TABLE tombstones (code TEXT PRIMARY KEY NOT NULL, deleted_at TEXT NOT NULL)"
    " WITHOUT ROWID"
)


_V7 = _statements(
    "ALTER TABLE visits ADD COLUMN country TEXT",
    "ALTER TABLE visits ADD COLUMN region TEXT",
    "ALTER TABLE visits ADD COLUMN city TEXT",
    "ALTER TABLE visits ADD COLUMN arm TEXT",
)

#: The webhook outbox (see :mod:`suolink.backends.sql_outbox`).
_V11 = _statements(
    """CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY NOT NULL, created_us INTEGER NOT NULL, data TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE webhook_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        endpoint_id TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_us INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        state INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX webhook_outbox_line ON webhook_outbox (endpoint_id, state, seq)",
    "CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_us)",
    """CREATE TABLE webhook_deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        event TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at_us INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (at_us)",
    "CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq)",
)


_V10 = _statements(
    "CREATE TABLE domains (name TEXT PRIMARY KEY NOT NULL, added_us INTEGER NOT NULL,"
    " data TEXT NOT NULL) WITHOUT ROWID",
    "ALTER TABLE visits ADD COLUMN domain TEXT",
)


_V9 = _statements(
    """CREATE TABLE conversions (
        id INTEGER PRIMARY KEY,
        click_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        code TEXT NOT NULL REFERENCES links (code) ON DELETE CASCADE,
        at TEXT NOT NULL,
        at_us INTEGER NOT NULL,
        clicked_at TEXT NOT NULL,
        visitor_id TEXT,
        value TEXT,
        currency TEXT,
        UNIQUE (code, click_id, kind)
    )""",
    "CREATE INDEX conversions_by_code ON conversions (code, at_us)",
)


_VISIT_TEXT_COLUMNS = (
    "ip",
    "referer",
    "app",
    "os",
    "device",
    "is_bot",
    "language",
    "visitor_id",
    "browser",
    "outcome",
)


def _v6(conn: sqlite3.Connection) -> None:
    """Intern user agents, keep counts per day and dimension, index visits by time.

    ``visits`` is rebuilt (``ua_id`` instead of ``user_agent``), the portable way to
    drop a column; the counts are backfilled from the visits already recorded.
    """
    kept = ", ".join(_VISIT_TEXT_COLUMNS)
    read = ", ".join(f"v.{c}" for c in _VISIT_TEXT_COLUMNS)
    _statements(
        "CREATE TABLE user_agents (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
        "INSERT OR IGNORE INTO user_agents (text) SELECT user_agent FROM visits ORDER BY id",
        """CREATE TABLE visits_v6 (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL REFERENCES links (code) ON DELETE CASCADE,
            at TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            ip TEXT,
            ua_id INTEGER NOT NULL REFERENCES user_agents (id),
            referer TEXT,
            app TEXT,
            os TEXT,
            device TEXT,
            is_bot INTEGER NOT NULL,
            language TEXT,
            visitor_id TEXT,
            browser TEXT,
            outcome TEXT NOT NULL DEFAULT 'redirect'
        )""",
        f"INSERT INTO visits_v6 (id, code, at, at_us, ua_id, {kept}) "  # noqa: S608 - constant
        f"SELECT v.id, v.code, v.at, v.at_us, u.id, {read} "
        "FROM visits AS v JOIN user_agents AS u ON u.text = v.user_agent",
        "DROP TABLE visits",
        "ALTER TABLE visits_v6 RENAME TO visits",
        "CREATE INDEX visits_by_code ON visits (code, at_us)",
        "CREATE INDEX visits_by_time ON visits (at_us)",
        """CREATE TABLE visit_counts (
            code TEXT NOT NULL,
            dimension TEXT NOT NULL,
            day TEXT NOT NULL,
            value TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (code, dimension, day, value)
        ) WITHOUT ROWID""",
        """CREATE TABLE visitor_counts (
            code TEXT NOT NULL,
            visitor TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (code, visitor)
        ) WITHOUT ROWID""",
        "CREATE INDEX visitor_counts_by_n ON visitor_counts (code, n DESC, visitor)",
    )(conn)
    _backfill_counts(conn)


def _backfill_counts(conn: sqlite3.Connection) -> None:
    """Count the visits recorded before migration 6, as ``record_visit`` now does.

    Reads only the columns ``visits`` had then (later migrations add the others, which
    such visits lack: their fields stay None).
    """
    days: Counter[tuple[str, str, str, str]] = Counter()
    people: Counter[tuple[str, str]] = Counter()
    present = {row[1] for row in conn.execute("PRAGMA table_info(visits)")} | {"user_agent"}
    columns = tuple(c for c in _SELECTED_VISIT_COLUMNS if c in present)
    select = (
        "SELECT "  # noqa: S608 - constant column names
        + ", ".join("u.text" if c == "user_agent" else f"v.{c}" for c in columns)
        + " FROM visits AS v JOIN user_agents AS u ON u.id = v.ua_id ORDER BY v.id"
    )
    cursor = conn.execute(select)
    while rows := cursor.fetchmany(5000):
        for row in rows:
            fields = dict.fromkeys(_SELECTED_VISIT_COLUMNS) | dict(zip(columns, row, strict=True))
            visit = _row_visit(fields)
            cells, who = _count_cells(visit)
            days.update(cells)
            if who is not None:
                people[visit.code, who] += 1
    conn.executemany(
        "INSERT INTO visit_counts (code, dimension, day, value, n) VALUES (?, ?, ?, ?, ?)",
        [(*key, n) for key, n in days.items()],
    )
    conn.executemany(
        "INSERT INTO visitor_counts (code, visitor, n) VALUES (?, ?, ?)",
        [(*key, n) for key, n in people.items()],
    )
    distinct = Counter(code for code, _ in people)
    conn.executemany(
        "INSERT INTO visit_counts (code, dimension, day, value, n) VALUES (?, ?, ?, '', ?)",
        [(code, _PEOPLE, _ALL_TIME, n) for code, n in distinct.items()],
    )


_V8 = _statements(
    """CREATE TABLE people_links (
        code TEXT PRIMARY KEY NOT NULL,
        campaign TEXT,
        recipient TEXT
    ) WITHOUT ROWID""",
    "CREATE INDEX people_links_by_recipient ON people_links (recipient)",
    "CREATE INDEX people_links_by_campaign ON people_links (campaign, code)",
    """CREATE TABLE people_visitors (
        scope TEXT NOT NULL,
        visitor TEXT NOT NULL,
        clicks INTEGER NOT NULL,
        links INTEGER NOT NULL,
        first_us INTEGER,
        last_us INTEGER,
        PRIMARY KEY (scope, visitor)
    ) WITHOUT ROWID""",
    "CREATE INDEX people_visitors_by_clicks ON people_visitors (scope, clicks DESC, visitor)",
    "CREATE INDEX people_visitors_by_visitor ON people_visitors (visitor)",
    """CREATE TABLE people_visitor_links (
        scope TEXT NOT NULL,
        visitor TEXT NOT NULL,
        code TEXT NOT NULL,
        PRIMARY KEY (scope, visitor, code)
    ) WITHOUT ROWID""",
    """CREATE TABLE people_recipients (
        scope TEXT NOT NULL,
        recipient TEXT NOT NULL,
        clicks INTEGER NOT NULL,
        links INTEGER NOT NULL,
        first_us INTEGER,
        last_us INTEGER,
        own TEXT,
        reach INTEGER NOT NULL,
        PRIMARY KEY (scope, recipient)
    ) WITHOUT ROWID""",
    "CREATE INDEX people_recipients_by_clicks ON people_recipients (scope, clicks DESC, recipient)",
    "CREATE INDEX people_recipients_by_recipient ON people_recipients (recipient)",
    """CREATE TABLE people_recipient_links (
        scope TEXT NOT NULL,
        recipient TEXT NOT NULL,
        code TEXT NOT NULL,
        PRIMARY KEY (scope, recipient, code)
    ) WITHOUT ROWID""",
    """CREATE TABLE people_recipient_visitors (
        scope TEXT NOT NULL,
        recipient TEXT NOT NULL,
        visitor TEXT NOT NULL,
        PRIMARY KEY (scope, recipient, visitor)
    ) WITHOUT ROWID""",
    "CREATE INDEX people_recipient_visitors_by_visitor ON people_recipient_visitors (visitor)",
    # Links made before: their campaign and recipient are in ``extra``.
    "INSERT INTO people_links (code, campaign, recipient) "
    "SELECT code, json_extract(extra, '$.campaign'), json_extract(extra, '$.recipient') "
    "FROM links WHERE json_extract(extra, '$.campaign') IS NOT NULL "
    "OR json_extract(extra, '$.recipient') IS NOT NULL",
)


#: The counter link changes move (see :func:`_v12`); visits leave it alone.
LINK_VERSION = "link_version"


def _link_version_triggers(conn: sqlite3.Connection) -> None:
    """(Re)create the triggers that move ``counters.link_version`` on every link change.

    An insert, a delete, and an update of any column but ``visits`` (a visit's count is
    not a change of the link): every writer moves it, old suolink versions and plain
    ``sqlite3`` included, so a process's link cache sees changes made anywhere. A later
    migration adding a column to ``links`` must call this again (a test checks it).
    """
    columns = [row[1] for row in conn.execute("PRAGMA table_info(links)") if row[1] != "visits"]
    bump = f"UPDATE counters SET value = value + 1 WHERE name = '{LINK_VERSION}'"  # noqa: S608
    for name, event in (
        ("insert", "INSERT"),
        ("delete", "DELETE"),
        ("update", f"UPDATE OF {', '.join(columns)}"),
    ):
        conn.execute(f"DROP TRIGGER IF EXISTS links_version_{name}")
        conn.execute(
            f"CREATE TRIGGER links_version_{name} AFTER {event} ON links BEGIN {bump}; END"
        )


def _v12(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)", (LINK_VERSION,))
    _link_version_triggers(conn)


_V13 = _statements(
    # A visit adds 1 to two rows here (its UTC day's and all time's, day ''), keyed by its
    # combination of counted values (JSON of visit_dimensions), instead of ~15 cells of
    # visit_counts; reads sum both tables, so cells written before (or by an older
    # process during an upgrade) still count.
    """CREATE TABLE visit_cubes (
        code TEXT NOT NULL,
        day TEXT NOT NULL,
        combo TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (code, day, combo)
    ) WITHOUT ROWID""",
    # A link's number of people: the rows of visitor_counts, kept by triggers (whoever
    # writes them, old versions included), so a visit need not ask who is new.
    "CREATE TABLE link_people (code TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO link_people (code, n) SELECT code, COUNT(*) FROM visitor_counts GROUP BY code",
    """CREATE TRIGGER link_people_insert AFTER INSERT ON visitor_counts BEGIN
        INSERT OR IGNORE INTO link_people (code, n) VALUES (new.code, 0);
        UPDATE link_people SET n = n + 1 WHERE code = new.code;
    END""",
    """CREATE TRIGGER link_people_delete AFTER DELETE ON visitor_counts BEGIN
        UPDATE link_people SET n = n - 1 WHERE code = old.code;
    END""",
)


#: (version, what it does, step). Steps run in order inside one IMMEDIATE transaction;
#: add new ones at the end and never edit a released one.
MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "links, counters and visits", _V1),
    (2, "link_tags table for the tag filter; index for newest-first listing", _v2),
    (3, "visits: visitor id, browser and outcome", _V3),
    (4, "links: extra, a JSON object of the fields without a column of their own", _V4),
    (5, "tombstones: deleted codes that are never handed out again", _V5),
    (6, "interned user agents; visit counts per day and dimension; visits by time", _v6),
    (7, "visits: country, region and city (GeoIP), weighted-split arm", _V7),
    (8, "people across links: campaigns and recipients, visitors, reach", _V8),
    (9, "conversions: leads, sales … reported on click ids, one per (link, click id, kind)", _V9),
    (10, "domains: short domains, their pools and states; visits: the domain", _V10),
    (11, "webhooks: endpoints, the outbox and the delivery log", _V11),
    (12, "link_version: a counter every link change moves, visits not (the link cache)", _v12),
    (13, "visit cubes: two count rows per visit; link_people kept by triggers", _V13),
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


def _adapt_none_and_bool_in_one_step() -> None:
    """Register adapters for ``None`` (to itself) and ``bool`` (to ``int``) with
    ``sqlite3``, unless the program registered its own: what is bound is unchanged (NULL,
    0 or 1), only cheaper.

    ``sqlite3`` binds ``int``, ``float`` and ``str`` as they are, but looks every other
    value up as an adapter first, and a miss asks ``PrepareProtocol`` for ``__adapt__``,
    which raises and clears an ``AttributeError``: about 0.6 µs per ``None`` or ``bool``.
    A visit's row has about ten of them; with an adapter each is a dictionary hit and
    a call in C. The registry is the ``sqlite3`` module's, shared by the process: other
    code's ``None`` and ``bool`` values bind as before, faster.
    """
    pairs: tuple[tuple[type, Callable[[Any], Any]], ...] = ((type(None), {}.get), (bool, int))
    for kind, adapt in pairs:
        if (kind, sqlite3.PrepareProtocol) not in sqlite3.adapters:
            sqlite3.register_adapter(kind, adapt)


_adapt_none_and_bool_in_one_step()

#: Columns of ``links`` that are not ``Link`` fields.
_DERIVED = (Derived("created_us", "created_at", to_micros),)

#: Columns a visit is read as, by name: ``user_agent`` is joined back from ``user_agents``.
_VISIT_COLUMNS = ("code", "at", "at_us", *PLAIN_VISIT_FIELDS)
#: Columns of a ``visits`` row besides ``id``: the user agent as its ``ua_id``.
_STORED_VISIT_COLUMNS = tuple(
    "ua_id" if column == "user_agent" else column for column in _VISIT_COLUMNS
)
#: A ``visits`` row by position, for batches: code, at, at_us, then the plain fields in
#: ``PLAIN_VISIT_FIELDS`` order with ``ua_id`` for the user agent. A :data:`VisitRecord`
#: holds them in the same order (``_insert_visits`` relies on it; checked here).
_FIELD_NAMES = tuple(f.name for f in dataclass_fields(Visit))
if _FIELD_NAMES[2:4] != ("ip", "user_agent") or _FIELD_NAMES[2:] != PLAIN_VISIT_FIELDS:
    raise AssertionError("a VisitRecord no longer matches the visits row")  # pragma: no cover
_INSERT_VISIT_ROW = (
    f"INSERT INTO visits ({', '.join(_STORED_VISIT_COLUMNS)}) "  # noqa: S608 - constant text
    f"VALUES ({', '.join('?' * len(_STORED_VISIT_COLUMNS))})"
)
#: The fields of a :data:`VisitRecord` that :func:`visit_dimensions` reads (outcome,
#: is_bot, app, os, device, browser, referer, country, arm, domain): visits equal in
#: these add to the same ``visit_cubes`` rows (of their link and day).
_COMBO_OF = itemgetter(12, 8, 5, 6, 7, 11, 4, 13, 16, 17)
_CODE_OF = itemgetter(0)
#: Combinations (their JSON) remembered by a store before it starts again.
_COMBO_CACHE = 4096
#: User agents' ids remembered by a store before it starts again.
_USER_AGENT_CACHE = 4096
#: Page cache (KiB) and WAL pages between checkpoints of a connection writing visits.
VISIT_CACHE_KB = 32_000
VISIT_CHECKPOINT = 10_000
_SELECTED_VISIT_COLUMNS = ("id", *_VISIT_COLUMNS)
_SELECT_VISIT_FROM = (
    "SELECT "  # noqa: S608 - constant text
    + ", ".join("u.text" if c == "user_agent" else f"v.{c}" for c in _SELECTED_VISIT_COLUMNS)
    + " FROM visits AS v JOIN user_agents AS u ON u.id = v.ua_id"
)
_SELECT_VISITS = (
    f"{_SELECT_VISIT_FROM} "
    "WHERE v.code = ? AND v.at_us >= ? AND v.at_us < ? AND (v.at_us, v.id) > (?, ?) "
    "ORDER BY v.at_us, v.id LIMIT ?"
)
_ADD_CELL = (
    "INSERT INTO visit_counts (code, dimension, day, value, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (code, dimension, day, value) DO UPDATE SET n = n + excluded.n"
)
# The batch writer's statements: each handles a whole batch in one SQLite step (see
# _insert_many), lists and maps passed as one JSON parameter.
_INSERT_VISITS_HEAD = f"INSERT INTO visits ({', '.join(_STORED_VISIT_COLUMNS)})"
_VISIT_WIDTH = len(_STORED_VISIT_COLUMNS)
_ADD_CUBES_HEAD = "INSERT INTO visit_cubes (code, day, combo, n)"
_ADD_CUBES_TAIL = " ON CONFLICT (code, day, combo) DO UPDATE SET n = n + excluded.n"
_ADD_CELLS_HEAD = "INSERT INTO visit_counts (code, dimension, day, value, n)"
_ADD_CELLS_TAIL = " ON CONFLICT (code, dimension, day, value) DO UPDATE SET n = n + excluded.n"
_ADD_VISITORS_HEAD = "INSERT INTO visitor_counts (code, visitor, n)"
_ADD_VISITORS_TAIL = " ON CONFLICT (code, visitor) DO UPDATE SET n = n + excluded.n"
# A batch's links: count, limit and, for a people link, its campaign and recipient (one
# statement: each one the writer steps lets go of the GIL and must win it back).
_LINK_STATES = (
    "SELECT json_group_array(json_array(l.code, l.visits, l.max_visits, "
    "p.code IS NOT NULL, p.campaign, p.recipient)) "
    "FROM json_each(?) AS j CROSS JOIN links AS l ON l.code = j.value "
    "LEFT JOIN people_links AS p ON p.code = l.code"
)
_ADD_LINK_VISITS = (
    "UPDATE links SET visits = visits + j.value FROM json_each(?) AS j WHERE links.code = j.key"
)
# The same for a batch of one link (a lone durable redirect): no JSON to make and parse.
_LINK_STATE = (
    "SELECT l.code, l.visits, l.max_visits, p.code IS NOT NULL, p.campaign, p.recipient "
    "FROM links AS l LEFT JOIN people_links AS p ON p.code = l.code WHERE l.code = ?"
)
_ADD_ONE_LINK_VISITS = "UPDATE links SET visits = visits + ? WHERE code = ?"
_USER_AGENT_IDS = (
    "SELECT json_group_object(u.text, u.id) "
    "FROM json_each(?) AS j CROSS JOIN user_agents AS u ON u.text = j.value"
)
_PEOPLE_LINKS = (
    "SELECT json_group_array(json_array(p.code, p.campaign, p.recipient)) "
    "FROM json_each(?) AS j CROSS JOIN people_links AS p ON p.code = j.value"
)
#: Most rows one multi-row ``VALUES`` statement holds (a power of two).
_MOST_ROWS = 256
_ADD_VISITOR = (
    "INSERT INTO visitor_counts (code, visitor, n) VALUES (?, ?, ?) "
    "ON CONFLICT (code, visitor) DO UPDATE SET n = n + excluded.n"
)
# People across links (TracksPeople): a click's rows, updated in the visit's transaction.
_PUT_PEOPLE_LINK = (
    "INSERT INTO people_links (code, campaign, recipient) VALUES (?, ?, ?) "
    "ON CONFLICT (code) DO UPDATE SET campaign = excluded.campaign, "
    "recipient = excluded.recipient"
)
_ADD_RECIPIENT = (
    "INSERT OR IGNORE INTO people_recipients "
    "(scope, recipient, clicks, links, first_us, last_us, own, reach) "
    "VALUES (?, ?, 0, 0, NULL, NULL, NULL, 0)"
)
_VISITOR_LINK = "INSERT OR IGNORE INTO people_visitor_links (scope, visitor, code) VALUES (?, ?, ?)"
_VISITOR_CLICK = (
    "INSERT INTO people_visitors (scope, visitor, clicks, links, first_us, last_us) "
    "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (scope, visitor) DO UPDATE SET "
    "clicks = clicks + 1, links = links + excluded.links, "
    "first_us = MIN(first_us, excluded.first_us), last_us = MAX(last_us, excluded.last_us)"
)
_RECIPIENT_LINK = (
    "INSERT OR IGNORE INTO people_recipient_links (scope, recipient, code) VALUES (?, ?, ?)"
)
_RECIPIENT_VISITOR = (
    "INSERT OR IGNORE INTO people_recipient_visitors (scope, recipient, visitor) VALUES (?, ?, ?)"
)
# ``own`` is the first visitor; every later new visitor adds one to ``reach``.
_RECIPIENT_CLICK = (
    "INSERT INTO people_recipients "
    "(scope, recipient, clicks, links, first_us, last_us, own, reach) "
    "VALUES (:scope, :recipient, 1, :new_link, :at, :at, :who, 0) "
    "ON CONFLICT (scope, recipient) DO UPDATE SET "
    "clicks = clicks + 1, links = links + excluded.links, "
    "first_us = MIN(COALESCE(first_us, excluded.first_us), excluded.first_us), "
    "last_us = MAX(COALESCE(last_us, excluded.last_us), excluded.last_us), "
    "own = COALESCE(own, excluded.own), "
    "reach = reach + (CASE WHEN :new_person AND own IS NOT NULL THEN 1 ELSE 0 END)"
)
_TOP_PEOPLE = {
    "visitor": (
        "SELECT visitor, clicks, links, first_us, last_us, 0, NULL FROM people_visitors "
        "WHERE scope = ? AND clicks >= ? ORDER BY clicks DESC, visitor LIMIT ?"
    ),
    "recipient": (
        "SELECT recipient, clicks, links, first_us, last_us, reach, own FROM people_recipients "
        "WHERE scope = ? AND clicks >= ? ORDER BY clicks DESC, recipient LIMIT ?"
    ),
}

#: Links (or "no such link") kept by one process's link cache before it starts again.
LINK_CACHE_SIZE = 10_000
_DATA_VERSION = "PRAGMA data_version"
#: Seconds between ``peek``'s checks that the file was not deleted or replaced.
_FILE_CHECK = 0.05
#: Seconds ``peek`` serves the link cache without asking whether another process changed
#: a link (changes through the same store are seen at once).
LINK_CHECK = 0.005
_LINK_VERSION_SQL = f"SELECT value FROM counters WHERE name = '{LINK_VERSION}'"  # noqa: S608


def _row_visit(row: dict[str, Any]) -> Visit:
    return visit_from_row(row, code=row["code"], at=datetime.fromisoformat(row["at"]))


@dataclass(frozen=True, slots=True)
class _LinkSQL:
    """The statements on ``links`` for one :class:`LinkTable`, every column by name."""

    #: What ``select`` and the page queries return, in order.
    columns: tuple[str, ...]
    select: str
    insert: str
    update: str
    #: ``(tagged, after a cursor)`` -> a page query, newest first.
    pages: dict[tuple[bool, bool], str]

    @classmethod
    def of(cls, table: LinkTable) -> _LinkSQL:
        columns = table.columns()
        select = f"SELECT {', '.join(columns)} FROM links"  # noqa: S608 - names from fields.py
        tagged = (
            f"SELECT {', '.join(f'l.{c} AS {c}' for c in columns)} "  # noqa: S608
            "FROM link_tags AS t JOIN links AS l ON l.code = t.code WHERE t.tag = ?"
        )
        pages: dict[tuple[bool, bool], str] = {}
        for is_tagged, base, t, glue in ((False, select, "", "WHERE"), (True, tagged, "t.", "AND")):
            order = f" ORDER BY {t}created_us DESC, {t}code DESC LIMIT ?"
            pages[is_tagged, False] = base + order
            pages[is_tagged, True] = f"{base} {glue} ({t}created_us, {t}code) < (?, ?){order}"
        changed = ", ".join(f"{c} = :{c}" for c in table.columns(update=True))
        return cls(
            columns=columns,
            select=f"{select} WHERE code = ?",
            insert=f"INSERT INTO links ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join(':' + c for c in columns)})",
            update=f"UPDATE links SET {changed} WHERE code = :code",  # noqa: S608
            pages=pages,
        )


# --------------------------------------------------------------------------- URL


_NO_BATCH_OPTIONS = BatchOptions()


@dataclass(frozen=True, slots=True)
class _Options:
    """What a ``sqlite://`` URL says."""

    path: str
    timeout: float = DEFAULT_TIMEOUT
    synchronous: str = "normal"
    retention_days: int = 0
    batch: BatchOptions = _NO_BATCH_OPTIONS


def _parse_url(url: str) -> _Options:
    """The options of a ``sqlite://`` URL; ``ConfigurationError`` if it is not one."""
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
    timeout, synchronous, retention = DEFAULT_TIMEOUT, "normal", 0
    batch = BatchOptions()
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
        elif name == "retention_days":
            retention = int(value) if value.isascii() and value.isdigit() else -1
            if not 0 <= retention <= MAX_RETENTION_DAYS:
                raise ConfigurationError(
                    f"sqlite retention_days must be a whole number from 0 to "
                    f"{MAX_RETENTION_DAYS}: {value!r}"
                )
        elif name in BATCH_OPTION_NAMES:
            batch = batch.with_option(name, value)
        else:
            raise ConfigurationError(
                f"unknown sqlite option {name!r}; known options: timeout, synchronous, "
                f"retention_days, {', '.join(BATCH_OPTION_NAMES)}"
            )
    return _Options(path, timeout, synchronous, retention, batch)


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced, so finished threads release theirs.

    ``identity`` is the (device, inode) of the file it opened: when the path names
    another file (or none), the file was deleted or replaced under us.
    """

    identity: tuple[int, int] | None = None
    #: A link was inserted, changed or deleted in the open transaction.
    links_changed: bool = False
    #: Tuned for writing visit batches (see ``_tune_for_visits``).
    writes_visits: bool = False


def _identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) of ``path``, or None if there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


# --------------------------------------------------------------------------- storage


_CONVERSION_LIST = ", ".join(CONVERSION_COLUMNS)
_INSERT_CONVERSION = (
    f"INSERT INTO conversions ({_CONVERSION_LIST}) "  # noqa: S608 - constant columns
    f"VALUES ({', '.join(':' + c for c in CONVERSION_COLUMNS)}) "
    "ON CONFLICT (code, click_id, kind) DO NOTHING"
)


class SQLiteStorage(
    SqlOutbox,
    DomainRows[sqlite3.Connection],
    RelationalConversions[sqlite3.Connection],
    RelationalPeople[sqlite3.Connection],
):
    """A ``Storage`` in one SQLite file; ``SQLiteStorage("sqlite:///suolink.db")``.

    Opening creates the file if needed and migrates it; errors then are
    ``BackendUnavailable`` (cannot open) or ``BackendError`` (not a suolink database).
    """

    _conflict = (sqlite3.IntegrityError,)

    def __init__(self, url: str = "sqlite:///suolink.db") -> None:
        self.url = redact_url(url)
        options = _parse_url(url)
        self.path = options.path
        self.timeout = options.timeout
        self.synchronous = options.synchronous
        #: Raw visits older than this many days are dropped while recording (0: never).
        self.retention_days = options.retention_days
        self._retention_due = 0.0  # time.monotonic() of the next retention step
        self._table = LinkTable(derived=_DERIVED)
        self._sql = _LinkSQL.of(self._table)
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
        self._migrated = conn.identity  # the file the migrations were applied to
        self._conns.add(conn)
        # The link cache: links (or "no such link") as read at a link version, each with
        # the PRAGMA data_version of one connection that never writes (the watch) when it
        # was read. Any commit anywhere moves data_version; only link changes move the
        # link version (triggers on ``links``), so visits' commits leave the cache alone.
        self._watch: _Connection | None = None
        self._watch_pid = 0
        self._watch_lock = threading.Lock()
        self._cache: dict[str, tuple[Link | None, int]] = {}
        self._cache_version: tuple[int, int] = (-1, -1)  # (watch generation, link version)
        self._seen_version: tuple[int, int] = (-1, -1)  # (watch generation, data_version)
        self._watch_generation = 0
        self._file_checked = 0.0  # time.monotonic() of peek's last look at the file
        #: Until this time.monotonic(), peek trusts the cache without asking the version.
        self._fresh_until = 0.0
        #: ``_COMBO_OF`` of a visit -> its ``visit_cubes`` combination (see ``_combo``).
        self._combos: dict[tuple[Any, ...], str] = {}
        #: ``user_agents`` ids read from the file ``_ua_file`` (see ``_user_agent_ids``).
        self._ua_ids: dict[str, int] = {}
        self._ua_file: tuple[int, int] | None = None
        self._batch_visits(options.batch)

    def __repr__(self) -> str:
        return f"SQLiteStorage({self.url!r})"

    @contextmanager
    def _outbox_tx(self, doing: str, *, write: bool = True) -> Iterator[Run]:
        """The webhook outbox's statements, writes in one ``BEGIN IMMEDIATE`` transaction."""

        def run(sql: str, params: Mapping[str, Any]) -> Ran:
            cursor = conn.execute(sql, params)
            return Ran(cursor.fetchall(), cursor.rowcount)

        with self._write(doing) if write else self._read(doing) as conn:
            yield run

    # -- connections --------------------------------------------------------------

    def _connect(self) -> _Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=_Connection,
            cached_statements=256,  # the batch writer's multi-row statements among them
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
        if self.path != ":memory:":
            conn.identity = _identity(self.path)
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

    def _thread_connection(self, *, for_visits: bool = False) -> _Connection:
        """This thread's connection to the file (opened, or reopened if the file changed).

        ``for_visits``: its second one, which writes visit batches only (see
        :func:`_open_for_visits`).
        """
        self._check_open()
        if os.getpid() != self._pid:
            # A forked child must never use (or close) its parent's connections.
            with self._state_lock:
                if os.getpid() != self._pid:
                    self._orphans.extend(self._conns)
                    self._conns = weakref.WeakSet()
                    self._local = threading.local()
                    self._pid = os.getpid()
        slot = "visit_conn" if for_visits else "conn"
        conn: _Connection | None = getattr(self._local, slot, None)
        if conn is not None and conn.identity != _identity(self.path):
            self._drop(conn, slot)
            conn = None
        if conn is None:
            conn = self._open_connection()
            if for_visits:
                _open_for_visits(conn)
            setattr(self._local, slot, conn)
        return conn

    def _drop(self, old: _Connection, slot: str) -> None:
        """Forget this thread's connection to a file deleted or replaced since."""
        setattr(self._local, slot, None)
        gone = _identity(self.path) is None
        log.warning(
            "suolink: %s was %s; reopening it", self.path, "deleted" if gone else "replaced"
        )
        with self._state_lock:
            self._conns.discard(old)
            # Once no connection holds the old file open, a new file may get its inode
            # number: the next connection migrates whatever it finds (a no-op if done).
            self._migrated = None
        with suppress(sqlite3.Error):
            old.close()

    def _open_connection(self) -> _Connection:
        """A new connection for this thread, migrating the file if it is not the one known.

        A file deleted under us is created again; a journal it left behind (``-wal``,
        ``-shm``) would be replayed into the new empty file, so it goes first.
        """
        with self._state_lock:
            if _identity(self.path) is None:
                for suffix in ("-wal", "-shm"):
                    with suppress(FileNotFoundError):
                        os.remove(self.path + suffix)
            conn = self._connect()
            try:
                if conn.identity != self._migrated:
                    migrate(conn)
                    self._migrated = conn.identity
            except BaseException:
                conn.close()
                raise
            self._conns.add(conn)
        return conn

    @contextmanager
    def _reading(self, *, for_visits: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection to use: the one of a ``:memory:`` database (under its lock), or
        this thread's (its visit connection if ``for_visits``)."""
        if self._shared is not None:
            with self._shared_lock:
                self._check_open()  # close() may have won the race for the lock
                yield self._shared
        else:
            yield self._thread_connection(for_visits=for_visits)

    @contextmanager
    def _writing(self, *, visits: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back if not.

        ``visits``: a batch of visits whose links the caller reads in it, on this
        thread's visit connection (a file's; see :func:`_open_for_visits`).
        """
        with self._reading(for_visits=visits) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            finally:
                links_changed = getattr(conn, "links_changed", False)
                if links_changed:
                    conn.links_changed = False  # type: ignore[attr-defined]
            try:
                conn.execute("COMMIT")
            except BaseException:
                # A COMMIT that failed (busy, a full disk) may leave the transaction
                # open, and every later BEGIN on this connection would then fail.
                _rollback(conn)
                raise
            if links_changed:
                self._fresh_until = 0.0  # peek asks the link version again

    def _classify(self, exc: Exception) -> type[BackendError] | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc).lower()
        if _primary(exc) in _UNAVAILABLE_CODES or any(w in text for w in _UNAVAILABLE_WORDS):
            return BackendUnavailable
        return BackendError

    def _describe(self, doing: str) -> str:
        return f"SQLite could not {doing} ({self.url})"

    # -- the link cache ---------------------------------------------------------------

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None: from the cache while nothing changed.

        Any commit by any connection, in this process or another, changes the watch
        connection's ``PRAGMA data_version``; a cached link read before it is read again,
        so a link (and its ``visits``) is never older than the last commit before the call.
        """
        return self._cached(code, exact=True)

    def peek(self, code: str) -> Link | None:
        """The link as of the last change of any link, the same object until one changes.

        See :class:`~suolink.backends.base.HoldsLinksInProcess`. A change made through
        this store is seen by the next call; one made by another process (or plain
        ``sqlite3``), which moves the link version, within ``LINK_CHECK`` seconds (and
        the time of a check another thread is making): the version is asked at most that
        often, by one thread at a time (each question lets go of the GIL, and a thread
        writing visits takes it). Visits do not move it, so ``visits`` may be
        behind (``get`` reads it).
        """
        if type(code) is str:
            fresh = self._fresh_until
            # Stale by time while another thread asks the version (it holds the watch
            # lock): the cache as it was, rather than every thread queueing to ask too.
            # Stale by a change through this store (0.0): always asked.
            if time.monotonic() < fresh or (fresh and self._watch_lock.locked()):
                entry = self._cache.get(code)
                if entry is not None:
                    return entry[0]
        return self._cached(code, exact=False)

    def _cached(self, code: str, *, exact: bool) -> Link | None:
        if not code_ok(code):
            self._check_open()
            return None
        with self._errors("read a link"):
            shared = self._shared
            if shared is not None:
                with self._reading():
                    cache, now = self._shared_cache(shared)
                    entry = cache.get(code)
                    if entry is not None and not exact:
                        return entry[0]
                    row = self._select_link(shared, code)
            else:
                cache, now = self._current_cache(check_file=exact)
                entry = cache.get(code)
                if entry is not None and (not exact or entry[1] == now):
                    return entry[0]
                row = self._select_link(self._thread_connection(), code)
        found = None if row is None else self._to_link(row)
        with self._watch_lock:
            if self._cache is cache:  # no link changed since the version was read
                if len(cache) >= LINK_CACHE_SIZE:
                    cache.clear()
                cache[code] = (found, now)
        return found

    def _recent_link(self, code: str) -> Link | None:
        """The link to decide whether a visit may be queued: ``max_visits`` is all it needs.

        The caller has just looked the link up, so the cache entry is taken as it is (the
        batch that writes the visit checks the limit again).
        """
        entry = self._cache.get(code)
        return self.peek(code) if entry is None or entry[0] is None else entry[0]

    def append_visit(self, record: VisitRecord, *, count: bool = True) -> bool | None:
        """``record_visit`` for a visit suolink built itself, by the same batching.

        True if recorded (or, in background mode and inside ``deferring``, queued), False
        if ``max_visits`` refused it, None if there is no such link (nothing recorded).
        """
        self._check_open()
        try:
            return self._submit_visit(record, count).allowed
        except LinkNotFound:
            return None

    def _shared_cache(self, conn: _Connection) -> tuple[dict[str, tuple[Link | None, int]], int]:
        """The cache of a ``:memory:`` database: its one connection's own commits do not
        move ``data_version``, so its link version is read every time (under its lock)."""
        with self._watch_lock:
            version = (0, self._link_version(conn))
            if version != self._cache_version:
                self._cache = {}
                self._cache_version = version
            return self._cache, version[1]

    def _current_cache(self, *, check_file: bool) -> tuple[dict[str, tuple[Link | None, int]], int]:
        """The cache for the links as they are now (a new, empty one after a link change),
        and the ``data_version`` it was checked at.

        ``data_version`` is cheap and moves on every commit by another connection; only
        then is the link version read. Whether the file was replaced (a ``stat``) is
        checked on every exact read, and at most every ``_FILE_CHECK`` seconds by
        ``peek``: each call that lets go of the GIL lets a flushing thread in before it.
        """
        watch = self._watch
        due = check_file or time.monotonic() >= self._file_checked + _FILE_CHECK
        if (
            watch is None
            or self._watch_pid != os.getpid()
            or (due and watch.identity != _identity(self.path))
        ):
            conn = self._thread_connection()  # migrates a new file, outside the watch lock
            with self._watch_lock:
                if self._watch is watch:
                    self._open_watch(conn)
        elif due:
            self._file_checked = time.monotonic()
        with self._watch_lock:
            watch = self._watch
            assert watch is not None
            seen = (self._watch_generation, watch.execute(_DATA_VERSION).fetchone()[0])
            if seen != self._seen_version:
                version = (self._watch_generation, self._link_version(watch))
                if version != self._cache_version:
                    self._cache = {}
                    self._cache_version = version
                self._seen_version = seen
            self._fresh_until = time.monotonic() + LINK_CHECK
            return self._cache, seen[1]

    @staticmethod
    def _link_version(conn: sqlite3.Connection) -> int:
        row = conn.execute(_LINK_VERSION_SQL).fetchone()
        return -1 if row is None else int(row[0])

    def _open_watch(self, conn: _Connection) -> _Connection:
        """(Re)open the watch connection on the file ``conn`` has open (under the lock)."""
        old = self._watch
        if old is not None and self._watch_pid == os.getpid():
            with suppress(sqlite3.Error):
                old.close()
        watch = self._connect()
        watch.identity = conn.identity
        self._watch, self._watch_pid = watch, os.getpid()
        self._watch_generation += 1
        return watch

    # -- primitives of RelationalStorage ---------------------------------------------

    def _select_link(
        self, tx: sqlite3.Connection, code: str, *, for_update: bool = False
    ) -> Sequence[Any] | None:
        rows = tx.execute(self._sql.select, (code,)).fetchall()  # a write holds the lock
        return rows[0] if rows else None

    def _to_link(self, row: Sequence[Any]) -> Link:
        return self._table.link(dict(zip(self._sql.columns, row, strict=True)))

    def _insert_link(self, tx: sqlite3.Connection, link: Link) -> None:
        tx.links_changed = True  # type: ignore[attr-defined]
        tx.execute(self._sql.insert, self._table.values(link))
        _link_people(tx, [link])

    def _update_link(self, tx: sqlite3.Connection, link: Link) -> None:
        tx.links_changed = True  # type: ignore[attr-defined]
        tx.execute(self._sql.update, {**self._table.values(link, update=True), "code": link.code})
        if is_people_link(link.campaign, link.recipient):
            tx.execute(_PUT_PEOPLE_LINK, (link.code, link.campaign, link.recipient))
        else:
            tx.execute("DELETE FROM people_links WHERE code = ?", (link.code,))

    def _insert_tags(
        self, tx: sqlite3.Connection, code: str, tags: Sequence[str], created_us: int
    ) -> None:
        tx.executemany(
            "INSERT INTO link_tags (code, tag, created_us) VALUES (?, ?, ?)",
            [(code, tag, created_us) for tag in tags],
        )

    def _delete_tags(self, tx: sqlite3.Connection, code: str) -> None:
        tx.execute("DELETE FROM link_tags WHERE code = ?", (code,))

    def _delete_link(self, tx: sqlite3.Connection, code: str) -> bool:
        tx.links_changed = True  # type: ignore[attr-defined]
        tx.execute("DELETE FROM visits WHERE code = ?", (code,))
        tx.execute("DELETE FROM visit_counts WHERE code = ?", (code,))
        tx.execute("DELETE FROM visit_cubes WHERE code = ?", (code,))
        tx.execute("DELETE FROM visitor_counts WHERE code = ?", (code,))
        tx.execute("DELETE FROM link_people WHERE code = ?", (code,))  # after its trigger
        tx.execute("DELETE FROM people_links WHERE code = ?", (code,))  # people's rows stay
        tx.execute("DELETE FROM conversions WHERE code = ?", (code,))
        self._delete_tags(tx, code)
        return tx.execute("DELETE FROM links WHERE code = ?", (code,)).rowcount > 0

    def _is_tombstoned(self, tx: sqlite3.Connection, code: str) -> bool:
        return bool(tx.execute("SELECT 1 FROM tombstones WHERE code = ?", (code,)).fetchall())

    def _insert_tombstone(self, tx: sqlite3.Connection, code: str, deleted_at: datetime) -> None:
        tx.execute(
            "INSERT OR IGNORE INTO tombstones (code, deleted_at) VALUES (?, ?)",
            (code, deleted_at.isoformat()),
        )

    def _insert_domain(self, tx: sqlite3.Connection, name: str, added_us: int, data: str) -> None:
        tx.execute(
            "INSERT INTO domains (name, added_us, data) VALUES (?, ?, ?)", (name, added_us, data)
        )

    def _domain_rows(self, tx: sqlite3.Connection) -> list[str]:
        rows = tx.execute("SELECT data FROM domains ORDER BY added_us, name").fetchall()
        return [row[0] for row in rows]

    def _domain_row(self, tx: sqlite3.Connection, name: str) -> str | None:
        row = tx.execute("SELECT data FROM domains WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _update_domain(self, tx: sqlite3.Connection, name: str, data: str) -> None:
        tx.execute("UPDATE domains SET data = ? WHERE name = ?", (data, name))

    def _delete_domain(self, tx: sqlite3.Connection, name: str) -> bool:
        return tx.execute("DELETE FROM domains WHERE name = ?", (name,)).rowcount > 0

    def _page(
        self, tx: sqlite3.Connection, after: tuple[int, str] | None, tag: str | None, size: int
    ) -> list[Any]:
        params = [*(() if tag is None else (tag,)), *(after or ()), size]
        return tx.execute(self._sql.pages[tag is not None, after is not None], params).fetchall()

    def _next_id(self, tx: sqlite3.Connection) -> int:
        rows = tx.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'links' RETURNING value"
        ).fetchall()
        return int(rows[0][0])

    def restore_many(self, items: Sequence[tuple[Link, Sequence[Visit]]]) -> list[bool]:
        """Archived links and their visits in one transaction, in set-wise statements.

        The codes already in use (links or tombstones) are read first, a chunk at a
        time; the other links go in with one ``executemany`` each for links, tags and
        visits (their counts summed as the group commit sums them), each link's count
        worked out here as ``record_visit`` would (redirects up to ``max_visits``). If a
        statement still fails, the batch is done again a savepoint per link.
        See :class:`~suolink.backends.base.RestoresInBatches`.
        """
        checked = [
            (normalise_link(link), [normalise_visit(visit) for visit in visits])
            for link, visits in items
        ]
        for link, visits in checked:
            if any(visit.code != link.code for visit in visits):
                raise InvalidOption("visit", f"a visit of another link among {link.code}'s")
        with self._write("restore links") as tx:
            taken = self._taken_codes(tx, [link.code for link, _ in checked])
            made: list[bool] = []
            fresh: list[tuple[Link, list[Visit]]] = []
            for link, visits in checked:
                if link.code in taken:
                    made.append(False)
                    continue
                taken.add(link.code)
                made.append(True)
                fresh.append(_replayed(link, visits))
            tx.execute("SAVEPOINT restore_batch")
            try:
                self._insert_restored(tx, fresh)
            except sqlite3.IntegrityError:
                tx.execute("ROLLBACK TO restore_batch")
                tx.execute("RELEASE restore_batch")
                return self._restore_each(tx, checked)
            tx.execute("RELEASE restore_batch")
        return made

    def _taken_codes(self, tx: sqlite3.Connection, codes: Sequence[str]) -> set[str]:
        """Which of ``codes`` name a link or a tombstone."""
        taken: set[str] = set()
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for table in ("links", "tombstones"):
                rows = tx.execute(
                    f"SELECT code FROM {table} WHERE code IN ({marks})",  # noqa: S608 - constant
                    chunk,
                ).fetchall()
                taken.update(row[0] for row in rows)
        return taken

    def _insert_restored(
        self, tx: sqlite3.Connection, fresh: Sequence[tuple[Link, Sequence[Visit]]]
    ) -> None:
        """Links (their counts already set), their tags and visits, a statement each."""
        values = self._table.values
        tx.executemany(self._sql.insert, [values(link) for link, _ in fresh])
        _link_people(tx, [link for link, _ in fresh])
        tx.executemany(
            "INSERT INTO link_tags (code, tag, created_us) VALUES (?, ?, ?)",
            [
                (link.code, tag, created_us)
                for link, _ in fresh
                if link.tags
                for created_us in (to_micros(link.created_at),)
                for tag in sorted(set(link.tags))
            ],
        )
        self._insert_visits(tx, [visit.to_record() for _, visits in fresh for visit in visits])

    def _restore_each(
        self, tx: sqlite3.Connection, checked: Sequence[tuple[Link, Sequence[Visit]]]
    ) -> list[bool]:
        """The slow way: a savepoint per link, so one that fails undoes only itself."""
        made: list[bool] = []
        for link, visits in checked:
            tx.execute("SAVEPOINT restore_one")
            try:
                self._insert_link(tx, link)
                if self._is_tombstoned(tx, link.code):
                    raise sqlite3.IntegrityError("tombstone")
            except sqlite3.IntegrityError:
                tx.execute("ROLLBACK TO restore_one")
                tx.execute("RELEASE restore_one")
                made.append(False)
                continue
            tags = sorted(set(link.tags))
            self._insert_tags(tx, link.code, tags, to_micros(link.created_at))
            for visit in visits:
                if visit.outcome != "redirect" or self._count_visit(tx, link.code):
                    self._insert_visit(tx, visit)
            tx.execute("RELEASE restore_one")
            made.append(True)
        return made

    def _count_visit(self, tx: sqlite3.Connection, code: str) -> int | None:
        rows = tx.execute(
            "UPDATE links SET visits = visits + 1 WHERE code = ? "
            "AND (max_visits IS NULL OR visits < max_visits) RETURNING visits",
            (code,),
        ).fetchall()
        return int(rows[0][0]) if rows else None

    def _visit_count(self, tx: sqlite3.Connection, code: str) -> int | None:
        rows = tx.execute("SELECT visits FROM links WHERE code = ?", (code,)).fetchall()
        return int(rows[0][0]) if rows else None

    def _insert_visit(self, tx: sqlite3.Connection, visit: Visit) -> None:
        """Insert the raw visit and add it to the counts, in the caller's transaction."""
        self._insert_visits(tx, [visit.to_record()])

    def _write_visits(
        self, queued: Sequence[tuple[Visit | VisitRecord, bool]]
    ) -> Sequence[VisitResult | Exception]:
        """One batch in one transaction, worked on as records (no ``Visit`` per visit);
        if SQLite refuses it for a reason other than "not now", each visit alone, so one
        bad visit cannot fail its neighbours."""
        items = [
            (visit.to_record() if isinstance(visit, Visit) else visit, count)
            for visit, count in queued
        ]
        try:
            # Every visit's link is read (and locked) first, so the visit connection
            # leaves out SQLite's own check of ``visits.code`` (a lookup per row).
            with self._errors("record visits"), self._writing(visits=True) as tx:
                return self._record_records(tx, items)
        except BackendUnavailable:
            raise
        except BackendError:
            if len(items) == 1:
                raise
        out: list[VisitResult | Exception] = []
        for record, count in items:
            try:
                with self._write("record a visit") as tx:
                    out.append(self._record_one(tx, Visit.from_record(record), count))
            except (BackendError, LinkNotFound) as exc:
                out.append(exc)
        return out

    def _record_batch(
        self, tx: sqlite3.Connection, items: Sequence[tuple[Visit, bool]]
    ) -> list[VisitResult | Exception]:
        """A batch of visits, as one ``record_visit`` each would do (see ``_record_records``)."""
        return self._record_records(tx, [(visit.to_record(), count) for visit, count in items])

    def _record_records(
        self, tx: sqlite3.Connection, items: Sequence[tuple[VisitRecord, bool]]
    ) -> list[VisitResult | Exception]:
        """A batch of visits in set-wise statements, as one ``record_visit`` each would do.

        One read of every link's count and limit, one ``UPDATE`` adding the visits each
        limit lets through (first come, first counted). Counts of every visit that is
        recorded are summed per row first, so each count row is written once per batch.
        Each statement handles the whole batch (see :func:`_insert_many`).
        """
        codes = sorted({record[0] for record, _ in items})
        if len(codes) == 1:
            found = tx.execute(_LINK_STATE, codes).fetchall()
        else:
            found = json.loads(tx.execute(_LINK_STATES, (_json(codes),)).fetchone()[0])
        state: dict[str, list[int | None]] = {}
        people: dict[str, tuple[str | None, str | None]] = {}
        for code, visits, limit, is_people, campaign, recipient in found:
            state[code] = [visits, limit]
            if is_people:
                people[code] = (campaign, recipient)
        added: dict[str, int] = {}
        out: list[VisitResult | Exception] = []
        recorded: list[VisitRecord] = []
        for record, count in items:
            code = record[0]
            link = state.get(code)
            if link is None:
                out.append(LinkNotFound(code))
                continue
            visits, limit = link
            assert visits is not None  # a NOT NULL column
            if count:
                if limit is not None and visits >= limit:
                    out.append(VisitResult(allowed=False, visits=visits))
                    continue
                link[0] = visits = visits + 1
                added[code] = added.get(code, 0) + 1
            out.append(VisitResult(allowed=True, visits=visits))
            recorded.append(record)
        if len(added) == 1:
            tx.execute(_ADD_ONE_LINK_VISITS, next(iter(added.items()))[::-1])
        elif added:
            tx.execute(_ADD_LINK_VISITS, (_json({code: added[code] for code in sorted(added)}),))
        self._insert_visits(tx, recorded, people)
        return out

    def _insert_visits(
        self,
        tx: sqlite3.Connection,
        records: Sequence[VisitRecord],
        people: Mapping[str, tuple[str | None, str | None]] | None = None,
    ) -> None:
        """Insert raw visits and add them to the counts, each count row written once.

        ``people`` is the campaign and recipient of each people link among the visits'
        links, if the caller read them (read here if None).

        A visit adds 1 to two ``visit_cubes`` rows (its UTC day's and all time's, for its
        combination of counted values) and, for a person, to their ``visitor_counts`` row
        and the day's ``visitor`` cell; ``link_people`` follows ``visitor_counts`` by
        trigger. Visits of one link, day and combination share their rows, so the work
        per visit is its raw row and a few dictionary steps.
        """
        if not records:
            return
        if isinstance(tx, _Connection) and not tx.writes_visits:
            _tune_for_visits(tx)
        # In key order, each statement's rows walk every B-tree left to right: rows that
        # share a page follow each other, so a page is found and changed once per run of
        # rows, not once per row (a large batch over many links costs a third as much).
        # Stable: a link's visits keep the order they came in (their ids, the tie-break).
        records = sorted(records, key=_CODE_OF)
        user_agents = self._user_agent_ids(tx, {record[3] for record in records})
        combos = self._combos
        flat: list[Any] = []
        # Each visit's count rows as keys, counted in C below (visits sharing a row add
        # up). In the records' order (by link), a link's all-time and day keys alternate:
        # its rows are neighbours in their B-trees, so no sort is needed.
        cube_keys: list[tuple[str, str, str]] = []
        person_keys: list[tuple[str, str, str]] = []
        people_keys: list[tuple[str, str]] = []
        add_cube, add_person, add_people = cube_keys.append, person_keys.append, people_keys.append
        # A visit's UTC day from its microseconds: a batch's visits mostly share one day,
        # so the day's bounds are kept and only a visit outside them computes another.
        low = high = 0
        day = ""
        # ``at`` as text and microseconds, from the second it falls in (isoformat and
        # datetime arithmetic per visit were a fifth of the writer's Python time).
        second = next_second = _EPOCH  # no visit is in this empty second
        second_us = 0
        second_text = ""
        for record in records:
            code, at, ip, text = record[:4]
            if at.tzinfo is UTC:
                if not second <= at < next_second:
                    second = at.replace(microsecond=0)
                    next_second = second + _ONE_SECOND
                    second_us = (second - _EPOCH) // _ONE_MICRO
                    second_text = second.replace(tzinfo=None).isoformat()
                micro = at.microsecond
                micros = second_us + micro
                stamp = f"{second_text}.{micro:06d}+00:00" if micro else f"{second_text}+00:00"
            else:
                micros = (at - _EPOCH) // _ONE_MICRO
                stamp = at.isoformat()
            flat += (code, stamp, micros, ip, user_agents[text])
            flat += record[4:]
            if not low <= micros < high:
                low = micros - micros % _DAY_US
                high = low + _DAY_US
                day = _from_micros(low).date().isoformat()
            key = _COMBO_OF(record)
            combo = combos.get(key)
            if combo is None:
                combo = self._combo(record, key)
            add_cube((code, _ALL_TIME, combo))
            add_cube((code, day, combo))
            if not record[8]:  # is_bot
                who = record[10] or ip  # visitor_key: the visitor id, or the IP of old records
                if who:
                    add_person((code, day, who))
                    add_people((code, who))
        _insert_many(tx, _INSERT_VISITS_HEAD, _VISIT_WIDTH, flat)
        flat = []
        for cube, n in Counter(cube_keys).items():
            flat += (*cube, n)
        _insert_many(tx, _ADD_CUBES_HEAD, 4, flat, _ADD_CUBES_TAIL)
        if person_keys:
            flat = []
            for (code, day, who), n in Counter(person_keys).items():
                flat += (code, "visitor", day, who, n)
            _insert_many(tx, _ADD_CELLS_HEAD, 5, flat, _ADD_CELLS_TAIL)
            flat = []
            for person, n in Counter(people_keys).items():
                flat += (*person, n)
            _insert_many(tx, _ADD_VISITORS_HEAD, 3, flat, _ADD_VISITORS_TAIL)
        if people is None or people:  # a caller that read the links' people rows: none
            clicks = [
                record
                for record in records
                if record[12] == "redirect" and record[10] and not record[8]
            ]  # counts_for_people, on records
            if clicks:
                self._count_people(tx, clicks, people)
        if self.retention_days:
            latest = max(to_micros(record[1]) for record in records)
            self._drop_old_visits(tx, latest - self.retention_days * _DAY_US)

    def _user_agent_ids(self, tx: sqlite3.Connection, texts: set[str]) -> dict[str, int]:
        """The ids of ``texts`` in ``user_agents`` (new ones inserted), remembered per file.

        Rows of ``user_agents`` are never deleted or changed, so an id read once stays
        true for that file; only ids read (committed before this transaction) are kept,
        never those inserted now (the transaction may yet roll back).
        """
        identity = getattr(tx, "identity", None)
        if identity != self._ua_file or len(self._ua_ids) >= _USER_AGENT_CACHE:
            self._ua_ids = {}
            self._ua_file = identity
        cached = self._ua_ids
        if texts.issubset(cached.keys()):
            return cached
        ids, known = _user_agent_ids(tx, texts - cached.keys())
        for text, ua_id in list(ids.items())[:known]:
            cached[text] = ua_id
        return {**cached, **ids}

    def _combo(self, record: VisitRecord, key: tuple[Any, ...]) -> str:
        """The ``visit_cubes`` combination of a visit (JSON of its dimensions), remembered."""
        combos = self._combos
        if len(combos) >= _COMBO_CACHE:
            combos.clear()
        combo = combos[key] = _json(visit_dimensions(Visit.from_record(record)))
        return combo

    def _count_people(
        self,
        tx: sqlite3.Connection,
        clicks: Sequence[VisitRecord],
        found: Mapping[str, tuple[str | None, str | None]] | None,
    ) -> None:
        """Count people's clicks on people links (a batch's, in its transaction)."""
        if found is None:
            codes = list(dict.fromkeys(record[0] for record in clicks))
            rows = json.loads(tx.execute(_PEOPLE_LINKS, (_json(codes),)).fetchone()[0])
            found = {code: (campaign, recipient) for code, campaign, recipient in rows}
        if not found:
            return
        for record in clicks:
            link = found.get(record[0])
            if link is not None:
                _count_person(tx, Visit.from_record(record), *link)

    # -- people across links (TracksPeople) -----------------------------------------

    def _top(
        self, kind: str, campaign: str | None, limit: int | None, min_clicks: int
    ) -> list[PersonRow]:
        with self._read(f"read the top {kind}s") as tx:
            rows = tx.execute(
                _TOP_PEOPLE[kind], (scope_of(campaign), min_clicks, -1 if limit is None else limit)
            ).fetchall()
        return [
            PersonRow(
                id=who,
                clicks=clicks,
                links=links,
                first_seen=None if first is None else _from_micros(first),
                last_seen=None if last is None else _from_micros(last),
                reach=reach,
                visitor=own or None,
            )
            for who, clicks, links, first, last, reach, own in rows
        ]

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients, their clicks and summed reach (one aggregate read)."""
        with self._read("read a campaign's totals") as tx:
            count, clicks, reach = tx.execute(
                "SELECT COUNT(*), COALESCE(SUM(clicks), 0), COALESCE(SUM(reach), 0) "
                "FROM people_recipients WHERE scope = ?",
                (scope_of(campaign),),
            ).fetchone()
        return PeopleTotals(recipients=count, clicks=clicks, reach=reach)

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        with self._read("list campaigns") as tx:
            rows = tx.execute(
                "SELECT scope, COUNT(*), SUM(clicks), SUM(reach) FROM people_recipients "
                "WHERE scope != '' GROUP BY scope ORDER BY scope"
            ).fetchall()
        return {scope: PeopleTotals(n, clicks, reach) for scope, n, clicks, reach in rows}

    def forget_visitor(self, visitor: str) -> bool:
        """Drop the visitor's rows, their place in reach, and their id on raw visits.

        Raw visits and per-link counts are scanned (no index by visitor): a rare call.
        """
        with self._write("forget a visitor") as tx:
            found = False
            for (scope,) in tx.execute(
                "SELECT scope FROM people_visitors WHERE visitor = ?", (visitor,)
            ).fetchall():
                found = True
                tx.execute(
                    "DELETE FROM people_visitor_links WHERE scope = ? AND visitor = ?",
                    (scope, visitor),
                )
            tx.execute("DELETE FROM people_visitors WHERE visitor = ?", (visitor,))
            for scope, recipient in tx.execute(
                "SELECT scope, recipient FROM people_recipient_visitors WHERE visitor = ?",
                (visitor,),
            ).fetchall():
                found = True
                tx.execute(
                    "UPDATE people_recipients SET "
                    "reach = reach - (CASE WHEN own = :v THEN 0 ELSE 1 END), "
                    "own = (CASE WHEN own = :v THEN '' ELSE own END) "
                    "WHERE scope = :scope AND recipient = :recipient",
                    {"v": visitor, "scope": scope, "recipient": recipient},
                )
            tx.execute("DELETE FROM people_recipient_visitors WHERE visitor = ?", (visitor,))
            changed = tx.execute(
                "UPDATE visits SET visitor_id = NULL WHERE visitor_id = ?", (visitor,)
            ).rowcount
            changed += tx.execute(
                "DELETE FROM visitor_counts WHERE visitor = ?", (visitor,)
            ).rowcount
            tx.execute(
                "DELETE FROM visit_counts WHERE dimension = 'visitor' AND value = ?", (visitor,)
            )
            return found or changed > 0

    def forget_recipient(self, recipient: str) -> bool:
        """Drop the recipient's rows and clear ``recipient`` on their links."""
        with self._write("forget a recipient") as tx:
            found = False
            for (scope,) in tx.execute(
                "SELECT scope FROM people_recipients WHERE recipient = ?", (recipient,)
            ).fetchall():
                found = True
                for table in ("people_recipient_links", "people_recipient_visitors"):
                    tx.execute(
                        f"DELETE FROM {table} WHERE scope = ? AND recipient = ?",  # noqa: S608
                        (scope, recipient),
                    )
            tx.execute("DELETE FROM people_recipients WHERE recipient = ?", (recipient,))
            for (code,) in tx.execute(
                "SELECT code FROM people_links WHERE recipient = ?", (recipient,)
            ).fetchall():
                row = self._select_link(tx, code)
                if row is not None:
                    found = True
                    self._update_link(tx, replace(self._to_link(row), recipient=None))
            return found

    def _drop_old_visits(self, tx: sqlite3.Connection, before_us: int) -> None:
        """One retention step: up to ``RETENTION_BATCH`` raw visits older than ``before_us``.

        Runs at most once a second while there is nothing left to drop, and on every
        write while there is, so a backlog drains in short steps (the counts stay).
        """
        now = time.monotonic()
        if now < self._retention_due:
            return
        dropped = tx.execute(
            "DELETE FROM visits WHERE id IN "
            "(SELECT id FROM visits WHERE at_us < ? ORDER BY at_us LIMIT ?)",
            (before_us, RETENTION_BATCH),
        ).rowcount
        self._retention_due = now if dropped >= RETENTION_BATCH else now + _RETENTION_PAUSE

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        """Sums of ``visit_counts`` and ``visitor_counts`` over ``[since, until)`` UTC days.

        The whole history reads the per-link ``visitor_counts`` (top ten by its index); a
        window sums the per-day visitor cells instead.
        """
        self._check_open()
        if not code_ok(code):
            return StatsCounts()
        low, high = _day_bounds(since, until)
        dims: dict[str, dict[str, int]] = {}
        whole = since is None and until is None
        marks = ", ".join("?" * len(DIMENSIONS))
        with self._read("read visit counts") as tx:
            by_day = dict(
                tx.execute(
                    "SELECT day, n FROM visit_counts "
                    "WHERE code = ? AND dimension = 'total' AND day >= ? AND day < ?",
                    (code, low, high),
                ).fetchall()
            )
            first, last = (_ALL_TIME, _FIRST_DAY) if whole else (low, high)
            for dim, value, n in tx.execute(
                "SELECT dimension, value, SUM(n) FROM visit_counts "  # noqa: S608 - constant
                f"WHERE code = ? AND dimension IN ({marks}) AND day >= ? AND day < ? "
                "GROUP BY dimension, value",
                (code, *DIMENSIONS, first, last),
            ):
                dims.setdefault(dim, {})[value] = n
            for day, n in tx.execute(
                "SELECT day, SUM(n) FROM visit_cubes WHERE code = ? AND day >= ? AND day < ? "
                "GROUP BY day",
                (code, low, high),
            ):
                by_day[day] = by_day.get(day, 0) + n
            for combo, n in tx.execute(
                "SELECT combo, SUM(n) FROM visit_cubes WHERE code = ? AND day >= ? AND day < ? "
                "GROUP BY combo",
                (code, first, last),
            ):
                for dim, value in _combo_pairs(combo):
                    values = dims.setdefault(dim, {})
                    values[value] = values.get(value, 0) + n
            if whole:
                row = tx.execute("SELECT n FROM link_people WHERE code = ?", (code,)).fetchone()
                unique = 0 if row is None else row[0]
                top = tx.execute(
                    "SELECT visitor, n FROM visitor_counts WHERE code = ? "
                    "ORDER BY n DESC, visitor LIMIT ?",
                    (code, TOP),
                ).fetchall()
            else:
                people = tx.execute(
                    "SELECT value, SUM(n) FROM visit_counts WHERE code = ? "
                    "AND dimension = 'visitor' AND day >= ? AND day < ? GROUP BY value",
                    (code, low, high),
                ).fetchall()
                unique = len(people)
                top = sorted(people, key=lambda row: (-row[1], row[0]))[:TOP]
        return StatsCounts(
            by_day=by_day,
            dimensions=dims,
            unique_visitors=int(unique),
            top_visitors=[(str(who), int(n)) for who, n in top],
        )

    def _visit_page(
        self, tx: sqlite3.Connection, code: str, low: int, high: int, after: Position, size: int
    ) -> list[Any]:
        rows = tx.execute(_SELECT_VISITS, (code, low, high, *after, size)).fetchall()
        return [dict(zip(_SELECTED_VISIT_COLUMNS, row, strict=True)) for row in rows]

    def _visit_position(self, row: dict[str, Any]) -> Position:
        return (row["at_us"], row["id"])

    def _to_visit(self, row: dict[str, Any]) -> Visit:
        return _row_visit(row)

    def _probe(self, tx: sqlite3.Connection) -> None:
        tx.execute("SELECT MAX(version) FROM schema_version").fetchall()

    # -- conversions (RecordsConversions) ------------------------------------------------

    def _insert_conversion(self, tx: sqlite3.Connection, values: dict[str, Any]) -> bool:
        cursor = tx.execute(_INSERT_CONVERSION, values)
        return cursor.rowcount > 0

    def _select_conversion(
        self, tx: sqlite3.Connection, code: str, click_id: str, kind: str
    ) -> dict[str, Any] | None:
        rows = tx.execute(
            f"SELECT {_CONVERSION_LIST} FROM conversions "  # noqa: S608 - constant columns
            "WHERE code = ? AND click_id = ? AND kind = ?",
            (code, click_id, kind),
        ).fetchall()
        return dict(zip(CONVERSION_COLUMNS, rows[0], strict=True)) if rows else None

    def _conversion_rows(
        self, tx: sqlite3.Connection, code: str, low: int, high: int
    ) -> list[dict[str, Any]]:
        rows = tx.execute(
            f"SELECT {_CONVERSION_LIST} FROM conversions "  # noqa: S608 - constant columns
            "WHERE code = ? AND at_us >= ? AND at_us < ? ORDER BY at_us, id",
            (code, low, high),
        ).fetchall()
        return [dict(zip(CONVERSION_COLUMNS, row, strict=True)) for row in rows]

    def close(self) -> None:
        """Write pending visits, close every connection; later calls: ``BackendUnavailable``."""
        self._stop_batching()
        self._fresh_until = 0.0
        with self._state_lock, self._shared_lock, self._watch_lock:
            self._closed = True
            conns = list(self._conns)
            if self._watch is not None and self._watch_pid == os.getpid():
                conns.append(self._watch)
            self._watch = None
            self._conns = weakref.WeakSet()
            self._shared = None
            self._local = threading.local()
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()


def _link_people(tx: sqlite3.Connection, links: Sequence[Link]) -> None:
    """New links' campaign and recipient, and their recipients listed with no click yet."""
    people = [link for link in links if is_people_link(link.campaign, link.recipient)]
    if not people:
        return
    tx.executemany(_PUT_PEOPLE_LINK, [(p.code, p.campaign, p.recipient) for p in people])
    tx.executemany(
        _ADD_RECIPIENT,
        [
            (scope, link.recipient)
            for link in people
            if link.recipient is not None
            for scope in scopes(link.campaign)
        ],
    )


def _count_person(
    tx: sqlite3.Connection, visit: Visit, campaign: str | None, recipient: str | None
) -> None:
    """Add one click to the visitor's rows and the recipient's (with reach), per scope."""
    who, code, at = visit.visitor_id, visit.code, to_micros(visit.at)
    for scope in scopes(campaign):
        new_link = tx.execute(_VISITOR_LINK, (scope, who, code)).rowcount
        tx.execute(_VISITOR_CLICK, (scope, who, new_link, at, at))
        if recipient is None:
            continue
        values = {
            "scope": scope,
            "recipient": recipient,
            "new_link": tx.execute(_RECIPIENT_LINK, (scope, recipient, code)).rowcount,
            "new_person": tx.execute(_RECIPIENT_VISITOR, (scope, recipient, who)).rowcount,
            "at": at,
            "who": who,
        }
        tx.execute(_RECIPIENT_CLICK, values)


@lru_cache(maxsize=_COMBO_CACHE)
def _combo_pairs(combo: str) -> tuple[tuple[str, str], ...]:
    """The ``(dimension, value)`` pairs of a ``visit_cubes`` combination that stats show."""
    return tuple((dim, value) for dim, value in json.loads(combo) if dim in DIMENSIONS)


def _from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


#: ``json.dumps`` with these arguments makes an encoder per call; this one is made once.
_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json(value: Any) -> str:
    return _ENCODE(value)


@cache
def _values_sql(head: str, width: int, rows: int, tail: str) -> str:
    one = f"({', '.join('?' * width)})"
    return f"{head} VALUES {', '.join([one] * rows)}{tail}"


@cache
def _rows_cap(width: int) -> int:
    """The most rows of ``width`` values one statement may bind: a power of two."""
    probe = sqlite3.connect(":memory:")
    try:
        most = probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        probe.close()
    cap = _MOST_ROWS
    while cap > 1 and cap * width > most:
        cap //= 2
    return cap


def _insert_many(
    tx: sqlite3.Connection, head: str, width: int, flat: list[Any], tail: str = ""
) -> None:
    """Insert the rows in ``flat`` (``width`` values each) by multi-row ``VALUES``.

    ``executemany`` takes one SQLite step per row, and each step lets go of the GIL: with
    a busy thread beside it (the event loop, a resolving thread) the writer waits up to
    the interpreter's switch interval (5 ms) to get it back, per row. Here a batch is a
    few statements of a power of two rows each, so they stay in the statement cache.
    """
    total = len(flat) // width
    cap = _rows_cap(width)
    done = 0
    while done < total:
        rows = min(cap, 1 << ((total - done).bit_length() - 1))
        tx.execute(_values_sql(head, width, rows, tail), flat[done * width : (done + rows) * width])
        done += rows


def _tune_for_visits(conn: _Connection) -> None:
    """A connection that writes visit batches: a larger page cache and rarer checkpoints.

    A batch over many links touches a page of each count table (and of the visits'
    index) per visit; kept in the cache, and checkpointed once per ``VISIT_CHECKPOINT``
    pages of WAL instead of once per 1,000, a page is written back once for many
    batches. Memory: up to ``VISIT_CACHE_KB`` of cache per such connection; disk: the
    WAL grows to about ``VISIT_CHECKPOINT`` pages (40 MB) between checkpoints.
    """
    conn.execute(f"PRAGMA cache_size = -{VISIT_CACHE_KB}")
    conn.execute(f"PRAGMA wal_autocheckpoint = {VISIT_CHECKPOINT}")
    conn.writes_visits = True


def _open_for_visits(conn: _Connection) -> None:
    """Make ``conn`` a thread's visit connection: it writes batches whose links were read
    in the same transaction, so SQLite's foreign key checks are off on it for good (its
    first batch tunes it, as ``_insert_visits`` tunes any connection that writes visits).

    Its own connection, rather than the pragma switched around each batch: switching it
    expires every prepared statement of the connection, and a small batch's statements
    were then parsed again (a sixth of the writer's time at 16 visits a batch).
    """
    conn.execute("PRAGMA foreign_keys = OFF")


def _user_agent_ids(tx: sqlite3.Connection, texts: set[str]) -> tuple[dict[str, int], int]:
    """The ids of ``texts`` in ``user_agents``, the new ones inserted (inside a write), and
    how many of them were there before (the first ones in the dict: committed ids)."""
    ids: dict[str, int] = json.loads(
        tx.execute(_USER_AGENT_IDS, (_json(list(texts)),)).fetchone()[0]
    )
    known = len(ids)
    for text in texts - ids.keys():
        ids[text] = _user_agent_id(tx, text)
    return ids, known


def _user_agent_id(tx: sqlite3.Connection, text: str) -> int:
    """The id of ``text`` in ``user_agents``, inserted if new (inside a write)."""
    row = tx.execute("SELECT id FROM user_agents WHERE text = ?", (text,)).fetchone()
    if row is None:
        row = tx.execute(
            "INSERT INTO user_agents (text) VALUES (?) RETURNING id", (text,)
        ).fetchone()
    return int(row[0])


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF
