"""What every web adapter builds from its options: the Shortener, the API, where routes live.

Flask and the ASGI app (and any future adapter) read the same option spec
(:mod:`suolink.config`) and mount the same table (:data:`~suolink.http.routes.ROUTES`);
this module turns checked :class:`~suolink.config.ServerOptions` into the parts they
share, so the two cannot mount different routes, prefixes or limits. Framework-free.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..config import ServerOptions, warn_if_no_secret
from ..errors import BodyTooLarge
from ..models import Decision, Visitor
from ..shortener import Shortener
from .api import HttpApi
from .request import HttpRequest, visitor_from
from .responses import error_response
from .routes import LINK_ROUTES, PAGE_ROUTES, ROUTES, Route
from .startup import startup_warnings

__all__ = ["Mounted", "body_too_large", "mount", "page_visitor"]


@dataclass(frozen=True, slots=True)
class Mounted:
    """A Shortener and its HttpApi, the routes they answer and the prefixes they live under."""

    shortener: Shortener
    api: HttpApi
    #: Where the API, the web page and the stats page are mounted ("" is the root).
    url_prefix: str = ""
    #: Where short links and their QR images live (default: ``url_prefix``).
    link_prefix: str = ""
    #: The options this app was built from.
    options: ServerOptions = field(default_factory=ServerOptions)

    @property
    def routes(self) -> tuple[Route, ...]:
        """The rows mounted, in the table's order (the catch-all short link last)."""
        return self.api.routes

    def path(self, route: Route) -> str:
        """The route's pattern under its prefix (``<code>`` placeholders kept)."""
        prefix = self.link_prefix if route.name in LINK_ROUTES else self.url_prefix
        return (prefix + route.pattern).replace("//", "/")


def mount(
    settings: ServerOptions,
    *,
    shortener: Shortener | None = None,
    log: logging.Logger | None = None,
    stacklevel: int = 2,
) -> Mounted:
    """Build the parts an adapter serves from ``settings`` (or around a given Shortener).

    Warns (``NoSecretWarning``) when codes would be guessable, and logs the start-up
    warnings of :mod:`~suolink.http.startup` on ``log``.
    """
    shortener = shortener or Shortener(**settings.shortener_kwargs())
    warn_if_no_secret(shortener.secret, setting="SUOLINK_SECRET", stacklevel=stacklevel + 1)
    api = HttpApi(shortener, **settings.api_kwargs())
    prefix: str = settings.get("url_prefix")
    link_prefix: str | None = settings.get("link_prefix")
    web_page: bool = settings.get("web_page")
    # the OpenAPI document lists what is mounted, nothing more
    api.routes = tuple(r for r in ROUTES if web_page or r.name not in PAGE_ROUTES)
    link_prefix = prefix if link_prefix is None else link_prefix
    mounted = Mounted(shortener, api, prefix, link_prefix, options=settings)
    if log is not None:
        for message in startup_warnings(api):
            log.warning("suolink: %s", message)
    return mounted


def body_too_large(limit: int) -> Decision:
    """The 413 a request body over ``limit`` bytes gets, from every adapter alike."""
    return error_response(BodyTooLarge(f"the request body is larger than {limit:,} bytes"))


def page_visitor(headers: Iterable[tuple[str, str]], remote_addr: str | None) -> Visitor:
    """The Visitor of a host app's own page (``protect``): its form is never a password."""
    lowered = tuple((name.lower(), value) for name, value in headers)
    return visitor_from(HttpRequest(method="GET", headers=lowered, remote_addr=remote_addr))
