"""Short domains as data: names, pools, per-platform health, and which one a URL uses.

Anti-block services live by their domains: when WeChat starts blocking one, new shares
must go out on another. A :class:`Domain` belongs to a *pool*; each has a state per
platform (``ok``, ``blocked``, ``suspect``). :func:`pick` chooses the domain a new
short URL uses: the link's own domain if it is healthy for the platform asked about,
else the first healthy domain of its pool (in the order they were added). Old URLs keep
resolving on every domain of the pool: rotation only changes what is handed out next.

Everything here is pure; storage is the ``KeepsDomains`` capability of
:mod:`suolink.backends.base`, and :class:`DomainBook` keeps a short-lived copy of the
list for the request path.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import InvalidDomain, InvalidOption
from .languages import LANGUAGES

__all__ = [
    "DEFAULT_POOL",
    "REFRESH_SECONDS",
    "Domain",
    "DomainBook",
    "DomainSettings",
    "Health",
    "PlatformState",
    "check_domain_name",
    "check_pool",
    "domain_from_dict",
    "domain_from_json",
    "domain_to_dict",
    "domain_to_json",
    "parse_domains",
    "pick",
]

DEFAULT_POOL: Final = "main"
#: How long a process trusts its copy of the domain list (other processes' changes show
#: up within this many seconds; this process's own at once).
REFRESH_SECONDS: Final = 2.0
_POOL: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_LABEL: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_MAX_REASON: Final = 500
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


class Health(StrEnum):
    """A domain's state for one platform, best first."""

    OK = "ok"
    SUSPECT = "suspect"
    BLOCKED = "blocked"


_RANK: Final = {Health.OK: 0, Health.SUSPECT: 1, Health.BLOCKED: 2}


@dataclass(frozen=True, slots=True)
class PlatformState:
    """What is known of a domain inside one platform: its state, why, since when."""

    state: Health
    since: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DomainSettings:
    """Per-domain defaults: what links made on the domain get unless they say otherwise.

    ``anti_block`` and ``allow`` are platform ids (as a link's settings of the same
    names); ``not_found_url`` is where an unknown code on this domain redirects (None: the
    404 page); ``language`` the pages' language.
    """

    anti_block: frozenset[str] | None = None
    allow: frozenset[str] | None = None
    not_found_url: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.anti_block is not None:
            out["anti_block"] = sorted(self.anti_block)
        if self.allow is not None:
            out["allow"] = sorted(self.allow)
        if self.not_found_url is not None:
            out["not_found_url"] = self.not_found_url
        if self.language is not None:
            out["language"] = self.language
        return out


@dataclass(frozen=True, slots=True)
class Domain:
    """One short domain: its name (lower-case, IDNA, maybe ``:port`` on loopback), the
    pool it serves, whether it is the default, the URL scheme, per-domain settings, its
    state per platform (a platform not listed is ``ok``) and when it was last checked."""

    name: str
    pool: str = DEFAULT_POOL
    default: bool = False
    scheme: str = "https"
    settings: DomainSettings = field(default_factory=DomainSettings)
    states: Mapping[str, PlatformState] = field(default_factory=dict)
    added_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_check: datetime | None = None

    @property
    def host(self) -> str:
        """The name without its port."""
        return _split_port(self.name)[0]

    @property
    def port(self) -> int | None:
        return _split_port(self.name)[1]

    @property
    def origin(self) -> str:
        """``scheme://name``: what short URLs on this domain start with."""
        return f"{self.scheme}://{self.name}"

    def health(self, platform: str | None = None) -> Health:
        """The state for ``platform``; for None, the worst state of any platform."""
        if platform is not None:
            found = self.states.get(platform)
            return Health.OK if found is None else found.state
        worst = Health.OK
        for entry in self.states.values():
            if _RANK[entry.state] > _RANK[worst]:
                worst = entry.state
        return worst

    def matches(self, host: str, port: int | None) -> bool:
        """Whether a request for ``host`` (lower-case) on ``port`` names this domain."""
        own_host, own_port = _split_port(self.name)
        return host == own_host and (own_port is None or own_port == port)

    def to_dict(self) -> dict[str, Any]:
        return domain_to_dict(self)


