"""Regressions for inputs that once raised instead of answering (issue 12, "unhandled exceptions").

Each test is named after the finding; each failed on the code before its fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from suolink import InvalidOption, Shortener
from suolink.api import HttpApi, HttpRequest
from suolink.models import Visitor

BASE = "https://s.example"


@pytest.fixture
def shortener() -> Shortener:
    return Shortener("memory://", secret="p", base_url=BASE)


@pytest.fixture
def api(shortener: Shortener) -> HttpApi:
    return HttpApi(shortener, api_token="t")


def _post(api: HttpApi, body: bytes, route: str = "links", **params: str) -> tuple[int, dict]:
    request = HttpRequest(
        method="POST" if route == "links" else "PATCH",
        headers=(("authorization", "Bearer t"), ("content-type", "application/json")),
        body=body,
        base_url=BASE,
    )
    decision = api.handle(route, request, **params)
    return decision.status, json.loads(decision.body or b"{}")


def test_referer_with_an_unclosed_bracket_does_not_break_the_redirect(
    shortener: Shortener,
) -> None:
    code = shortener.shorten("https://example.com/").code
    for referer in ("http://[", "http://]x", "//[::1", "http://[::1"):
        decision = shortener.resolve(code, Visitor(user_agent="Mozilla/5.0", referer=referer))
        assert decision.status == 302
    visits = list(shortener.storage.visits(code))
    assert len(visits) == 4
    assert {v.referer for v in visits} <= {None, "x", "::1"}


def test_password_with_a_lone_surrogate_is_a_400(api: HttpApi) -> None:
    body = b'{"url": "https://example.com/", "password": "a\\udc00b"}'
    status, answer = _post(api, body)
    assert status == 400
    assert answer["error"]["field"] == "password"


def test_title_with_a_lone_surrogate_is_a_400(api: HttpApi) -> None:
    status, answer = _post(api, b'{"url": "https://example.com/", "title": "\\ud800"}')
    assert status == 400
    assert answer["error"]["field"] == "title"


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_expires_at_beyond_the_utc_range_is_a_400(api: HttpApi, moment: str) -> None:
    status, answer = _post(
        api, json.dumps({"url": "https://example.com/", "expires_at": moment}).encode()
    )
    assert status == 400
    assert answer["error"]["field"] == "expires_at"


def test_expires_at_beyond_the_utc_range_is_refused_by_shorten(shortener: Shortener) -> None:
    with pytest.raises(InvalidOption) as caught:
        shortener.shorten("https://example.com/", expires_at="9999-12-31T23:59:59-23:59")
    assert caught.value.option == "expires_at"


def test_stats_window_beyond_the_utc_range_is_a_400(api: HttpApi, shortener: Shortener) -> None:
    code = shortener.shorten("https://example.com/").code
    request = HttpRequest(
        method="GET",
        query=(("since", "0001-01-01T00:00:00+23:59"),),
        headers=(("authorization", "Bearer t"),),
        base_url=BASE,
    )
    assert api.handle("link_stats", request, code=code).status == 400


def test_tags_nested_thirty_thousand_deep_are_a_400(api: HttpApi) -> None:
    depth = 30_000
    body = ('{"url": "https://example.com/", "tags": ' + "[" * depth + "]" * depth + "}").encode()
    assert len(body) < 64 * 1024
    status, answer = _post(api, body)
    assert status == 400
    assert answer["error"]["field"] == "body"


@pytest.mark.parametrize("limit", ["²", "٣", "9" * 5000, "1e3", ""])
def test_list_limit_that_is_not_ascii_digits_is_a_400(api: HttpApi, limit: str) -> None:
    request = HttpRequest(
        method="GET",
        query=(("limit", limit),),
        headers=(("authorization", "Bearer t"),),
        base_url=BASE,
    )
    decision = api.handle("links", request)
    assert decision.status == 400
    assert json.loads(decision.body)["error"]["field"] == "limit"


def test_cli_password_with_an_undecodable_byte_is_one_error_line(tmp_path: object) -> None:
    env = {**os.environ, "SUOLINK_STORAGE": "memory://", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"suolink",
            b"shorten",
            b"https://example.com/",
            b"--password",
            b"\xff",
        ],
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode != 0
    assert b"Traceback" not in done.stderr
    assert b"password" in done.stderr
