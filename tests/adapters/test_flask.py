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
    """The redirect's Visitor and base URL, read from the WSGI environ, equal what the
    full request (``_http_request``) gives: headers, query pairs (raw ones too), host."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from suolink.adapters.flask import _base_url, _http_request, _query
    from suolink.http.request import HttpRequest, visitor_from, visitor_from_environ

    app = create_app("memory://", secret="s", base_url="https://s.example")
    state = Suolink.state(app)
    text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
    raw_query = st.text(st.sampled_from("ab=&+%2fzZé;\x00 \u2603"), max_size=20)

    @settings(max_examples=150, deadline=None)
    @given(
        headers=st.dictionaries(st.sampled_from(_HEADER_NAMES), text, max_size=6),
        query=st.one_of(
            st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4), raw_query
        ),
        method=st.sampled_from(["GET", "HEAD"]),
        host=st.sampled_from(["s.example", "127.0.0.1:8000", "other.example", "[::1]:80"]),
    )
    def check(
        headers: dict[str, str], query: list[tuple[str, str]] | str, method: str, host: str
    ) -> None:
        with app.test_request_context(
            "/abc", method=method, headers=headers, query_string=query, base_url=f"http://{host}"
        ):
            full = _http_request(state, 1000)
            assert isinstance(full, HttpRequest)
            environ = flask.request.environ
            assert _query(environ) == full.query
            assert visitor_from_environ(environ, _query(environ)) == visitor_from(full)
            assert _base_url(environ, state, flask.request) == full.base_url
            assert _base_url(environ, state, None) == full.base_url

    check()


def _counting_flask(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths that went through Flask's own ``wsgi_app`` (not the short links' shortcut)."""
    through: list[str] = []
    plain = flask.Flask.wsgi_app

    def counted(self: flask.Flask, environ: dict[str, object], start_response: object) -> object:
        through.append(str(environ["PATH_INFO"]))
        return plain(self, environ, start_response)  # type: ignore[arg-type]

    monkeypatch.setattr(flask.Flask, "wsgi_app", counted)
    return through


_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47"
)


