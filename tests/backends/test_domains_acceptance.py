"""Issue 16's acceptance, on every backend and through the Flask, ASGI and Django adapters
with real ``Host`` headers: two pools, three domains, links bound to each; resolution by
host; marking s1 blocked for WeChat moves new short URLs and QR codes for WeChat to s2
while s1's links still resolve; unknown hosts never appear in a URL or QR the server makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http_scenarios import AUTH, TOKEN, WECHAT, FlaskClient, HttpClient, Reply

from .conftest import BACKEND_PARAMS, Backend

DOMAINS = "s1.example=main, s2.example=main, s3.example=promo"
S1, S2, S3, EVIL = (
    {"Host": "s1.example"},
    {"Host": "s2.example"},
    {"Host": "s3.example"},
    {"Host": "evil.example"},
)


def _post(client: HttpClient, path: str, payload: Any, host: dict[str, str]) -> Reply:
    return client.request(
        "POST",
        path,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        headers={**AUTH, **host},
    )


def _qr_text(reply: Reply) -> list[str] | None:
    """What a QR image says, or None where no decoder is installed."""
    try:
        from suolink.qr import decode

        return decode(reply.body)
    except Exception:  # the qr extra's decoder is optional
        return None


def scenario(client: HttpClient) -> None:
    made = {}
    for name, settings in (
        ("on_s1", {"domain": "s1.example", "anti_block_mode": "guide"}),
        ("on_s2", {"domain": "s2.example"}),
        ("promo", {"pool": "promo"}),
        ("plain", {}),
    ):
        reply = _post(client, "/api/links", {"url": f"https://t.example/{name}", **settings}, S1)
        assert reply.status == 201, reply.body
        made[name] = reply.json()
    on_s1, on_s2, promo, plain = (made[k]["code"] for k in ("on_s1", "on_s2", "promo", "plain"))
    assert made["on_s1"]["short_url"] == f"https://s1.example/{on_s1}"
    assert made["on_s2"]["short_url"] == f"https://s2.example/{on_s2}"
    assert made["promo"]["short_url"] == f"https://s3.example/{promo}"
    assert made["plain"]["short_url"] == f"https://s1.example/{plain}"  # the default domain

    def status(code: str, host: dict[str, str]) -> int:
        return client.request("GET", f"/{code}", headers=host).status

    # resolution by Host: the link's pool only; unbound links on every domain
    assert [status(on_s1, h) for h in (S1, S2, S3)] == [302, 302, 404]
    assert [status(promo, h) for h in (S1, S3)] == [404, 302]
    assert [status(plain, h) for h in (S1, S2, S3)] == [302, 302, 302]
    # unknown hosts: 404 everywhere, the host never echoed
    for path in (f"/{on_s1}", f"/{plain}", f"/{plain}.png", "/api/links", "/"):
        reply = client.request("GET", path, headers={**AUTH, **EVIL})
        assert reply.status == 404, (path, reply.status)
        assert b"evil" not in reply.body

    # s1 is blocked inside WeChat
    marked = _post(
        client,
        "/api/domains/s1.example/mark",
        {"state": "blocked", "platforms": ["wechat"], "reason": "block page"},
        S2,
    )
    assert marked.status == 200, marked.body
    assert marked.json()["states"]["wechat"]["state"] == "blocked"
    listed = client.request("GET", "/api/domains", headers={**AUTH, **S2}).json()["domains"]
    assert [d["name"] for d in listed] == ["s1.example", "s2.example", "s3.example"]

    def short_url(code: str, platform: str) -> str:
        path = f"/api/links/{code}?for_platform={platform}"
        reply = client.request("GET", path, headers={**AUTH, **S1})
        assert reply.status == 200, reply.body
        return str(reply.json()["short_url"])

    assert short_url(on_s1, "wechat") == f"https://s2.example/{on_s1}"
    assert short_url(plain, "wechat") == f"https://s2.example/{plain}"
    assert short_url(on_s1, "qq") == f"https://s1.example/{on_s1}"  # QQ still fine
    assert short_url(promo, "wechat") == f"https://s3.example/{promo}"  # another pool
    qr = client.request("GET", f"/{on_s1}.png?platform=wechat", headers=S1)
    assert qr.status == 200
    assert _qr_text(qr) in (None, [f"https://s2.example/{on_s1}"])
    # old s1 URLs still resolve (outside WeChat; inside it the app blocks s1 anyway)
    assert status(on_s1, S1) == 302
    # the guide page a WeChat visitor gets shows and copies the s2 URL
    page = client.request("GET", f"/{on_s1}", headers={"User-Agent": WECHAT, **S1})
    assert page.status == 200
    assert f"https://s2.example/{on_s1}".encode() in page.body
    assert f"https://s1.example/{on_s1}".encode() not in page.body
    assert b"platform=wechat" in page.body  # its QR image asks for the WeChat URL
    # visits record the domain they came on: stats by domain
    stats = client.request("GET", f"/api/links/{on_s1}/stats", headers={**AUTH, **S1}).json()
    assert stats["by_domain"] == {"s1.example": 3, "s2.example": 1}, stats
    visits = client.request("GET", f"/api/links/{on_s1}/visits", headers={**AUTH, **S1}).json()
    assert {v["domain"] for v in visits["visits"]} == {"s1.example", "s2.example"}


# -- Flask, every backend ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKEND_PARAMS, indirect=True)
def test_flask_on_every_backend(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from suolink.adapters.flask import create_app, get_shortener

    app = create_app(backend.url(request, tmp_path), api_token=TOKEN, secret="s", domains=DOMAINS)
    try:
        scenario(FlaskClient(app))
    finally:
        get_shortener(app).close()


# -- ASGI ----------------------------------------------------------------------------------------


@pytest.fixture
def asgi_client(tmp_path: Path) -> Iterator[HttpClient]:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from suolink.adapters.asgi import create_app
    from tests.adapters.test_asgi import AsgiClient

    app = create_app(f"sqlite:///{tmp_path / 'a.db'}", api_token=TOKEN, secret="s", domains=DOMAINS)
    with TestClient(app, base_url="http://s1.example") as client:
        yield AsgiClient(client)


def test_asgi(asgi_client: HttpClient) -> None:
    scenario(asgi_client)


# The Django adapter runs the same scenario in tests/adapters/django/test_http.py
# (test_short_domains), where the Django test database is set up.
