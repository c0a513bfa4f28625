"""The ASGI adapter: the shared HTTP scenarios through a real HTTP client, plus its own."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from suolink.adapters.asgi import create_app, get_shortener
from suolink.config import NoSecretWarning
from suolink.errors import ConfigurationError, InvalidSetting
from suolink.shortener import Shortener
from tests.conftest import storage_url
from tests.http_scenarios import (
    ANONYMOUS_SCENARIOS,
    AUTH,
    BROWSER,
    HOST_SCENARIOS,
    PEOPLE_SCENARIOS,
    SCENARIOS,
    TOKEN,
    WECHAT,
    BrowserClient,
    HttpClient,
    Reply,
    without_qr_extra,
)


class AsgiClient(BrowserClient):
    """:class:`HttpClient` over Starlette's TestClient (httpx), lifespan included."""

    def __init__(self, client: TestClient, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def send(
        self, method: str, path: str, body: bytes | None, content_type: str | None, headers: Any
    ) -> Reply:
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self.client.request(
            method, self.prefix + path, content=body, headers=headers, follow_redirects=False
        )
        return Reply(response.status_code, _AnyCase(response.headers), response.content)


class _AnyCase(dict[str, str]):
    """Response headers looked up in any case (HTTP/1.1 names arrive lower-case)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__((k.lower(), v) for k, v in headers.items())

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


def client_for(app: Starlette, prefix: str = "") -> Iterator[AsgiClient]:
    with TestClient(app, base_url="http://localhost") as client:
        yield AsgiClient(client, prefix)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Starlette:
    return create_app(storage_url(request.param, request, tmp_path), api_token=TOKEN, secret="s")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(app: Starlette, scenario: Callable[[HttpClient], None]) -> None:
    for client in client_for(app):
        scenario(client)


@pytest.mark.parametrize("scenario", ANONYMOUS_SCENARIOS, ids=lambda s: s.__name__)
def test_anonymous_scenario(scenario: Callable[[HttpClient], None], tmp_path: Path) -> None:
    app = create_app(
        f"sqlite:///{tmp_path / 'a.db'}",
        secret="s",
        api_token=TOKEN,
        allow_anonymous=True,
        rate_limit="3/minute",
    )
    for client in client_for(app):
        scenario(client)


@pytest.mark.parametrize("scenario", HOST_SCENARIOS, ids=lambda s: s.__name__)
def test_host_scenario(scenario: Callable[[HttpClient], None]) -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", allowed_hosts="localhost")
    for client in client_for(app):
        scenario(client)


def test_head_is_answered_like_get_and_records_nothing(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'h.db'}", api_token=TOKEN, secret="s")
    with TestClient(app) as client:
        made = client.post("/api/links", json={"url": "https://example.com/h"}, headers=AUTH)
        code = made.json()["code"]
        head = client.head(f"/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert head.status_code == 302
        assert head.headers["location"] == "https://example.com/h"
        assert head.content == b""
        png = client.head(f"/{code}.png")
        assert png.headers["content-type"] == "image/png"
        assert int(png.headers["content-length"]) > 100
        assert png.content == b""
        assert get_shortener(app).get(code).visits == 0  # type: ignore[union-attr]


def test_upload_over_the_limit_is_413() -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", max_upload_bytes=1000)
    with TestClient(app) as client:
        files = {"image": ("a.png", b"x" * 5000, "image/png")}
        reply = client.post("/api/decode", files=files, headers=AUTH)
        assert reply.status_code == 413
        assert reply.json()["error"]["type"] == "body_too_large"
        declared = client.post(
            "/api/decode", content=b"x" * 1001, headers={**AUTH, "Content-Type": "image/png"}
        )
        assert declared.status_code == 413


def test_a_chunked_upload_is_refused_before_it_is_all_read() -> None:
    """No Content-Length: the body is read a chunk at a time and refused past the limit."""
    app = create_app("memory://", api_token=TOKEN, secret="s", max_upload_bytes=1000)
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 300, "more_body": True}  # endless

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/decode",
        "raw_path": b"/api/decode",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-type", b"image/png")],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(received) == 4  # 1,200 bytes read, then refused


def test_json_body_over_max_body_bytes_is_413() -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", max_body_bytes=100)
    with TestClient(app) as client:
        reply = client.post(
            "/api/links", json={"url": "https://example.com/" + "a" * 200}, headers=AUTH
        )
    assert reply.status_code == 413


def test_environment_variables_configure_the_factory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUOLINK_STORAGE", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("SUOLINK_SECRET", "from-env")
    monkeypatch.setenv("SUOLINK_API_TOKEN", "env-token")
    monkeypatch.setenv("SUOLINK_BASE_URL", "https://s.example")
    monkeypatch.setenv("SUOLINK_REDIRECT_STATUS", "307")
    app = create_app()
    shortener = get_shortener(app)
    assert shortener.secret == "from-env"
    assert shortener.storage.url.endswith("env.db")
    with TestClient(app) as client:
        made = client.post(
            "/api/links",
            json={"url": "https://example.com/e"},
            headers={"Authorization": "Bearer env-token"},
        )
        assert made.status_code == 201
        assert made.json()["short_url"] == f"https://s.example/{made.json()['code']}"
        hop = client.get(f"/{made.json()['code']}", follow_redirects=False)
        assert hop.status_code == 307
    # arguments beat the environment
    assert get_shortener(create_app(secret="given")).secret == "given"


def test_unknown_options_are_refused_and_flask_only_options_named() -> None:
    with pytest.raises(InvalidSetting, match="colour"):
        create_app("memory://", colour="red")
    with pytest.raises(InvalidSetting, match="only of: django"):
        create_app("memory://", use_permissions=False)


def test_lifespan_shutdown_closes_the_shortener(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'l.db'}", api_token=TOKEN, secret="s")
    shortener = get_shortener(app)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert not _closed(shortener)
    assert _closed(shortener)


def test_a_given_shortener_is_left_open() -> None:
    shortener = Shortener("memory://", secret="s")
    app = create_app(shortener=shortener)
    with TestClient(app):
        pass
    assert not _closed(shortener)
    shortener.close()


def _closed(shortener: Shortener) -> bool:
    """Whether the store refuses work (the backends answer 'unavailable' once closed)."""
    from suolink.errors import BackendError, LinkNotFound

    try:
        shortener.get("abcde")
    except LinkNotFound:
        return False
    except BackendError:
        return True
    return False


def test_two_apps_keep_their_own_state() -> None:
    one = create_app("memory://", api_token="t1", secret="s")
    two = create_app("memory://", api_token="t2", secret="s")
    with TestClient(one) as first, TestClient(two) as second:
        made = first.post(
            "/api/links",
            json={"url": "https://example.com/"},
            headers={"Authorization": "Bearer t1"},
        )
        code = made.json()["code"]
        assert first.get(f"/{code}", follow_redirects=False).status_code == 302
        assert second.get(f"/{code}").status_code == 404
    assert get_shortener(one) is not get_shortener(two)


def test_get_shortener_of_another_app_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="create_app"):
        get_shortener(Starlette())


def test_url_and_link_prefixes(tmp_path: Path) -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", url_prefix="/x", link_prefix="/l")
    with TestClient(app, base_url="http://localhost") as client:
        made = client.post("/x/api/links", json={"url": "https://example.com/"}, headers=AUTH)
        data = made.json()
        assert data["short_url"] == f"http://localhost/l/{data['code']}"
        assert client.get(f"/l/{data['code']}", follow_redirects=False).status_code == 302
        paths = client.get("/x/api/openapi.json").json()["paths"]
        assert "/x/api/links" in paths
        assert "/l/{code}" in paths


def test_web_page_false_mounts_only_the_api_and_short_links() -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", web_page=False)
    with TestClient(app) as client:
        assert client.get("/").status_code == 404
        assert client.get("/api/health").status_code == 200
        assert "/" not in client.get("/api/openapi.json").json()["paths"]


def test_start_up_warnings_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="suolink.asgi"):
        create_app("memory://", secret="s")
    messages = [r.getMessage() for r in caplog.records if r.name == "suolink.asgi"]
    assert any("SUOLINK_API_TOKEN" in m for m in messages)
    assert any("SUOLINK_BASE_URL" in m for m in messages)


def test_a_missing_qr_extra_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with without_qr_extra(), caplog.at_level(logging.WARNING, logger="suolink.asgi"):
        create_app("memory://", secret="s", api_token=TOKEN, base_url="https://s.x")
    (record,) = [r for r in caplog.records if r.name == "suolink.asgi"]
    assert "suolink[qr]" in record.getMessage()


def test_without_a_secret_it_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    with pytest.warns(NoSecretWarning, match="SUOLINK_SECRET is not set"):
        create_app("memory://")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSecretWarning)
        create_app("memory://", secret="s")


def test_exports_stream_from_a_worker_thread(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}", api_token=TOKEN, secret="s")
    with TestClient(app) as client:
        for n in range(3):
            client.post("/api/links", json={"url": f"https://example.com/{n}"}, headers=AUTH)
        reply = client.get("/api/links?format=csv", headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert "content-length" not in reply.headers  # streamed, a chunk at a time
    assert len(reply.text.splitlines()) == 4  # a header row and three links


def test_unknown_method_on_a_short_link_is_405() -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s")
    with TestClient(app) as client:
        reply = client.delete("/abcde")
        assert reply.status_code == 405
        api = client.put("/api/links", headers=AUTH)
        assert api.status_code == 405
        assert api.json()["error"]["type"]


# -- mounted in FastAPI --------------------------------------------------------------------

#: Scenarios whose answers name no absolute API path, rerun with the app mounted at /s.
PREFIXED = [
    s
    for s in SCENARIOS
    if s.__name__
    in {"create_then_redirect", "password_form", "qr_images", "decode_upload", "patch_and_delete"}
]


def fastapi_host(links: Starlette) -> Any:
    """A FastAPI app with suolink mounted at ``/s`` and a page of its own behind ``protect``."""
    from fastapi import Depends, FastAPI

    from suolink.adapters.asgi import ProtectedPage, protect, protected_page_handler

    host = FastAPI(exception_handlers={ProtectedPage: protected_page_handler})
    host.mount("/s", links)

    @host.get("/promo", dependencies=[Depends(protect(links, anti_block=["wechat"]))])
    def promo() -> dict[str, str]:
        return {"page": "promo"}

    @host.get("/members", dependencies=[Depends(protect(links, allow=["wechat"]))])
    def members() -> dict[str, str]:
        return {"page": "members"}

    return host


@pytest.mark.parametrize("scenario", PREFIXED, ids=lambda s: s.__name__)
def test_scenario_mounted_in_fastapi(
    tmp_path: Path, scenario: Callable[[HttpClient], None]
) -> None:
    links = create_app(f"sqlite:///{tmp_path / 'm.db'}", api_token=TOKEN, secret="s")
    for client in client_for(fastapi_host(links), prefix="/s"):
        scenario(client)


def test_short_urls_and_qr_codes_carry_the_mount_path() -> None:
    from suolink.qr import decode

    links = create_app("memory://", api_token=TOKEN, secret="s")
    with TestClient(fastapi_host(links), base_url="http://localhost") as client:
        made = client.post("/s/api/links", json={"url": "https://example.com/m"}, headers=AUTH)
        data = made.json()
        assert data["short_url"] == f"http://localhost/s/{data['code']}"
        png = client.get(f"/s/{data['code']}.png")
        assert decode(png.content) == [data["short_url"]]
        hop = client.get(f"/s/{data['code']}", follow_redirects=False)
        assert hop.headers["location"] == "https://example.com/m"
        paths = client.get("/s/api/openapi.json").json()["paths"]
        assert "/s/api/links" in paths
        assert "/s/{code}" in paths
        assert client.get("/promo").json() == {"page": "promo"}  # the host's routes still work


def test_protect_dependency_guides_blocking_apps_and_refuses_others() -> None:
    links = create_app("memory://", api_token=TOKEN, secret="s")
    with TestClient(fastapi_host(links), base_url="http://localhost") as client:
        browser = client.get("/promo", headers={"User-Agent": BROWSER})
        assert browser.json() == {"page": "promo"}
        guide = client.get("/promo?ref=1", headers={"User-Agent": WECHAT})
        assert guide.status_code == 200
        assert guide.headers["content-type"].startswith("text/html")
        assert "http://localhost/promo?ref=1" in guide.text  # the page's own address
        assert "content-security-policy" in guide.headers
        refused = client.get("/members", headers={"User-Agent": BROWSER})
        assert refused.status_code == 403
        assert client.get("/members", headers={"User-Agent": WECHAT}).status_code == 200


def test_protect_checks_its_rules_when_it_is_made() -> None:
    from suolink.adapters.asgi import protect
    from suolink.errors import InvalidOption

    links = create_app("memory://", secret="s")
    with pytest.raises(InvalidOption):
        protect(links, anti_block=["not-an-app"])


def test_protect_request_for_plain_starlette_routes() -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Mount, Route

    from suolink.adapters.asgi import protect_request

    links = create_app("memory://", secret="s")

    def page(request: Request) -> Response:
        answer = protect_request(request, links, anti_block=["wechat"])
        return answer or PlainTextResponse("page")

    host = Starlette(routes=[Route("/page", page), Mount("/s", links)])
    with TestClient(host) as client:
        assert client.get("/page", headers={"User-Agent": BROWSER}).text == "page"
        guided = client.get("/page", headers={"User-Agent": WECHAT})
        assert guided.status_code == 200
        assert guided.text != "page"


def test_uvicorn_factory_serves_it_on_loopback(tmp_path: Path) -> None:
    """``uvicorn --factory suolink.adapters.asgi:create_app``, configured by the environment."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx2 as httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'u.db'}"
    env = {
        **os.environ,
        "SUOLINK_STORAGE": db,
        "SUOLINK_SECRET": "s",
        "SUOLINK_API_TOKEN": TOKEN,
        "SUOLINK_BASE_URL": "https://s.example",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "suolink.adapters.asgi:create_app"]
    log = tmp_path / "uvicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--no-access-log"], stdout=out, stderr=out, env=env
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.1)
        with httpx.Client(base_url=base, headers={"User-Agent": BROWSER}) as client:
            made = client.post("/api/links", json={"url": "https://example.com/u"}, headers=AUTH)
            data = made.json()
            assert data["short_url"] == f"https://s.example/{data['code']}"
            hop = client.get(f"/{data['code']}")
            assert (hop.status_code, hop.headers["location"]) == (302, "https://example.com/u")
            assert client.head(f"/{data['code']}").status_code == 302
            png = client.get(f"/{data['code']}.png")
            assert png.headers["content-type"] == "image/png"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Application shutdown complete" in log.read_text()
    with Shortener(db, secret="s") as shortener:
        assert shortener.get(data["code"]).visits == 1  # the HEAD recorded nothing


