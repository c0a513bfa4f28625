"""``django://`` and ``django://<alias>``: links in the project's own database, via the ORM.

Every write is one ``transaction.atomic`` block on the chosen alias and never a "check,
then write": ``create`` inserts and lets the primary key refuse a taken code,
``record_visit`` checks ``max_visits`` and counts in one ``UPDATE … SET visits = visits +
1 WHERE visits < max_visits`` (an ``F()`` expression), ``next_id`` bumps its counter row
the same way. On SQLite use ``"OPTIONS": {"transaction_mode": "IMMEDIATE"}`` so
concurrent writers wait for each other instead of failing (check ``suolink.W003``).

Checks, paging and error handling come from
:class:`~suolink.backends.relational.RelationalStorage`; this module supplies one ORM
query per primitive. Columns are named after the fields in :mod:`suolink.fields`, and
fields without a column of their own live in ``extra``.

Stats come from counts kept at write time (``KeepsAggregates``), as on SQLite: the
transaction that records a visit also bumps its cells in ``suolink_visit_count`` (visits
per link, dimension, UTC day and value) and ``suolink_visitor_count`` (a person's visits
of a link), each one upsert; a user agent is stored once in ``suolink_user_agent``.
``django://<alias>?retention_days=N`` drops raw visits older than N days a small batch
at a time while recording; the counts stay.

Django must be set up first; if it is not and ``DJANGO_SETTINGS_MODULE`` is set (a
worker process, a script), opening the store calls ``django.setup()``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...backends import redact_url
from ...backends._common import Position, code_ok, to_micros
from ...backends.base import DIMENSIONS, TOP, PeopleTotals, PersonRow, StatsCounts
from ...backends.domain_rows import DomainRows
from ...backends.relational import (
    ALL_TIME,
    CONVERSION_COLUMNS,
    PEOPLE,
    PLAIN_VISIT_FIELDS,
    Derived,
    LinkTable,
    RelationalConversions,
    RelationalPeople,
    Row,
    count_cells,
    day_bounds,
    visit_from_row,
    visit_values,
)
from ...backends.sql_outbox import Ran, Run, SqlOutbox
from ...backends.sqlite import MAX_RETENTION_DAYS, RETENTION_BATCH
from ...errors import BackendError, BackendUnavailable, ConfigurationError
from ...models import Link, Visit
from ...people import (
    EVERY,
    count_click,
    counts_for_people,
    is_people_link,
    people_sql,
    scope_of,
    scopes,
)

__all__ = [
    "DjangoStorage",
    "backfill_aggregates",
    "backfill_people_links",
    "digest",
    "restore_user_agents",
]


def _conversion_key(code: str, click_id: str, kind: str) -> str:
    """What the unique constraint compares: a digest, since click ids may be long text."""
    return digest(f"{kind}\n{click_id}")


def _conversion_row(row: Any) -> Row:
    values = {name: getattr(row, name) for name in CONVERSION_COLUMNS if name != "code"}
    return {**values, "code": row.link_id}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
#: Seconds between retention steps while the previous step found nothing more to drop.
_RETENTION_PAUSE = 1.0
#: Rows read per step by the 0005 backfill.
_BACKFILL_PAGE = 2000

# One statement per count cell on the databases with ``INSERT … ON CONFLICT`` (SQLite,
# PostgreSQL); the others update, then insert, in a savepoint.
_UPSERT_VENDORS = frozenset({"sqlite", "postgresql"})
_COUNT_CELL = (
    "INSERT INTO suolink_visit_count (code, dimension, day, value, value_digest, n) "
    "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT (code, dimension, day, value_digest) "
    "DO UPDATE SET n = suolink_visit_count.n + 1"
)
_COUNT_VISITOR = (
    "INSERT INTO suolink_visitor_count (code, visitor, visitor_digest, n) "
    "VALUES (%s, %s, %s, 1) ON CONFLICT (code, visitor_digest) "
    "DO UPDATE SET n = suolink_visitor_count.n + 1 RETURNING n"
)


def digest(text: str) -> str:
    """The key a unique constraint indexes in place of ``text`` (any length fits)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _ensure_django() -> None:
    """Set Django up when a process opens the store before anything else did."""
    from django.apps import apps
    from django.conf import settings

    if apps.ready:
        return
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise ConfigurationError(
            "the django:// backend needs configured Django settings "
            "(set DJANGO_SETTINGS_MODULE or call django.setup() first)"
        )
    import django

    django.setup()


