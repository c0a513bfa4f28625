"""What the SQL backends (``sqlite://``, ``django://``) share: one ``Storage`` skeleton.

:class:`RelationalStorage` holds the parts that are the same whatever the driver:
argument checks, the closed-store check, driver errors re-raised as suolink's own, the
tag index rewritten when tags change, list paging and cursors, the ``visits()``
keyset pager and ``max_visits`` counting. A backend supplies its primitives (one
statement or query each) and a :class:`LinkTable` saying how a link becomes a row.

A row names its columns after the fields of :data:`~suolink.fields.COLUMN_FIELDS`,
plus ``extra`` (a JSON object holding every field without a column of its own, so a
new setting needs no migration) and the backend's derived columns (``created_us``…).
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from .. import fields as link_fields
from ..errors import BackendError, BackendUnavailable, CodeTaken, LinkNotFound
from ..fields import FIELD_BY_NAME, LinkField, extra_from_json, extra_to_json
from ..models import Conversion, Link, LinkPage, Visit, VisitRecord, VisitResult, utcnow
from ._common import (
    MAX_MICROS,
    MIN_MICROS,
    Position,
    check_list_args,
    check_read_args,
    code_ok,
    encode_cursor,
    link_key,
    normalise_changes,
    normalise_conversion,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_dimensions,
    visit_pages,
    visitor_key,
)
from .base import DEFAULT_PAGE_SIZE, PersonRow, When
from .batching import BACKGROUND, BatchOptions, CommitWouldWait, GroupCommit, deferred_commits

__all__ = [
    "ALL_TIME",
    "CONVERSION_COLUMNS",
    "FIRST_DAY",
    "LAST_DAY",
    "PEOPLE",
    "PLAIN_VISIT_FIELDS",
    "Classify",
    "Derived",
    "LinkTable",
    "RelationalConversions",
    "RelationalPeople",
    "RelationalStorage",
    "Row",
    "conversion_from_row",
    "conversion_values",
    "count_cells",
    "day_bounds",
    "visit_from_row",
    "visit_row",
    "visit_values",
    "wrap_errors",
]

Tx = TypeVar("Tx")
#: A row: its values by column name (``dict(zip(names, values))``, a model's ``vars()``).
Row = Mapping[str, Any]
#: Which ``BackendError`` a driver exception becomes; None: not the driver's, let it pass.
Classify = Callable[[Exception], type[BackendError] | None]


class wrap_errors:
    """Re-raise driver exceptions as the ``BackendError`` kind ``classify`` names.

    The message starts with ``describe(doing)`` (``"SQLite could not read a link
    (sqlite:///x.db)"``), worked out only when something failed. Anything ``classify``
    does not name (suolink's own errors, bugs) passes unchanged. A class, not a
    generator, because every storage call enters one.
    """

    __slots__ = ("classify", "describe", "doing")

    def __init__(self, classify: Classify, describe: Callable[[str], str], doing: str) -> None:
        self.classify = classify
        self.describe = describe
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if not isinstance(exc, Exception):
            return
        error = self.classify(exc)
        if error is not None:
            raise error(f"{self.describe(self.doing)}: {exc}", original=exc) from exc


# -------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Derived:
    """A column computed from one field of the link, written wherever that field is.

    Either not a ``Link`` field (``created_us``) or standing in for the field's own
    column (Django keeps ``created_at`` as a UTC ``DateTimeField`` for the admin).
    """

    column: str
    #: The ``Link`` field it is computed from: an update rewrites it unless that field
    #: is ``kept``.
    source: str
    value: Callable[[Any], Any]


def _column_fields() -> tuple[LinkField, ...]:
    return link_fields.COLUMN_FIELDS


@dataclass(frozen=True)
class LinkTable:
    """How a backend's link table holds a ``Link``: columns by name, never by position."""

    derived: tuple[Derived, ...] = ()
    #: field -> how to read it when its column is not simply ``codec.from_sql``.
    read: Mapping[str, Callable[[Row], Any]] = field(default_factory=dict)
    #: Columns the driver takes and gives as JSON values (Django's ``JSONField``), not text.
    json_columns: frozenset[str] = frozenset()
    #: The fields with a column of their own (read when the table is made).
    fields: tuple[LinkField, ...] = field(default_factory=_column_fields)

    def columns(self, *, update: bool = False) -> tuple[str, ...]:
        """Every column, or (``update``) those an update writes: not the kept fields'."""
        names = [f.name for f in self.fields if not (update and f.kept)]
        names.append("extra")
        for d in self.derived:
            if d.column not in names and not (update and FIELD_BY_NAME[d.source].kept):
                names.append(d.column)
        return tuple(names)

    def values(self, link: Link, *, update: bool = False) -> dict[str, Any]:
        """The columns of ``link`` by name, as :meth:`columns` lists them."""
        writers, derived = self._writers[update]
        to_driver = self._to_driver
        out = {name: to_driver(name, to_sql(getattr(link, name))) for name, to_sql in writers}
        out["extra"] = to_driver("extra", extra_to_json(link))
        for d in derived:
            out[d.column] = d.value(getattr(link, d.source))
        return out

    @cached_property
    def _writers(
        self,
    ) -> dict[bool, tuple[tuple[tuple[str, Callable[[Any], Any]], ...], tuple[Derived, ...]]]:
        """Per ``update``: each written field with its ``to_sql``, and the derived columns.

        Worked out once: imports write links by the thousand.
        """
        return {
            update: (
                tuple((f.name, f.codec.to_sql) for f in self.fields if not (update and f.kept)),
                tuple(d for d in self.derived if not (update and FIELD_BY_NAME[d.source].kept)),
            )
            for update in (False, True)
        }

    def link(self, row: Row) -> Link:
        """The ``Link`` a row holds."""
        plain, converted = self._readers
        values = {name: row[name] for name in plain}
        for name, read in converted:
            values[name] = read(row)
        if link_fields.EXTRA_FIELDS:  # today none: every field has its column
            values.update(extra_from_json(self._from_driver("extra", row["extra"])))
        return Link(**values)

    @cached_property
    def _readers(self) -> tuple[tuple[str, ...], tuple[tuple[str, Callable[[Row], Any]], ...]]:
        """Fields whose column holds their value as is, and how to read the others.

        Worked out once: rows are read by the thousand.
        """
        plain: list[str] = []
        converted: list[tuple[str, Callable[[Row], Any]]] = []
        for f in self.fields:
            read = self.read.get(f.name)
            if read is None and f.name not in self.json_columns and _is_identity(f.codec.from_sql):
                plain.append(f.name)
            else:
                converted.append((f.name, read or _column_reader(f, f.name in self.json_columns)))
        return tuple(plain), tuple(converted)

    def _to_driver(self, column: str, value: Any) -> Any:
        if value is None or column not in self.json_columns:
            return value
        return json.loads(value)

    def _from_driver(self, column: str, value: Any) -> Any:
        if value is None or column not in self.json_columns:
            return value
        return _json_text(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_identity(from_sql: Callable[[Any], Any]) -> bool:
    """True if ``from_sql`` gives back what the column holds (text, integers)."""
    probe = object()
    try:
        return from_sql(probe) is probe
    except Exception:
        return False


def _column_reader(field: LinkField, as_json: bool) -> Callable[[Row], Any]:
    """Read ``field`` from its own column (a JSON value there if ``as_json``)."""
    name, from_sql = field.name, field.codec.from_sql
    if not as_json:
        return lambda row: from_sql(row[name])
    return lambda row: from_sql(None if (value := row[name]) is None else _json_text(value))


#: Visit fields every SQL backend keeps in a column of the same name, as they are
#: (``code`` and ``at`` are each backend's own: a foreign key, a time in two columns).
PLAIN_VISIT_FIELDS = tuple(f.name for f in dataclass_fields(Visit) if f.name not in ("code", "at"))


def visit_values(visit: Visit) -> dict[str, Any]:
    """The plain columns of a visit row, by name."""
    return {name: getattr(visit, name) for name in PLAIN_VISIT_FIELDS}


def visit_from_row(row: Row, *, code: str, at: datetime) -> Visit:
    """The ``Visit`` a row holds (``is_bot`` may come back as 0/1)."""
    values = {name: row[name] for name in PLAIN_VISIT_FIELDS}
    values["is_bot"] = bool(values["is_bot"])
    return Visit(code=code, at=at, **values)


def visit_row(visit: Visit, ua_id: int) -> dict[str, Any]:
    """A ``visits`` row by column name: the time in two columns, the user agent by id."""
    values = visit_values(visit)
    del values["user_agent"]
    return {
        "code": visit.code,
        "at": visit.at.isoformat(),
        "at_us": to_micros(visit.at),
        "ua_id": ua_id,
        **values,
    }


def replayed(link: Link, visits: Sequence[Visit]) -> tuple[Link, list[Visit]]:
    """``link`` with the count its visits give, and the visits ``record_visit`` would keep
    (a redirect past ``max_visits`` is refused, so not recorded)."""
    limit = link.max_visits
    counted = 0
    kept: list[Visit] = []
    for visit in visits:
        if visit.outcome == "redirect":
            if limit is not None and counted >= limit:
                continue
            counted += 1
        kept.append(visit)
    return (replace(link, visits=counted) if counted else link), kept


# ------------------------------------------------------------ counts kept at write time
# The SQL backends that keep aggregates (``KeepsAggregates``) share one layout: a
# ``visit_counts`` table of visits per (link, dimension, UTC day, value) and a
# ``visitor_counts`` table of people's visits per (link, visitor).

#: The ``visit_counts`` dimension holding a link's number of distinct people (day ``''``),
#: bumped when a person's first visit is counted: unique visitors in one row read.
PEOPLE = "people"
FIRST_DAY, LAST_DAY = "0000", "9999-99-99"  # below and above every ISO date
ALL_TIME = ""  # the "day" of whole-history counts: below every window's first day


def _utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def count_cells(visit: Visit) -> tuple[list[tuple[str, str, str, str]], str | None]:
    """The ``visit_counts`` cells one visit adds 1 to, and the person it counts for.

    Each dimension is counted on the visit's UTC day and on the day ``''`` (all time),
    so whole-history stats read one row per value instead of one per value and day.
    """
    day = _utc_day(visit.at)
    code = visit.code
    cells = [(code, "total", day, "")]
    for dim, value in visit_dimensions(visit):
        cells += ((code, dim, day, value), (code, dim, ALL_TIME, value))
    who = None if visit.is_bot else visitor_key(visit)
    if who is not None:
        cells.append((code, "visitor", day, who))
    return cells, who


def day_bounds(since: date | None, until: date | None) -> tuple[str, str]:
    """``[since, until)`` as the ``day`` column's text bounds (None: unbounded)."""
    return (
        FIRST_DAY if since is None else since.isoformat(),
        LAST_DAY if until is None else until.isoformat(),
    )


# -------------------------------------------------------------------------- storage


class RelationalStorage(ABC, Generic[Tx]):
    """The ``Storage`` protocol over a backend's primitives (each one statement or so).

    ``Tx`` is what a primitive works through: a connection, a set of managers. Every
    write runs inside one :meth:`_writing` transaction; reads inside :meth:`_reading`.
    """

    url: str
    _closed: bool = False
    #: The driver's "a constraint said no" exceptions: on ``create``, a taken code.
    _conflict: tuple[type[Exception], ...] = ()
    #: Added to ``check()``'s message when the store answers but not as expected.
    _check_hint: str = ""

    # -- what each backend supplies --------------------------------------------------

    @abstractmethod
    def _classify(self, exc: Exception) -> type[BackendError] | None:
        """``BackendUnavailable`` (try later), ``BackendError``, or None (not a driver's)."""

    @abstractmethod
    def _describe(self, doing: str) -> str:
        """The start of an error message: who could not do what, on which store."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Tx]:
        """A handle for reads."""

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Tx]:
        """One transaction: committed on success, rolled back on any exception."""

    @abstractmethod
    def _select_link(self, tx: Tx, code: str, *, for_update: bool = False) -> Any | None:
        """The row of ``code`` (locked against other writers if ``for_update``), or None."""

    @abstractmethod
    def _to_link(self, row: Any) -> Link: ...

    @abstractmethod
    def _insert_link(self, tx: Tx, link: Link) -> None:
        """Insert the row; a taken code raises one of ``_conflict``."""

    @abstractmethod
    def _update_link(self, tx: Tx, link: Link) -> None:
        """Write the updatable columns of ``link`` over its row."""

    @abstractmethod
    def _insert_tags(self, tx: Tx, code: str, tags: Sequence[str], created_us: int) -> None:
        """Add ``tags`` (distinct, sorted) to the tag index."""

    @abstractmethod
    def _delete_tags(self, tx: Tx, code: str) -> None: ...

    @abstractmethod
    def _delete_link(self, tx: Tx, code: str) -> bool:
        """Remove the link, its tags and visits; True if it existed."""

    @abstractmethod
    def _is_tombstoned(self, tx: Tx, code: str) -> bool:
        """True if ``code`` was deleted for good (a row in the tombstones table)."""

    @abstractmethod
    def _insert_tombstone(self, tx: Tx, code: str, deleted_at: datetime) -> None:
        """Retire ``code``; a tombstone already there is kept as it is."""

    @abstractmethod
    def _page(self, tx: Tx, after: tuple[int, str] | None, tag: str | None, size: int) -> list[Any]:
        """Up to ``size`` link rows, newest first, after the key ``after``, tagged ``tag``."""

    @abstractmethod
    def _next_id(self, tx: Tx) -> int: ...

    @abstractmethod
    def _count_visit(self, tx: Tx, code: str) -> int | None:
        """Add one to the count unless ``max_visits`` is reached: the new count, or None."""

    @abstractmethod
    def _visit_count(self, tx: Tx, code: str) -> int | None:
        """The count of ``code``, or None if there is no such link."""

    @abstractmethod
    def _insert_visit(self, tx: Tx, visit: Visit) -> None: ...

    @abstractmethod
    def _visit_page(
        self, tx: Tx, code: str, low: int, high: int, after: Position, size: int
    ) -> list[Any]:
        """Up to ``size`` visit rows of ``code`` in ``[low, high)``, after ``after``."""

    @abstractmethod
    def _visit_position(self, row: Any) -> Position:
        """A visit row's ``(at_us, id)``."""

    @abstractmethod
    def _to_visit(self, row: Any) -> Visit: ...

    @abstractmethod
    def _probe(self, tx: Tx) -> None:
        """One cheap read that fails if the store or its tables are not there."""

    # -- plumbing ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendUnavailable(f"the storage {self.url} is closed")

    def _errors(self, doing: str) -> wrap_errors:
        """Refuse calls after ``close()``; driver exceptions become suolink's own."""
        self._check_open()
        return wrap_errors(self._classify, self._describe, doing)

    @contextmanager
    def _read(self, doing: str) -> Iterator[Tx]:
        with self._errors(doing), self._reading() as tx:
            yield tx

    @contextmanager
    def _write(self, doing: str) -> Iterator[Tx]:
        with self._errors(doing), self._writing() as tx:
            yield tx

    # -- the Storage protocol ------------------------------------------------------------

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, atomically; raise ``CodeTaken`` if not.

        The tombstone is read after the insert, in the same transaction: an insert that
        waited for a concurrent ``delete`` of the code then sees that delete's tombstone.
        """
        stored = normalise_link(link)
        with self._errors("create a link"):
            try:
                with self._writing() as tx:
                    self._insert_link(tx, stored)
                    if self._is_tombstoned(tx, stored.code):
                        raise CodeTaken(stored.code)
                    created_us = to_micros(stored.created_at)
                    self._insert_tags(tx, stored.code, sorted(set(stored.tags)), created_us)
            except self._conflict as exc:
                raise CodeTaken(stored.code) from exc
        return stored

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None."""
        if not code_ok(code):
            return None
        with self._read("read a link") as tx:
            row = self._select_link(tx, code)
        return None if row is None else self._to_link(row)

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` to the locked row in one transaction; ``LinkNotFound``."""
        checked = normalise_changes(changes)
        if not code_ok(code):
            raise LinkNotFound(str(code))
        with self._write("update a link") as tx:
            row = self._select_link(tx, code, for_update=True)
            if row is None:
                raise LinkNotFound(code)
            old = self._to_link(row)
            new = replace(old, **checked)
            self._update_link(tx, new)
            if new.tags != old.tags:
                self._delete_tags(tx, code)
                self._insert_tags(tx, code, sorted(set(new.tags)), to_micros(old.created_at))
        return new

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link, its tags and visits (leaving a ``tombstone``) in one transaction.

        True if the link existed; only then is a tombstone left.
        """
        if not code_ok(code):
            return False
        with self._write("delete a link") as tx:
            existed = self._delete_link(tx, code)
            if existed and tombstone:
                self._insert_tombstone(tx, code, utcnow())
            return existed

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given."""
        after = check_list_args(cursor, limit, tag)
        with self._read("list links") as tx:
            rows = self._page(tx, after, tag, limit + 1)
        links = tuple(self._to_link(row) for row in rows[:limit])
        more = len(rows) > limit
        return LinkPage(
            links=links, next_cursor=encode_cursor(link_key(links[-1])) if more else None
        )

    def next_id(self) -> int:
        """A number never handed out before by this store (atomic, starts at 1)."""
        with self._write("count") as tx:
            return self._next_id(tx)

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` in one transaction, unless ``max_visits`` is reached.

        With group commit on (:meth:`_batch_visits`), concurrent visits share one
        transaction; in background mode a visit that cannot be refused is queued and
        answered at once (see :mod:`suolink.backends.batching`).
        """
        return self._submit_visit(normalise_visit(visit), count)

    def _submit_visit(self, visit: Visit | VisitRecord, count: bool) -> VisitResult:
        """Record a checked visit (or a record suolink built) by the store's batching.

        Inside :func:`~suolink.backends.batching.deferring`, a durable write that cannot
        be refused is queued with its future there, and one that can raises
        ``CommitWouldWait`` (nothing written).
        """
        batches = self._visit_batches
        deferred = deferred_commits()
        if batches is None:
            if deferred is not None:
                raise CommitWouldWait
            one = visit if isinstance(visit, Visit) else Visit.from_record(visit)
            with self._write("record a visit") as tx:
                return self._record_one(tx, one, count)
        background = batches.options.mode == BACKGROUND
        if background or deferred is not None:
            code = visit.code if isinstance(visit, Visit) else visit[0]
            link = self._recent_link(code)
            if link is None:
                raise LinkNotFound(code)
            if not count or link.max_visits is None:
                if deferred is None or background:
                    batches.submit_later((visit, count))
                else:
                    future = batches.submit_deferred((visit, count), deferred.loop)
                    deferred.pending.append(future)
                return VisitResult(allowed=True, visits=link.visits + count)
            if deferred is not None:
                raise CommitWouldWait
        return batches.submit((visit, count))

    def _recent_link(self, code: str) -> Link | None:
        """The link, as recently read as the backend can give it cheaply (background mode).

        It decides only whether a visit may be queued (no ``max_visits``); the batch that
        writes it checks the limit again. The default reads it.
        """
        return self.get(code)

    def _record_one(self, tx: Tx, visit: Visit, count: bool) -> VisitResult:
        """Record one visit inside ``tx``; ``LinkNotFound`` before writing anything."""
        if count:
            counted = self._count_visit(tx, visit.code)
            if counted is not None:
                self._insert_visit(tx, visit)
                return VisitResult(allowed=True, visits=counted)
        current = self._visit_count(tx, visit.code)
        if current is None:
            raise LinkNotFound(visit.code)
        if count:  # the link exists, so it is at its limit
            return VisitResult(allowed=False, visits=current)
        self._insert_visit(tx, visit)
        return VisitResult(allowed=True, visits=current)

    # -- group commit ----------------------------------------------------------------------

    #: Set by :meth:`_batch_visits`: concurrent visits then share one transaction.
    _visit_batches: GroupCommit[tuple[Visit | VisitRecord, bool], VisitResult] | None = None

    def _batch_visits(self, options: BatchOptions) -> None:
        """Record visits by group commit from now on (a backend calls it when opened)."""
        self._visit_batches = GroupCommit(self._write_visits, options, name=self._describe("batch"))

    def _record_batch(
        self, tx: Tx, items: Sequence[tuple[Visit, bool]]
    ) -> builtins.list[VisitResult | Exception]:
        """Record ``items`` in order inside ``tx``: what one ``record_visit`` each would give.

        A backend may override it with set-wise statements; a visit of no link gets
        ``LinkNotFound`` and writes nothing.
        """
        out: builtins.list[VisitResult | Exception] = []
        for visit, count in items:
            try:
                out.append(self._record_one(tx, visit, count))
            except LinkNotFound as exc:
                out.append(exc)
        return out

    def _write_visits(
        self, queued: Sequence[tuple[Visit | VisitRecord, bool]]
    ) -> Sequence[VisitResult | Exception]:
        """One batch in one transaction; if the store refuses it for a reason other than
        "not now", each visit alone, so one bad visit cannot fail its neighbours."""
        items = [
            (visit if isinstance(visit, Visit) else Visit.from_record(visit), count)
            for visit, count in queued
        ]
        try:
            with self._write("record visits") as tx:
                return self._record_batch(tx, items)
        except BackendUnavailable:
            raise
        except BackendError:
            if len(items) == 1:
                raise
        out: builtins.list[VisitResult | Exception] = []
        for visit, count in items:
            try:
                with self._write("record a visit") as tx:
                    out.append(self._record_one(tx, visit, count))
            except (BackendError, LinkNotFound) as exc:
                out.append(exc)
        return out

    def _stop_batching(self) -> None:
        """Write every pending visit (called by ``close`` before connections go)."""
        if self._visit_batches is not None:
            self._visit_batches.close()

    def visits(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``.

        Read lazily, a few hundred at a time, so a link with millions of visits streams.
        """
        low, high = check_read_args(since, until, limit)
        self._check_open()
        if not code_ok(code):
            return iter(())
        return self._stream_visits(
            code, MIN_MICROS if low is None else low, MAX_MICROS if high is None else high, limit
        )

    def _stream_visits(self, code: str, low: int, high: int, limit: int | None) -> Iterator[Visit]:
        def fetch(after: Position, size: int) -> list[Any]:
            with self._read("read visits") as tx:
                return self._visit_page(tx, code, low, high, after, size)

        for row in visit_pages(fetch, self._visit_position, limit):
            yield self._to_visit(row)

    def check(self) -> None:
        """Raise ``BackendUnavailable`` if the store cannot be read right now."""
        try:
            with self._read("be reached") as tx:
                self._probe(tx)
        except BackendUnavailable:
            raise
        except BackendError as exc:
            raise BackendUnavailable(f"{exc}{self._check_hint}", original=exc.original) from exc


# ---------------------------------------------------------------------- conversions

#: The columns of a conversion row (besides the store's own id), in order.
CONVERSION_COLUMNS = (
    "click_id",
    "kind",
    "code",
    "at",
    "at_us",
    "clicked_at",
    "visitor_id",
    "value",
    "currency",
)


def conversion_values(conversion: Conversion) -> dict[str, Any]:
    """A conversion as its row's values: times as ISO text (and ``at_us`` to order by),
    the amount as decimal text (exact in every store)."""
    return {
        "click_id": conversion.click_id,
        "kind": conversion.kind,
        "code": conversion.code,
        "at": conversion.at.isoformat(),
        "at_us": to_micros(conversion.at),
        "clicked_at": conversion.clicked_at.isoformat(),
        "visitor_id": conversion.visitor_id,
        "value": None if conversion.value is None else str(conversion.value),
        "currency": conversion.currency,
    }


def conversion_from_row(row: Row) -> Conversion:
    """The inverse of :func:`conversion_values`."""
    from decimal import Decimal

    value = row["value"]
    return Conversion(
        click_id=row["click_id"],
        kind=row["kind"],
        code=row["code"],
        at=datetime.fromisoformat(row["at"]),
        clicked_at=datetime.fromisoformat(row["clicked_at"]),
        visitor_id=row["visitor_id"],
        value=None if value is None else Decimal(value),
        currency=row["currency"],
    )


class RelationalConversions(RelationalStorage[Tx]):
    """:class:`~suolink.backends.base.RecordsConversions` over three primitives.

    The unique key on (``code``, ``click_id``, ``kind``) makes a repeated report a no-op inside
    the insert itself (``ON CONFLICT DO NOTHING`` or the store's equivalent), so two
    workers reporting one sale at once store it once. The link row is read locked in the
    same transaction, so a conversion never outlives a concurrent ``delete``.
    """

    @abstractmethod
    def _insert_conversion(self, tx: Tx, values: dict[str, Any]) -> bool:
        """Insert the row unless its (click id, kind) is stored; True if inserted."""

    @abstractmethod
    def _select_conversion(self, tx: Tx, code: str, click_id: str, kind: str) -> Row | None:
        """The stored row of (``code``, ``click_id``, ``kind``), or None."""

    @abstractmethod
    def _conversion_rows(self, tx: Tx, code: str, low: int, high: int) -> Sequence[Row]:
        """Rows of ``code`` with ``low <= at_us < high``, by (``at_us``, id)."""

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        """Store ``conversion`` unless its (click id, kind) is stored; ``(stored, new)``."""
        checked = normalise_conversion(conversion)
        if not code_ok(checked.code):
            raise LinkNotFound(str(checked.code))
        with self._write("record a conversion") as tx:
            if self._select_link(tx, checked.code, for_update=True) is None:
                raise LinkNotFound(checked.code)
            if self._insert_conversion(tx, conversion_values(checked)):
                return checked, True
            row = self._select_conversion(tx, checked.code, checked.click_id, checked.kind)
        if row is None:  # pragma: no cover - the unique key said it was there
            raise BackendError(self._describe("find a conversion it refused as a repeat"))
        return conversion_from_row(row), False

    def conversions(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Conversion]:
        """A link's conversions, oldest first, within ``[since, until)``."""
        low, high = check_read_args(since, until, limit)
        self._check_open()
        if not code_ok(code):
            return iter(())
        with self._read("read conversions") as tx:
            rows = self._conversion_rows(
                tx, code, MIN_MICROS if low is None else low, MAX_MICROS if high is None else high
            )
        found = [conversion_from_row(row) for row in rows]
        return iter(found if limit is None else found[:limit])


class RelationalPeople(RelationalStorage[Tx]):
    """The two leaderboards of :class:`~suolink.backends.base.TracksPeople` over one
    primitive, ``_top``, that reads either people table."""

    @abstractmethod
    def _top(
        self, kind: str, campaign: str | None, limit: int | None, min_clicks: int
    ) -> list[PersonRow]:
        """Rows of ``kind`` (``"visitor"`` or ``"recipient"``), most clicks first."""

    def top_visitors(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        """Visitors of the campaign's links, most clicks first: one index range read."""
        return self._top("visitor", campaign, limit, min_clicks)

    def top_recipients(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        """Recipients of the campaign's links, most clicks first: one index range read."""
        return self._top("recipient", campaign, limit, min_clicks)
