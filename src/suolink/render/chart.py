"""A bar chart of visits per day drawn as inline SVG on the server: no chart library, no CDN.

Every text that goes into the SVG is escaped, so the chart is as safe to inline in a page
as the rest of the escaped template output.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Final

from markupsafe import Markup, escape

__all__ = ["MAX_DAYS", "day_series", "visits_chart"]

#: The most days a chart shows (the latest ones).
MAX_DAYS: Final = 90


def day_series(by_day: Mapping[str, int], *, max_days: int = MAX_DAYS) -> list[tuple[str, int]]:
    """Counts per day from the first to the last day seen, gaps as 0, at most ``max_days``."""
    days: dict[date, int] = {}
    for text, count in by_day.items():
        try:
            day = date.fromisoformat(text)
            days[day] = days.get(day, 0) + int(count)
        except (TypeError, ValueError):
            continue
    if not days:
        return []
    last = max(days)
    # Ordinals, not timedelta: a window reaching before 0001-01-01 must not overflow.
    first = max(min(days), date.fromordinal(max(1, last.toordinal() - (max_days - 1))))
    span = (last - first).days + 1
    return [
        ((first + timedelta(days=i)).isoformat(), days.get(first + timedelta(days=i), 0))
        for i in range(span)
    ]


def visits_chart(
    by_day: Mapping[str, int], *, title: str, width: int = 640, height: int = 220
) -> Markup:
    """An accessible SVG bar chart of ``by_day`` (``YYYY-MM-DD`` -> count), safe to inline."""
    series = day_series(by_day)
    left, right, top, bottom = 40, 10, 16, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((count for _, count in series), default=0)
    scale = max(peak, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="currentColor" stroke-opacity=".4"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11" '
        f'fill="currentColor">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11" '
        'fill="currentColor">0</text>',
    ]
    if series:
        slot = plot_w / len(series)
        bar = max(slot * 0.8, 1.0)
        for i, (day, count) in enumerate(series):
            h = plot_h * count / scale
            x = left + i * slot + (slot - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="#07c160"><title>{escape(day)}: {count}</title></rect>'
            )
        labels = {0: series[0][0], len(series) - 1: series[-1][0]}
        for i, day in labels.items():
            anchor = "start" if i == 0 else "end"
            x = left if i == 0 else width - right
            parts.append(
                f'<text x="{x}" y="{height - 8}" text-anchor="{anchor}" font-size="11" '
                f'fill="currentColor">{escape(day)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
