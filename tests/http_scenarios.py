"""HTTP scenarios every adapter must pass, written once against a tiny client protocol.

An adapter's test module provides a ``client`` fixture implementing :class:`HttpClient`
over its framework's test client and runs :data:`SCENARIOS`; so Flask and Django
cannot drift apart.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from suolink.qr import encode as encode_qr

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN"
)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


class HttpClient(Protocol):
    """What a scenario needs from an adapter's test client (the app has token TOKEN).

    Requests carry ``User-Agent: BROWSER`` unless ``headers`` name another, as a person's
    browser would; test clients' own agents (``Werkzeug/…``) are detected as bots.
    """

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply: ...


class BrowserClient(ABC):
    """An :class:`HttpClient` whose requests carry ``User-Agent: BROWSER`` unless
    ``headers`` name another (``Host`` included); an adapter's client only sends."""

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"User-Agent": BROWSER, **(headers or {})}
        return self.send(method, path, body, content_type, sent)

    @abstractmethod
    def send(
        self, method: str, path: str, body: bytes | None, content_type: str | None, headers: Any
    ) -> Reply:
        """One request through the framework's test client, ``headers`` complete."""


class FlaskClient(BrowserClient):
    """:class:`HttpClient` over a Flask app's test client."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def send(
        self, method: str, path: str, body: bytes | None, content_type: str | None, headers: Any
    ) -> Reply:
        response = self.client.open(
            path, method=method, data=body, content_type=content_type, headers=headers
        )
        return Reply(response.status_code, dict(response.headers), response.get_data())


def post_json(
    client: HttpClient, path: str, payload: Any, headers: dict[str, str] | None = None
) -> Reply:
    return client.request(
        "POST",
        path,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        headers={**AUTH, **(headers or {})},
    )


def snapshot(client: HttpClient) -> Any:
    """Everything stored, as the API shows it: used to prove bad input changed nothing."""
    reply = client.request("GET", "/api/links?limit=1000", headers=AUTH)
    assert reply.status == 200
    return reply.json()


def create(client: HttpClient, **payload: Any) -> dict[str, Any]:
    reply = post_json(client, "/api/links", {"url": "https://example.com/a", **payload})
    assert reply.status == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


# -- scenarios -----------------------------------------------------------------------


def create_then_redirect(client: HttpClient) -> None:
    data = create(client, title="Hello", tags=["news"])
    assert data["short_url"].endswith("/" + data["code"])
    assert "password_hash" not in data
    reply = client.request("GET", "/" + data["code"], headers={"User-Agent": "Mozilla/5.0"})
    assert reply.status == 302
    assert reply.headers["Location"] == "https://example.com/a"
    info = client.request("GET", f"/api/links/{data['code']}", headers=AUTH).json()
    assert info["visits"] == 1


def create_requires_token(client: HttpClient) -> None:
    reply = client.request(
        "POST",
        "/api/links",
        body=b'{"url":"https://example.com/"}',
        content_type="application/json",
    )
    assert reply.status == 401
    assert reply.headers.get("WWW-Authenticate", "").startswith("Bearer")
    bad = post_json(
        client, "/api/links", {"url": "https://example.com/"}, {"Authorization": "Bearer nope"}
    )
    assert bad.status == 401
    assert snapshot(client)["links"] == []


def manage_routes_require_token(client: HttpClient) -> None:
    code = create(client)["code"]
    for method, path in [
        ("GET", "/api/links"),
        ("GET", f"/api/links/{code}"),
        ("DELETE", f"/api/links/{code}"),
        ("GET", f"/api/links/{code}/stats"),
    ]:
        assert client.request(method, path).status == 401, (method, path)
    assert client.request("GET", f"/api/links/{code}", headers=AUTH).status == 200


def bad_input_is_4xx_and_changes_nothing(client: HttpClient) -> None:
    create(client, code="taken")
    before = snapshot(client)
    cases: list[tuple[bytes, str, int, str]] = [
        (b"{not json", "application/json", 400, "body"),
        (b"[1, 2]", "application/json", 400, "body"),
        (b'{"url": 5}', "application/json", 400, "url"),
        (b'{"title": "no url"}', "application/json", 400, "url"),
        (b'{"url": "javascript:alert(1)"}', "application/json", 400, "url"),
        (b'{"url": "https://exa mple.com"}', "application/json", 400, "url"),
        (
            b'{"url": "https://example.com/", "max_visits": "3"}',
            "application/json",
            400,
            "max_visits",
        ),
        (
            b'{"url": "https://example.com/", "max_visits": -1}',
            "application/json",
            400,
            "max_visits",
        ),
        (
            b'{"url": "https://example.com/", "expires_at": "tomorrow"}',
            "application/json",
            400,
            "expires_at",
        ),
        (b'{"url": "https://example.com/", "tags": [1]}', "application/json", 400, "tags"),
        (b'{"url": "https://example.com/", "code": "api"}', "application/json", 400, "code"),
        (b'{"url": "https://example.com/", "code": 7}', "application/json", 400, "code"),
        (b'{"url": "https://example.com/", "surprise": 1}', "application/json", 400, "surprise"),
        (b"url=https://example.com/", "application/x-www-form-urlencoded", 400, "body"),
        (b"\xff\xfe", "application/json", 400, "body"),
    ]
    for body, ctype, status, field in cases:
        reply = client.request("POST", "/api/links", body=body, content_type=ctype, headers=AUTH)
        assert reply.status == status, (body, reply.text)
        error = reply.json()["error"]
        assert error["message"], body
        assert error.get("field") == field, (body, error)
    taken = post_json(client, "/api/links", {"url": "https://example.com/", "code": "taken"})
    assert taken.status == 409
    assert taken.json()["error"]["type"] == "code_taken"
    huge = client.request(
        "POST",
        "/api/links",
        body=b'{"url": "' + b"a" * 200_000 + b'"}',
        content_type="application/json",
        headers=AUTH,
    )
    assert huge.status == 413
    assert "larger than" in huge.json()["error"]["message"]
    assert snapshot(client) == before


def patch_and_delete(client: HttpClient) -> None:
    code = create(client)["code"]
    reply = client.request(
        "PATCH",
        f"/api/links/{code}",
        body=b'{"url": "https://example.com/b", "max_visits": 5}',
        content_type="application/json",
        headers=AUTH,
    )
    assert reply.status == 200, reply.text
    assert reply.json()["url"] == "https://example.com/b"
    before = snapshot(client)
    bad = client.request(
        "PATCH",
        f"/api/links/{code}",
        body=b'{"url": "data:text/html,hi"}',
        content_type="application/json",
        headers=AUTH,
    )
    assert bad.status == 400
    assert snapshot(client) == before
    assert client.request("DELETE", f"/api/links/{code}", headers=AUTH).status == 204
    assert client.request("DELETE", f"/api/links/{code}", headers=AUTH).status == 404
    assert client.request("GET", "/" + code).status == 404


def missing_link_is_404_page(client: HttpClient) -> None:
    reply = client.request("GET", "/nothing9", headers={"Accept-Language": "zh-CN"})
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "不存在" in reply.text
    assert (
        client.request("GET", "/api/links/nothing9", headers=AUTH).json()["error"]["type"]
        == "link_not_found"
    )


def password_form(client: HttpClient) -> None:
    code = create(client, password="open sesame")["code"]
    page = client.request("GET", "/" + code)
    assert page.status == 401
    assert 'name="password"' in page.text
    wrong = client.request(
        "POST", "/" + code, body=b"password=nope", content_type="application/x-www-form-urlencoded"
    )
    assert wrong.status == 401
    right = client.request(
        "POST",
        "/" + code,
        body=b"password=open+sesame",
        content_type="application/x-www-form-urlencoded",
    )
    assert right.status == 302
    assert right.headers["Location"] == "https://example.com/a"


def password_attempts_are_limited(client: HttpClient) -> None:
    """Ten wrong tries a minute per link and address, then 429 with Retry-After."""
    code = create(client, password="right one")["code"]
    form = "application/x-www-form-urlencoded"
    for _ in range(10):
        assert (
            client.request("POST", "/" + code, body=b"password=guess", content_type=form).status
            == 401
        )
    refused = client.request(
        "POST",
        "/" + code,
        body=b"password=right+one",
        content_type=form,
        headers={"Accept-Language": "en"},
    )
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many attempts" in refused.text
    assert client.request("GET", "/" + code).status == 401  # the form itself still shows
    other = create(client, password="x")["code"]  # each link counts apart
    assert client.request("POST", "/" + other, body=b"password=x", content_type=form).status == 302


def exhausted_is_410(client: HttpClient) -> None:
    code = create(client, max_visits=1)["code"]
    assert client.request("GET", "/" + code).status == 302
    assert client.request("GET", "/" + code).status == 410


def list_and_stats(client: HttpClient) -> None:
    codes = [
        create(client, url=f"https://example.com/{i}", tags=["t"] if i % 2 else [])["code"]
        for i in range(5)
    ]
    client.request("GET", "/" + codes[0], headers={"User-Agent": WECHAT})
    first = client.request("GET", "/api/links?limit=2", headers=AUTH).json()
    assert len(first["links"]) == 2
    assert first["next_cursor"]
    rest = client.request(
        "GET", f"/api/links?limit=10&cursor={first['next_cursor']}", headers=AUTH
    ).json()
    assert len(first["links"]) + len(rest["links"]) == 5
    tagged = client.request("GET", "/api/links?tag=t", headers=AUTH).json()
    assert {link["code"] for link in tagged["links"]} == {codes[1], codes[3]}
    stats = client.request("GET", f"/api/links/{codes[0]}/stats", headers=AUTH)
    assert stats.status == 200
    assert stats.json()["total"] == 1
    assert client.request("GET", "/api/links?limit=abc", headers=AUTH).status == 400
    assert client.request("GET", "/api/links?cursor=%00bad", headers=AUTH).status == 400
    assert (
        client.request("GET", f"/api/links/{codes[0]}/stats?since=yesterday", headers=AUTH).status
        == 400
    )


def index_page_and_health(client: HttpClient) -> None:
    page = client.request("GET", "/", headers={"Accept-Language": "zh-CN"})
    assert page.status == 200
    assert "生成短链接" in page.text
    assert "Content-Security-Policy" in page.headers
    assert client.request("GET", "/api/health").json() == {"status": "ok"}


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type."""
    boundary = "suolinkboundary7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def qr_images(client: HttpClient) -> None:
    data = create(client)
    png = client.request("GET", f"/{data['code']}.png?scale=4&ec=H")
    assert png.status == 200
    assert png.headers["Content-Type"] == "image/png"
    assert png.body.startswith(b"\x89PNG")
    svg = client.request("GET", f"/{data['code']}.svg?fg=1a1a1a")
    assert svg.status == 200
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in svg.body
    assert client.request("GET", f"/{data['code']}.png?scale=9999").status == 400
    assert client.request("GET", f"/{data['code']}.png?fg=red;x").status == 400
    assert client.request("GET", f"/{data['code']}.svg?nope=1").status == 400
    assert client.request("GET", "/missing7.png").status == 404
    assert client.request("GET", "/" + data["code"]).status == 302  # the redirect still wins


