"""One function per route: ``(api, request, **params) -> Decision``.

Access has already been checked from the route row (:mod:`suolink.http.auth`) when a
handler runs; handlers parse, call the :class:`~suolink.shortener.Shortener` and build
the answer with :mod:`suolink.http.responses`. Library errors propagate to
:meth:`HttpApi.handle <suolink.http.HttpApi.handle>`, which maps them.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ..backends.base import RecordsConversions
from ..domains import Health
from ..errors import (
    BodyTooLarge,
    DomainNotFound,
    InvalidCode,
    InvalidOption,
    InvalidURL,
    LinkNotFound,
    SuolinkError,
)
from ..exports import EXPORT_FORMATS, links_csv, visits_csv, visits_json
from ..models import Decision, Link
from ..options import SETTING_NAMES
from ..people import check_campaign, row_to_json, totals_to_json
from ..policy import Verdict
from ..qr import decode as decode_qr
from ..qr import parse_options as parse_qr_options
from ..render import language_hint, pick_language, render_page
from ..render.campaign import render_campaign, render_campaign_login
from ..render.pages import password_throttled
from ..render.web import render_index, render_stats, render_stats_login
from .auth import password_retry_after, password_tried, qr_render_retry_after
from .openapi import openapi_document
from .request import HttpRequest, json_body, only_fields, query_time, visitor_from
from .responses import (
    allowed_methods,
    error_response,
    export,
    html_page,
    json_response,
    link_created,
    method_not_allowed,
    no_route,
    openapi_response,
    qr_image,
    rate_limited,
)

if TYPE_CHECKING:
    from ..conversions import FunnelReport
    from ..shortener import Shortener
    from .api import HttpApi

__all__ = [
    "api_fallback",
    "conversions",
    "decode",
    "domain",
    "domain_mark",
    "domains",
    "funnels",
    "health",
    "index",
    "link",
    "link_stats",
    "link_visits",
    "links",
    "links_bulk",
    "openapi",
    "qr_png",
    "qr_svg",
    "resolve",
    "stats_login",
    "stats_page",
    "wants_shortening",
]

_CREATE_FIELDS: Final = SETTING_NAMES | {"url", "code", "strategy"}
_UPDATE_FIELDS: Final = SETTING_NAMES | {"url"}
_TRUE: Final = ("1", "true", "yes")


# -- helpers -------------------------------------------------------------------------------


def _link_json(api: HttpApi, link: Link, request: HttpRequest) -> dict[str, Any]:
    """A link as the API shows it: no password hash, and its short URL."""
    data = link.to_dict()
    data.pop("password_hash", None)
    data["has_password"] = link.has_password
    data["short_url"] = api.shortener.short_url(
        link, base_url=request.base_url, for_platform=request.arg("for_platform")
    )
    return data


def _lang(request: HttpRequest) -> str:
    hint = language_hint(request.header("user-agent"))
    return pick_language(request.header("accept-language"), ua_hint=hint)


def wants_shortening(request: HttpRequest) -> bool:
    """``POST /api/decode?shorten=1`` shortens the decoded URL (and so needs ``create``)."""
    return request.arg("shorten") in _TRUE


# -- pages ---------------------------------------------------------------------------------


def index(api: HttpApi, request: HttpRequest) -> Decision:
    """The web page: shorten, scan or upload a QR code."""
    nonce = secrets.token_urlsafe(16)
    html = render_index(
        lang=_lang(request),
        anonymous=api.allow_anonymous,
        nonce=nonce,
        link_base=urlsplit(request.base_url).path.rstrip("/") if request.base_url else None,
        template_dirs=api.shortener.template_dirs,
        domains=tuple(d.name for d in api.shortener.domain_book.all() if d.health() is Health.OK),
    )
    return html_page(200, html, reason="index", nonce=nonce)


def stats_login(request: HttpRequest, params: Mapping[str, str], wrong: bool) -> Decision:
    """The stats page's token form (401 after a wrong token, the token never in the URL)."""
    html = render_stats_login(lang=_lang(request), code=params["code"], wrong=wrong)
    return html_page(401 if wrong else 200, html, reason="login")


