"""The acceptance scenario of issue 15 on every backend that tracks people.

A campaign for 50 recipients. Each member opens their own link inside WeChat (the
guide page) and then in Safari through the guide's link (one person, by the hop token);
members forward their links to friends, who open them (reach); one friend opens two
members' links; some open twice. ``top_recipients`` must equal the table computed by
hand below, row for row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from suolink import Shortener
from suolink.backends import Storage
from suolink.backends.base import RecordsConversions
from suolink.identity import HOP_PARAM
from suolink.models import Decision, Visitor

from .conftest import claiming

WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
MEMBERS = 50


@dataclass
class Browser:
    """One browser on one phone: its user agent, address and cookie jar."""

    user_agent: str
    ip: str
    jar: dict[str, str] = field(default_factory=dict)

    def open(
        self, shortener: Shortener, code: str, query: tuple[tuple[str, str], ...] = ()
    ) -> Decision:
        cookie = "; ".join(f"{k}={v}" for k, v in self.jar.items()) or None
        visitor = Visitor(user_agent=self.user_agent, ip=self.ip, query=query, cookie=cookie)
        answer = shortener.resolve(code, visitor)
        for name, value in answer.headers:
            if name == "Set-Cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                self.jar[key] = val
        return answer

    @property
    def visitor_id(self) -> str:
        return self.jar["sl_vid"].split(".", 1)[0]


def _location(answer: Decision) -> str:
    return dict(answer.headers)["Location"]


def _click_id(location: str) -> str:
    return parse_qs(urlsplit(location).query)["sl_click"][0]


def _hop_query(guide: Decision) -> tuple[tuple[str, str], ...]:
    token = guide.body.decode().split(f"{HOP_PARAM}=", 1)[1].split('"', 1)[0]
    return ((HOP_PARAM, token),)


def expected_table() -> list[tuple[str, int, int]]:
    """(recipient, clicks, reach) by hand, from the story in the module docstring."""
    rows = []
    for i in range(MEMBERS):
        friends = i % 5
        clicks = 1 + friends  # own Safari redirect (the WeChat view is no click) + friends
        if i % 3 == 0 and friends:
            clicks += 1  # the first friend opens twice: a click, not more reach
        reach = friends
        if i in (10, 20):
            clicks, reach = clicks + 1, reach + 1  # the shared friend
        if i == 7:
            clicks += 1  # member 7 opens their own link again, in Safari, by its cookie
        rows.append((f"m-{i:02d}", clicks, reach))
    return sorted(rows, key=lambda row: (-row[1], row[0]))


@claiming("tracks_people")
def test_fifty_recipients_wechat_then_safari_forwards_and_reach(
    storage_factory: Callable[[], Storage],
) -> None:
    store = storage_factory()
    shortener = Shortener(store, base_url="https://s.example", secret="scenario", track_people=True)
    links = shortener.shorten_for(
        "https://shop.example/spring",
        [f"m-{i:02d}" for i in range(MEMBERS)],
        campaign="spring",
        forward_click_id=True,
    )
    code = {link.recipient: link.code for link in links}
    own: dict[str, str] = {}
    clicks: dict[str, str] = {}  # the redirects' targets, with their click ids
    safaris: dict[int, Browser] = {}
    for i in range(MEMBERS):
        wechat = Browser(WECHAT, f"10.0.0.{i}")
        guide = wechat.open(shortener, code[f"m-{i:02d}"])
        assert guide.status == 200, guide.reason  # the guide page, inside WeChat
        safari = Browser(SAFARI, f"10.0.1.{i}")
        redirect = safari.open(shortener, code[f"m-{i:02d}"], _hop_query(guide))
        assert redirect.status == 302
        assert HOP_PARAM not in _location(redirect)
        clicks[f"own-{i}"] = _location(redirect)
        assert safari.visitor_id == wechat.visitor_id  # one person across the hop
        own[f"m-{i:02d}"] = wechat.visitor_id
        safaris[i] = safari
    shared = Browser(SAFARI, "172.16.0.1")
    for i in range(MEMBERS):
        for j in range(i % 5):
            friend = Browser(SAFARI, f"192.168.{i}.{j}")
            opened = friend.open(shortener, code[f"m-{i:02d}"])
            assert opened.status == 302
            clicks[f"friend-{i}-{j}"] = _location(opened)
            if i % 3 == 0 and j == 0:
                friend.open(shortener, code[f"m-{i:02d}"])
        if i in (10, 20):
            shared.open(shortener, code[f"m-{i:02d}"])
    safaris[7].open(shortener, code["m-07"])
    bot = Browser("Googlebot/2.1 (+http://www.google.com/bot.html)", "66.249.66.1")
    bot.open(shortener, code["m-00"])  # counts for nobody
    shortener.resolve(code["m-01"], Visitor(user_agent=SAFARI, ip="1.1.1.1"), record=False)

    rows = shortener.top_recipients("spring", limit=MEMBERS)
    assert [(r.id, r.clicks, r.reach) for r in rows] == expected_table()
    assert {r.id: r.visitor for r in rows} == own
    assert all(r.links == 1 for r in rows)
    totals = shortener.people_totals("spring")
    table = expected_table()
    assert totals.recipients == MEMBERS
    assert totals.clicks == sum(c for _, c, _ in table)
    assert totals.reach == sum(r for _, _, r in table)
    assert totals.average_reach == sum(r for _, _, r in table) / MEMBERS
    everyone = {r.id: r for r in shortener.top_visitors("spring", limit=MEMBERS * 3)}
    assert (everyone[own["m-07"]].clicks, everyone[own["m-07"]].links) == (2, 1)
    assert (everyone[shared.visitor_id].clicks, everyone[shared.visitor_id].links) == (2, 2)
    assert shortener.top_visitors("spring", limit=1)[0].clicks == 2
    # -- some convert: the funnel per recipient and for the campaign --------------------
    funnels = shortener.people_funnels("spring")
    if not isinstance(store, RecordsConversions):
        assert funnels is None
    else:
        for i in range(MEMBERS):
            if i % 10 == 0:
                shortener.record_conversion(_click_id(clicks[f"own-{i}"]), "sale", "10.00", "CNY")
            if i % 4 == 2 and i % 5 >= 2:
                shortener.record_conversion(_click_id(clicks[f"friend-{i}-1"]), "lead")
                shortener.record_conversion(_click_id(clicks[f"friend-{i}-1"]), "lead")  # again
        funnels = shortener.people_funnels("spring")
        assert funnels is not None
        total, each = funnels
        expected = expected_funnels()
        assert {who: (f.clicks, f.leads, f.sales) for who, f in each.items()} == expected
        assert (total.clicks, total.leads, total.sales) == (
            totals.clicks,
            sum(leads for _, leads, _ in expected.values()),
            5,
        )
        assert total.values == {"sale": {"CNY": Decimal("50.00")}}
    csv_lines = b"".join(shortener.people_csv("spring", min_clicks=6)).decode().splitlines()
    assert len(csv_lines) - 1 == sum(1 for _, c, _ in table if c >= 6)


def expected_funnels() -> dict[str, tuple[int, int, int]]:
    """(clicks, leads, sales) per recipient: every tenth member buys through their own
    click; the second friend of members with i % 4 == 2 and a second friend leaves a
    lead, reported twice (counted once)."""
    out = {}
    for who, clicks, _ in expected_table():
        i = int(who[2:])
        out[who] = (clicks, int(i % 4 == 2 and i % 5 >= 2), int(i % 10 == 0))
    return out


def test_expected_table_is_what_the_story_says() -> None:
    table = {who: (clicks, reach) for who, clicks, reach in expected_table()}
    assert table["m-00"] == (1, 0)
    assert table["m-03"] == (5, 3)  # 3 friends, the first twice
    assert table["m-07"] == (4, 2)  # 2 friends, and their own second visit
    assert table["m-10"] == (2, 1)  # no friend of their own, the shared one
    assert table["m-24"] == (6, 4)
    assert len(table) == MEMBERS
