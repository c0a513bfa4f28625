"""Every kind of answer the HTTP surface gives, as a :class:`~suolink.models.Decision`.

One builder per kind (JSON, API error, HTML page, redirect, QR image, OpenAPI document,
"store unavailable"), so a header or an error shape is written once. This module only
imports :mod:`suolink.models` and :mod:`suolink.errors`: pages and the core may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, Final

from ..errors import (
    InvalidClickId,
    InvalidCode,
    InvalidOption,
    InvalidURL,
    MissingDependencyError,
    SuolinkError,
)
from ..models import Decision, Headers, PageDecision, Redirect, StreamedDecision

__all__ = [
    "BAD_HOST",
    "FORBIDDEN",
    "METHOD_NOT_ALLOWED",
    "MISSING_DEPENDENCY",
    "NOT_FOUND",
    "RATE_LIMITED",
    "UNAUTHORIZED",
    "allowed_methods",
    "error_json",
    "error_response",
    "error_type",
    "export",
    "host_refused",
    "html_page",
    "json_response",
    "link_created",
    "method_not_allowed",
    "no_route",
    "no_token_configured",
    "openapi_response",
    "qr_image",
    "rate_limited",
    "redirect",
    "unauthorized",
    "unavailable",
    "unknown_host",
    "vary_on_host",
]

#: Stable ``error.type`` names of answers that no :class:`SuolinkError` stands for;
#: the others are the error's class name in snake case (:func:`error_type`).
NOT_FOUND: Final = "not_found"
UNAUTHORIZED: Final = "unauthorized"
FORBIDDEN: Final = "forbidden"
RATE_LIMITED: Final = "rate_limited"
BAD_HOST: Final = "bad_host"
METHOD_NOT_ALLOWED: Final = "method_not_allowed"
#: A feature whose optional extra is not installed (501, ``error.extra`` names it).
MISSING_DEPENDENCY: Final = "missing_dependency"

_JSON_HEADERS: Final[Headers] = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
)
_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_UNAVAILABLE: Final = "the link store is unavailable; please try again shortly"
_RETRY_AFTER: Final = "5"
_QR_TYPES: Final = {"png": "image/png", "svg": "image/svg+xml"}


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate echoed from a hostile request becomes U+FFFD."""
    return text.encode("utf-8", "replace")


def _dump(payload: Any) -> bytes:
    return _utf8(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


# -- JSON ----------------------------------------------------------------------------------


def json_response(status: int, payload: Any, *, extra_headers: Headers = ()) -> Decision:
    """A JSON Decision (UTF-8, no sniffing, not cached)."""
    return Decision(
        status=status, headers=(*_JSON_HEADERS, *extra_headers), body=_dump(payload), reason="json"
    )


def error_json(
    status: int, type_: str, message: str, *, extra_headers: Headers = (), **extra: Any
) -> Decision:
    """The JSON body every API error has: ``{"error": {"type", "message", …}}``."""
    error = {"type": type_, "message": message, **extra}
    return json_response(status, {"error": error}, extra_headers=extra_headers)


def error_type(exc: SuolinkError) -> str:
    """``InvalidURL`` -> ``invalid_url``: the stable error name clients switch on."""
    return _CAMEL_BOUNDARY.sub("_", type(exc).__name__).lower()


def error_response(exc: SuolinkError) -> Decision:
    """A library error as its HTTP answer, naming the input field at fault if any."""
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidOption):
        extra["field"] = exc.option
    elif isinstance(exc, InvalidURL):
        extra["field"] = "url"
    elif isinstance(exc, InvalidCode):
        extra["field"] = "code"
    elif isinstance(exc, InvalidClickId):
        extra["field"] = "click_id"
    elif isinstance(exc, MissingDependencyError):
        # the server lacks a part, the request is fine: 501, as for an unimplemented method
        extra["extra"] = exc.extra
        return error_json(501, MISSING_DEPENDENCY, str(exc), **extra)
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    return error_json(status, error_type(exc), str(exc), **extra)


def no_route(path: str | None = None) -> Decision:
    """What a path (or route name) the table does not know answers: JSON, never a page."""
    message = "no route" if path is None else f"no API route at {path}"
    return error_json(404, NOT_FOUND, message)


def _allow(allowed: Iterable[str]) -> list[str]:
    methods = set(allowed)
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"})


def allowed_methods(allowed: Iterable[str]) -> Decision:
    """204 answering ``OPTIONS``: ``Allow`` lists the methods the path takes."""
    return Decision(status=204, headers=(("Allow", ", ".join(_allow(allowed))),), reason="options")


def method_not_allowed(allowed: Iterable[str]) -> Decision:
    """405 for a known path asked with another method; ``Allow`` lists the methods it takes."""
    methods = _allow(allowed)
    return error_json(
        405,
        METHOD_NOT_ALLOWED,
        f"this path takes {', '.join(methods)}",
        extra_headers=(("Allow", ", ".join(methods)),),
        allowed=methods,
    )