def _parse_url(url: str) -> tuple[str, int]:
    """The database alias (``default`` when none) and ``retention_days`` of a URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "django":
        raise ConfigurationError(f"not a django:// URL: {redact_url(url)!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigurationError(
            f"django URLs name only a database alias: django:// or django://<alias>, "
            f"not {redact_url(url)!r}"
        )
    retention = 0
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "retention_days":
            raise ConfigurationError(
                f"unknown django:// option {name!r} in {redact_url(url)!r} "
                "(known options: retention_days)"
            )
        retention = int(value) if value.isascii() and value.isdigit() else -1
        if not 0 <= retention <= MAX_RETENTION_DAYS:
            raise ConfigurationError(
                f"django:// retention_days must be a whole number from 0 to "
                f"{MAX_RETENTION_DAYS}, not {value!r}"
            )
    return unquote(parts.netloc) or "default", retention


def _from_micros(us: int, offset: int | None = 0) -> datetime:
    """The instant ``us`` shown at the UTC offset (seconds) it was stored with."""
    moment = _EPOCH + timedelta(microseconds=us)
    if not offset:
        return moment
    return moment.astimezone(timezone(timedelta(seconds=offset)))


def _offset(moment: datetime) -> int:
    delta = moment.utcoffset()
    return 0 if delta is None else int(delta.total_seconds())


def _stored_time(moment: datetime) -> datetime | None:
    """``moment`` in UTC for a DateTimeField, or None if UTC cannot represent it."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _expiry(row: Row) -> datetime | None:
    us = row["expires_us"]
    return None if us is None else _from_micros(us, row["expires_offset"])


def _optional(convert: Callable[[datetime], Any]) -> Callable[[datetime | None], Any]:
    return lambda value: None if value is None else convert(value)


#: Times are kept exactly as microseconds and UTC offset; the DateTimeFields (in UTC)
#: are for the admin and the database's own queries.
_DERIVED = (
    Derived("created_at", "created_at", lambda moment: _stored_time(moment) or _EPOCH),
    Derived("created_us", "created_at", to_micros),
    Derived("created_offset", "created_at", _offset),
    Derived("expires_at", "expires_at", _optional(_stored_time)),
    Derived("expires_us", "expires_at", _optional(to_micros)),
    Derived("expires_offset", "expires_at", _optional(_offset)),
)
_READ: dict[str, Callable[[Row], Any]] = {
    "created_at": lambda row: _from_micros(row["created_us"], row["created_offset"]),
    "expires_at": _expiry,
}


class _Rows:
    """A model's rows on the alias of the :class:`_Tables` read from: a fresh queryset."""

    def __init__(self, model: str) -> None:
        self.model = model

    def __get__(self, tables: _Tables, owner: object = None) -> Any:
        from . import models

        return getattr(models, self.model).objects.using(tables.alias)


class _Tables:
    """The app's tables on one database alias: what each primitive works through."""

    links = _Rows("Link")
    tags = _Rows("LinkTag")
    visits = _Rows("Visit")
    counters = _Rows("Counter")
    tombstones = _Rows("Tombstone")
    user_agents = _Rows("UserAgent")
    visit_counts = _Rows("VisitCount")
    visitor_counts = _Rows("VisitorCount")
    conversions = _Rows("Conversion")
    domains = _Rows("Domain")
    people_links = _Rows("PeopleLink")
    people_visitors = _Rows("PeopleVisitor")
    people_visitor_links = _Rows("PeopleVisitorLink")
    people_recipients = _Rows("PeopleRecipient")
    people_recipient_links = _Rows("PeopleRecipientLink")
    people_recipient_visitors = _Rows("PeopleRecipientVisitor")

    def __init__(self, alias: str) -> None:
        self.alias = alias


#: The outbox's statements name the tables without Django's ``suolink_`` prefix.
_OUTBOX_TABLES = re.compile(r"\bwebhook_(endpoints|outbox|deliveries)\b")
#: The people statements (shared with PostgreSQL/MariaDB) name tables without the prefix.
_PEOPLE_TABLES = re.compile(
    r"\bpeople_(links|visitors|visitor_links|recipients|recipient_links|recipient_visitors)\b"
)
#: ``:name`` parameters, as Django's cursors take them: ``%(name)s``.
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_]+)")