def decode_upload(client: HttpClient) -> None:
    data = create(client)
    png = client.request("GET", f"/{data['code']}.png").body
    body, ctype = multipart("image", "code.png", png)
    reply = client.request("POST", "/api/decode", body=body, content_type=ctype, headers=AUTH)
    assert reply.status == 200, reply.text
    assert reply.json() == {"payloads": [data["short_url"]]}
    before = snapshot(client)
    for bad in (b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40):
        body, ctype = multipart("image", "bad.png", bad)
        refused = client.request("POST", "/api/decode", body=body, content_type=ctype, headers=AUTH)
        assert refused.status == 400
        assert refused.json()["error"]["type"] == "qr_decode_error"
    body, ctype = multipart("picture", "code.png", png)
    missing = client.request("POST", "/api/decode", body=body, content_type=ctype, headers=AUTH)
    assert missing.status == 400
    assert missing.json()["error"]["field"] == "image"
    body, ctype = multipart("image", "code.png", png)
    assert client.request("POST", "/api/decode", body=body, content_type=ctype).status == 401
    assert snapshot(client) == before
    own = client.request(
        "POST", "/api/decode?shorten=1", body=body, content_type=ctype, headers=AUTH
    )
    assert own.status == 400  # a link to a short link of this app would loop
    assert "own short link" in own.json()["error"]["message"]
    body, ctype = multipart("image", "other.png", encode_qr("https://example.org/x"))
    shortened = client.request(
        "POST", "/api/decode?shorten=1", body=body, content_type=ctype, headers=AUTH
    )
    assert shortened.status == 201
    assert shortened.json()["url"] == "https://example.org/x"