def stats_page(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """A link's stats as a page."""
    lang = _lang(request)
    try:
        link = api.shortener.get(code)
    except (LinkNotFound, InvalidCode):
        html = render_page("not_found", lang=lang, template_dirs=api.shortener.template_dirs)
        return html_page(404, html, reason="not_found")
    html = render_stats(
        lang=lang,
        template_dirs=api.shortener.template_dirs,
        link=link,
        short_url=api.shortener.short_url(link, base_url=request.base_url),
        stats=api.shortener.stats(link.code),
    )
    return html_page(200, html, reason="stats")


# -- API -----------------------------------------------------------------------------------


def health(api: HttpApi, request: HttpRequest) -> Decision:
    api.shortener.check()
    return json_response(200, {"status": "ok"})


def openapi(api: HttpApi, request: HttpRequest) -> Decision:
    """The OpenAPI document, its paths under the prefixes this request came through."""
    api_prefix = request.path.removesuffix("/api/openapi.json")
    origin, link_prefix = "", ""
    if request.base_url:
        parts = urlsplit(request.base_url)
        origin, link_prefix = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    doc = openapi_document(
        api.routes, server_url=origin or None, api_prefix=api_prefix, link_prefix=link_prefix
    )
    return openapi_response(doc)


def _format(request: HttpRequest, allowed: tuple[str, ...]) -> str:
    """The ``format`` query argument, one of ``allowed`` (the first is the default)."""
    fmt = request.arg("format") or allowed[0]
    if fmt not in allowed:
        raise InvalidOption("format", f"expected one of {', '.join(allowed)}")
    return fmt


def _limit(request: HttpRequest, default: int | None) -> int | None:
    limit_text = request.arg("limit")
    if limit_text is None:
        return default
    # isdigit() alone accepts "²" and "٣"; int() refuses 5,000-digit numbers.
    if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 9):
        raise InvalidOption("limit", "expected a whole number")
    return int(limit_text)


def links(api: HttpApi, request: HttpRequest) -> Decision:
    """``GET``: one page of links (newest first; ``q`` searches, ``format=csv`` exports);
    ``POST``: create one."""
    if request.method == "POST":
        return _create(api, request)
    if _format(request, ("json", "csv")) == "csv":
        return _links_csv(api, request)
    limit = _limit(request, 50)
    assert limit is not None  # a default was given
    page = api.shortener.list(
        cursor=request.arg("cursor"), limit=limit, tag=request.arg("tag"), q=request.arg("q")
    )
    return json_response(
        200,
        {
            "links": [_link_json(api, item, request) for item in page.links],
            "next_cursor": page.next_cursor,
        },
    )