def _answers(app: flask.Flask) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Answers to short-link requests of every kind, nonces blanked."""
    import re

    shortener = get_shortener(app)
    shortener.shorten("https://example.com/a?b=1&\u00fc=2", code="plain")
    shortener.shorten("https://example.com/p", code="locked", password="pw")
    client = app.test_client()
    found = []
    for method, path, agent in [
        ("GET", "/plain", _CHROME),
        ("HEAD", "/plain", _CHROME),
        ("GET", "/plain?utm=x&%zz=1", _CHROME),
        ("GET", "/plain", _WECHAT),
        ("HEAD", "/plain", _WECHAT),
        ("GET", "/locked", _CHROME),
        ("GET", "/missing", _CHROME),
        ("HEAD", "/missing", ""),
        ("GET", "/plain", ""),
    ]:
        reply = client.open(path, method=method, headers={"User-Agent": agent})
        headers = [(k, re.sub(r"nonce-[\w-]+", "nonce-N", v)) for k, v in reply.headers]
        body = re.sub(rb"nonce=\"[\w-]+\"", b"nonce", reply.get_data())
        found.append((reply.status_code, headers, body))
    return found


def test_short_links_skip_flask_with_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    through = _counting_flask(monkeypatch)
    quick = create_app("memory://", secret="s")
    quick_answers = _answers(quick)
    assert through == []  # every one of them skipped Flask
    visits = get_shortener(quick).get("plain").visits
    assert visits == 2  # the two browsers' GETs; no HEAD, guide page or empty agent
    slow = create_app("memory://", secret="s")
    slow.before_request(lambda: None)  # a hook: Flask runs for every request
    assert _answers(slow) == quick_answers
    assert len(through) == len(quick_answers)
    assert get_shortener(slow).get("plain").visits == visits
    for app in (quick, slow):
        get_shortener(app).close()


@pytest.mark.parametrize(
    "change",
    [
        "before_request",
        "after_request",
        "teardown_request",
        "signal",
        "host_route",
        "url_map_rule",
        "server_name",
        "trusted_hosts",
        "session",
    ],
)
def test_short_links_go_through_flask_when_flask_could_change_the_answer(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    through = _counting_flask(monkeypatch)
    app = create_app("memory://", secret="s")
    get_shortener(app).shorten("https://example.com/", code="abc")
    seen: list[str] = []
    headers = {"User-Agent": _CHROME}
    if change == "before_request":
        app.before_request(lambda: seen.append("before") and None)
    elif change == "after_request":

        @app.after_request
        def stamp(response: flask.Response) -> flask.Response:
            response.headers["X-Host"] = "yes"
            return response

    elif change == "teardown_request":
        app.teardown_request(lambda exc: seen.append("teardown"))
    elif change == "signal":

        def started(sender: object, **extra: object) -> None:
            seen.append("started")

        flask.request_started.connect(started, app)
        monkeypatch.setattr(flask.request_started, "_test_receiver", started, raising=False)
    elif change == "host_route":

        @app.get("/abc")
        def host_page() -> str:
            return "host page"

    elif change == "url_map_rule":  # Werkzeug's own way, after a first request
        from werkzeug.routing import Rule

        assert app.test_client().get("/abc").status_code == 302
        with pytest.raises(AssertionError, match="first request"):
            app.add_url_rule("/late", view_func=lambda: "")  # as after Flask's own answer
        app.url_map.add(Rule("/abc", endpoint="host_page"))
        app.view_functions["host_page"] = lambda: "host page"
    elif change == "server_name":
        app.config["SERVER_NAME"] = "localhost"
    elif change == "trusted_hosts":
        app.config["TRUSTED_HOSTS"] = ["elsewhere.example"]
    client = app.test_client()
    if change == "session":  # a permanent session's cookie is sent again
        app.secret_key = "k"
        client.set_cookie("session", "x")
    try:
        reply = client.get("/abc", headers=headers)
    finally:
        if change == "signal":
            flask.request_started.disconnect(started, app)
    assert through == ["/abc"]
    if change in ("host_route", "url_map_rule"):
        assert reply.get_data(as_text=True) == "host page"
    elif change == "trusted_hosts":
        assert reply.status_code == 400
    else:
        assert reply.status_code in (302, 404)  # 404: SERVER_NAME matches no other host
    if change == "after_request":
        assert reply.headers["X-Host"] == "yes"
    if change in ("before_request", "teardown_request", "signal"):
        assert seen
    get_shortener(app).close()


def test_short_links_under_a_prefix_and_paths_other_routes_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through = _counting_flask(monkeypatch)
    app = create_app("memory://", secret="s", url_prefix="/admin", link_prefix="/go")
    get_shortener(app).shorten("https://example.com/", code="abc")
    client = app.test_client()
    assert client.get("/go/abc").status_code == 302
    assert through == []
    for path in ("/go/abc.png", "/go/abc/", "/go/", "/go", "/abc", "/go/caf\u00e9", "/admin"):
        client.get(path)
    assert len(through) == 7
    # short links among the API's routes: the API's own paths go to Flask's router
    shared = create_app("memory://", secret="s", url_prefix="", link_prefix="/api")
    get_shortener(shared).shorten("https://example.com/", code="abc")
    assert shared.test_client().get("/api/abc").status_code == 302
    assert len(through) == 7
    assert shared.test_client().get("/api/health").status_code == 200
    assert through[-1] == "/api/health"
    # where Werkzeug routes a short link's path to another route, Flask always answers
    hidden = create_app("memory://", secret="s", url_prefix="", link_prefix="/stats")
    get_shortener(hidden).shorten("https://example.com/", code="abc")
    hidden.test_client().get("/stats/abc")
    assert through[-1] == "/stats/abc"
    for each in (app, shared, hidden):
        get_shortener(each).close()


def test_a_bug_in_the_shortcut_is_answered_as_flask_answers_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app("memory://", secret="s")
    get_shortener(app).shorten("https://example.com/", code="abc")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Suolink.state(app).api, "resolve_visit", broken)
    assert app.test_client().get("/abc").status_code == 500
    app.testing = True  # exceptions propagate, as from a view
    with pytest.raises(RuntimeError, match="a bug"):
        app.test_client().get("/abc")
    get_shortener(app).close()


def test_proxy_fix_wraps_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    through = _counting_flask(monkeypatch)
    app = create_app("memory://", secret="s", store_ip=True)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    get_shortener(app).shorten("https://example.com/", code="abc")
    reply = app.test_client().get(
        "/abc", headers={"User-Agent": _CHROME, "X-Forwarded-For": "203.0.113.9"}
    )
    assert reply.status_code == 302
    assert through == []
    [visit] = get_shortener(app).visits("abc")
    assert visit.ip == "203.0.113.9"
    get_shortener(app).close()
