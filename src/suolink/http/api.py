"""``HttpApi``: answers every route of :data:`~suolink.http.routes.ROUTES` for one Shortener.

An adapter builds an :class:`~suolink.http.HttpRequest`, calls :meth:`HttpApi.handle`
with the route's name and sends back the :class:`~suolink.models.Decision` as is. The
row says which handler runs and what access it needs; this class holds the settings
and maps every library error to its answer, so Flask and Django cannot answer apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from ..errors import BackendError, BackendUnavailable, SuolinkError
from ..models import Decision, Visitor
from ..shortener import Shortener
from . import auth
from .auth import Authorize, RateLimiter, WrongTryLimiter, address_of, limits_storage_url
from .hosts import AllowedHosts, host_of
from .request import HttpRequest, check_query, visitor_from
from .responses import (
    error_response,
    host_refused,
    no_route,
    redirect,
    unavailable,
    unknown_host,
    vary_on_host,
)
from .routes import ROUTES, Route

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_UPLOAD",
    "DEFAULT_PASSWORD_RATE_LIMIT",
    "DEFAULT_QR_RENDER_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TOKEN_RATE_LIMIT",
    "HttpApi",
]

log = logging.getLogger("suolink.api")

DEFAULT_MAX_BODY: Final = 64 * 1024
DEFAULT_MAX_UPLOAD: Final = 10_000_000
#: Anonymous creations (and decodes) allowed per client IP, in ``limits`` notation.
DEFAULT_RATE_LIMIT: Final = "10/minute"
#: Password tries per link and address: enough for typos, far too few for guessing.
DEFAULT_PASSWORD_RATE_LIMIT: Final = "10/minute;100/day"  # noqa: S105 - a limit, not a secret
#: Wrong API tokens allowed per address (a right token is never counted).
DEFAULT_TOKEN_RATE_LIMIT: Final = "20/minute;200/day"  # noqa: S105 - a limit, not a secret
#: Routes whose answer never depends on the request's host (load balancers probe them).
_HOST_FREE: Final = frozenset({"health"})
#: Uncached QR images drawn per client address (each new size or colour is a fresh draw).
DEFAULT_QR_RENDER_RATE_LIMIT: Final = "30/minute"


class HttpApi:
    """Answers every route of :data:`~suolink.http.routes.ROUTES` for one :class:`Shortener`.

    Managing links needs authorisation: a bearer ``api_token`` (compared in constant
    time), or an ``authorize`` callable from the host app. ``allow_anonymous`` lets
    anyone create links (public shorteners). Redirects are always public.
    """

    #: The table this instance serves (the OpenAPI handler documents exactly these).
    routes: tuple[Route, ...] = ROUTES

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
        token_rate_limit: str | None = DEFAULT_TOKEN_RATE_LIMIT,
        allowed_hosts: Iterable[str] | None = None,
        qr_render_rate_limit: str | None = DEFAULT_QR_RENDER_RATE_LIMIT,
    ) -> None:
        self.shortener = shortener
        self._by_name = {row.name: row for row in self.routes}
        self.api_token: str | None = api_token or None
        self.authorize: Authorize | None = authorize
        self.allow_anonymous = allow_anonymous
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        #: Per-IP limit on anonymous requests (None: no limit); built only when anonymous
        #: use is on, over the Shortener's storage where the backend shares its server.
        self.rate_limiter: RateLimiter | None = None
        limit_storage = rate_limit_storage or limits_storage_url(shortener.storage)
        if allow_anonymous and rate_limit:
            self.rate_limiter = RateLimiter(rate_limit, limit_storage)
        #: Per link and address limit on wrong password tries (None: unlimited).
        self.password_limiter: WrongTryLimiter | None = (
            WrongTryLimiter(password_rate_limit, limit_storage, count_checks=True)
            if password_rate_limit
            else None
        )
        #: Per address limit on wrong bearer tokens (None: unlimited).
        self.token_limiter: WrongTryLimiter | None = (
            WrongTryLimiter(token_rate_limit, limit_storage, count_checks=False)
            if token_rate_limit
            else None
        )
        #: Hosts a request may name when short URLs follow it (None: any host).
        self.allowed_hosts: AllowedHosts | None = (
            None if allowed_hosts is None else AllowedHosts.of(allowed_hosts)
        )
        #: Per-address limit on QR images drawn afresh (cache hits are free; None: off).
        self.qr_render_limiter: RateLimiter | None = (
            RateLimiter(qr_render_rate_limit, limit_storage) if qr_render_rate_limit else None
        )

    def client_key(self, request: HttpRequest) -> str:
        """The request's address as every rate limit counts it: a keyed hash, never the IP."""
        return self.shortener.address_id(address_of(request.remote_addr))

    def host_allowed(self, request: HttpRequest) -> bool:
        """Whether the request's host may be used (always, with a fixed ``base_url``).

        With short domains, only they (and hosts ``allowed_hosts`` names, e.g. an admin
        host) may: short URLs are then built from the domains, never from ``Host``.
        """
        return self._base_allowed(request.base_url)

    def _base_allowed(self, base_url: str | None) -> bool:
        book = self.shortener.domain_book
        if book.all():
            found = host_of(base_url)
            if found is not None and book.find(*found) is not None:
                return True
            return self.allowed_hosts is not None and self.allowed_hosts.allows(base_url)
        if self.shortener.base_url is not None or self.allowed_hosts is None:
            return True
        return self.allowed_hosts.allows(base_url)

    def resolves_quickly(self) -> bool:
        """Whether :meth:`resolve_visit` answers a GET of a short link as ``handle`` would:
        the ``resolve`` route is served, public and reads no query of its own."""
        row = self._by_name.get("resolve")
        return row is not None and row.access is auth.PUBLIC and row.query is None

    def resolve_visit(
        self, code: str, visitor: Visitor, base_url: str | None, head: bool
    ) -> Decision:
        """``handle("resolve", …)`` of a GET (or, ``head``, a HEAD) whose Visitor the adapter
        made itself (:func:`~suolink.http.request.visitor_from_raw`): the same checks and
        answer, without an :class:`HttpRequest`. Never raises."""
        try:
            if not self._base_allowed(base_url):
                if self.shortener.domain_book.all():
                    return self._unknown_host(None)
                return host_refused(plain=True)
            answer = self.shortener.resolve(code, visitor, base_url=base_url, record=not head)
            return vary_on_host(answer) if base_url else answer
        except SuolinkError as exc:
            return self.failure("resolve", exc)

    def body_limit(self, route: str) -> int:
        """The most bytes a request body may have on ``route``; adapters enforce it early."""
        row = self._by_name.get(route)
        return self.max_upload_bytes if row is not None and row.upload else self.max_body_bytes

    def handle(self, route: str, request: HttpRequest, **params: str) -> Decision:
        """Answer ``request`` for the route named ``route``; never raises."""
        row = self._by_name.get(route)
        if row is None:
            return no_route()
        try:
            if row.name not in _HOST_FREE and not self.host_allowed(request):
                if self.shortener.domain_book.all():
                    return self._unknown_host(request)
                return host_refused(plain=row.group == "link")
            refused = auth.check(self, row.access, request, params)
            if refused is not None:
                return refused
            if row.query is not None:
                check_query(request, row.query)
            answer: Decision = row.handler(self, request, **params)
            return vary_on_host(answer) if request.base_url else answer
        except SuolinkError as exc:
            return self.failure(route, exc)

    def failure(self, route: str, exc: SuolinkError) -> Decision:
        """The answer to ``exc`` raised for the route named ``route`` (as ``handle`` gives).

        For adapters that finish a route's work themselves (the ASGI app awaiting a
        visit's deferred write).
        """
        row = self._by_name.get(route)
        plain = row is not None and row.plain_errors
        if isinstance(exc, BackendUnavailable):
            log.warning("storage unavailable: %s (%r)", exc, exc.original)
            return unavailable(exc, plain=plain)
        if isinstance(exc, BackendError):
            log.error("storage error: %s (%r)", exc, exc.original)
            return unavailable(exc, status=500, plain=plain)
        return error_response(exc)

    def _unknown_host(self, request: HttpRequest | None) -> Decision:
        """A host none of the short domains: 404 (or ``unknown_host_redirect``)."""
        if self.shortener.unknown_host_redirect is not None:
            return redirect(self.shortener.unknown_host_redirect, 302)
        return unknown_host()

    @staticmethod
    def visitor(request: HttpRequest) -> Visitor:
        """The Visitor for a request (see :func:`~suolink.http.request.visitor_from`)."""
        return visitor_from(request)
