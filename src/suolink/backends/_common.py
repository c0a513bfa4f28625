"""Helpers every backend shares, so they agree on validation, ordering and cursors.

Links are listed newest first by the key ``(created_us, code)`` (``created_at`` in
microseconds since the epoch, then the code in code point order). A cursor is that key
of the last link on a page, base64url-encoded JSON; it survives inserts and deletes,
and is the same string in every backend. Third-party backends may use these helpers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..errors import InvalidCode, InvalidOption, LinkNotFound
from ..fields import BOOL, LINK_FIELDS, TEXT, check_aware, check_text
from ..models import Conversion, Link, Visit
from .base import MAX_PAGE_SIZE

__all__ = [
    "DAY_US",
    "MAX_CURSOR_LENGTH",
    "MAX_MICROS",
    "MIN_MICROS",
    "VISIT_CHUNK",
    "check_limit",
    "check_list_args",
    "check_read_args",
    "check_tag",
    "check_window",
    "code_ok",
    "decode_cursor",
    "encode_cursor",
    "link_key",
    "normalise_changes",
    "normalise_conversion",
    "normalise_link",
    "normalise_visit",
    "to_micros",
    "visit_dimensions",
    "visit_pages",
    "visitor_key",
]

#: Microseconds in a day: a UTC day's bounds from a visit's ``at_us``.
DAY_US = 86_400_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO = timedelta(microseconds=1)
_INT64_MAX = 2**63 - 1
MAX_CURSOR_LENGTH = 4096


#: The widest window ``visits()`` can be asked for, in microseconds since the epoch.
MIN_MICROS = -(2**63)
MAX_MICROS = 2**63 - 1
VISIT_CHUNK = 500

Row = TypeVar("Row")
Position = tuple[int, int]


def visit_pages(
    fetch: Callable[[Position, int], Sequence[Row]],
    position_of: Callable[[Row], Position],
    limit: int | None,
    *,
    chunk: int = VISIT_CHUNK,
) -> Iterator[Row]:
    """Rows of a keyset-paged visit query, ``chunk`` at a time, at most ``limit`` in all.

    ``fetch(after, size)`` returns up to ``size`` rows ordered by ``(time, id)`` that come
    after the position ``after``; ``position_of(row)`` is a row's ``(time, id)``. Backends
    stream a link's visits this way, so millions of them never sit in memory at once.
    """
    position: Position = (MIN_MICROS, -1)
    left = limit
    while left is None or left > 0:
        size = chunk if left is None else min(left, chunk)
        rows = fetch(position, size)
        yield from rows
        if len(rows) < size:
            return
        position = position_of(rows[-1])
        if left is not None:
            left -= len(rows)


def to_micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since the Unix epoch (an exact, sortable integer)."""
    return (moment - _EPOCH) // _ONE_MICRO


def link_key(link: Link) -> tuple[int, str]:
    """The sort key of ``link`` in listings (compared descending: newest first)."""
    return (to_micros(link.created_at), link.code)