@pytest.mark.parametrize(
    "path",
    ["/abcde", "/api", "/stats", "/abcde.png", "/abcde.svg", "/", "/api/links", "/abc/de",
     "/x/abcde", "/x/", "/x", "/%E7%9F%AD", "/a.b.c", "/abcde?x=1"],
)  # fmt: skip
@pytest.mark.parametrize("prefixes", [{}, {"url_prefix": "/x"}, {"link_prefix": "/x"}])
def test_the_short_link_fast_path_answers_as_the_router_would(
    path: str, prefixes: dict[str, str]
) -> None:
    """``SuolinkApp`` sends some GETs straight to ``resolve``; the router must agree."""
    answers = []
    for fast in (True, False):
        shortener = Shortener("memory://", secret="s")
        shortener.shorten("https://example.com/f", code="abcde")
        app = create_app(shortener=shortener, api_token=TOKEN, **prefixes)
        if not fast:
            app.short_links = None  # type: ignore[attr-defined]
        with TestClient(app, base_url="http://localhost") as client:
            reply = client.get(path, headers={"User-Agent": BROWSER}, follow_redirects=False)
        kind = reply.headers.get("content-type", "")
        body = b"(page)" if kind.startswith("text/html") else reply.content  # nonces differ
        answers.append((reply.status_code, reply.headers.get("location"), kind, body))
        shortener.close()
    assert answers[0] == answers[1]


