"""Flask manners: ``web_page=False``, routes hiding each other, and start-up warnings."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import flask
import pytest

from suolink.adapters.flask import Suolink, get_shortener, shadowed_routes
from tests.http_scenarios import AUTH, BROWSER, TOKEN, without_qr_extra

SECRET = "s" * 32


@pytest.fixture
def host() -> Iterator[flask.Flask]:
    app = flask.Flask("host")
    yield app
    if "suolink" in app.extensions:
        get_shortener(app).close()


def _quiet(app: flask.Flask, **options: object) -> list[str]:
    """Initialise suolink on ``app``; the warnings it gave, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Suolink(app, storage="memory://", secret=SECRET, api_token=TOKEN, **options)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("how", ["argument", "config"])
def test_web_page_false_mounts_only_the_api_and_short_links(host: flask.Flask, how: str) -> None:
    if how == "config":
        host.config["SUOLINK_WEB_PAGE"] = "false"
        _quiet(host)
    else:
        _quiet(host, web_page=False)
    client = host.test_client()
    assert client.get("/").status_code == 404
    assert client.get("/stats/abc").status_code == 404
    made = client.post("/api/links", json={"url": "https://example.com/"}, headers=AUTH)
    assert made.status_code == 201
    code = made.json["code"]
    assert client.get(f"/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    paths = client.get("/api/openapi.json").json["paths"]
    assert "/" not in paths
    assert "/stats/{code}" not in paths
    assert "/api/links" in paths


def test_web_page_is_on_by_default(host: flask.Flask) -> None:
    _quiet(host)
    assert host.test_client().get("/").status_code == 200


def test_host_routes_registered_first_hide_suolink_and_are_named(host: flask.Flask) -> None:
    host.add_url_rule("/about", "about", lambda: "about")
    host.add_url_rule("/<slug>", "page", lambda slug: slug)
    host.add_url_rule("/blog/<int:n>", "blog", lambda n: "post")
    messages = _quiet(host)
    assert len(messages) == 2, messages
    about, page = messages
    assert "/about (about)" in about
    assert "reserve that code" in about
    assert "/<slug> (page)" in page
    assert "'resolve'" in page
    # what the warnings say is what happens
    client = host.test_client()
    assert client.get("/about").data == b"about"
    assert client.get("/whatever").data == b"whatever"


def test_a_host_catch_all_added_later_is_hidden_by_suolink(host: flask.Flask) -> None:
    assert _quiet(host) == []
    host.add_url_rule("/<slug>", "page", lambda slug: slug)
    (message,) = shadowed_routes(host)
    assert "suolink's 'resolve' route answers" in message
    assert "/<slug> (page) is never reached" in message


def test_suolink_under_a_prefix_hides_nothing(host: flask.Flask) -> None:
    host.add_url_rule("/about", "about", lambda: "about")
    host.add_url_rule("/<slug>", "page", lambda slug: slug)
    assert _quiet(host, url_prefix="/s") == []
    assert shadowed_routes(host) == []


def test_a_server_without_a_token_warns_at_start_up(
    host: flask.Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="suolink.flask"):
        Suolink(host, storage="memory://", secret=SECRET)
    (record,) = [r for r in caplog.records if "token" in r.getMessage()]
    assert "SUOLINK_API_TOKEN" in record.getMessage()
    assert "403" in record.getMessage()


@pytest.mark.parametrize("options", [{"api_token": TOKEN}, {"allow_anonymous": True}])
def test_a_manageable_server_does_not_warn(
    options: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    app = flask.Flask("host")
    with caplog.at_level(logging.WARNING, logger="suolink.flask"):
        Suolink(app, storage="memory://", secret=SECRET, base_url="https://s.example", **options)
    assert [r.getMessage() for r in caplog.records if r.name == "suolink.flask"] == []
    get_shortener(app).close()


def test_a_missing_qr_extra_is_logged_at_start_up(
    host: flask.Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with without_qr_extra(), caplog.at_level(logging.WARNING, logger="suolink.flask"):
        Suolink(host, storage="memory://", secret=SECRET, api_token=TOKEN, base_url="https://s.x")
    (record,) = [r for r in caplog.records if r.name == "suolink.flask"]
    assert "qr extra" in record.getMessage()
    assert "501 missing_dependency" in record.getMessage()
    assert "suolink[qr]" in record.getMessage()
