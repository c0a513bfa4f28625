"""The route table: each row holds its path, methods, handler and the access it requires.

Adapters register :data:`ROUTES` in order (the catch-all ``/<code>`` last) and read only
``name``, ``pattern`` and ``methods``; :class:`~suolink.http.HttpApi` reads the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from ..models import Decision
from . import handlers, webhook_api
from .auth import PUBLIC, Access, page_login, requires
from .request import HttpRequest

__all__ = [
    "LINK_ROUTES",
    "PAGE_ROUTES",
    "ROUTES",
    "ROUTES_BY_NAME",
    "UPLOAD_ROUTES",
    "Handler",
    "Route",
]

#: ``handler(api, request, **path_params) -> Decision``.
Handler = Callable[..., Decision]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: a name, a path pattern with ``<code>`` placeholders, its methods.

    ``group`` says where it is mounted: ``"link"`` routes live where short links live
    (the root, or the host's link prefix), ``"api"`` routes under the API prefix.
    ``upload`` routes take an image body (``max_upload_bytes``); ``plain_errors`` routes
    are opened by visitors, so a failing store answers them in plain text, not JSON.
    ``query`` names the query parameters the route reads; any other is refused with a 400
    naming it, as unknown body fields are (None: not checked, e.g. pages and short links,
    whose URLs may carry a campaign's own parameters). ``documented`` routes appear in
    the OpenAPI document (the API's fallback does not).
    """

    name: str
    pattern: str
    methods: tuple[str, ...]
    handler: Handler = field(repr=False, compare=False)
    access: Access = field(default=PUBLIC, repr=False, compare=False)
    group: Literal["link", "api"] = "api"
    upload: bool = False
    plain_errors: bool = False
    query: frozenset[str] | None = None
    documented: bool = True


_NO_QUERY: Final[frozenset[str]] = frozenset()
#: Every method the API fallback answers (HEAD comes with GET in the frameworks);
#: ``OPTIONS`` on an API path is answered there, from the table, with its ``Allow``.
FALLBACK_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _decode_action(request: HttpRequest) -> str:
    return "create" if handlers.wants_shortening(request) else "decode"


