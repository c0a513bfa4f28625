"""Reading links from files: suolink's own archive, and the exports of Shlink, YOURLS and Kutt.

:func:`read_file` turns a file into :class:`Record` values, one per link, whatever its
format (told by :func:`detect_format` from the content, or named). A record of
suolink's own archive (:mod:`suolink.exports`) holds the whole ``Link`` and its visits and
is restored exactly; a record of another shortener holds what that one knows (code,
URL, title, tags, creation and expiry), checked by the same rules as ``shorten``.
:func:`import_records` stores them one by one: each link is created whole or refused
whole, and the report says which and why.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from .errors import CodeTaken, InvalidInput, InvalidOption
from .exports import ARCHIVE_FORMAT, archive_row_values
from .fields import link_from_json
from .models import Link, Visit

if TYPE_CHECKING:
    from .shortener import Shortener

__all__ = [
    "IMPORT_FORMATS",
    "ImportReport",
    "Record",
    "detect_format",
    "import_records",
    "read_file",
    "read_text",
]

#: Formats :func:`read_text` understands (``auto``: told from the content).
IMPORT_FORMATS: Final = ("auto", "suolink-json", "suolink-csv", "shlink", "yourls", "kutt")


@dataclass(frozen=True, slots=True)
class Record:
    """One link to import: a whole ``Link`` (own archive) or settings (another shortener)."""

    code: str | None
    url: str
    #: A whole link from suolink's own archive (its JSON form), restored as it is, and
    #: its visits; read by :meth:`restored` so a malformed one refuses only this record.
    link_data: Mapping[str, Any] | None = None
    visit_data: tuple[Mapping[str, Any], ...] = ()
    #: ``shorten`` settings from another shortener's export.
    settings: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    #: Why this record cannot be imported faithfully (it is skipped with this reason).
    refused: str | None = None

    def restored(self) -> tuple[Link, list[Visit]]:
        """The archived link and visits (``KeyError``/``TypeError``/``ValueError`` if bad)."""
        if self.link_data is None:
            raise ValueError("not an archived link")
        link = link_from_json(self.link_data)
        visits = [Visit.from_dict({**data, "code": link.code}) for data in self.visit_data]
        return link, visits


def _archived(link: Mapping[str, Any], visits: Iterable[Mapping[str, Any]]) -> Record:
    code, url = link.get("code"), link.get("url")
    return Record(
        code if isinstance(code, str) else None,
        url if isinstance(url, str) else "",
        link_data=link,
        visit_data=tuple(visits),
    )


@dataclass(slots=True)
class ImportReport:
    """What an import did: links created, refused (with the reason), visits restored."""

    created: int = 0
    visits: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


# -- telling formats apart ----------------------------------------------------------------


def detect_format(text: str) -> str:
    """The format of an export, from its first bytes and shape."""
    return _kind(text, _parsed(text))


def _parsed(text: str) -> Any:
    """The JSON value of a file that starts like JSON (parsed once), None for CSV."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        raise InvalidOption("file", "starts like JSON but is not valid JSON") from None


