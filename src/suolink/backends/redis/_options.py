"""Parsing of ``redis://``, ``rediss://``, ``redis+unix://`` and ``redis+cluster://`` URLs.

Kept apart from the storage so every option is checked, with a clear message, before
a single connection is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode

from ...errors import ConfigurationError
from .. import redact_url
from ..batching import OPTION_NAMES as BATCH_OPTION_NAMES
from ..batching import BatchOptions

__all__ = ["DEFAULTS", "RedisOptions", "parse_url", "rate_limit_url", "shown_url"]

#: Option name -> default, as documented in docs/redis.md.
DEFAULTS: dict[str, float | int | str] = {
    "prefix": "suolink:",
    "pool_size": 50,
    "socket_timeout": 5.0,
    "connect_timeout": 2.0,
    "retries": 1,
    "block_size": 100,
    "keep_expired": 30 * 86_400,
    "visit_cap": 100_000,
    "visit_days": 0,
    "db": 0,
    "ssl_cert_reqs": "required",
    "ssl_ca_certs": "",
}

_INT_RANGES: dict[str, tuple[int, int]] = {
    "pool_size": (1, 10_000),
    "retries": (0, 10),
    "block_size": (1, 1_000_000),
    "keep_expired": (0, 100 * 365 * 86_400),
    "visit_cap": (0, 1_000_000_000),
    "visit_days": (0, 100 * 365),
    "db": (0, 1_000_000),
}
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "socket_timeout": (0.001, 3600.0),
    "connect_timeout": (0.001, 3600.0),
}
_CERT_REQS = ("none", "optional", "required")


_NO_BATCH_OPTIONS = BatchOptions()


@dataclass(frozen=True)
class RedisOptions:
    """Everything a ``RedisStorage`` needs to connect, from its URL."""

    kind: str  # "tcp", "unix" or "cluster"
    ssl: bool = False
    hosts: tuple[tuple[str, int], ...] = ()
    path: str = ""
    username: str | None = None
    password: str | None = None
    db: int = 0
    prefix: str = "suolink:"
    pool_size: int = 50
    socket_timeout: float = 5.0
    connect_timeout: float = 2.0
    retries: int = 1
    block_size: int = 100
    keep_expired: int = 30 * 86_400
    visit_cap: int = 100_000
    visit_days: int = 0
    ssl_cert_reqs: str = "required"
    ssl_ca_certs: str = ""
    #: How visits are pipelined (``visits``, ``batch_ms``, ``batch_size``).
    batch: BatchOptions = _NO_BATCH_OPTIONS


def shown_url(url: str) -> str:
    """``url`` with its password hidden, even when it is too malformed to split."""
    try:
        return redact_url(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else url


def _port(text: str, url: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ConfigurationError(f"bad port {text!r} in redis URL {shown_url(url)!r}")
    return port


def _host_port(item: str, url: str) -> tuple[str, int]:
    if item.startswith("["):  # [ipv6]:port
        host, _, rest = item[1:].partition("]")
        port = _port(rest[1:], url) if rest.startswith(":") else 6379
    else:
        host, sep, port_text = item.rpartition(":")
        if not sep:
            host, port_text = item, "6379"
        port = _port(port_text, url)
    if not host:
        raise ConfigurationError(f"redis URL {shown_url(url)!r} names no host")
    return unquote(host), port


def parse_url(url: str) -> RedisOptions:
    """The options in ``url``; ``ConfigurationError`` naming what is wrong."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a redis URL must be a string, not {type(url).__name__}")
    shown = shown_url(url)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("redis", "rediss", "redis+unix", "redis+cluster"):
        raise ConfigurationError(f"not a redis URL: {shown!r}")
    # The query starts at the first "?" (redis://host?prefix=x needs no slash before it,
    # and its values may hold slashes: ssl_ca_certs=/etc/ca.pem).
    location, _, query = rest.partition("?")
    netloc, _, tail = location.partition("/")
    path_part = "/" + tail
    username: str | None = None
    password: str | None = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, has_pw, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if has_pw else None
        if not has_pw and username is not None:  # redis://secret@host means a password
            username, password = None, username
    values: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigurationError(f"malformed options in redis URL {shown!r}") from exc
    batch = _NO_BATCH_OPTIONS
    for name, value in pairs:
        if name in BATCH_OPTION_NAMES:
            batch = batch.with_option(name, value)
            continue
        if name not in DEFAULTS:
            known = ", ".join(sorted((*DEFAULTS, *BATCH_OPTION_NAMES)))
            raise ConfigurationError(f"unknown redis option {name!r}; known options: {known}")
        values[name] = value
    opts: dict[str, object] = {"batch": batch}
    for name, (low, high) in _INT_RANGES.items():
        if name in values:
            try:
                number = int(values[name])
            except ValueError:
                number = low - 1
            if not low <= number <= high:
                raise ConfigurationError(f"redis option {name} must be {low} to {high}")
            opts[name] = number
    for name, (flow, fhigh) in _FLOAT_RANGES.items():
        if name in values:
            try:
                seconds = float(values[name])
            except ValueError:
                seconds = -1.0
            if not flow <= seconds <= fhigh:
                raise ConfigurationError(f"redis option {name} must be {flow} to {fhigh} seconds")
            opts[name] = seconds
    if "prefix" in values:
        opts["prefix"] = values["prefix"]
    if "ssl_cert_reqs" in values:
        if values["ssl_cert_reqs"] not in _CERT_REQS:
            raise ConfigurationError(f"redis option ssl_cert_reqs must be one of {_CERT_REQS}")
        opts["ssl_cert_reqs"] = values["ssl_cert_reqs"]
    if "ssl_ca_certs" in values:
        opts["ssl_ca_certs"] = values["ssl_ca_certs"]

    if scheme == "redis+unix":
        if netloc:
            raise ConfigurationError(
                f"redis+unix URLs have no host ({shown!r}); use redis+unix:///path/to/redis.sock"
            )
        socket_path = unquote(path_part)
        if socket_path in ("", "/") or "\x00" in socket_path:
            raise ConfigurationError(f"redis+unix URL {shown!r} names no socket file")
        return RedisOptions(
            kind="unix",
            path=socket_path,
            username=username,
            password=password,
            **opts,  # type: ignore[arg-type]
        )
    if not netloc:
        raise ConfigurationError(f"redis URL {shown!r} names no host")
    if scheme == "redis+cluster":
        hosts = tuple(_host_port(item, url) for item in netloc.split(",") if item)
        if path_part not in ("", "/"):
            raise ConfigurationError("a Redis Cluster has only database 0; drop the /db part")
        if opts.get("db", 0):
            raise ConfigurationError("a Redis Cluster has only database 0")
        return RedisOptions(
            kind="cluster",
            hosts=hosts,
            username=username,
            password=password,
            **opts,  # type: ignore[arg-type]
        )
    if "," in netloc:
        raise ConfigurationError(
            f"several hosts in {shown!r}: use redis+cluster:// for a Redis Cluster"
        )
    db_text = path_part.strip("/")
    if db_text:
        if not db_text.isdigit() or "db" in values:
            raise ConfigurationError(f"bad database number {db_text!r} in {shown!r}")
        opts["db"] = int(db_text)
    return RedisOptions(
        kind="tcp",
        ssl=scheme == "rediss",
        hosts=(_host_port(netloc, url),),
        username=username,
        password=password,
        **opts,  # type: ignore[arg-type]
    )


