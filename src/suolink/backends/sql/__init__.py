"""``postgresql://`` and ``mysql://`` / ``mariadb://``: links on a database server.

SQLAlchemy 2 Core over psycopg 3 (the ``postgres`` extra) or PyMySQL (the ``mysql``
extra), with a pool of connections per process; no ORM session anywhere. The logic is
the shared :class:`~suolink.backends.relational.RelationalStorage`; this module supplies
its primitives as Core statements on the tables of :mod:`.schema`.

* Atomic as on SQLite: ``create`` inserts and lets the primary key refuse a taken
  code; visits are counted with ``UPDATE … SET visits = visits + 1 WHERE … AND
  (max_visits IS NULL OR visits < max_visits)`` (``RETURNING`` on PostgreSQL,
  ``LAST_INSERT_ID(expr)`` read from the same reply on MySQL); ``next_id`` likewise.
* On PostgreSQL a visit, its counts and its person are recorded by **one statement**
  (data-modifying ``WITH`` queries behind the counting ``UPDATE``): one round trip,
  atomic without a transaction around it. MySQL has no such statement: there it is one
  transaction of a few statements.
* Every write that touches a link's visits locks the link's row first, so writers of
  one link take turns and never deadlock on its counts.
* A visit's counts (``visit_counts``, ``visitor_counts``: a dozen cells each) are not
  written by the visit: it adds one row to ``count_queue``, and a *fold* adds the
  queued visits' counts in one transaction (:meth:`SQLStorage._fold`): after every
  ``FOLD_EVERY`` visits a process records or ``FOLD_SECONDS`` after its last fold, and
  before any read of the counts, so stats are exact right after a redirect. A fold
  claims queue rows with ``SELECT … FOR UPDATE`` (``SKIP LOCKED`` in the background)
  and deletes them in the transaction that adds their counts: each visit is counted
  once, whatever the number of processes.
* Schema migrations (own ``schema_version`` table, see :mod:`.schema`) run when the
  store is opened, under a server lock.
* ``retention_days=N`` drops raw visits older than N days, a small batch at a time
  before visits are recorded, as on SQLite; the counts stay.
* ``restore_many`` (``RestoresInBatches``) restores an import's links and visits in one
  transaction, a savepoint per link.
* A lost server is ``BackendUnavailable`` (HTTP 503); the pool drops the dead
  connections, so the first calls after the server returns succeed again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    TextClause,
    case,
    create_engine,
    delete,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect

from ...errors import BackendError, BackendUnavailable, ConfigurationError, InvalidOption
from ...models import Conversion, Link, Visit, VisitResult
from ...people import (
    EVERY,
    count_click,
    counts_for_people,
    is_people_link,
    people_sql,
    scope_of,
    scopes,
)
from .. import redact_url
from .._common import (
    Position,
    code_ok,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_dimensions,
    visitor_key,
)
from ..base import DIMENSIONS, TOP, PeopleTotals, PersonRow, StatsCounts
from ..domain_rows import DomainRows
from ..relational import (
    ALL_TIME,
    CONVERSION_COLUMNS,
    FIRST_DAY,
    PEOPLE,
    PLAIN_VISIT_FIELDS,
    Derived,
    LinkTable,
    RelationalConversions,
    RelationalPeople,
    Row,
    day_bounds,
    replayed,
    visit_from_row,
)
from ..sql_outbox import Ran, Run, SqlOutbox
from . import schema as s
from ._options import SQLOptions, parse_url

__all__ = ["EMPTY_KEY", "FOLD_BATCH", "FOLD_EVERY", "FOLD_SECONDS", "RETENTION_BATCH", "SQLStorage"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: Columns of ``links`` that are not ``Link`` fields.
_DERIVED = (Derived("created_us", "created_at", to_micros),)
#: How many user agents' ids a process remembers (ids never change once committed).
_UA_CACHE = 4096
#: Tries of a write the server aborted to break a deadlock or a serialisation conflict.
_TRIES = 5
_RETRY_STATES = frozenset({"40001", "40P01"})  # PostgreSQL: serialization, deadlock
_RETRY_ERRNOS = frozenset({1213, 1205})  # MySQL: deadlock, lock wait timeout
#: The ``value_key`` of an empty value (the ``people`` cell, the day totals).
EMPTY_KEY = s.key_hash("")
#: Raw visits dropped per retention step: small, so no statement holds locks for long.
RETENTION_BATCH = 200
#: Seconds between retention steps while the previous step found nothing more to drop.
_RETENTION_PAUSE = 1.0
_DAY_US = 86_400_000_000
#: One retention step: the oldest raw visits before ``:before``, at most ``:n`` of them.
#: MySQL takes ``ORDER BY … LIMIT`` on a ``DELETE`` but not ``LIMIT`` in an ``IN`` query.
#: A visit whose counts are still queued stays until a fold has counted it.
_NOT_QUEUED = (
    "NOT EXISTS (SELECT 1 FROM count_queue q WHERE q.code = visits.code AND q.visit_id = visits.id)"
)
_DROP_OLD = {
    "postgresql": "DELETE FROM visits WHERE id IN "  # noqa: S608 - constant text
    f"(SELECT id FROM visits WHERE at_us < :before AND {_NOT_QUEUED} ORDER BY at_us LIMIT :n)",
    "mysql": f"DELETE FROM visits WHERE at_us < :before AND {_NOT_QUEUED} "  # noqa: S608
    "ORDER BY at_us LIMIT :n",
}
_TIGHT = (",", ":")
#: Visits a process records between two background folds of their queued counts.
FOLD_EVERY = 256
#: The most seconds a process lets pass between folds while it records visits.
FOLD_SECONDS = 2.0
#: Queued visits one fold transaction counts at most.
FOLD_BATCH = 2000


class SQLStorage(
    SqlOutbox,
    DomainRows[Connection],
    RelationalConversions[Connection],
    RelationalPeople[Connection],
):
    """What the PostgreSQL and MySQL/MariaDB stores share; each engine's class adds its own.

    :class:`~.postgres.PostgreSQLStorage` (``postgresql://``) and
    :class:`~.mysql.MySQLStorage` (``mysql://``, ``mariadb://``) record a visit each the
    fastest way its engine allows.

    Opening connects and migrates; errors then are ``BackendUnavailable`` (no server)
    or ``BackendError`` (not a suolink database, or a newer one).
    """

    _conflict = (sa_exc.IntegrityError,)
    #: The URL family this class serves: ``"postgresql"`` or ``"mysql"``.
    family: str

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self.options: SQLOptions = parse_url(url)
        if self.options.family != self.family:
            raise ConfigurationError(
                f"{type(self).__name__} serves {self.family} URLs, not {self.url!r}"
            )
        self._postgres = self.family == "postgresql"
        self._table = LinkTable(derived=_DERIVED)
        self._link_columns = [s.links.c[name] for name in self._table.columns()]
        self._closed = False
        self._pid = os.getpid()
        self._fork_lock = threading.Lock()
        self._ua_ids: dict[str, int] = {}
        #: Raw visits older than this many days are dropped while recording (0: never).
        self.retention_days = self.options.retention_days
        self._retention_due = 0.0  # time.monotonic() of the next retention step
        self._since_fold = 0  # visits queued by this process since its last fold
        self._fold_due = time.monotonic() + FOLD_SECONDS
        self._drop_old: TextClause = text(_DROP_OLD[self.family])
        self._people_sql = _people_statements(self.family)
        self._engine = self._create_engine()
        self._auto = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._postgres
            else self._engine  # MySQL's connections autocommit already
        )
        with self._errors("open"), self._engine.connect() as conn:
            s.migrate(conn, lock_name=self._lock_name(), schema=self.options.schema)

    def __repr__(self) -> str:
        return f"SQLStorage({self.url!r})"

    # -- connections ---------------------------------------------------------------

    def _create_engine(self) -> Engine:
        opts = self.options
        connect_args: dict[str, Any] = {"connect_timeout": int(opts.connect_timeout)}
        if self._postgres:
            if opts.schema is not None:
                connect_args["options"] = f"-c search_path={opts.schema}"
            isolation, reset = "READ COMMITTED", "rollback"
        else:
            # MySQL: connections autocommit, and a write is an explicit transaction
            # (``_writing``). Through SQLAlchemy's isolation-level switch every read
            # cost six round trips (autocommit on and off, the isolation level set
            # again, a commit and a rollback); this way a read is its statement and the
            # rollback that ends it. SQLAlchemy ends every transaction it began, so
            # the pool's own reset (another ROLLBACK) is not needed either.
            connect_args["charset"] = "utf8mb4"
            connect_args["init_command"] = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
            isolation, reset = "AUTOCOMMIT", None
        connect_args.update(opts.passed)
        return create_engine(
            opts.driver_url,
            pool_size=opts.pool_size,
            max_overflow=opts.max_overflow,
            pool_timeout=opts.pool_timeout,
            pool_recycle=opts.pool_recycle,
            pool_reset_on_return=reset,
            connect_args=connect_args,
            isolation_level=isolation,
        )

    def _lock_name(self) -> str:
        database = self._engine.url.database or ""
        return f"suolink-migrate:{database}:{self.options.schema or ''}"

    def _after_fork(self) -> None:
        """A forked child must never use its parent's pooled connections."""
        if os.getpid() != self._pid:
            with self._fork_lock:
                if os.getpid() != self._pid:
                    self._engine.dispose(close=False)
                    self._pid = os.getpid()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        self._after_fork()
        with self._auto.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        self._after_fork()
        with self._engine.begin() as conn:
            if not self._postgres:  # the connection autocommits: open a transaction
                conn.exec_driver_sql("START TRANSACTION")
            yield conn

    @contextmanager
    def _outbox_tx(self, doing: str, *, write: bool = True) -> Iterator[Run]:
        """The webhook outbox's statements (``:name`` parameters) in one transaction."""

        def run(sql: str, params: Mapping[str, Any]) -> Ran:
            result = conn.execute(text(sql), dict(params))
            rows = [tuple(row) for row in result.fetchall()] if result.returns_rows else []
            return Ran(rows, result.rowcount)

        with self._write(doing) if write else self._read(doing) as conn:
            yield run

    def _classify(self, exc: Exception) -> type[BackendError] | None:
        if isinstance(
            exc,
            sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sa_exc.TimeoutError
            | sa_exc.DisconnectionError,
        ):
            return BackendUnavailable
        if isinstance(exc, sa_exc.SQLAlchemyError):
            return BackendError
        return None

    def _describe(self, doing: str) -> str:
        name = "PostgreSQL" if self._postgres else "MySQL"
        return f"{name} could not {doing} ({self.url})"

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call()``, again if the server aborted it to break a deadlock."""
        for attempt in range(_TRIES):
            try:
                return call()
            except BackendError as exc:
                if attempt + 1 == _TRIES or not _retryable(exc.original):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the Storage protocol, where this backend does better than the base ---------------

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, atomically; raise ``CodeTaken`` if not."""
        return self._retrying(lambda: DomainRows.create(self, link))

    def next_id(self) -> int:
        """A number never handed out before: one ``UPDATE`` on the counter row, autocommitted.

        The statement is atomic on its own, so no transaction (and no round trip to open
        and commit one) is needed around it.
        """
        with self._read("count") as conn:
            return self._next_id(conn)

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link, its tags and visits (leaving a ``tombstone``) in one transaction."""
        return self._retrying(lambda: DomainRows.delete(self, code, tombstone=tombstone))

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` atomically, unless ``max_visits`` is reached."""
        visit = normalise_visit(visit)

        def record() -> VisitResult:
            self._drop_old_visits(visit.at)
            return DomainRows.record_visit(self, visit, count=count)

        result = self._retrying(record)
        if self._queued_counts:
            self._queued()
        return result

    # -- counts folded from the queue ---------------------------------------------------

    #: True where a visit queues its counts (``count_queue``) instead of adding them.
    _queued_counts = False

    def _queued(self, visits: int = 1) -> None:
        """``visits`` were queued: fold the queue if this process's turn has come.

        A fold that fails is logged and left to the next one (or to the next read of
        the counts, which folds first): the visits themselves are recorded.
        """
        self._since_fold += visits
        if self._since_fold < FOLD_EVERY and time.monotonic() < self._fold_due:
            return
        self._since_fold = 0
        self._fold_due = time.monotonic() + FOLD_SECONDS
        self._fold_queued()

    def _fold_queued(self) -> None:
        """Fold a batch of queued visits, in the caller's thread (PostgreSQL: in one of
        its own, :class:`~.postgres.PostgreSQLStorage`)."""
        try:
            folded = self._retrying(lambda: self._fold(None, FOLD_BATCH, wait=False))
        except BackendError as exc:
            _log.warning("suolink: folding queued visit counts failed (tried again later): %s", exc)
            return
        if folded >= FOLD_BATCH:
            self._since_fold = FOLD_EVERY  # more are queued: fold again after the next visit

    def _fold_all(self, code: str | None) -> None:
        """Count every visit queued (of ``code``) before now, waiting for folds under way.

        Until a fold finds nothing left (a batch can come back short while more are
        queued: rows another fold held are gone once it commits); at most 100 batches,
        so a read under a flood of new visits still returns.
        """
        for _ in range(100):
            if not self._retrying(lambda: self._fold(code, FOLD_BATCH, wait=True)):
                return

    def _fold(self, code: str | None, limit: int, *, wait: bool) -> int:
        """Count up to ``limit`` queued visits (of ``code``) in one transaction; how many.

        The queue rows are locked (``wait``: waiting for another fold's, which are then
        gone; else passing over them) and deleted in the transaction that adds their
        visits' counts, so a visit is counted exactly once. A visit adds 1 to two
        ``visit_cubes`` rows (its day's and all time's, for its combination of values)
        and, for a person, to their ``visitor_counts`` row and the day's ``visitor``
        cell. Rows are added in key order, table after table, so two folds lock shared
        rows in the same order and never deadlock.
        """
        with self._write("fold visit counts") as tx:
            claimed, rows = self._claim(tx, code, limit, wait=wait)
            if not claimed:
                return 0
            cubes: Counter[tuple[str, str, str]] = Counter()
            cells: Counter[tuple[str, str, str, str]] = Counter()
            persons: Counter[tuple[str, str]] = Counter()
            for row in rows:
                visit = self._to_visit(row)
                day = visit.at.astimezone(UTC).date().isoformat()
                combo = json.dumps(visit_dimensions(visit), ensure_ascii=False, separators=_TIGHT)
                cubes[visit.code, day, combo] += 1
                cubes[visit.code, ALL_TIME, combo] += 1
                who = None if visit.is_bot else visitor_key(visit)
                if who is not None:  # the person's visits, and the day's distinct people
                    persons[visit.code, who] += 1
                    cells[visit.code, "visitor", day, who] += 1
            new_people = self._add_persons(tx, persons)
            self._add_cells(tx, cells)
            self._add_cubes(tx, cubes)
            self._add_cells(
                tx, Counter({(c, PEOPLE, ALL_TIME, ""): n for c, n in new_people.items()})
            )
        return claimed

    def _claim(
        self, tx: Connection, code: str | None, limit: int, *, wait: bool
    ) -> tuple[int, list[Any]]:
        """Lock and delete up to ``limit`` queue rows; how many, and their visits' rows.

        MySQL locks, deletes, then reads (PostgreSQL has a fold of its own, one
        ``DELETE … RETURNING`` joined to the visits: ``PostgreSQLStorage._fold``).
        """
        q = s.count_queue.c
        claim = select(q.code, q.visit_id).limit(limit)
        if code is not None:
            claim = claim.where(q.code == code)
        keys = tx.execute(claim.with_for_update(skip_locked=not wait)).all()
        rows: list[Any] = []
        for start in range(0, len(keys), 500):
            chunk = [(str(c), int(i)) for c, i in keys[start : start + 500]]
            tx.execute(delete(s.count_queue).where(tuple_(q.code, q.visit_id).in_(chunk)))
            v, u = s.visits.c, s.user_agents.c
            query = (
                select(*(v[c] for c in ("id", "code", "at", "at_us")),
                       *(u.text.label("user_agent") if c == "user_agent" else v[c]
                         for c in PLAIN_VISIT_FIELDS))
                .join_from(s.visits, s.user_agents, u.id == v.ua_id)
                .where(v.id.in_([i for _, i in chunk]))
            )  # fmt: skip
            rows += [row._mapping for row in tx.execute(query)]
        return len(keys), rows

    def _add_cells(self, tx: Connection, cells: Counter[tuple[str, str, str, str]]) -> None:
        """Add ``n`` to each cell (inserted if new), in key order."""
        rows = sorted(
            (code, dim, day, s.key_hash(value), value, n)
            for (code, dim, day, value), n in cells.items()
        )
        if not rows:
            return
        names = ("code", "dimension", "day", "value_key", "value", "n")
        tx.execute(_MYSQL_ADD_CELLS, [dict(zip(names, row, strict=True)) for row in rows])

    def _add_cubes(self, tx: Connection, cubes: Counter[tuple[str, str, str]]) -> None:
        """Add ``n`` to each cube row (inserted if new), in key order."""
        rows = sorted(
            (code, day, s.key_hash(combo), combo, n) for (code, day, combo), n in cubes.items()
        )
        if not rows:
            return
        names = ("code", "day", "combo_key", "combo", "n")
        tx.execute(_MYSQL_ADD_CUBES, [dict(zip(names, row, strict=True)) for row in rows])

    def _add_persons(self, tx: Connection, persons: Counter[tuple[str, str]]) -> Counter[str]:
        """Add each person's visits to ``visitor_counts``; per link, how many are new there."""
        rows = sorted((code, s.key_hash(who), who, n) for (code, who), n in persons.items())
        new: Counter[str] = Counter()
        if not rows:
            return new
        for code, key, who, n in rows:  # affected rows: 1 inserted, 2 updated
            params = {"code": code, "visitor_key": key, "visitor": who, "n": n}
            if tx.execute(_MYSQL_ADD_PERSON, params).rowcount == 1:
                new[code] += 1
        return new

    # -- retention ---------------------------------------------------------------------

    def _drop_old_visits(self, at: datetime) -> None:
        """One retention step before a visit at ``at`` is recorded (``retention_days``).

        Up to ``RETENTION_BATCH`` raw visits older than ``retention_days`` before ``at``,
        in their own autocommitted statement: on every visit while a backlog is left, at
        most once a second once it is gone, so no statement holds locks for long. It
        runs before the visit is written, so a failure here leaves nothing half done and
        the call may be tried again. The counts and the links' visit counts stay.
        """
        if not self.retention_days:
            return
        now = time.monotonic()
        if now < self._retention_due:
            return
        before = to_micros(at) - self.retention_days * _DAY_US
        size = RETENTION_BATCH
        full = self._delete_old_visits(before, size) >= size
        self._retention_due = now if full else now + _RETENTION_PAUSE

    def _delete_old_visits(self, before: int, size: int) -> int:
        """Delete up to ``size`` of the oldest raw visits before ``before``; how many went."""
        with self._read("drop old visits") as conn:
            return int(conn.execute(self._drop_old, {"before": before, "n": size}).rowcount)

    # -- restores_in_batches -------------------------------------------------------------

    def _check_code(self, code: str) -> None:
        """Refuse a code this engine cannot store (MySQL: longer than its column)."""

    def restore_many(self, items: Sequence[tuple[Link, Sequence[Visit]]]) -> list[bool]:
        """Archived links and their visits in one transaction, a savepoint per link.

        See :class:`~suolink.backends.base.RestoresInBatches`: each link as ``create``
        and its visits as ``record_visit`` would store them (redirects counted up to
        ``max_visits``); a taken or retired code undoes only its own link.
        """
        checked = [
            (normalise_link(link), [normalise_visit(visit) for visit in visits])
            for link, visits in items
        ]
        for link, visits in checked:
            self._check_code(link.code)
            if any(visit.code != link.code for visit in visits):
                raise InvalidOption("visit", f"a visit of another link among {link.code}'s")
        made = self._retrying(lambda: self._restore(checked))
        if self._queued_counts:
            self._queued(sum(len(visits) for _, visits in checked))
        return made

    def _restore(self, checked: Sequence[tuple[Link, Sequence[Visit]]]) -> list[bool]:
        """The codes in use read a chunk at a time, then the free links and their tags in
        one ``executemany`` each (the server's round trips are what an import waits
        for), their visits after them. A batch that still meets a constraint (a code
        taken meanwhile) is done again a savepoint per link."""
        # Interned (committed) first, so no transaction below meets a row of its own.
        agents = {visit.user_agent for _, visits in checked for visit in visits}
        with self._read("store user agents") as conn:
            for agent in agents:
                self._user_agent_id(conn, agent, committed=True)
        with self._write("restore links") as tx:
            taken = self._taken_codes(tx, [link.code for link, _ in checked])
            made: list[bool] = []
            fresh: list[tuple[Link, list[Visit]]] = []
            for link, visits in checked:
                made.append(link.code not in taken)
                if made[-1]:
                    taken.add(link.code)
                    fresh.append(replayed(link, visits))
            savepoint = tx.begin_nested()
            try:
                self._insert_restored(tx, fresh)
            except sa_exc.IntegrityError:
                savepoint.rollback()
                return self._restore_each(tx, checked)
            savepoint.commit()
        return made

    def _taken_codes(self, tx: Connection, codes: Sequence[str]) -> set[str]:
        taken: set[str] = set()
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            for table in (s.links, s.tombstones):
                rows = tx.execute(select(table.c.code).where(table.c.code.in_(chunk)))
                taken.update(row[0] for row in rows)
        return taken

    def _insert_restored(
        self, tx: Connection, fresh: Sequence[tuple[Link, Sequence[Visit]]]
    ) -> None:
        if not fresh:
            return
        tx.execute(s.links.insert(), [self._table.values(link) for link, _ in fresh])
        self._link_people(tx, [link for link, _ in fresh])
        tags = [
            {"code": link.code, "tag_key": s.key_hash(tag), "tag": tag, "created_us": created_us}
            for link, _ in fresh
            if link.tags
            for created_us in (to_micros(link.created_at),)
            for tag in sorted(set(link.tags))
        ]
        if tags:
            tx.execute(s.link_tags.insert(), tags)
        for _, visits in fresh:
            for visit in visits:
                self._insert_visit(tx, visit)

    def _restore_each(
        self, tx: Connection, checked: Sequence[tuple[Link, Sequence[Visit]]]
    ) -> list[bool]:
        """A savepoint per link: one that fails undoes only itself."""
        made: list[bool] = []
        for link, visits in checked:
            savepoint = tx.begin_nested()
            try:
                self._insert_link(tx, link)
            except sa_exc.IntegrityError:
                savepoint.rollback()
                made.append(False)
                continue
            if self._is_tombstoned(tx, link.code):
                savepoint.rollback()
                made.append(False)
                continue
            self._insert_tags(tx, link.code, sorted(set(link.tags)), to_micros(link.created_at))
            for visit in visits:
                if visit.outcome != "redirect" or self._count_visit(tx, link.code):
                    self._insert_visit(tx, visit)
            savepoint.commit()
            made.append(True)
        return made

    # -- people across links (TracksPeople) -------------------------------------------

    def _link_people(self, tx: Connection, links: Sequence[Link]) -> None:
        """Links' campaign and recipient, and their recipients listed with no click yet."""
        people = [link for link in links if is_people_link(link.campaign, link.recipient)]
        if not people:
            return
        tx.execute(
            delete(s.people_links).where(s.people_links.c.code.in_([p.code for p in people]))
        )
        tx.execute(
            s.people_links.insert(),
            [
                {
                    "code": p.code,
                    "campaign": p.campaign,
                    "recipient": p.recipient,
                    "recipient_key": None if p.recipient is None else s.key_hash(p.recipient),
                }
                for p in people
            ],
        )
        rows = [
            {"sk": s.key_hash(scope), "rk": s.key_hash(link.recipient), "scope": scope,
             "recipient": link.recipient}
            for link in people
            if link.recipient is not None
            for scope in scopes(link.campaign)
        ]  # fmt: skip
        if rows:
            tx.execute(self._people_sql["add_recipient"], rows)

    def _count_people(self, tx: Connection, visit: Visit) -> None:
        """One click on a people link: the visitor's rows and the recipient's, per scope."""
        if not counts_for_people(visit):
            return
        row = tx.execute(
            select(s.people_links.c.campaign, s.people_links.c.recipient).where(
                s.people_links.c.code == visit.code
            )
        ).first()
        if row is None:
            return
        campaign, recipient = row
        sql = self._people_sql

        def run(name: str, params: dict[str, Any]) -> int:
            return int(tx.execute(sql[name], params).rowcount)

        count_click(run, s.key_hash, visit, campaign, recipient)

    def _top(
        self, kind: str, campaign: str | None, limit: int | None, min_clicks: int
    ) -> list[PersonRow]:
        self._check_open()
        recipients = kind == "recipient"
        c = (s.people_recipients if recipients else s.people_visitors).c
        query = (
            select(
                c[kind], c.clicks, c.links, c.first_us, c.last_us,
                c.reach if recipients else literal(0), c.own if recipients else literal(None),
            )
            .where(c.scope_key == s.key_hash(scope_of(campaign)), c.clicks >= min_clicks)
            .order_by(c.clicks.desc(), c[kind])
        )  # fmt: skip
        if limit is not None:
            query = query.limit(limit)
        with self._read(f"read the top {kind}s") as tx:
            rows = tx.execute(query).all()
        return [
            PersonRow(
                id=str(who),
                clicks=int(clicks),
                links=int(links),
                first_seen=None if first is None else from_micros(int(first)),
                last_seen=None if last is None else from_micros(int(last)),
                reach=int(reach),
                visitor=own or None,
            )
            for who, clicks, links, first, last, reach, own in rows
        ]

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients, their clicks and summed reach (one aggregate read)."""
        self._check_open()
        c = s.people_recipients.c
        query = select(
            func.count(), func.coalesce(func.sum(c.clicks), 0), func.coalesce(func.sum(c.reach), 0)
        ).where(c.scope_key == s.key_hash(scope_of(campaign)))
        with self._read("read a campaign's totals") as tx:
            count, clicks, reach = tx.execute(query).one()
        return PeopleTotals(recipients=int(count), clicks=int(clicks), reach=int(reach))

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        self._check_open()
        c = s.people_recipients.c
        query = (
            select(c.scope, func.count(), func.sum(c.clicks), func.sum(c.reach))
            .where(c.scope_key != s.key_hash(EVERY))
            .group_by(c.scope_key, c.scope)
            .order_by(c.scope)
        )
        with self._read("list campaigns") as tx:
            rows = tx.execute(query).all()
        return {
            str(scope): PeopleTotals(int(n), int(clicks), int(reach))
            for scope, n, clicks, reach in rows
        }

    def forget_visitor(self, visitor: str) -> bool:
        """Drop the visitor's rows, their place in reach, and their id on raw visits.

        Raw visits are scanned (no index by visitor): a rare call.
        """
        self._check_open()
        vk = s.key_hash(visitor)
        if self._queued_counts:  # the visitor's queued visits are counted, then forgotten
            self._fold_all(None)
        return self._retrying(lambda: self._forget_visitor(visitor, vk))

    def _forget_visitor(self, visitor: str, vk: bytes) -> bool:
        pv, pvl, pr, prv = (
            s.people_visitors, s.people_visitor_links, s.people_recipients,
            s.people_recipient_visitors,
        )  # fmt: skip
        with self._write("forget a visitor") as tx:
            found = tx.execute(delete(pvl).where(pvl.c.visitor_key == vk)).rowcount > 0
            found = tx.execute(delete(pv).where(pv.c.visitor_key == vk)).rowcount > 0 or found
            pairs = tx.execute(
                select(prv.c.scope_key, prv.c.recipient_key).where(prv.c.visitor_key == vk)
            ).all()
            for sk, rk in pairs:
                found = True
                mine = pr.c.own == visitor
                tx.execute(
                    update(pr)
                    .where(pr.c.scope_key == sk, pr.c.recipient_key == rk)
                    .ordered_values(  # MySQL reads ``own`` as set before: reach first
                        (pr.c.reach, pr.c.reach - case((mine, 0), else_=1)),
                        (pr.c.own, case((mine, ""), else_=pr.c.own)),
                    )
                )
            tx.execute(delete(prv).where(prv.c.visitor_key == vk))
            changed = tx.execute(
                update(s.visits).where(s.visits.c.visitor_id == visitor).values(visitor_id=None)
            ).rowcount
            vc, pc = s.visit_counts.c, s.visitor_counts.c
            changed += tx.execute(delete(s.visitor_counts).where(pc.visitor_key == vk)).rowcount
            tx.execute(delete(s.visit_counts).where(vc.dimension == "visitor", vc.value_key == vk))
            return found or changed > 0

    def forget_recipient(self, recipient: str) -> bool:
        """Drop the recipient's rows and clear ``recipient`` on their links."""
        self._check_open()
        return self._retrying(lambda: self._forget_recipient(recipient))

    def _forget_recipient(self, recipient: str) -> bool:
        rk = s.key_hash(recipient)
        found = False
        with self._write("forget a recipient") as tx:
            for table in (s.people_recipient_links, s.people_recipient_visitors):
                tx.execute(delete(table).where(table.c.recipient_key == rk))
            pr = s.people_recipients
            found = tx.execute(delete(pr).where(pr.c.recipient_key == rk)).rowcount > 0
            pl = s.people_links.c
            codes = [
                str(row[0]) for row in tx.execute(select(pl.code).where(pl.recipient_key == rk))
            ]
            for code in codes:
                row = self._select_link(tx, code, for_update=True)
                if row is not None:
                    found = True
                    self._update_link(tx, replace(self._to_link(row), recipient=None))
            return found

    # -- primitives of RelationalStorage ---------------------------------------------

    def _select_link(self, tx: Connection, code: str, *, for_update: bool = False) -> Any | None:
        query = select(*self._link_columns).where(s.links.c.code == code)
        if for_update:
            query = query.with_for_update()
        return tx.execute(query).first()

    def _to_link(self, row: Any) -> Link:
        return self._table.link(row._mapping)

    def _insert_link(self, tx: Connection, link: Link) -> None:
        tx.execute(s.links.insert(), self._table.values(link))
        self._link_people(tx, [link])

    def _update_link(self, tx: Connection, link: Link) -> None:
        changed = self._table.values(link, update=True)
        tx.execute(update(s.links).where(s.links.c.code == link.code).values(**changed))
        if is_people_link(link.campaign, link.recipient):
            self._link_people(tx, [link])
        else:
            tx.execute(delete(s.people_links).where(s.people_links.c.code == link.code))

    def _insert_tags(self, tx: Connection, code: str, tags: Sequence[str], created_us: int) -> None:
        if tags:
            rows = [
                {"code": code, "tag_key": s.key_hash(tag), "tag": tag, "created_us": created_us}
                for tag in tags
            ]
            tx.execute(s.link_tags.insert(), rows)

    def _delete_tags(self, tx: Connection, code: str) -> None:
        tx.execute(delete(s.link_tags).where(s.link_tags.c.code == code))

    def _delete_link(self, tx: Connection, code: str) -> bool:
        # The link's row first: record_visit locks it before the counts, so must this.
        existed = tx.execute(delete(s.links).where(s.links.c.code == code)).rowcount > 0
        # The queue before the counts: a fold holding the link's queued visits is waited
        # for, so the counts it adds are there to delete.
        tables = (
            s.count_queue, s.visits, s.visit_counts, s.visit_cubes, s.visitor_counts, s.link_tags,
            s.conversions,
        )  # fmt: skip
        for table in (*tables, s.people_links):
            tx.execute(delete(table).where(table.c.code == code))  # people's rows stay
        return existed

    def _is_tombstoned(self, tx: Connection, code: str) -> bool:
        query = select(literal(1)).where(s.tombstones.c.code == code)
        return tx.execute(query).first() is not None

    def _insert_tombstone(self, tx: Connection, code: str, deleted_at: datetime) -> None:
        values = {"code": code, "deleted_at": deleted_at.isoformat()}
        if self._postgres:
            tx.execute(pg_dialect.insert(s.tombstones).values(values).on_conflict_do_nothing())
        else:
            tx.execute(s.tombstones.insert().prefix_with("IGNORE").values(values))

    def _insert_domain(self, tx: Connection, name: str, added_us: int, data: str) -> None:
        tx.execute(s.domains.insert().values(name=name, added_us=added_us, data=data))

    def _domain_rows(self, tx: Connection) -> list[str]:
        d = s.domains.c
        return [str(row[0]) for row in tx.execute(select(d.data).order_by(d.added_us, d.name))]

    def _domain_row(self, tx: Connection, name: str) -> str | None:
        d = s.domains.c
        found = tx.execute(select(d.data).where(d.name == name).with_for_update()).scalar()
        return None if found is None else str(found)

    def _update_domain(self, tx: Connection, name: str, data: str) -> None:
        tx.execute(update(s.domains).where(s.domains.c.name == name).values(data=data))

    def _delete_domain(self, tx: Connection, name: str) -> bool:
        return tx.execute(delete(s.domains).where(s.domains.c.name == name)).rowcount > 0

    def _page(
        self, tx: Connection, after: tuple[int, str] | None, tag: str | None, size: int
    ) -> list[Any]:
        if tag is None:
            query = select(*self._link_columns)
            key = (s.links.c.created_us, s.links.c.code)
        else:
            t = s.link_tags
            query = (
                select(*self._link_columns)
                .join_from(t, s.links, s.links.c.code == t.c.code)
                .where(t.c.tag_key == s.key_hash(tag))
            )
            key = (t.c.created_us, t.c.code)
        if after is not None:
            query = query.where(
                tuple_(*key) < tuple_(literal(after[0]), literal(after[1], s.Key()))
            )
        query = query.order_by(key[0].desc(), key[1].desc()).limit(size)
        return list(tx.execute(query))

    def _next_id(self, tx: Connection) -> int:
        c = s.counters.c
        if self._postgres:
            query = (
                update(s.counters).where(c.name == "links").values(value=c.value + 1)
                .returning(c.value)
            )  # fmt: skip
            return int(tx.execute(query).scalar_one())
        result = tx.execute(
            update(s.counters)
            .where(c.name == "links")
            .values(value=func.last_insert_id(c.value + 1))
        )
        return int(result.lastrowid)

    def _count_visit(self, tx: Connection, code: str) -> int | None:
        c = s.links.c
        limit = (c.max_visits.is_(None)) | (c.visits < c.max_visits)
        if self._postgres:
            query = (
                update(s.links).where(c.code == code, limit).values(visits=c.visits + 1)
                .returning(c.visits)
            )  # fmt: skip
            found = tx.execute(query).scalar()
            return None if found is None else int(found)
        result = tx.execute(
            update(s.links)
            .where(c.code == code, limit)
            .values(visits=func.last_insert_id(c.visits + 1))
        )
        return int(result.lastrowid) if result.rowcount else None

    def _visit_count(self, tx: Connection, code: str, *, lock: bool = True) -> int | None:
        query = select(s.links.c.visits).where(s.links.c.code == code)
        if lock:  # bots' visits take the link's lock before its counts, as counted ones do
            query = query.with_for_update()
        found = tx.execute(query).scalar()
        return None if found is None else int(found)

    def _user_agent_id(self, tx: Connection, ua: str, *, committed: bool = False) -> int:
        """The id of ``ua`` in ``user_agents``, inserted if new; remembered once committed.

        ``committed``: ``tx`` commits each statement, so a new row is there for good.
        """
        known = self._ua_ids.get(ua)
        if known is not None:
            return known
        key = s.key_hash(ua)
        t = s.user_agents
        if self._postgres:
            inserted = tx.execute(
                pg_dialect.insert(t).values(hash=key, text=ua).on_conflict_do_nothing()
                .returning(t.c.id)
            ).scalar()  # fmt: skip
        else:
            result = tx.execute(t.insert().prefix_with("IGNORE").values(hash=key, text=ua))
            inserted = result.lastrowid if result.rowcount else None
        if inserted is not None:
            if committed:
                self._remember(ua, int(inserted))
            return int(inserted)
        # Not inserted now, so committed before (``_restore`` interns its agents first, so
        # no transaction finds a row of its own here): safe to remember.
        found = int(tx.execute(select(t.c.id).where(t.c.hash == key)).scalar_one())
        self._remember(ua, found)
        return found

    def _remember(self, ua: str, ua_id: int) -> None:
        if len(self._ua_ids) >= _UA_CACHE:
            self._ua_ids.clear()
        self._ua_ids[ua] = ua_id

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        """Sums of ``visit_counts``, ``visit_cubes`` and ``visitor_counts`` over ``[since,
        until)`` UTC days, after the link's queued visits are folded in."""
        self._check_open()
        if not code_ok(code):
            return StatsCounts()
        if self._queued_counts:
            self._fold_all(code)
        low, high = day_bounds(since, until)
        whole = since is None and until is None
        vc, pc = s.visit_counts.c, s.visitor_counts.c
        dims: dict[str, dict[str, int]] = {}
        with self._read("read visit counts") as tx:
            by_day = {
                day: int(n)
                for day, n in tx.execute(
                    select(vc.day, vc.n).where(
                        vc.code == code, vc.dimension == "total", vc.day >= low, vc.day < high
                    )
                )
            }
            first, last = (ALL_TIME, FIRST_DAY) if whole else (low, high)
            summed = (
                select(vc.dimension, vc.value, func.sum(vc.n))
                .where(
                    vc.code == code,
                    vc.dimension.in_(DIMENSIONS),
                    vc.day >= first,
                    vc.day < last,
                )
                .group_by(vc.dimension, vc.value_key, vc.value)
            )
            for dim, value, n in tx.execute(summed):
                dims.setdefault(dim, {})[value] = int(n)
            cb = s.visit_cubes.c
            for day, n in tx.execute(
                select(cb.day, func.sum(cb.n))
                .where(cb.code == code, cb.day >= low, cb.day < high)
                .group_by(cb.day)
            ):
                by_day[day] = by_day.get(day, 0) + int(n)
            for combo, n in tx.execute(
                select(cb.combo, func.sum(cb.n))
                .where(cb.code == code, cb.day >= first, cb.day < last)
                .group_by(cb.combo_key, cb.combo)
            ):
                for dim, value in json.loads(combo):
                    if dim in DIMENSIONS:
                        values = dims.setdefault(dim, {})
                        values[value] = values.get(value, 0) + int(n)
            if whole:
                unique = tx.execute(
                    select(vc.n).where(
                        vc.code == code,
                        vc.dimension == PEOPLE,
                        vc.day == ALL_TIME,
                        vc.value_key == EMPTY_KEY,
                    )
                ).scalar()
                top = [
                    (str(who), int(n))
                    for who, n in tx.execute(
                        select(pc.visitor, pc.n)
                        .where(pc.code == code)
                        .order_by(pc.n.desc(), pc.visitor)
                        .limit(TOP)
                    )
                ]
                unique_count = int(unique or 0)
            else:
                people = [
                    (str(who), int(n))
                    for who, n in tx.execute(
                        select(vc.value, func.sum(vc.n))
                        .where(
                            vc.code == code,
                            vc.dimension == "visitor",
                            vc.day >= low,
                            vc.day < high,
                        )
                        .group_by(vc.value_key, vc.value)
                    )
                ]
                unique_count = len(people)
                top = sorted(people, key=lambda row: (-row[1], row[0]))[:TOP]
        return StatsCounts(
            by_day=by_day, dimensions=dims, unique_visitors=unique_count, top_visitors=top
        )

    def _visit_page(
        self, tx: Connection, code: str, low: int, high: int, after: Position, size: int
    ) -> list[Any]:
        v, u = s.visits.c, s.user_agents.c
        query = (
            select(*(v[c] for c in ("id", "code", "at", "at_us")),
                   *(u.text.label("user_agent") if c == "user_agent" else v[c]
                     for c in PLAIN_VISIT_FIELDS))
            .join_from(s.visits, s.user_agents, u.id == v.ua_id)
            .where(v.code == code, v.at_us >= low, v.at_us < high,
                   tuple_(v.at_us, v.id) > tuple_(literal(after[0]), literal(after[1])))
            .order_by(v.at_us, v.id)
            .limit(size)
        )  # fmt: skip
        return [row._mapping for row in tx.execute(query)]

    def _visit_position(self, row: Any) -> Position:
        return (int(row["at_us"]), int(row["id"]))

    def _to_visit(self, row: Any) -> Visit:
        return visit_from_row(row, code=row["code"], at=datetime.fromisoformat(row["at"]))

    def _probe(self, tx: Connection) -> None:
        tx.execute(select(func.max(s.schema_version.c.version))).scalar()

    # -- conversions (RecordsConversions) ------------------------------------------------

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        """Store ``conversion`` unless its (click id, kind) is stored; ``(stored, new)``.

        One transaction (tried again if the server broke a deadlock); the unique key on
        (code, hash of kind and click id) refuses a repeat inside the insert itself.
        """
        return self._retrying(lambda: RelationalConversions.record_conversion(self, conversion))

    def _insert_conversion(self, tx: Connection, values: dict[str, Any]) -> bool:
        row = {**values, "conv_key": s.conversion_key(values["kind"], values["click_id"])}
        t = s.conversions
        if self._postgres:  # RETURNING tells "inserted" from "already there"
            statement = pg_dialect.insert(t).values(row).on_conflict_do_nothing().returning(t.c.id)
            return tx.execute(statement).scalar() is not None
        return tx.execute(t.insert().prefix_with("IGNORE").values(row)).rowcount > 0

    def _select_conversion(self, tx: Connection, code: str, click_id: str, kind: str) -> Row | None:
        c = s.conversions.c
        found = tx.execute(
            select(*(c[name] for name in CONVERSION_COLUMNS)).where(
                c.code == code, c.conv_key == s.conversion_key(kind, click_id)
            )
        ).first()
        return None if found is None else dict(found._mapping)

    def _conversion_rows(self, tx: Connection, code: str, low: int, high: int) -> list[Row]:
        c = s.conversions.c
        query = (
            select(*(c[name] for name in CONVERSION_COLUMNS))
            .where(c.code == code, c.at_us >= low, c.at_us < high)
            .order_by(c.at_us, c.id)
        )
        return [dict(row._mapping) for row in tx.execute(query)]

    def close(self) -> None:
        """Close the pool's connections; later calls raise ``BackendUnavailable``."""
        self._closed = True
        self._engine.dispose()


def from_micros(micros: int) -> datetime:
    """The UTC time ``micros`` microseconds after the epoch."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _people_statements(family: str) -> dict[str, TextClause]:
    """The statements counting a click for people, ready for SQLAlchemy."""
    return {name: text(statement) for name, statement in people_sql(family).items()}


def _retryable(original: BaseException | None) -> bool:
    """True if the server aborted the statement to break a deadlock (try it again)."""
    orig = getattr(original, "orig", original)  # SQLAlchemy's wrapper, or the driver's
    if getattr(orig, "sqlstate", None) in _RETRY_STATES:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _RETRY_ERRNOS


# The fold's statements on MySQL: each adds its rows' ``n`` to the cells (inserted if
# new). PostgreSQL's are in ``postgres.py``.
_cubes = mysql_dialect.insert(s.visit_cubes)
_MYSQL_ADD_CUBES = _cubes.on_duplicate_key_update(n=s.visit_cubes.c.n + _cubes.inserted.n)
_cells = mysql_dialect.insert(s.visit_counts)
#: MySQL: adds ``n`` to a count cell, inserted if new (``n + VALUES(n)``).
_MYSQL_ADD_CELLS = _cells.on_duplicate_key_update(n=s.visit_counts.c.n + _cells.inserted.n)
_person = mysql_dialect.insert(s.visitor_counts)
_MYSQL_ADD_PERSON = _person.on_duplicate_key_update(n=s.visitor_counts.c.n + _person.inserted.n)
