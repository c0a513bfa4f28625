"""``django://`` and ``django://<alias>``: links in the project's own database, via the ORM.

Every write is one ``transaction.atomic`` block on the chosen alias and never a "check,
then write": ``create`` inserts and lets the primary key refuse a taken code,
``record_visit`` checks ``max_visits`` and counts in one ``UPDATE … SET visits = visits +
1 WHERE visits < max_visits`` (an ``F()`` expression), ``next_id`` bumps its counter row
the same way. On SQLite use ``"OPTIONS": {"transaction_mode": "IMMEDIATE"}`` so
concurrent writers wait for each other instead of failing (check ``suolink.W003``).

Django must be set up first; if it is not and ``DJANGO_SETTINGS_MODULE`` is set (a
worker process, a script), opening the store calls ``django.setup()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from ...backends import redact_url
from ...backends._common import (
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
from ...backends.base import DEFAULT_PAGE_SIZE
from ...errors import (
    BackendError,
    BackendUnavailable,
    CodeTaken,
    ConfigurationError,
    InvalidOption,
    LinkNotFound,
)
from ...models import AntiBlockMode, Link, LinkPage, Visit, VisitResult

__all__ = ["DjangoStorage"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_US = MIN_MICROS
_MAX_US = MAX_MICROS


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


def _strings(value: object) -> Iterator[str]:
    """Every string inside ``value`` (nested tuples, lists, sets)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            yield from _strings(item)


