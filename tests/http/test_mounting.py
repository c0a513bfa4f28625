"""``http/mounting.py``: the parts every web adapter builds from the one option spec."""

from __future__ import annotations

import logging
import warnings

import pytest

from suolink.config import NoSecretWarning, resolve_options
from suolink.http.mounting import body_too_large, mount, page_visitor
from suolink.http.routes import ROUTES_BY_NAME
from suolink.shortener import Shortener


def _settings(**given: object):
    return resolve_options({"storage": "memory://", "secret": "s", **given}, source="test")


def test_paths_sit_under_their_group_prefix() -> None:
    parts = mount(_settings(url_prefix="/x", link_prefix="/l"))
    assert parts.path(ROUTES_BY_NAME["links"]) == "/x/api/links"
    assert parts.path(ROUTES_BY_NAME["resolve"]) == "/l/<code>"
    assert parts.path(ROUTES_BY_NAME["index"]) == "/x/"
    root = mount(_settings())
    assert root.path(ROUTES_BY_NAME["index"]) == "/"
    assert root.path(ROUTES_BY_NAME["qr_png"]) == "/<code>.png"


def test_link_prefix_defaults_to_the_url_prefix() -> None:
    parts = mount(_settings(url_prefix="/s"))
    assert (parts.url_prefix, parts.link_prefix) == ("/s", "/s")
    assert parts.path(ROUTES_BY_NAME["resolve"]) == "/s/<code>"


def test_web_page_false_leaves_the_pages_out_of_the_routes_and_the_api() -> None:
    parts = mount(_settings(web_page=False))
    names = [route.name for route in parts.routes]
    assert "index" not in names
    assert "stats_page" not in names
    assert names[-1] == "resolve"  # the catch-all stays last
    assert parts.api.routes == parts.routes


def test_a_given_shortener_is_served_and_the_options_kept() -> None:
    shortener = Shortener("memory://", secret="given")
    parts = mount(_settings(api_token="t"), shortener=shortener)
    assert parts.shortener is shortener
    assert parts.api.api_token == "t"
    assert parts.options.get("api_token") == "t"


def test_warnings_go_to_the_given_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("suolink.test-mounting")
    with caplog.at_level(logging.WARNING, logger=log.name):
        mount(_settings(), log=log)
    assert any("SUOLINK_API_TOKEN" in r.getMessage() for r in caplog.records)


def test_no_secret_warns_once() -> None:
    with pytest.warns(NoSecretWarning):
        mount(resolve_options({"storage": "memory://"}, source="test"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSecretWarning)
        mount(_settings())


def test_body_too_large_is_a_413_naming_the_limit() -> None:
    answer = body_too_large(1234)
    assert answer.status == 413
    assert b"1,234" in answer.body


def test_a_page_visitor_never_carries_a_password() -> None:
    visitor = page_visitor([("User-Agent", "UA"), ("Accept-Language", "en")], "203.0.113.5")
    assert visitor.user_agent == "UA"
    assert visitor.accept_language == "en"
    assert visitor.ip == "203.0.113.5"
    assert visitor.password is None
