"""``memory://``: links kept in this process only, for tests, demos and one-worker apps.

Thread-safe: one lock guards every write and every read of more than one dict entry, so
each method is atomic exactly as the ``Storage`` contract asks. Nothing is shared between
processes or survives a restart.

A redirect only appends its visit (a compact record) to a pending list; visits are put in
order and added to the daily counts when they are next read (``visits``, ``counts``), so
the redirect path does the least it can. The Shortener's hot path (:mod:`suolink.hotpath`)
appends to that list itself, under the store's lock (:meth:`MemoryStorage.hot_parts`), a
compact :data:`HotVisit` (five references, the time an integer) made into a
:class:`~suolink.models.Visit` when folded.
"""

from __future__ import annotations

import builtins
import threading
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..domains import Domain
from ..errors import (
    BackendUnavailable,
    CodeTaken,
    ConfigurationError,
    DomainNotFound,
    DomainTaken,
    LinkNotFound,
)
from ..geoip import Place
from ..models import Conversion, Link, LinkPage, Visit, VisitRecord, VisitResult
from ..outbox import MemoryOutbox
from ..people import PeopleTally
from ._common import (
    check_list_args,
    check_read_args,
    encode_cursor,
    link_key,
    normalise_changes,
    normalise_conversion,
    normalise_link,
    normalise_visit,
    to_micros,
    visit_dimensions,
    visitor_key,
)
from .base import DEFAULT_PAGE_SIZE, TOP, PeopleTotals, PersonRow, StatsCounts, When

__all__ = [
    "EPOCH",
    "ClientPart",
    "HotParts",
    "HotVisit",
    "MemoryStorage",
    "VisitorPart",
    "at_nanos",
    "hot_record",
    "moment",
]

_Key = tuple[int, str]

#: The Unix epoch in UTC: a :data:`HotVisit`'s time counts nanoseconds from it.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

VisitorPart = tuple[str | None, str, str | None, str, str]
"""What a visit keeps of the request (the same for every visit of that request): the
storable address (or None), the storable user agent, the referer's host, the language and
the keyed visitor id."""

ClientPart = tuple[str | None, str, str, bool, str | None, str]
"""What a visit keeps of the detected client and the answer (the same for every planned
redirect of that kind of client on that link): app, OS, device, bot or not, browser,
outcome."""

HotVisit = tuple[str, "int | datetime", VisitorPart, ClientPart, "Place | None"]
"""A visit as the hot path (:mod:`suolink.hotpath`) appends it: code, time, two shared
parts and the place (None: unknown). Five references, not the eighteen fields of a
:data:`~suolink.models.VisitRecord` (:func:`hot_record` makes that when visits are read).
The time is whole nanoseconds since :data:`EPOCH` (``time.time_ns()``: reading the clock
as an integer costs a third of ``datetime.now(UTC)``), or a host clock's ``datetime``."""


