"""What a redirect adds to the target's query: UTM tags, the short URL's query, a click id.

Pure functions over URL text, so the policy (UTM tags, part of the target) and the
Shortener (the visitor's query and the click id, per request) share one way of merging.

The rules, documented in ``docs/conversions.md``:

- **UTM tags** (``utm={"source": …}``, a link setting) replace the target's own
  ``utm_*`` parameter of the same name: the owner set both, and the setting is the one
  meant for this link.
- **The short URL's query** (``forward_query``) is added only where the target has no
  parameter of that name: a visitor cannot change what the owner fixed. suolink's own
  parameters are never forwarded (:data:`OWN_PARAMS`, and any name starting ``sl_``), a
  pair longer than :data:`MAX_FORWARDED_PAIR` is dropped whole (never cut), and pairs stop
  being added once :data:`MAX_FORWARDED_QUERY` characters are reached.
- **The click id** (``forward_click_id``) is set as :data:`CLICK_PARAM`, replacing any
  value already there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode

__all__ = [
    "CLICK_PARAM",
    "MAX_FORWARDED_PAIR",
    "MAX_FORWARDED_QUERY",
    "MAX_UTM_VALUE",
    "OWN_PARAMS",
    "OWN_PREFIX",
    "UTM_NAMES",
    "forwardable",
    "is_own_param",
    "set_params",
    "with_click_id",
    "with_query",
    "with_utm",
]

#: The parameter a redirect carries the click id in.
CLICK_PARAM: Final = "sl_click"
#: Query names suolink reads itself (the warning's ``continue``, a password form, LINE's
#: escape hop); they are not the target's business.
OWN_PARAMS: Final = frozenset({"continue", "password", "openExternalBrowser"})
#: Every parameter named with this prefix is suolink's (click ids, hop tokens, …).
OWN_PREFIX: Final = "sl_"
#: The UTM names a link may set, without their ``utm_`` prefix.
UTM_NAMES: Final = ("source", "medium", "campaign", "term", "content", "id")
#: Characters of one UTM value.
MAX_UTM_VALUE: Final = 200
#: Characters of one forwarded ``name=value`` pair (encoded); longer ones are dropped.
MAX_FORWARDED_PAIR: Final = 512
#: Characters of the whole forwarded query (encoded).
MAX_FORWARDED_QUERY: Final = 1024


def is_own_param(name: str) -> bool:
    """True for a query name suolink reads itself: never forwarded to a target."""
    return name in OWN_PARAMS or name.startswith(OWN_PREFIX)


def _encode(pairs: Iterable[tuple[str, str]]) -> str:
    return urlencode(list(pairs), quote_via=quote)


def forwardable(query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs of a short URL's query that may travel to the target, within the caps."""
    out: list[tuple[str, str]] = []
    used = 0
    for name, value in query:
        if not name or is_own_param(name):
            continue
        size = len(_encode([(name, value)]))
        if size > MAX_FORWARDED_PAIR:
            continue
        if used + size + 1 > MAX_FORWARDED_QUERY:
            break
        out.append((name, value))
        used += size + 1
    return out


def _split(url: str) -> tuple[str, str, str]:
    """``(before the query, the query, '#fragment' or '')`` of ``url``, text kept as is."""
    head, hash_, fragment = url.partition("#")
    base, _, query = head.partition("?")
    return base, query, hash_ + fragment


def _join(base: str, query: str, fragment: str) -> str:
    return f"{base}?{query}{fragment}" if query else f"{base}{fragment}"


def set_params(url: str, pairs: Iterable[tuple[str, str]], *, replace: bool) -> str:
    """``url`` with ``pairs`` added to its query.

    ``replace``: parameters of ``url`` named in ``pairs`` are dropped first (the pairs
    win); otherwise pairs whose name ``url`` already has are left out (the URL wins).
    The URL's own query text is kept byte for byte unless a parameter is dropped.
    """
    new = list(pairs)
    if not new:
        return url
    base, query, fragment = _split(url)
    names = {name for name, _ in new}
    if replace:
        kept = parse_qsl(query, keep_blank_values=True) if query else []
        if any(name in names for name, _ in kept):
            query = _encode((n, v) for n, v in kept if n not in names)
    elif query:
        present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
        new = [(n, v) for n, v in new if n not in present]
        if not new:
            return url
    added = _encode(new)
    return _join(base, f"{query}&{added}" if query else added, fragment)


def with_utm(url: str, utm: Iterable[tuple[str, str]]) -> str:
    """``url`` with the link's UTM tags (``("source", "x")`` → ``utm_source=x``), set over
    the URL's own ``utm_*`` of the same name."""
    return set_params(url, ((f"utm_{name}", value) for name, value in utm), replace=True)


def with_query(url: str, query: Iterable[tuple[str, str]]) -> str:
    """``url`` with the forwardable part of a short URL's query; the URL's parameters win."""
    return set_params(url, forwardable(query), replace=False)


def with_click_id(url: str, click_id: str) -> str:
    """``url`` carrying ``click_id`` as :data:`CLICK_PARAM`."""
    return set_params(url, [(CLICK_PARAM, click_id)], replace=True)
