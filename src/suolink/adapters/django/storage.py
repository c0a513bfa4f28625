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

Django must be set up first; if it is not and ``DJANGO_SETTINGS_MODULE`` is set (a
worker process, a script), opening the store calls ``django.setup()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from ...backends import redact_url
from ...backends._common import Position, to_micros
from ...backends.relational import (
    Derived,
    LinkTable,
    RelationalStorage,
    Row,
    visit_from_row,
    visit_values,
)
from ...errors import BackendError, BackendUnavailable, ConfigurationError
from ...models import Link, Visit

__all__ = ["DjangoStorage"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _parse_url(url: str) -> str:
    """The database alias named by a ``django://`` URL (``default`` when none)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "django":
        raise ConfigurationError(f"not a django:// URL: {redact_url(url)!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"django URLs name only a database alias: django:// or django://<alias>, "
            f"not {redact_url(url)!r}"
        )
    return unquote(parts.netloc) or "default"


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

    def __init__(self, alias: str) -> None:
        self.alias = alias


class DjangoStorage(RelationalStorage[_Tables]):
    """A ``Storage`` in a Django database: ``DjangoStorage("django://")`` or ``"django://replica"``.

    The tables come from the app's migrations (``manage.py migrate suolink``); opening
    checks the alias exists but does not connect, so it is safe at import time.
    """

    _check_hint = " (did you run manage.py migrate suolink?)"

    def __init__(self, url: str = "django://") -> None:
        self.url = redact_url(url)
        self.alias = _parse_url(url)
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

    def _update_link(self, tx: _Tables, link: Link) -> None:
        tx.links.filter(code=link.code).update(**self._table.values(link, update=True))

    def _insert_tags(self, tx: _Tables, code: str, tags: Sequence[str], created_us: int) -> None:
        tx.tags.bulk_create(
            [tx.tags.model(link_id=code, tag=tag, created_us=created_us) for tag in tags]
        )

    def _delete_tags(self, tx: _Tables, code: str) -> None:
        tx.tags.filter(link_id=code).delete()

    def _delete_link(self, tx: _Tables, code: str) -> bool:
        tx.visits.filter(link_id=code).delete()
        self._delete_tags(tx, code)
        deleted, _ = tx.links.filter(code=code).delete()
        return bool(deleted)

    def _is_tombstoned(self, tx: _Tables, code: str) -> bool:
        return bool(tx.tombstones.filter(code=code).exists())

    def _insert_tombstone(self, tx: _Tables, code: str, deleted_at: datetime) -> None:
        tx.tombstones.get_or_create(code=code, defaults={"deleted_at": deleted_at})

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
        tx.visits.create(
            link_id=visit.code,
            at=_stored_time(visit.at) or _EPOCH,
            at_us=to_micros(visit.at),
            at_offset=_offset(visit.at),
            **visit_values(visit),
        )

    def _visit_page(
        self, tx: _Tables, code: str, low: int, high: int, after: Position, size: int
    ) -> list[Any]:
        from django.db.models import Q

        return list(
            tx.visits.filter(link_id=code, at_us__gte=low, at_us__lt=high)
            .filter(Q(at_us__gt=after[0]) | Q(at_us=after[0], id__gt=after[1]))
            .order_by("at_us", "id")[:size]
        )

    def _visit_position(self, row: Any) -> Position:
        return (row.at_us, row.id)

    def _to_visit(self, row: Any) -> Visit:
        return visit_from_row(
            vars(row),
            code=row.link_id,
            at=_from_micros(row.at_us, row.at_offset),
        )

    def _probe(self, tx: _Tables) -> None:
        tx.links.exists()

    def close(self) -> None:
        """Stop using the store; this thread's connection is closed unless in a transaction."""
        from django.db import connections

        self._closed = True
        connection = connections[self.alias]
        if not connection.in_atomic_block:
            connection.close()
