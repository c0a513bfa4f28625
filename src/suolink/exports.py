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

from .fields import LINK_FIELDS, LinkField, link_to_json
from .models import Link, Visit

__all__ = [
    "ARCHIVE_COLUMNS",
    "ARCHIVE_FORMAT",
    "EXPORT_FORMATS",
    "LINK_COLUMNS",
    "VISIT_COLUMNS",
    "archive_csv",
    "archive_json",
    "archive_row_values",
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


def table_csv(
    header: tuple[str, ...], rows: Iterable[Iterable[Any]], *, chunk: int = _ROWS
) -> Iterator[bytes]:
    """Any table as CSV, header first, formula cells neutralised (people segments)."""
    return _csv(header, rows, chunk)


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


# -- the archive: every field of every link, and its visits, to restore exactly -----------

#: The ``format`` of an archive's JSON document (and how an import tells it).
ARCHIVE_FORMAT: Final = "suolink"
_ARCHIVE_VERSION: Final = 1
_VISIT_FIELDS: Final = tuple(name for name in Visit.__dataclass_fields__ if name != "code")
#: The archive CSV's columns: the kind of row, every link field, then the visit fields.
ARCHIVE_COLUMNS: Final = (
    "record",
    *(f.name for f in LINK_FIELDS),
    *(f"visit.{name}" for name in _VISIT_FIELDS),
)
#: Text cells starting with these get a ``'`` (also one starting with ``'``, and the empty
#: text, so ``''`` tells it from "none"): safe in a spreadsheet, read back exactly.
_QUOTED: Final = (*_FORMULA, "'")

LinkVisits = tuple[Link, Iterable[Visit]]


def _is_text(f: LinkField) -> bool:
    kind = (f.codec.schema or {}).get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _text_cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if not value or value.startswith(_QUOTED) else value


def _from_text_cell(cell: str) -> str | None:
    if not cell:
        return None
    return cell[1:] if cell.startswith("'") else cell


def _visit_json(visit: Visit) -> dict[str, Any]:
    data = visit.to_dict()
    data.pop("code", None)
    return data


def archive_json(items: Iterable[LinkVisits]) -> Iterator[bytes]:
    """Links with their visits as one JSON document, a link per line, written as it goes.

    ``{"format": "suolink", "version": 1, "links": [{"link": {…}, "visits": […]}, …]}``:
    every field of each link (its password hash too: keep archives private) and every
    visit, so :func:`suolink.imports.read_text` restores them exactly.
    """
    head = {"format": ARCHIVE_FORMAT, "version": _ARCHIVE_VERSION}
    yield (json.dumps(head, separators=_COMPACT)[:-1] + ',"links":[').encode()
    first = True
    for link, visits in items:
        entry = {"link": link_to_json(link), "visits": [_visit_json(v) for v in visits]}
        text = json.dumps(entry, ensure_ascii=False, separators=_COMPACT)
        yield (("\n" if first else ",\n") + text).encode("utf-8", "surrogatepass")
        first = False
    yield b"\n]}\n"


def archive_csv(items: Iterable[LinkVisits], *, rows: int = _ROWS) -> Iterator[bytes]:
    """Links with their visits as one CSV table: a ``link`` row, then its ``visit`` rows.

    Text cells are as they are (a ``'`` before one a spreadsheet would run as a formula,
    or that is empty); other values are JSON (lists, numbers, ``true``); an empty cell is
    "none". Read back exactly by :func:`suolink.imports.read_text`.
    """
    width = len(ARCHIVE_COLUMNS)
    visit_at = 1 + len(LINK_FIELDS)

    def lines() -> Iterator[list[str]]:
        for link, visits in items:
            data = link_to_json(link)
            cells = ["link"]
            for f in LINK_FIELDS:
                value = data[f.name]
                if _is_text(f):
                    cells.append(_text_cell(value))
                else:
                    cells.append("" if value is None else json.dumps(value, ensure_ascii=False))
            yield cells + [""] * (width - len(cells))
            for visit in visits:
                row = ["visit", _text_cell(link.code)] + [""] * (width - 2)
                data = _visit_json(visit)
                for i, name in enumerate(_VISIT_FIELDS):
                    value = data[name]
                    cell = json.dumps(value) if isinstance(value, bool) else _text_cell(value)
                    row[visit_at + i] = cell
                yield row

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ARCHIVE_COLUMNS)
    for count, line in enumerate(lines(), 1):
        writer.writerow(line)
        if count % rows == 0:
            yield buffer.getvalue().encode("utf-8", "surrogatepass")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8", "surrogatepass")


def archive_row_values(row: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``("link", link JSON)`` or ``("visit", visit dict with its code)`` of a CSV row."""
    kind = row.get("record") or ""
    if kind == "link":
        out: dict[str, Any] = {}
        for f in LINK_FIELDS:
            cell = row.get(f.name) or ""
            if _is_text(f):
                out[f.name] = _from_text_cell(cell)
            else:
                out[f.name] = json.loads(cell) if cell else None
        return kind, out
    if kind == "visit":
        visit: dict[str, Any] = {"code": _from_text_cell(row.get("code") or "")}
        for name in _VISIT_FIELDS:
            cell = row.get(f"visit.{name}") or ""
            visit[name] = json.loads(cell) if name == "is_bot" else _from_text_cell(cell)
        return kind, visit
    raise ValueError(f"unknown record kind {kind[:20]!r}")
