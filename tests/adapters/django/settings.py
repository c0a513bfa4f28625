"""Settings of the test project that hosts the suolink Django app.

Databases live in one temporary folder per test process (inherited by the processes it
spawns through ``SUOLINK_TEST_DJANGO_DIR``). Stores the backend contract suite opens
are extra aliases listed in the JSON file ``SUOLINK_TEST_DJANGO_DATABASES_FILE`` names,
so spawned workers see them too. ``SUOLINK_TEST_POSTGRES_URL`` adds the alias ``postgres``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE = Path(
    os.environ.setdefault("SUOLINK_TEST_DJANGO_DIR", tempfile.mkdtemp(prefix="suolink-django-"))
)


def sqlite_database(path: Path | str) -> dict[str, Any]:
    """A SQLite alias set up the way the docs recommend for suolink (IMMEDIATE, WAL)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "TEST": {"NAME": str(path)},
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def postgres_database(url: str, schema: str | None = None) -> dict[str, Any]:
    """A PostgreSQL alias from ``postgresql://user:pass@host:port/db``, in ``schema``."""
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }
    if schema:
        config["OPTIONS"] = {"options": f"-c search_path={schema}"}
        config["TEST"] = {"NAME": config["NAME"]}
    return config


SECRET_KEY = "suolink-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.adapters.django.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "suolink.adapters.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "suolink.adapters.django.middleware.ClientMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES: dict[str, Any] = {"default": sqlite_database(BASE / "default.sqlite3")}
if os.environ.get("SUOLINK_TEST_DJANGO_DATABASES_FILE"):
    DATABASES.update(json.loads(Path(os.environ["SUOLINK_TEST_DJANGO_DATABASES_FILE"]).read_text()))
if os.environ.get("SUOLINK_TEST_POSTGRES_URL"):
    DATABASES["postgres"] = postgres_database(os.environ["SUOLINK_TEST_POSTGRES_URL"])
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SUOLINK = {"SECRET": "django-tests", "API_TOKEN": "test-token-123"}
