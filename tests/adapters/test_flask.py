"""The Flask adapter: the shared HTTP scenarios, plus what is Flask's own (config, two apps)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import flask
import pytest

from suolink.adapters.flask import Suolink, create_app, get_shortener
from suolink.errors import ConfigurationError
from suolink.shortener import Shortener
from tests.conftest import storage_url
from tests.http_scenarios import (
    HOST_SCENARIOS,
    PEOPLE_SCENARIOS,
    SCENARIOS,
    TOKEN,
    FlaskClient,
    HttpClient,
)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path) -> Iterator[flask.Flask]:
    app = create_app(storage_url(request.param, request, tmp_path), api_token=TOKEN, secret="s")
    yield app
    get_shortener(app).close()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(app: flask.Flask, scenario: Callable[[HttpClient], None]) -> None:
    scenario(FlaskClient(app))


@pytest.mark.parametrize("scenario", HOST_SCENARIOS, ids=lambda s: s.__name__)
def test_host_scenario(scenario: Callable[[HttpClient], None]) -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", allowed_hosts="localhost")
    scenario(FlaskClient(app))


def test_config_keys_and_precedence(tmp_path) -> None:
    app = flask.Flask("host")
    app.config.update(
        SUOLINK_STORAGE="memory://",
        SUOLINK_BASE_URL="https://from-config.example",
        SUOLINK_REDIRECT_STATUS="301",
    )
    Suolink(app, base_url="https://from-args.example")
    with app.app_context():
        shortener = get_shortener()
        assert shortener.base_url == "https://from-args.example"
        assert shortener.redirect_status == 301


def test_two_apps_in_one_process_keep_their_own_state() -> None:
    ext = Suolink()
    one, two = flask.Flask("one"), flask.Flask("two")
    one.config["SUOLINK_STORAGE"] = "memory://"
    two.config["SUOLINK_STORAGE"] = "memory://"
    ext.init_app(one, api_token="t1")
    ext.init_app(two, api_token="t2")
    created = one.test_client().post(
        "/api/links", json={"url": "https://example.com/"}, headers={"Authorization": "Bearer t1"}
    )
    assert created.status_code == 201
    code = created.get_json()["code"]
    assert one.test_client().get("/" + code).status_code == 302
    assert two.test_client().get("/" + code).status_code == 404
    assert get_shortener(one) is not get_shortener(two)


def test_url_prefix_and_host_routes_untouched() -> None:
    app = flask.Flask("host")

    @app.get("/about")
    def about() -> str:
        return "host page"

    shortener = Shortener("memory://")
    Suolink(app, shortener=shortener, url_prefix="/s", api_token="t")
    client = app.test_client()
    created = client.post(
        "/s/api/links", json={"url": "https://example.com/"}, headers={"Authorization": "Bearer t"}
    )
    data = created.get_json()
    assert data["short_url"] == f"http://localhost/s/{data['code']}"
    assert client.get(f"/s/{data['code']}").status_code == 302
    assert client.get("/about").get_data(as_text=True) == "host page"


def test_unknown_option_and_missing_init() -> None:
    with pytest.raises(ConfigurationError, match="unknown"):
        Suolink(flask.Flask("x"), storage="memory://", colour="red")
    with flask.Flask("y").app_context(), pytest.raises(ConfigurationError, match="init_app"):
        get_shortener()


def test_no_token_configured_refuses_management_with_a_reason() -> None:
    app = create_app("memory://")
    reply = app.test_client().post("/api/links", json={"url": "https://example.com/"})
    assert reply.status_code == 403
    assert "SUOLINK_API_TOKEN" in reply.get_json()["error"]["message"]


def test_anonymous_creation_when_allowed() -> None:
    app = create_app("memory://", allow_anonymous=True)
    client = app.test_client()
    assert client.post("/api/links", json={"url": "https://example.com/"}).status_code == 201
    assert client.get("/api/links").status_code == 403


def test_closed_storage_is_503_with_a_readable_body(tmp_path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}", api_token="t")
    get_shortener(app).close()
    reply = app.test_client().get("/abcde")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert b"unavailable" in reply.get_data()


def test_corrupt_storage_is_500_json_not_a_traceback(tmp_path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}", api_token="t")
    for path in tmp_path.iterdir():
        path.write_bytes(b"not a database" * 100)
    client = app.test_client()
    assert client.get("/abcde").status_code == 500
    reply = client.post(
        "/api/links", json={"url": "https://example.com/"}, headers={"Authorization": "Bearer t"}
    )
    assert reply.status_code == 500
    assert reply.get_json()["error"]["type"] == "backend_error"
    assert b"Traceback" not in reply.get_data()


def test_configured_base_url_beats_the_request_host() -> None:
    app = create_app("memory://", api_token="t", base_url="https://s.example.com")
    client = app.test_client()
    created = client.post(
        "/api/links",
        json={"url": "https://example.com/", "disabled": True},
        headers={"Authorization": "Bearer t"},
    )
    assert created.status_code == 201
    data = created.get_json()
    assert data["short_url"] == f"https://s.example.com/{data['code']}"
    assert data["disabled"] is True
    from suolink.qr import decode

    assert decode(client.get(f"/{data['code']}.png").get_data()) == [data["short_url"]]


def test_bot_action_and_store_ip_from_config() -> None:
    app = flask.Flask("host")
    app.config.update(
        SUOLINK_STORAGE="memory://", SUOLINK_BOT_ACTION="deny", SUOLINK_STORE_IP="true"
    )
    Suolink(app)
    shortener = get_shortener(app)
    assert shortener.bot_action == "deny"
    assert shortener.store_ip is True


def test_without_a_secret_codes_use_a_fixed_public_salt_warns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 12: 38 of 40 codes were guessed from a few created ones without a secret.
    from suolink.config import NoSecretWarning

    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    with pytest.warns(NoSecretWarning, match="fixed public salt") as caught:
        app = create_app("memory://")
    assert len(caught) == 1
    assert issubclass(NoSecretWarning, UserWarning)
    assert "SUOLINK_SECRET is not set" in str(caught[0].message)
    get_shortener(app).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSecretWarning)
        for quiet in (create_app("memory://", secret="s"), _configured_app()):
            get_shortener(quiet).close()
        shared = Shortener("memory://", secret="given")
        Suolink(flask.Flask("given"), shortener=shared)
        shared.close()


def _configured_app() -> flask.Flask:
    app = flask.Flask("configured")
    app.config["SUOLINK_SECRET"] = "from-config"
    app.config["SUOLINK_STORAGE"] = "memory://"
    Suolink(app)
    return app


@pytest.mark.parametrize("scenario", PEOPLE_SCENARIOS, ids=lambda s: s.__name__)
def test_people_scenario(scenario: Callable[[HttpClient], None]) -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", track_people=True)
    scenario(FlaskClient(app))


_HEADER_NAMES = [
    "User-Agent",
    "Accept-Language",
    "Referer",
    "Cookie",
    "Sec-CH-UA-Platform",
    "Sec-CH-UA-Mobile",
    "X-Requested-With",
    "Accept",
    "X-Forwarded-For",
]


def test_a_short_link_get_is_read_as_the_full_request_reads_it() -> None:
    """The redirect route's cheaper request (``_link_request``) equals ``_http_request``."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from suolink.adapters.flask import _http_request, _link_request

    app = create_app("memory://", secret="s", base_url="https://s.example")
    state = Suolink.state(app)
    text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)

    @settings(max_examples=100, deadline=None)
    @given(
        headers=st.dictionaries(st.sampled_from(_HEADER_NAMES), text, max_size=6),
        query=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4),
        method=st.sampled_from(["GET", "HEAD"]),
        host=st.sampled_from(["s.example", "127.0.0.1:8000", "other.example"]),
    )
    def check(
        headers: dict[str, str], query: list[tuple[str, str]], method: str, host: str
    ) -> None:
        with app.test_request_context(
            "/abc", method=method, headers=headers, query_string=query, base_url=f"http://{host}"
        ):
            quick = _link_request(state)
            assert quick is not None
            assert quick == _http_request(state, 1000)

    check()
    with app.test_request_context("/abc", method="GET", data=b"x" * 10):
        assert _link_request(state) is None  # a body: the usual path and its limit
