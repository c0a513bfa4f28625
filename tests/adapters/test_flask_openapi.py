"""schemathesis against ``/api/openapi.json`` on the live Flask app: no 5xx, answers conform."""

from __future__ import annotations

import re
from collections.abc import Iterator

import flask
import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from suolink.adapters.flask import create_app, get_shortener
from suolink.api import ROUTES
from suolink.openapi import openapi_document
from tests.http_scenarios import AUTH, TOKEN


def _app() -> flask.Flask:
    app = create_app("memory://", api_token=TOKEN, secret="schema", allow_anonymous=False)
    client = app.test_client()
    for i, code in enumerate(("known1", "known2")):
        client.post(
            "/api/links",
            json={"url": f"https://example.com/{i}", "code": code, "tags": ["t"]},
            headers=AUTH,
        )
    return app


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
APP = _app()
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close() -> Iterator[None]:
    yield
    get_shortener(APP).close()


def test_document_covers_every_route() -> None:
    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    for route in (r for r in ROUTES if r.documented):
        path = re.sub(r"<(\w+)>", r"{\1}", route.pattern)
        assert set(doc["paths"][path]) == {m.lower() for m in route.methods}, route.name
    served = APP.test_client().get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json["paths"] == doc["paths"]
    listing = doc["paths"]["/api/links"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "limit",
        "cursor",
        "tag",
        "q",
        "format",
        "for_platform",
    }


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case: schemathesis.Case) -> None:
    # Schema-valid input may still break a rule JSON Schema cannot say (a past expiry, a
    # reserved alias), so "positive data acceptance" is not asked for; and unknown query
    # parameters are ignored on purpose, so neither is "negative data rejection".
    case.call_and_validate(headers={**AUTH, **(case.headers or {})}, checks=CHECKS)
