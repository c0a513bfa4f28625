"""Click statistics: counts by platform, app, OS, device and day, and the top visitors.

Two ways to the same :class:`LinkStats`: folding raw visits (:func:`aggregate`), or,
on a backend that :class:`~suolink.backends.base.KeepsAggregates`, from the counts it
kept at write time (:func:`from_counts`), which costs the same at a million visits as
at ten. :func:`link_stats` picks one. Both rank ties by value, so they agree exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from .backends._common import check_window, visit_dimensions, visitor_key
from .backends.base import TOP, KeepsAggregates, StatsCounts, Storage
from .conversions import Funnel
from .models import Visit

__all__ = [
    "LinkStats",
    "aggregate",
    "day_window",
    "from_counts",
    "link_stats",
    "ranked",
    "visit_dimensions",
    "visitor_key",
]

_TOP = TOP


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Aggregated visits of one link; bots are counted apart from people."""

    code: str
    total: int = 0
    humans: int = 0
    bots: int = 0
    unique_visitors: int = 0
    by_app: dict[str, int] = field(default_factory=dict)
    by_os: dict[str, int] = field(default_factory=dict)
    by_device: dict[str, int] = field(default_factory=dict)
    by_day: dict[str, int] = field(default_factory=dict)
    by_bot: dict[str, int] = field(default_factory=dict)
    by_browser: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    top_visitors: list[tuple[str, int]] = field(default_factory=list)
    top_referers: list[tuple[str, int]] = field(default_factory=list)
    #: People by country (GeoIP; visits without a country are left out).
    by_country: dict[str, int] = field(default_factory=dict)
    #: People by weighted-split arm (redirects a split sent on; others are left out).
    by_arm: dict[str, int] = field(default_factory=dict)
    #: People by the short domain they came in on (visits before domains are left out).
    by_domain: dict[str, int] = field(default_factory=dict)
    #: Clicks → leads → sales, on a backend that ``RecordsConversions`` (else None).
    funnel: Funnel | None = None

    @property
    def redirects(self) -> int:
        """People sent on to the target (what ``max_visits`` counts)."""
        return self.by_outcome.get("redirect", 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "total": self.total,
            "humans": self.humans,
            "bots": self.bots,
            "unique_visitors": self.unique_visitors,
            "by_app": self.by_app,
            "by_os": self.by_os,
            "by_device": self.by_device,
            "by_day": self.by_day,
            "by_bot": self.by_bot,
            "by_browser": self.by_browser,
            "by_outcome": self.by_outcome,
            "redirects": self.redirects,
            "top_visitors": [{"visitor": who, "visits": n} for who, n in self.top_visitors],
            "top_referers": [{"referer": r, "visits": n} for r, n in self.top_referers],
            "by_country": self.by_country,
            "by_arm": self.by_arm,
            "by_domain": self.by_domain,
            "funnel": None if self.funnel is None else self.funnel.to_dict(),
        }