def _json_set(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _row_values(link: Link) -> dict[str, Any]:
    """The updatable columns of a row for ``link``."""
    return {
        "url": link.url,
        "expires_at": None if link.expires_at is None else _stored_time(link.expires_at),
        "expires_us": None if link.expires_at is None else to_micros(link.expires_at),
        "expires_offset": None if link.expires_at is None else _offset(link.expires_at),
        "max_visits": link.max_visits,
        "password_hash": link.password_hash,
        "anti_block": _json_set(link.anti_block),
        "anti_block_mode": link.anti_block_mode.value,
        "allow": _json_set(link.allow),
        "deny": sorted(link.deny),
        "targets": [list(pair) for pair in link.targets],
        "title": link.title,
        "tags": list(link.tags),
        "disabled": link.disabled,
        "language": link.language,
    }


def _to_link(row: Any) -> Link:
    return Link(
        code=row.code,
        url=row.url,
        created_at=_from_micros(row.created_us, row.created_offset),
        expires_at=(
            None if row.expires_us is None else _from_micros(row.expires_us, row.expires_offset)
        ),
        max_visits=row.max_visits,
        password_hash=row.password_hash,
        anti_block=None if row.anti_block is None else frozenset(row.anti_block),
        anti_block_mode=AntiBlockMode(row.anti_block_mode),
        allow=None if row.allow is None else frozenset(row.allow),
        deny=frozenset(row.deny),
        targets=tuple((k, v) for k, v in row.targets),
        title=row.title,
        tags=tuple(row.tags),
        disabled=bool(row.disabled),
        visits=int(row.visits),
        language=row.language,
    )


def _to_visit(row: Any) -> Visit:
    return Visit(
        code=row.link_id,
        at=_from_micros(row.at_us, row.at_offset),
        ip=row.ip,
        user_agent=row.user_agent,
        referer=row.referer,
        app=row.app,
        os=row.os,
        device=row.device,
        is_bot=bool(row.is_bot),
        language=row.language,
        visitor_id=row.visitor_id,
        browser=row.browser,
        outcome=row.outcome,
    )


class DjangoStorage:
    """A ``Storage`` in a Django database: ``DjangoStorage("django://")`` or ``"django://replica"``.

    The tables come from the app's migrations (``manage.py migrate suolink``); opening
    checks the alias exists but does not connect, so it is safe at import time.
    """

    def __init__(self, url: str = "django://") -> None:
        self.url = redact_url(url)
        self.alias = _parse_url(url)
        _ensure_django()
        from django.db import connections

        if self.alias not in connections:
            raise ConfigurationError(
                f"{self.url}: no database alias {self.alias!r} in settings.DATABASES"
            )
        self._closed = False

    def __repr__(self) -> str:
        return f"DjangoStorage({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _vendor(self) -> str:
        from django.db import connections

        vendor: str = connections[self.alias].vendor
        return vendor

    def _code_ok(self, code: object) -> bool:
        # PostgreSQL text cannot hold NUL, so no stored code contains one.
        return code_ok(code) and not (self._vendor == "postgresql" and "\x00" in str(code))

    def _text_ok(self, *values: object) -> None:
        """Refuse text PostgreSQL cannot store (NUL), before anything is written."""
        if self._vendor != "postgresql":
            return
        if any("\x00" in text for text in _strings(values)):
            raise InvalidOption("text", "NUL characters cannot be stored in PostgreSQL")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Refuse calls after close(); turn driver exceptions into suolink's own."""
        if self._closed:
            raise BackendUnavailable(f"the storage {self.url} is closed")
        from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError

        try:
            yield
        except IntegrityError:
            raise  # a constraint said no: the caller knows what that means
        except (OperationalError, InterfaceError) as exc:
            raise BackendUnavailable(
                f"the database {self.alias!r} could not {doing}: {exc}", original=exc
            ) from exc
        except DatabaseError as exc:
            raise BackendError(
                f"the database {self.alias!r} could not {doing}: {exc}", original=exc
            ) from exc

    @contextmanager
    def _atomic(self, doing: str) -> Iterator[None]:
        from django.db import transaction

        with self._errors(doing), transaction.atomic(using=self.alias):
            yield

    def _links(self) -> Any:
        from .models import Link as LinkRow

        return LinkRow.objects.using(self.alias)

    def _code_order(self) -> tuple[Any, Any]:
        """``code`` compared in code point order, as every backend lists (C collation)."""
        from django.db.models import F
        from django.db.models.functions import Collate

        if self._vendor == "postgresql":
            return Collate(F("code"), "C"), "C"
        return F("code"), None

    # -- the Storage protocol ---------------------------------------------------------------

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, atomically; raise ``CodeTaken`` if not."""
        from django.db import IntegrityError

        from .models import LinkTag

        stored = normalise_link(link)
        self._text_ok(
            stored.code, stored.url, stored.title, stored.password_hash, stored.language,
            stored.anti_block, stored.allow, stored.deny, stored.targets, stored.tags,
        )  # fmt: skip
        created_us = to_micros(stored.created_at)
        try:
            with self._atomic("create a link"):
                row = self._links().model(
                    code=stored.code,
                    created_at=_stored_time(stored.created_at) or _EPOCH,
                    created_us=created_us,
                    created_offset=_offset(stored.created_at),
                    visits=0,
                    **_row_values(stored),
                )
                row.save(using=self.alias, force_insert=True)
                LinkTag.objects.using(self.alias).bulk_create(
                    [
                        LinkTag(link_id=stored.code, tag=tag, created_us=created_us)
                        for tag in sorted(set(stored.tags))
                    ]
                )
        except IntegrityError as exc:
            raise CodeTaken(stored.code) from exc
        return stored

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None."""
        if not self._code_ok(code):
            return None
        with self._errors("read a link"):
            row = self._links().filter(code=code).first()
        return None if row is None else _to_link(row)

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` to the row locked ``select_for_update``; ``LinkNotFound``."""
        from .models import LinkTag

        checked = normalise_changes(changes)
        self._text_ok(*checked.values())
        if not self._code_ok(code):
            raise LinkNotFound(str(code))
        with self._atomic("update a link"):
            row = self._links().select_for_update().filter(code=code).first()
            if row is None:
                raise LinkNotFound(code)
            old = _to_link(row)
            new = replace(old, **checked)
            self._links().filter(code=code).update(**_row_values(new))
            if new.tags != old.tags:
                tags = LinkTag.objects.using(self.alias)
                tags.filter(link_id=code).delete()
                tags.bulk_create(
                    [
                        LinkTag(link_id=code, tag=tag, created_us=row.created_us)
                        for tag in sorted(set(new.tags))
                    ]
                )
        return new

    def delete(self, code: str) -> bool:
        """Remove the link, its tags and its visits in one transaction; True if it existed."""
        from .models import LinkTag
        from .models import Visit as VisitRow

        if not self._code_ok(code):
            return False
        with self._atomic("delete a link"):
            VisitRow.objects.using(self.alias).filter(link_id=code).delete()
            LinkTag.objects.using(self.alias).filter(link_id=code).delete()
            deleted, _ = self._links().filter(code=code).delete()
        return bool(deleted)

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given."""
        from django.db.models import Q

        from .models import LinkTag

        check_limit(limit)
        check_tag(tag)
        after = None if cursor is None else decode_cursor(cursor)
        code_expr, collation = self._code_order()
        with self._errors("list links"):
            if tag is None:
                rows = self._links().annotate(code_key=code_expr)
                if after is not None:
                    rows = rows.filter(
                        Q(created_us__lt=after[0]) | Q(created_us=after[0], code_key__lt=after[1])
                    )
                page = list(rows.order_by("-created_us", "-code_key")[: limit + 1])
            else:
                if self._vendor == "postgresql" and "\x00" in tag:
                    return LinkPage(links=(), next_cursor=None)
                from django.db.models import F
                from django.db.models.functions import Collate

                key = Collate(F("link_id"), collation) if collation else F("link_id")
                tagged = (
                    LinkTag.objects.using(self.alias)
                    .filter(tag=tag)
                    .select_related("link")
                    .annotate(code_key=key)
                )
                if after is not None:
                    tagged = tagged.filter(
                        Q(created_us__lt=after[0]) | Q(created_us=after[0], code_key__lt=after[1])
                    )
                page = [t.link for t in tagged.order_by("-created_us", "-code_key")[: limit + 1]]
        links = tuple(_to_link(row) for row in page[:limit])
        more = len(page) > limit
        return LinkPage(
            links=links, next_cursor=encode_cursor(link_key(links[-1])) if more else None
        )

    def next_id(self) -> int:
        """A number never handed out before by this store (atomic, starts at 1)."""
        from django.db import IntegrityError, transaction
        from django.db.models import F

        from .models import Counter

        counters = Counter.objects.using(self.alias)
        with self._atomic("count"):
            if not counters.filter(name="links").update(value=F("value") + 1):
                try:  # the first id ever: the primary key settles a race to create the row
                    with transaction.atomic(using=self.alias):
                        counters.create(name="links", value=1)
                    return 1
                except IntegrityError:
                    counters.filter(name="links").update(value=F("value") + 1)
            return int(counters.filter(name="links").values_list("value", flat=True).get())

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` in one transaction, unless ``max_visits`` is reached."""
        from django.db.models import F, Q

        from .models import Visit as VisitRow

        visit = normalise_visit(visit)
        if not self._code_ok(visit.code):
            raise LinkNotFound(visit.code)
        self._text_ok(
            visit.user_agent, visit.ip, visit.referer, visit.app, visit.os, visit.device,
            visit.language, visit.visitor_id, visit.browser, visit.outcome,
        )  # fmt: skip
        links = self._links().filter(code=visit.code)
        with self._atomic("record a visit"):
            if count:
                bumped = links.filter(
                    Q(max_visits__isnull=True) | Q(visits__lt=F("max_visits"))
                ).update(visits=F("visits") + 1)
            current = links.values_list("visits", flat=True).first()
            if current is None:
                raise LinkNotFound(visit.code)
            if count and not bumped:
                return VisitResult(allowed=False, visits=int(current))
            VisitRow.objects.using(self.alias).create(
                link_id=visit.code,
                at=_stored_time(visit.at) or _EPOCH,
                at_us=to_micros(visit.at),
                at_offset=_offset(visit.at),
                ip=visit.ip,
                user_agent=visit.user_agent,
                referer=visit.referer,
                app=visit.app,
                os=visit.os,
                device=visit.device,
                is_bot=visit.is_bot,
                language=visit.language,
                visitor_id=visit.visitor_id,
                browser=visit.browser,
                outcome=visit.outcome,
            )
            return VisitResult(allowed=True, visits=int(current))

    def visits(
        self,
        code: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``, streamed."""
        low, high = check_window(since, until)
        if limit is not None:
            check_limit(limit, maximum=None)
        if self._closed:
            raise BackendUnavailable(f"the storage {self.url} is closed")
        if not self._code_ok(code):
            return iter(())
        return self._iter_visits(
            code, _MIN_US if low is None else low, _MAX_US if high is None else high, limit
        )

    def _iter_visits(self, code: str, low: int, high: int, limit: int | None) -> Iterator[Visit]:
        from django.db.models import Q

        from .models import Visit as VisitRow

        def fetch(after: tuple[int, int], size: int) -> list[Any]:
            with self._errors("read visits"):
                return list(
                    VisitRow.objects.using(self.alias)
                    .filter(link_id=code, at_us__gte=low, at_us__lt=high)
                    .filter(Q(at_us__gt=after[0]) | Q(at_us=after[0], id__gt=after[1]))
                    .order_by("at_us", "id")[:size]
                )

        for row in visit_pages(fetch, lambda row: (row.at_us, row.id), limit):
            yield _to_visit(row)

    def check(self) -> None:
        """Raise ``BackendUnavailable`` if the database or the app's tables cannot be read."""
        try:
            with self._errors("be reached"):
                self._links().exists()
        except BackendUnavailable:
            raise
        except BackendError as exc:
            raise BackendUnavailable(
                f"{exc} (did you run manage.py migrate suolink?)", original=exc.original
            ) from exc

    def close(self) -> None:
        """Stop using the store; this thread's connection is closed unless in a transaction."""
        from django.db import connections

        self._closed = True
        connection = connections[self.alias]
        if not connection.in_atomic_block:
            connection.close()