def _links_csv(api: HttpApi, request: HttpRequest) -> Decision:
    """Every matching link as CSV (from ``cursor``, at most ``limit`` if given), streamed."""
    limit = _limit(request, None)
    if limit is not None and limit < 1:
        raise InvalidOption("limit", "expected a whole number from 1")
    found = api.shortener.iter_links(
        tag=request.arg("tag"), q=request.arg("q"), cursor=request.arg("cursor")
    )
    if limit is not None:
        found = itertools.islice(found, limit)
    short_url = functools.partial(api.shortener.short_url, base_url=request.base_url)
    return export(_primed(links_csv(found, short_url)), "csv", "links")


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Make the first chunk now, so a bad cursor or a store that is down is an error answer."""
    first = next(chunks, b"")
    return itertools.chain((first,), chunks)


def _create(api: HttpApi, request: HttpRequest) -> Decision:
    created = _create_one(api, request, json_body(request, api.max_body_bytes))
    return link_created(_link_json(api, created, request))


def _create_one(api: HttpApi, request: HttpRequest, data: dict[str, Any]) -> Link:
    """One link from a ``NewLink`` body (``POST /api/links`` and each bulk item)."""
    only_fields(data, _CREATE_FIELDS)
    if "url" not in data:
        raise InvalidURL("", "the url field is required")
    code = data.pop("code", None)
    if code is not None and not isinstance(code, str):
        raise InvalidCode(code, "expected text")
    strategy = data.pop("strategy", None)
    if strategy is not None and strategy not in ("hashids", "random"):
        raise InvalidOption("strategy", "expected hashids or random")
    return api.shortener.shorten(code=code, strategy=strategy, base_url=request.base_url, **data)


#: The most links one ``POST /api/links/bulk`` may create.
MAX_BULK: Final = 100


def links_bulk(api: HttpApi, request: HttpRequest) -> Decision:
    """``POST``: up to :data:`MAX_BULK` links, each made or refused on its own.

    Each item is one ``shorten``: stored whole or not at all, whatever the others do. The
    answer lists every item's result in order (200 even if some were refused); only a
    body that is not a list of at most ``MAX_BULK`` objects is refused as a whole.
    """
    data = json_body(request, api.max_body_bytes)
    only_fields(data, frozenset({"links"}))
    items = data.get("links")
    if not isinstance(items, list) or not items:
        raise InvalidOption("links", "expected a non-empty list of links")
    if len(items) > MAX_BULK:
        raise InvalidOption("links", f"at most {MAX_BULK} links per call")
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise InvalidOption("links", "each link is a JSON object")
            made = _create_one(api, request, dict(item))
        except SuolinkError as exc:
            answer = error_response(exc)
            error = json.loads(answer.body)["error"]
            results.append({"index": index, "ok": False, "status": answer.status, "error": error})
        else:
            results.append({"index": index, "ok": True, "link": _link_json(api, made, request)})
    created = sum(1 for result in results if result["ok"])
    return json_response(
        200, {"created": created, "failed": len(results) - created, "results": results}
    )


def link(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """``GET`` a link, ``PATCH`` its settings, ``DELETE`` it."""
    if request.action_method == "GET":
        return json_response(200, _link_json(api, api.shortener.get(code), request))
    if request.method == "DELETE":
        if not api.shortener.delete(code):
            raise LinkNotFound(code)
        return Decision(status=204, reason="deleted")
    data = json_body(request, api.max_body_bytes)
    only_fields(data, _UPDATE_FIELDS)
    changed = api.shortener.update(code, base_url=request.base_url, **data)
    return json_response(200, _link_json(api, changed, request))


def link_stats(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    since = query_time(request, "since")
    until = query_time(request, "until")
    return json_response(200, api.shortener.stats(code, since=since, until=until).to_dict())


def link_visits(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """A link's visits, oldest first, as ``json`` (default) or ``csv``, streamed."""
    fmt = _format(request, EXPORT_FORMATS[::-1])
    found = api.shortener.visits(
        code, since=query_time(request, "since"), until=query_time(request, "until")
    )
    chunks = visits_csv(found) if fmt == "csv" else visits_json(code, found)
    return export(_primed(chunks), fmt, f"{code}-visits")


#: The fields of a conversion report (``POST /api/conversions``).
CONVERSION_FIELDS: Final = frozenset({"click_id", "kind", "value", "currency"})


def conversions(api: HttpApi, request: HttpRequest) -> Decision:
    """Record a conversion on a click id: 201 when new, 200 with the first one if repeated."""
    body = json_body(request, api.max_body_bytes)
    only_fields(body, CONVERSION_FIELDS)
    if "click_id" not in body:
        raise InvalidOption("click_id", "required: the sl_click value the landing page got")
    kind = body.get("kind", "lead")
    conversion, new = api.shortener.report_conversion(
        body["click_id"], kind, body.get("value"), body.get("currency")
    )
    return json_response(201 if new else 200, {**conversion.to_dict(), "created": new})


