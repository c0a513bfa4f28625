"""The visitor's language from Accept-Language, and the words of every page in zh-CN and en."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from ..languages import DEFAULT_LANGUAGE, LANGUAGES

__all__ = [
    "DEFAULT_LANGUAGE",
    "INSTRUCTIONS",
    "LANGUAGES",
    "MESSAGES",
    "count_phrase",
    "instruction",
    "language_hint",
    "pick_language",
    "plural_category",
]

_MAX_HEADER = 512
#: ``Language/zh_CN`` and its kin in in-app browsers' user agents.
_UA_LANGUAGE: Final = re.compile(r"\b[Ll]anguage/([A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{1,8}){0,3})")

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
        "password.throttled": "尝试次数过多，请 {seconds} 秒后再试。",
        "footer": "由 suolink 提供",
        "guide.title": "请在浏览器中打开",
        "guide.lead": "{app}内无法直接打开这个链接。",
        "guide.lead_generic": "当前应用内无法直接打开这个链接。",
        "guide.copy_hint": "也可以复制链接，粘贴到浏览器中打开：",
        "guide.copy": "复制链接",
        "guide.copied": "已复制",
        "guide.copy_failed": "请长按上面的链接手动复制",
        "guide.qr_hint": "或用另一台设备扫描二维码：",
        "guide.qr_alt": "短链接的二维码",
        "guide.trying": "正在尝试用系统浏览器打开…",
        "denied.title": "无法在这里打开",
        "denied.only": "请{places}打开此链接。",
        "denied.not_here": "此链接不能{place}打开。",
        "denied.bot": "此链接不对自动程序开放。",
        "denied.country": "此链接在您所在的国家或地区不可用。",
        "blocked.title": "此链接已被停用",
        "blocked.text": "此链接因违反使用规定已被停用。",
        "warning.title": "即将离开",
        "warning.text": "此链接将带您前往 {host}。",
        "warning.continue": "继续访问",
        "preview.title": "短链接",
        "list.separator": "、",
        "list.or": "或",
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
        "password.throttled": "Too many attempts. Please try again in {seconds} seconds.",
        "footer": "Served by suolink",
        "guide.title": "Open this link in your browser",
        "guide.lead": "This link cannot be opened inside {app}.",
        "guide.lead_generic": "This link cannot be opened inside this app.",
        "guide.copy_hint": "Or copy the link and paste it into your browser:",
        "guide.copy": "Copy link",
        "guide.copied": "Copied",
        "guide.copy_failed": "Press and hold the link above to copy it",
        "guide.qr_hint": "Or scan the QR code with another device:",
        "guide.qr_alt": "QR code of the short link",
        "guide.trying": "Trying to open your system browser…",
        "denied.title": "This link cannot be opened here",
        "denied.only": "Please open this link {places}.",
        "denied.not_here": "This link cannot be opened {place}.",
        "denied.bot": "This link is not open to automated clients.",
        "denied.country": "This link is not available in your country or region.",
        "blocked.title": "This link has been disabled",
        "blocked.text": "This link was disabled for breaking the rules of this service.",
        "warning.title": "You are leaving",
        "warning.text": "This link leads to {host}.",
        "warning.continue": "Continue",
        "preview.title": "Short link",
        "list.separator": ", ",
        "list.or": " or ",
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


#: How to leave each app's built-in browser: (app or "*", os or "*") -> words, per language.
#: Looked up most specific first; "···" and "⋮" are the menu buttons the apps show.
INSTRUCTIONS: Final[dict[str, dict[tuple[str, str], str]]] = {
    "zh-CN": {
        ("wechat", "ios"): "点击右上角「···」，选择「在 Safari 中打开」",
        ("wechat", "*"): "点击右上角「···」，选择「在浏览器中打开」",
        ("wecom", "ios"): "点击右上角「···」，选择「在 Safari 中打开」",
        ("wecom", "*"): "点击右上角「···」，选择「在默认浏览器中打开」",
        ("qq", "ios"): "点击右上角「···」，选择「在 Safari 中打开」",
        ("qq", "*"): "点击右上角「···」，选择「浏览器打开」",
        ("tim", "ios"): "点击右上角「···」，选择「在 Safari 中打开」",
        ("tim", "*"): "点击右上角「···」，选择「浏览器打开」",
        ("weibo", "*"): "点击右上角「···」，选择「用浏览器打开」",
        ("douyin", "*"): "点击右上角「···」，选择「在浏览器中打开」",
        ("alipay", "*"): "点击右上角「···」，选择「在浏览器中打开」",
        ("dingtalk", "*"): "点击右上角「···」，选择「在浏览器中打开」",
        ("facebook", "*"): "点击右上角「···」，选择「在外部浏览器中打开」",
        ("instagram", "*"): "点击右上角「···」，选择「在外部浏览器中打开」",
        ("line", "*"): "点击右上角「⋮」，选择「用其他应用程序打开」",
        ("*", "ios"): "点击右上角菜单，选择「在 Safari 中打开」",
        ("*", "*"): "点击右上角菜单，选择「在浏览器中打开」",
    },
    "en": {
        ("wechat", "ios"): "Tap ··· at the top right, then choose Open in Safari",
        ("wechat", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("wecom", "ios"): "Tap ··· at the top right, then choose Open in Safari",
        ("wecom", "*"): "Tap ··· at the top right, then choose Open in Default Browser",
        ("qq", "ios"): "Tap ··· at the top right, then choose Open in Safari",
        ("qq", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("tim", "ios"): "Tap ··· at the top right, then choose Open in Safari",
        ("tim", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("weibo", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("douyin", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("alipay", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("dingtalk", "*"): "Tap ··· at the top right, then choose Open in Browser",
        ("facebook", "*"): "Tap ··· at the top right, then choose Open in external browser",
        ("instagram", "*"): "Tap ··· at the top right, then choose Open in external browser",
        ("line", "*"): "Tap ⋮ at the top right, then choose Open in other app",
        ("*", "ios"): "Open the menu at the top right and choose Open in Safari",
        ("*", "*"): "Open the menu at the top right and choose Open in browser",
    },
}


def instruction(lang: str, app: str | None, os_name: str) -> str:
    """The words that tell a visitor in ``app`` on ``os_name`` how to reach the browser."""
    table = INSTRUCTIONS.get(lang, INSTRUCTIONS[DEFAULT_LANGUAGE])
    os_key = "ios" if os_name in ("ios", "ipados") else os_name
    for key in ((app or "*", os_key), (app or "*", "*"), ("*", os_key), ("*", "*")):
        if key in table:
            return table[key]
    return table[("*", "*")]


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


def plural_category(lang: str, count: int) -> str:
    """The CLDR plural category of ``count`` in ``lang``: Chinese has one form (``other``),
    English says ``one`` for exactly 1 and ``other`` for the rest."""
    if lang.lower().startswith("zh"):
        return "other"
    return "one" if count == 1 else "other"


def count_phrase(count: int, one: str, other: str, *, lang: str = "en") -> str:
    """``"1 bot"``, ``"2 bots"``: the count and its noun in the form ``lang`` needs."""
    return f"{count} {one if plural_category(lang, count) == 'one' else other}"


def language_hint(user_agent: str | None) -> str | None:
    """The app's own language from its user agent (WeChat ``Language/zh_CN``, Alipay
    ``Language/zh-Hans``, DingTalk ``language/zh-Hans-CN``), or None."""
    found = _UA_LANGUAGE.search((user_agent or "")[: _MAX_HEADER * 2])
    return found.group(1) if found else None


def _supported(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag == "zh" or tag.startswith("zh-"):
        return "zh-CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


@lru_cache(maxsize=1024)
def _first_supported(header: str) -> str | None:
    """The first supported language of an Accept-Language header, parsed once per value
    (browsers send a handful of distinct ones)."""
    for _, _, tag in _parse(header):
        found = _supported(tag)
        if found is not None:
            return found
    return None


def pick_language(
    accept_language: str | None, override: str | None = None, *, ua_hint: str | None = None
) -> str:
    """``zh-CN`` or ``en``: the override if supported, else the visitor's first match in
    Accept-Language, else the app's hint from its user agent (:func:`language_hint`:
    in-app browsers often send no Accept-Language), else the default."""
    if override in LANGUAGES:
        return override
    found = _first_supported(accept_language[:_MAX_HEADER]) if accept_language else None
    if found is not None:
        return found
    if ua_hint:
        return _supported(ua_hint) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE
