"""Platform detection: which app, OS, device and bot a visitor's request comes from.

``detect(user_agent, headers)`` returns a frozen :class:`Client`; it is cached and
never raises. The platform vocabulary (``PLATFORM_IDS``) is the public language of
access rules and anti-block settings; ``normalize_platforms`` checks names against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .client import Client
from .core import DEFAULT_CACHE_SIZE, HINT_HEADERS, MAX_UA_LENGTH, Detector
from .platforms import (
    ALIASES,
    APP_IDS,
    BLOCKING_APPS,
    BROWSER_APPS,
    CHINA_APPS,
    DEVICE_IDS,
    GROUP_IDS,
    OS_IDS,
    PLATFORM_IDS,
    display_name,
    normalize_platforms,
)
from .resolver import available_resolvers

__all__ = [
    "ALIASES",
    "APP_IDS",
    "BLOCKING_APPS",
    "BROWSER_APPS",
    "CHINA_APPS",
    "DEFAULT_CACHE_SIZE",
    "DEVICE_IDS",
    "GROUP_IDS",
    "HINT_HEADERS",
    "MAX_UA_LENGTH",
    "OS_IDS",
    "PLATFORM_IDS",
    "Client",
    "Detector",
    "available_resolvers",
    "default_detector",
    "detect",
    "display_name",
    "normalize_platforms",
]

_default: Detector | None = None


def default_detector() -> Detector:
    """The shared :class:`Detector` behind :func:`detect` (best resolver, default cache)."""
    global _default
    if _default is None:
        _default = Detector()
    return _default


def detect(
    user_agent: str | None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Client:
    """The :class:`Client` for a request's user agent and headers; never raises."""
    detector = _default if _default is not None else default_detector()
    return detector.detect(user_agent, headers)
