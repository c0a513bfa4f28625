"""What the admin's change page shows above the form: short URL, QR code and stats.

Everything comes from the configured ``Shortener`` (``short_url``, ``qr``, ``stats``),
so the admin shows what visitors get. Values are plain data; the template escapes them
(the QR code is a base64 ``data:`` URI, which holds nothing to escape).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from django.http import HttpRequest

from ...errors import SuolinkError
from ...shortener import Shortener
from .views import base_url

__all__ = ["LinkSummary", "StatsLine", "summarize"]

#: How many of the most frequent values each stats line lists.
TOP: int = 8


@dataclass(frozen=True, slots=True)
class StatsLine:
    """One stats line: a label and its most frequent ``(value, count)`` pairs."""

    label: str
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class LinkSummary:
    """A link's short URL, its QR code as a PNG ``data:`` URI, and its visit counts."""

    code: str
    short_url: str | None = None
    qr_data_uri: str | None = None
    total: int = 0
    humans: int = 0
    bots: int = 0
    unique_visitors: int = 0
    lines: tuple[StatsLine, ...] = ()
    problems: tuple[str, ...] = field(default=())


def summarize(shortener: Shortener, code: str, request: HttpRequest) -> LinkSummary:
    """The summary of ``code``; a part the Shortener cannot give is named in ``problems``."""
    problems: list[str] = []
    base = base_url(request)
    short: str | None = None
    qr: str | None = None
    try:
        short = shortener.short_url(code, base_url=base)
        png = shortener.qr(code, base_url=base, scale=4)
        qr = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    except SuolinkError as exc:
        problems.append(f"short URL / QR code: {exc}")
    try:
        stats = shortener.stats(code)
    except SuolinkError as exc:
        problems.append(f"stats: {exc}")
        return LinkSummary(code, short, qr, problems=tuple(problems))
    lines = tuple(
        StatsLine(label, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]))
        for label, counts in (
            ("outcome", stats.by_outcome),
            ("app", stats.by_app),
            ("OS", stats.by_os),
            ("device", stats.by_device),
            ("day", stats.by_day),
        )
    )
    return LinkSummary(
        code,
        short,
        qr,
        total=stats.total,
        humans=stats.humans,
        bots=stats.bots,
        unique_visitors=stats.unique_visitors,
        lines=lines,
        problems=tuple(problems),
    )