def _split_port(name: str) -> tuple[str, int | None]:
    if name.startswith("["):
        host, _, rest = name[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = name.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return name, None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _idna(host: str, raw: object) -> str:
    """The ASCII (punycode) form of a host name, checked label by label."""
    try:
        import idna

        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidDomain(raw, "not a valid host name") from None
    ascii_host = ascii_host.lower()
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in ascii_host.split(".")):
        raise InvalidDomain(raw, "not a valid host name")
    return ascii_host


def check_domain_name(raw: object) -> tuple[str, str | None]:
    """``(name, scheme or None)`` from ``s1.example``, ``S1.Example.``, ``短.例子``,
    ``https://s1.example`` or ``http://127.0.0.1:8000``: lower-case, IDNA-encoded, a port
    only on loopback hosts (for tests). ``InvalidDomain`` for anything else."""
    if not isinstance(raw, str):
        raise InvalidDomain(raw, "a domain name is text")
    text = raw.strip()
    if not text or len(text) > 300 or any(ord(ch) < 33 or ch == "\x7f" for ch in text):
        raise InvalidDomain(raw, "not a host name")
    scheme: str | None = None
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:
            raise InvalidDomain(raw, "not a host name or origin") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise InvalidDomain(raw, "the scheme is http or https")
        if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
            raise InvalidDomain(raw, "give the origin only (scheme, host, port), no path")
        scheme, text = parts.scheme.lower(), parts.netloc
    if any(ch in text for ch in "/@?#\\ "):
        raise InvalidDomain(raw, "not a host name")
    host, port = _parse_host_port(text, raw)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        host = _idna(host.rstrip("."), raw)
    else:
        host = address.compressed
    if port is not None and not _is_loopback(host):
        raise InvalidDomain(raw, "a port is allowed only on loopback hosts (tests)")
    shown = f"[{host}]" if ":" in host else host
    return (f"{shown}:{port}" if port is not None else shown), scheme


def _parse_host_port(text: str, raw: object) -> tuple[str, int | None]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise InvalidDomain(raw, "not a host name")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise InvalidDomain(raw, "the port is a number from 1 to 65535")
    return host, int(port_text)


def check_pool(raw: object) -> str:
    """A pool name: 1-32 lower-case letters, digits, ``-`` and ``_``."""
    if not isinstance(raw, str) or not _POOL.fullmatch(raw.strip().lower()):
        raise InvalidDomain(raw, "a pool name is 1-32 letters, digits, '-' and '_'")
    return raw.strip().lower()


