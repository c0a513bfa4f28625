"""``postgresql://``: the SQL store on PostgreSQL through psycopg 3, a redirect in one trip.

A visit and its place in the count queue are written by **one statement**: writing ``WITH``
queries behind a *gate* that counts the visit (``UPDATE links SET visits = visits + 1
WHERE … AND (max_visits IS NULL OR visits < max_visits) RETURNING visits``) or, for
uncounted visits, locks the link's row. Everything after the gate reads from it, so
nothing is written when it lets nothing through. One statement is atomic by itself, so
it runs without a transaction around it: one round trip. The visit's dozen count cells
are added later by a fold of many queued visits at once (see :mod:`suolink.backends.sql`):
adding them here cost the server more than the rest of the redirect.

``get_and_record`` (``RecordsInOneTrip``) adds to the gate the link settings that could
refuse a visitor, and returns the link's row in the same reply. That condition is the
second copy of the policy's "could refuse" rules, as the Redis link hash's ``o`` flag
is; ``tests/backends/test_one_trip_policy.py`` ties both to :func:`suolink.policy.decide`.

The statements that are atomic on their own (a redirect, ``get``, ``next_id``, a
retention step) skip SQLAlchemy's ``Connection``: they run on a few psycopg connections
kept in autocommit mode (:class:`_Direct`), each statement compiled once and prepared
on the server. Through a ``Connection`` (checkout events, the isolation level set and
reset, parameter processing) a redirect cost the client more CPU than the server.
Transactions (create, update, delete, imports, MySQL's visits) stay on SQLAlchemy.

It also claims ``HoldsLinksInProcess``, the Redis way: a link read by :meth:`peek` is
held in the process with its row's ``version`` (schema 7: a sequence number every
change of the link but its count replaces), and :meth:`append_visit`'s statement adds
the visit only while the row still has that version, returning the new row when not.
So the common redirect reads nothing and parses nothing: one statement that writes; a
link changed by another process is seen by the next redirect, one changed through this
store at once (its held copy is dropped).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, cast

import psycopg
from psycopg import pq
from psycopg.pq import ConnStatus, ExecStatus, TransactionStatus
from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy import exc as sa_exc

from ...errors import BackendError, BackendUnavailable, LinkNotFound
from ...fields import FIELD_BY_NAME
from ...models import AntiBlockMode, Link, Visit, VisitRecord, VisitResult
from ...people import counts_for_people, is_people_link
from .._common import code_ok, normalise_visit, to_micros, visit_dimensions
from ..batching import CommitWouldWait, deferred_commits
from ..domain_rows import DomainRows
from ..relational import ALL_TIME, PEOPLE, PLAIN_VISIT_FIELDS, visit_row
from . import FOLD_BATCH, SQLStorage
from . import schema as s

__all__ = ["PostgreSQLStorage"]

_log = logging.getLogger("suolink.backends.sql")

_VISIT_COLUMNS = (
    "code",
    "at",
    "at_us",
    "ua_id",
    *(c for c in PLAIN_VISIT_FIELDS if c != "user_agent"),
)
_CASTS = {"at_us": "bigint", "ua_id": "bigint", "is_bot": "integer"}
#: The columns a visit's counted combination depends on (``visit_dimensions``).
_COMBO_COLUMNS = (
    "outcome", "is_bot", "app", "os", "device", "browser", "referer", "country", "arm", "domain",
)  # fmt: skip

_RECORD = """
WITH gate AS ({gate}),
visit AS (
    INSERT INTO visits ({columns})
    SELECT {values} FROM gate
    RETURNING id, code
),
queued AS (
    INSERT INTO count_queue (code, visit_id) SELECT code, id FROM visit
)
{final}
"""

_CODE = "code = CAST(:code AS text)"
_UNDER_LIMIT = "(max_visits IS NULL OR visits < max_visits)"
#: No setting of the link could refuse a visitor the one trip is tried for (see
#: :func:`suolink.visits.takes_one_trip`): not disabled, no password, no allow list, an
#: empty deny list, no anti-block apps of its own unless anti-block is off, not expired
#: at the visit's time. The literals come from the fields' own codecs.
_OPEN = (
    "disabled = :not_disabled AND password_hash IS NULL AND allow IS NULL "
    "AND deny = :no_deny AND (anti_block IS NULL OR anti_block_mode = :mode_off) "
    "AND (expires_at IS NULL OR CAST(expires_at AS timestamptz) > CAST(:at_tz AS timestamptz))"
    # Settings kept in ``extra`` that the policy must judge (a split's arm, countries,
    # an abuse mark): ``extra_open`` (``schema.EXTRA_OPEN``, kept by a trigger) is true
    # while each is unset or empty. Parsing the JSON here cost ~100 µs a redirect.
    " AND extra_open"
)
_OPEN_PARAMS = {
    "not_disabled": FIELD_BY_NAME["disabled"].codec.to_sql(False),
    "no_deny": FIELD_BY_NAME["deny"].codec.to_sql(frozenset()),
    "mode_off": FIELD_BY_NAME["anti_block_mode"].codec.to_sql(AntiBlockMode.OFF),
}
# Constant SQL text (no value is ever formatted into a statement: they are bound).
_COUNT = f"UPDATE links SET visits = visits + 1 WHERE {_CODE} AND {{only}} RETURNING visits"  # noqa: S608
_LOCK = f"SELECT visits FROM links WHERE {_CODE} AND {{only}} FOR UPDATE"  # noqa: S608
#: A person's click on a people link (campaign or recipient) passes no one-trip gate: it
#: takes the transaction path, which counts its people rows with the visit.
_NO_PEOPLE = (
    "NOT (CAST(:click AS boolean) AND EXISTS "
    "(SELECT FROM people_links WHERE people_links.code = CAST(:code AS text)))"
)


#: Seconds ``close`` waits for a fold under way in the folder thread.
_FOLDER_JOIN = 10.0
#: Parsed links a process keeps by their JSON text (``PostgreSQLStorage._link_from``).
_LINK_TEXTS = 4096
#: Visits' counted combinations (their JSON) a process keeps by their values.
_COMBOS = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
_TIGHT = (",", ":")
#: Links held in this process (``peek``) before they are all dropped.
_HELD = 65_536
#: The row of a held link: its JSON text, count and version.
_HELD_LINK = "SELECT {link}, visits, version FROM links WHERE code = CAST(:code AS text)"
_VERSION = "version = CAST(:ver AS bigint)"
#: After an append's gate: True if recorded; else the row's version, count and, only if
#: the version is not the held one, its JSON text (no row: the link is gone).
_APPENDED = (
    "SELECT TRUE, CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS text) "  # noqa: S608
    "FROM gate "
    "UNION ALL SELECT FALSE, version, visits, "
    f"CASE WHEN {_VERSION} THEN NULL ELSE {{link}} END FROM links "
    f"WHERE {_CODE} AND NOT EXISTS (SELECT FROM gate)"
)
_SELECT_LINK = "SELECT {link}, visits FROM links WHERE code = CAST(:code AS text)"
_VISIT_COUNT = "SELECT visits FROM links WHERE code = CAST(:code AS text)"
_NEXT_ID = "UPDATE counters SET value = value + 1 WHERE name = 'links' RETURNING value"
_NEW_USER_AGENT = (
    "INSERT INTO user_agents (hash, text) VALUES (:hash, :text) "
    "ON CONFLICT (hash) DO NOTHING RETURNING id"
)
_USER_AGENT = "SELECT id FROM user_agents WHERE hash = :hash"

#: The fold's claim: queue rows locked and deleted, and of their visits only what is
#: counted (a queue row whose visit is gone gives NULLs: claimed, counted as nothing).
#: No user agent: no count needs it.
_FOLD_CLAIM = (
    "WITH claimed AS (DELETE FROM count_queue WHERE (code, visit_id) IN "  # noqa: S608
    "(SELECT code, visit_id FROM count_queue {only}LIMIT :n {lock}) RETURNING visit_id) "
    f"SELECT v.code, v.at_us, v.visitor_id, v.ip, {', '.join(f'v.{c}' for c in _COMBO_COLUMNS)} "
    "FROM claimed LEFT JOIN visits v ON v.id = claimed.visit_id"
)
#: The fold's additions: the rows go as one JSON text, parsed once (``jsonb``: each
#: ``->>`` of a ``json`` value parses the element again, a third of the statement's time).
_FOLD_CUBES = (
    "INSERT INTO visit_cubes (code, day, combo_key, combo, n) "
    "SELECT c->>0, c->>1, decode(c->>2, 'hex'), c->>3, CAST(c->>4 AS bigint) "
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS c "
    "ON CONFLICT (code, day, combo_key) DO UPDATE SET n = visit_cubes.n + EXCLUDED.n"
)
_FOLD_CELLS = (
    "INSERT INTO visit_counts (code, dimension, day, value_key, value, n) "
    "SELECT c->>0, CAST(:dimension AS text), c->>1, decode(c->>2, 'hex'), c->>3, "
    "CAST(c->>4 AS bigint) FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS c "
    "ON CONFLICT (code, dimension, day, value_key) DO UPDATE SET n = visit_counts.n + EXCLUDED.n"
)
_FOLD_PERSONS = (
    "INSERT INTO visitor_counts (code, visitor_key, visitor, n) "
    "SELECT c->>0, decode(c->>1, 'hex'), c->>2, CAST(c->>3 AS bigint) "
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS c "
    "ON CONFLICT (code, visitor_key) DO UPDATE SET n = visitor_counts.n + EXCLUDED.n "
    "RETURNING code, visitor_key, n"
)


def _statement(gate: str, final: str) -> TextClause:
    columns = ", ".join(_VISIT_COLUMNS)
    values = ", ".join(f"CAST(:v_{c} AS {_CASTS.get(c, 'text')})" for c in _VISIT_COLUMNS)
    return text(_RECORD.format(gate=gate, columns=columns, values=values, final=final))


_LINK_FIELDS = tuple(f.name for f in fields(Link))
_link_values = attrgetter(*_LINK_FIELDS)
_set = object.__setattr__


def _with_visits(link: Link, visits: int) -> Link:
    """``replace(link, visits=visits)`` in a third of the time (a redirect makes one).

    Every value comes from a valid ``Link`` and ``Link`` has no ``__post_init__``, so
    copying the fields is what ``replace`` would do, without rebuilding its arguments.
    """
    new = object.__new__(Link)
    for name, value in zip(_LINK_FIELDS, _link_values(link), strict=True):
        _set(new, name, value)
    _set(new, "visits", visits)
    return new


#: A ``VisitRecord``'s values after its code and time, by parameter name (its values are
#: ``Visit``'s fields in order; ``tests/backends/test_sql.py`` checks the two agree).
_RECORD_PARAMS = tuple(f"v_{f.name}" for f in fields(Visit))[2:]


#: Where ``append_visit``'s parameters come from, by name: a record's values (its time
#: and user agent unused, ``is_bot`` bound as a number), then :func:`_append_values`'s.
_APPEND_SOURCES = (
    "code", "", *("" if f == "v_user_agent" or f == "v_is_bot" else f for f in _RECORD_PARAMS),
    "v_at", "v_at_us", "v_ua_id", "v_is_bot", "click", "ver",
)  # fmt: skip
_APPEND_AT = {name: i for i, name in enumerate(_APPEND_SOURCES) if name} | {"v_code": 0}


def _append_values(record: VisitRecord, ua_id: int, click: bool, version: int) -> tuple[Any, ...]:
    """The values of ``append_visit``'s statement, in ``_APPEND_SOURCES`` order."""
    at = record[1]
    return (*record, at.isoformat(), to_micros(at), ua_id, int(record[8]), click, version)