class DjangoStorage(
    SqlOutbox,
    DomainRows[_Tables],
    RelationalConversions[_Tables],
    RelationalPeople[_Tables],
):
    """A ``Storage`` in a Django database: ``DjangoStorage("django://")`` or ``"django://replica"``.

    The tables come from the app's migrations (``manage.py migrate suolink``); opening
    checks the alias exists but does not connect, so it is safe at import time.
    ``?retention_days=N`` (0 to 36,500; 0 keeps every raw visit) drops raw visits older
    than N days, as ``sqlite://`` does.
    """

    _check_hint = " (did you run manage.py migrate suolink?)"

    def __init__(self, url: str = "django://") -> None:
        self.url = redact_url(url)
        self.alias, self.retention_days = _parse_url(url)
        self._retention_due = 0.0  # time.monotonic() of the next retention step
        _ensure_django()
        from django.db import IntegrityError, connections
        from django.db.models import JSONField

        from .models import Link as LinkRow

        if self.alias not in connections:
            raise ConfigurationError(
                f"{self.url}: no database alias {self.alias!r} in settings.DATABASES"
            )
        self._closed = False
        self._conflict = (IntegrityError,)
        self._tables = _Tables(self.alias)
        json_columns = {f.name for f in LinkRow._meta.fields if isinstance(f, JSONField)}
        self._table = LinkTable(derived=_DERIVED, read=_READ, json_columns=frozenset(json_columns))

    def __repr__(self) -> str:
        return f"DjangoStorage({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _vendor(self) -> str:
        from django.db import connections

        vendor: str = connections[self.alias].vendor
        return vendor

    def _classify(self, exc: Exception) -> type[BackendError] | None:
        from django.db import DatabaseError, InterfaceError, OperationalError

        if isinstance(exc, OperationalError | InterfaceError):
            return BackendUnavailable
        return BackendError if isinstance(exc, DatabaseError) else None

    def _describe(self, doing: str) -> str:
        return f"the database {self.alias!r} could not {doing}"

    @contextmanager
    def _reading(self) -> Iterator[_Tables]:
        yield self._tables

    @contextmanager
    def _writing(self) -> Iterator[_Tables]:
        from django.db import transaction

        with transaction.atomic(using=self.alias):
            yield self._tables

    @contextmanager
    def _outbox_tx(self, doing: str, *, write: bool = True) -> Iterator[Run]:
        """The webhook outbox's statements on the alias's cursor, in one atomic block."""
        from django.db import connections

        def run(sql: str, params: Mapping[str, Any]) -> Ran:
            query = _PARAMETER.sub(r"%(\1)s", _OUTBOX_TABLES.sub(r"suolink_webhook_\1", sql))
            with connections[self.alias].cursor() as cursor:
                cursor.execute(query, dict(params))
                rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
                return Ran(rows, cursor.rowcount)

        with self._write(doing) if write else self._read(doing):
            yield run

    def _people_statements(self) -> dict[str, str]:
        """The people statements of :func:`suolink.people.people_sql` for this database."""
        vendor = self._vendor
        family = vendor if vendor in ("postgresql", "mysql") else "sqlite"
        return {
            name: _PARAMETER.sub(r"%(\1)s", _PEOPLE_TABLES.sub(r"suolink_people_\1", sql))
            for name, sql in people_sql(family).items()
        }

    def _code_order(self, column: str) -> Any:
        """``column`` compared in code point order, as every backend lists (C collation)."""
        from django.db.models import F
        from django.db.models.functions import Collate

        return Collate(F(column), "C") if self._vendor == "postgresql" else F(column)

    # -- primitives of RelationalStorage ------------------------------------------------------

    def _select_link(self, tx: _Tables, code: str, *, for_update: bool = False) -> Any | None:
        rows = tx.links.select_for_update() if for_update else tx.links
        return rows.filter(code=code).first()

    def _to_link(self, row: Any) -> Link:
        return self._table.link(vars(row))

    def _insert_link(self, tx: _Tables, link: Link) -> None:
        tx.links.model(**self._table.values(link)).save(using=tx.alias, force_insert=True)
        self._link_people(tx, [link])

    def _update_link(self, tx: _Tables, link: Link) -> None:
        tx.links.filter(code=link.code).update(**self._table.values(link, update=True))
        if is_people_link(link.campaign, link.recipient):
            self._link_people(tx, [link])
        else:
            tx.people_links.filter(code=link.code).delete()

    def _insert_tags(self, tx: _Tables, code: str, tags: Sequence[str], created_us: int) -> None:
        tx.tags.bulk_create(
            [tx.tags.model(link_id=code, tag=tag, created_us=created_us) for tag in tags]
        )

    def _delete_tags(self, tx: _Tables, code: str) -> None:
        tx.tags.filter(link_id=code).delete()

    def _delete_link(self, tx: _Tables, code: str) -> bool:
        tx.visits.filter(link_id=code).delete()
        tx.visit_counts.filter(link_id=code).delete()
        tx.visitor_counts.filter(link_id=code).delete()
        tx.conversions.filter(link_id=code).delete()
        tx.people_links.filter(code=code).delete()  # people's rows stay
        self._delete_tags(tx, code)
        deleted, _ = tx.links.filter(code=code).delete()
        return bool(deleted)

    def _is_tombstoned(self, tx: _Tables, code: str) -> bool:
        return bool(tx.tombstones.filter(code=code).exists())

    def _insert_tombstone(self, tx: _Tables, code: str, deleted_at: datetime) -> None:
        tx.tombstones.get_or_create(code=code, defaults={"deleted_at": deleted_at})

    def _insert_domain(self, tx: _Tables, name: str, added_us: int, data: str) -> None:
        tx.domains.model(name=name, added_us=added_us, data=data).save(
            using=tx.alias, force_insert=True
        )

    def _domain_rows(self, tx: _Tables) -> list[str]:
        return [
            str(data)
            for data in tx.domains.order_by("added_us", "name").values_list("data", flat=True)
        ]

    def _domain_row(self, tx: _Tables, name: str) -> str | None:
        row = tx.domains.select_for_update().filter(name=name).values_list("data", flat=True)
        found = row.first()
        return None if found is None else str(found)

    def _update_domain(self, tx: _Tables, name: str, data: str) -> None:
        tx.domains.filter(name=name).update(data=data)

    def _delete_domain(self, tx: _Tables, name: str) -> bool:
        deleted, _ = tx.domains.filter(name=name).delete()
        return bool(deleted)

    def _page(
        self, tx: _Tables, after: tuple[int, str] | None, tag: str | None, size: int
    ) -> list[Any]:
        from django.db.models import Q

        if tag is None:
            rows = tx.links.annotate(code_key=self._code_order("code"))
        else:
            rows = tx.tags.filter(tag=tag).select_related("link")
            rows = rows.annotate(code_key=self._code_order("link_id"))
        if after is not None:
            rows = rows.filter(
                Q(created_us__lt=after[0]) | Q(created_us=after[0], code_key__lt=after[1])
            )
        page = list(rows.order_by("-created_us", "-code_key")[:size])
        return page if tag is None else [row.link for row in page]

    def _next_id(self, tx: _Tables) -> int:
        from django.db import IntegrityError, transaction
        from django.db.models import F

        counter = tx.counters.filter(name="links")
        if not counter.update(value=F("value") + 1):
            try:  # the first id ever: the primary key settles a race to create the row
                with transaction.atomic(using=tx.alias):
                    tx.counters.create(name="links", value=1)
                return 1
            except IntegrityError:
                counter.update(value=F("value") + 1)
        return int(counter.values_list("value", flat=True).get())

    def _count_visit(self, tx: _Tables, code: str) -> int | None:
        from django.db.models import F, Q

        open_to_count = Q(max_visits__isnull=True) | Q(visits__lt=F("max_visits"))
        if not tx.links.filter(open_to_count, code=code).update(visits=F("visits") + 1):
            return None
        return self._visit_count(tx, code)

    def _visit_count(self, tx: _Tables, code: str) -> int | None:
        current = tx.links.filter(code=code).values_list("visits", flat=True).first()
        return None if current is None else int(current)

    def _insert_visit(self, tx: _Tables, visit: Visit) -> None:
        """Insert the raw visit and add it to the counts, in the caller's transaction."""
        values = visit_values(visit)
        values["ua_id"] = self._user_agent_id(tx, values.pop("user_agent"))
        tx.visits.create(
            link_id=visit.code,
            at=_stored_time(visit.at) or _EPOCH,
            at_us=to_micros(visit.at),
            at_offset=_offset(visit.at),
            **values,
        )
        cells, who = count_cells(visit)
        self._bump_cells(tx, cells)
        if who is not None and self._bump_visitor(tx, visit.code, who) == 1:
            self._bump_cells(tx, [(visit.code, PEOPLE, ALL_TIME, "")])
        self._count_people(tx, visit)
        if self.retention_days:
            self._drop_old_visits(tx, to_micros(visit.at) - self.retention_days * _DAY_US)

    def _user_agent_id(self, tx: _Tables, text: str) -> int:
        """The id of ``text`` in ``suolink_user_agent``, inserted if new."""
        from django.db import IntegrityError, transaction

        key = digest(text)
        found = tx.user_agents.filter(digest=key).values_list("id", flat=True).first()
        if found is None:
            try:  # a concurrent writer may insert it first: the unique digest settles it
                with transaction.atomic(using=tx.alias):
                    found = tx.user_agents.create(digest=key, text=text).id
            except IntegrityError:
                found = tx.user_agents.filter(digest=key).values_list("id", flat=True).get()
        return int(found)

    def _bump_cells(self, tx: _Tables, cells: Sequence[tuple[str, str, str, str]]) -> None:
        """Add 1 to each ``(code, dimension, day, value)`` cell, creating missing ones."""
        from django.db import IntegrityError, connections, transaction
        from django.db.models import F

        if self._vendor in _UPSERT_VENDORS:
            with connections[tx.alias].cursor() as cursor:
                cursor.executemany(_COUNT_CELL, [(*cell, digest(cell[3])) for cell in cells])
            return
        for code, dimension, day, value in cells:
            key = {"link_id": code, "dimension": dimension, "day": day}
            cell = tx.visit_counts.filter(value_digest=digest(value), **key)
            if cell.update(n=F("n") + 1):
                continue
            try:
                with transaction.atomic(using=tx.alias):
                    tx.visit_counts.create(value=value, value_digest=digest(value), n=1, **key)
            except IntegrityError:
                cell.update(n=F("n") + 1)

    def _bump_visitor(self, tx: _Tables, code: str, who: str) -> int:
        """Add 1 to the person's visits of ``code``: their count after it."""
        from django.db import IntegrityError, connections, transaction
        from django.db.models import F

        if self._vendor in _UPSERT_VENDORS:
            with connections[tx.alias].cursor() as cursor:
                cursor.execute(_COUNT_VISITOR, (code, who, digest(who)))
                return int(cursor.fetchone()[0])
        person = tx.visitor_counts.filter(link_id=code, visitor_digest=digest(who))
        if not person.update(n=F("n") + 1):
            try:
                with transaction.atomic(using=tx.alias):
                    tx.visitor_counts.create(
                        link_id=code, visitor=who, visitor_digest=digest(who), n=1
                    )
                return 1
            except IntegrityError:
                person.update(n=F("n") + 1)
        return int(person.values_list("n", flat=True).get())

    def _drop_old_visits(self, tx: _Tables, before_us: int) -> None:
        """One retention step: up to ``RETENTION_BATCH`` raw visits older than ``before_us``.

        Runs at most once a second while there is nothing left to drop, and on every
        write while there is, so a backlog drains in short steps (the counts stay).
        """
        now = time.monotonic()
        if now < self._retention_due:
            return
        old = tx.visits.filter(at_us__lt=before_us).order_by("at_us")
        ids = list(old.values_list("id", flat=True)[:RETENTION_BATCH])
        dropped, _ = tx.visits.filter(id__in=ids).delete() if ids else (0, {})
        self._retention_due = now if dropped >= RETENTION_BATCH else now + _RETENTION_PAUSE

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        """Sums of the count tables over the UTC days ``[since, until)``.

        The whole history reads the all-time cells and the per-link visitor counts (top
        ten by their index); a window sums the per-day cells instead.
        """
        from django.db.models import Sum

        self._check_open()
        if not code_ok(code):
            return StatsCounts()
        low, high = day_bounds(since, until)
        whole = since is None and until is None
        dims: dict[str, dict[str, int]] = {}
        with self._read("read visit counts") as tx:
            cells = tx.visit_counts.filter(link_id=code).annotate(day_key=self._code_order("day"))
            in_window = cells.filter(day_key__gte=low, day_key__lt=high)
            by_day = dict(in_window.filter(dimension="total").values_list("day", "n"))
            dimension_cells = cells.filter(day=ALL_TIME) if whole else in_window
            for dim, value, n in (
                dimension_cells.filter(dimension__in=DIMENSIONS)
                .values("dimension", "value")
                .annotate(total=Sum("n"))
                .values_list("dimension", "value", "total")
            ):
                dims.setdefault(dim, {})[value] = int(n)
            if whole:
                people = cells.filter(dimension=PEOPLE, day=ALL_TIME, value="")
                unique = people.values_list("n", flat=True).first() or 0
                top = list(
                    tx.visitor_counts.filter(link_id=code)
                    .annotate(visitor_key=self._code_order("visitor"))
                    .order_by("-n", "visitor_key")
                    .values_list("visitor", "n")[:TOP]
                )
            else:
                counted = list(
                    in_window.filter(dimension="visitor")
                    .values("value")
                    .annotate(total=Sum("n"))
                    .values_list("value", "total")
                )
                unique = len(counted)
                top = sorted(counted, key=lambda row: (-row[1], row[0]))[:TOP]
        return StatsCounts(
            by_day={day: int(n) for day, n in by_day.items()},
            dimensions=dims,
            unique_visitors=int(unique),
            top_visitors=[(str(who), int(n)) for who, n in top],
        )

    def _visit_page(
        self, tx: _Tables, code: str, low: int, high: int, after: Position, size: int
    ) -> list[Any]:
        from django.db.models import Q

        return list(
            tx.visits.filter(link_id=code, at_us__gte=low, at_us__lt=high)
            .filter(Q(at_us__gt=after[0]) | Q(at_us=after[0], id__gt=after[1]))
            .select_related("ua")
            .order_by("at_us", "id")[:size]
        )

    def _visit_position(self, row: Any) -> Position:
        return (row.at_us, row.id)

    def _to_visit(self, row: Any) -> Visit:
        return visit_from_row(
            {**vars(row), "user_agent": row.ua.text},
            code=row.link_id,
            at=_from_micros(row.at_us, row.at_offset),
        )

    # -- people across links (TracksPeople) ----------------------------------------------

    def _run_people(self, tx: _Tables, name: str, params: Mapping[str, Any]) -> int:
        """One shared people statement on the alias's cursor: the rows it changed."""
        from django.db import connections

        with connections[tx.alias].cursor() as cursor:
            cursor.execute(self._people_statements()[name], dict(params))
            return int(cursor.rowcount)

    def _link_people(self, tx: _Tables, links: Sequence[Link]) -> None:
        """Links' campaign and recipient, and their recipients listed with no click yet."""
        people = [link for link in links if is_people_link(link.campaign, link.recipient)]
        if not people:
            return
        tx.people_links.filter(code__in=[p.code for p in people]).delete()
        tx.people_links.bulk_create(
            tx.people_links.model(
                code=p.code,
                campaign=p.campaign,
                recipient=p.recipient,
                recipient_key=None if p.recipient is None else digest(p.recipient),
            )
            for p in people
        )
        for link in people:
            if link.recipient is None:
                continue
            for scope in scopes(link.campaign):
                self._run_people(
                    tx,
                    "add_recipient",
                    {"sk": digest(scope), "rk": digest(link.recipient), "scope": scope,
                     "recipient": link.recipient},
                )  # fmt: skip

    def _count_people(self, tx: _Tables, visit: Visit) -> None:
        """One click on a people link: the visitor's rows and the recipient's, per scope."""
        if not counts_for_people(visit):
            return
        row = tx.people_links.filter(code=visit.code).values_list("campaign", "recipient").first()
        if row is None:
            return
        campaign, recipient = row

        def run(name: str, params: dict[str, Any]) -> int:
            return self._run_people(tx, name, params)

        count_click(run, digest, visit, campaign, recipient)

    def _top(
        self, kind: str, campaign: str | None, limit: int | None, min_clicks: int
    ) -> list[PersonRow]:
        self._check_open()
        recipients = kind == "recipient"
        with self._read(f"read the top {kind}s") as tx:
            table = tx.people_recipients if recipients else tx.people_visitors
            rows = (
                table.filter(scope_key=digest(scope_of(campaign)), clicks__gte=min_clicks)
                .annotate(who_key=self._code_order(kind))
                .order_by("-clicks", "who_key")
            )
            found = list(rows if limit is None else rows[:limit])
        return [
            PersonRow(
                id=str(getattr(row, kind)),
                clicks=int(row.clicks),
                links=int(row.links),
                first_seen=None if row.first_us is None else _from_micros(int(row.first_us)),
                last_seen=None if row.last_us is None else _from_micros(int(row.last_us)),
                reach=int(row.reach) if recipients else 0,
                visitor=(row.own or None) if recipients else None,
            )
            for row in found
        ]

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients, their clicks and summed reach (one aggregate read)."""
        from django.db.models import Count, Sum

        self._check_open()
        with self._read("read a campaign's totals") as tx:
            totals = tx.people_recipients.filter(scope_key=digest(scope_of(campaign))).aggregate(
                n=Count("id"), clicks=Sum("clicks"), reach=Sum("reach")
            )
        return PeopleTotals(
            recipients=int(totals["n"] or 0),
            clicks=int(totals["clicks"] or 0),
            reach=int(totals["reach"] or 0),
        )

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        from django.db.models import Count, Sum

        self._check_open()
        with self._read("list campaigns") as tx:
            rows = list(
                tx.people_recipients.exclude(scope_key=digest(EVERY))
                .values("scope_key", "scope")
                .annotate(n=Count("id"), clicks=Sum("clicks"), reach=Sum("reach"))
                .order_by("scope")
                .values_list("scope", "n", "clicks", "reach")
            )
        return {
            str(scope): PeopleTotals(int(n), int(clicks or 0), int(reach or 0))
            for scope, n, clicks, reach in rows
        }

    def forget_visitor(self, visitor: str) -> bool:
        """Drop the visitor's rows, their place in reach, and their id on raw visits.

        Raw visits are scanned (no index by visitor): a rare call.
        """
        from django.db.models import Case, F, TextField, Value, When

        self._check_open()
        vk = digest(visitor)
        with self._write("forget a visitor") as tx:
            found = tx.people_visitor_links.filter(visitor_key=vk).delete()[0] > 0
            found = tx.people_visitors.filter(visitor_key=vk).delete()[0] > 0 or found
            theirs = tx.people_recipient_visitors.filter(visitor_key=vk)
            for sk, rk in list(theirs.values_list("scope_key", "recipient_key")):
                found = True
                tx.people_recipients.filter(scope_key=sk, recipient_key=rk).update(
                    reach=Case(When(own=visitor, then=F("reach")), default=F("reach") - 1),
                    own=Case(
                        When(own=visitor, then=Value("")),
                        default=F("own"),
                        output_field=TextField(),
                    ),
                )
            theirs.delete()
            changed = tx.visits.filter(visitor_id=visitor).update(visitor_id=None)
            changed += tx.visitor_counts.filter(visitor_digest=vk).delete()[0]
            tx.visit_counts.filter(dimension="visitor", value_digest=vk).delete()
            return bool(found or changed > 0)

    def forget_recipient(self, recipient: str) -> bool:
        """Drop the recipient's rows and clear ``recipient`` on their links."""
        self._check_open()
        rk = digest(recipient)
        with self._write("forget a recipient") as tx:
            tx.people_recipient_links.filter(recipient_key=rk).delete()
            tx.people_recipient_visitors.filter(recipient_key=rk).delete()
            found = tx.people_recipients.filter(recipient_key=rk).delete()[0] > 0
            codes = list(tx.people_links.filter(recipient_key=rk).values_list("code", flat=True))
            for code in codes:
                row = self._select_link(tx, str(code), for_update=True)
                if row is not None:
                    found = True
                    self._update_link(tx, replace(self._to_link(row), recipient=None))
            return bool(found)

    # -- conversions (RecordsConversions) -----------------------------------------------------

    def _insert_conversion(self, tx: _Tables, values: dict[str, Any]) -> bool:
        """Insert in a savepoint; the unique (link, key digest) refuses a repeat."""
        from django.db import IntegrityError, transaction

        row = {k: v for k, v in values.items() if k != "code"}
        key = _conversion_key(values["code"], values["click_id"], values["kind"])
        try:
            with transaction.atomic(using=tx.alias):
                tx.conversions.create(link_id=values["code"], key_digest=key, **row)
        except IntegrityError:
            return False
        return True

    def _select_conversion(self, tx: _Tables, code: str, click_id: str, kind: str) -> Row | None:
        found = tx.conversions.filter(
            link_id=code, key_digest=_conversion_key(code, click_id, kind)
        ).first()
        return None if found is None else _conversion_row(found)

    def _conversion_rows(self, tx: _Tables, code: str, low: int, high: int) -> list[Row]:
        rows = tx.conversions.filter(link_id=code, at_us__gte=low, at_us__lt=high).order_by(
            "at_us", "id"
        )
        return [_conversion_row(row) for row in rows]

    def _probe(self, tx: _Tables) -> None:
        tx.links.exists()

    def close(self) -> None:
        """Stop using the store; this thread's connection is closed unless in a transaction."""
        from django.db import connections

        self._closed = True
        connection = connections[self.alias]
        if not connection.in_atomic_block:
            connection.close()