def test_a_host_may_serve_its_shortener_again_after_a_lifespan(tmp_path: Path) -> None:
    shortener = Shortener(f"sqlite:///{tmp_path / 'again.db'}", secret="s")  # worker threads
    shortener.shorten("https://example.com/again", code="again")
    app = create_app(shortener=shortener)
    for _ in range(2):  # the second lifespan finds the app as the first left it
        with TestClient(app) as client:
            hop = client.get("/again", headers={"User-Agent": BROWSER}, follow_redirects=False)
            assert hop.status_code == 302
    shortener.close()


# -- short links on SQLite: resolved on the event loop, the visit's commit awaited ----------


def test_sqlite_links_resolve_on_the_loop_with_every_answered_visit_written(
    tmp_path: Path,
) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'loop.db'}", api_token=TOKEN, secret="s")
    assert app.state.suolink.links_on_loop
    with TestClient(app) as client:
        made = client.post("/api/links", json={"url": "https://example.com/l"}, headers=AUTH)
        code = made.json()["code"]
        for n in range(1, 6):
            hop = client.get(f"/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
            assert hop.status_code == 302
            assert get_shortener(app).get(code).visits == n  # type: ignore[union-attr]
        guide = client.get(f"/{code}", headers={"User-Agent": WECHAT}, follow_redirects=False)
        assert guide.status_code == 200  # a page, its visit recorded (not counted)
        assert len(list(get_shortener(app).visits(code))) == 6


def test_a_max_visits_link_goes_to_a_worker_thread_and_keeps_its_limit(tmp_path: Path) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'lim.db'}", api_token=TOKEN, secret="s")
    with TestClient(app) as client:
        made = client.post(
            "/api/links", json={"url": "https://example.com/m", "max_visits": 2}, headers=AUTH
        )
        code = made.json()["code"]
        statuses = [
            client.get(f"/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
            for _ in range(4)
        ]
        assert [s.status_code for s in statuses[:2]] == [302, 302]
        assert all(s.status_code != 302 for s in statuses[2:])
        assert get_shortener(app).get(code).visits == 2  # type: ignore[union-attr]


def test_a_deferred_visit_that_cannot_be_written_is_a_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from suolink.errors import BackendUnavailable

    app = create_app(f"sqlite:///{tmp_path / 'down.db'}", api_token=TOKEN, secret="s")
    with TestClient(app) as client:
        made = client.post("/api/links", json={"url": "https://example.com/d"}, headers=AUTH)
        code = made.json()["code"]
        storage = get_shortener(app).storage

        def down(items: object) -> object:
            raise BackendUnavailable("the disk is gone")

        monkeypatch.setattr(storage, "_write_visits", down)
        monkeypatch.setattr(storage._visit_batches, "_write", down)  # type: ignore[attr-defined]
        hop = client.get(f"/{code}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert hop.status_code == 503


def test_a_check_url_hook_on_resolve_keeps_links_in_worker_threads(tmp_path: Path) -> None:
    app = create_app(
        f"sqlite:///{tmp_path / 'hook.db'}",
        api_token=TOKEN,
        secret="s",
        check_url=lambda url: None,
        check_on_resolve=True,
    )
    assert not app.state.suolink.links_on_loop


@pytest.mark.parametrize("scenario", PEOPLE_SCENARIOS, ids=lambda s: s.__name__)
def test_people_scenario(scenario: Callable[[HttpClient], None]) -> None:
    app = create_app("memory://", api_token=TOKEN, secret="s", track_people=True)
    for client in client_for(app):
        scenario(client)
