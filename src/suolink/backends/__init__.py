"""Storage backends by URL scheme: ``memory://``, ``sqlite:///path``, ``redis://``, ``postgresql://``.

Built-in backends are named here as "module:Class" strings and imported only when
used, so a missing driver costs nothing until its backend is asked for. Third-party
backends register a factory (``factory(url) -> Storage``) under the entry-point group
``suolink.backends``, keyed by scheme.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from urllib.parse import urlsplit

from ..errors import ConfigurationError, MissingDependencyError
from .base import Storage

__all__ = ["BUILTIN_BACKENDS", "Storage", "open_storage", "redact_url"]

#: scheme -> ("module:Class", extra that installs its driver, driver modules (space-separated))
BUILTIN_BACKENDS: dict[str, tuple[str, str | None, str | None]] = {
    "memory": ("suolink.backends.memory:MemoryStorage", None, None),
    "sqlite": ("suolink.backends.sqlite:SQLiteStorage", None, None),
    "redis": ("suolink.backends.redis:RedisStorage", "redis", "redis"),
    "rediss": ("suolink.backends.redis:RedisStorage", "redis", "redis"),
    "redis+unix": ("suolink.backends.redis:RedisStorage", "redis", "redis"),
    "redis+cluster": ("suolink.backends.redis:RedisStorage", "redis", "redis"),
    "django": ("suolink.adapters.django.storage:DjangoStorage", "django", "django"),
    "postgresql": (
        "suolink.backends.sql.postgres:PostgreSQLStorage",
        "postgres",
        "sqlalchemy psycopg",
    ),
    "postgres": (
        "suolink.backends.sql.postgres:PostgreSQLStorage",
        "postgres",
        "sqlalchemy psycopg",
    ),
    "mysql": ("suolink.backends.sql.mysql:MySQLStorage", "mysql", "sqlalchemy pymysql"),
    "mariadb": ("suolink.backends.sql.mysql:MySQLStorage", "mysql", "sqlalchemy pymysql"),
}

ENTRY_POINT_GROUP = "suolink.backends"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for logs, errors and ``.url``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _load(scheme: str) -> Callable[[str], Storage]:
    if scheme in BUILTIN_BACKENDS:
        target, extra, driver = BUILTIN_BACKENDS[scheme]
        for needed in (driver or "").split():
            try:
                importlib.import_module(needed)
            except ImportError as exc:
                raise MissingDependencyError(
                    f"the {scheme}:// backend", extra or scheme, module=needed
                ) from exc
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise ConfigurationError(
                f"the {scheme}:// backend is not part of this version of suolink"
            ) from exc
        factory: Callable[[str], Storage] = getattr(module, class_name)
        return factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == scheme:
            loaded: Callable[[str], Storage] = ep.load()
            return loaded
    known = sorted(
        set(BUILTIN_BACKENDS) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    )
    raise ConfigurationError(
        f"unknown storage scheme {scheme!r}; known schemes: {', '.join(known)}"
    )


def open_storage(url: str | Storage) -> Storage:
    """The backend named by ``url`` (``memory://``, ``sqlite:///suolink.db``, …), opened.

    A ``Storage`` instance is returned as is, so callers can pass either.
    """
    if not isinstance(url, str):
        if isinstance(url, Storage):
            return url
        raise ConfigurationError(f"storage must be a URL or a Storage, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ConfigurationError(
            f"storage URL {redact_url(url)!r} has no scheme; try 'sqlite:///suolink.db' "
            "or 'memory://'"
        )
    return _load(scheme.lower())(url)