def funnels(api: HttpApi, request: HttpRequest) -> Decision:
    """Funnels added up per recipient (``by=recipient``, the default) or per campaign."""
    found = api.shortener.funnel_report(
        by=request.arg("by") or "recipient",
        campaign=request.arg("campaign"),
        tag=request.arg("tag"),
        since=query_time(request, "since"),
        until=query_time(request, "until"),
    )
    return json_response(200, {"funnels": {k: f.to_dict() for k, f in found.groups.items()}})


def api_fallback(api: HttpApi, request: HttpRequest, rest: str) -> Decision:
    """Any other path under the API prefix: 405 if a route has it (``Allow`` lists its
    methods), else 404, both in JSON like every API error."""
    path = "/api/" + rest
    for row in api.routes:
        if row.documented and row.group == "api" and _pattern(row.pattern).fullmatch(path):
            if request.method == "OPTIONS":
                return allowed_methods(row.methods)
            return method_not_allowed(row.methods)
    return no_route(path)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"<\w+>", "[^/]+", re.escape(pattern)))


def decode(api: HttpApi, request: HttpRequest) -> Decision:
    """The URLs in an uploaded picture, or (``?shorten=1``) a new link to the first."""
    if len(request.body) > api.max_upload_bytes:
        raise BodyTooLarge(f"the upload is larger than {api.max_upload_bytes:,} bytes")
    image = request.file("image")
    if image is None:
        raise InvalidOption("image", "send the picture as a multipart form field named image")
    if not wants_shortening(request):
        return json_response(200, {"payloads": decode_qr(image)})
    created = api.shortener.shorten_from_image(image, base_url=request.base_url)
    return link_created(_link_json(api, created, request))


# -- short links ---------------------------------------------------------------------------


def _qr(api: HttpApi, request: HttpRequest, code: str, fmt: str) -> Decision:
    """A link's QR image; drawing a new one counts against the client's render limit."""
    query = dict(request.query)
    platform = query.pop("platform", None)  # short domains: the URL for that app's users
    options = parse_qr_options(query)
    options["format"] = fmt
    refused = _qr_render_refusal(api, request, code, platform, options)
    if refused is not None:
        return refused
    drawn = api.shortener.qr(code, base_url=request.base_url, for_platform=platform, **options)
    return qr_image(drawn, fmt)


def _qr_render_refusal(
    api: HttpApi,
    request: HttpRequest,
    code: str,
    platform: str | None,
    options: Mapping[str, Any],
) -> Decision | None:
    """A 429 when this client has drawn too many uncached images lately; cache hits are free.

    Each new size or colour costs a fresh draw (up to half a second of CPU), so only
    misses count, per address (token holders never).
    """
    limiter = api.qr_render_limiter
    if limiter is None or not api.shortener.qr_would_draw(
        code, base_url=request.base_url, for_platform=platform, **options
    ):
        return None
    retry_after = qr_render_retry_after(
        limiter, api, api.shortener.storage.url, request, api.client_key(request)
    )
    return None if retry_after is None else rate_limited(retry_after, limiter.limit_text)


