"""The visitor's language from Accept-Language, and the words of every page in zh-CN and en."""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "MESSAGES", "pick_language"]

LANGUAGES: Final = ("zh-CN", "en")
DEFAULT_LANGUAGE: Final = "en"
_MAX_HEADER = 512

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {
        "not_found.title": "链接不存在",
        "not_found.text": "这个短链接不存在或已被停用。",
        "expired.title": "链接已失效",
        "expired.text": "这个短链接已过期。",
        "exhausted.text": "这个短链接的访问次数已用完。",
        "password.title": "需要密码",
        "password.text": "这个链接受密码保护，请输入密码后继续。",
        "password.label": "密码",
        "password.submit": "打开链接",
        "password.wrong": "密码不正确，请重试。",
        "footer": "由 suolink 提供",
        "index.title": "生成短链接",
        "index.url": "长链接",
        "index.alias": "自定义短码（可选）",
        "index.submit": "生成短链接",
        "index.copy": "复制",
        "index.copied": "已复制",
        "index.token": "API 令牌",
        "index.failed": "请求失败",
    },
    "en": {
        "not_found.title": "Link not found",
        "not_found.text": "This short link does not exist or has been disabled.",
        "expired.title": "Link expired",
        "expired.text": "This short link has expired.",
        "exhausted.text": "This short link has reached its visit limit.",
        "password.title": "Password required",
        "password.text": "This link is protected. Enter its password to continue.",
        "password.label": "Password",
        "password.submit": "Open link",
        "password.wrong": "That password is not right. Please try again.",
        "footer": "Served by suolink",
        "index.title": "Make a short link",
        "index.url": "Long URL",
        "index.alias": "Custom code (optional)",
        "index.submit": "Shorten",
        "index.copy": "Copy",
        "index.copied": "Copied",
        "index.token": "API token",
        "index.failed": "The request failed",
    },
}


def _parse(header: str) -> list[tuple[float, int, str]]:
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:_MAX_HEADER].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    ranked.sort()
    return ranked


def pick_language(accept_language: str | None, override: str | None = None) -> str:
    """``zh-CN`` or ``en``: the override if it is supported, else the visitor's first match."""
    if override in LANGUAGES:
        return override
    for _, _, tag in _parse(accept_language or ""):
        if tag == "zh" or tag.startswith("zh-"):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT_LANGUAGE
