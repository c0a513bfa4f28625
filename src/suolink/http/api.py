"""``HttpApi``: answers every route of :data:`~suolink.http.routes.ROUTES` for one Shortener.

An adapter builds an :class:`~suolink.http.HttpRequest`, calls :meth:`HttpApi.handle`
with the route's name and sends back the :class:`~suolink.models.Decision` as is. The
row says which handler runs and what access it needs; this class holds the settings
and maps every library error to its answer, so Flask and Django cannot answer apart.
"""

from __future__ import annotations

import logging
from typing import Final

from ..errors import BackendError, BackendUnavailable, SuolinkError
from ..models import Decision, Visitor
from ..shortener import Shortener
from . import auth
from .auth import Authorize, RateLimiter, limits_storage_url
from .request import HttpRequest, check_query, visitor_from
from .responses import error_response, no_route, unavailable
from .routes import ROUTES, Route

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_UPLOAD",
    "DEFAULT_PASSWORD_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "HttpApi",
]

log = logging.getLogger("suolink.api")

DEFAULT_MAX_BODY: Final = 64 * 1024
DEFAULT_MAX_UPLOAD: Final = 10_000_000
#: Anonymous creations (and decodes) allowed per client IP, in ``limits`` notation.
DEFAULT_RATE_LIMIT: Final = "10/minute"
#: Password tries per link and address: enough for typos, far too few for guessing.
DEFAULT_PASSWORD_RATE_LIMIT: Final = "10/minute;100/day"  # noqa: S105 - a limit, not a secret


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
        #: Per link and address limit on password tries (None: unlimited).
        self.password_limiter: RateLimiter | None = (
            RateLimiter(password_rate_limit, limit_storage) if password_rate_limit else None
        )

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
            refused = auth.check(self, row.access, request, params)
            if refused is not None:
                return refused
            if row.query is not None:
                check_query(request, row.query)
            answer: Decision = row.handler(self, request, **params)
            return answer
        except BackendUnavailable as exc:
            log.warning("storage unavailable: %s (%r)", exc, exc.original)
            return unavailable(exc, plain=row.plain_errors)
        except BackendError as exc:
            log.error("storage error: %s (%r)", exc, exc.original)
            return unavailable(exc, status=500, plain=row.plain_errors)
        except SuolinkError as exc:
            return error_response(exc)

    @staticmethod
    def visitor(request: HttpRequest) -> Visitor:
        """The Visitor for a request (see :func:`~suolink.http.request.visitor_from`)."""
        return visitor_from(request)