#: A ``:name`` parameter in a statement's text (SQLAlchemy's ``text()`` rule).
_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def _numbered(statement: str) -> tuple[str, tuple[str, ...]]:
    """``statement`` with ``$1``, ``$2``… for its ``:name`` parameters, and the names."""
    names: list[str] = []

    def number(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, statement), tuple(names)


#: A statement :meth:`PostgreSQLStorage._exec` runs: its name on the server, its text,
#: and what picks its parameters' values from the caller's.
_Raw = tuple[bytes, str, Callable[[Sequence[Any]], Sequence[Any]]]


class _Held:
    """A direct connection and what is kept with it: one cursor for its statements
    (``Connection.execute`` makes a cursor per call, which cost the client more than
    binding a redirect's twenty parameters) and the statements prepared on it by name
    (:meth:`PostgreSQLStorage._exec`)."""

    __slots__ = ("born", "conn", "cursor", "encoding", "pgconn", "prepared")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.born = time.monotonic()
        self.cursor = conn.cursor()
        self.encoding = conn.info.encoding  # the client encoding, as Python names it
        self.prepared: set[bytes] = set()


class _Direct:
    """psycopg connections in autocommit mode for the statements atomic on their own.

    They come from the engine (``raw_connection().detach()``: the same URL, options,
    TLS and set-up), so only the checkout is suolink's: at most ``limit`` out at once
    (a call waits up to ``timeout`` seconds for one, then ``BackendUnavailable``), up to
    ``keep`` idle ones kept, none older than ``recycle`` seconds reused. A connection
    the server dropped is closed, and with it every idle one (they likely died too);
    a forked child starts afresh and never touches its parent's. :meth:`take` and
    :meth:`give_back` are the redirect's (no generator to enter and leave);
    :meth:`connection` wraps them.
    """

    def __init__(
        self, engine: Engine, *, keep: int, limit: int, timeout: float, recycle: float
    ) -> None:
        self._engine = engine
        self._keep, self._limit = keep, limit
        self._timeout, self._recycle = timeout, recycle
        self._lock = threading.Lock()
        self._closed = False
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._out = 0  # connections taken and not given back
        self._waiting = 0  # calls waiting for one
        self._free = threading.Condition(self._lock)
        self._idle: list[_Held] = []

    def _open(self) -> _Held:
        fairy = self._engine.raw_connection()
        conn = fairy.driver_connection  # (read before detach() forgets it)
        fairy.detach()
        assert isinstance(conn, psycopg.Connection)
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()
        conn.autocommit = True
        return _Held(conn)

    def take(self) -> _Held:
        """A connection for one or a few statements; :meth:`give_back` it after."""
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    self._start()  # the parent's connections are left alone, unclosed
        now = time.monotonic()
        stale: list[_Held] = []
        held = None
        with self._lock:
            if self._out >= self._limit:
                self._waiting += 1
                try:
                    free = self._free.wait_for(lambda: self._out < self._limit, self._timeout)
                finally:
                    self._waiting -= 1
                if not free:
                    raise sa_exc.TimeoutError(f"no free connection after {self._timeout:g} s")
            self._out += 1
            idle = self._idle
            while idle:
                candidate = idle.pop()
                if (
                    now - candidate.born < self._recycle
                    and candidate.pgconn.status == ConnStatus.OK
                ):
                    held = candidate
                    break
                stale.append(candidate)
        for old in stale:
            self._close(old)
        if held is not None:
            return held
        try:
            return self._open()
        except BaseException:
            self._release()
            raise

    def give_back(self, held: _Held, *, failed: bool = False) -> None:
        """Keep ``held`` for the next call, or close it (and, if the server dropped it,
        every idle one)."""
        if failed and held.conn.broken:
            self._close_idle()
            self._close(held)
        elif held.pgconn.transaction_status == TransactionStatus.IDLE:  # (not if closed)
            with self._lock:
                if not self._closed and len(self._idle) < self._keep:
                    self._idle.append(held)
                    self._out -= 1
                    if self._waiting:
                        self._free.notify()
                    return
            self._close(held)
        else:
            self._close(held)
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._out -= 1
            if self._waiting:
                self._free.notify()

    @contextmanager
    def connection(self) -> Iterator[_Held]:
        """:meth:`take` and :meth:`give_back` around a block."""
        held = self.take()
        try:
            yield held
        except BaseException:
            self.give_back(held, failed=True)
            raise
        self.give_back(held)

    def _close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for held in idle:
            self._close(held)

    @staticmethod
    def _close(held: _Held) -> None:
        with suppress(psycopg.Error, OSError):
            held.conn.close()

    def close(self) -> None:
        """Close the idle connections; those in use are closed when given back."""
        self._closed = True
        if os.getpid() == self._pid:
            self._close_idle()