def link_created(link_json: dict[str, Any]) -> Decision:
    """201 with the new link, and ``Location`` pointing at its short URL."""
    return json_response(201, link_json, extra_headers=(("Location", link_json["short_url"]),))


# -- access refusals -----------------------------------------------------------------------


def unauthorized() -> Decision:
    """401: a token is configured, and the request did not carry it."""
    return error_json(
        401,
        UNAUTHORIZED,
        "a valid API token is required",
        extra_headers=(("WWW-Authenticate", 'Bearer realm="suolink"'),),
    )


def no_token_configured() -> Decision:
    """403: no token and no ``authorize`` configured, so nobody may manage links."""
    message = (
        "this server has no API token set: configure SUOLINK_API_TOKEN "
        "(or allow anonymous creation) to manage links"
    )
    return error_json(403, FORBIDDEN, message)


def rate_limited(retry_after: int, limit_text: str) -> Decision:
    """429 for an anonymous client over its per-address limit."""
    message = (
        f"too many requests from your address; try again in {retry_after} seconds "
        f"(limit: {limit_text})"
    )
    return error_json(
        429,
        RATE_LIMITED,
        message,
        extra_headers=(("Retry-After", str(retry_after)),),
        retry_after=retry_after,
    )


def host_refused(*, plain: bool) -> Decision:
    """400: the request names a host ``allowed_hosts`` does not list (text for visitors)."""
    message = "this server does not answer for the host this request names"
    if plain:
        return Decision(
            status=400,
            headers=(
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ),
            body=message.encode(),
            reason=BAD_HOST,
        )
    return error_json(400, BAD_HOST, message)


def unknown_host() -> Decision:
    """404: the request names a host that is none of the short domains (plain text)."""
    return Decision(
        status=404,
        headers=(
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Vary", "Host"),
        ),
        body=b"not found",
        reason="unknown_host",
    )


def vary_on_host(decision: Decision) -> Decision:
    """``decision`` with ``Vary: Host`` if a shared cache may keep it (its body follows Host)."""
    cache = next((v for k, v in decision.headers if k.lower() == "cache-control"), "")
    if "public" not in cache.lower():
        return decision
    vary = [v for k, v in decision.headers if k.lower() == "vary"]
    if any("host" in value.lower() or "*" in value for value in vary):
        return decision
    return replace(decision, headers=(*decision.headers, ("Vary", "Host")))


def unavailable(exc: SuolinkError, *, status: int = 503, plain: bool = False) -> Decision:
    """The store failed: ask to retry shortly, as text for visitors or JSON for the API."""
    if plain:
        return Decision(
            status=status,
            headers=(
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Retry-After", _RETRY_AFTER),
            ),
            body=_UNAVAILABLE.encode(),
            reason="unavailable",
        )
    return error_json(
        status, error_type(exc), _UNAVAILABLE, extra_headers=(("Retry-After", _RETRY_AFTER),)
    )


# -- pages and redirects -------------------------------------------------------------------


def html_page(
    status: int,
    html: str,
    *,
    reason: str,
    nonce: str | None = None,
    extra_headers: Headers = (),
) -> PageDecision:
    """An HTML page with strict headers: scripts run only with ``nonce``, never cached."""
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    headers: Headers = (
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "private, no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Robots-Tag", "noindex, nofollow"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
            "img-src data: 'self'; connect-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'",
        ),
        *extra_headers,
    )
    return PageDecision(status=status, headers=headers, body=_utf8(html), html=html, reason=reason)


def redirect(location: str, status: int = 302, *, reason: str = "redirect") -> Redirect:
    """Send the visitor on to ``location``; never cached, referrer kept for the target."""
    headers: Headers = (
        ("Location", location),
        ("Cache-Control", "private, no-store"),
        ("Referrer-Policy", "no-referrer-when-downgrade"),
    )
    return Redirect(location=location, status=status, headers=headers, reason=reason)


# -- documents -----------------------------------------------------------------------------


def qr_image(image: bytes, fmt: str) -> Decision:
    """A QR code picture (``png`` or ``svg``); cacheable, and inert if opened directly."""
    headers: Headers = (
        ("Content-Type", _QR_TYPES[fmt]),
        ("Cache-Control", "public, max-age=86400"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    )
    return Decision(status=200, headers=headers, body=image, reason="qr")


_EXPORT_TYPES: Final = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def export(chunks: Iterator[bytes], fmt: str, filename: str) -> StreamedDecision:
    """A download built a chunk at a time (``csv`` or ``json``); adapters stream it."""
    headers: Headers = (
        ("Content-Type", _EXPORT_TYPES[fmt]),
        ("Content-Disposition", f'attachment; filename="{filename}.{fmt}"'),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    )
    return StreamedDecision(status=200, headers=headers, chunks=chunks, reason="export")


def openapi_response(document: dict[str, Any]) -> Decision:
    """The OpenAPI document: cacheable for a while and readable from any origin."""
    headers: Headers = (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "public, max-age=300"),
        ("X-Content-Type-Options", "nosniff"),
        ("Access-Control-Allow-Origin", "*"),
    )
    return Decision(status=200, headers=headers, body=_dump(document), reason="openapi")
