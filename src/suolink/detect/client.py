"""The result of detection: who the visitor's client is, as a frozen value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .platforms import display_name

__all__ = ["Client"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """What :func:`~suolink.detect.detect` made of a request.

    ``app`` is the client app's stable id (``wechat``, ``qq``, ``uc``…) or ``None`` for a
    plain browser; ``in_app`` is true inside an app's embedded browser (a known app, or
    an unidentified WebView). ``platforms`` holds every vocabulary id this client
    belongs to; access rules match against it.
    """

    app: str | None = None
    app_version: str | None = None
    os: str = "other"
    os_version: str | None = None
    device: str = "other"
    model: str | None = None
    browser: str | None = None
    browser_version: str | None = None
    in_app: bool = False
    webview: bool = False
    mini_program: bool = False
    is_bot: bool = False
    bot_name: str | None = None
    is_preview: bool = False
    platforms: frozenset[str] = field(default_factory=frozenset)

    def app_name(self, lang: str = "en") -> str | None:
        """The app's display name in ``lang`` (``zh-CN`` or ``en``), or ``None``."""
        return None if self.app is None else display_name(self.app, lang)

    def matches(self, names: frozenset[str] | set[str]) -> bool:
        """True if this client belongs to any of ``names`` (canonical vocabulary ids)."""
        return not self.platforms.isdisjoint(names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``platforms`` sorted)."""
        out = asdict(self)
        out["platforms"] = sorted(self.platforms)
        return out