def at_nanos(nanos: int) -> datetime:
    """The UTC moment ``nanos`` nanoseconds after the epoch, to the microsecond below
    (what ``datetime.now(UTC)`` says at that instant)."""
    return EPOCH + timedelta(microseconds=nanos // 1000)


def moment(at: int | datetime) -> datetime:
    """A :data:`HotVisit`'s time as a ``datetime``."""
    return at_nanos(at) if isinstance(at, int) else at


def hot_record(visit: HotVisit) -> VisitRecord:
    """The :data:`~suolink.models.VisitRecord` of a :data:`HotVisit`."""
    code, at, who, what, place = visit
    ip, user_agent, referer, language, visitor_id = who
    app, os_name, device, is_bot, browser, outcome = what
    return (
        code,
        moment(at),
        ip,
        user_agent,
        referer,
        app,
        os_name,
        device,
        is_bot,
        language,
        visitor_id,
        browser,
        outcome,
        None if place is None else place.country,
        None if place is None else place.region,
        None if place is None else place.city,
        None,
        None,
    )


class HotParts(NamedTuple):
    """What :mod:`suolink.hotpath` appends a visit with, in place of
    :meth:`MemoryStorage.append_visit` (one call and five attribute reads fewer):

    ``with lock:`` check ``links.get(code) is link`` (the planned object is still the
    stored link: not changed, deleted or closed meanwhile), add one to ``counts[code]`` if
    the visit counts, ``pending.append(record)``. Each object lives as long as the store
    (emptied, never replaced)."""

    lock: threading.Lock
    links: dict[str, Link]
    counts: dict[str, int]
    pending: list[Visit | VisitRecord | HotVisit]


@dataclass
class _Day:
    """One link's counts on one UTC day."""

    total: int = 0
    dims: Counter[tuple[str, str]] = field(default_factory=Counter)
    visitors: Counter[str] = field(default_factory=Counter)


class MemoryStorage(MemoryOutbox):
    """A ``Storage`` held in dicts behind one lock; ``MemoryStorage("memory://")``.

    The webhook outbox (``KeepsOutbox``) lives in this process too: lost on exit.
    """

    def __init__(self, url: str = "memory://") -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "memory":
            raise ConfigurationError(f"not a memory:// URL: {url!r}")
        if parts.query:
            raise ConfigurationError("memory:// takes no options")
        MemoryOutbox.__init__(self)
        self.url = "memory://"
        self._lock = threading.Lock()
        self._closed = False
        self._links: dict[str, Link] = {}  # stored with visits=0; counts live apart
        self._counts: dict[str, int] = {}
        self._order: list[_Key] = []  # every link's key, ascending
        self._by_tag: dict[str, list[_Key]] = {}  # tag -> keys, ascending
        self._visits: dict[str, list[tuple[int, int, Visit]]] = {}  # (at_us, seq, visit)
        self._visit_seq = 0
        # recorded, not yet in _visits/_days; one list for the store's life (HotParts)
        self._pending: list[Visit | VisitRecord | HotVisit] = []
        self._counter = 0
        self._tombstones: set[str] = set()  # codes deleted for good
        self._days: dict[str, dict[date, _Day]] = {}  # code -> UTC day -> counts
        self._visitors: dict[str, Counter[str]] = {}  # code -> people's visits by visitor
        self._people = PeopleTally()  # people across links (TracksPeople), folded with visits
        self._domains: dict[str, Domain] = {}  # name -> domain (KeepsDomains)
        # code -> (click id, kind) -> conversion, in the order they were recorded
        self._conversions: dict[str, dict[tuple[str, str], Conversion]] = {}

    def __repr__(self) -> str:
        return f"MemoryStorage({self.url!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise BackendUnavailable("the memory:// storage is closed")

    def _index(self, key: _Key, tags: tuple[str, ...]) -> None:
        insort(self._order, key)
        for tag in set(tags):
            insort(self._by_tag.setdefault(tag, []), key)

    def _unindex(self, key: _Key, tags: tuple[str, ...]) -> None:
        _remove(self._order, key)
        for tag in set(tags):
            keys = self._by_tag[tag]
            _remove(keys, key)
            if not keys:
                del self._by_tag[tag]

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free (no link, no tombstone); else ``CodeTaken``."""
        stored = normalise_link(link)
        with self._lock:
            self._check_open()
            if stored.code in self._links or stored.code in self._tombstones:
                raise CodeTaken(stored.code)
            self._links[stored.code] = stored
            self._counts[stored.code] = 0
            self._index(link_key(stored), stored.tags)
            self._people.add_link(stored)
        return stored

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None."""
        with self._lock:
            self._check_open()
            link = self._links.get(code) if isinstance(code, str) else None
            if link is None:
                return None
            return replace(link, visits=self._counts[code])

    @property
    def link_map(self) -> Mapping[str, Link]:
        """The stored links by code, read-only and live (what :meth:`peek` reads, minus
        the closed check): one dict for the store's life, so the Shortener's hot path
        (:mod:`suolink.hotpath`) reads it directly. Appending a visit checks the store is
        open."""
        return self._links

    def hot_parts(self) -> HotParts:
        """The lock, links, counts and pending visits, for the Shortener's hot path to
        append a planned redirect's visit inline (see :class:`HotParts`)."""
        return HotParts(self._lock, self._links, self._counts, self._pending)

    def peek(self, code: str) -> Link | None:
        """The stored link itself (``visits`` left at 0), the same object until it changes.

        One dict read, atomic without the lock; for the Shortener's redirect path.
        """
        if self._closed:
            raise BackendUnavailable("the memory:// storage is closed")
        return self._links.get(code) if type(code) is str else None

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` atomically and return the result; ``LinkNotFound`` if absent."""
        checked = normalise_changes(changes)
        with self._lock:
            self._check_open()
            old = self._links.get(code) if isinstance(code, str) else None
            if old is None:
                raise LinkNotFound(str(code))
            new = replace(old, **checked)
            if new.tags != old.tags:
                key = link_key(old)
                self._unindex(key, old.tags)
                self._index(key, new.tags)
            self._links[code] = new
            return replace(new, visits=self._counts[code])

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link and its visits, leaving a ``tombstone``; True if it existed."""
        with self._lock:
            self._check_open()
            self._fold()  # its pending visits go with it, not to a later link of that code
            link = self._links.pop(code, None) if isinstance(code, str) else None
            if link is None:
                return False
            del self._counts[code]
            self._visits.pop(code, None)
            if tombstone:
                self._tombstones.add(code)
            self._days.pop(code, None)
            self._visitors.pop(code, None)
            self._conversions.pop(code, None)
            self._unindex(link_key(link), link.tags)
            return True

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given."""
        after = check_list_args(cursor, limit, tag)
        with self._lock:
            self._check_open()
            keys = self._order if tag is None else self._by_tag.get(tag, [])
            end = len(keys) if after is None else bisect_left(keys, after)
            start = max(0, end - limit)
            chosen = keys[start:end][::-1]
            links = tuple(
                replace(self._links[code], visits=self._counts[code]) for _, code in chosen
            )
        next_cursor = encode_cursor(chosen[-1]) if start > 0 and chosen else None
        return LinkPage(links=links, next_cursor=next_cursor)

    def next_id(self) -> int:
        """A number never handed out before by this store (starts at 1)."""
        with self._lock:
            self._check_open()
            self._counter += 1
            return self._counter

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Record ``visit`` and bump the count unless ``max_visits`` is reached, atomically."""
        visit = normalise_visit(visit)
        code = visit.code
        with self._lock:
            self._check_open()
            link = self._links.get(code)
            if link is None:
                raise LinkNotFound(code)
            visits = self._counts[code]
            if count:
                if link.max_visits is not None and visits >= link.max_visits:
                    return VisitResult(allowed=False, visits=visits)
                visits += 1
                self._counts[code] = visits
            self._pending.append(visit)
            return VisitResult(allowed=True, visits=visits)

    def append_visit(self, record: VisitRecord, *, count: bool = True) -> bool | None:
        """Record a visit suolink built itself, unchecked; False if ``max_visits`` refused it.

        None (nothing recorded) if the link is gone. The record is folded into the ordered
        visits and the daily counts when they are next read.
        """
        code = record[0]
        with self._lock:
            if self._closed:
                raise BackendUnavailable("the memory:// storage is closed")
            link = self._links.get(code)
            if link is None:
                return None
            if count:
                visits = self._counts[code]
                if link.max_visits is not None and visits >= link.max_visits:
                    return False
                self._counts[code] = visits + 1
            self._pending.append(record)
            return True

    def _fold(self) -> None:
        """Put the pending visits in order and into the daily counts (under the lock)."""
        if not self._pending:
            return
        pending = self._pending.copy()
        self._pending.clear()  # the same list: the hot path holds it
        for item in pending:
            if isinstance(item, Visit):
                visit = item
            elif len(item) == 5:
                visit = Visit.from_record(hot_record(item))
            else:
                visit = Visit.from_record(item)
            self._visit_seq += 1
            entry = (to_micros(visit.at), self._visit_seq, visit)
            entries = self._visits.setdefault(visit.code, [])
            if not entries or entries[-1] < entry:
                entries.append(entry)
            else:
                insort(entries, entry)
            self._count(visit)

    def _count(self, visit: Visit) -> None:
        """Add ``visit`` to its day's counts (under the lock)."""
        day = self._days.setdefault(visit.code, {}).setdefault(
            visit.at.astimezone(UTC).date(), _Day()
        )
        day.total += 1
        day.dims.update(visit_dimensions(visit))
        who = None if visit.is_bot else visitor_key(visit)
        if who:
            day.visitors[who] += 1
            self._visitors.setdefault(visit.code, Counter())[who] += 1
        link = self._links.get(visit.code)
        if link is not None and (link.campaign is not None or link.recipient is not None):
            self._people.add(visit, link.campaign, link.recipient)

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        """The counts kept by :meth:`record_visit`, summed over ``[since, until)`` UTC days."""
        with self._lock:
            self._check_open()
            self._fold()
            days = dict(self._days.get(code, {})) if isinstance(code, str) else {}
            everyone = Counter(self._visitors.get(code, ())) if isinstance(code, str) else None
        by_day: dict[str, int] = {}
        dims: dict[str, dict[str, int]] = {}
        visitors: Counter[str] = Counter()
        windowed = since is not None or until is not None
        for day, kept in days.items():
            if (since is not None and day < since) or (until is not None and day >= until):
                continue
            by_day[day.isoformat()] = kept.total
            for (dim, value), n in kept.dims.items():
                bucket = dims.setdefault(dim, {})
                bucket[value] = bucket.get(value, 0) + n
            if windowed:
                visitors.update(kept.visitors)
        if not windowed and everyone is not None:
            visitors = everyone
        top = sorted(visitors.items(), key=lambda item: (-item[1], item[0]))[:TOP]
        return StatsCounts(
            by_day=by_day, dimensions=dims, unique_visitors=len(visitors), top_visitors=top
        )

    def visits(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``."""
        low, high = check_read_args(since, until, limit)
        with self._lock:
            self._check_open()
            self._fold()
            recorded = list(self._visits.get(code, ())) if isinstance(code, str) else []
        start = 0 if low is None else bisect_left(recorded, (low,))
        end = len(recorded) if high is None else bisect_left(recorded, (high,))
        if limit is not None:
            end = min(end, start + limit)
        return iter([visit for _, _, visit in recorded[start:end]])

    # -- people across links (TracksPeople) ------------------------------------------

    def top_visitors(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> builtins.list[PersonRow]:
        """Visitors of the campaign's links, most clicks first."""
        with self._lock:
            self._check_open()
            self._fold()
            return self._people.top_visitors(campaign, limit=limit, min_clicks=min_clicks)

    def top_recipients(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> builtins.list[PersonRow]:
        """Recipients of the campaign's links, most clicks first."""
        with self._lock:
            self._check_open()
            self._fold()
            return self._people.top_recipients(campaign, limit=limit, min_clicks=min_clicks)

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients, their clicks and summed reach."""
        with self._lock:
            self._check_open()
            self._fold()
            return self._people.people_totals(campaign)

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        with self._lock:
            self._check_open()
            self._fold()
            return self._people.campaigns()

    def forget_visitor(self, visitor: str) -> bool:
        """Drop the visitor's people rows and their id from raw visits and link counts."""
        with self._lock:
            self._check_open()
            self._fold()
            found = self._people.forget_visitor(visitor)
            for code, entries in self._visits.items():
                for index, (at_us, seq, visit) in enumerate(entries):
                    if visit.visitor_id == visitor:
                        entries[index] = (at_us, seq, replace(visit, visitor_id=None))
                        found = True
                counted = self._visitors.get(code)
                if counted is not None and counted.pop(visitor, None) is not None:
                    found = True
                for day in self._days.get(code, {}).values():
                    day.visitors.pop(visitor, None)
            return found

    def forget_recipient(self, recipient: str) -> bool:
        """Drop the recipient's people rows and clear ``recipient`` on their links."""
        with self._lock:
            self._check_open()
            self._fold()
            found = self._people.forget_recipient(recipient)
            for code, link in list(self._links.items()):
                if link.recipient == recipient:
                    self._links[code] = replace(link, recipient=None)
                    found = True
            return found

    # -- KeepsDomains ----------------------------------------------------------------------

    def add_domain(self, domain: Domain) -> Domain:
        """Store ``domain`` if its name is free; ``DomainTaken`` if not."""
        with self._lock:
            self._check_open()
            if domain.name in self._domains:
                raise DomainTaken(domain.name)
            self._domains[domain.name] = domain
            return domain

    def list_domains(self) -> builtins.list[Domain]:
        """Every domain, oldest first."""
        with self._lock:
            self._check_open()
            return sorted(self._domains.values(), key=lambda d: (d.added_at, d.name))

    def change_domain(self, name: str, change: Callable[[Domain], Domain]) -> tuple[Domain, Domain]:
        """Apply ``change`` to the stored domain under the lock; ``(before, after)``."""
        with self._lock:
            self._check_open()
            before = self._domains.get(name)
            if before is None:
                raise DomainNotFound(name)
            after = replace(change(before), name=before.name)
            self._domains[name] = after
            return before, after

    def remove_domain(self, name: str) -> bool:
        """Forget the domain; True if it existed."""
        with self._lock:
            self._check_open()
            return self._domains.pop(name, None) is not None

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        """Store ``conversion`` unless its (click id, kind) is stored; ``(stored, new)``."""
        conversion = normalise_conversion(conversion)
        key = (conversion.click_id, conversion.kind)
        with self._lock:
            self._check_open()
            if conversion.code not in self._links:
                raise LinkNotFound(conversion.code)
            kept = self._conversions.setdefault(conversion.code, {})
            if key in kept:
                return kept[key], False
            kept[key] = conversion
            return conversion, True

    def conversions(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Conversion]:
        """A link's conversions, oldest first, within ``[since, until)``."""
        low, high = check_read_args(since, until, limit)
        with self._lock:
            self._check_open()
            kept = list(self._conversions.get(code, {}).values()) if isinstance(code, str) else []
        chosen = [
            c
            for c in sorted(kept, key=lambda c: to_micros(c.at))
            if (low is None or to_micros(c.at) >= low) and (high is None or to_micros(c.at) < high)
        ]
        return iter(chosen if limit is None else chosen[:limit])

    def check(self) -> None:
        """Raise ``BackendUnavailable`` once the storage is closed; memory is otherwise up."""
        with self._lock:
            self._check_open()

    def close(self) -> None:
        """Drop everything; later calls raise ``BackendUnavailable``."""
        with self._lock:
            self._closed = True
            self._links.clear()
            self._counts.clear()
            self._order.clear()
            self._by_tag.clear()
            self._visits.clear()
            self._pending.clear()
            self._tombstones.clear()
            self._days.clear()
            self._visitors.clear()
            self._people = PeopleTally()
            self._domains.clear()
            self._conversions.clear()


def _remove(keys: list[_Key], key: _Key) -> None:
    index = bisect_left(keys, key)
    if index < len(keys) and keys[index] == key:
        del keys[index]
