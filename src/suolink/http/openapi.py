"""The OpenAPI 3.1 document of the HTTP surface, built from the routes it is handed.

Served at ``GET /api/openapi.json`` for :data:`~suolink.http.routes.ROUTES`; a
schemathesis test holds the views to it, so the document and what the views answer
cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from .._version import __version__
from ..clicks import MAX_CLICK_ID_LENGTH
from ..conversions import KIND_PATTERN
from ..fields import link_schema, settings_schema
from ..qr.options import MAX_BORDER, MAX_SCALE, MAX_SIDE, MIN_SIZE
from ..search import MAX_QUERY_LENGTH
from .webhook_api import WEBHOOK_OPERATIONS, WEBHOOK_SCHEMAS

if TYPE_CHECKING:
    from .routes import Route

__all__ = ["openapi_document"]

_JSON: Final = "application/json"
#: Settings a new link and a change take: generated from the link fields' inputs.
_SETTINGS: Final = settings_schema("create")
_CHANGES: Final = settings_schema("update")
#: A link as answers show it: generated from the link fields.
_LINK: Final = link_schema()
_STRINGS: Final = {"type": "array", "items": {"type": "string"}}
_COUNTS: Final = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_COUNT_FIELDS: Final = (
    "by_app",
    "by_os",
    "by_device",
    "by_day",
    "by_bot",
    "by_browser",
    "by_outcome",
    "by_country",
    "by_arm",
    "by_domain",
)

SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string", "description": "Stable name, e.g. invalid_url."},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The input field at fault."},
                    "retry_after": {"type": "integer", "description": "Seconds (429 only)."},
                    "extra": {
                        "type": "string",
                        "description": "The extra to install (501 missing_dependency only).",
                    },
                },
            }
        },
    },
    "NewLink": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 8192},
            "code": {
                "type": ["string", "null"],
                "pattern": "^[A-Za-z0-9_-]+$",
                "description": "A custom alias.",
            },
            "strategy": {"type": ["string", "null"], "enum": ["hashids", "random", None]},
            **_SETTINGS,
        },
    },
    "LinkChanges": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"url": {"type": "string", "format": "uri"}, **_CHANGES},
    },
    "Link": {
        "type": "object",
        "required": [*_LINK["required"], "short_url", "has_password"],
        "properties": {
            **_LINK["properties"],
            "short_url": {"type": "string"},
            "has_password": {"type": "boolean"},
        },
    },
    "LinkList": {
        "type": "object",
        "required": ["links", "next_cursor"],
        "properties": {
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass back as ?cursor= for the next page; null on the last.",
            },
        },
    },
    "BulkResults": {
        "type": "object",
        "required": ["created", "failed", "results"],
        "properties": {
            "created": {"type": "integer"},
            "failed": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "ok"],
                    "properties": {
                        "index": {"type": "integer"},
                        "ok": {"type": "boolean"},
                        "link": {"$ref": "#/components/schemas/Link"},
                        "status": {"type": "integer"},
                        "error": {"$ref": "#/components/schemas/Error/properties/error"},
                    },
                },
            },
        },
    },
    "Domain": {
        "type": "object",
        "required": ["name", "pool", "default", "scheme", "settings", "states", "added_at"],
        "properties": {
            "name": {"type": "string", "description": "Host (IDNA, lower-case)."},
            "pool": {"type": "string"},
            "default": {"type": "boolean", "description": "The domain of unbound links."},
            "scheme": {"type": "string", "enum": ["http", "https"]},
            "settings": {
                "type": "object",
                "properties": {
                    "anti_block": {"type": "array", "items": {"type": "string"}},
                    "allow": {"type": "array", "items": {"type": "string"}},
                    "not_found_url": {"type": "string", "format": "uri"},
                    "language": {"type": "string"},
                },
            },
            "states": {
                "type": "object",
                "description": "Platform -> its state; a platform not listed is ok.",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "string", "enum": ["ok", "suspect", "blocked"]},
                        "since": {"type": "string", "format": "date-time"},
                        "reason": {"type": "string"},
                    },
                },
            },
            "added_at": {"type": "string", "format": "date-time"},
            "last_check": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Stats": {
        "type": "object",
        "required": ["code", "total", "humans", "bots", "by_day"],
        "properties": {
            "code": {"type": "string"},
            "total": {"type": "integer"},
            "humans": {"type": "integer"},
            "bots": {"type": "integer"},
            "unique_visitors": {"type": "integer"},
            "redirects": {"type": "integer"},
            **dict.fromkeys(_COUNT_FIELDS, _COUNTS),
            "top_visitors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"visitor": {"type": "string"}, "visits": {"type": "integer"}},
                },
            },
            "top_referers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"referer": {"type": "string"}, "visits": {"type": "integer"}},
                },
            },
            "funnel": {
                "$ref": "#/components/schemas/Funnel",
            },
        },
    },
    "Funnel": {
        "type": ["object", "null"],
        "description": "Clicks (counted redirects) → leads → sales, with value sums per kind "
        "and currency as decimal strings (null: the store keeps no conversions).",
        "properties": {
            "clicks": {"type": "integer"},
            "leads": {"type": "integer"},
            "sales": {"type": "integer"},
            "conversions": _COUNTS,
            "values": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                },
            },
        },
    },
    "NewConversion": {
        "type": "object",
        "required": ["click_id"],
        "additionalProperties": False,
        "properties": {
            "click_id": {
                "type": "string",
                "maxLength": MAX_CLICK_ID_LENGTH,
                "description": "The sl_click parameter the landing page received.",
            },
            "kind": {
                "type": "string",
                "pattern": f"^{KIND_PATTERN}$",
                "default": "lead",
                "description": "lead, sale or a short lower-case word of your own.",
            },
            "value": {
                "type": ["string", "number", "null"],
                "description": "The amount (a decimal string keeps it exact); needs currency.",
            },
            "currency": {
                "type": ["string", "null"],
                "pattern": "^[A-Za-z]{3}$",
                "description": "ISO 4217, such as CNY; needs value.",
            },
        },
    },
    "Conversion": {
        "type": "object",
        "required": ["click_id", "code", "kind", "at", "clicked_at", "created"],
        "properties": {
            "click_id": {"type": "string"},
            "code": {"type": "string"},
            "kind": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "clicked_at": {"type": "string", "format": "date-time"},
            "visitor_id": {"type": ["string", "null"]},
            "value": {"type": ["string", "null"], "description": "Exact decimal text."},
            "currency": {"type": ["string", "null"]},
            "created": {
                "type": "boolean",
                "description": "False: this click id and kind were reported before; "
                "the conversion shown is the first one.",
            },
        },
    },
    "Payloads": {
        "type": "object",
        "required": ["payloads"],
        "properties": {"payloads": _STRINGS},
    },
    "VisitExport": {
        "type": "object",
        "required": ["code", "visits", "total"],
        "properties": {
            "code": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "visits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "outcome"],
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "outcome": {"type": "string"},
                        "is_bot": {"type": "boolean"},
                    },
                },
            },
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(name)}}}


#: ``?for_platform=``: the ``short_url`` answered is the first healthy domain for it.
_FOR_PLATFORM: dict[str, Any] = {
    "name": "for_platform",
    "in": "query",
    "schema": {"type": "string"},
    "description": "A platform id (e.g. `wechat`): `short_url` uses the first domain of the "
    "link's pool that is not blocked there (docs/domains.md).",
}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "Invalid input; `error.field` names the field.",
        401: "A valid API token is required.",
        403: "Not allowed (no token configured on the server).",
        404: "No such link.",
        409: "The alias is taken.",
        410: "Gone: a click id past its time to live.",
        413: "The body or upload is too large.",
        429: "Too many requests from this address (anonymous, or wrong tokens); see Retry-After.",
        501: "An optional part is not installed (`missing_dependency`; `error.extra` names "
        "it), or the store cannot do this (`capability_missing`).",
        503: "The link store is unavailable; see Retry-After.",
    }
    return {str(s): _json("Error", words[s]) for s in statuses}


_HTML: Final = {"text/html": {"schema": {"type": "string"}}}
_QR_LIMITED: Final = _json(
    "Error", "Too many images not yet cached drawn from this address; see Retry-After."
)
_CODE_PARAM: Final = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
_NAME_PARAM: Final = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 300},
    "description": "A short domain's name.",
}
_DOMAIN_BODY: Final = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "pool": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
        "default": {"type": "boolean"},
        "settings": {"$ref": "#/components/schemas/Domain/properties/settings"},
    },
}
_QR_PARAMS: Final = [
    {
        "name": "platform",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Short domains: the URL for this platform's users (wechat, qq, …).",
    },
    {
        "name": "scale",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SCALE},
        "description": "Pixels per module (not with size).",
    },
    {
        "name": "size",
        "in": "query",
        "schema": {"type": "integer", "minimum": MIN_SIZE, "maximum": MAX_SIDE},
        "description": "Side in pixels (not with scale).",
    },
    {
        "name": "border",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_BORDER},
    },
    {"name": "ec", "in": "query", "schema": {"type": "string", "enum": ["L", "M", "Q", "H"]}},
    {"name": "fg", "in": "query", "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{6}$"}},
    {"name": "bg", "in": "query", "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{6}$"}},
]
_CAMPAIGN_PARAM: Final = {
    "name": "campaign",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A campaign's name, or `*` for every campaign.",
}
_PEOPLE_PARAMS: Final = [
    _CAMPAIGN_PARAM,
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
    {"name": "min_clicks", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
]
_AUTH: Final[list[dict[str, list[str]]]] = [{"bearer": []}]
_MANAGE: Final = (400, 401, 403, 404, 429, 503)


def _operations() -> dict[str, dict[str, Any]]:
    """Per route name, per method: the operation object (what the view really answers)."""
    page = {"description": "An HTML page.", "content": _HTML}
    return {
        "index": {
            "get": {
                "summary": "The web page: shorten, scan or upload a QR code",
                "responses": {"200": page},
            }
        },
        "health": {
            "get": {
                "summary": "Is the link store reachable?",
                "responses": {
                    "200": {
                        "description": "Healthy.",
                        "content": {
                            _JSON: {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"const": "ok"}},
                                }
                            }
                        },
                    },
                    **_errors(400, 503),
                },
            }
        },
        "openapi": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    },
                    **_errors(400),
                },
            }
        },
        "links": {
            "get": {
                "summary": "List links, newest first, a page at a time",
                "security": _AUTH,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "description": "Links per page (default 50).",
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "`next_cursor` of the previous page.",
                    },
                    {
                        "name": "tag",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Only links with this tag.",
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": MAX_QUERY_LENGTH},
                        "description": "Only links whose code, URL, title or a tag contains "
                        "this (any case). A scan: a page may be short and still have a "
                        "`next_cursor`.",
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["json", "csv"]},
                        "description": "`csv`: every matching link (from `cursor`, at most "
                        "`limit`), streamed.",
                    },
                    _FOR_PLATFORM,
                ],
                "responses": {
                    "200": {
                        "description": "A page of links, or the CSV export.",
                        "content": {
                            _JSON: {"schema": _ref("LinkList")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(*_MANAGE),
                },
            },
            "post": {
                "summary": "Create a short link",
                "description": "Needs a token unless the server allows anonymous creation "
                "(then rate-limited per IP: 429 with Retry-After).",
                "security": [*_AUTH, {}],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("NewLink")}},
                },
                "responses": {
                    "201": _json("Link", "Created; Location is the short URL."),
                    **_errors(400, 401, 403, 409, 413, 429, 503),
                },
            },
        },
        "links_bulk": {
            "post": {
                "summary": "Create up to 100 links, each made or refused on its own",
                "description": "Each item is stored whole or not at all; the answer lists "
                "every item's result in order (200 even when some were refused).",
                "security": [*_AUTH, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["links"],
                                "additionalProperties": False,
                                "properties": {
                                    "links": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 100,
                                        "items": _ref("NewLink"),
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Every item's result, in order.",
                        "content": {_JSON: {"schema": _ref("BulkResults")}},
                    },
                    **_errors(400, 401, 403, 413, 429, 503),
                },
            }
        },
        "link": {
            "get": {
                "summary": "One link",
                "security": _AUTH,
                "parameters": [_FOR_PLATFORM],
                "responses": {"200": _json("Link", "The link."), **_errors(*_MANAGE)},
            },
            "patch": {
                "summary": "Change a link's settings",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("LinkChanges")}},
                },
                "responses": {"200": _json("Link", "The changed link."), **_errors(*_MANAGE, 413)},
            },
            "delete": {
                "summary": "Delete a link and its visits",
                "security": _AUTH,
                "responses": {"204": {"description": "Deleted."}, **_errors(*_MANAGE)},
            },
        },
        "domains": {
            "get": {
                "summary": "Every short domain, with its state per platform",
                "security": _AUTH,
                "responses": {
                    "200": {
                        "description": "The domains, in rotation order.",
                        "content": {
                            _JSON: {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "domains": {"type": "array", "items": _ref("Domain")}
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 429, 501, 503),
                },
            },
            "post": {
                "summary": "Add a short domain to a pool",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {**_DOMAIN_BODY, "required": ["name"]}}},
                },
                "responses": {
                    "201": _json("Domain", "Added."),
                    **_errors(400, 401, 403, 409, 429, 501, 503),
                },
            },
        },
        "domain": {
            "get": {
                "summary": "One short domain",
                "security": _AUTH,
                "responses": {"200": _json("Domain", "The domain."), **_errors(*_MANAGE)},
            },
            "patch": {
                "summary": "Move a domain to another pool, make it the default, set its settings",
                "security": _AUTH,
                "requestBody": {"required": True, "content": {_JSON: {"schema": _DOMAIN_BODY}}},
                "responses": {"200": _json("Domain", "Changed."), **_errors(*_MANAGE)},
            },
            "delete": {
                "summary": "Remove a short domain (its links resolve on the rest of the pool)",
                "security": _AUTH,
                "responses": {"204": {"description": "Removed."}, **_errors(*_MANAGE)},
            },
        },
        "domain_mark": {
            "post": {
                "summary": "Mark a domain ok, suspect or blocked inside some platforms",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["state"],
                                "additionalProperties": False,
                                "properties": {
                                    "state": {
                                        "type": "string",
                                        "enum": ["ok", "suspect", "blocked"],
                                    },
                                    "platforms": {
                                        "type": ["array", "null"],
                                        "items": {"type": "string"},
                                        "description": "Null with ok: every platform.",
                                    },
                                    "reason": {"type": "string", "maxLength": 500},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json("Domain", "The domain after."), **_errors(*_MANAGE)},
            }
        },
        "link_stats": {
            "get": {
                "summary": "Visit counts by platform, app, OS, device and day",
                "security": _AUTH,
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string", "format": "date-time"}}
                    for n in ("since", "until")
                ],
                "responses": {"200": _json("Stats", "The counts."), **_errors(*_MANAGE)},
            }
        },
        "conversions": {
            "post": {
                "summary": "Record a lead, sale or other conversion on a click id",
                "description": "The click id is the sl_click parameter a redirect of a "
                "forward_click_id link handed the landing page. Reporting the same click id "
                "and kind again changes nothing (200, created false). 400: not a click id "
                "of this server (forged or garbled) or a bad kind, value or currency; "
                "404: its link was deleted; 410: older than click_id_ttl.",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("NewConversion")}},
                },
                "responses": {
                    "201": _json("Conversion", "Recorded."),
                    "200": _json("Conversion", "Reported before: the first conversion."),
                    **_errors(400, 401, 403, 404, 410, 413, 429, 501, 503),
                },
            }
        },
        "funnels": {
            "get": {
                "summary": "Funnels added up per recipient or per campaign",
                "description": "Each group's links' clicks, conversions and values "
                "(a scan of the links: meant for one campaign at a time).",
                "security": _AUTH,
                "parameters": [
                    {
                        "name": "by",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["recipient", "campaign"]},
                    },
                    {"name": "campaign", "in": "query", "schema": {"type": "string"}},
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    *(
                        {
                            "name": n,
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        }
                        for n in ("since", "until")
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "Funnels by recipient or campaign.",
                        "content": {
                            _JSON: {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "funnels": {
                                            "type": "object",
                                            "additionalProperties": _ref("Funnel"),
                                        }
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 429, 501, 503),
                },
            }
        },
        "link_visits": {
            "get": {
                "summary": "Export a link's visits, oldest first (JSON or CSV, streamed)",
                "security": _AUTH,
                "parameters": [
                    *(
                        {
                            "name": n,
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        }
                        for n in ("since", "until")
                    ),
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["json", "csv"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The visits.",
                        "content": {
                            _JSON: {"schema": _ref("VisitExport")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(*_MANAGE),
                },
            }
        },
        "campaigns": {
            "get": {
                "summary": "Campaigns with recipients' links, with their totals",
                "security": _AUTH,
                "responses": {
                    "200": {"description": "The campaigns.", "content": {_JSON: {}}},
                    **_errors(401, 403, 429, 501, 503),
                },
            }
        },
        "campaign_recipients": {
            "get": {
                "summary": "A campaign's recipients, most clicks first (JSON or CSV segment)",
                "description": "Each row: clicks on the recipient's links, distinct links, "
                "first and last click, reach (distinct other visitors) and the recipient's own "
                "visitor id; `totals.average_reach` is the campaign's 裂变系数. `*` names every "
                "campaign. CSV lists everyone with at least `min_clicks` (default 1).",
                "security": _AUTH,
                "parameters": _PEOPLE_PARAMS,
                "responses": {
                    "200": {
                        "description": "The recipients.",
                        "content": {_JSON: {}, "text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 403, 429, 501, 503),
                },
            }
        },
        "campaign_visitors": {
            "get": {
                "summary": "A campaign's visitors, most clicks first (JSON or CSV segment)",
                "security": _AUTH,
                "parameters": _PEOPLE_PARAMS,
                "responses": {
                    "200": {
                        "description": "The visitors.",
                        "content": {_JSON: {}, "text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 403, 429, 501, 503),
                },
            }
        },
        "people_forget": {
            "post": {
                "summary": "Delete one person's data (a visitor or a recipient)",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "minProperties": 1,
                                "maxProperties": 1,
                                "properties": {
                                    "visitor": {"type": "string"},
                                    "recipient": {"type": "string"},
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "`forgotten`: anything was known.",
                        "content": {_JSON: {}},
                    },
                    **_errors(400, 401, 403, 429, 501, 503),
                },
            }
        },
        "campaign_page": {
            "get": {
                "summary": "A campaign's leaderboard page (asks for the token)",
                "parameters": [_CAMPAIGN_PARAM],
                "responses": {"200": page, "401": page, "404": page, **_errors(429)},
            },
            "post": {
                "summary": "A campaign's leaderboard page, with the token as form field `token`",
                "parameters": [_CAMPAIGN_PARAM],
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"token": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"200": page, "401": page, "404": page, **_errors(429)},
            },
        },
        "stats_page": {
            "get": {
                "summary": "The stats page of a link (asks for the token)",
                "responses": {"200": page, "401": page, "404": page, "400": page, **_errors(429)},
            },
            "post": {
                "summary": "The stats page of a link, with the token as form field `token`",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"token": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {
                    "200": page,
                    "401": page,
                    "404": page,
                    "400": page,
                    **_errors(429),
                },
            },
        },
        "decode": {
            "post": {
                "summary": "Read the QR codes in a picture",
                "description": "With `?shorten=1`, shorten the first link found (201).",
                "security": [*_AUTH, {}],
                "parameters": [
                    {"name": "shorten", "in": "query", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["image"],
                                "properties": {
                                    "image": {"type": "string", "contentMediaType": "image/*"}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("Payloads", "The texts of the codes found."),
                    "201": _json("Link", "Shortened (with ?shorten=1)."),
                    **_errors(400, 401, 403, 409, 413, 429, 501, 503),
                },
            }
        },
        "qr_png": {
            "get": {
                "summary": "The QR code of a short link, PNG",
                "parameters": _QR_PARAMS,
                "responses": {
                    "200": {"description": "PNG", "content": {"image/png": {}}},
                    **_errors(400, 404, 501, 503),
                    "429": _QR_LIMITED,
                },
            }
        },
        "qr_svg": {
            "get": {
                "summary": "The QR code of a short link, SVG",
                "parameters": _QR_PARAMS,
                "responses": {
                    "200": {"description": "SVG", "content": {"image/svg+xml": {}}},
                    **_errors(400, 404, 501, 503),
                    "429": _QR_LIMITED,
                },
            }
        },
        "resolve": {
            method: {
                "summary": "Open a short link (redirect, guide page, refusal, password)",
                "responses": {
                    "301": {"description": "Redirect (if configured)."},
                    "302": {"description": "Redirect to the target."},
                    "303": {"description": "Redirect (if configured)."},
                    "307": {"description": "Redirect (if configured)."},
                    "308": {"description": "Redirect (if configured)."},
                    "200": page,
                    "401": page,
                    "403": page,
                    "404": page,
                    "410": page,
                    "503": {"description": "Unavailable.", "content": {"text/plain": {}}},
                },
            }
            for method in ("get", "post")
        },
    }


def _path(pattern: str, prefix: str) -> str:
    return (prefix + re.sub(r"<(\w+)>", r"{\1}", pattern)) or "/"


def openapi_document(
    routes: Iterable[Route],
    *,
    server_url: str | None = None,
    api_prefix: str = "",
    link_prefix: str = "",
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of ``routes``, in their order.

    Paths carry the adapter's prefixes: ``link_prefix`` for the ``"link"`` group (short
    links and their QR codes), ``api_prefix`` for the rest; ``server_url`` is the origin
    they hang from.
    """
    operations = {**_operations(), **WEBHOOK_OPERATIONS}
    paths: dict[str, Any] = {}
    for route in routes:
        if not route.documented:
            continue
        ops = operations[route.name]
        item: dict[str, Any] = {}
        for method in route.methods:
            op = dict(ops[method.lower()])
            op["operationId"] = f"{route.name}_{method.lower()}"
            if "<code>" in route.pattern:
                op["parameters"] = [_CODE_PARAM, *op.get("parameters", [])]
            if "<name>" in route.pattern:
                op["parameters"] = [_NAME_PARAM, *op.get("parameters", [])]
            item[method.lower()] = op
        prefix = link_prefix if route.group == "link" else api_prefix
        paths[_path(route.pattern, prefix.rstrip("/"))] = item
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "suolink",
            "version": __version__,
            "description": "Short links that still open inside WeChat, QQ and other in-app "
            "browsers, with QR codes and click statistics.",
        },
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **WEBHOOK_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url is not None:
        doc["servers"] = [{"url": server_url}]
    return doc