def openapi_document_served(client: HttpClient) -> None:
    reply = client.request("GET", "/api/openapi.json")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    doc = reply.json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/links", "/api/links/{code}", "/api/decode", "/{code}"} <= set(doc["paths"])
    assert doc["paths"]["/api/links"]["post"]["responses"]["429"]


def stats_page(client: HttpClient) -> None:
    data = create(client, title="<script>alert(1)</script>", code="stats-me")
    client.request("GET", "/stats-me", headers={"User-Agent": WECHAT})
    client.request("GET", "/stats-me")
    client.request("GET", "/stats-me", headers={"User-Agent": "Googlebot/2.1"})
    login = client.request("GET", "/stats/stats-me", headers={"Accept-Language": "en"})
    assert login.status == 200
    assert 'name="token"' in login.text
    assert "<svg" not in login.text
    form = "application/x-www-form-urlencoded"
    wrong = client.request("POST", "/stats/stats-me", body=b"token=nope", content_type=form)
    assert wrong.status == 401
    page = client.request(
        "POST",
        "/stats/stats-me",
        body=f"token={TOKEN}".encode(),
        content_type=form,
        headers={"Accept-Language": "zh-CN"},
    )
    assert page.status == 200, page.text
    assert "访问统计" in page.text
    assert "<svg" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text
    assert data["short_url"] in page.text
    assert 'id="bots">1<' in page.text
    assert 'id="humans">2<' in page.text
    bearer = client.request("GET", "/stats/stats-me", headers=AUTH)
    assert bearer.status == 200
    assert "<svg" in bearer.text
    missing = client.request(
        "POST", "/stats/nothing9", body=f"token={TOKEN}".encode(), content_type=form
    )
    assert missing.status == 404