# -------------------------------------------------------------------------- migration 0005


def backfill_aggregates(apps: Any, alias: str) -> None:
    """Intern the user agents of the visits on ``alias`` and count them (migration 0005).

    ``apps`` is the migration's app registry (historical models: ``Visit`` still has
    its ``user_agent`` text). Visits are read a page at a time by id, never with a
    cursor left open over a table being written.
    """
    visits = apps.get_model("suolink", "Visit").objects.using(alias)
    user_agents = apps.get_model("suolink", "UserAgent").objects.using(alias)
    ua_ids: dict[str, int] = {}
    days: Counter[tuple[str, str, str, str]] = Counter()
    people: Counter[tuple[str, str]] = Counter()
    last = 0
    while page := list(visits.filter(id__gt=last).order_by("id")[:_BACKFILL_PAGE]):
        last = page[-1].id
        by_agent: dict[int, list[int]] = {}
        for row in page:
            if (ua_id := ua_ids.get(row.user_agent)) is None:
                ua = user_agents.create(digest=digest(row.user_agent), text=row.user_agent)
                ua_id = ua_ids[row.user_agent] = ua.id
            by_agent.setdefault(ua_id, []).append(row.id)
            # Fields added by later migrations are absent from the historical model: None.
            values = {**dict.fromkeys(PLAIN_VISIT_FIELDS), **vars(row)}
            visit = visit_from_row(
                values, code=row.link_id, at=_from_micros(row.at_us, row.at_offset)
            )
            cells, who = count_cells(visit)
            days.update(cells)
            if who is not None:
                people[visit.code, who] += 1
        for ua_id, ids in by_agent.items():
            visits.filter(id__in=ids).update(ua_id=ua_id)
    for code, n in Counter(code for code, _ in people).items():
        days[code, PEOPLE, ALL_TIME, ""] = n
    counts = apps.get_model("suolink", "VisitCount").objects.using(alias)
    counts.bulk_create(
        (
            counts.model(
                link_id=code, dimension=dim, day=day, value=value, value_digest=digest(value), n=n
            )
            for (code, dim, day, value), n in days.items()
        ),
        batch_size=1000,
    )
    visitors = apps.get_model("suolink", "VisitorCount").objects.using(alias)
    visitors.bulk_create(
        (
            visitors.model(link_id=code, visitor=who, visitor_digest=digest(who), n=n)
            for (code, who), n in people.items()
        ),
        batch_size=1000,
    )


