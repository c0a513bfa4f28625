"""Parsing of ``postgresql://`` and ``mysql://`` / ``mariadb://`` storage URLs.

Kept apart from the storage so every option is checked, with a clear message, before
SQLAlchemy or a driver is imported. The URL's user, password, host, port and database
go to the driver as they are; suolink's own options come out of the query string, and
only a short list of driver options (TLS, application name) may stay in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from ...errors import ConfigurationError
from .. import redact_url

__all__ = ["DEFAULTS", "DIALECTS", "SQLOptions", "parse_url"]

#: URL scheme -> (SQLAlchemy dialect and driver, the suolink extra that installs it).
DIALECTS: dict[str, tuple[str, str]] = {
    "postgresql": ("postgresql+psycopg", "postgres"),
    "postgres": ("postgresql+psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mariadb+pymysql", "mysql"),
}

#: Option name -> default, as documented in docs/storage.md.
DEFAULTS: dict[str, float | int] = {
    "pool_size": 5,
    "max_overflow": 10,
    "pool_timeout": 5.0,
    "connect_timeout": 5.0,
    "pool_recycle": 3600.0,
    "retention_days": 0,
}
_INT_RANGES = {
    "pool_size": (1, 1000),
    "max_overflow": (0, 1000),
    "retention_days": (0, 36_500),  # as sqlite:// (0: keep every raw visit)
}
_FLOAT_RANGES = {
    "pool_timeout": (0.0, 3600.0),
    "connect_timeout": (1.0, 3600.0),  # libpq and PyMySQL take whole seconds
    "pool_recycle": (1.0, 86_400.0),
}
#: Driver options passed through as they are, per family.
_PASSED = {
    "postgresql": frozenset(
        {"sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "target_session_attrs"}
    ),
    "mysql": frozenset({"ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_identity", "ssl_disabled"}),
}
_YES_NO = frozenset({"true", "false", "1", "0", "yes", "no"})
#: PyMySQL's options that are booleans: ``?ssl_disabled=true`` (TLS is tried by default).
_BOOLEANS = {"ssl_disabled": _YES_NO, "ssl_verify_identity": _YES_NO}
_SCHEMA_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class SQLOptions:
    """What a SQL storage URL says."""

    #: ``"postgresql"`` or ``"mysql"`` (MariaDB speaks MySQL's dialect).
    family: str
    #: The SQLAlchemy URL (dialect+driver, credentials, host, database, driver options).
    driver_url: str
    extra: str
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 5.0
    connect_timeout: float = 5.0
    pool_recycle: float = 3600.0
    #: Raw visits older than this many days are dropped while recording (0: never).
    retention_days: int = 0
    #: PostgreSQL only: the schema holding suolink's tables (created if missing).
    schema: str | None = None
    passed: dict[str, str | bool] = field(default_factory=dict)


def parse_url(url: str) -> SQLOptions:
    """The options of a SQL storage URL; ``ConfigurationError`` if it is not one."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigurationError(f"malformed storage URL {shown!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DIALECTS:
        raise ConfigurationError(f"not a PostgreSQL or MySQL URL: {shown!r}")
    driver, extra = DIALECTS[scheme]
    family = "postgresql" if extra == "postgres" else "mysql"
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigurationError(f"{scheme} URL {shown!r} names no host")
    if parts.path in ("", "/"):
        raise ConfigurationError(
            f"{scheme} URL {shown!r} names no database; try {scheme}://user:pass@host/suolink"
        )
    if parts.fragment:
        raise ConfigurationError(f"{scheme} URL {shown!r} has a fragment")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ConfigurationError(f"malformed options in {scheme} URL: {parts.query!r}") from exc
    values: dict[str, float | int] = dict(DEFAULTS)
    schema: str | None = None
    passed: dict[str, str | bool] = {}
    for name, value in pairs:
        if name in _INT_RANGES:
            low, high = _INT_RANGES[name]
            number = int(value) if value.isascii() and value.isdigit() else -1
            if not low <= number <= high:
                raise ConfigurationError(f"{scheme} {name} must be {low} to {high}: {value!r}")
            values[name] = number
        elif name in _FLOAT_RANGES:
            low_f, high_f = _FLOAT_RANGES[name]
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not low_f <= seconds <= high_f:
                raise ConfigurationError(
                    f"{scheme} {name} must be {low_f:g} to {high_f:g} seconds: {value!r}"
                )
            values[name] = seconds
        elif name == "schema" and family == "postgresql":
            if not value or len(value) > 63 or not set(value) <= _SCHEMA_CHARS:
                raise ConfigurationError(
                    f"postgresql schema must be 1 to 63 of a-z, 0-9 and _: {value!r}"
                )
            schema = value
        elif name in _BOOLEANS and family == "mysql":
            if value.lower() not in _BOOLEANS[name]:
                raise ConfigurationError(f"{scheme} {name} must be true or false: {value!r}")
            passed[name] = value.lower() in ("true", "1", "yes")
        elif name in _PASSED[family] or (family == "postgresql" and name == "host"):
            passed[name] = value
        else:
            own = ("schema",) if family == "postgresql" else ()
            known = sorted({*DEFAULTS, *_PASSED[family], *own})
            raise ConfigurationError(
                f"unknown {scheme} option {name!r}; known options: {', '.join(known)}"
            )
    driver_url = parts._replace(scheme=driver, query="").geturl()
    return SQLOptions(
        family=family,
        driver_url=driver_url,
        extra=extra,
        pool_size=int(values["pool_size"]),
        max_overflow=int(values["max_overflow"]),
        pool_timeout=float(values["pool_timeout"]),
        connect_timeout=float(values["connect_timeout"]),
        pool_recycle=float(values["pool_recycle"]),
        retention_days=int(values["retention_days"]),
        schema=schema,
        passed=passed,
    )
