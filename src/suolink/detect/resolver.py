"""ua-parser underneath: chosen by what is installed, imported only when first needed.

``rust`` uses the ``ua-parser-rs`` accelerator, ``python`` the pure-Python resolver of
``ua-parser``, ``none`` neither (detection then relies on suolink's own token rules).
A parse that fails for any reason yields ``None``: detection must never raise.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["ParsedUA", "ResolverName", "UAParser", "available_resolvers"]

ResolverName = Literal["auto", "rust", "python", "none"]
_RESOLVERS: Final = ("auto", "rust", "python", "none")


@dataclass(frozen=True, slots=True)
class ParsedUA:
    """The parts of a ua-parser result that detection uses."""

    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str | None
    brand: str | None
    model: str | None


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_resolvers() -> tuple[str, ...]:
    """The resolvers that can run here, best first (``none`` always can)."""
    out: list[str] = []
    if _has("ua_parser"):
        if _has("ua_parser_rs"):
            out.append("rust")
        out.append("python")
    out.append("none")
    return tuple(out)


def _version(*parts: str | None) -> str | None:
    kept: list[str] = []
    for part in parts:
        if not part:
            break
        kept.append(part)
    return ".".join(kept) or None


class UAParser:
    """A lazily built ua-parser resolver; ``name`` says which one actually runs."""

    def __init__(self, resolver: ResolverName = "auto") -> None:
        if resolver not in _RESOLVERS:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                f"unknown resolver {resolver!r}; expected one of {', '.join(_RESOLVERS)}"
            )
        if resolver == "auto":
            resolver = available_resolvers()[0]  # type: ignore[assignment]
        elif resolver != "none" and resolver not in available_resolvers():
            from ..errors import MissingDependencyError

            module = "ua_parser_rs" if resolver == "rust" else "ua_parser"
            raise MissingDependencyError(f"the {resolver} resolver", "detect", module=module)
        self.name: str = resolver
        self._impl: Any = None
        self._domain: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._impl is None:
                import ua_parser

                if self.name == "rust":
                    from ua_parser.regex import Resolver

                    impl: Any = Resolver(ua_parser.load_lazy_builtins())
                else:
                    impl = ua_parser.BasicResolver(ua_parser.load_builtins())
                # The device domain is not parsed: it was a third of first-sight time
                # (13 µs of 38 with the Rust resolver) and no answer in the labelled
                # corpus depends on it; device class, tablets and bots come from our
                # own tokens, the model from the Sec-CH-UA-Model hint.
                self._domain = ua_parser.Domain.USER_AGENT | ua_parser.Domain.OS
                self._impl = impl
        return self._impl

    def warm(self) -> None:
        """Build the resolver now rather than on the first request."""
        if self.name != "none":
            self._build()

    def parse(self, ua: str) -> ParsedUA | None:
        """The ua-parser view of ``ua``, or ``None`` (no resolver, or it failed)."""
        if self.name == "none" or not ua:
            return None
        try:
            impl = self._impl if self._impl is not None else self._build()
            if not ua.isascii():
                # Lone surrogates cannot cross into Rust; keep everything else.
                ua = ua.encode("utf-8", "replace").decode("utf-8")
            res = impl(ua, self._domain)
        except Exception:  # a resolver bug must not break a redirect
            return None
        agent, os_, dev = res.user_agent, res.os, res.device
        return ParsedUA(
            browser=agent.family if agent is not None and agent.family != "Other" else None,
            browser_version=_version(agent.major, agent.minor, agent.patch) if agent else None,
            os=os_.family if os_ is not None and os_.family != "Other" else None,
            os_version=_version(os_.major, os_.minor, os_.patch) if os_ else None,
            device=dev.family if dev is not None and dev.family != "Other" else None,
            brand=dev.brand if dev is not None else None,
            model=dev.model if dev is not None else None,
        )