def restore_user_agents(apps: Any, alias: str) -> None:
    """Give each visit its user agent text back (migration 0005 reversed)."""
    visits = apps.get_model("suolink", "Visit").objects.using(alias)
    texts = dict(
        apps.get_model("suolink", "UserAgent").objects.using(alias).values_list("id", "text")
    )
    last = 0
    while page := list(
        visits.filter(id__gt=last).order_by("id").values_list("id", "ua_id")[:_BACKFILL_PAGE]
    ):
        last = page[-1][0]
        by_agent: dict[int, list[int]] = {}
        for visit_id, ua_id in page:
            if ua_id is not None:
                by_agent.setdefault(ua_id, []).append(visit_id)
        for ua_id, ids in by_agent.items():
            visits.filter(id__in=ids).update(user_agent=texts[ua_id])


# -------------------------------------------------------------------------- migration 0013


def backfill_people_links(apps: Any, alias: str) -> None:
    """List the links with a campaign or a recipient in ``suolink_people_links`` (0013).

    Clicks made before are not counted for people (as on SQLite and PostgreSQL).
    """
    links = apps.get_model("suolink", "Link").objects.using(alias)
    people = apps.get_model("suolink", "PeopleLink").objects.using(alias)
    rows = []
    for code, extra in links.values_list("code", "extra").iterator(chunk_size=_BACKFILL_PAGE):
        values = extra if isinstance(extra, dict) else {}
        campaign, recipient = values.get("campaign"), values.get("recipient")
        if is_people_link(campaign, recipient):
            rows.append(
                people.model(
                    code=code,
                    campaign=campaign,
                    recipient=recipient,
                    recipient_key=None if recipient is None else digest(recipient),
                )
            )
    people.bulk_create(rows, batch_size=1000)
