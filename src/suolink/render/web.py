"""The web page at ``/`` and the stats page: their words (zh-CN, en), choices and rendering.

Kept apart from the visitor pages' words so the web UI can grow without touching them;
everything is rendered through the same autoescaping Jinja2 environment.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from ..detect.platforms import BLOCKING_APPS, display_name
from ..models import Link
from ..stats import LinkStats
from . import render_page
from .chart import visits_chart
from .i18n import plural_category

__all__ = [
    "ALLOW_CHOICES",
    "ANTI_BLOCK_CHOICES",
    "WEB_MESSAGES",
    "render_index",
    "render_stats",
    "render_stats_login",
]

#: Apps offered as 防红 (anti-block) checkboxes, in display order; the preset is ticked.
ANTI_BLOCK_CHOICES: Final = (
    "wechat",
    "wecom",
    "qq",
    "tim",
    "weibo",
    "douyin",
    "alipay",
    "dingtalk",
    "feishu",
    "xiaohongshu",
    "kuaishou",
    "toutiao",
    "baidu",
    "taobao",
    "facebook",
    "instagram",
    "line",
    "telegram",
)
#: Platforms offered for "who may open the link"; none ticked means everyone.
ALLOW_CHOICES: Final = (
    "mobile",
    "desktop",
    "tablet",
    "wechat",
    "qq",
    "ios",
    "android",
    "harmonyos",
    "windows",
    "macos",
    "in_app",
    "browser",
)

WEB_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {
        "title": "生成短链接",
        "tagline": "生成在微信、QQ 等应用内也能打开的短链接，附带二维码和访问统计。",
        "url": "长链接",
        "alias": "自定义短码（可选）",
        "link_title": "标题（可选）",
        "domain": "短域名",
        "domain_any": "默认",
        "expires": "过期时间（可选）",
        "max_visits": "最多访问次数（可选）",
        "password": "访问密码（可选）",
        "token": "API 令牌",
        "more": "更多设置",
        "scan": "扫描二维码",
        "scan_stop": "停止扫描",
        "scan_hint": "将二维码对准摄像头",
        "scan_failed": "无法打开摄像头",
        "upload": "上传二维码",
        "upload_none": "图片中没有找到二维码",
        "anti_block": "选择防红平台类型",
        "anti_block_hint": "在这些应用内打开时，显示“请在浏览器中打开”的引导页。",
        "allow": "选择允许访问的平台类型",
        "allow_all": "全部平台",
        "allow_hint": "不勾选具体平台即允许全部。",
        "submit": "生成短链接",
        "result": "短链接已生成",
        "copy": "复制",
        "copied": "已复制",
        "failed": "请求失败",
        "qr_alt": "短链接的二维码",
        "download_png": "下载 PNG",
        "download_svg": "下载 SVG",
        "stats_link": "查看访问统计",
        "stats.title": "访问统计",
        "stats.token_text": "请输入 API 令牌以查看统计。",
        "stats.open": "查看",
        "stats.wrong": "令牌不正确。",
        "stats.target": "目标链接",
        "stats.total": "总访问",
        "stats.humans": "真人访问",
        "stats.bots": "机器人",
        "stats.unique": "独立访客",
        "stats.redirects": "已跳转",
        "stats.chart": "每日访问量",
        "stats.by_app": "按应用",
        "stats.by_os": "按系统",
        "stats.by_device": "按设备",
        "stats.by_browser": "按浏览器",
        "stats.by_outcome": "按结果",
        "stats.by_bot": "机器人（单独统计）",
        "stats.by_country": "按国家/地区",
        "stats.by_arm": "按分流",
        "stats.by_domain": "按域名",
        "stats.top": "访问最多的访客",
        "stats.funnel": "转化漏斗",
        "stats.stage": "阶段",
        "stats.rate": "转化率",
        "stats.value": "金额",
        "stats.clicks": "点击",
        "stats.lead": "线索",
        "stats.sale": "成交",
        "stats.visitor": "访客（匿名编号）",
        "stats.visits": "次数",
        "stats.none": "暂无访问。",
        "stats.back": "返回首页",
    },
    "en": {
        "title": "Make a short link",
        "tagline": "Short links that still open inside WeChat, QQ and other apps, "
        "with QR codes and visit statistics.",
        "url": "Long URL",
        "alias": "Custom code (optional)",
        "link_title": "Title (optional)",
        "domain": "Short domain",
        "domain_any": "Default",
        "expires": "Expires at (optional)",
        "max_visits": "Maximum visits (optional)",
        "password": "Password (optional)",
        "token": "API token",
        "more": "More settings",
        "scan": "Scan a QR code",
        "scan_stop": "Stop scanning",
        "scan_hint": "Point the camera at a QR code",
        "scan_failed": "The camera could not be opened",
        "upload": "Upload a QR code",
        "upload_none": "No QR code was found in the picture",
        "anti_block": "Platforms that get the anti-block guide",
        "anti_block_hint": "Visitors inside these apps see an “open in your browser” page.",
        "allow": "Platforms allowed to open the link",
        "allow_all": "All platforms",
        "allow_hint": "Tick no platform to allow everyone.",
        "submit": "Shorten",
        "result": "Your short link",
        "copy": "Copy",
        "copied": "Copied",
        "failed": "The request failed",
        "qr_alt": "QR code of the short link",
        "download_png": "Download PNG",
        "download_svg": "Download SVG",
        "stats_link": "View statistics",
        "stats.title": "Statistics",
        "stats.token_text": "Enter the API token to see the statistics.",
        "stats.open": "Show",
        "stats.wrong": "That token is not right.",
        "stats.target": "Target",
        "stats.total": "Visits",
        "stats.total.one": "Visit",
        "stats.humans": "People",
        "stats.humans.one": "Person",
        "stats.bots": "Bots",
        "stats.bots.one": "Bot",
        "stats.unique": "Unique visitors",
        "stats.unique.one": "Unique visitor",
        "stats.redirects": "Redirected",
        "stats.chart": "Visits per day",
        "stats.by_app": "By app",
        "stats.by_os": "By operating system",
        "stats.by_device": "By device",
        "stats.by_browser": "By browser",
        "stats.by_outcome": "By outcome",
        "stats.by_bot": "Bots (counted apart)",
        "stats.by_country": "By country",
        "stats.by_arm": "By split arm",
        "stats.by_domain": "By short domain",
        "stats.top": "Top visitors",
        "stats.funnel": "Conversion funnel",
        "stats.stage": "Stage",
        "stats.rate": "Per click",
        "stats.value": "Value",
        "stats.clicks": "Clicks",
        "stats.lead": "Leads",
        "stats.sale": "Sales",
        "stats.visitor": "Visitor (anonymous id)",
        "stats.visits": "Visits",
        "stats.none": "No visits yet.",
        "stats.back": "Back to the home page",
    },
}


def _words(lang: str) -> Mapping[str, str]:
    return WEB_MESSAGES.get(lang, WEB_MESSAGES["en"])


def counted(lang: str, key: str, count: int) -> str:
    """The label for ``count`` things: ``key.one`` / ``key.other`` if the language has
    that form (:func:`~suolink.render.i18n.plural_category`), else ``key``."""
    words = _words(lang)
    return words.get(f"{key}.{plural_category(lang, count)}", words[key])


def _choices(names: tuple[str, ...], lang: str, ticked: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {"id": name, "label": display_name(name, lang), "checked": name in ticked} for name in names
    ]


def render_index(
    *,
    lang: str,
    anonymous: bool,
    nonce: str,
    link_base: str | None = None,
    template_dirs: tuple[str, ...] = (),
    domains: tuple[str, ...] = (),
) -> str:
    """The home page: shorten, scan, upload, anti-block and access choices.

    ``link_base`` is the path short links (and their QR images) live under on this host;
    None means beside the page. ``domains``: the short domains a new link may be put on
    (only healthy ones are offered; none: no choice shown).
    """
    words = _words(lang)
    preset = sorted(BLOCKING_APPS)
    script_words = {
        k: words[k] for k in ("copied", "failed", "scan_stop", "scan", "scan_failed", "upload_none")
    }
    return render_page(
        "index",
        lang=lang,
        template_dirs=template_dirs,
        w=words.__getitem__,
        anonymous=anonymous,
        nonce=nonce,
        anti_block=_choices(ANTI_BLOCK_CHOICES, lang, BLOCKING_APPS),
        allow=_choices(ALLOW_CHOICES, lang, frozenset()),
        domains=domains,
        script_config={"preset": preset, "words": script_words, "linkBase": link_base},
    )


def _rows(counts: Mapping[str, int], lang: str) -> list[tuple[str, int, float]]:
    top = max(counts.values(), default=0) or 1
    return [(display_name(k, lang), v, 100.0 * v / top) for k, v in counts.items()]


def _funnel_rows(
    stats: LinkStats, words: Mapping[str, str]
) -> list[tuple[str, int, float, str, str]]:
    """``(stage, count, bar %, rate, values)`` per funnel stage; empty without conversions
    kept (a store without them) or with nothing yet to show."""
    funnel = stats.funnel
    if funnel is None or not (funnel.clicks or funnel.conversions):
        return []
    top = max([funnel.clicks, *funnel.conversions.values()]) or 1
    rows = []
    for name, count, values in funnel.stages():
        # a host's own kind is shown as it is (escaped by the template like all text)
        label = words[f"stats.{name}"] if name in ("clicks", "lead", "sale") else name
        rate = funnel.rate(name) if name != "clicks" else None
        shown = "" if rate is None else f"{rate:.1%}"
        money = " · ".join(f"{currency} {amount:,}" for currency, amount in values.items())
        rows.append((label, count, 100.0 * count / top, shown, money))
    return rows


def render_stats_login(
    *, lang: str, code: str, wrong: bool, template_dirs: tuple[str, ...] = ()
) -> str:
    """The token form shown before a link's stats."""
    return render_page(
        "stats",
        lang=lang,
        template_dirs=template_dirs,
        w=_words(lang).__getitem__,
        code=code,
        stats=None,
        wrong=wrong,
    )