def rate_limit_url(options: RedisOptions) -> str:
    """The ``limits`` storage URL reaching the same server(s), credentials quoted.

    ``limits`` hands it to redis-py, so TLS options a ``rediss://`` server needs go along;
    the key prefix does not (``limits`` keeps its own keys apart).
    """
    auth = ""
    if options.password is not None:
        user = quote(options.username or "", safe="")
        auth = f"{user}:{quote(options.password, safe='')}@"
    elif options.username:
        auth = f"{quote(options.username, safe='')}@"
    if options.kind == "cluster":
        hosts = ",".join(_netloc(host, port) for host, port in options.hosts)
        return f"redis+cluster://{auth}{hosts}"
    if options.kind == "unix":
        return f"redis+unix://{auth}{quote(options.path, safe='/')}?db={options.db}"
    host, port = options.hosts[0]
    url = f"{'rediss' if options.ssl else 'redis'}://{auth}{_netloc(host, port)}/{options.db}"
    if options.ssl:
        tls = {"ssl_cert_reqs": options.ssl_cert_reqs}
        if options.ssl_ca_certs:
            tls["ssl_ca_certs"] = options.ssl_ca_certs
        url += "?" + urlencode(tls)
    return url


def _netloc(host: str, port: int) -> str:
    """``host:port`` as a URL writes it: IPv6 addresses in brackets, names quoted."""
    shown = f"[{host}]" if ":" in host else quote(host, safe="")
    return f"{shown}:{port}"