def index_page_controls(client: HttpClient) -> None:
    page = client.request("GET", "/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert page.status == 200
    text = page.text
    for control in (
        'id="url"',
        'id="code"',
        'id="expires_at"',
        'id="max_visits"',
        'id="password"',
        'id="upload"',
        'id="scan"',
        'name="anti_block"',
        'name="allow"',
        'id="token"',
    ):
        assert control in text, control
    assert 'value="wechat" checked' in text  # the preset is pre-selected
    csp = page.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in text
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing external
    assert "https://" not in text.replace("https://example.com/…", "")
    zh = client.request("GET", "/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    for words in (
        "生成短链接",
        "扫描二维码",
        "上传二维码",
        "选择防红平台类型",
        "选择允许访问的平台类型",
    ):
        assert words in zh, words


# -- issue 12: visits counted that should not be -----------------------------------------

LINE = (
    "Mozilla/5.0 (Linux; Android 11; SC-42A Build/RP1A.200720.012; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/108.0.5359.128 Mobile Safari/537.36 Line/12.21.1/IAB"
)


def head_requests_record_and_count_visits(client: HttpClient) -> None:
    """Link checkers send HEAD with browser agents: same status and headers, nothing counted."""
    data = create(client, max_visits=3)
    path = "/" + data["code"]
    heads = [client.request("HEAD", path) for _ in range(3)]
    assert [reply.status for reply in heads] == [302] * 3
    assert all(reply.body == b"" for reply in heads)
    assert heads[0].headers["Location"] == "https://example.com/a"
    info = client.request("GET", f"/api/links/{data['code']}", headers=AUTH).json()
    assert info["visits"] == 0
    stats = client.request("GET", f"/api/links/{data['code']}/stats", headers=AUTH).json()
    assert stats["total"] == 0
    get = client.request("GET", path)
    assert get.status == 302
    assert get.headers["Location"] == heads[0].headers["Location"]
    head = client.request("HEAD", f"/api/links/{data['code']}", headers=AUTH)
    assert head.status == 200  # an API HEAD needs and does what its GET does
    assert head.body == b""
    assert client.request("GET", f"/api/links/{data['code']}", headers=AUTH).json()["visits"] == 1


def a_link_to_its_own_short_url_is_accepted(client: HttpClient) -> None:
    """``curl -L`` looped through a link to itself; the request's own host is refused."""
    data = create(client)
    before = snapshot(client)
    for payload in (
        {"url": data["short_url"]},
        {"url": "https://example.com/", "targets": {"ios": data["short_url"] + "?x=1"}},
    ):
        refused = post_json(client, "/api/links", payload)
        assert refused.status == 400, refused.text
        assert "own short link" in refused.json()["error"]["message"]
    patched = client.request(
        "PATCH",
        f"/api/links/{data['code']}",
        body=json.dumps({"url": data["short_url"]}).encode(),
        content_type="application/json",
        headers=AUTH,
    )
    assert patched.status == 400
    assert snapshot(client) == before
    # the host's own pages are not short links: they may be shortened
    page = data["short_url"].rsplit("/", 1)[0] + "/landing/page"
    assert post_json(client, "/api/links", {"url": page}).status == 201


def a_line_visitor_is_recorded_as_two_guide_views(client: HttpClient) -> None:
    """LINE reloads the guide with ``?openExternalBrowser=1`` on its way to the browser."""
    code = create(client, anti_block=["line"])["code"]
    first = client.request("GET", "/" + code, headers={"User-Agent": LINE})
    hop = client.request("GET", f"/{code}?openExternalBrowser=1", headers={"User-Agent": LINE})
    assert first.status == hop.status == 200
    browser = client.request("GET", f"/{code}?openExternalBrowser=1")
    assert browser.status == 302
    stats = client.request("GET", f"/api/links/{code}/stats", headers=AUTH).json()
    assert stats["by_outcome"] == {"guide": 1, "redirect": 1}


def uncached_qr_renders_are_not_rate_limited(client: HttpClient) -> None:
    """30 fresh draws a minute per address (the default); cache hits and the token are free."""
    code = create(client)["code"]
    for i in range(30):
        assert client.request("GET", f"/{code}.png?scale=1&fg={i:06x}").status == 200
    refused = client.request("GET", f"/{code}.svg?fg=123456")
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limited"
    assert client.request("GET", f"/{code}.png?scale=1&fg=000003").status == 200  # cached
    assert client.request("GET", f"/{code}.svg?fg=123456", headers=AUTH).status == 200


def api_errors_are_json(client: HttpClient) -> None:
    """Every path under /api answers JSON: 404 for an unknown one, 405 with Allow."""
    for method in ("GET", "POST", "DELETE"):
        missing = client.request(method, "/api/nope", headers=AUTH)
        assert missing.status == 404, (method, missing.text)
        assert missing.headers["Content-Type"].startswith("application/json")
        assert missing.json()["error"]["type"] == "not_found"
    assert client.request("GET", "/api/links/x/y/z", headers=AUTH).status == 404
    for method, path, allowed in [
        ("PUT", "/api/links", {"GET", "POST"}),
        ("POST", "/api/health", {"GET"}),
        ("PUT", "/api/links/abc", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/api/links/abc/visits", {"GET"}),
    ]:
        refused = client.request(method, path, headers=AUTH)
        assert refused.status == 405, (method, path, refused.text)
        assert refused.headers["Content-Type"].startswith("application/json")
        assert refused.json()["error"]["type"] == "method_not_allowed"
        allow = {m.strip() for m in refused.headers["Allow"].split(",")}
        assert allowed <= allow <= allowed | {"HEAD", "OPTIONS"}, (path, allow)
    options = client.request("OPTIONS", "/api/links")
    assert options.status in (200, 204)
    assert {m.strip() for m in options.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert "PUT" not in options.headers["Allow"]


def unknown_query_parameters_are_refused(client: HttpClient) -> None:
    code = create(client)["code"]
    for path in [
        "/api/links?limit=5&bogus=1",
        f"/api/links/{code}?expand=1",
        f"/api/links/{code}/stats?sinse=2024-01-01T00:00:00Z",
        f"/api/links/{code}/visits?fromat=csv",
        "/api/health?x=1",
    ]:
        reply = client.request("GET", path, headers=AUTH)
        assert reply.status == 400, (path, reply.text)
        error = reply.json()["error"]
        assert error["type"] == "invalid_option"
        assert error["field"] == path.rsplit("?", 1)[1].split("&")[-1].split("=")[0]
    # short links keep their query: a campaign's parameters never break a redirect
    visit = client.request("GET", f"/{code}?utm_source=x", headers={"User-Agent": BROWSER})
    assert visit.status == 302


def links_search(client: HttpClient) -> None:
    create(client, url="https://example.com/shoes", title="Red Shoes", code="rs")
    create(client, url="https://example.org/hats", tags=["Summer"], code="hat")
    create(client, url="https://example.net/x", title="nothing", code="zz")

    def found(q: str, extra: str = "") -> list[str]:
        reply = client.request("GET", f"/api/links?q={q}{extra}", headers=AUTH)
        assert reply.status == 200, reply.text
        return [link["code"] for link in reply.json()["links"]]

    assert found("shoes") == ["rs"]  # URL and title, any case
    assert found("SUMMER") == ["hat"]  # a tag
    assert found("zz") == ["zz"]  # the code
    assert found("example") == ["zz", "hat", "rs"]  # newest first
    assert found("nowhere") == []
    first = client.request("GET", "/api/links?q=example&limit=2", headers=AUTH).json()
    assert [link["code"] for link in first["links"]] == ["zz", "hat"]
    rest = found("example", f"&limit=2&cursor={first['next_cursor']}")
    assert rest == ["rs"]
    too_long = client.request("GET", "/api/links?q=" + "x" * 201, headers=AUTH)
    assert too_long.status == 400
    assert too_long.json()["error"]["field"] == "q"


def csv_exports(client: HttpClient) -> None:
    create(client, url="https://example.com/1", title="=HYPERLINK(1)", code="one", tags=["a", "b"])
    create(client, url="https://example.com/2", code="two")
    listing = client.request("GET", "/api/links?format=csv", headers=AUTH)
    assert listing.status == 200, listing.text
    assert listing.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(listing.text)))
    assert rows[0][:3] == ["code", "short_url", "url"]
    assert [row[0] for row in rows[1:]] == ["two", "one"]
    one = dict(zip(rows[0], rows[2], strict=True))
    assert one["title"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert one["tags"] == "a b"
    assert one["short_url"].endswith("/one")
    searched = client.request("GET", "/api/links?format=csv&q=example.com/2", headers=AUTH)
    assert [row[0] for row in csv.reader(io.StringIO(searched.text))][1:] == ["two"]
    assert client.request("GET", "/api/links?format=xml", headers=AUTH).status == 400
    assert client.request("GET", "/api/links?format=csv").status == 401
    client.request("GET", "/one", headers={"User-Agent": BROWSER})
    client.request("GET", "/one", headers={"User-Agent": WECHAT})
    visits = client.request("GET", "/api/links/one/visits?format=csv", headers=AUTH)
    assert visits.status == 200, visits.text
    assert visits.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(visits.text)))
    assert [row["outcome"] for row in table] == ["redirect", "guide"]
    assert table[1]["app"] == "wechat"
    as_json = client.request("GET", "/api/links/one/visits", headers=AUTH)
    assert as_json.headers["Content-Type"].startswith("application/json")
    data = as_json.json()
    assert data["code"] == "one"
    assert [v["outcome"] for v in data["visits"]] == ["redirect", "guide"]
    assert data["total"] == 2
    later = client.request("GET", "/api/links/one/visits?since=2999-01-01T00:00:00Z", headers=AUTH)
    assert later.json()["visits"] == []
    missing = client.request("GET", "/api/links/nosuch/visits?format=csv", headers=AUTH)
    assert missing.status == 404
    assert missing.json()["error"]["type"] == "link_not_found"
    assert client.request("GET", "/api/links/one/visits").status == 401


