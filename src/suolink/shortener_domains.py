"""The Shortener's short-domain methods: add, list, mark, and which domain a URL uses.

A mixin of :class:`~suolink.shortener.Shortener`, kept apart so the domain feature is
one file: the data and the rotation rule are in :mod:`suolink.domains`, storage is the
backend's ``KeepsDomains`` capability. A Shortener over a backend without it raises
``DomainsUnsupported`` from every method here (and works as before without domains).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .backends.base import KeepsDomains, Storage
from .detect.platforms import normalize_platforms
from .domains import (
    DEFAULT_POOL,
    Domain,
    DomainBook,
    DomainSpec,
    Health,
    changed_platforms,
    check_domain_name,
    check_pool,
    check_reason,
    check_settings,
    default_domain,
    pick,
    with_state,
)
from .errors import (
    ConfigurationError,
    DomainNotFound,
    DomainsUnsupported,
    DomainTaken,
    InvalidOption,
)
from .events import Event
from .http.hosts import host_of
from .models import Link

__all__ = ["DomainMethods", "Where", "state_change_payloads"]

log = logging.getLogger("suolink.domains")


def state_change_payloads(
    before: Domain, after: Domain, platforms: list[str]
) -> list[dict[str, Any]]:
    """The ``domain.state_changed`` payloads of one change: one per platform whose state
    moved (``domain``, ``pool``, ``platform``, ``before``, ``after``, ``reason``, ``since``)."""
    out: list[dict[str, Any]] = []
    for platform in platforms:
        entry = after.states.get(platform)
        out.append(
            {
                "domain": after.name,
                "pool": after.pool,
                "platform": platform,
                "before": before.health(platform).value,
                "after": after.health(platform).value,
                "reason": entry.reason if entry is not None else "",
                "since": entry.since.isoformat() if entry is not None else None,
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request came in: the known domain its host names (None: not a domain)."""

    domain: Domain | None


