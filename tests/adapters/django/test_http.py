"""The Django app serves the shared HTTP scenarios, like the Flask adapter, plus its own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from suolink.adapters.django import get_shortener
from tests.adapters.django.project import postgres_store_url, store_url
from tests.http_scenarios import (
    ANONYMOUS_SCENARIOS,
    BROWSER,
    HOST_SCENARIOS,
    PEOPLE_SCENARIOS,
    SCENARIOS,
    TOKEN,
    WECHAT,
    BrowserClient,
    HttpClient,
    Reply,
)


class DjangoClient(BrowserClient):
    """:class:`HttpClient` over Django's test client."""

    def __init__(self, client: Client | None = None, prefix: str = "") -> None:
        self.client = client or Client()
        self.prefix = prefix

    def send(
        self, method: str, path: str, body: bytes | None, content_type: str | None, headers: Any
    ) -> Reply:
        extra: dict[str, Any] = {}
        if content_type is not None:
            extra["content_type"] = content_type
        response = self.client.generic(
            method, self.prefix + path, data=body or b"", headers=headers, **extra
        )
        return Reply(response.status_code, dict(response.items()), _body(response))


def suolink_settings(storage: str, **more: Any) -> dict[str, Any]:
    return {"STORAGE": storage, "SECRET": "s", "API_TOKEN": TOKEN, **more}