def qr_png(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    return _qr(api, request, code, "png")


def qr_svg(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    return _qr(api, request, code, "svg")


def _password_link(api: HttpApi, code: str) -> Link | None:
    """The link ``code`` if it exists and asks for a password (only then are tries counted)."""
    try:
        link = api.shortener.get(code)
    except (LinkNotFound, InvalidCode):
        return None
    return link if link.has_password else None


def resolve(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """A visitor opens a short link; wrong password tries are limited per link and address.

    Only tries on existing password links are counted, so posting to made-up codes
    creates no limiter state; a right password is never counted as a wrong one.
    """
    visitor = visitor_from(request)
    # A HEAD gets the answer a GET would, with nothing recorded or counted: link
    # checkers and mail scanners send HEADs with browser user agents.
    record = request.method != "HEAD"
    limiter = api.password_limiter
    link = _password_link(api, code) if visitor.password is not None and limiter else None
    if link is None:
        return api.shortener.resolve(code, visitor, base_url=request.base_url, record=record)
    store = api.shortener.storage.url
    key = f"{link.code}|{api.client_key(request)}"
    retry_after = password_retry_after(limiter, store, key)
    if retry_after is not None:
        lang = pick_language(visitor.accept_language, api.shortener.default_language)
        return password_throttled(
            code, lang, retry_after, template_dirs=api.shortener.template_dirs
        )
    answer = api.shortener.resolve(code, visitor, base_url=request.base_url, record=record)
    if answer.reason == Verdict.PASSWORD_WRONG.value:
        password_tried(limiter, store, key)
    return answer


# -- people across links (docs/people.md) ----------------------------------------------

#: The campaign path segment meaning "every campaign" (never a campaign's name).
EVERY_CAMPAIGN: Final = "*"


def _campaign_arg(campaign: str) -> str | None:
    return None if campaign == EVERY_CAMPAIGN else check_campaign(campaign)


def _people_funnels(shortener: Shortener, campaign: str | None) -> FunnelReport | None:
    """The campaign's funnel with the people rows' clicks; None where no conversions are kept."""
    if not isinstance(shortener.storage, RecordsConversions):
        return None
    return shortener.funnel_report(campaign=campaign, clicks="people")


def _min_clicks(request: HttpRequest, default: int) -> int:
    text = request.arg("min_clicks")
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise InvalidOption("min_clicks", "expected a whole number")
    return int(text)


def campaigns(api: HttpApi, request: HttpRequest) -> Decision:
    """Every campaign with a recipient's link, with its totals."""
    found = api.shortener.campaigns()
    body = {"campaigns": [{"name": name, **totals_to_json(t)} for name, t in found.items()]}
    return json_response(200, body)


def _people_rows(
    api: HttpApi, request: HttpRequest, campaign: str, *, recipients: bool
) -> Decision:
    chosen = _campaign_arg(campaign)
    fmt = _format(request, EXPORT_FORMATS[::-1])
    least = _min_clicks(request, 1 if fmt == "csv" else 0)
    kind = "recipients" if recipients else "visitors"
    if fmt == "csv":
        chunks = api.shortener.people_csv(chosen, recipients=recipients, min_clicks=least)
        return export(_primed(chunks), "csv", f"campaign-{kind}")
    limit = _limit(request, 20)
    assert limit is not None
    shortener = api.shortener
    if recipients:
        rows = shortener.top_recipients(chosen, limit=limit, min_clicks=least)
    else:
        rows = shortener.top_visitors(chosen, limit=limit, min_clicks=least)
    body: dict[str, Any] = {
        "campaign": chosen,
        kind: [row_to_json(row, recipients=recipients) for row in rows],
    }
    if recipients:
        body["totals"] = totals_to_json(shortener.people_totals(chosen))
        funnels = _people_funnels(shortener, chosen)
        if funnels is not None:  # the backend records conversions
            total, each = funnels
            body["funnel"] = total.to_dict()
            for row in body["recipients"]:
                funnel = each.get(row["id"])
                row["leads"], row["sales"] = (
                    (0, 0) if funnel is None else (funnel.leads, funnel.sales)
                )
    return json_response(200, body)


def campaign_recipients(api: HttpApi, request: HttpRequest, campaign: str) -> Decision:
    """A campaign's recipients, most clicks first, with reach and the campaign's totals."""
    return _people_rows(api, request, campaign, recipients=True)


def campaign_visitors(api: HttpApi, request: HttpRequest, campaign: str) -> Decision:
    """A campaign's visitors, most clicks first."""
    return _people_rows(api, request, campaign, recipients=False)


def people_forget(api: HttpApi, request: HttpRequest) -> Decision:
    """Delete one person's data: ``{"visitor": id}`` or ``{"recipient": id}``."""
    data = json_body(request, api.max_body_bytes)
    only_fields(data, ("visitor", "recipient"))
    if len(data) != 1:
        raise InvalidOption("body", "give exactly one of visitor or recipient")
    ((kind, who),) = data.items()
    if kind == "visitor":
        found = api.shortener.forget_visitor(who)
    else:
        found = api.shortener.forget_recipient(who)
    return json_response(200, {"forgotten": found})


def campaign_login(request: HttpRequest, params: Mapping[str, str], wrong: bool) -> Decision:
    """The campaign page's token form."""
    html = render_campaign_login(lang=_lang(request), campaign=params["campaign"], wrong=wrong)
    return html_page(401 if wrong else 200, html, reason="login")


def campaign_page(api: HttpApi, request: HttpRequest, campaign: str) -> Decision:
    """A campaign's leaderboard of recipients as a page (bars, reach, totals)."""
    lang = _lang(request)
    try:
        chosen = _campaign_arg(campaign)
    except InvalidOption:
        html = render_page("not_found", lang=lang, template_dirs=api.shortener.template_dirs)
        return html_page(404, html, reason="not_found")
    shortener = api.shortener
    html = render_campaign(
        lang=lang,
        campaign=chosen,
        rows=shortener.top_recipients(chosen, limit=100),
        totals=shortener.people_totals(chosen),
        funnels=_people_funnels(shortener, chosen),
        template_dirs=shortener.template_dirs,
    )
    return html_page(200, html, reason="campaign")


# -- short domains ---------------------------------------------------------------------------

_DOMAIN_FIELDS: Final = frozenset({"name", "pool", "default", "settings"})
_MARKS: Final = ("ok", "suspect", "blocked")


def _flag(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidOption(name, "expected true or false")
    return value


def domains(api: HttpApi, request: HttpRequest) -> Decision:
    """``GET``: every short domain with its state; ``POST``: add one."""
    if request.method == "POST":
        data = json_body(request, api.max_body_bytes)
        only_fields(data, _DOMAIN_FIELDS)
        made = api.shortener.add_domain(
            data.get("name"),  # type: ignore[arg-type]  # checked by add_domain
            pool=data.get("pool", "main"),
            default=bool(_flag(data, "default")),
            settings=data.get("settings"),
        )
        return json_response(201, made.to_dict())
    return json_response(200, {"domains": [d.to_dict() for d in api.shortener.domains()]})


def domain(api: HttpApi, request: HttpRequest, name: str) -> Decision:
    """``GET`` one domain, ``PATCH`` its pool, default or settings, ``DELETE`` it."""
    if request.action_method == "GET":
        return json_response(200, api.shortener.domain(name).to_dict())
    if request.method == "DELETE":
        if not api.shortener.remove_domain(name):
            raise DomainNotFound(name)
        return Decision(status=204, reason="deleted")
    data = json_body(request, api.max_body_bytes)
    only_fields(data, _DOMAIN_FIELDS - {"name"})
    changed = api.shortener.change_domain(
        name, pool=data.get("pool"), default=_flag(data, "default"), settings=data.get("settings")
    )
    return json_response(200, changed.to_dict())


def domain_mark(api: HttpApi, request: HttpRequest, name: str) -> Decision:
    """``POST {"state": "blocked", "platforms": ["wechat"], "reason": "…"}``: mark a domain
    (``platforms`` null with ``ok``: every platform)."""
    data = json_body(request, api.max_body_bytes)
    only_fields(data, frozenset({"state", "platforms", "reason"}))
    state = data.get("state")
    if state not in _MARKS:
        raise InvalidOption("state", f"expected one of {', '.join(_MARKS)}")
    platforms = data.get("platforms")
    reason = data.get("reason") or ""
    if state == "ok":
        marked = api.shortener.mark_ok(name, platforms, reason=reason)
    elif platforms is None:
        raise InvalidOption("platforms", 'name the platforms, e.g. ["wechat"]')
    elif state == "blocked":
        marked = api.shortener.mark_blocked(name, platforms, reason=reason)
    else:
        marked = api.shortener.mark_suspect(name, platforms, reason=reason)
    return json_response(200, marked.to_dict())