class DomainMethods:
    """Short domains on a Shortener (see :mod:`suolink.domains` and docs/domains.md)."""

    storage: Storage
    base_url: str | None
    clock: Callable[[], datetime]
    #: The process's copy of the domain list (read again every few seconds).
    domain_book: DomainBook
    _domain_specs: tuple[DomainSpec, ...]
    _domains_synced: bool

    if TYPE_CHECKING:

        def emit(self, name: str, payload: Mapping[str, Any]) -> Event:
            """The Shortener's (:mod:`suolink.events`)."""

    def domain_state_changed(self, before: Domain, after: Domain, platforms: list[str]) -> None:
        """The one place a domain's state change is raised: a ``domain.state_changed``
        event per platform (hooks and webhooks, :mod:`suolink.events`), and a log line."""
        for payload in state_change_payloads(before, after, platforms):
            log.info(
                "domain.state_changed %s %s: %s -> %s",
                payload["domain"],
                payload["platform"],
                payload["before"],
                payload["after"],
            )
            self.emit("domain.state_changed", payload)

    def _init_domains(self, specs: tuple[DomainSpec, ...]) -> None:
        store = self.storage if isinstance(self.storage, KeepsDomains) else None
        if specs and store is None:
            raise ConfigurationError(
                "domains are configured but the storage keeps no domains "
                f"({type(self.storage).__name__} lacks the keeps_domains capability)"
            )
        self._domain_specs = specs
        self._domains_synced = not specs
        self.domain_book = DomainBook(None if store is None else self._load_domains)

    def _domain_store(self) -> KeepsDomains:
        store = self.storage
        if not isinstance(store, KeepsDomains):
            raise DomainsUnsupported(store.url)
        return store

    def _load_domains(self) -> list[Domain]:
        """The stored list, after adding the configured domains the store lacks (once)."""
        store = self._domain_store()
        if not self._domains_synced:
            now = self.clock()
            for spec in self._domain_specs:
                settings = check_settings(spec.settings, check_platforms=normalize_platforms)
                domain = Domain(
                    spec.name,
                    pool=spec.pool,
                    default=spec.default,
                    scheme=spec.scheme or "https",
                    settings=settings,
                    added_at=now,
                )
                # One already stored is kept: its state and settings may have changed since.
                with suppress(DomainTaken):
                    store.add_domain(domain)
            self._domains_synced = True
        return store.list_domains()

    # -- managing domains -------------------------------------------------------------

    def add_domain(
        self,
        name: str,
        *,
        default: bool = False,
        pool: str = DEFAULT_POOL,
        settings: Mapping[str, Any] | None = None,
    ) -> Domain:
        """Add a short domain to ``pool`` (``DomainTaken`` if it is there already).

        ``name`` is a host (``s1.example``, ``短.例子``) or an origin
        (``http://127.0.0.1:8000``: the scheme short URLs use, ``https`` by default).
        ``default`` makes it the domain of links bound to none. ``settings`` are the
        domain's defaults for links made on it: ``anti_block``, ``allow``,
        ``not_found_url`` (where an unknown code redirects), ``language``.
        """
        store = self._domain_store()
        host, scheme = check_domain_name(name)
        domain = Domain(
            host,
            pool=check_pool(pool),
            default=bool(default),
            scheme=scheme or "https",
            settings=check_settings(settings, check_platforms=normalize_platforms),
            added_at=self.clock(),
        )
        self.domain_book.all()  # configured domains first
        added = store.add_domain(domain)
        if added.default:
            self._only_default(added.name)
        self.domain_book.forget()
        return added

    def _only_default(self, name: str) -> None:
        store = self._domain_store()
        for other in store.list_domains():
            if other.default and other.name != name:
                store.change_domain(other.name, lambda d: replace(d, default=False))

    def domains(self) -> list[Domain]:
        """Every short domain, in the order added (a pool's rotation order)."""
        self._domain_store()
        self.domain_book.forget()
        return list(self.domain_book.all())

    def domain(self, name: str) -> Domain:
        """The domain named ``name``; ``DomainNotFound`` if there is none."""
        wanted = check_domain_name(name)[0]
        for domain in self.domains():
            if domain.name == wanted:
                return domain
        raise DomainNotFound(wanted)

    def remove_domain(self, name: str) -> bool:
        """Forget a domain; True if it existed. Links bound to it keep resolving on the
        other domains of their pool. A configured domain comes back at the next start."""
        store = self._domain_store()
        removed = store.remove_domain(check_domain_name(name)[0])
        self.domain_book.forget()
        return removed

    def change_domain(
        self,
        name: str,
        *,
        pool: str | None = None,
        default: bool | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Domain:
        """Move a domain to another pool, make it the default, or replace its settings."""
        store = self._domain_store()
        changes: dict[str, Any] = {}
        if pool is not None:
            changes["pool"] = check_pool(pool)
        if default is not None:
            changes["default"] = bool(default)
        if settings is not None:
            changes["settings"] = check_settings(settings, check_platforms=normalize_platforms)
        _, after = store.change_domain(check_domain_name(name)[0], lambda d: replace(d, **changes))
        if after.default and default:
            self._only_default(after.name)
        self.domain_book.forget()
        return after

    def mark_blocked(
        self, domain: str, platforms: Iterable[str] | str = ("wechat",), *, reason: str = ""
    ) -> Domain:
        """Mark ``domain`` blocked inside ``platforms``: new short URLs for those platforms
        move to the next healthy domain of its pool; its old URLs keep resolving."""
        return self._mark(domain, platforms, Health.BLOCKED, reason)

    def mark_suspect(
        self, domain: str, platforms: Iterable[str] | str = ("wechat",), *, reason: str = ""
    ) -> Domain:
        """Mark ``domain`` suspect in ``platforms``: used only when no pool domain is ok."""
        return self._mark(domain, platforms, Health.SUSPECT, reason)

    def mark_ok(
        self, domain: str, platforms: Iterable[str] | str | None = None, *, reason: str = ""
    ) -> Domain:
        """Mark ``domain`` healthy again in ``platforms`` (None: every platform)."""
        return self._mark(domain, platforms, Health.OK, reason)

    def mark_checked(self, domain: str, at: datetime | None = None) -> Domain:
        """Note that ``domain`` was just checked (``last_check``; for checkers)."""
        when = at or self.clock()
        store = self._domain_store()
        _, after = store.change_domain(
            check_domain_name(domain)[0], lambda d: replace(d, last_check=when)
        )
        self.domain_book.forget()
        return after

    def _mark(
        self, domain: str, platforms: Iterable[str] | str | None, state: Health, reason: str
    ) -> Domain:
        store = self._domain_store()
        name = check_domain_name(domain)[0]
        names = None if platforms is None else sorted(normalize_platforms(platforms))
        if names is not None and not names:
            raise InvalidOption("platforms", "name at least one platform")
        why = check_reason(reason)
        now = self.clock()
        before, after = store.change_domain(name, lambda d: with_state(d, names, state, why, now))
        self.domain_book.forget()
        changed = changed_platforms(before, after)
        if changed:
            self.domain_state_changed(before, after, changed)
        return after

    # -- which domain, for a link and a request ------------------------------------------

    def where(self, base_url: str | None) -> Where | None:
        """The domain a request's base URL names; None when no domains are configured or
        the request's host is unknown to the caller (``base_url`` None)."""
        if not base_url or not self.domain_book.all():
            return None
        found = host_of(base_url)
        return Where(None if found is None else self.domain_book.find(*found))

    @staticmethod
    def link_serves(link: Link, where: Where | None) -> bool:
        """Whether ``link`` may be opened where the request came in: a link bound to a
        domain or pool only there (404 elsewhere), an unbound link on every known domain."""
        if where is None:
            return True
        if where.domain is None:
            return False
        if link.domain is None and link.pool is None:
            return True
        return link.domain == where.domain.name or (
            link.pool is not None and link.pool == where.domain.pool
        )

    def domain_url(
        self, link: Link | None, code: str, *, base_url: str | None, for_platform: str | None
    ) -> str | None:
        """The short URL on the domain rotation picks, or None without domains."""
        domains = self.domain_book.all()
        if not domains:
            return None
        fallback = default_domain(domains)
        if link is not None and (link.domain is not None or link.pool is not None):
            own = next((d for d in domains if d.name == link.domain), None)
            pool = link.pool or (own.pool if own is not None else None)
            chosen = pick(domains, pool=pool, preferred=link.domain, platform=for_platform)
        else:
            chosen = pick(
                domains,
                pool=fallback.pool if fallback else None,
                preferred=fallback.name if fallback else None,
                platform=for_platform,
            )
        chosen = chosen or fallback
        assert chosen is not None  # there are domains
        prefix = _path(self.base_url) or _path(base_url)
        return f"{chosen.origin}{prefix}/{code}"

    def _bind_domain(
        self, fields: dict[str, Any], settings: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        """Check a link's ``domain``/``pool`` against the known domains; a domain alone
        brings its pool; a new link takes the domain's defaults it was not given."""
        name, pool = fields.get("domain"), fields.get("pool")
        if name is None and pool is None:
            return fields
        store = self._domain_store()
        domains = store.list_domains()
        own = next((d for d in domains if d.name == name), None) if name else None
        if name is not None and own is None:
            raise InvalidOption("domain", f"{name!r} is not one of the domains")
        if pool is not None and not any(d.pool == pool for d in domains):
            raise InvalidOption("pool", f"no domain serves the pool {pool!r}")
        if own is not None and pool is not None and own.pool != pool:
            raise InvalidOption("pool", f"{own.name!r} serves the pool {own.pool!r}")
        if own is not None:
            fields["pool"] = own.pool
        if not creating:
            return fields
        source = own or pick(domains, pool=pool)
        if source is not None:
            preset = source.settings
            if preset.anti_block is not None and "anti_block" not in settings:
                fields["anti_block"] = preset.anti_block
            if preset.allow is not None and "allow" not in settings:
                fields["allow"] = preset.allow
            if preset.language is not None and "language" not in settings:
                fields["language"] = preset.language
        return fields

    def _domain_origins(self) -> list[str]:
        """Every domain's origin: targets under them are this Shortener's own links."""
        return [domain.origin for domain in self.domain_book.all()]


def _path(base_url: str | None) -> str:
    if not base_url:
        return ""
    try:
        return urlsplit(base_url).path.rstrip("/")
    except ValueError:
        return ""