def check_reason(raw: object) -> str:
    """A state change's reason: text, control characters refused, at most 500 characters."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidOption("reason", "must be text")
    if any(ord(ch) < 32 and ch not in "\t" for ch in raw) or "\x00" in raw:
        raise InvalidOption("reason", "must be one line of text")
    if len(raw) > _MAX_REASON:
        raise InvalidOption("reason", f"at most {_MAX_REASON} characters")
    return raw


def check_settings(
    raw: Mapping[str, Any] | DomainSettings | None,
    *,
    check_platforms: Callable[[Iterable[str] | str], frozenset[str]],
) -> DomainSettings:
    """Per-domain settings from a mapping (``anti_block``, ``allow``, ``not_found_url``,
    ``language``); ``InvalidOption`` naming the bad one."""
    if raw is None:
        return DomainSettings()
    if isinstance(raw, DomainSettings):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidOption("settings", "expected an object")
    unknown = sorted(set(raw) - {"anti_block", "allow", "not_found_url", "language"})
    if unknown:
        raise InvalidOption(str(unknown[0])[:40], "unknown domain setting")
    anti_block = raw.get("anti_block")
    allow = raw.get("allow")
    url = raw.get("not_found_url")
    language = raw.get("language")
    if url is not None and (
        not isinstance(url, str)
        or not url.startswith(("http://", "https://"))
        or len(url) > 2000
        or any(ord(ch) < 33 for ch in url)
    ):
        raise InvalidOption("not_found_url", "an http:// or https:// URL")
    if language is not None and language not in LANGUAGES:
        raise InvalidOption("language", f"one of {', '.join(LANGUAGES)}")
    return DomainSettings(
        anti_block=None if anti_block is None else check_platforms(anti_block),
        allow=None if allow is None else check_platforms(allow),
        not_found_url=url,
        language=language,
    )


# -- JSON, for every backend -----------------------------------------------------------


def domain_to_dict(domain: Domain) -> dict[str, Any]:
    """A JSON-ready dict of every field (what backends store and the API shows)."""
    return {
        "name": domain.name,
        "pool": domain.pool,
        "default": domain.default,
        "scheme": domain.scheme,
        "settings": domain.settings.to_dict(),
        "states": {
            platform: {
                "state": entry.state.value,
                "since": entry.since.isoformat(),
                "reason": entry.reason,
            }
            for platform, entry in sorted(domain.states.items())
        },
        "added_at": domain.added_at.isoformat(),
        "last_check": domain.last_check.isoformat() if domain.last_check else None,
    }


def domain_from_dict(data: Mapping[str, Any]) -> Domain:
    """The inverse of :func:`domain_to_dict` (stored records are trusted)."""
    settings = data.get("settings") or {}
    return Domain(
        name=data["name"],
        pool=data.get("pool", DEFAULT_POOL),
        default=bool(data.get("default", False)),
        scheme=data.get("scheme", "https"),
        settings=DomainSettings(
            anti_block=_set_or_none(settings.get("anti_block")),
            allow=_set_or_none(settings.get("allow")),
            not_found_url=settings.get("not_found_url"),
            language=settings.get("language"),
        ),
        states={
            platform: PlatformState(
                Health(entry["state"]),
                datetime.fromisoformat(entry["since"]),
                entry.get("reason", ""),
            )
            for platform, entry in (data.get("states") or {}).items()
        },
        added_at=datetime.fromisoformat(data["added_at"]),
        last_check=datetime.fromisoformat(data["last_check"]) if data.get("last_check") else None,
    )


def domain_to_json(domain: Domain) -> str:
    """A domain as compact JSON text (what the stores keep)."""
    return json.dumps(domain_to_dict(domain), ensure_ascii=False, separators=(",", ":"))


def domain_from_json(data: str | bytes | Mapping[str, Any]) -> Domain:
    """The domain JSON text holds (or a JSON object a driver already decoded)."""
    return domain_from_dict(data if isinstance(data, Mapping) else json.loads(data))


def _set_or_none(value: Any) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


# -- changes (pure: backends apply them atomically) --------------------------------------


def with_state(
    domain: Domain,
    platforms: Iterable[str] | None,
    state: Health,
    reason: str,
    at: datetime,
) -> Domain:
    """``domain`` with ``platforms`` (None: every platform it has a state for) set to
    ``state``. ``ok`` removes the entry; a platform already in ``state`` keeps its
    ``since`` (and its reason, unless a new one is given)."""
    states = dict(domain.states)
    names = list(states) if platforms is None else list(platforms)
    for platform in names:
        old = states.get(platform)
        if state is Health.OK:
            states.pop(platform, None)
        elif old is not None and old.state is state:
            states[platform] = replace(old, reason=reason or old.reason)
        else:
            states[platform] = PlatformState(state, at, reason)
    return replace(domain, states=states)


def changed_platforms(before: Domain, after: Domain) -> list[str]:
    """The platforms whose state differs between two versions of a domain."""
    names = set(before.states) | set(after.states)
    return sorted(p for p in names if before.health(p) is not after.health(p))


# -- choosing the domain a URL uses --------------------------------------------------------


def default_domain(domains: Sequence[Domain]) -> Domain | None:
    """The domain marked default, else the first added; None without domains."""
    for domain in domains:
        if domain.default:
            return domain
    return domains[0] if domains else None


def pick(
    domains: Sequence[Domain],
    *,
    pool: str | None,
    preferred: str | None = None,
    platform: str | None = None,
) -> Domain | None:
    """The domain a new short URL should use for visitors on ``platform``.

    Candidates are ``preferred`` (the link's own domain) then the pool's domains in the
    order they were added. The first ``ok`` one wins, else the first ``suspect`` one,
    else the preferred domain itself (every domain blocked: nothing healthy to move to).
    ``platform=None`` asks for a domain no platform blocks or suspects.
    """
    own = next((d for d in domains if d.name == preferred), None) if preferred else None
    members = [d for d in domains if pool is not None and d.pool == pool and d is not own]
    candidates = ([own] if own is not None else []) + members
    if not candidates:
        return None
    for wanted in (Health.OK, Health.SUSPECT):
        for domain in candidates:
            if domain.health(platform) is wanted:
                return domain
    return candidates[0]


# -- static configuration -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainSpec:
    """A domain named in the configuration (``domains=[...]``, ``SUOLINK_DOMAINS``)."""

    name: str
    scheme: str | None = None
    pool: str = DEFAULT_POOL
    default: bool = False
    settings: Mapping[str, Any] | None = None


def parse_domains(value: object) -> tuple[DomainSpec, ...]:
    """Configured domains: text ``"s1.example=main, s2.example=main, s3.example=promo"``
    (``name`` or ``name=pool``; the first listed is the default) or a list of such texts
    or of mappings (``{"name", "pool", "default", "settings"}``)."""
    if value is None:
        return ()
    items: list[object] = (
        [part for part in value.split(",") if part.strip()]
        if isinstance(value, str)
        else list(value)  # type: ignore[call-overload]
    )
    specs: list[DomainSpec] = []
    for item in items:
        if isinstance(item, str):
            name_text, _, pool_text = item.strip().partition("=")
            name, scheme = check_domain_name(name_text)
            pool = check_pool(pool_text) if pool_text.strip() else DEFAULT_POOL
            specs.append(DomainSpec(name, scheme, pool))
        elif isinstance(item, Mapping):
            unknown = sorted(set(item) - {"name", "pool", "default", "settings"})
            if unknown:
                raise InvalidDomain(item.get("name"), f"unknown key {unknown[0]!r}")
            name, scheme = check_domain_name(item.get("name"))
            specs.append(
                DomainSpec(
                    name,
                    scheme,
                    check_pool(item.get("pool", DEFAULT_POOL)),
                    bool(item.get("default", False)),
                    item.get("settings"),
                )
            )
        else:
            raise InvalidDomain(item, "expected a name or a mapping")
    if len({spec.name for spec in specs}) != len(specs):
        raise InvalidDomain(value, "a domain is listed twice")
    if specs and not any(spec.default for spec in specs):
        specs[0] = replace(specs[0], default=True)
    return tuple(specs)


# -- the request path's copy ----------------------------------------------------------------


class DomainBook:
    """A process's copy of the domain list, read again after :data:`REFRESH_SECONDS`.

    The request path asks "is this host known?" and "which domain for this link?" on
    every request; reading the store each time would double the cost of a redirect.
    Changes made through this process forget the copy at once.
    """

    def __init__(self, load: Callable[[], list[Domain]] | None) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._domains: tuple[Domain, ...] = ()
        self._until = float("-inf")
        self._loaded = False

    @property
    def supported(self) -> bool:
        return self._load is not None

    def all(self) -> tuple[Domain, ...]:
        """Every domain, in the order added (a copy at most ``REFRESH_SECONDS`` old)."""
        if self._load is None:
            return ()
        now = time.monotonic()
        if now < self._until:
            return self._domains
        with self._lock:
            if now >= self._until:
                try:
                    self._domains = tuple(self._load())
                    self._loaded = True
                except Exception:
                    if not self._loaded:
                        raise  # never read: the caller answers as for any storage error
                    # The store is down: keep the last list a while (it rarely changes).
                self._until = time.monotonic() + REFRESH_SECONDS
            return self._domains

    def forget(self) -> None:
        """Read the store again on next use (after a change made here)."""
        self._until = float("-inf")

    def find(self, host: str, port: int | None) -> Domain | None:
        """The known domain a request for ``host:port`` names, or None."""
        for domain in self.all():
            if domain.matches(host, port):
                return domain
        return None
