"""``q=`` search over links: a case-insensitive scan of code, URL, title and tags.

No backend keeps a text index yet, so :func:`search_page` pages through the store and
filters; it reads at most ``max_scan`` links per call and hands back a cursor to go on
from, so one request never walks a large store. A backend-level index is future work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from .errors import InvalidOption
from .models import Link, LinkPage

if TYPE_CHECKING:
    from .backends.base import Storage

__all__ = ["MAX_QUERY_LENGTH", "MAX_SCAN", "check_query", "matches", "search_links", "search_page"]

#: Longest ``q`` accepted (characters).
MAX_QUERY_LENGTH: Final = 200
#: Most links one :func:`search_page` call reads before answering with a cursor.
MAX_SCAN: Final = 5000
_BATCH: Final = 200


def check_query(q: object) -> str | None:
    """``q`` as the casefolded text to look for; None (no filter) for absent or blank."""
    if q is None:
        return None
    if not isinstance(q, str):
        raise InvalidOption("q", "expected text")
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidOption("q", f"is longer than {MAX_QUERY_LENGTH} characters")
    return q.strip().casefold() or None


def matches(link: Link, needle: str) -> bool:
    """Whether the casefolded ``needle`` occurs in the link's code, URL, title or a tag."""
    haystack = (link.code, link.url, link.title or "", *link.tags)
    return any(needle in text.casefold() for text in haystack)


def search_page(
    storage: Storage,
    needle: str,
    *,
    cursor: str | None,
    limit: int,
    tag: str | None,
    max_scan: int = MAX_SCAN,
) -> LinkPage:
    """Up to ``limit`` matching links, newest first, and the cursor to go on from.

    A page may hold fewer than ``limit`` links and still have a ``next_cursor`` when the
    scan budget ran out first; the cursor always points just past the last link read.
    """
    found: list[Link] = []
    scanned = 0
    while True:
        page = storage.list(cursor=cursor, limit=_BATCH, tag=tag)
        scanned += len(page.links)
        for index, link in enumerate(page.links):
            if not matches(link, needle):
                continue
            found.append(link)
            if len(found) == limit:
                return LinkPage(tuple(found), _after(storage, page, cursor, index, tag))
        if page.next_cursor is None:
            return LinkPage(tuple(found), None)
        cursor = page.next_cursor
        if scanned >= max_scan:
            return LinkPage(tuple(found), cursor)


def _after(
    storage: Storage, page: LinkPage, cursor: str | None, index: int, tag: str | None
) -> str | None:
    """The cursor just past ``page.links[index]`` (pages read from ``cursor``)."""
    if index == len(page.links) - 1:
        return page.next_cursor
    # cursors are the backend's own: ask for exactly the links up to this one again
    return storage.list(cursor=cursor, limit=index + 1, tag=tag).next_cursor


def search_links(
    storage: Storage, needle: str | None, *, cursor: str | None = None, tag: str | None = None
) -> Iterator[Link]:
    """Every link matching ``needle`` (all when None), newest first, from ``cursor`` on."""
    while True:
        page = storage.list(cursor=cursor, limit=_BATCH, tag=tag)
        yield from (link for link in page.links if needle is None or matches(link, needle))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