#: The whole HTTP surface; adapters register exactly these, in this order.
ROUTES: Final[tuple[Route, ...]] = (
    Route("index", "/", ("GET",), handlers.index),
    Route("health", "/api/health", ("GET",), handlers.health, query=_NO_QUERY),
    Route("openapi", "/api/openapi.json", ("GET",), handlers.openapi, query=_NO_QUERY),
    Route(
        "links",
        "/api/links",
        ("GET", "POST"),
        handlers.links,
        access=requires({"GET": "list", "POST": "create"}),
        query=frozenset({"limit", "cursor", "tag", "q", "format", "for_platform"}),
    ),
    # before "link": "bulk" is no code
    Route(
        "links_bulk",
        "/api/links/bulk",
        ("POST",),
        handlers.links_bulk,
        access=requires("create"),
        query=_NO_QUERY,
    ),
    Route(
        "link",
        "/api/links/<code>",
        ("GET", "PATCH", "DELETE"),
        handlers.link,
        access=requires({"GET": "read", "PATCH": "update", "DELETE": "delete"}),
        query=frozenset({"for_platform"}),
    ),
    Route(
        "link_stats",
        "/api/links/<code>/stats",
        ("GET",),
        handlers.link_stats,
        access=requires("stats"),
        query=frozenset({"since", "until"}),
    ),
    Route(
        "link_visits",
        "/api/links/<code>/visits",
        ("GET",),
        handlers.link_visits,
        access=requires("stats"),
        query=frozenset({"since", "until", "format"}),
    ),
    Route(
        "conversions",
        "/api/conversions",
        ("POST",),
        handlers.conversions,
        access=requires("convert"),
        query=_NO_QUERY,
    ),
    Route(
        "funnels",
        "/api/funnels",
        ("GET",),
        handlers.funnels,
        access=requires("stats"),
        query=frozenset({"by", "campaign", "tag", "since", "until"}),
    ),
    Route(
        "decode",
        "/api/decode",
        ("POST",),
        handlers.decode,
        access=requires(_decode_action),
        upload=True,
        query=frozenset({"shorten"}),
    ),
    Route(
        "domains",
        "/api/domains",
        ("GET", "POST"),
        handlers.domains,
        access=requires({"GET": "domains", "POST": "manage_domains"}),
        query=_NO_QUERY,
    ),
    Route(
        "domain",
        "/api/domains/<name>",
        ("GET", "PATCH", "DELETE"),
        handlers.domain,
        access=requires({"GET": "domains", "PATCH": "manage_domains", "DELETE": "manage_domains"}),
        query=_NO_QUERY,
    ),
    Route(
        "domain_mark",
        "/api/domains/<name>/mark",
        ("POST",),
        handlers.domain_mark,
        access=requires("manage_domains"),
        query=_NO_QUERY,
    ),
    Route(
        "stats_page",
        "/stats/<code>",
        ("GET", "POST"),
        handlers.stats_page,
        access=page_login("stats", handlers.stats_login),
    ),
    # -- people across links (docs/people.md)
    Route(
        "campaigns",
        "/api/campaigns",
        ("GET",),
        handlers.campaigns,
        access=requires("stats"),
        query=_NO_QUERY,
    ),
    Route(
        "campaign_recipients",
        "/api/campaigns/<campaign>/recipients",
        ("GET",),
        handlers.campaign_recipients,
        access=requires("stats"),
        query=frozenset({"limit", "min_clicks", "format"}),
    ),
    Route(
        "campaign_visitors",
        "/api/campaigns/<campaign>/visitors",
        ("GET",),
        handlers.campaign_visitors,
        access=requires("stats"),
        query=frozenset({"limit", "min_clicks", "format"}),
    ),
    Route(
        "people_forget",
        "/api/people/forget",
        ("POST",),
        handlers.people_forget,
        access=requires("delete"),
        query=_NO_QUERY,
    ),
    Route(
        "campaign_page",
        "/campaigns/<campaign>",
        ("GET", "POST"),
        handlers.campaign_page,
        access=page_login("stats", handlers.campaign_login),
    ),
    # webhook endpoints (suolink.http.webhook_api); <code> holds the endpoint's id
    Route(
        "webhooks",
        "/api/webhooks",
        ("GET", "POST"),
        webhook_api.webhooks,
        access=requires("webhooks"),
        query=_NO_QUERY,
    ),
    Route(
        "webhook",
        "/api/webhooks/<code>",
        ("DELETE",),
        webhook_api.webhook,
        access=requires("webhooks"),
        query=_NO_QUERY,
    ),
    Route(
        "webhook_deliveries",
        "/api/webhooks/<code>/deliveries",
        ("GET",),
        webhook_api.webhook_deliveries,
        access=requires("webhooks"),
        query=frozenset({"limit"}),
    ),
    # after every API row: any other path under /api/ gets a JSON 404 or 405, not a page
    Route(
        "api_fallback",
        "/api/<path:rest>",
        FALLBACK_METHODS,
        handlers.api_fallback,
        documented=False,
    ),
    Route("qr_png", "/<code>.png", ("GET",), handlers.qr_png, group="link"),
    Route("qr_svg", "/<code>.svg", ("GET",), handlers.qr_svg, group="link"),
    Route(
        "resolve",
        "/<code>",
        ("GET", "POST"),
        handlers.resolve,
        group="link",
        plain_errors=True,
    ),
)

ROUTES_BY_NAME: Final[Mapping[str, Route]] = {route.name: route for route in ROUTES}
#: Routes that live where short links live; the rest (API, web page, stats page) live
#: under the API prefix. Adapters may mount the two groups under different prefixes.
LINK_ROUTES: Final = frozenset(route.name for route in ROUTES if route.group == "link")
#: The HTML pages of the API group (the web page and the stats page); an app that wants
#: only the API and short links leaves them out (Flask: ``web_page=False``).
PAGE_ROUTES: Final = frozenset({"index", "stats_page", "campaign_page"})
#: Routes whose body is an image upload, allowed ``max_upload_bytes`` instead.
UPLOAD_ROUTES: Final = frozenset(route.name for route in ROUTES if route.upload)
