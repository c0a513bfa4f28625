"""Flask: anonymous creation rate-limited over each backend, ``@suolink.protect``, config."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import flask
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from suolink.adapters.flask import Suolink, create_app, get_shortener
from suolink.api import HttpApi, RateLimiter, limits_storage_url
from suolink.backends.base import SharesRateLimits
from suolink.errors import ConfigurationError, InvalidOption
from suolink.models import Visitor
from suolink.render.chart import day_series, visits_chart
from suolink.shortener import Shortener
from tests.adapters.test_flask import FlaskClient
from tests.conftest import storage_url
from tests.http_scenarios import ANONYMOUS_SCENARIOS, BROWSER, TOKEN, WECHAT, HttpClient

ANDROID_WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.40.2420(0x28002837) "
    "NetType/WIFI Language/zh_CN"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def anonymous_app(request: pytest.FixtureRequest, tmp_path) -> Iterator[flask.Flask]:
    url = storage_url(request.param, request, tmp_path)
    app = create_app(url, api_token=TOKEN, secret="s", allow_anonymous=True, rate_limit="3/minute")
    yield app
    get_shortener(app).close()


@pytest.mark.parametrize("scenario", ANONYMOUS_SCENARIOS, ids=lambda s: s.__name__)
def test_anonymous_scenario(
    anonymous_app: flask.Flask, scenario: Callable[[HttpClient], None]
) -> None:
    scenario(FlaskClient(anonymous_app))


def _needs_shared_limits(storage: object) -> None:
    """Skip while the Redis backend does not yet claim ``SharesRateLimits`` (its branch)."""
    if str(getattr(storage, "url", "")).startswith("redis") and not isinstance(
        storage, SharesRateLimits
    ):
        pytest.skip("the Redis backend does not offer rate_limit_url yet")


def test_limit_storage_follows_the_link_store(anonymous_app: flask.Flask) -> None:
    api: HttpApi = anonymous_app.extensions["suolink"].api
    _needs_shared_limits(get_shortener(anonymous_app).storage)
    assert api.rate_limiter is not None
    scheme = get_shortener(anonymous_app).storage.url.split(":")[0]
    expected = "redis" if scheme.startswith("redis") else "memory"
    assert api.rate_limiter.storage_url.startswith(expected)


def test_limits_are_per_address_and_shared_by_workers_on_redis(
    request: pytest.FixtureRequest, tmp_path
) -> None:
    url = storage_url("redis", request, tmp_path)
    apps = [
        create_app(url, api_token=TOKEN, secret="s", allow_anonymous=True, rate_limit="2/hour")
        for _ in range(2)
    ]
    try:
        _needs_shared_limits(get_shortener(apps[0]).storage)
        clients = [app.test_client() for app in apps]

        def post(i: int, ip: str) -> int:
            return (
                clients[i % 2]
                .post(
                    "/api/links",
                    json={"url": "https://example.com/"},
                    headers={"User-Agent": BROWSER},
                    environ_base={"REMOTE_ADDR": ip},
                )
                .status_code
            )

        # two "workers" share the count on Redis: the third request is refused
        assert [post(i, "10.0.0.1") for i in range(3)] == [201, 201, 429]
        assert post(0, "10.0.0.2") == 201  # another address has its own budget
    finally:
        for app in apps:
            get_shortener(app).close()


def test_rate_limit_config_and_bad_limit() -> None:
    app = flask.Flask("host")
    app.config.update(
        SUOLINK_STORAGE="memory://", SUOLINK_ALLOW_ANONYMOUS="yes", SUOLINK_RATE_LIMIT="1/day"
    )
    Suolink(app)
    client = app.test_client()
    ok = client.post(
        "/api/links", json={"url": "https://e.example/"}, headers={"User-Agent": BROWSER}
    )
    assert ok.status_code == 201
    assert client.post("/api/links", json={"url": "https://e.example/"}).status_code == 429
    with pytest.raises(ConfigurationError, match="rate_limit"):
        Suolink(flask.Flask("bad"), storage="memory://", allow_anonymous=True, rate_limit="lots")
    unlimited = create_app("memory://", allow_anonymous=True, rate_limit="")
    assert unlimited.extensions["suolink"].api.rate_limiter is None


def test_limits_url_is_the_backends_shared_url() -> None:
    class SharesLimits:
        rate_limit_url = "redis://:p%40ss@h:6380/2"

    assert limits_storage_url(SharesLimits()) == "redis://:p%40ss@h:6380/2"
    assert limits_storage_url(object()) == "memory://"


def test_limiter_counts_per_key() -> None:
    limiter = RateLimiter("2/minute")
    assert limiter.hit("create", "a") is None
    assert limiter.hit("create", "a") is None
    wait = limiter.hit("create", "a")
    assert wait is not None
    assert 1 <= wait <= 60
    assert limiter.hit("create", "b") is None
    assert limiter.hit("decode", "a") is None
    both = RateLimiter("5/minute;1/hour")
    assert both.limit_text == "5 per 1 minute; 1 per 1 hour"
    assert both.hit("create", "a") is None
    hourly = both.hit("create", "a")
    assert hourly is not None
    assert hourly > 60  # the hourly limit is the one that refused


# -- @suolink.protect ------------------------------------------------------------------


def _host_app() -> tuple[flask.Flask, Suolink]:
    app = flask.Flask("host")
    suolink = Suolink(app, storage="memory://", url_prefix="/s")

    @app.route("/download")
    @suolink.protect(anti_block=["wechat", "qq"])
    def download() -> str:
        return "the APK"

    @app.route("/mobile-only")
    @suolink.protect(allow=["mobile"])
    def mobile_only() -> str:
        return "phones welcome"

    @app.before_request
    def guard() -> flask.Response | None:
        if flask.request.path.startswith("/members"):
            return suolink.protect_request(deny=["desktop"])
        return None

    @app.route("/members")
    def members() -> str:
        return "members area"

    return app, suolink


@pytest.mark.parametrize(
    ("agent", "path", "status", "text"),
    [
        (WECHAT, "/download", 200, "Safari"),  # the guide, with the iOS WeChat step
        (ANDROID_WECHAT, "/download", 200, "在浏览器中打开"),
        (BROWSER, "/download", 200, "the APK"),
        (IPHONE_SAFARI, "/mobile-only", 200, "phones welcome"),
        (BROWSER, "/mobile-only", 403, "手机"),
        (BROWSER, "/members", 403, "电脑"),
        (IPHONE_SAFARI, "/members", 200, "members area"),
    ],
)
def test_protect_applies_link_rules_to_host_routes(
    agent: str, path: str, status: int, text: str
) -> None:
    app, _ = _host_app()
    reply = app.test_client().get(path, headers={"User-Agent": agent, "Accept-Language": "zh-CN"})
    assert reply.status_code == status
    assert text in reply.get_data(as_text=True)


def test_guide_for_a_host_route_shows_the_page_address() -> None:
    app, _ = _host_app()
    reply = app.test_client().get("/download?v=2", headers={"User-Agent": WECHAT})
    body = reply.get_data(as_text=True)
    assert "http://localhost/download?v=2" in body
    assert "Content-Security-Policy" in reply.headers
    assert "the APK" not in body


def test_protect_rejects_unknown_platforms_as_typed_errors() -> None:
    _, suolink = _host_app()
    with pytest.raises(InvalidOption, match="martians"):
        suolink.protect(allow=["mobile", "martians"])
    with Shortener("memory://") as shortener:
        with pytest.raises(InvalidOption):
            shortener.protect(Visitor(user_agent=BROWSER), url="https://h/", allow=["martians"])
        assert shortener.protect(Visitor(user_agent=BROWSER), url="https://h/") is None
        guide = shortener.protect(Visitor(user_agent=WECHAT), url="javascript:alert(1)")
        assert guide is not None
        assert b"javascript:" not in guide.body


# -- the SVG chart ---------------------------------------------------------------------


@given(st.dictionaries(st.dates().map(lambda d: d.isoformat()), st.integers(0, 10**6), max_size=40))
@example({"0001-01-05": 1})  # a window reaching before the first date once overflowed
@settings(max_examples=60, deadline=None)
def test_day_series_fills_gaps_and_keeps_recent_counts(by_day: dict[str, int]) -> None:
    series = day_series(by_day, max_days=30)
    assert len(series) <= 30
    days = [d for d, _ in series]
    assert days == sorted(days)
    for day, count in series:
        assert count == by_day.get(day, 0)
    if by_day:
        assert series[-1][0] == max(by_day)


def test_chart_escapes_its_title_and_skips_bad_days() -> None:
    svg = str(visits_chart({"2030-01-01": 3, "<x>": 5, "2030-01-03": 1}, title="<script>"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count("<rect") == 3


# -- prefixes --------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "links"), [("/admin", ""), ("/admin", "/go"), ("", "/go")])
def test_api_and_links_under_their_own_prefixes(api: str, links: str) -> None:
    app = flask.Flask("host")
    Suolink(app, storage="memory://", api_token=TOKEN, url_prefix=api + "/", link_prefix=links)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}", "User-Agent": BROWSER}
    created = client.post(f"{api}/api/links", json={"url": "https://e.example/"}, headers=auth)
    assert created.status_code == 201
    code = created.json["code"]
    assert created.json["short_url"] == f"http://localhost{links}/{code}"
    assert client.get(f"{links}/{code}", headers=auth).status_code == 302
    assert client.get(f"{links}/{code}.png").status_code == 200
    assert client.get(f"{api}/stats/{code}", headers=auth).status_code == 200
    page = client.get(f"{api}/").get_data(as_text=True)
    assert f'"linkBase": "{links}"' in page
    doc = client.get(f"{api}/api/openapi.json").json
    assert doc["servers"] == [{"url": "http://localhost"}]
    assert f"{api}/api/links" in doc["paths"]
    assert f"{links}/{{code}}.png" in doc["paths"]
    assert (f"{api}/" if api else "/") in doc["paths"]


def test_prefix_must_be_a_path() -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        Suolink(flask.Flask("bad"), storage="memory://", link_prefix="go")
