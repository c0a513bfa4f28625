"""Every answer's headers and body shape: JSON, API errors, pages (CSP nonce), redirects."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.errors import (
    BackendUnavailable,
    BodyTooLarge,
    CodeTaken,
    ConfigurationError,
    InvalidCode,
    InvalidOption,
    InvalidURL,
    LinkNotFound,
    SuolinkError,
)
from suolink.http import responses
from suolink.models import Decision, PageDecision, Redirect


def _body(decision: Decision) -> dict[str, object]:
    data: dict[str, object] = json.loads(decision.body)
    return data


def test_json_is_utf8_never_cached_and_not_sniffed() -> None:
    decision = responses.json_response(201, {"名": 1}, extra_headers=(("X-A", "b"),))
    assert decision.status == 201
    assert decision.headers == (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-A", "b"),
    )
    assert decision.body == '{"名":1}'.encode()


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (InvalidURL("ftp://x", "bad"), 400, {"type": "invalid_url", "field": "url"}),
        (InvalidCode("a b", "bad"), 400, {"type": "invalid_code", "field": "code"}),
        (InvalidOption("tags", "bad"), 400, {"type": "invalid_option", "field": "tags"}),
        (BodyTooLarge("big"), 413, {"type": "body_too_large"}),
        (CodeTaken("abc"), 409, {"type": "code_taken"}),
        (LinkNotFound("abc"), 404, {"type": "link_not_found"}),
        (BackendUnavailable("down"), 503, {"type": "backend_unavailable"}),
        (ConfigurationError("oops"), 500, {"type": "configuration_error"}),
    ],
)
def test_error_json_has_a_stable_type_a_message_and_the_field(
    exc: SuolinkError, status: int, error: dict[str, str]
) -> None:
    decision = responses.error_response(exc)
    assert decision.status == status
    body = _body(decision)
    assert list(body) == ["error"]
    got = body["error"]
    assert isinstance(got, dict)
    assert got == {**error, "message": str(exc)}
    assert list(got)[:2] == ["type", "message"]


def test_an_error_status_outside_4xx_5xx_is_sent_as_500() -> None:
    class Odd(SuolinkError):
        http_status = 302

    assert responses.error_response(Odd("x")).status == 500


def test_refusals_name_their_type_and_headers() -> None:
    unauthorized = responses.unauthorized()
    assert unauthorized.status == 401
    assert ("WWW-Authenticate", 'Bearer realm="suolink"') in unauthorized.headers
    assert _body(unauthorized)["error"] == {
        "type": responses.UNAUTHORIZED,
        "message": "a valid API token is required",
    }
    forbidden = responses.no_token_configured()
    assert forbidden.status == 403
    assert "SUOLINK_API_TOKEN" in str(_body(forbidden)["error"])
    limited = responses.rate_limited(7, "3 per 1 minute")
    assert limited.status == 429
    assert ("Retry-After", "7") in limited.headers
    error = _body(limited)["error"]
    assert isinstance(error, dict)
    assert (error["type"], error["retry_after"]) == ("rate_limited", 7)


def test_unavailable_is_plain_text_for_visitors_and_json_for_the_api() -> None:
    exc = BackendUnavailable("down")
    plain = responses.unavailable(exc, plain=True)
    assert (plain.status, plain.reason) == (503, "unavailable")
    assert plain.headers == (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Retry-After", "5"),
    )
    api = responses.unavailable(exc, status=500)
    assert api.status == 500
    assert ("Retry-After", "5") in api.headers
    assert _body(api)["error"] == {"type": "backend_unavailable", "message": plain.body.decode()}


@settings(deadline=None)  # a loaded shared machine must not fail it
@given(st.text(alphabet="abcXYZ019-_", min_size=8, max_size=30) | st.none())
def test_pages_run_scripts_only_with_their_nonce(nonce: str | None) -> None:
    page = responses.html_page(200, "<p>é</p>", reason="x", nonce=nonce)
    headers = dict(page.headers)
    csp = headers["Content-Security-Policy"]
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    assert f"script-src {script};" in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Robots-Tag"] == "noindex, nofollow"
    assert page.body == "<p>é</p>".encode()
    assert page.html == "<p>é</p>"
    assert isinstance(page, PageDecision)


def test_the_model_constructors_are_the_same_builders() -> None:
    extra = (("Retry-After", "3"),)
    assert PageDecision.html_page(429, "<p>", reason="r", nonce="n", extra_headers=extra) == (
        responses.html_page(429, "<p>", reason="r", nonce="n", extra_headers=extra)
    )
    assert Redirect.to("https://t.example/", 301) == responses.redirect("https://t.example/", 301)
    moved = responses.redirect("https://t.example/")
    assert (moved.status, moved.location, moved.reason) == (302, "https://t.example/", "redirect")
    assert dict(moved.headers) == {
        "Location": "https://t.example/",
        "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer-when-downgrade",
    }


@pytest.mark.parametrize(("fmt", "ctype"), [("png", "image/png"), ("svg", "image/svg+xml")])
def test_qr_images_are_cacheable_and_inert(fmt: str, ctype: str) -> None:
    decision = responses.qr_image(b"img", fmt)
    headers = dict(decision.headers)
    assert headers["Content-Type"] == ctype
    assert headers["Cache-Control"] == "public, max-age=86400"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert decision.body == b"img"


def test_the_openapi_document_is_readable_from_any_origin() -> None:
    decision = responses.openapi_response({"openapi": "3.1.0"})
    assert dict(decision.headers)["Access-Control-Allow-Origin"] == "*"
    assert json.loads(decision.body) == {"openapi": "3.1.0"}


def test_created_points_at_the_short_url() -> None:
    decision = responses.link_created({"short_url": "https://s.example/abc"})
    assert decision.status == 201
    assert ("Location", "https://s.example/abc") in decision.headers