def _kind(text: str, data: Any) -> str:
    if data is not None:
        return _json_kind(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    header = next(csv.reader(io.StringIO(stripped)), [])
    names = {name.strip().lower() for name in header}
    if "record" in names and "url" in names:
        return "suolink-csv"
    if {"longurl", "shorturl"} & names or "long url" in names or "shortcode" in names:
        return "shlink"
    headerless = len(header) >= 2 and header[1].strip().lower().startswith(("http:", "https:"))
    if "keyword" in names or headerless:  # YOURLS: keyword, url, title, timestamp, ip, clicks
        return "yourls"
    raise InvalidOption("file", "not a format suolink imports (see IMPORT_FORMATS)")


def _json_kind(data: Any) -> str:
    if isinstance(data, dict):
        if data.get("format") == ARCHIVE_FORMAT:
            return "suolink-json"
        if "shortUrls" in data:
            return "shlink"
        if isinstance(data.get("links"), dict):
            return "yourls"
        items = data.get("data")
    else:
        items = data
    if isinstance(items, list) and items and isinstance(items[0], dict):
        if "longUrl" in items[0]:
            return "shlink"
        if "target" in items[0]:
            return "kutt"
    raise InvalidOption("file", "a JSON file of no format suolink imports")


# -- reading ------------------------------------------------------------------------------


def read_file(path: str | Path, fmt: str = "auto") -> Iterator[Record]:
    """The records of the export at ``path`` (UTF-8, a BOM allowed)."""
    return read_text(Path(path).read_text(encoding="utf-8-sig"), fmt)


def read_text(text: str, fmt: str = "auto") -> Iterator[Record]:
    """The records of an export held in ``text``."""
    if fmt not in IMPORT_FORMATS:
        raise InvalidOption("format", f"expected one of {', '.join(IMPORT_FORMATS)}")
    data = _parsed(text)  # once: a 100,000-link archive takes seconds to parse
    kind = _kind(text, data) if fmt == "auto" else fmt
    readers: dict[str, Callable[[str, Any], Iterator[Record]]] = {
        "suolink-json": _own_json,
        "suolink-csv": _own_csv,
        "shlink": _shlink,
        "yourls": _yourls,
        "kutt": _kutt,
    }
    return readers[kind](text, data)


def _own_json(text: str, data: Any) -> Iterator[Record]:
    if not isinstance(data, dict) or data.get("format") != ARCHIVE_FORMAT:
        raise InvalidOption("file", "not a suolink archive")
    for item in data.get("links") or ():
        if not isinstance(item, dict) or not isinstance(item.get("link"), dict):
            raise InvalidOption("file", 'an archive entry is {"link": {…}, "visits": […]}')
        yield _archived(item["link"], item.get("visits") or ())


def _own_csv(text: str, data: Any = None) -> Iterator[Record]:
    reader = csv.DictReader(io.StringIO(text))
    current: dict[str, Any] | None = None
    visits: list[dict[str, Any]] = []
    for row in reader:
        try:
            kind, values = archive_row_values(row)
        except ValueError as exc:
            raise InvalidOption("file", f"line {reader.line_num}: {exc}") from None
        if kind == "link":
            if current is not None:
                yield _archived(current, visits)
            current, visits = values, []
        elif current is not None and values["code"] == current.get("code"):
            visits.append(values)
        else:
            raise InvalidOption("file", f"line {reader.line_num}: a visit without its link")
    if current is not None:
        yield _archived(current, visits)


def _code_of(short_url: object) -> str | None:
    if not isinstance(short_url, str) or not short_url:
        return None
    path = urlsplit(short_url).path if "://" in short_url else short_url
    return path.rstrip("/").rsplit("/", 1)[-1] or None


def _time(value: object) -> datetime | None:
    """An export's time: ISO 8601, or YOURLS' ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _foreign(
    code: object,
    url: object,
    *,
    title: object = None,
    tags: object = None,
    refused: str | None = None,
    **extra: Any,
) -> Record:
    settings: dict[str, Any] = {k: v for k, v in extra.items() if k != "created_at" and v}
    if isinstance(title, str) and title.strip():
        settings["title"] = title.strip()[:200]
    if tags:
        settings["tags"] = tags
    return Record(
        code if isinstance(code, str) and code else None,
        url if isinstance(url, str) else "",
        settings=settings,
        created_at=_time(extra.get("created_at")),
        refused=refused,
    )


#: Shlink's ``deviceLongUrls`` keys → suolink's platform targets.
_SHLINK_DEVICES: Final = {"android": "android", "ios": "ios", "desktop": "desktop"}


def _device_targets(value: object) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    targets = {
        _SHLINK_DEVICES[key]: url
        for key, url in value.items()
        if key in _SHLINK_DEVICES and isinstance(url, str) and url
    }
    return targets or None


def _shlink(text: str, data: Any) -> Iterator[Record]:
    if data is not None:
        if isinstance(data, dict):
            data = data.get("shortUrls", data)
            data = data.get("data", []) if isinstance(data, dict) else data
        for item in _objects(data):
            given = item.get("meta")
            meta: dict[str, Any] = given if isinstance(given, dict) else {}
            yield _foreign(
                item.get("shortCode") or _code_of(item.get("shortUrl")),
                item.get("longUrl"),
                title=item.get("title"),
                tags=item.get("tags") or None,
                created_at=item.get("dateCreated"),
                max_visits=meta.get("maxVisits"),
                expires_at=_future(meta.get("validUntil")),
                targets=_device_targets(item.get("deviceLongUrls")),
            )
        return
    for row in _rows(text):
        tags = row.get("tags") or ""
        yield _foreign(
            row.get("shortcode") or _code_of(row.get("shorturl") or row.get("short url")),
            row.get("longurl") or row.get("long url"),
            title=row.get("title"),
            tags=[t for t in tags.replace("|", ",").split(",") if t.strip()] or None,
            created_at=row.get("createdat") or row.get("datecreated") or row.get("created at"),
        )


def _yourls(text: str, data: Any) -> Iterator[Record]:
    stripped = text.lstrip("\ufeff \t\r\n")
    if data is not None:
        links = (data.get("links") if isinstance(data, dict) else None) or {}
        for item in _objects(list(links.values()) if isinstance(links, dict) else None):
            yield _foreign(
                _code_of(item.get("shorturl")),
                item.get("url"),
                title=item.get("title"),
                created_at=item.get("timestamp"),
            )
        return
    rows = list(csv.reader(io.StringIO(stripped)))
    header = [name.strip().lower() for name in rows[0]] if rows else []
    if "keyword" not in header:  # no header line: keyword, url, title, timestamp, ip, clicks
        header = ["keyword", "url", "title", "timestamp", "ip", "clicks"]
    else:
        rows = rows[1:]
    for cells in rows:
        row = dict(zip(header, cells, strict=False))
        yield _foreign(
            row.get("keyword"),
            row.get("url"),
            title=row.get("title"),
            created_at=row.get("timestamp"),
        )


def _kutt(text: str, data: Any) -> Iterator[Record]:
    items = data.get("data", []) if isinstance(data, dict) else data
    for item in _objects(items):
        yield _foreign(
            item.get("address"),
            item.get("target"),
            title=item.get("description"),
            created_at=item.get("created_at"),
            expires_at=_future(item.get("expire_in")),
            disabled=item.get("banned") is True,
            # Kutt keeps only a hash, not in its export: imported bare, the link would
            # open for anyone. Set a password on it after the import instead.
            refused="password-protected in Kutt (the export has no password to keep)"
            if item.get("password") is True
            else None,
        )


def _objects(items: object) -> Iterator[dict[str, Any]]:
    """The entries of an export's list; one that is not an object is a record without a
    URL (refused, with the others going on)."""
    for item in items if isinstance(items, list) else ():
        yield item if isinstance(item, dict) else {}


def _future(value: object) -> str | None:
    """An expiry worth keeping: a time with a zone that is still ahead (past ones drop)."""
    moment = _time(value)
    return moment.isoformat() if moment is not None and moment > datetime.now(UTC) else None


def _rows(text: str) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    for row in reader:
        yield {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}


# -- storing -------------------------------------------------------------------------------


#: Links stored per call (one transaction where the backend ``RestoresInBatches``).
BATCH: Final = 500

#: What a record that is refused on its own raises: the rules' refusals, and the
#: malformed values of an archive that no rule names.
_REFUSED: Final = (InvalidInput, KeyError, TypeError, ValueError)

Checked = tuple[Link, list[Visit]]


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, InvalidInput) else f"malformed record: {exc}"


def _checked(shortener: Shortener, record: Record) -> Checked | None:
    """The record as a checked link and its visits (None: it needs a code made)."""
    if record.link_data is not None:
        link, visits = record.restored()
        return shortener.check_restore(link, visits)
    if record.code is None:
        return None
    link = shortener.foreign_link(
        record.url, code=record.code, created_at=record.created_at, **record.settings
    )
    return link, []


class _Batch:
    """Checked links waiting to be stored together, with the records they came from."""

    def __init__(self, shortener: Shortener, report: ImportReport) -> None:
        self.shortener = shortener
        self.report = report
        self.records: list[Record] = []
        self.items: list[Checked] = []

    def add(self, record: Record, item: Checked) -> None:
        self.records.append(record)
        self.items.append(item)
        if len(self.items) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        made: list[bool | None]
        try:
            made = list(self.shortener.restore_many(self.items, checked=True))
        except InvalidInput:  # a value the store refuses: find it, each link alone
            pairs = zip(self.records, self.items, strict=True)
            made = [self._one(record, item) for record, item in pairs]
        for record, (_, visits), ok in zip(self.records, self.items, made, strict=True):
            if ok:
                self.report.created += 1
                self.report.visits += len(visits)
            elif ok is False:
                _skip(self.report, record, str(CodeTaken(record.code or "")))
        self.records, self.items = [], []

    def _one(self, record: Record, item: Checked) -> bool | None:
        try:
            return self.shortener.restore_many([item], checked=True)[0]
        except InvalidInput as exc:
            _skip(self.report, record, str(exc))
            return None


def _skip(report: ImportReport, record: Record, reason: str) -> None:
    report.skipped.append((record.code or record.url[:60], reason))


def import_records(
    shortener: Shortener,
    records: Iterable[Record],
    *,
    on_record: Callable[[], None] | None = None,
) -> ImportReport:
    """Store ``records``: each link created whole (with its visits) or refused.

    A refused link (a taken code, a URL the rules refuse, a malformed record) is listed
    in the report with the reason, and the import goes on. Storage failures stop it.
    Each record is checked on its own, then the links go :data:`BATCH` at a time through
    ``Shortener.restore_many`` (one transaction each on SQLite); a record without a code
    is shortened alone, its code made as ``shorten`` makes one.
    """
    report = ImportReport()
    batch = _Batch(shortener, report)
    for record in records:
        try:
            if record.refused is not None:
                raise InvalidOption("record", record.refused)
            item = _checked(shortener, record)
            if item is None:
                batch.flush()  # keep the file's order: earlier links first
                shortener.shorten(record.url, **record.settings)
                report.created += 1
            else:
                batch.add(record, item)
        except CodeTaken as exc:
            _skip(report, record, str(exc))
        except _REFUSED as exc:
            _skip(report, record, _reason(exc))
        if on_record is not None:
            on_record()
    batch.flush()
    return report