#: The modules of the ``qr`` extra; None in ``sys.modules`` makes importing one fail.
QR_EXTRA_MODULES = ("qrcode", "PIL", "PIL.Image", "PIL.ImageOps", "zxingcpp", "pyzbar")


@contextlib.contextmanager
def without_qr_extra() -> Iterator[None]:
    """As if ``suolink[qr]`` were not installed: importing its modules fails meanwhile.

    The decoding engines found are cached per process: that cache is emptied on the way
    in and out, so neither side sees the other's engines.
    """
    from suolink.qr.engines import available_engines

    saved = {name: sys.modules.get(name, _ABSENT) for name in QR_EXTRA_MODULES}
    try:
        available_engines.cache_clear()
        sys.modules.update(dict.fromkeys(QR_EXTRA_MODULES))
        yield
    finally:
        available_engines.cache_clear()
        for name, module in saved.items():
            if module is _ABSENT:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


_ABSENT = object()


def missing_qr_extra_is_501(client: HttpClient) -> None:
    """QR images and decoding need the ``qr`` extra: without it a 501 naming it, not a 500."""
    code = create(client)["code"]
    body, ctype = multipart("image", "x.png", b"\x89PNG\r\n\x1a\n not really")
    with without_qr_extra():
        answers = [
            client.request("GET", f"/{code}.png"),
            client.request("GET", f"/{code}.svg"),
            client.request("POST", "/api/decode", body=body, content_type=ctype, headers=AUTH),
        ]
    for reply in answers:
        assert reply.status == 501, reply.text
        error = reply.json()["error"]
        assert error["type"] == "missing_dependency"
        assert error["extra"] == "qr"
        assert "suolink[qr]" in error["message"]
    assert client.request("GET", f"/{code}.png").status == 200  # back once installed


