"""The Django app's own parts: admin, system checks, management command, migrations,
middleware under ASGI and the ORM backend's URL handling."""

from __future__ import annotations

import asyncio
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import AsyncRequestFactory, override_settings

from suolink.adapters.django import get_shortener
from suolink.adapters.django.checks import check_settings
from suolink.adapters.django.middleware import ClientMiddleware
from suolink.adapters.django.storage import DjangoStorage
from suolink.backends import open_storage
from suolink.errors import ConfigurationError
from tests.http_scenarios import WECHAT


def ids(messages: list[Any]) -> set[str]:
    return {m.id for m in messages}


# -- checks ------------------------------------------------------------------------------


def test_checks_pass_for_the_test_project() -> None:
    assert check_settings() == []


@pytest.mark.parametrize(
    ("config", "debug", "expected"),
    [
        ({"STORAGE": "memory://", "SECRET": "x"}, False, {"suolink.E001"}),
        ({"STORAGE": "memory://", "SECRET": "x"}, True, set()),
        ({"STORAGE": "django://"}, False, {"suolink.W001"}),
        ({"STORAGE": "django://nowhere", "SECRET": "x"}, False, {"suolink.E003"}),
        ({"STORAGE": "django://", "SECRET": "x", "COLOUR": "red"}, False, {"suolink.E002"}),
        ({"STORAGE": "sqlite:///relative.db", "SECRET": "x"}, False, {"suolink.W004"}),
        ({"STORAGE": "sqlite:////abs/path.db", "SECRET": "x"}, False, set()),
    ],
)
def test_checks_name_what_is_wrong(config: dict[str, str], debug: bool, expected: set[str]) -> None:
    with override_settings(SUOLINK=config, DEBUG=debug):
        assert ids(check_settings()) == expected


def test_without_a_secret_codes_use_a_fixed_public_salt_warns() -> None:
    # Issue 12: 38 of 40 codes were guessed from a few created ones without a secret.
    with override_settings(SUOLINK={"STORAGE": "django://"}):
        (warning,) = check_settings()
    assert warning.id == "suolink.W001"
    assert warning.level == 30  # checks.WARNING: shown by every manage.py command
    assert "fixed public salt" in warning.msg
    assert "guess" in warning.msg
    assert "SUOLINK['SECRET']" in (warning.hint or "")


def test_sqlite_without_immediate_transactions_is_warned(tmp_path: Path) -> None:
    from tests.adapters.django.project import add_alias

    add_alias(
        "deferred_mode", {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.db")}
    )
    with override_settings(SUOLINK={"STORAGE": "django://deferred_mode", "SECRET": "x"}):
        assert ids(check_settings()) == {"suolink.W003"}
    with override_settings(SUOLINK={"STORAGE": "django://", "SECRET": "x"}, USE_TZ=False):
        assert ids(check_settings()) == {"suolink.W002"}


def test_checks_are_registered_with_django() -> None:
    with override_settings(SUOLINK={"STORAGE": "memory://"}, DEBUG=False):
        from django.core import checks

        assert {"suolink.E001", "suolink.W001"} <= ids(checks.run_checks())


# -- management command, migrations --------------------------------------------------------


def test_manage_py_suolink_shorten_and_stats(tmp_path: Path) -> None:
    from tests.adapters.django.project import store_url

    with override_settings(SUOLINK={"STORAGE": store_url(tmp_path), "SECRET": "s"}):
        out = StringIO()
        err = StringIO()
        call_command(
            "suolink", "shorten", "https://example.com/cmd", "--tag", "cli", stdout=out, stderr=err
        )
        made = json.loads(out.getvalue())
        assert made["url"] == "https://example.com/cmd"
        assert made["tags"] == ["cli"]
        assert made["has_password"] is False
        # No request and no BASE_URL: the path the URLconf serves it at, and a hint.
        assert made["short_url"].endswith("/" + made["code"])
        assert "--base-url" in err.getvalue()
        out = StringIO()
        call_command(
            "suolink",
            "shorten",
            "https://example.com/b",
            "--base-url",
            "https://s.example",
            stdout=out,
        )
        assert json.loads(out.getvalue())["short_url"].startswith("https://s.example/")
        assert get_shortener().get(made["code"]).url == "https://example.com/cmd"
        out = StringIO()
        call_command("suolink", "stats", made["code"], stdout=out)
        assert json.loads(out.getvalue())["total"] == 0
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="missing9"):
            call_command("suolink", "stats", "missing9", stdout=StringIO())
        with pytest.raises(CommandError):
            call_command("suolink", "shorten", "javascript:alert(1)", stdout=StringIO())


def test_migrations_are_complete() -> None:
    call_command("makemigrations", "suolink", check=True, dry_run=True, stdout=StringIO())


# -- middleware under ASGI, the storage URL --------------------------------------------------


def test_middleware_is_async_capable() -> None:
    seen: list[Any] = []

    async def view(request: Any) -> Any:
        seen.append(request.suolink_client.app)
        from django.http import HttpResponse

        return HttpResponse("ok")

    middleware = ClientMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware)
    request = AsyncRequestFactory().get("/", headers={"User-Agent": WECHAT})
    response = asyncio.run(middleware(request))
    assert response.status_code == 200
    assert seen == ["wechat"]


@pytest.mark.parametrize(
    "url", ["django://default/x", "django://?x=1", "djangox://", "django://nowhere"]
)
def test_bad_django_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        DjangoStorage(url)


def test_open_storage_picks_the_orm_backend() -> None:
    store = open_storage("django://")
    assert isinstance(store, DjangoStorage)
    assert store.alias == "default"