def render_stats(
    *,
    lang: str,
    link: Link,
    short_url: str,
    stats: LinkStats,
    template_dirs: tuple[str, ...] = (),
) -> str:
    """A link's stats page: totals, an SVG chart by day, tables by platform, bots apart."""
    words = _words(lang)
    tables = [
        (words["stats.by_app"], _rows(stats.by_app, lang)),
        (words["stats.by_os"], _rows(stats.by_os, lang)),
        (words["stats.by_device"], _rows(stats.by_device, lang)),
        (words["stats.by_browser"], _rows(stats.by_browser, lang)),
        (words["stats.by_outcome"], _rows(stats.by_outcome, lang)),
        (words["stats.by_bot"], _rows(stats.by_bot, lang)),
    ]
    # Shown only when there is something: most links have no GeoIP nor split.
    tables += [
        (words[key], _rows(counts, lang))
        for key, counts in (
            ("stats.by_country", stats.by_country),
            ("stats.by_arm", stats.by_arm),
            ("stats.by_domain", stats.by_domain),
        )
        if counts
    ]
    return render_page(
        "stats",
        lang=lang,
        template_dirs=template_dirs,
        w=words.__getitem__,
        code=link.code,
        link=link,
        short_url=short_url,
        stats=stats,
        n=functools.partial(counted, lang),
        wrong=False,
        chart=visits_chart(stats.by_day, title=words["stats.chart"]),
        tables=[(name, rows) for name, rows in tables if rows],
        funnel=_funnel_rows(stats, words),
    )