class PostgreSQLStorage(SQLStorage):
    """A ``Storage`` on PostgreSQL: ``PostgreSQLStorage("postgresql://user:pw@host/suolink")``.

    Claims ``RecordsInOneTrip`` (a redirect is one round trip) and
    ``HoldsLinksInProcess`` (links held with their version; see the module).
    """

    family = "postgresql"
    _queued_counts = True
    _claim_lock = " FOR UPDATE SKIP LOCKED"  # concurrent workers pass over held heads

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # The link as one JSON text of its columns but ``visits`` (kept beside): one
        # result column, not twenty (reading each column's description costs the
        # client more than json.loads), and the same text while the link is unchanged,
        # so the parsed link is reused (``_link_from``). Statements stay under 4 KiB,
        # the longest whose conversion psycopg caches.
        link_json = "CAST(to_jsonb(links) - 'visits' - 'extra_open' - 'version' AS text)"
        # The gate passes the link along, so the common answer needs no second read.
        one_trip_final = (
            "SELECT link, visits, TRUE, TRUE, version FROM gate UNION ALL "  # noqa: S608
            f"SELECT {link_json}, visits, FALSE, ({_OPEN}), version FROM links "
            f"WHERE {_CODE} AND NOT EXISTS (SELECT FROM gate)"
        )
        self._record = {
            True: _statement(
                _COUNT.format(only=f"{_UNDER_LIMIT} AND {_NO_PEOPLE}"), "SELECT visits FROM gate"
            ),
            False: _statement(_LOCK.format(only=_NO_PEOPLE), "SELECT visits FROM gate"),
        }
        self._one_trip = {
            True: _statement(
                _COUNT.format(only=f"{_UNDER_LIMIT} AND {_OPEN} AND {_NO_PEOPLE}")
                + f", {link_json} AS link, version",
                one_trip_final,
            ),
            False: _statement(
                _LOCK.format(only=f"{_OPEN} AND {_NO_PEOPLE}").replace(
                    " FROM", f", {link_json} AS link, version FROM", 1
                ),
                one_trip_final,
            ),
        }
        appended = _APPENDED.format(link=link_json)
        #: ``append_visit``: the recording statements, held to the link's version.
        self._append = {
            True: _statement(
                _COUNT.format(only=f"{_VERSION} AND {_UNDER_LIMIT} AND {_NO_PEOPLE}"), appended
            ),
            False: _statement(_LOCK.format(only=f"{_VERSION} AND {_NO_PEOPLE}"), appended),
        }
        #: Links held in this process (``peek``): code -> (its row's version, link).
        self._held: dict[str, tuple[int, Link]] = {}
        #: Parsed links by their JSON text (a link is immutable: any change, a new text).
        self._links_by_text: dict[str, Link] = {}
        #: Inside a transaction that already holds the link's row (the base's path).
        self._add_visit = _statement(
            f"SELECT visits FROM links WHERE {_CODE}",  # noqa: S608 - constant text
            "SELECT visits FROM gate",
        )
        # The direct path's statements, compiled once to psycopg's placeholders.
        statements: dict[tuple[str, bool | None], TextClause] = {
            ("record", True): self._record[True],
            ("record", False): self._record[False],
            ("one_trip", True): self._one_trip[True],
            ("one_trip", False): self._one_trip[False],
            ("held", None): text(_HELD_LINK.format(link=link_json)),
            ("select", None): text(_SELECT_LINK.format(link=link_json)),
            ("count", None): text(_VISIT_COUNT),
            ("next_id", None): text(_NEXT_ID),
            ("new_ua", None): text(_NEW_USER_AGENT),
            ("ua", None): text(_USER_AGENT),
            ("drop_old", None): self._drop_old,
            ("fold_cubes", None): text(_FOLD_CUBES),
            ("fold_cells", None): text(_FOLD_CELLS),
            ("fold_persons", None): text(_FOLD_PERSONS),
        }
        for wait in (False, True):  # the fold's claims: waiting or not, of one link or all
            for one in (False, True):
                claim = _FOLD_CLAIM.format(
                    only="WHERE code = CAST(:code AS text) " if one else "",
                    lock="FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED",
                )
                statements[f"claim_{'wait' if wait else 'skip'}", one] = text(claim)
        self._direct_sql = {name: self._compile(clause) for name, clause in statements.items()}
        #: The redirect's statements run on libpq itself (:meth:`_exec`): each one's name
        #: on the server, text with ``$n`` parameters, and what picks its values.
        self._raw_sql: dict[tuple[str, bool], _Raw] = {}
        for count, clause in self._append.items():
            sql, names = _numbered(clause.text)
            pick = itemgetter(*(_APPEND_AT[name] for name in names))
            self._raw_sql["append", count] = (f"suolink_append_{count:d}".encode(), sql, pick)
        #: A visit's counted values (``_COMBO_COLUMNS``) -> its combination's JSON.
        self._combos: dict[tuple[Any, ...], str] = {}
        #: Days since the epoch -> the day's ISO text.
        self._days: dict[int, str] = {}
        #: The folder thread (``_fold_queued``), the process that started it, its wake-up.
        self._folder: threading.Thread | None = None
        self._folder_pid = 0
        self._folder_stop = False
        self._fold_wanted = threading.Event()
        opts = self.options
        self._direct = _Direct(
            self._engine,
            keep=opts.pool_size,
            limit=opts.pool_size + opts.max_overflow,
            timeout=opts.pool_timeout,
            recycle=opts.pool_recycle,
        )

    def _compile(self, clause: TextClause) -> str:
        return str(clause.compile(dialect=self._engine.dialect))

    @contextmanager
    def _direct_call(self, doing: str) -> Iterator[_Held]:
        """A direct connection; driver errors become suolink's as everywhere else."""
        with self._errors(doing), self._direct.connection() as held:
            yield held

    def _classify(self, exc: Exception) -> type[BackendError] | None:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return BackendUnavailable  # the server is gone, restarting, or refused us
        if isinstance(exc, psycopg.Error):
            return BackendError
        return super()._classify(exc)

    def _run(self, held: _Held, name: tuple[str, bool | None], params: Any) -> Any:
        """Run one of ``_direct_sql`` on ``held``'s cursor, prepared on the server the
        first time; the cursor, to read its rows before the next statement."""
        return held.cursor.execute(self._direct_sql[name], params, prepare=True)

    def _exec(self, held: _Held, name: tuple[str, bool], values: Sequence[Any]) -> pq.abc.PGresult:
        """Run one of ``_raw_sql`` on libpq directly, prepared on ``held`` the first time.

        psycopg's ``execute`` (a generator driving non-blocking I/O, each parameter
        adapted by type) cost a redirect more client CPU than the rest of its storage
        call; libpq's own blocking call (the GIL released while it waits) with the values
        as text costs a quarter. For statements whose parameters are text, numbers,
        booleans or NULL, and whose caller reads the result's text.
        """
        key, sql, pick = self._raw_sql[name]
        pgconn = held.pgconn
        encoding = held.encoding
        if key not in held.prepared:
            self._check(held, pgconn.prepare(key, sql.encode(encoding)), ExecStatus.COMMAND_OK)
            held.prepared.add(key)
        params = [
            None if v is None else v.encode(encoding) if isinstance(v, str) else str(v).encode()
            for v in pick(values)
        ]  # (None is NULL, as psycopg itself passes it: the stub's type says bytes only)
        result = pgconn.exec_prepared(key, cast("list[bytes]", params))
        return self._check(held, result, ExecStatus.TUPLES_OK)

    @staticmethod
    def _check(held: _Held, result: pq.abc.PGresult, expected: ExecStatus) -> pq.abc.PGresult:
        """``result``, or the error psycopg would raise for it (``OperationalError`` if
        the connection is lost: the caller closes it)."""
        if result.status == expected:
            return result
        if held.conn.pgconn.status == ConnStatus.BAD:
            message = (result.error_message or b"").decode(held.encoding, "replace").strip()
            raise psycopg.OperationalError(f"the connection is lost: {message}")
        raise psycopg.errors.error_from_result(result, encoding=held.encoding)

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None: one prepared statement."""
        if not code_ok(code):
            return None
        with self._direct_call("read a link") as conn:
            row = self._run(conn, ("select", None), {"code": code}).fetchone()
        return None if row is None else self._link_from(row[0], int(row[1]))

    def _link_from(self, text: str, visits: int) -> Link:
        """The link a JSON text of its columns holds, with ``visits``; parsed once per text."""
        link = self._links_by_text.get(text)
        if link is None:
            values = json.loads(text)
            values["visits"] = 0
            link = self._table.link(values)
            if len(self._links_by_text) >= _LINK_TEXTS:
                self._links_by_text.clear()
            self._links_by_text[text] = link
        return link if link.visits == visits else _with_visits(link, visits)

    # -- the fold of queued counts, on the direct connections ---------------------------

    def _fold(self, code: str | None, limit: int, *, wait: bool) -> int:
        """Count up to ``limit`` queued visits (of ``code``) in one transaction; how many.

        What ``SQLStorage._fold`` does (the same rows, locked in the same order), for
        less: on a direct connection with prepared statements; the claim reads only the
        counted columns; a combination's JSON is made once per set of values, as
        SQLite's writer does; the rows go as arrays. It cost the client more CPU than
        the redirects it folded, and the server a JSON parse per row.
        """
        params = {"n": limit, "code": code}
        claim = (f"claim_{'wait' if wait else 'skip'}", code is not None)
        with self._direct_call("fold visit counts") as conn, conn.conn.transaction():
            rows = self._run(conn, claim, params).fetchall()
            if not rows:
                return 0
            cubes: dict[tuple[str, str, str], int] = {}
            cells: dict[tuple[str, str, str], int] = {}
            persons: dict[tuple[str, str], int] = {}
            days, combos = self._days, self._combos
            for row in rows:
                link_code = row[0]
                if link_code is None:  # the visit is gone: claimed, counted as nothing
                    continue
                day_number = row[1] // _DAY_US
                day = days.get(day_number)
                if day is None:
                    day = self._day(day_number)
                values = row[4:]
                combo = combos.get(values)
                if combo is None:
                    combo = self._combo(values)
                for cube in ((link_code, day, combo), (link_code, ALL_TIME, combo)):
                    cubes[cube] = cubes.get(cube, 0) + 1
                who = None if row[5] else (row[2] or row[3])  # visitor_key, people only
                if who:
                    person = (link_code, who)
                    persons[person] = persons.get(person, 0) + 1
                    cell = (link_code, day, who)
                    cells[cell] = cells.get(cell, 0) + 1
            new_people = self._fold_persons(conn, persons)
            self._fold_rows(conn, ("fold_cells", None), cells, "visitor")
            self._fold_rows(conn, ("fold_cubes", None), cubes)
            if new_people:
                people = {(c, ALL_TIME, ""): n for c, n in new_people.items()}
                self._fold_rows(conn, ("fold_cells", None), people, PEOPLE)
        return len(rows)

    def _day(self, number: int) -> str:
        if len(self._days) >= _COMBOS:
            self._days.clear()
        day = self._days[number] = (_EPOCH + timedelta(days=number)).date().isoformat()
        return day

    def _combo(self, values: tuple[Any, ...]) -> str:
        """The ``visit_cubes`` combination (JSON of ``visit_dimensions``) of these values."""
        given = dict(zip(_COMBO_COLUMNS, values, strict=True))
        given["is_bot"] = bool(given["is_bot"])
        combo = json.dumps(
            visit_dimensions(Visit(code="", **given)), ensure_ascii=False, separators=_TIGHT
        )
        if len(self._combos) >= _COMBOS:
            self._combos.clear()
        self._combos[values] = combo
        return combo

    def _fold_rows(
        self,
        conn: _Held,
        name: tuple[str, None],
        rows: Mapping[tuple[str, str, str], int],
        dimension: str | None = None,
    ) -> None:
        """Add ``n`` to each (code, day, text) row of the cubes or of ``dimension``'s
        cells, in key order (code, day, the text's hash) as ``SQLStorage`` does."""
        ordered = sorted((c, day, s.key_hash(v), v, n) for (c, day, v), n in rows.items())
        if ordered:
            payload = [[c, day, k.hex(), v, n] for c, day, k, v, n in ordered]
            params = {"rows": json.dumps(payload, ensure_ascii=False), "dimension": dimension}
            self._run(conn, name, params)

    def _fold_persons(self, conn: _Held, persons: Mapping[tuple[str, str], int]) -> dict[str, int]:
        """Add each person's visits to ``visitor_counts``; per link, how many are new."""
        ordered = sorted((c, s.key_hash(who), who, n) for (c, who), n in persons.items())
        new: dict[str, int] = {}
        if not ordered:
            return new
        payload = json.dumps([[c, k.hex(), who, n] for c, k, who, n in ordered], ensure_ascii=False)
        added = {(c, k): n for c, k, _, n in ordered}
        for link_code, key, n in self._run(conn, ("fold_persons", None), {"rows": payload}):
            if added[link_code, bytes(key)] == n:  # inserted now: a new person
                new[link_code] = new.get(link_code, 0) + 1
        return new

    def next_id(self) -> int:
        """A number never handed out before: one ``UPDATE … RETURNING`` on the counter row."""
        with self._direct_call("count") as conn:
            return int(self._run(conn, ("next_id", None), None).fetchone()[0])

    def _delete_old_visits(self, before: int, size: int) -> int:
        with self._direct_call("drop old visits") as conn:
            return int(self._run(conn, ("drop_old", None), {"before": before, "n": size}).rowcount)

    def close(self) -> None:
        """Close every connection; later calls raise ``BackendUnavailable``. A fold
        under way in the folder thread is let finish (up to ``_FOLDER_JOIN`` seconds)."""
        self._folder_stop = True
        folder = self._folder
        if folder is not None and self._folder_pid == os.getpid():
            self._fold_wanted.set()
            if folder is not threading.current_thread():
                folder.join(_FOLDER_JOIN)
        super().close()
        self._direct.close()

    # -- the fold in a thread of its own ---------------------------------------------

    def _fold_queued(self) -> None:
        """Wake this process's folder thread (started on first use, again in a forked
        child): the redirect that reached ``FOLD_EVERY`` no longer waits for the fold
        (tens of milliseconds), and on a machine with a core to spare the fold's
        server work runs beside the redirects. Its CPU is the same. Counts stay exact
        for readers, who fold their link first (``_fold_all``), and as durable: a
        visit's queue row is committed with it, whoever folds it later."""
        if self._folder_pid != os.getpid():
            with self._fork_lock:
                if self._folder_pid != os.getpid():
                    self._fold_wanted = threading.Event()
                    self._folder = threading.Thread(
                        target=self._fold_forever, name="suolink-pg-fold", daemon=True
                    )
                    self._folder_pid = os.getpid()
                    self._folder.start()
        self._fold_wanted.set()

    def _fold_batch(self) -> int:
        return self._fold(None, FOLD_BATCH, wait=False)

    def _fold_forever(self) -> None:
        """Fold batches while woken, until the store closes; failures are logged and
        left to the next wake (or to the next read, which folds its link first)."""
        wanted = self._fold_wanted
        while True:
            wanted.wait()
            wanted.clear()
            if self._folder_stop:
                return
            try:
                more = True
                while more and not self._folder_stop:  # a full batch: more are queued
                    more = self._retrying(self._fold_batch) >= FOLD_BATCH
            except BackendError as exc:
                _log.warning(
                    "suolink: folding queued visit counts failed (tried again later): %s", exc
                )
            except Exception:  # a bug: logged, and the thread lives on for the next wake
                _log.exception("suolink: folding queued visit counts failed")

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` in one statement, unless ``max_visits`` is reached."""
        visit = normalise_visit(visit)
        result = self._retrying(lambda: self._record_visit(visit, count))
        self._queued()
        return result

    def _record_visit(self, visit: Visit, count: bool) -> VisitResult:
        self._drop_old_visits(visit.at)
        click = counts_for_people(visit)
        with self._direct_call("record a visit") as conn:
            params = self._params(visit, self._direct_ua_id(conn, visit.user_agent))
            params["click"] = click
            row = self._run(conn, ("record", count), params).fetchone()
            if row is not None:
                return VisitResult(allowed=True, visits=int(row[0]))
            if not click:
                row = self._run(conn, ("count", None), {"code": visit.code}).fetchone()
        if click:  # a people link's click (or a refusal): the transaction path decides
            return DomainRows.record_visit(self, visit, count=count)
        if row is None:
            raise LinkNotFound(visit.code)
        return VisitResult(allowed=False, visits=int(row[0]))

    def get_and_record(
        self, visit: Visit, *, count: bool = True
    ) -> tuple[Link | None, VisitResult | None]:
        """A redirect in one round trip: read the link and record ``visit`` if it is open.

        The three answers are those of :class:`~suolink.backends.base.RecordsInOneTrip`.
        """
        visit = normalise_visit(visit)
        if not code_ok(visit.code):
            return None, None
        found = self._retrying(lambda: self._get_and_record(visit, count))
        if found[1] is not None and found[1].allowed:
            self._queued()
        return found

    def _get_and_record(self, visit: Visit, count: bool) -> tuple[Link | None, VisitResult | None]:
        self._drop_old_visits(visit.at)
        with self._direct_call("record a visit") as conn:
            params = self._params(visit, self._direct_ua_id(conn, visit.user_agent))
            params.update(_OPEN_PARAMS, at_tz=visit.at.isoformat())
            params["click"] = counts_for_people(visit)
            row = self._run(conn, ("one_trip", count), params).fetchone()
        if row is None:
            return None, None
        text, visits, recorded, is_open, version = row
        link = self._link_from(text, int(visits))
        held = self._held.get(visit.code)
        if held is not None and held[0] != version:  # changed elsewhere: hold the new row
            self._hold(visit.code, link, int(version))
        if recorded:
            return link, VisitResult(allowed=True, visits=link.visits)
        limit = link.max_visits
        if count and is_open and limit is not None and link.visits >= limit:
            return link, VisitResult(allowed=False, visits=link.visits)  # open, at its limit
        return link, None  # a setting could refuse (or it changed meanwhile): ask the policy

    # -- HoldsLinksInProcess -------------------------------------------------------------

    def peek(self, code: str) -> Link | None:
        """The link as this process last read it: one object until it changes.

        A change made through this store is seen by the next call; one made elsewhere
        by :meth:`append_visit`, whose statement records only while the row is at the
        version the redirect was planned with (and hands back the new row). On an event
        loop (:func:`~suolink.backends.batching.deferring`) ``CommitWouldWait``: the
        visit's write is a round trip to wait for, so the request goes to a thread.
        """
        if deferred_commits() is not None:
            raise CommitWouldWait
        entry = self._held.get(code) if type(code) is str else None
        if entry is not None:
            return entry[1]
        if not code_ok(code):
            return None
        with self._direct_call("read a link") as conn:
            row = self._run(conn, ("held", None), {"code": code}).fetchone()
        if row is None:
            return None
        return self._hold(code, self._link_from(row[0], int(row[1])), int(row[2]))

    def _hold(self, code: str, link: Link, version: int) -> Link:
        """Keep ``link`` for ``peek`` with its row's version."""
        held = self._held
        if len(held) >= _HELD:
            held.clear()
        held[code] = (version, link)
        return link

    def _drop(self, code: object) -> None:
        """Forget the held copy of ``code`` (changed or deleted through this store)."""
        if type(code) is str:
            self._held.pop(code, None)

    def append_visit(self, record: VisitRecord, *, count: bool = True) -> bool | None:
        """Record a visit suolink built for a redirect planned on :meth:`peek`'s link.

        One statement, held to the version of the held link: True if recorded, False if
        ``max_visits`` refused it, None if there is no such link or it changed since
        (nothing recorded; the new row is held, the caller asks the policy again).
        """
        if deferred_commits() is not None:
            raise CommitWouldWait
        code = record[0]
        held = self._held.get(code)
        if held is None:  # not read through peek: the ordinary statement
            try:
                return self.record_visit(Visit.from_record(record), count=count).allowed
            except LinkNotFound:
                return None
        held_version, link = held
        click = record[12] == "redirect" and not record[8] and bool(record[10])
        row = self._retrying(lambda: self._append_visit(record, count, held_version, click))
        if row is None:
            self._drop(code)
            return None
        recorded, version, visits, text = row
        if recorded:
            self._queued()
            return True
        if text is not None:
            self._hold(code, self._link_from(text, int(visits)), int(version))
            return None
        # The version held, nothing recorded: a limit, a person's click on a people link
        # (the transaction path counts it), or a change committed while the statement ran
        # (its snapshot shows the old row): then read again, the caller plans afresh.
        people = click and is_people_link(link.campaign, link.recipient)
        if not people and not (count and link.max_visits is not None):
            self._drop(code)
            return None
        try:
            return self.record_visit(Visit.from_record(record), count=count).allowed
        except LinkNotFound:
            return None

    def _append_visit(
        self, record: VisitRecord, count: bool, version: int, click: bool
    ) -> tuple[bool, int, int, str | None] | None:
        """The append statement's row: recorded, and if not the row's version, count and
        (if the version moved) JSON text; None if there is no such link."""
        self._drop_old_visits(record[1])
        direct = self._direct
        with self._errors("record a visit"):  # (``_direct_call`` without its generator)
            held = direct.take()
            try:
                ua_id = self._direct_ua_id(held, record[3])
                result = self._exec(
                    held, ("append", count), _append_values(record, ua_id, click, version)
                )
            except BaseException:
                direct.give_back(held, failed=True)
                raise
            direct.give_back(held)
        if not result.ntuples:
            return None
        if result.get_value(0, 0) == b"t":
            return True, version, 0, None
        found, visits, text = (result.get_value(0, i) for i in (1, 2, 3))
        assert found is not None
        assert visits is not None
        return False, int(found), int(visits), None if text is None else text.decode(held.encoding)

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free (see ``SQLStorage.create``)."""
        try:
            return super().create(link)
        finally:
            if isinstance(link, Link):
                self._drop(link.code)

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` atomically; the held copy is dropped (see ``Storage.update``)."""
        self._drop(code)
        try:
            return super().update(code, changes)
        finally:
            self._drop(code)

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link (see ``SQLStorage.delete``); the held copy is dropped."""
        try:
            return super().delete(code, tombstone=tombstone)
        finally:
            self._drop(code)

    def _update_link(self, tx: Connection, link: Link) -> None:
        super()._update_link(tx, link)
        self._drop(link.code)

    def _insert_visit(self, tx: Connection, visit: Visit) -> None:
        """Record the visit and queue its counts inside the caller's transaction."""
        ua_id = self._user_agent_id(tx, visit.user_agent, committed=False)
        tx.execute(self._add_visit, self._params(visit, ua_id))
        self._count_people(tx, visit)

    def _direct_ua_id(self, conn: _Held, ua: str) -> int:
        """The id of ``ua`` in ``user_agents``, inserted if new (autocommitted: remembered)."""
        known = self._ua_ids.get(ua)
        if known is not None:
            return known
        key = s.key_hash(ua)
        row = self._run(conn, ("new_ua", None), {"hash": key, "text": ua}).fetchone()
        if row is None:  # another process inserted it first
            row = self._run(conn, ("ua", None), {"hash": key}).fetchone()
        self._remember(ua, int(row[0]))
        return int(row[0])

    def _params(self, visit: Visit, ua_id: int) -> dict[str, Any]:
        """The recording statement's parameters."""
        row = visit_row(visit, ua_id)
        params: dict[str, Any] = {f"v_{c}": row[c] for c in _VISIT_COLUMNS}
        params["v_is_bot"] = int(visit.is_bot)
        params["code"] = visit.code
        return params
