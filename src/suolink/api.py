"""The HTTP surface, framework-neutral: every adapter routes requests here.

An adapter builds an :class:`HttpRequest` from its framework's request, calls
:meth:`HttpApi.handle` with the route name from :data:`ROUTES`, and sends back the
returned :class:`~suolink.models.Decision` as is. All parsing, validation, authorisation
and error mapping live here, so Flask and Django cannot answer differently.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from .errors import (
    BackendError,
    BackendUnavailable,
    BodyTooLarge,
    ConfigurationError,
    InvalidCode,
    InvalidOption,
    InvalidURL,
    LinkNotFound,
    MissingDependencyError,
    SuolinkError,
)
from .models import Decision, Headers, Link, PageDecision, Visitor
from .http.openapi import openapi_document
from .options import SETTING_NAMES
from .qr import decode as decode_qr
from .qr import parse_options as parse_qr_options
from .render import pick_language, render_page
from .render.pages import password_throttled
from .render.web import render_index, render_stats, render_stats_login
from .shortener import Shortener

__all__ = [
    "LINK_ROUTES",
    "ROUTES",
    "HttpApi",
    "HttpRequest",
    "RateLimiter",
    "Route",
    "json_response",
    "limits_storage_url",
]

log = logging.getLogger("suolink.api")

DEFAULT_MAX_BODY: Final = 64 * 1024
DEFAULT_MAX_UPLOAD: Final = 10_000_000
#: Anonymous creations (and decodes) allowed per client IP, in ``limits`` notation.
DEFAULT_RATE_LIMIT: Final = "10/minute"
#: Password tries per link and address: enough for typos, far too few for guessing.
DEFAULT_PASSWORD_RATE_LIMIT: Final = "10/minute;100/day"  # noqa: S105 - a limit, not a secret
#: What anyone may do when ``allow_anonymous`` is on (each rate-limited per IP).
ANONYMOUS_ACTIONS: Final = frozenset({"create", "decode"})
#: Routes whose body is an image upload, allowed ``max_upload_bytes`` instead.
UPLOAD_ROUTES: Final = frozenset({"decode"})
#: Request headers a Visitor keeps: what detection and pages read, nothing more.
VISITOR_HEADERS: Final = frozenset(
    {
        "x-requested-with",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "sec-ch-ua-model",
        "sec-ch-ua-platform-version",
    }
)
_CREATE_FIELDS: Final = SETTING_NAMES | {"url", "code", "strategy"}
_UPDATE_FIELDS: Final = SETTING_NAMES | {"url"}


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: a name, a path pattern with ``<code>`` placeholders, its methods."""

    name: str
    pattern: str
    methods: tuple[str, ...]


#: The whole HTTP surface; adapters register exactly these, in this order.
ROUTES: Final[tuple[Route, ...]] = (
    Route("index", "/", ("GET",)),
    Route("health", "/api/health", ("GET",)),
    Route("openapi", "/api/openapi.json", ("GET",)),
    Route("links", "/api/links", ("GET", "POST")),
    Route("link", "/api/links/<code>", ("GET", "PATCH", "DELETE")),
    Route("link_stats", "/api/links/<code>/stats", ("GET",)),
    Route("decode", "/api/decode", ("POST",)),
    Route("stats_page", "/stats/<code>", ("GET", "POST")),
    Route("qr_png", "/<code>.png", ("GET",)),
    Route("qr_svg", "/<code>.svg", ("GET",)),
    Route("resolve", "/<code>", ("GET", "POST")),
)


