"""The campaign page: a leaderboard of recipients with bars, reach and the 裂变系数.

Behind the API token like the stats page; every text (recipient ids, the campaign's
name) goes through the autoescaping environment, and the bars are plain CSS widths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ..backends.base import PeopleTotals, PersonRow
from ..conversions import FunnelReport
from ..languages import DEFAULT_LANGUAGE, LANGUAGES
from . import render_page

__all__ = ["CAMPAIGN_MESSAGES", "render_campaign", "render_campaign_login"]

CAMPAIGN_MESSAGES: Final[Mapping[str, Mapping[str, str]]] = {
    "zh-CN": {
        "title": "活动",
        "every": "全部活动",
        "recipients": "成员",
        "clicks": "点击",
        "reach": "带来新人",
        "average": "裂变系数",
        "links": "链接",
        "last": "最近点击",
        "none": "还没有成员链接。",
        "token_text": "输入 API 令牌查看活动数据。",
        "token": "令牌",
        "wrong": "令牌不对。",
        "open": "查看",
        "recipient": "成员",
        "leads": "线索",
        "sales": "成交",
    },
    "en": {
        "title": "Campaign",
        "every": "Every campaign",
        "recipients": "Recipients",
        "clicks": "Clicks",
        "reach": "Reach",
        "average": "Average reach",
        "links": "Links",
        "last": "Last click",
        "none": "No recipient links yet.",
        "token_text": "Enter the API token to see this campaign.",
        "token": "Token",
        "wrong": "That token is not right.",
        "open": "Open",
        "recipient": "Recipient",
        "leads": "Leads",
        "sales": "Sales",
    },
}
if set(CAMPAIGN_MESSAGES) != set(LANGUAGES):  # pragma: no cover
    raise RuntimeError("the campaign page needs words in every language of LANGUAGES")


def _words(lang: str) -> Mapping[str, str]:
    return CAMPAIGN_MESSAGES.get(lang, CAMPAIGN_MESSAGES[DEFAULT_LANGUAGE])


def render_campaign(
    *,
    lang: str,
    campaign: str | None,
    rows: Sequence[PersonRow],
    totals: PeopleTotals,
    funnels: FunnelReport | None = None,
    template_dirs: tuple[str, ...] = (),
) -> str:
    """The leaderboard: one row per recipient, a bar as wide as their share of the top;
    leads and sales too when the backend records conversions (``funnels``)."""
    words = _words(lang)
    top = max((row.clicks for row in rows), default=0) or 1
    board = [(row, 100.0 * row.clicks / top) for row in rows]
    return render_page(
        "campaign",
        lang=lang,
        template_dirs=template_dirs,
        w=words.__getitem__,
        name=campaign if campaign is not None else words["every"],
        board=board,
        totals=totals,
        average=f"{totals.average_reach:.2f}",
        funnel=None if funnels is None else funnels.total,
        each={} if funnels is None else funnels.groups,
        login=False,
    )


def render_campaign_login(
    *, lang: str, campaign: str, wrong: bool, template_dirs: tuple[str, ...] = ()
) -> str:
    """The token form shown before a campaign's page."""
    return render_page(
        "campaign",
        lang=lang,
        template_dirs=template_dirs,
        w=_words(lang).__getitem__,
        name=campaign,
        login=True,
        wrong=wrong,
    )
