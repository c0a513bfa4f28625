"""The request as the core sees it, and the one way a request becomes a :class:`Visitor`.

Adapters build an :class:`HttpRequest` from their framework's request; everything the
handlers read from it (JSON body, query times, the visitor) is parsed here, once.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

from ..detect.core import HINT_HEADERS
from ..errors import BodyTooLarge, InvalidOption
from ..identity import MAX_COOKIE_HEADER
from ..models import Headers, Visitor

__all__ = [
    "VISITOR_HEADERS",
    "HttpRequest",
    "check_query",
    "json_body",
    "only_fields",
    "query_time",
    "visitor_from",
    "visitor_from_environ",
    "visitor_from_raw",
]

#: Request headers a Visitor keeps: the hints detection reads. Pages read nothing else
#: from headers (language and referer travel in their own Visitor fields).
VISITOR_HEADERS: Final = frozenset(HINT_HEADERS)
#: Characters of the user agent and Accept-Language kept (real ones stay well under).
_MAX_USER_AGENT: Final = 1024
_MAX_ACCEPT_LANGUAGE: Final = 256
#: Query pairs a Visitor keeps, and characters of a pair's name and value together: enough
#: for escape hops and for ``forward_query`` (which forwards no pair longer); a longer
#: pair is left out whole, never cut.
_MAX_QUERY_PAIRS: Final = 32
_MAX_QUERY_TEXT: Final = 512


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """A request as the core sees it; header names lower-case, form already parsed."""

    method: str
    path: str = "/"
    query: tuple[tuple[str, str], ...] = ()
    headers: Headers = ()
    body: bytes = b""
    remote_addr: str | None = None
    form: tuple[tuple[str, str], ...] = ()
    #: Uploaded files by form field name (contents read, within the route's body limit).
    files: tuple[tuple[str, bytes], ...] = ()
    #: Where short links of this app live (scheme, host and redirect prefix); used when the
    #: Shortener has no ``base_url`` of its own.
    base_url: str | None = None

    @property
    def action_method(self) -> str:
        """The method that chooses what the request does: a HEAD does what a GET does.

        Access rules and handlers read this; the resolve handler also reads ``method`` so
        a HEAD (link checkers, mail scanners) is answered like a GET but never recorded.
        """
        return "GET" if self.method == "HEAD" else self.method

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def arg(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def form_value(self, name: str) -> str | None:
        return next((v for k, v in self.form if k == name), None)

    def file(self, name: str) -> bytes | None:
        return next((v for k, v in self.files if k == name), None)


def visitor_from(request: HttpRequest) -> Visitor:
    """The Visitor for a request: UA, address, the headers detection reads, password.

    The password is taken from a POSTed form only, so a page's own GET query can never
    be mistaken for one. The first few query pairs travel along (long ones left out): the
    core tells an in-app browser's own escape hop (``?openExternalBrowser=1``) by them,
    and ``forward_query`` hands them on to the target.
    """
    agent = language = referer = None
    hints: list[tuple[str, str]] = []
    for name, value in request.headers:  # one pass; the first of a repeated header counts
        if name == "user-agent":
            agent = value if agent is None else agent
        elif name == "accept-language":
            language = value if language is None else language
        elif name == "referer":
            referer = value if referer is None else referer
        if name in VISITOR_HEADERS:
            hints.append((name, value))
    return Visitor(
        user_agent=(agent or "")[:_MAX_USER_AGENT],
        ip=request.remote_addr,
        headers=tuple(hints),
        accept_language=(language or "")[:_MAX_ACCEPT_LANGUAGE],
        referer=referer,
        password=request.form_value("password") if request.method == "POST" else None,
        query=tuple(
            (k, v) for k, v in request.query[:_MAX_QUERY_PAIRS] if len(k) + len(v) < _MAX_QUERY_TEXT
        ),
        cookie=(request.header("cookie") or "")[:MAX_COOKIE_HEADER] or None,
    )


#: The raw (lower-case, latin-1) names :func:`visitor_from_raw` reads.
_RAW_HINTS: Final = frozenset(name.encode("latin-1") for name in VISITOR_HEADERS)


def visitor_from_raw(
    headers: Iterable[tuple[bytes, bytes]], remote_addr: str | None, query_string: bytes
) -> tuple[Visitor, str | None]:
    """:func:`visitor_from` for a GET or HEAD straight from an ASGI scope's raw headers
    (names lower-case bytes), and the ``Host`` header: the same Visitor, without the
    :class:`HttpRequest` (every header decoded) made first. For the redirect route."""
    agent = language = referer = cookie = host = None
    hints: list[tuple[str, str]] = []
    for raw_name, raw_value in headers:
        if raw_name == b"user-agent":
            agent = raw_value if agent is None else agent
        elif raw_name == b"host":
            host = raw_value if host is None else host
        elif raw_name == b"accept-language":
            language = raw_value if language is None else language
        elif raw_name == b"referer":
            referer = raw_value if referer is None else referer
        elif raw_name == b"cookie":
            cookie = raw_value if cookie is None else cookie
        if raw_name in _RAW_HINTS:
            hints.append((raw_name.decode("latin-1"), raw_value.decode("latin-1")))
    query = (
        tuple(
            (k, v)
            for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)[
                :_MAX_QUERY_PAIRS
            ]
            if len(k) + len(v) < _MAX_QUERY_TEXT
        )
        if query_string
        else ()
    )
    visitor = Visitor(
        user_agent=agent[:_MAX_USER_AGENT].decode("latin-1") if agent else "",
        ip=remote_addr,
        headers=tuple(hints),
        accept_language=language[:_MAX_ACCEPT_LANGUAGE].decode("latin-1") if language else "",
        referer=None if referer is None else referer.decode("latin-1"),
        query=query,
        cookie=cookie[:MAX_COOKIE_HEADER].decode("latin-1") if cookie else None,
    )
    return visitor, None if host is None else host.decode("latin-1")


#: WSGI ``HTTP_*`` keys and the header names they stand for (as Werkzeug's
#: ``EnvironHeaders`` name them, lower-cased), worked out once per key.
_ENVIRON_NAMES: dict[str, str] = {}
_ENVIRON_NAMES_MAX: Final = 1024
#: Body headers some servers also pass as ``HTTP_*`` keys: never a header of the request.
_ENVIRON_SKIPPED: Final = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


def visitor_from_environ(environ: Mapping[str, Any], query: tuple[tuple[str, str], ...]) -> Visitor:
    """:func:`visitor_from` for a bodiless GET or HEAD straight from a WSGI environ and its
    parsed ``query`` pairs: the same Visitor as from the adapter's :class:`HttpRequest`
    (headers in environ order, named as Werkzeug names them), without building it first.
    For the redirect route."""
    names = _ENVIRON_NAMES
    agent = language = referer = cookie = None
    hints: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key[:5] != "HTTP_" or key in _ENVIRON_SKIPPED:
            continue
        name = names.get(key)
        if name is None:
            name = key[5:].replace("_", "-").title().lower()
            if len(names) < _ENVIRON_NAMES_MAX:
                names[key] = name
        if name == "user-agent":
            agent = value if agent is None else agent
        elif name == "accept-language":
            language = value if language is None else language
        elif name == "referer":
            referer = value if referer is None else referer
        elif name == "cookie":
            cookie = value if cookie is None else cookie
        if name in VISITOR_HEADERS:
            hints.append((name, value))
    return Visitor(
        user_agent=(agent or "")[:_MAX_USER_AGENT],
        ip=environ.get("REMOTE_ADDR"),
        headers=tuple(hints),
        accept_language=(language or "")[:_MAX_ACCEPT_LANGUAGE],
        referer=referer,
        query=tuple(
            (k, v) for k, v in query[:_MAX_QUERY_PAIRS] if len(k) + len(v) < _MAX_QUERY_TEXT
        ),
        cookie=(cookie or "")[:MAX_COOKIE_HEADER] or None,
    )


def only_fields(data: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Refuse a JSON object naming a field not in ``allowed`` (the first A-Z, cut short)."""
    unknown = sorted(str(name) for name in data if name not in allowed)
    if unknown:
        raise InvalidOption(unknown[0][:64], "unknown field")


def json_body(request: HttpRequest, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object; a typed 4xx error for anything else."""
    if len(request.body) > max_bytes:
        raise BodyTooLarge(f"the request body is larger than {max_bytes:,} bytes")
    ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise InvalidOption("body", "send JSON with Content-Type: application/json")
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidOption("body", "the body is not valid JSON") from None
    except RecursionError:  # [[[[… thousands deep fits in a small body
        raise InvalidOption("body", "the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidOption("body", "expected a JSON object")
    return data


def check_query(request: HttpRequest, allowed: frozenset[str]) -> None:
    """Refuse a query parameter the route does not read, naming it (as unknown fields are)."""
    unknown = sorted({name for name, _ in request.query} - allowed)
    if unknown:
        raise InvalidOption(unknown[0], "unknown query parameter")


def query_time(request: HttpRequest, name: str) -> datetime | None:
    """The query argument ``name`` as an aware datetime (ISO 8601), or None if absent."""
    text = request.arg(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOption(name, "expected an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InvalidOption(name, "the time must say its timezone (e.g. Z)")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidOption(name, "is out of the range of dates suolink stores") from None
    return value
