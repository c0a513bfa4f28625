"""Documented ways out of in-app browsers, as data: which app and OS, what URL, and why.

The guide page tries the first escape that matches the visitor (in ``auto`` mode) and
stays as the fallback. Only mechanisms that the app's or platform's own documentation
describes are listed; WeChat, QQ and the other apps of mainland China have none, so
their visitors get the guide page alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote, urlsplit

from .detect import Client

__all__ = [
    "ESCAPES",
    "LINE_EXTERNAL_PARAM",
    "Escape",
    "EscapeRule",
    "choose_escape",
    "escape_url",
    "is_escape_hop",
]

#: The query pair LINE reads to hand a URL to the system browser.
LINE_EXTERNAL_PARAM: Final = ("openExternalBrowser", "1")


class Escape(StrEnum):
    """A kind of escape; :func:`escape_url` turns it into the URL the page opens."""

    LINE_EXTERNAL = "line_external"
    KAKAOTALK_EXTERNAL = "kakaotalk_external"
    ANDROID_INTENT = "android_intent"
    SAFARI_SCHEME = "safari_scheme"


@dataclass(frozen=True, slots=True)
class EscapeRule:
    """Apps (None: any) on one OS family from a minimum major version, and the escape."""

    escape: Escape
    apps: frozenset[str] | None
    os: frozenset[str] | None
    min_os_major: int
    source: str


_WESTERN_IOS_APPS: Final = frozenset(
    {
        "facebook", "messenger", "instagram", "threads", "line", "twitter", "linkedin",
        "pinterest", "reddit", "discord", "telegram", "tiktok", "naver", "kakaotalk",
    }
)  # fmt: skip

#: Tried in order; the first rule that matches the client wins.
ESCAPES: Final[tuple[EscapeRule, ...]] = (
    EscapeRule(
        Escape.LINE_EXTERNAL,
        frozenset({"line"}),
        None,
        0,
        "LINE Developers, 'Opening a URL in an external browser': add "
        "openExternalBrowser=1 to the URL's query",
    ),
    EscapeRule(
        Escape.KAKAOTALK_EXTERNAL,
        frozenset({"kakaotalk"}),
        None,
        0,
        "Kakao Developers, KakaoTalk in-app browser: the kakaotalk://web/openExternal?url= "
        "scheme opens the URL in the default browser",
    ),
    EscapeRule(
        Escape.ANDROID_INTENT,
        frozenset({"facebook", "messenger", "instagram", "threads", "telegram"}),
        frozenset({"android"}),
        0,
        "Chrome for Android, 'Android Intents with Chrome': intent://…#Intent;scheme=https;…;end "
        "hands the page to the browser; these apps' web views pass intents to the system",
    ),
    EscapeRule(
        Escape.SAFARI_SCHEME,
        _WESTERN_IOS_APPS,
        frozenset({"ios", "ipados"}),
        17,
        "iOS 17 and later open x-safari-https:// URLs in Safari; WeChat and Snapchat block "
        "the scheme, so they are not listed",
    ),
)


def _major(version: str | None) -> int:
    head = (version or "").split(".")[0]
    return int(head) if head.isdigit() else 0


def choose_escape(client: Client) -> Escape | None:
    """The first escape in :data:`ESCAPES` documented to work for this client, if any."""
    for rule in ESCAPES:
        if rule.apps is not None and client.app not in rule.apps:
            continue
        if rule.os is not None and client.os not in rule.os:
            continue
        if rule.min_os_major and _major(client.os_version) < rule.min_os_major:
            continue
        return rule.escape
    return None


def escape_url(escape: Escape | None, short_url: str) -> str | None:
    """The URL the guide page opens by itself to leave the app; None if there is none."""
    if escape is None:
        return None
    if escape is Escape.LINE_EXTERNAL:
        joiner = "&" if "?" in short_url else "?"
        name, value = LINE_EXTERNAL_PARAM
        return f"{short_url}{joiner}{name}={value}"
    if escape is Escape.KAKAOTALK_EXTERNAL:
        return "kakaotalk://web/openExternal?url=" + quote(short_url, safe="")
    parts = urlsplit(short_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    if escape is Escape.SAFARI_SCHEME:
        return f"x-safari-{parts.scheme}://{parts.netloc}{rest}"
    return (
        f"intent://{parts.netloc}{rest}#Intent;scheme={parts.scheme};"
        "action=android.intent.action.VIEW;category=android.intent.category.BROWSABLE;end"
    )


def is_escape_hop(client: Client, query: Iterable[tuple[str, str]]) -> bool:
    """True for the in-app browser's own reload on its way out (nothing new to record).

    LINE's in-app browser loads the ``openExternalBrowser=1`` URL itself before the
    system browser opens it, so one person's guide view would be recorded twice.
    """
    return client.app == "line" and LINE_EXTERNAL_PARAM in tuple(query)
