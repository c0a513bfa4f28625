"""Access: token in constant time, 401 vs 403, ``authorize``, anonymous throttles, limits URL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import suolink
from suolink.http import HttpApi
from suolink.http.auth import ANONYMOUS_ACTIONS, RateLimiter, limits_storage_url, token_ok
from suolink.models import Decision
from suolink.shortener import Shortener
from tests.http.conftest import TOKEN, json_request, request

NEW = b'{"url": "https://example.com/"}'


def test_token_comparison() -> None:
    assert token_ok("secret", "secret")
    assert token_ok("secret", "  secret ")
    assert not token_ok("secret", "secreT")
    assert not token_ok("secret", "")
    assert not token_ok(None, "")
    assert not token_ok(None, "anything")


def test_401_with_a_token_configured_403_without(make_api: Callable[..., HttpApi]) -> None:
    with_token = make_api(api_token=TOKEN)
    refused = with_token.handle("links", request("GET"))
    assert refused.status == 401
    assert ("WWW-Authenticate", 'Bearer realm="suolink"') in refused.headers
    wrong = with_token.handle("links", request("GET", token="nope"))
    assert wrong.status == 401
    basic = request("GET", headers=(("authorization", f"Basic {TOKEN}"),))
    assert with_token.handle("links", basic).status == 401
    assert with_token.handle("links", request("GET", token=TOKEN)).status == 200
    without = make_api()
    forbidden = without.handle("links", request("GET", token=TOKEN))
    assert forbidden.status == 403
    assert json.loads(forbidden.body)["error"]["type"] == "forbidden"


def test_authorize_grants_per_action(make_api: Callable[..., HttpApi]) -> None:
    api = make_api(authorize=lambda req, action: action == "create")
    created = api.handle("links", json_request("POST", NEW, token=None))
    assert created.status == 201
    code = json.loads(created.body)["code"]
    assert api.handle("link", request("GET"), code=code).status == 401
    assert api.handle("link", request("DELETE"), code=code).status == 401


def test_anonymous_may_create_and_decode_only_and_is_throttled_per_address(
    make_api: Callable[..., HttpApi],
) -> None:
    assert frozenset({"create", "decode"}) == ANONYMOUS_ACTIONS
    api = make_api(api_token=TOKEN, allow_anonymous=True, rate_limit="2/minute")

    def create(ip: str, token: str | None = None) -> Decision:
        body = json_request("POST", NEW, token=token)
        return api.handle("links", replace(body, remote_addr=ip))

    assert [create("10.0.0.1").status for _ in range(2)] == [201, 201]
    limited = create("10.0.0.1")
    assert limited.status == 429
    retry_after = json.loads(limited.body)["error"]["retry_after"]
    assert ("Retry-After", str(retry_after)) in limited.headers
    assert create("10.0.0.2").status == 201  # another address has its own budget
    assert create("10.0.0.1", token=TOKEN).status == 201  # the token is never throttled
    assert api.handle("links", request("GET")).status == 401  # listing stays private
    assert api.handle("link_stats", request("GET"), code="abc").status == 401


def test_without_anonymous_use_there_is_no_anonymous_limiter(
    make_api: Callable[..., HttpApi],
) -> None:
    assert make_api(api_token=TOKEN).rate_limiter is None
    assert make_api(allow_anonymous=True, rate_limit="").rate_limiter is None
    assert make_api(allow_anonymous=True).rate_limiter is not None
    assert make_api(password_rate_limit=None).password_limiter is None


def test_stats_page_takes_the_token_from_its_form(
    make_api: Callable[..., HttpApi], shortener: Shortener
) -> None:
    api = make_api(api_token=TOKEN)
    code = shortener.shorten("https://example.com/").code
    ask = api.handle("stats_page", request("GET"), code=code)
    assert (ask.status, ask.reason) == (200, "login")
    wrong = api.handle("stats_page", request("POST", form=(("token", "no"),)), code=code)
    assert (wrong.status, wrong.reason) == (401, "login")
    right = api.handle("stats_page", request("POST", form=(("token", TOKEN),)), code=code)
    assert (right.status, right.reason) == (200, "stats")
    bearer = api.handle("stats_page", request("GET", token=TOKEN), code=code)
    assert (bearer.status, bearer.reason) == (200, "stats")
    in_query = api.handle("stats_page", request("GET", query=(("token", TOKEN),)), code=code)
    assert in_query.reason == "login"  # never from the URL


def test_password_tries_are_limited_per_link_and_address(
    make_api: Callable[..., HttpApi], shortener: Shortener
) -> None:
    api = make_api(password_rate_limit="2/minute")
    code = shortener.shorten("https://example.com/", password="right").code

    def guess(ip: str) -> int:
        req = request("POST", form=(("password", "wrong"),), remote_addr=ip)
        return api.handle("resolve", req, code=code).status

    assert [guess("10.0.0.1") for _ in range(3)] == [401, 401, 429]
    assert guess("10.0.0.2") == 401


def test_limits_url_comes_from_the_shares_rate_limits_capability(shortener: Shortener) -> None:
    class Shared:
        rate_limit_url = "redis://h:1/0"

    assert limits_storage_url(Shared()) == "redis://h:1/0"
    assert limits_storage_url(shortener.storage) == "memory://"
    assert limits_storage_url(object()) == "memory://"
    assert RateLimiter("1/minute", limits_storage_url(object())).storage_url == "memory://"


def test_the_web_extra_works_without_the_redis_package() -> None:
    """``pip install 'suolink[flask]'`` has no ``redis``: serving must never import it."""
    code = """
import sys
sys.modules["redis"] = None  # as if not installed: importing it raises ImportError
from suolink.adapters.flask import create_app
app = create_app("memory://", allow_anonymous=True, secret="s")
answer = app.test_client().post("/api/links", json={"url": "https://example.com/"})
assert answer.status_code == 201, answer.data
assert not any(name.startswith("suolink.backends.redis") for name in sys.modules)
"""
    src = str(Path(suolink.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
