"""Where a link may be opened, in words: "在微信中", "on a phone", "in WeChat or on iOS"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..detect.platforms import APP_IDS, DEVICE_IDS, OS_IDS, display_name
from .i18n import MESSAGES

__all__ = ["place", "places"]

_GROUP_PHRASES: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {
        "in_app": "在应用内浏览器中",
        "browser": "在浏览器中",
        "webview": "在应用内网页中",
        "miniprogram": "在小程序中",
        "blocking_apps": "在会拦截外链的应用中",
        "china_apps": "在国内应用中",
        "apple": "在苹果设备上",
        "human": "由真人",
    },
    "en": {
        "in_app": "in an in-app browser",
        "browser": "in a standalone browser",
        "webview": "in an app's web view",
        "miniprogram": "in a mini program",
        "blocking_apps": "in an app that blocks outside links",
        "china_apps": "in an app from mainland China",
        "apple": "on an Apple device",
        "human": "as a person",
    },
}


def place(name: str, lang: str) -> str:
    """One platform id as a place phrase in ``lang``."""
    zh = lang == "zh-CN"
    label = display_name(name, lang)
    if name in APP_IDS:
        return f"在{label}中" if zh else f"in {label}"
    if name in DEVICE_IDS:
        return f"在{label}上" if zh else f"on a {label}"
    if name in OS_IDS:
        return f"在 {label} 设备上" if zh else f"on {label}"
    groups = _GROUP_PHRASES["zh-CN" if zh else "en"]
    return groups.get(name, f"在{label}中" if zh else f"in {label}")


def places(names: Iterable[str], lang: str) -> str:
    """Several place phrases joined with "or" (sorted, so pages are stable)."""
    words = MESSAGES.get(lang, MESSAGES["en"])
    return words["list.or"].join(place(name, lang) for name in sorted(names))