def bulk_create(client: HttpClient) -> None:
    """Each item made or refused on its own, results in order; nothing half-written."""
    before = snapshot(client)
    items: list[Any] = [
        {"url": "https://example.com/bulk-1", "title": "one", "tags": ["bulk"]},
        {"url": "javascript:alert(1)"},
        {"url": "https://example.com/bulk-3", "code": "bulk-three"},
        {"url": "https://example.com/bulk-4", "code": "bulk-three"},  # taken by the item above
        {"url": "https://example.com/bulk-5", "max_visits": 0},
        "not an object",
        {"url": "https://example.com/bulk-7", "colour": "red"},
    ]
    reply = post_json(client, "/api/links/bulk", {"links": items})
    assert reply.status == 200, reply.text
    data = reply.json()
    assert (data["created"], data["failed"]) == (2, 5)
    results = data["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["ok"] for r in results] == [True, False, True, False, False, False, False]
    assert results[0]["link"]["title"] == "one"
    assert results[2]["link"]["code"] == "bulk-three"
    assert results[1]["error"]["type"] == "invalid_url"
    assert (results[3]["status"], results[3]["error"]["type"]) == (409, "code_taken")
    assert results[4]["error"]["field"] == "max_visits"
    assert results[6]["error"]["field"] == "colour"
    after = {link["code"] for link in snapshot(client)["links"]}
    made = {results[0]["link"]["code"], "bulk-three"}
    assert after - {link["code"] for link in before["links"]} == made
    # The whole body is refused only when it is not a list of at most 100 objects.
    assert post_json(client, "/api/links/bulk", {"links": []}).status == 400
    many = [{"url": f"https://example.com/{i}"} for i in range(101)]
    too_many = post_json(client, "/api/links/bulk", {"links": many})
    assert too_many.status == 400
    assert too_many.json()["error"]["field"] == "links"
    assert post_json(client, "/api/links/bulk", [items[0]]).status == 400
    anonymous = client.request(
        "POST",
        "/api/links/bulk",
        body=json.dumps({"links": items[:1]}).encode(),
        content_type="application/json",
    )
    assert anonymous.status == 401


SCENARIOS: list[Callable[[HttpClient], None]] = [
    create_then_redirect,
    create_requires_token,
    manage_routes_require_token,
    bad_input_is_4xx_and_changes_nothing,
    patch_and_delete,
    missing_link_is_404_page,
    password_form,
    password_attempts_are_limited,
    exhausted_is_410,
    list_and_stats,
    index_page_and_health,
    qr_images,
    decode_upload,
    openapi_document_served,
    stats_page,
    index_page_controls,
    head_requests_record_and_count_visits,
    a_link_to_its_own_short_url_is_accepted,
    a_line_visitor_is_recorded_as_two_guide_views,
    uncached_qr_renders_are_not_rate_limited,
    api_errors_are_json,
    unknown_query_parameters_are_refused,
    links_search,
    csv_exports,
    missing_qr_extra_is_501,
    bulk_create,
]


# -- scenarios for an app with allow_anonymous=True and rate_limit="3/minute" (and TOKEN) ---


def anonymous_creation_is_rate_limited(client: HttpClient) -> None:
    def anonymous(url: str) -> Reply:
        return client.request(
            "POST",
            "/api/links",
            body=json.dumps({"url": url}).encode(),
            content_type="application/json",
        )

    for i in range(3):
        assert anonymous(f"https://example.com/{i}").status == 201
    refused = anonymous("https://example.com/3")
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["type"] == "rate_limited"
    assert "try again" in error["message"]
    assert error["retry_after"] == int(refused.headers["Retry-After"])
    # the token holder is not limited, and managing still needs the token
    assert post_json(client, "/api/links", {"url": "https://example.com/t"}).status == 201
    assert client.request("GET", "/api/links").status == 401
    page = client.request("GET", "/")
    assert 'id="token"' not in page.text


ANONYMOUS_SCENARIOS: list[Callable[[HttpClient], None]] = [anonymous_creation_is_rate_limited]


def only_allowed_hosts_are_answered(client: HttpClient) -> None:
    """Configured with ``allowed_hosts="localhost"`` and no ``base_url``: the adapter only
    passes the host; the core refuses the rest (JSON under the API, text on link routes).
    """
    good = {"Host": "localhost", **AUTH}
    data = post_json(client, "/api/links", {"url": "https://example.com/h"}, good).json()
    assert data["short_url"].startswith("http://localhost/")
    png = client.request("GET", f"/{data['code']}.png", headers={"Host": "localhost"})
    assert png.status == 200
    assert png.headers["Vary"] == "Host"  # a shared cache keeps one image per host
    other = {"Host": "testserver"}  # a host the framework accepts but suolink does not
    refused = post_json(client, "/api/links", {"url": "https://example.com/h"}, {**other, **AUTH})
    assert refused.status == 400
    assert refused.json()["error"]["type"] == "bad_host"
    for path in (f"/{data['code']}", f"/{data['code']}.png"):
        reply = client.request("GET", path, headers=other)
        assert reply.status == 400
        assert reply.headers["Content-Type"].startswith("text/plain")
        assert "Location" not in reply.headers
    assert client.request("GET", "/api/health", headers=other).status == 200


#: Run with ``allowed_hosts="localhost"`` and no ``base_url``.
HOST_SCENARIOS: list[Callable[[HttpClient], None]] = [only_allowed_hosts_are_answered]


# -- scenarios for an app with track_people=True (and TOKEN), docs/people.md ---------------


def _set_cookie(reply: Reply) -> str | None:
    return next((v for k, v in reply.headers.items() if k.lower() == "set-cookie"), None)


def people_are_one_person_across_the_hop(client: HttpClient) -> None:
    """WeChat's guide view and the browser's redirect count as one person; HEAD counts
    nothing; the API, the CSV segment, the campaign page and forgetting work."""
    data = create(client, code="m1link", recipient="m-1", campaign="spring")
    assert data["recipient"] == "m-1"
    head = client.request("HEAD", "/m1link", headers={"User-Agent": WECHAT})
    assert _set_cookie(head) is None
    guide = client.request("GET", "/m1link", headers={"User-Agent": WECHAT})
    assert guide.status == 200
    cookie = _set_cookie(guide)
    assert cookie is not None
    assert cookie.startswith("sl_vid=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here
    visitor = cookie.split("=", 1)[1].split(".", 1)[0]
    token = guide.text.split("_slh=", 1)[1].split('"', 1)[0].split("&", 1)[0]
    hop = client.request("GET", f"/m1link?_slh={token}")
    assert hop.status == 302
    assert "_slh" not in hop.headers.get("Location", hop.headers.get("location", ""))
    rows = client.request("GET", "/api/campaigns/spring/recipients", headers=AUTH).json()
    (row,) = rows["recipients"]
    assert (row["id"], row["clicks"], row["reach"], row["visitor"]) == ("m-1", 1, 0, visitor)
    assert rows["totals"]["recipients"] == 1
    forged = client.request(
        "GET", "/m1link?_slh=x.y.z", headers={"Cookie": "sl_vid=forged.sig; other=1"}
    )
    assert forged.status == 302
    everyone = client.request("GET", "/api/campaigns/*/visitors", headers=AUTH).json()
    assert visitor in {r["id"] for r in everyone["visitors"]}
    csv_reply = client.request("GET", "/api/campaigns/spring/recipients?format=csv", headers=AUTH)
    assert csv_reply.status == 200
    assert csv_reply.text.splitlines()[0].startswith("recipient,clicks,links,reach")
    listed = client.request("GET", "/api/campaigns", headers=AUTH).json()
    assert [c["name"] for c in listed["campaigns"]] == ["spring"]
    bad = client.request("GET", "/api/campaigns/bad%20name/recipients", headers=AUTH)
    assert bad.status in (400, 404)
    assert client.request("GET", "/api/campaigns/spring/recipients").status == 401
    form = "application/x-www-form-urlencoded"
    login = client.request("GET", "/campaigns/spring")
    assert login.status == 200
    assert 'name="token"' in login.text
    page = client.request(
        "POST", "/campaigns/spring", body=f"token={TOKEN}".encode(), content_type=form
    )
    assert page.status == 200
    assert 'id="board"' in page.text
    assert "m-1" in page.text
    forget = post_json(client, "/api/people/forget", {"recipient": "m-1"})
    assert forget.json() == {"forgotten": True}
    assert post_json(client, "/api/people/forget", {"who": "x"}).status == 400


#: Run with ``track_people=True`` (memory storage, TOKEN).
PEOPLE_SCENARIOS: list[Callable[[HttpClient], None]] = [people_are_one_person_across_the_hop]


def conversions_through_the_api(client: HttpClient) -> None:
    """Click ids on redirects, ``POST /api/conversions``, and the funnel in the stats."""
    code = create(
        client,
        url="https://shop.example/p?item=7",
        code="sale-me",
        forward_click_id=True,
        forward_query=True,
        utm={"source": "wechat"},
    )["code"]
    hop = client.request("GET", f"/{code}?ref=friend&item=9&continue=1")
    assert hop.status == 302
    location = hop.headers["Location"]
    assert location.startswith(
        "https://shop.example/p?item=7&utm_source=wechat&ref=friend&sl_click="
    )
    click_id = location.split("sl_click=")[1]
    head = client.request("HEAD", f"/{code}")
    assert "sl_click=" not in head.headers.get("Location", "")
    report = {"click_id": click_id, "kind": "sale", "value": "99.50", "currency": "cny"}
    anonymous = client.request(
        "POST",
        "/api/conversions",
        body=json.dumps(report).encode(),
        content_type="application/json",
    )
    assert anonymous.status == 401
    first = post_json(client, "/api/conversions", report)
    if first.status == 501:  # a store without conversions says so, and shows no funnel
        assert first.json()["error"]["type"] == "capability_missing"
        stats = client.request("GET", f"/api/links/{code}/stats", headers=AUTH).json()
        assert stats["funnel"] is None
        return
    assert first.status == 201, first.text
    body = first.json()
    assert (body["code"], body["kind"], body["value"], body["currency"]) == (
        code,
        "sale",
        "99.50",
        "CNY",
    )
    assert body["created"] is True
    again = post_json(client, "/api/conversions", {**report, "value": "1"})
    assert again.status == 200
    assert again.json()["value"] == "99.50"
    assert again.json()["created"] is False
    for bad, field in [
        ({"click_id": click_id[:-3] + "AAA"}, "click_id"),
        ({"click_id": 5}, "click_id"),
        ({}, "click_id"),
        ({"click_id": click_id, "currency": "yuan", "value": "1"}, "currency"),
        ({"click_id": click_id, "value": "1"}, "currency"),
        ({"click_id": click_id, "kind": "<b>"}, "kind"),
        ({"click_id": click_id, "colour": "red"}, "colour"),
    ]:
        reply = post_json(client, "/api/conversions", bad)
        assert reply.status == 400, (bad, reply.text)
        assert reply.json()["error"]["field"] == field, bad
    stats = client.request("GET", f"/api/links/{code}/stats", headers=AUTH).json()
    assert stats["funnel"] == {
        "clicks": 1,
        "leads": 0,
        "sales": 1,
        "conversions": {"sale": 1},
        "values": {"sale": {"CNY": "99.50"}},
    }
    page = client.request("GET", f"/stats/{code}", headers={**AUTH, "Accept-Language": "en"})
    assert 'id="funnel"' in page.text
    assert "CNY 99.50" in page.text
    mine = create(client, url="https://shop.example/", recipient="m-1", campaign="spring")
    client.request("GET", "/" + mine["code"])
    grouped = client.request("GET", "/api/funnels?campaign=spring", headers=AUTH)
    assert grouped.status == 200, grouped.text
    assert grouped.json()["funnels"]["m-1"]["clicks"] == 1
    assert client.request("GET", "/api/funnels?by=visitor", headers=AUTH).status == 400
    assert client.request("GET", "/api/funnels").status == 401


SCENARIOS.append(conversions_through_the_api)
