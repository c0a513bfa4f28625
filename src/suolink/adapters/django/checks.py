"""System checks (``manage.py check``) for settings that work in development but not in production.

* ``suolink.E001``: ``memory://`` storage with ``DEBUG = False``: each worker process
  would have its own links.
* ``suolink.E002``: ``settings.SUOLINK`` cannot be read (unknown key, with the closest
  valid key as the hint; bad value).
* ``suolink.W001``: no ``SECRET``: generated codes use a fixed public salt, so they are
  guessable from a few of them, and visitor ids change on every restart.
* ``suolink.W002``: ``django://`` storage with ``USE_TZ = False``; times need time zones.
* ``suolink.W003``: ``django://`` on SQLite without ``transaction_mode = "IMMEDIATE"``:
  concurrent visits may fail with "database is locked" instead of waiting.
* ``suolink.W004``: ``sqlite://`` storage in a relative path: it depends on the folder
  the server was started from.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from ...config import GUESSABLE_CODES
from ...errors import InvalidSetting, SuolinkError
from .conf import suolink_settings

__all__ = ["check_settings", "register"]


def register() -> None:
    """Register the checks (called from ``AppConfig.ready``)."""
    checks.register(check_settings, checks.Tags.compatibility, "suolink")


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every suolink check; see the module docstring for their ids."""
    try:
        config = suolink_settings()
    except SuolinkError as exc:
        hint = exc.hint if isinstance(exc, InvalidSetting) else None
        return [checks.Error(str(exc), hint=hint, id="suolink.E002", obj="settings.SUOLINK")]
    storage = config.get("STORAGE")
    url = storage if isinstance(storage, str) else ""
    scheme = url.partition("://")[0].lower()
    found: list[checks.CheckMessage] = []
    if scheme == "memory" and not settings.DEBUG:
        found.append(
            checks.Error(
                "SUOLINK['STORAGE'] is memory://, which is not shared between worker "
                "processes: each worker would see its own links.",
                hint="Use django:// (the project's database), sqlite:///path or redis://.",
                id="suolink.E001",
                obj="settings.SUOLINK",
            )
        )
    if not config.get("SECRET"):
        found.append(
            checks.Warning(
                f"SUOLINK['SECRET'] is not set: {GUESSABLE_CODES}.",
                hint="Set SUOLINK['SECRET'] to a long random string (e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) and keep "
                "it stable: changing it changes every code generated afterwards.",
                id="suolink.W001",
                obj="settings.SUOLINK",
            )
        )
    if scheme == "django":
        found.extend(_django_storage_checks(url))
    if scheme == "sqlite" and not url.startswith("sqlite:////") and ":memory:" not in url:
        found.append(
            checks.Warning(
                f"SUOLINK['STORAGE'] = {url!r} is a relative path: it depends on the folder "
                "the server starts in.",
                hint="Use an absolute path: sqlite:////srv/app/suolink.db",
                id="suolink.W004",
                obj="settings.SUOLINK",
            )
        )
    return found


def _django_storage_checks(url: str) -> list[checks.CheckMessage]:
    from django.db import connections

    from .storage import _parse_url

    found: list[checks.CheckMessage] = []
    try:
        alias, _ = _parse_url(url)
    except SuolinkError as exc:
        return [checks.Error(str(exc), id="suolink.E002", obj="settings.SUOLINK")]
    if alias not in connections:
        return [
            checks.Error(
                f"SUOLINK['STORAGE'] = {url!r} names the database alias {alias!r}, "
                "which settings.DATABASES does not have.",
                id="suolink.E003",
                obj="settings.SUOLINK",
            )
        ]
    if not settings.USE_TZ:
        found.append(
            checks.Warning(
                "django:// storage keeps timezone-aware times; USE_TZ is False.",
                hint="Set USE_TZ = True.",
                id="suolink.W002",
                obj="settings.USE_TZ",
            )
        )
    database = connections.settings[alias] if hasattr(connections, "settings") else {}
    if database.get("ENGINE", "").endswith("sqlite3"):
        mode = str(database.get("OPTIONS", {}).get("transaction_mode", "")).upper()
        if mode != "IMMEDIATE":
            found.append(
                checks.Warning(
                    f"the database {alias!r} is SQLite without transaction_mode IMMEDIATE: "
                    "concurrent visits may fail with 'database is locked'.",
                    hint=f'Add "OPTIONS": {{"transaction_mode": "IMMEDIATE"}} to '
                    f"DATABASES[{alias!r}].",
                    id="suolink.W003",
                    obj="settings.DATABASES",
                )
            )
    return found
