"""Trusted hosts: which ``Host`` a request may name when short URLs are built from it.

Without a ``base_url`` the Shortener builds short URLs, ``Location`` headers and QR codes
from the request's own scheme and host (adapters put them in
:attr:`HttpRequest.base_url <suolink.http.HttpRequest.base_url>`). ``allowed_hosts``
says which hosts those may be; the decision is made here, in the core, for every adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["AllowedHosts", "host_of"]


def host_of(base_url: str | None) -> tuple[str, int | None] | None:
    """``(host name, port)`` of a request's base URL, lower-case; None if it has none."""
    if not base_url:
        return None
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        return None
    if not host:
        return None
    return host.rstrip(".").lower(), port


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """Host patterns: ``example.com`` (any port), ``example.com:8000`` (that port),
    ``.example.com`` (it and its subdomains), ``*`` (any host).
    """

    patterns: tuple[str, ...]

    @classmethod
    def of(cls, hosts: Iterable[str]) -> AllowedHosts:
        """Checked, lower-case patterns; ``ConfigurationError`` for an unusable one."""
        if isinstance(hosts, str):
            hosts = hosts.split(",")
        patterns = []
        for raw in hosts:
            if not isinstance(raw, str):
                raise ConfigurationError("allowed_hosts must be host names")
            pattern = raw.strip().rstrip(".").lower()
            if not pattern:
                continue
            if "/" in pattern or "@" in pattern or " " in pattern:
                raise ConfigurationError(
                    f"allowed_hosts: {raw!r} is not a host name (write example.com, "
                    "example.com:8000 or .example.com)"
                )
            patterns.append(pattern)
        return cls(tuple(patterns))

    def allows(self, base_url: str | None) -> bool:
        """Whether a request whose base URL is ``base_url`` names an allowed host."""
        if "*" in self.patterns:
            return True
        found = host_of(base_url)
        if found is None:
            return False
        host, port = found
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        with_port = f"{shown}:{port}" if port is not None else None
        for pattern in self.patterns:
            if pattern in (host, shown, with_port):
                return True
            if pattern.startswith(".") and (host == pattern[1:] or host.endswith(pattern)):
                return True
        return False