def encode_cursor(key: tuple[int, str]) -> str:
    """The opaque cursor pointing just after the link whose key is ``key``."""
    raw = json.dumps([key[0], key[1]], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: object) -> tuple[int, str]:
    """The key inside a cursor from :func:`encode_cursor`; ``InvalidOption`` if malformed."""
    if not isinstance(cursor, str):
        raise InvalidOption("cursor", f"must be a string, not {type(cursor).__name__}")
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidOption("cursor", "is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidOption("cursor", "is not a cursor from a previous page") from exc
    if (
        not isinstance(data, list)
        or len(data) != 2
        or type(data[0]) is not int
        or not isinstance(data[1], str)
        or "\x00" in data[1]  # no stored code holds NUL
        or not -_INT64_MAX <= data[0] <= _INT64_MAX
    ):
        raise InvalidOption("cursor", "is not a cursor from a previous page")
    try:
        data[1].encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidOption("cursor", "is not a cursor from a previous page") from exc
    return (data[0], data[1])


def check_limit(limit: object, *, maximum: int | None = MAX_PAGE_SIZE) -> int:
    """``limit`` if it is an int from 1 to ``maximum``; ``InvalidOption`` otherwise."""
    if type(limit) is not int:
        raise InvalidOption("limit", f"must be an integer, not {type(limit).__name__}")
    if limit < 1:
        raise InvalidOption("limit", "must be at least 1")
    if maximum is not None and limit > maximum:
        raise InvalidOption("limit", f"must be at most {maximum}")
    return limit


def check_list_args(cursor: object, limit: object, tag: object) -> tuple[int, str] | None:
    """``list()``'s arguments checked in every backend's order; the key after ``cursor``."""
    check_limit(limit)
    check_tag(tag)
    return None if cursor is None else decode_cursor(cursor)


def check_tag(tag: object) -> str | None:
    """``tag`` if it is None or a string; ``InvalidOption`` otherwise."""
    return None if tag is None else check_text("tag", tag)


def code_ok(code: object) -> bool:
    """True if ``code`` could name a stored link (valid Unicode text without NUL)."""
    if not isinstance(code, str) or "\x00" in code:
        return False
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_window(since: object, until: object) -> tuple[int | None, int | None]:
    """``since``/``until`` (aware datetimes or None) as microseconds, for ``visits()``."""
    return (
        None if since is None else to_micros(check_aware("since", since)),
        None if until is None else to_micros(check_aware("until", until)),
    )


def check_read_args(since: object, until: object, limit: object) -> tuple[int | None, int | None]:
    """``visits()``/``conversions()`` arguments checked in every backend's order: the
    window as microseconds (:func:`check_window`), then ``limit`` (None, or 1 or more)."""
    window = check_window(since, until)
    if limit is not None:
        check_limit(limit, maximum=None)
    return window


_OPTIONAL_TEXT = TEXT.optional()
#: How each updatable field is checked and brought to the exact type ``Link`` declares.
_FIELDS: dict[str, Callable[[str, object], Any]] = {
    f.name: f.codec.check for f in LINK_FIELDS if not f.kept
}


def normalise_changes(changes: object) -> dict[str, Any]:
    """``changes`` for ``update()``, checked field by field; ``InvalidOption`` if refused."""
    if not isinstance(changes, Mapping):
        raise InvalidOption("changes", "must be a mapping of field names to values")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        check = _FIELDS.get(name) if isinstance(name, str) else None
        if check is None:
            raise InvalidOption(str(name), "is not a field that can be updated")
        out[name] = check(name, value)
    return out


def normalise_link(link: object) -> Link:
    """``link`` checked before it is stored, with ``visits`` reset to 0.

    Every field gets the exact type ``Link`` declares, so it reads back equal from any
    backend; anything that cannot be stored raises ``InvalidOption`` or ``InvalidCode``.
    """
    if not isinstance(link, Link):
        raise InvalidOption("link", f"must be a Link, not {type(link).__name__}")
    code = link.code
    if not isinstance(code, str) or not code:
        raise InvalidCode(code, "must be a non-empty string")
    try:
        check_text("code", code)
    except InvalidOption as exc:  # the same text rules, reported as a bad code
        raise InvalidCode(code, exc.reason) from None
    check_aware("created_at", link.created_at)
    changed: dict[str, Any] = {}
    for name, check in _FIELDS.items():
        value = getattr(link, name)
        checked = check(name, value)
        if checked is not value and (type(checked) is not type(value) or checked != value):
            changed[name] = checked
    if link.visits != 0:
        changed["visits"] = 0
    # Imports store links by the thousand: a link already exact is not copied.
    return replace(link, **changed) if changed else link


def normalise_visit(visit: object) -> Visit:
    """``visit`` checked before it is recorded; ``InvalidOption`` if it cannot be stored."""
    if not isinstance(visit, Visit):
        raise InvalidOption("visit", f"must be a Visit, not {type(visit).__name__}")
    if isinstance(visit.code, str) and "\x00" in visit.code:
        raise LinkNotFound(visit.code)  # no stored code holds NUL (create refuses them)
    check_text("code", visit.code)
    check_aware("at", visit.at)
    check_text("user_agent", visit.user_agent)
    BOOL.check("is_bot", visit.is_bot)
    check_text("outcome", visit.outcome)
    for name in (
        *("ip", "referer", "app", "os", "device", "language", "visitor_id", "browser"),
        *("country", "region", "city", "arm", "domain"),
    ):
        _OPTIONAL_TEXT.check(name, getattr(visit, name))
    return visit


def normalise_conversion(conversion: object) -> Conversion:
    """``conversion`` checked before it is stored; ``InvalidOption`` if it cannot be.

    The kind, amount and currency rules are :mod:`suolink.conversions`'; this only sees
    that every backend can hold what it is given (and read back the same).
    """
    from decimal import Decimal

    if not isinstance(conversion, Conversion):
        raise InvalidOption("conversion", f"must be a Conversion, not {type(conversion).__name__}")
    if isinstance(conversion.code, str) and "\x00" in conversion.code:
        raise LinkNotFound(conversion.code)
    for name in ("click_id", "code", "kind"):
        if not check_text(name, getattr(conversion, name)):
            raise InvalidOption(name, "must not be empty")
    check_aware("at", conversion.at)
    check_aware("clicked_at", conversion.clicked_at)
    _OPTIONAL_TEXT.check("visitor_id", conversion.visitor_id)
    _OPTIONAL_TEXT.check("currency", conversion.currency)
    value = conversion.value
    if value is not None and (not isinstance(value, Decimal) or not value.is_finite()):
        raise InvalidOption("value", "must be a finite Decimal or None")
    if (value is None) != (conversion.currency is None):
        raise InvalidOption("value", "a value and its currency go together")
    return conversion


def visitor_key(visit: Visit) -> str | None:
    """Who a person's visit counts for: its ``visitor_id``, or IP for old records."""
    return visit.visitor_id or visit.ip or None


def visit_dimensions(visit: Visit) -> list[tuple[str, str]]:
    """The ``(dimension, value)`` pairs one visit adds 1 to (besides its day's total).

    What backends keeping aggregates count at write time; exactly the counters
    :func:`suolink.stats.aggregate` folds, so the two paths agree. Visitors are counted apart.
    """
    out = [("outcome", visit.outcome)]
    if visit.is_bot:
        out.append(("bot", visit.app or "unknown"))
        return out
    out += [
        ("app", visit.app or "browser"),
        ("os", visit.os or "other"),
        ("device", visit.device or "other"),
        ("browser", visit.browser or "other"),
    ]
    if visit.referer:
        out.append(("referer", visit.referer))
    if visit.country:
        out.append(("country", visit.country))
    if visit.arm:
        out.append(("arm", visit.arm))
    if visit.domain:
        out.append(("domain", visit.domain))
    return out