#: Routes that live where short links live (the root, or the host's link prefix); the
#: rest (API, web page, stats page) live under the API prefix. Adapters may mount the two
#: groups under different prefixes.
LINK_ROUTES: Final = frozenset({"resolve", "qr_png", "qr_svg"})


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

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def arg(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def form_value(self, name: str) -> str | None:
        return next((v for k, v in self.form if k == name), None)

    def file(self, name: str) -> bytes | None:
        return next((v for k, v in self.files if k == name), None)


Authorize = Callable[[HttpRequest, str], bool]
"""``authorize(request, action) -> bool``.

Actions: create, read, list, update, delete, stats, decode.
"""


def json_response(status: int, payload: Any, *, extra_headers: Headers = ()) -> Decision:
    """A JSON Decision (UTF-8, no sniffing, not cached)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers: Headers = (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *extra_headers,
    )
    return Decision(status=status, headers=headers, body=body, reason="json")


_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _error_type(exc: SuolinkError) -> str:
    """``InvalidURL`` -> ``invalid_url``: the stable error name clients switch on."""
    return _CAMEL_BOUNDARY.sub("_", type(exc).__name__).lower()


def error_response(exc: SuolinkError) -> Decision:
    """The JSON body every API error has: ``{"error": {"type", "message", "field"?}}``."""
    error: dict[str, Any] = {"type": _error_type(exc), "message": str(exc)}
    if isinstance(exc, InvalidOption):
        error["field"] = exc.option
    elif isinstance(exc, InvalidURL):
        error["field"] = "url"
    elif isinstance(exc, InvalidCode):
        error["field"] = "code"
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    return json_response(status, {"error": error})


class HttpApi:
    """Answers every route of :data:`ROUTES` for one :class:`Shortener`.

    Managing links needs authorisation: a bearer ``api_token`` (compared in constant
    time), or an ``authorize`` callable from the host app. ``allow_anonymous`` lets
    anyone create links (public shorteners). Redirects are always public.
    """

    def __init__(
        self,
        shortener: Shortener,
        *,
        api_token: str | None = None,
        authorize: Authorize | None = None,
        allow_anonymous: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
        rate_limit: str | None = DEFAULT_RATE_LIMIT,
        rate_limit_storage: str | None = None,
        password_rate_limit: str | None = DEFAULT_PASSWORD_RATE_LIMIT,
    ) -> None:
        self.shortener = shortener
        self.api_token = api_token or None
        self.authorize = authorize
        self.allow_anonymous = allow_anonymous
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        #: Per-IP limit on anonymous requests (None: no limit); built only when anonymous
        #: use is on, over the Shortener's storage URL where ``limits`` supports it.
        self.rate_limiter: RateLimiter | None = None
        limit_storage = rate_limit_storage or limits_storage_url(shortener.storage)
        if allow_anonymous and rate_limit:
            self.rate_limiter = RateLimiter(rate_limit, limit_storage)
        #: Per link and address limit on password tries (None: unlimited).
        self.password_limiter: RateLimiter | None = (
            RateLimiter(password_rate_limit, limit_storage) if password_rate_limit else None
        )

    def body_limit(self, route: str) -> int:
        """The most bytes a request body may have on ``route``; adapters enforce it early."""
        return self.max_upload_bytes if route in UPLOAD_ROUTES else self.max_body_bytes

    # -- entry point ------------------------------------------------------------------

    def handle(self, route: str, request: HttpRequest, **params: str) -> Decision:
        """Answer ``request`` for the route named ``route``; never raises."""
        handler = getattr(self, f"_route_{route}", None)
        if handler is None:
            return json_response(404, {"error": {"type": "not_found", "message": "no route"}})
        try:
            result: Decision = handler(request, **params)
            return result
        except BackendUnavailable as exc:
            log.warning("storage unavailable: %s (%r)", exc, exc.original)
            return self._unavailable(route, exc)
        except BackendError as exc:
            log.error("storage error: %s (%r)", exc, exc.original)
            return self._unavailable(route, exc, status=500)
        except SuolinkError as exc:
            return error_response(exc)

    def _unavailable(self, route: str, exc: BackendError, *, status: int = 503) -> Decision:
        message = "the link store is unavailable; please try again shortly"
        if route == "resolve":
            return Decision(
                status=status,
                headers=(("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "5")),
                body=message.encode(),
                reason="unavailable",
            )
        return json_response(
            status,
            {"error": {"type": _error_type(exc), "message": message}},
            extra_headers=(("Retry-After", "5"),),
        )

    # -- authorisation -----------------------------------------------------------------

    def _token_ok(self, token: str) -> bool:
        """Constant-time comparison with the configured token."""
        if self.api_token is None:
            return False
        return hmac.compare_digest(token.strip().encode(), self.api_token.encode())

    def _privileged(self, request: HttpRequest, action: str) -> bool:
        """Authorised by the host's callable or the bearer token (not merely anonymous)."""
        if self.authorize is not None and self.authorize(request, action):
            return True
        given = request.header("authorization") or ""
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and self._token_ok(token)

    def _throttle(self, request: HttpRequest, action: str) -> Decision | None:
        """None if this anonymous request is within the per-IP limit, else a 429."""
        if self.rate_limiter is None:
            return None
        retry_after = self.rate_limiter.hit(action, request.remote_addr or "unknown")
        if retry_after is None:
            return None
        message = (
            f"too many requests from your address; try again in {retry_after} seconds "
            f"(limit: {self.rate_limiter.limit_text})"
        )
        return json_response(
            429,
            {"error": {"type": "rate_limited", "message": message, "retry_after": retry_after}},
            extra_headers=(("Retry-After", str(retry_after)),),
        )

    def _require(self, request: HttpRequest, action: str) -> Decision | None:
        if self._privileged(request, action):
            return None
        if action in ANONYMOUS_ACTIONS and self.allow_anonymous:
            return self._throttle(request, action)
        if self.api_token is None and self.authorize is None:
            message = (
                "this server has no API token set: configure SUOLINK_API_TOKEN "
                "(or allow anonymous creation) to manage links"
            )
            return json_response(403, {"error": {"type": "forbidden", "message": message}})
        return json_response(
            401,
            {"error": {"type": "unauthorized", "message": "a valid API token is required"}},
            extra_headers=(("WWW-Authenticate", 'Bearer realm="suolink"'),),
        )

    # -- request parsing ---------------------------------------------------------------

    def _json_body(self, request: HttpRequest) -> dict[str, Any]:
        if len(request.body) > self.max_body_bytes:
            raise BodyTooLarge(f"the request body is larger than {self.max_body_bytes:,} bytes")
        ctype = (request.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise InvalidOption("body", "send JSON with Content-Type: application/json")
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidOption("body", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidOption("body", "expected a JSON object")
        return data

    def _link_json(self, link: Link, request: HttpRequest) -> dict[str, Any]:
        data = link.to_dict()
        data.pop("password_hash", None)
        data["has_password"] = link.has_password
        data["short_url"] = self.shortener.short_url(link, base_url=request.base_url)
        return data

    @staticmethod
    def _only(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidOption(unknown[0], "unknown field")

    # -- routes ------------------------------------------------------------------------

    def _route_index(self, request: HttpRequest) -> Decision:
        lang = pick_language(request.header("accept-language"))
        nonce = secrets.token_urlsafe(16)
        html = render_index(
            lang=lang,
            anonymous=self.allow_anonymous,
            nonce=nonce,
            link_base=urlsplit(request.base_url).path.rstrip("/") if request.base_url else None,
        )
        return PageDecision.html_page(200, html, reason="index", nonce=nonce)

    def _route_openapi(self, request: HttpRequest) -> Decision:
        api_prefix = request.path.removesuffix("/api/openapi.json")
        origin, link_prefix = "", ""
        if request.base_url:
            parts = urlsplit(request.base_url)
            origin, link_prefix = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        doc = openapi_document(
            server_url=origin or None, api_prefix=api_prefix, link_prefix=link_prefix
        )
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        headers: Headers = (
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "public, max-age=300"),
            ("X-Content-Type-Options", "nosniff"),
            ("Access-Control-Allow-Origin", "*"),
        )
        return Decision(status=200, headers=headers, body=body, reason="openapi")

    def _route_stats_page(self, request: HttpRequest, code: str) -> Decision:
        """A link's stats as a page; asks for the token (POSTed, never in the URL) if needed."""
        lang = pick_language(request.header("accept-language"))
        allowed = self._privileged(request, "stats")
        token = request.form_value("token") if request.method == "POST" else None
        if not allowed and token:
            allowed = self._token_ok(token)
        if not allowed:
            html = render_stats_login(lang=lang, code=code, wrong=token is not None)
            return PageDecision.html_page(401 if token is not None else 200, html, reason="login")
        try:
            link = self.shortener.get(code)
        except (LinkNotFound, InvalidCode):
            return PageDecision.html_page(
                404, render_page("not_found", lang=lang), reason="not_found"
            )
        html = render_stats(
            lang=lang,
            link=link,
            short_url=self.shortener.short_url(link, base_url=request.base_url),
            stats=self.shortener.stats(link.code),
        )
        return PageDecision.html_page(200, html, reason="stats")

    def _route_health(self, request: HttpRequest) -> Decision:
        self.shortener.check()
        return json_response(200, {"status": "ok"})

    def _route_links(self, request: HttpRequest) -> Decision:
        if request.method == "POST":
            return self._create(request)
        denied = self._require(request, "list")
        if denied:
            return denied
        limit_text = request.arg("limit")
        limit = 50
        if limit_text is not None:
            if not limit_text.isdigit():
                raise InvalidOption("limit", "expected a whole number")
            limit = int(limit_text)
        page = self.shortener.list(
            cursor=request.arg("cursor"), limit=limit, tag=request.arg("tag")
        )
        return json_response(
            200,
            {
                "links": [self._link_json(link, request) for link in page.links],
                "next_cursor": page.next_cursor,
            },
        )

    def _create(self, request: HttpRequest) -> Decision:
        denied = self._require(request, "create")
        if denied:
            return denied
        data = self._json_body(request)
        self._only(data, _CREATE_FIELDS)
        if "url" not in data:
            raise InvalidURL("", "the url field is required")
        code = data.pop("code", None)
        if code is not None and not isinstance(code, str):
            raise InvalidCode(code, "expected text")
        strategy = data.pop("strategy", None)
        if strategy is not None and strategy not in ("hashids", "random"):
            raise InvalidOption("strategy", "expected hashids or random")
        link = self.shortener.shorten(code=code, strategy=strategy, **data)
        body = self._link_json(link, request)
        return json_response(201, body, extra_headers=(("Location", body["short_url"]),))

    def _route_link(self, request: HttpRequest, code: str) -> Decision:
        action = {"GET": "read", "PATCH": "update", "DELETE": "delete"}.get(request.method, "")
        denied = self._require(request, action)
        if denied:
            return denied
        if request.method == "GET":
            return json_response(200, self._link_json(self.shortener.get(code), request))
        if request.method == "DELETE":
            if not self.shortener.delete(code):
                raise LinkNotFound(code)
            return Decision(status=204, reason="deleted")
        data = self._json_body(request)
        self._only(data, _UPDATE_FIELDS)
        return json_response(200, self._link_json(self.shortener.update(code, **data), request))

    def _route_link_stats(self, request: HttpRequest, code: str) -> Decision:
        denied = self._require(request, "stats")
        if denied:
            return denied
        since = _query_time(request, "since")
        until = _query_time(request, "until")
        return json_response(200, self.shortener.stats(code, since=since, until=until).to_dict())

    def _route_qr_png(self, request: HttpRequest, code: str) -> Decision:
        return self._qr(request, code, "png")

    def _route_qr_svg(self, request: HttpRequest, code: str) -> Decision:
        return self._qr(request, code, "svg")

    def _qr(self, request: HttpRequest, code: str, fmt: str) -> Decision:
        options = parse_qr_options(dict(request.query))
        options["format"] = fmt
        image = self.shortener.qr(code, base_url=request.base_url, **options)
        ctype = "image/png" if fmt == "png" else "image/svg+xml"
        headers: Headers = (
            ("Content-Type", ctype),
            ("Cache-Control", "public, max-age=86400"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
        )
        return Decision(status=200, headers=headers, body=image, reason="qr")

    def _route_decode(self, request: HttpRequest) -> Decision:
        shorten = request.arg("shorten") in ("1", "true", "yes")
        denied = self._require(request, "create" if shorten else "decode")
        if denied:
            return denied
        if len(request.body) > self.max_upload_bytes:
            raise BodyTooLarge(f"the upload is larger than {self.max_upload_bytes:,} bytes")
        image = request.file("image")
        if image is None:
            raise InvalidOption("image", "send the picture as a multipart form field named image")
        if not shorten:
            return json_response(200, {"payloads": decode_qr(image)})
        link = self.shortener.shorten_from_image(image)
        body = self._link_json(link, request)
        return json_response(201, body, extra_headers=(("Location", body["short_url"]),))

    def _route_resolve(self, request: HttpRequest, code: str) -> Decision:
        visitor = self.visitor(request)
        if visitor.password is not None and self.password_limiter is not None:
            # Keyed by the store too, so apps sharing one Redis never share counts.
            namespace = f"password:{self.shortener.storage.url}"
            key = f"{code[:64]}|{request.remote_addr or 'unknown'}"
            retry_after = self.password_limiter.hit(namespace, key)
            if retry_after is not None:
                lang = pick_language(visitor.accept_language, self.shortener.default_language)
                return password_throttled(code, lang, retry_after)
        return self.shortener.resolve(code, visitor, base_url=request.base_url)

    # -- helpers the adapters use ----------------------------------------------------------

    @staticmethod
    def visitor(request: HttpRequest) -> Visitor:
        """The Visitor for a request: UA, address, the headers detection reads, password."""
        return Visitor(
            user_agent=(request.header("user-agent") or "")[:1024],
            ip=request.remote_addr,
            headers=tuple((k, v) for k, v in request.headers if k in VISITOR_HEADERS),
            accept_language=(request.header("accept-language") or "")[:256],
            referer=request.header("referer"),
            password=request.form_value("password") if request.method == "POST" else None,
        )


def _query_time(request: HttpRequest, name: str) -> datetime | None:
    text = request.arg(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidOption(name, "expected an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InvalidOption(name, "the time must say its timezone (e.g. Z)")
    return value


# -- rate limiting -----------------------------------------------------------------------


def limits_storage_url(storage: object) -> str:
    """The ``limits`` storage URL sharing the link store: Redis (and Cluster) as is.

    ``limits`` has no SQLite storage, so SQLite (and anything else it cannot use) falls
    back to its in-process ``memory://``: each worker process then counts on its own.
    """
    from .backends.redis._options import RedisOptions

    options = getattr(storage, "options", None)
    if not isinstance(options, RedisOptions):
        return "memory://"
    auth = ""
    if options.password is not None:
        user = quote(options.username or "", safe="")
        auth = f"{user}:{quote(options.password, safe='')}@"
    elif options.username:
        auth = f"{quote(options.username, safe='')}@"
    if options.kind == "cluster":
        hosts = ",".join(f"{host}:{port}" for host, port in options.hosts)
        return f"redis+cluster://{auth}{hosts}"
    if options.kind == "unix":
        return f"redis+unix://{auth}{options.path}?db={options.db}"
    host, port = options.hosts[0]
    scheme = "rediss" if options.ssl else "redis"
    return f"{scheme}://{auth}{host}:{port}/{options.db}"


class RateLimiter:
    """Per-key moving-window limits over a ``limits`` storage (``"10/minute;200/day"``)."""

    def __init__(self, limit: str, storage_url: str = "memory://") -> None:
        try:
            import limits
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as exc:  # pragma: no cover - limits comes with the web extras
            raise MissingDependencyError("rate limiting", "flask", module="limits") from exc
        try:
            self.items = limits.parse_many(limit)
        except ValueError:
            raise ConfigurationError(
                f"rate_limit {limit!r} is not a limit like '10/minute' or '10/minute;100/day'"
            ) from None
        self.limit_text = "; ".join(str(item) for item in self.items)
        options: dict[str, Any] = {}
        if storage_url.startswith("redis"):
            options["key_prefix"] = "suolink-limits"
        try:
            storage = storage_from_string(storage_url, **options)
        except Exception as exc:  # a limits ConfigurationError or a missing driver
            raise ConfigurationError(
                f"the rate-limit storage cannot be used: {type(exc).__name__}: {exc}"
            ) from exc
        self.storage_url = storage_url.split("@")[-1]
        self.limiter = MovingWindowRateLimiter(storage)

    def hit(self, namespace: str, key: str) -> int | None:
        """Count one request; None if allowed, else the seconds until one is allowed again.

        If the limit's storage fails, the request is let through (logged): a rate limit
        must not take creation down with it.
        """
        try:
            refused = [item for item in self.items if not self.limiter.hit(item, namespace, key)]
            if not refused:
                return None
            reset = max(
                self.limiter.get_window_stats(i, namespace, key).reset_time for i in refused
            )
        except Exception as exc:  # storage errors of any driver
            log.warning("rate-limit storage failed, request allowed: %r", exc)
            return None
        return max(1, math.ceil(reset - time.time()))
