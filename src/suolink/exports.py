"""Links and visits as CSV or JSON, made a chunk at a time so exports of any size stream.

Each function takes an iterator and yields UTF-8 chunks of about ``rows`` records; the
HTTP layer hands them to the adapter unjoined. CSV cells that a spreadsheet would run as
a formula (``=``, ``+``, ``-``, ``@`` first) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from .models import Link, Visit

__all__ = [
    "EXPORT_FORMATS",
    "LINK_COLUMNS",
    "VISIT_COLUMNS",
    "links_csv",
    "visits_csv",
    "visits_json",
]

EXPORT_FORMATS: Final = ("csv", "json")
LINK_COLUMNS: Final = (
    "code",
    "short_url",
    "url",
    "title",
    "tags",
    "created_at",
    "expires_at",
    "max_visits",
    "visits",
    "disabled",
    "has_password",
)
VISIT_COLUMNS: Final = (
    "at",
    "outcome",
    "app",
    "os",
    "device",
    "browser",
    "is_bot",
    "language",
    "visitor_id",
    "referer",
    "user_agent",
    "ip",
)
_ROWS: Final = 500
_COMPACT: Final = (",", ":")
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(header: tuple[str, ...], rows: Iterable[Iterable[Any]], chunk: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        count += 1
        if count % chunk == 0:
            yield buffer.getvalue().encode("utf-8", "replace")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell() or count % chunk:
        yield buffer.getvalue().encode("utf-8", "replace")


def links_csv(
    links: Iterable[Link], short_url: Callable[[Link], str], *, rows: int = _ROWS
) -> Iterator[bytes]:
    """Links as CSV (header first); tags joined with spaces."""

    def row(link: Link) -> tuple[Any, ...]:
        values: dict[str, Any] = {
            "short_url": short_url(link),
            "tags": " ".join(link.tags),
            "has_password": link.has_password,
        }
        return tuple(values[c] if c in values else getattr(link, c) for c in LINK_COLUMNS)

    return _csv(LINK_COLUMNS, map(row, links), rows)


def visits_csv(visits: Iterable[Visit], *, rows: int = _ROWS) -> Iterator[bytes]:
    """Visits as CSV, oldest first (``ip`` is empty unless the app stores addresses)."""
    return _csv(VISIT_COLUMNS, ((getattr(v, c) for c in VISIT_COLUMNS) for v in visits), rows)


def visits_json(code: str, visits: Iterable[Visit], *, rows: int = _ROWS) -> Iterator[bytes]:
    """``{"code": …, "visits": [{…}, …], "total": n}`` written a chunk at a time; the
    count comes last, counted on the way, so it costs nothing."""
    head = json.dumps({"code": code}, ensure_ascii=False, separators=_COMPACT)[:-1]
    yield (head + ',"visits":[').encode("utf-8", "replace")
    parts: list[str] = []
    total = 0
    for visit in visits:
        data = visit.to_dict()
        data.pop("code", None)
        text = json.dumps(data, ensure_ascii=False, separators=_COMPACT)
        parts.append("," + text if total else text)
        total += 1
        if len(parts) >= rows:
            yield "".join(parts).encode("utf-8", "replace")
            parts.clear()
    parts.append(f'],"total":{total}}}')
    yield "".join(parts).encode("utf-8", "replace")
