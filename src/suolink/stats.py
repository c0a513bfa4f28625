"""Click statistics: counts by platform, app, OS, device and day, and the top visitors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from .models import Visit

__all__ = ["LinkStats", "aggregate"]

_TOP = 10


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
    for visit in visits:
        total += 1
        day = (visit.at.astimezone(tz) if tz else visit.at).date().isoformat()
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
        who = visit.visitor_id or visit.ip
        if who:
            visitors[who] += 1
        if visit.referer:
            referers[visit.referer] += 1
    return LinkStats(
        code=code,
        total=total,
        humans=total - bots,
        bots=bots,
        unique_visitors=len(visitors),
        by_app=dict(apps.most_common()),
        by_os=dict(systems.most_common()),
        by_device=dict(devices.most_common()),
        by_day=dict(sorted(days.items())),
        by_bot=dict(bot_names.most_common()),
        by_browser=dict(browsers.most_common()),
        by_outcome=dict(outcomes.most_common()),
        top_visitors=visitors.most_common(_TOP),
        top_referers=referers.most_common(_TOP),
    )
