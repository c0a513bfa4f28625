"""``/api/webhooks``: webhook endpoints and their delivery log over HTTP (token only).

The handlers, and the OpenAPI schemas and operations that describe them, kept together
here so the route table and ``openapi.py`` each gain only a few lines. The endpoint id
travels in the ``<code>`` path placeholder every adapter already routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidOption
from ..events import ANY, EVENT_TYPES
from ..models import Decision
from .request import HttpRequest, json_body, only_fields
from .responses import json_response

if TYPE_CHECKING:
    from .api import HttpApi

__all__ = ["WEBHOOK_OPERATIONS", "WEBHOOK_SCHEMAS", "webhook", "webhook_deliveries", "webhooks"]

_FIELDS: Final = frozenset({"url", "events", "secret", "description"})


def webhooks(api: HttpApi, request: HttpRequest) -> Decision:
    """``GET``: every endpoint (no secrets); ``POST``: add one (its secret shown once)."""
    if request.method == "POST":
        body = json_body(request, api.max_body_bytes)
        only_fields(body, _FIELDS)
        if "url" not in body:
            raise InvalidOption("url", "required: the receiver's http(s) URL")
        events = body.get("events", [ANY])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise InvalidOption("events", "must be a list of event names")
        description = body.get("description", "")
        endpoint = api.shortener.add_webhook(
            body["url"], events, body.get("secret"), description=description
        )
        return json_response(201, endpoint.to_dict(with_secret=True))
    return json_response(200, {"webhooks": [e.to_dict() for e in api.shortener.list_webhooks()]})


def webhook(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """``DELETE`` an endpoint and what waits for it."""
    api.shortener.remove_webhook(code)
    return Decision(status=204, reason="deleted")


def webhook_deliveries(api: HttpApi, request: HttpRequest, code: str) -> Decision:
    """An endpoint's delivery log, newest first (``?limit=``, 1 to 1000, default 100)."""
    raw = request.arg("limit") or "100"
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidOption("limit", "must be a whole number from 1 to 1000")
    if all(e.id != code for e in api.shortener.list_webhooks()):
        from ..errors import EndpointNotFound

        raise EndpointNotFound(code)
    rows = api.shortener.webhook_deliveries(code, limit=int(raw))
    return json_response(200, {"deliveries": [d.to_dict() for d in rows]})


_EVENT_NAMES: Final = [*EVENT_TYPES, ANY]

WEBHOOK_SCHEMAS: Final[dict[str, Any]] = {
    "NewWebhook": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 2048},
            "events": {
                "type": "array",
                "items": {"type": "string", "enum": _EVENT_NAMES},
                "default": [ANY],
            },
            "secret": {
                "type": ["string", "null"],
                "pattern": "^whsec_[A-Za-z0-9+/=]{32,}$",
                "description": "Standard Webhooks secret; made when not given.",
            },
            "description": {"type": "string", "maxLength": 200},
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["id", "url", "events", "created_at", "description"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string", "enum": _EVENT_NAMES}},
            "created_at": {"type": "string", "format": "date-time"},
            "description": {"type": "string"},
            "secret": {"type": "string", "description": "Only in the answer that made it."},
        },
    },
    "WebhookList": {
        "type": "object",
        "required": ["webhooks"],
        "properties": {
            "webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}
        },
    },
    "WebhookDeliveries": {
        "type": "object",
        "required": ["deliveries"],
        "properties": {
            "deliveries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "message_id": {"type": "string"},
                        "endpoint_id": {"type": "string"},
                        "event": {"type": "string"},
                        "attempt": {"type": "integer"},
                        "at": {"type": "string", "format": "date-time"},
                        "outcome": {"type": "string", "enum": ["delivered", "failed", "dead"]},
                        "status": {"type": ["integer", "null"]},
                        "error": {"type": ["string", "null"]},
                        "duration_ms": {"type": "integer"},
                    },
                },
            }
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json("Error", description)


_AUTH: Final[list[dict[str, list[str]]]] = [{"bearer": []}]
_DENIED: Final = {
    "401": _error("A valid API token is required."),
    "403": _error("Not allowed (no token configured on the server)."),
    "429": _error("Too many requests from this address (wrong tokens); see Retry-After."),
    "501": _error("The store keeps no webhook outbox (`capability_missing`), or the "
                  "`webhooks` extra is not installed."),
    "503": _error("The link store is unavailable; see Retry-After."),
}  # fmt: skip
_ID: Final = "The path's `{code}` is the endpoint's id (`ep_…`)."

WEBHOOK_OPERATIONS: Final[dict[str, dict[str, Any]]] = {
    "webhooks": {
        "get": {
            "summary": "List webhook endpoints (secrets are never listed)",
            "security": _AUTH,
            "responses": {"200": _json("WebhookList", "The endpoints."), **_DENIED},
        },
        "post": {
            "summary": "Add a webhook endpoint; the answer holds its signing secret, once",
            "description": "Events are signed per Standard Webhooks and delivered from the "
            "durable outbox (docs/webhooks.md).",
            "security": _AUTH,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewWebhook"}}
                },
            },
            "responses": {
                "201": _json("Webhook", "Added, with its secret."),
                "400": _error("Invalid input; `error.field` names the field."),
                "413": _error("The body is too large."),
                **_DENIED,
            },
        },
    },
    "webhook": {
        "delete": {
            "summary": "Remove a webhook endpoint and its waiting messages",
            "description": _ID,
            "security": _AUTH,
            "responses": {
                "204": {"description": "Removed."},
                "404": _error("No such endpoint."),
                **_DENIED,
            },
        }
    },
    "webhook_deliveries": {
        "get": {
            "summary": "An endpoint's delivery log, newest first",
            "description": _ID,
            "security": _AUTH,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                }
            ],
            "responses": {
                "200": _json("WebhookDeliveries", "The attempts."),
                "400": _error("A bad limit."),
                "404": _error("No such endpoint."),
                **_DENIED,
            },
        }
    },
}
