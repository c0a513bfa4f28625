"""The storage contract every backend fulfils, checked by ``tests/backends/``.

A backend keeps links, an id counter and visits. Every method that changes data is
atomic on its own: there is no "check, then write" anywhere above this line, so two
processes can never hand out one code twice or count one visit twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from ..domains import Domain
from ..models import Conversion, Link, LinkPage, Visit, VisitRecord, VisitResult
from ..outbox import Delivery, Endpoint, Message

__all__ = [
    "CAPABILITIES",
    "DEFAULT_PAGE_SIZE",
    "DIMENSIONS",
    "MAX_PAGE_SIZE",
    "TOP",
    "HoldsLinksInProcess",
    "KeepsAggregates",
    "KeepsDomains",
    "KeepsOutbox",
    "PeopleTotals",
    "PersonRow",
    "RecordsConversions",
    "RecordsInOneTrip",
    "RestoresInBatches",
    "SharesRateLimits",
    "StatsCounts",
    "Storage",
    "TracksPeople",
    "When",
]

#: A moment bounding a window of visits, or None for no bound.
When = datetime | None

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@runtime_checkable
class Storage(Protocol):
    """What suolink needs from a store of links; see each method for its guarantee."""

    #: The URL the backend was opened with, passwords removed.
    url: str

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free, atomically; raise ``CodeTaken`` if not.

        A code is taken while a link holds it and, once deleted, while its tombstone
        stays (see :meth:`delete`). Returns the stored link (``visits`` is always 0).
        """
        ...

    def get(self, code: str) -> Link | None:
        """The link with this exact code, or None."""
        ...

    def update(self, code: str, changes: Mapping[str, Any]) -> Link:
        """Apply ``changes`` (only ``Link.UPDATABLE`` fields) atomically; return the result.

        Raises ``LinkNotFound`` if there is no such link. The visit count is untouched.
        """
        ...

    def delete(self, code: str, *, tombstone: bool = True) -> bool:
        """Remove the link and its visits atomically; True if it existed.

        With ``tombstone`` the code is retired in the same step: ``create`` refuses it
        from then on, so old posters never lead to someone else's target. Without, the
        code is free again at once.
        """
        ...

    def list(
        self, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, tag: str | None = None
    ) -> LinkPage:
        """Links newest first, ``limit`` at a time, only those tagged ``tag`` if given.

        ``cursor`` is the opaque ``next_cursor`` of the previous page; a malformed cursor
        raises ``InvalidOption``. Links created while paging never make a page repeat one.
        """
        ...

    def next_id(self) -> int:
        """A number never handed out before by this store (atomic, starts at 1)."""
        ...

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Record ``visit`` on ``visit.code`` and bump the count, atomically.

        If the link has ``max_visits`` and already reached it, nothing is recorded and
        the result is ``allowed=False``. With ``count=False`` (bots, previews) the visit
        is recorded but neither counted nor limited. Raises ``LinkNotFound``.
        """
        ...

    def visits(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Visit]:
        """Recorded visits of one link, oldest first, within ``[since, until)``."""
        ...

    def check(self) -> None:
        """Raise ``BackendUnavailable`` if the store cannot be used right now."""
        ...

    def close(self) -> None:
        """Release connections; the object is not used afterwards."""
        ...


# -- optional capabilities ------------------------------------------------------------
# A backend claims one by having its methods; callers check with ``isinstance`` (never a
# ``getattr`` probe), and the contract suite runs each capability's tests on every
# backend in its table that claims it.


@runtime_checkable
class RecordsInOneTrip(Protocol):
    """A backend that can read a link and record a redirect in one round trip (Redis)."""

    def get_and_record(
        self, visit: Visit, *, count: bool = True
    ) -> tuple[Link | None, VisitResult | None]:
        """Read ``visit.code`` and record ``visit`` if no link setting could refuse it.

        Three answers: ``(None, None)``: there is no such link, nothing recorded.
        ``(link, None)``: a setting could refuse this visitor (disabled, expired at
        ``visit.at``, password, allow/deny lists, anti-block apps), nothing recorded: the
        caller decides with the policy, then calls ``record_visit``. ``(link, result)``:
        recorded exactly as ``record_visit(visit, count=count)`` would have, and
        ``link.visits`` is the count after it.
        """
        ...


@runtime_checkable
class HoldsLinksInProcess(Protocol):
    """A backend that hands out a link as one object until the link changes, read in this
    process without a network trip: ``memory://`` (its links live here), ``sqlite://``
    (a cache that only link changes, from any process, empty), ``redis://`` and
    ``postgresql://`` (links it read, each checked against its version by the script or
    statement that appends the visit: a link changed elsewhere records nothing,
    ``append_visit`` says None). The Shortener may keep work
    done for a link (rulings, redirects) for as long as :meth:`peek` returns that same
    object, and the ASGI app resolves such links on its event loop.
    """

    def peek(self, code: str) -> Link | None:
        """The stored link, the same object until it (or, for a cache, any link) is
        changed, by any writer; None if there is none. Its ``visits`` is not kept
        current: read counts with ``get``."""
        ...

    def append_visit(self, record: VisitRecord, *, count: bool = True) -> bool | None:
        """``record_visit`` for a visit suolink built itself (every text storable, an aware
        time): nothing is checked again. True if recorded, False if ``max_visits`` refused
        it, None if there is no such link (nothing recorded)."""
        ...


#: The counted dimensions of a visit (see :func:`suolink.stats.visit_dimensions`).
DIMENSIONS = (
    *("outcome", "bot", "app", "os", "device", "browser", "referer", "country", "arm"),
    "domain",
)
#: How many entries the top-visitors and top-referers lists hold.
TOP = 10


@dataclass(frozen=True, slots=True)
class StatsCounts:
    """A link's visits counted at write time, summed over a window of whole UTC days.

    ``by_day`` maps ISO dates to all visits that day; ``dimensions`` maps each name of
    :data:`DIMENSIONS` to ``{value: visits}``; visitors are people's ``visitor_id`` (or
    IP), with ``top_visitors`` the :data:`TOP` largest, ties by value.
    """

    by_day: dict[str, int] = field(default_factory=dict)
    dimensions: dict[str, dict[str, int]] = field(default_factory=dict)
    unique_visitors: int = 0
    top_visitors: list[tuple[str, int]] = field(default_factory=list)


@runtime_checkable
class KeepsAggregates(Protocol):
    """A backend that counts visits by day and dimension as it records them.

    Stats then cost the number of distinct (day, value) pairs, not the number of
    visits, and survive raw visits being dropped for retention.
    """

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts | None:
        """The counts of ``code`` over the UTC days ``[since, until)`` (None: unbounded).

        Exactly what folding the raw visits of those days would give; an unknown code
        gives empty counts. None if this link's counts are incomplete (visits recorded
        before the backend kept them): the caller folds the raw visits instead.
        """
        ...


@runtime_checkable
class SharesRateLimits(Protocol):
    """A backend whose server can also hold the ``limits`` library's rate-limit counters.

    Rate limits then hold across every worker process sharing the store; backends that
    do not claim this get per-process counters (``memory://`` in ``limits``).
    """

    @property
    def rate_limit_url(self) -> str:
        """The ``limits`` storage URL (with credentials) reaching the same server."""
        ...


@runtime_checkable
class RestoresInBatches(Protocol):
    """A backend that can restore many archived links in one transaction (imports).

    Each link is created with its visits as ``create`` and ``record_visit`` would have
    (redirects counted, up to ``max_visits``), all or nothing per link: a taken code
    undoes only that link. One commit for the batch instead of one per write.
    """

    def restore_many(self, items: Sequence[tuple[Link, Sequence[Visit]]]) -> list[bool]:
        """Store each ``(link, visits)``; per item, True if made, False if its code is taken.

        Links and visits are checked first (``InvalidOption`` naming the bad one, nothing
        stored).
        """
        ...


@runtime_checkable
class KeepsOutbox(Protocol):
    """A backend that keeps the webhook outbox: endpoints, waiting messages, the delivery
    log (see :mod:`suolink.outbox` for the rules: per-endpoint order, leases, settling).

    Durable where the store is (SQLite, Redis, SQL, Django); ``memory://`` keeps it in
    this process only.
    """

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Store ``endpoint`` (a new id)."""
        ...

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        ...

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its waiting and dead messages; True if it existed."""
        ...

    def enqueue(self, messages: Sequence[Message]) -> None:
        """Append messages to their endpoints' lines, in order, atomically (all or none).

        A message for an endpoint that no longer exists is dropped."""
        ...

    def claim(self, worker: str, *, now: datetime, lease: float, limit: int = 100) -> list[Message]:
        """Lease up to ``limit`` endpoint heads due at ``now`` to ``worker`` for ``lease`` s.

        A head leased to anyone until after ``now`` is not claimed; its endpoint waits."""
        ...

    def settle(self, worker: str, delivery: Delivery, *, retry_at: datetime | None = None) -> bool:
        """Log ``delivery`` and settle its message if ``worker`` still holds the head:
        delivered or dead, it leaves the line (dead: kept among :meth:`dead_letters`);
        failed, it waits until ``retry_at`` with ``attempts = delivery.attempt``.
        False (nothing changed) if the message is not the head leased to ``worker``."""
        ...

    def deliveries(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        ...

    def dead_letters(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Message]:
        """Dead-lettered messages, newest first."""
        ...

    def pending(self, endpoint_id: str | None = None) -> int:
        """How many messages wait (in one endpoint's line, or in all)."""
        ...

    def prune_deliveries(self, before: datetime) -> int:
        """Forget log rows and dead messages older than ``before``; how many."""


# -- people across links (docs/people.md) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One visitor or recipient in a campaign (or across every campaign, ``campaign=None``).

    ``clicks`` counts redirects of people (no bots, no guide views) on the links: a
    visitor's clicks are theirs, a recipient's are those on the links made for them.
    ``links`` is how many distinct links had those clicks. For recipients, ``visitor`` is
    their own visitor id (the first visitor of their links) and ``reach`` the number of
    other distinct visitors on their links (the 裂变 count); for visitors both stay empty.
    A recipient whose links nobody opened yet has ``clicks=0`` and no times.
    """

    id: str
    clicks: int
    links: int
    first_seen: datetime | None
    last_seen: datetime | None
    reach: int = 0
    visitor: str | None = None


@dataclass(frozen=True, slots=True)
class PeopleTotals:
    """A campaign's recipients (links made for someone), their clicks and summed reach."""

    recipients: int = 0
    clicks: int = 0
    reach: int = 0

    @property
    def average_reach(self) -> float:
        """The 裂变系数: new people each recipient brought, on average (0 without any)."""
        return self.reach / self.recipients if self.recipients else 0.0


@runtime_checkable
class TracksPeople(Protocol):
    """A backend that counts people across links as it records visits.

    On every link with a ``campaign`` or a ``recipient``, a person's redirect (not a bot,
    not a guide view, with a ``visitor_id``) updates, in the visit's own write, a row per
    (campaign, visitor) and, for recipients' links, per (campaign, recipient), each also
    under the scope "every campaign" (``campaign=None``). Queries read those rows only:
    their cost grows with the people of a campaign, never with its visits.
    """

    def top_visitors(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        """Visitors with at least ``min_clicks``, most clicks first (ties by id)."""
        ...

    def top_recipients(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        """Recipients with at least ``min_clicks``, most clicks first (ties by id); those
        with no click yet are listed too when ``min_clicks`` is 0."""
        ...

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        """The campaign's recipients, clicks on their links and summed reach."""
        ...

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, and its totals."""
        ...

    def forget_visitor(self, visitor: str) -> bool:
        """Delete what is kept about one visitor: their rows, their place in recipients'
        reach (which drops by one) and, where the backend can find them (memory, SQL),
        their id on raw visits and per-link counts. True if anything was known."""
        ...

    def forget_recipient(self, recipient: str) -> bool:
        """Delete what is kept about one recipient: their rows, and the ``recipient`` of
        their links (which stay, as anyone's links). True if anything was known."""


@runtime_checkable
class KeepsDomains(Protocol):
    """A backend that stores short domains (:class:`~suolink.domains.Domain`): names,
    pools and per-platform states, shared by every process using the store.

    Each method is atomic; a domain is one record keyed by its name, listed in the order
    added.
    """

    def add_domain(self, domain: Domain) -> Domain:
        """Store ``domain`` if its name is free; raise ``DomainTaken`` if not."""
        ...

    def list_domains(self) -> list[Domain]:
        """Every domain, oldest first (by ``added_at``, then name)."""
        ...

    def change_domain(self, name: str, change: Callable[[Domain], Domain]) -> tuple[Domain, Domain]:
        """Apply ``change`` (pure; it may run more than once) to the stored domain and
        store the result, atomically; ``(before, after)``. ``DomainNotFound`` if there is
        no such domain. The name never changes."""
        ...

    def remove_domain(self, name: str) -> bool:
        """Forget the domain; True if it existed."""


@runtime_checkable
class RecordsConversions(Protocol):
    """A backend that keeps conversions (leads, sales, …) reported on a link's clicks.

    Conversions belong to their link: ``delete`` removes them with its visits. A
    conversion names its link's code, so funnels by a link's recipient or campaign are
    the per-link funnels of those links added up.
    """

    def record_conversion(self, conversion: Conversion) -> tuple[Conversion, bool]:
        """Store ``conversion`` unless its link has one with its (``click_id``, ``kind``),
        atomically (the store's unique key decides, never a read before the write). A
        click id names its link, so this is one conversion per click id and kind.

        Returns the stored conversion and True if it is new; the one stored first and
        False if not. Raises ``LinkNotFound`` if ``conversion.code`` has no link.
        """
        ...

    def conversions(
        self, code: str, *, since: When = None, until: When = None, limit: int | None = None
    ) -> Iterator[Conversion]:
        """A link's conversions, oldest first (by ``at``), within ``[since, until)``."""
        ...


#: Every optional capability by name, for the contract table and documentation.
CAPABILITIES: dict[str, type] = {
    "holds_links_in_process": HoldsLinksInProcess,
    "keeps_aggregates": KeepsAggregates,
    "keeps_outbox": KeepsOutbox,
    "keeps_domains": KeepsDomains,
    "records_conversions": RecordsConversions,
    "records_in_one_trip": RecordsInOneTrip,
    "restores_in_batches": RestoresInBatches,
    "shares_rate_limits": SharesRateLimits,
    "tracks_people": TracksPeople,
}