def aggregate(code: str, visits: Iterable[Visit], *, tz: tzinfo | None = None) -> LinkStats:
    """Fold ``visits`` into a :class:`LinkStats`; days are counted in ``tz`` (default UTC).

    People and bots are counted apart: app, OS, device, browser, referer and visitor
    counts are of people only. A visitor is its ``visitor_id`` (or IP, for old records).
    """
    total = bots = 0
    apps: Counter[str] = Counter()
    systems: Counter[str] = Counter()
    devices: Counter[str] = Counter()
    days: Counter[str] = Counter()
    bot_names: Counter[str] = Counter()
    visitors: Counter[str] = Counter()
    referers: Counter[str] = Counter()
    browsers: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    arms: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    for visit in visits:
        total += 1
        day = visit.at.astimezone(tz or UTC).date().isoformat()
        days[day] += 1
        outcomes[visit.outcome] += 1
        if visit.is_bot:
            bots += 1
            bot_names[visit.app or "unknown"] += 1
            continue
        apps[visit.app or "browser"] += 1
        systems[visit.os or "other"] += 1
        devices[visit.device or "other"] += 1
        browsers[visit.browser or "other"] += 1
        who = visitor_key(visit)
        if who:
            visitors[who] += 1
        if visit.referer:
            referers[visit.referer] += 1
        if visit.country:
            countries[visit.country] += 1
        if visit.arm:
            arms[visit.arm] += 1
        if visit.domain:
            domains[visit.domain] += 1
    return LinkStats(
        code=code,
        total=total,
        humans=total - bots,
        bots=bots,
        unique_visitors=len(visitors),
        by_app=dict(ranked(apps)),
        by_os=dict(ranked(systems)),
        by_device=dict(ranked(devices)),
        by_day=dict(sorted(days.items())),
        by_bot=dict(ranked(bot_names)),
        by_browser=dict(ranked(browsers)),
        by_outcome=dict(ranked(outcomes)),
        top_visitors=ranked(visitors, _TOP),
        top_referers=ranked(referers, _TOP),
        by_country=dict(ranked(countries)),
        by_arm=dict(ranked(arms)),
        by_domain=dict(ranked(domains)),
    )


def ranked(counts: Mapping[str, int], top: int | None = None) -> list[tuple[str, int]]:
    """``counts`` largest first, ties by value (code point order), ``top`` at most.

    A total order, so stats folded from raw visits and from kept counts list alike.
    """
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return items if top is None else items[:top]


def from_counts(code: str, counts: StatsCounts) -> LinkStats:
    """The :class:`LinkStats` of counts a backend kept (see ``KeepsAggregates``)."""
    dims = counts.dimensions
    total = sum(counts.by_day.values())
    bots = sum(dims.get("bot", {}).values())
    return LinkStats(
        code=code,
        total=total,
        humans=total - bots,
        bots=bots,
        unique_visitors=counts.unique_visitors,
        by_app=dict(ranked(dims.get("app", {}))),
        by_os=dict(ranked(dims.get("os", {}))),
        by_device=dict(ranked(dims.get("device", {}))),
        by_day=dict(sorted((day, n) for day, n in counts.by_day.items() if n)),
        by_bot=dict(ranked(dims.get("bot", {}))),
        by_browser=dict(ranked(dims.get("browser", {}))),
        by_outcome=dict(ranked(dims.get("outcome", {}))),
        top_visitors=ranked(dict(counts.top_visitors), _TOP),
        top_referers=ranked(dims.get("referer", {}), _TOP),
        by_country=dict(ranked(dims.get("country", {}))),
        by_arm=dict(ranked(dims.get("arm", {}))),
        by_domain=dict(ranked(dims.get("domain", {}))),
    )


def day_window(
    since: datetime | None, until: datetime | None
) -> tuple[date | None, date | None] | None:
    """``[since, until)`` as whole UTC days, or None if either bound is inside a day.

    Kept counts are per UTC day, so only a window starting and ending at UTC midnight
    (or open) can be answered from them exactly.
    """
    days: list[date | None] = []
    for bound in (since, until):
        if bound is None:
            days.append(None)
            continue
        moment = bound.astimezone(UTC)
        if moment.time() != time(0):
            return None
        days.append(moment.date())
    return days[0], days[1]


def link_stats(
    storage: Storage, code: str, *, since: datetime | None = None, until: datetime | None = None
) -> LinkStats:
    """Stats of ``code``: from kept counts when the backend has them and the window is
    whole UTC days, else by folding the raw visits (sub-day windows, other backends).
    """
    check_window(since, until)  # naive datetimes are refused, whichever path answers
    if isinstance(storage, KeepsAggregates):
        days = day_window(since, until)
        counts = None if days is None else storage.counts(code, since=days[0], until=days[1])
        if counts is not None:
            return from_counts(code, counts)
    return aggregate(code, storage.visits(code, since=since, until=until))