@pytest.fixture(params=["django", "django-postgres", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage works behind the app: the ORM backend (SQLite, PostgreSQL) and others."""
    if request.param == "django":
        return store_url(tmp_path)
    if request.param == "django-postgres":
        return postgres_store_url()
    return "memory://"


@pytest.fixture
def configured(storage: str) -> Iterator[str]:
    with override_settings(SUOLINK=suolink_settings(storage)):
        yield storage


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(configured: str, scenario: Callable[[HttpClient], None]) -> None:
    scenario(DjangoClient())


@pytest.mark.parametrize("scenario", ANONYMOUS_SCENARIOS, ids=lambda s: s.__name__)
def test_anonymous_scenario(
    storage: str, tmp_path: Path, scenario: Callable[[HttpClient], None]
) -> None:
    """Anonymous creation with its per-IP rate limit, as the Flask adapter runs it."""
    settings = suolink_settings(storage, ALLOW_ANONYMOUS=True, RATE_LIMIT="3/minute")
    with override_settings(SUOLINK=settings):
        scenario(DjangoClient())


@pytest.mark.parametrize("scenario", HOST_SCENARIOS, ids=lambda s: s.__name__)
def test_host_scenario(scenario: Callable[[HttpClient], None]) -> None:
    """Django's ``ALLOWED_HOSTS`` admits ``testserver``; suolink's ``ALLOWED_HOSTS`` does not."""
    with override_settings(SUOLINK=suolink_settings("memory://", ALLOWED_HOSTS="localhost")):
        scenario(DjangoClient())


#: Scenarios whose answers do not name absolute paths (the OpenAPI document names
#: ``/s/api/...`` under a prefix, as it should), rerun with suolink included under ``s/``.
PREFIXED = [
    s
    for s in SCENARIOS
    if s.__name__
    in {"create_then_redirect", "password_form", "qr_images", "decode_upload", "patch_and_delete"}
]


@pytest.mark.parametrize("scenario", PREFIXED, ids=lambda s: s.__name__)
def test_scenario_under_a_prefix(tmp_path: Path, scenario: Callable[[HttpClient], None]) -> None:
    """Included under ``s/`` the scenarios pass, and short links carry the prefix."""
    with override_settings(
        SUOLINK=suolink_settings(store_url(tmp_path)),
        ROOT_URLCONF="tests.adapters.django.prefixed_urls",
    ):
        scenario(DjangoClient(prefix="/s"))


class AsyncDjangoClient(DjangoClient):
    """:class:`HttpClient` over Django's async test client (the async views)."""

    def __init__(self) -> None:
        super().__init__()
        self.async_client = AsyncClient()

    def send(
        self, method: str, path: str, body: bytes | None, content_type: str | None, headers: Any
    ) -> Reply:
        extra: dict[str, Any] = {}
        if content_type is not None:
            extra["content_type"] = content_type

        async def call() -> Any:
            return await self.async_client.generic(
                method, path, data=body or b"", headers=headers, **extra
            )

        response = async_to_sync(call)()
        return Reply(response.status_code, dict(response.items()), _body(response))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario_async_views(tmp_path: Path, scenario: Callable[[HttpClient], None]) -> None:
    """The async views pass the same scenarios (ORM backend on SQLite)."""
    with override_settings(
        SUOLINK=suolink_settings(store_url(tmp_path)),
        ROOT_URLCONF="tests.adapters.django.async_urls",
    ):
        scenario(AsyncDjangoClient())


def test_async_urls_serve_coroutine_views() -> None:
    import asyncio

    from django.urls import resolve

    with override_settings(ROOT_URLCONF="tests.adapters.django.async_urls"):
        assert asyncio.iscoroutinefunction(resolve("/abc12").func)
        assert asyncio.iscoroutinefunction(resolve("/api/links").func)
    assert not asyncio.iscoroutinefunction(resolve("/abc12").func)


def _body(response: Any) -> bytes:
    """The body of a plain or a streamed (export) response."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_every_route_is_registered() -> None:
    from django.urls import reverse

    from suolink.api import ROUTES

    for route in ROUTES:
        names = re.findall(r"<(?:\w+:)?(\w+)>", route.pattern)
        kwargs = dict.fromkeys(names, "abc")
        expected = re.sub(r"<(?:\w+:)?\w+>", "abc", route.pattern)
        assert reverse(f"suolink:{route.name}", kwargs=kwargs) == expected


def test_short_urls_carry_the_include_prefix(tmp_path: Path) -> None:
    with override_settings(
        SUOLINK=suolink_settings(store_url(tmp_path)),
        ROOT_URLCONF="tests.adapters.django.prefixed_urls",
    ):
        reply = Client().post(
            "/s/api/links",
            {"url": "https://example.com/x"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert reply.status_code == 201
        data = reply.json()
        assert data["short_url"] == f"http://testserver/s/{data['code']}"
        assert Client().get(f"/s/{data['code']}", headers={"User-Agent": BROWSER})["Location"] == (
            "https://example.com/x"
        )
        assert Client().get("/about/").content == b"host page; app=None"
        doc = Client().get("/s/api/openapi.json").json()
        assert "/s/api/links" in doc["paths"]


def test_wrong_method_is_405_and_head_sends_no_body(configured: str) -> None:
    client = Client()
    assert client.put("/api/links").status_code == 405
    head = client.head("/api/health")
    assert head.status_code == 200
    assert head.content == b""


def test_body_limit_is_enforced_before_reading(tmp_path: Path) -> None:
    with override_settings(SUOLINK=suolink_settings("memory://", MAX_BODY_BYTES=100)):
        reply = Client().post(
            "/api/links",
            b"{" + b" " * 200 + b"}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert reply.status_code == 413
        assert reply.json()["error"]["type"] == "body_too_large"


def test_django_permissions_authorise_the_api(django_user_model: Any) -> None:
    """With the defaults (links in the default database), users' permissions decide."""
    from django.contrib.auth.models import Permission

    with override_settings(SUOLINK={"SECRET": "s"}):
        user = django_user_model.objects.create_user("editor", password="pw")
        client = Client()
        client.force_login(user)
        payload = {"url": "https://example.com/p"}
        refused = client.post("/api/links", payload, content_type="application/json")
        assert refused.status_code == 401
        user.user_permissions.add(Permission.objects.get(codename="add_link"))
        client.force_login(django_user_model.objects.get(pk=user.pk))
        created = client.post("/api/links", payload, content_type="application/json")
        assert created.status_code == 201, created.content
        code = created.json()["code"]
        assert client.get(f"/api/links/{code}").status_code == 401  # no view_link yet
        assert client.delete(f"/api/links/{code}").status_code == 401
        assert (
            Client().post("/api/links", payload, content_type="application/json").status_code == 401
        )


def test_host_authorize_callable_sees_the_django_request(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def authorize(request: Any, action: str) -> bool:
        seen.append((request.headers.get("X-Team", ""), action))
        return request.headers.get("X-Team") == "links"

    with override_settings(SUOLINK={"STORAGE": "memory://", "AUTHORIZE": authorize}):
        payload = {"url": "https://example.com/p"}
        client = Client()
        ok = client.post(
            "/api/links", payload, content_type="application/json", headers={"X-Team": "links"}
        )
        assert ok.status_code == 201
        assert (
            client.post("/api/links", payload, content_type="application/json").status_code == 401
        )
        assert ("links", "create") in seen


def test_anonymous_creation_is_opt_in() -> None:
    payload = {"url": "https://example.com/p"}
    with override_settings(SUOLINK={"STORAGE": "memory://", "ALLOW_ANONYMOUS": True}):
        assert (
            Client().post("/api/links", payload, content_type="application/json").status_code == 201
        )
        assert Client().get("/api/links").status_code == 401


def test_anonymous_creation_is_rate_limited_per_address() -> None:
    payload = {"url": "https://example.com/p"}
    config = {"STORAGE": "memory://", "ALLOW_ANONYMOUS": True, "RATE_LIMIT": "2/minute"}
    with override_settings(SUOLINK=config):
        client = Client()
        replies = [
            client.post("/api/links", payload, content_type="application/json").status_code
            for _ in range(3)
        ]
        assert replies == [201, 201, 429]
        other = Client(REMOTE_ADDR="10.0.0.9")
        assert other.post("/api/links", payload, content_type="application/json").status_code == 201


def test_get_shortener_follows_settings(tmp_path: Path) -> None:
    url = store_url(tmp_path)
    with override_settings(SUOLINK=suolink_settings(url, BASE_URL="https://s.example")):
        shortener = get_shortener()
        assert shortener is get_shortener()
        assert shortener.storage.url == url
        link = shortener.shorten("https://example.com/q")
        assert shortener.short_url(link) == f"https://s.example/{link.code}"
    with override_settings(SUOLINK=suolink_settings("memory://")):
        assert get_shortener() is not shortener


def test_middleware_and_protect_decorator(configured: str) -> None:
    client = Client()
    assert client.get("/about/", headers={"User-Agent": WECHAT}).content == b"host page; app=wechat"
    guided = client.get("/download/", headers={"User-Agent": WECHAT})
    assert guided.status_code == 200
    assert "http://testserver/download/" in guided.content.decode()
    assert guided.content != b"the download"
    assert client.get("/download/", headers={"User-Agent": BROWSER}).content == b"the download"


@pytest.mark.parametrize("scenario", PEOPLE_SCENARIOS, ids=lambda s: s.__name__)
def test_people_scenario(scenario: Callable[[HttpClient], None]) -> None:
    with override_settings(SUOLINK=suolink_settings("memory://", TRACK_PEOPLE=True)):
        scenario(DjangoClient())


def test_short_domains(storage: str) -> None:
    """Issue 16's acceptance through Django with real Host headers (see the scenario)."""
    from tests.backends.test_domains_acceptance import DOMAINS, scenario

    settings = suolink_settings(storage, DOMAINS=DOMAINS)
    with override_settings(ALLOWED_HOSTS=["*"], SUOLINK=settings):
        scenario(DjangoClient())
