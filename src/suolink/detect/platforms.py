"""The platform vocabulary: every id and group that access rules and anti-block settings use.

This module is the one place that names platforms. A :class:`~suolink.detect.Client`
lists the ids it belongs to in ``platforms``; a link's ``allow``, ``deny``,
``anti_block`` and ``targets`` hold names from here, checked by
:func:`normalize_platforms`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from ..errors import InvalidOption

__all__ = [
    "ALIASES",
    "APP_IDS",
    "BLOCKING_APPS",
    "BROWSER_APPS",
    "CHINA_APPS",
    "DEVICE_IDS",
    "GROUP_IDS",
    "OS_IDS",
    "PLATFORM_IDS",
    "display_name",
    "normalize_platforms",
]

#: App id -> (zh-CN name, en name). Order is the documentation order, not match order.
_APPS: Final[dict[str, tuple[str, str]]] = {
    "wechat": ("微信", "WeChat"),
    "wecom": ("企业微信", "WeCom"),
    "qq": ("QQ", "QQ"),
    "tim": ("TIM", "TIM"),
    "qqbrowser": ("QQ浏览器", "QQ Browser"),
    "weibo": ("微博", "Weibo"),
    "alipay": ("支付宝", "Alipay"),
    "dingtalk": ("钉钉", "DingTalk"),
    "feishu": ("飞书", "Feishu/Lark"),
    "douyin": ("抖音", "Douyin"),
    "tiktok": ("TikTok", "TikTok"),
    "toutiao": ("今日头条", "Toutiao"),
    "kuaishou": ("快手", "Kuaishou"),
    "xiaohongshu": ("小红书", "Xiaohongshu (RED)"),
    "baidu": ("百度", "Baidu App"),
    "uc": ("UC浏览器", "UC Browser"),
    "quark": ("夸克", "Quark"),
    "taobao": ("淘宝", "Taobao"),
    "jd": ("京东", "JD.com"),
    "pinduoduo": ("拼多多", "Pinduoduo"),
    "meituan": ("美团", "Meituan"),
    "zhihu": ("知乎", "Zhihu"),
    "bilibili": ("哔哩哔哩", "Bilibili"),
    "facebook": ("Facebook", "Facebook"),
    "messenger": ("Messenger", "Messenger"),
    "instagram": ("Instagram", "Instagram"),
    "threads": ("Threads", "Threads"),
    "line": ("LINE", "LINE"),
    "twitter": ("X（推特）", "X (Twitter)"),
    "snapchat": ("Snapchat", "Snapchat"),
    "linkedin": ("领英", "LinkedIn"),
    "telegram": ("Telegram", "Telegram"),
    "discord": ("Discord", "Discord"),
    "kakaotalk": ("KakaoTalk", "KakaoTalk"),
    "naver": ("Naver", "Naver"),
    "pinterest": ("Pinterest", "Pinterest"),
    "reddit": ("Reddit", "Reddit"),
    "whatsapp": ("WhatsApp", "WhatsApp"),
    "google": ("Google 应用", "Google app"),
}

_OSES: Final[dict[str, tuple[str, str]]] = {
    "ios": ("iOS", "iOS"),
    "ipados": ("iPadOS", "iPadOS"),
    "android": ("安卓", "Android"),
    "harmonyos": ("鸿蒙", "HarmonyOS"),
    "windows": ("Windows", "Windows"),
    "macos": ("macOS", "macOS"),
    "linux": ("Linux", "Linux"),
    "chromeos": ("ChromeOS", "ChromeOS"),
    "other": ("其他系统", "other OS"),
}

_DEVICES: Final[dict[str, tuple[str, str]]] = {
    "mobile": ("手机", "phone"),
    "tablet": ("平板", "tablet"),
    "desktop": ("电脑", "desktop"),
    "tv": ("电视", "TV"),
    "bot": ("机器人", "bot"),
    "other": ("其他设备", "other device"),
}

_GROUPS: Final[dict[str, tuple[str, str]]] = {
    "in_app": ("应用内浏览器", "in-app browser"),
    "browser": ("独立浏览器", "standalone browser"),
    "webview": ("未知应用内网页", "unidentified WebView"),
    "miniprogram": ("小程序", "mini program"),
    "blocking_apps": ("拦截外链的应用", "apps that block outside links"),
    "china_apps": ("国内应用", "apps from mainland China"),
    "preview": ("链接预览", "link preview fetcher"),
    "crawler": ("爬虫", "crawler"),
    "apple": ("苹果设备", "Apple devices"),
    "human": ("真人访客", "human visitor"),
}

APP_IDS: Final = frozenset(_APPS)
OS_IDS: Final = frozenset(_OSES)
DEVICE_IDS: Final = frozenset(_DEVICES)
GROUP_IDS: Final = frozenset(_GROUPS)
#: Every name a rule may use: apps, operating systems, device classes and groups.
PLATFORM_IDS: Final = APP_IDS | OS_IDS | DEVICE_IDS | GROUP_IDS

#: Apps that are standalone browsers: named so rules can target them, but not "in-app".
BROWSER_APPS: Final = frozenset({"qqbrowser", "uc", "quark"})

#: Apps made in mainland China (the ``china_apps`` group).
CHINA_APPS: Final = frozenset(
    {
        "wechat", "wecom", "qq", "tim", "qqbrowser", "weibo", "alipay", "dingtalk",
        "feishu", "douyin", "toutiao", "kuaishou", "xiaohongshu", "baidu", "uc", "quark",
        "taobao", "jd", "pinduoduo", "meituan", "zhihu", "bilibili",
    }
)  # fmt: skip

#: Apps known to block, or warn before, opening outside links in their own browser.
#: These are the default anti-block preset; docs/detect.md says why for each.
BLOCKING_APPS: Final = frozenset({"wechat", "wecom", "qq", "tim", "weibo", "douyin", "alipay"})

#: Other spellings accepted from users, mapped to the canonical id.
ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "weixin": "wechat",
        "wx": "wechat",
        "wxwork": "wecom",
        "workwechat": "wecom",
        "lark": "feishu",
        "x": "twitter",
        "red": "xiaohongshu",
        "xhs": "xiaohongshu",
        "fb": "facebook",
        "ig": "instagram",
        "kakao": "kakaotalk",
        "gsa": "google",
        "google_app": "google",
        "googleapp": "google",
        "mac": "macos",
        "osx": "macos",
        "iphone": "ios",
        "ipad": "ipados",
        "harmony": "harmonyos",
        "phone": "mobile",
        "pc": "desktop",
        "bots": "bot",
        "inapp": "in_app",
        "mini_program": "miniprogram",
    }
)

_NAMES: Final[dict[str, tuple[str, str]]] = {**_APPS, **_OSES, **_DEVICES, **_GROUPS}
_MAX_NAMES: Final = 64
_MAX_NAME_LENGTH: Final = 32


def display_name(platform_id: str, lang: str = "en") -> str:
    """A human name for a platform id in ``lang`` (``zh-CN`` or ``en``); the id if unknown."""
    names = _NAMES.get(ALIASES.get(platform_id, platform_id))
    if names is None:
        return platform_id
    return names[0] if lang.lower().startswith("zh") else names[1]


def normalize_platforms(names: Iterable[str] | str) -> frozenset[str]:
    """Canonical ids for user-supplied platform names; unknown names raise ``InvalidOption``.

    Accepts one comma-separated string or an iterable of strings; case and surrounding
    blanks are ignored, aliases (``weixin``, ``lark``, ``x``…) map to their canonical id.
    """
    if isinstance(names, str):
        items: list[object] = [part for part in names.split(",") if part.strip()]
    else:
        try:
            items = list(names)
        except TypeError:
            raise InvalidOption("platforms", "expected a list of platform names") from None
    if len(items) > _MAX_NAMES:
        raise InvalidOption("platforms", f"at most {_MAX_NAMES} platform names")
    out: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise InvalidOption("platforms", "platform names must be text")
        name = item.strip().lower().replace("-", "_")
        if len(name) > _MAX_NAME_LENGTH:
            raise InvalidOption("platforms", f"{item[:40]!r} is not a known platform")
        name = ALIASES.get(name, name)
        if name not in PLATFORM_IDS:
            raise InvalidOption(
                "platforms",
                f"{item[:40]!r} is not a known platform (see the platform vocabulary)",
            )
        out.add(name)
    return frozenset(out)
