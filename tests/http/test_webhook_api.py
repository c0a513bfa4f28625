"""``/api/webhooks``: add, list, remove endpoints and read their log, token only."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from suolink.http import HttpApi
from suolink.http.openapi import openapi_document
from suolink.http.routes import ROUTES
from suolink.shortener import Shortener

from .conftest import TOKEN, json_request, request


@pytest.fixture
def api(make_api: Callable[..., HttpApi]) -> HttpApi:
    return make_api(api_token=TOKEN)


def _body(decision: object) -> dict[str, object]:
    return json.loads(decision.body)  # type: ignore[attr-defined, no-any-return]


def test_add_list_log_remove(api: HttpApi, shortener: Shortener) -> None:
    payload = json.dumps(
        {"url": "http://127.0.0.1:9/h", "events": ["link.created"], "description": "crm"}
    ).encode()
    added = api.handle("webhooks", json_request("POST", payload))
    assert added.status == 201
    endpoint = _body(added)
    assert str(endpoint["secret"]).startswith("whsec_")
    listed = _body(api.handle("webhooks", request("GET", token=TOKEN)))
    assert listed == {"webhooks": [{k: v for k, v in endpoint.items() if k != "secret"}]}
    shortener.shorten("https://example.com/")
    log = api.handle("webhook_deliveries", request("GET", token=TOKEN), code=endpoint["id"])
    assert _body(log) == {"deliveries": []}
    assert shortener.webhooks is not None
    assert shortener.webhooks.storage.pending(str(endpoint["id"])) == 1
    gone = api.handle("webhook", request("DELETE", token=TOKEN), code=endpoint["id"])
    assert gone.status == 204
    again = api.handle("webhook", request("DELETE", token=TOKEN), code=endpoint["id"])
    assert again.status == 404
    assert _body(again)["error"]["type"] == "endpoint_not_found"  # type: ignore[index]
    missing = api.handle("webhook_deliveries", request("GET", token=TOKEN), code="ep_nope")
    assert missing.status == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://x"}, "url"),
        ({}, "url"),
        ({"url": "http://127.0.0.1/", "events": ["nope"]}, "event"),
        ({"url": "http://127.0.0.1/", "events": "link.created"}, "events"),
        ({"url": "http://127.0.0.1/", "secret": "plain"}, "secret"),
        ({"url": "http://127.0.0.1/", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: HttpApi, payload: dict[str, object], field: str
) -> None:
    answer = api.handle("webhooks", json_request("POST", json.dumps(payload).encode()))
    assert answer.status == 400
    assert _body(answer)["error"]["field"] == field  # type: ignore[index]


def test_every_webhook_route_needs_the_token(api: HttpApi) -> None:
    assert api.handle("webhooks", request("GET")).status == 401
    payload = json.dumps({"url": "http://127.0.0.1/"}).encode()
    assert api.handle("webhooks", json_request("POST", payload, token=None)).status == 401
    assert api.handle("webhook", request("DELETE"), code="ep_x").status == 401
    assert api.handle("webhook_deliveries", request("GET"), code="ep_x").status == 401


def test_a_bad_limit_is_refused(api: HttpApi) -> None:
    answer = api.handle(
        "webhook_deliveries", request("GET", token=TOKEN, query=(("limit", "0"),)), code="ep_x"
    )
    assert answer.status == 400


def test_the_routes_are_documented() -> None:
    doc = openapi_document(ROUTES)
    assert set(doc["paths"]["/api/webhooks"]) == {"get", "post"}
    assert "delete" in doc["paths"]["/api/webhooks/{code}"]
    assert "NewWebhook" in doc["components"]["schemas"]
