"""policy.decide, table-driven: every combination of link settings for 29 real clients."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from suolink.detect import Client
from suolink.escapes import Escape
from suolink.models import AntiBlockMode, Link
from suolink.passwords import hash_password
from suolink.policy import BotAction, Verdict, browser_twin, decide
from tests.clients import ALL, PRESET_APPS, client

NOW = datetime(2030, 1, 1, tzinfo=UTC)
V = Verdict
TARGETS = (
    ("ios", "https://apps.apple.com/app/id1"),
    ("android", "https://play.google.com/store/apps/details?id=x"),
    ("desktop", "https://example.com/web"),
)


def link(**fields: object) -> Link:
    return Link(code="abc", url="https://example.com/", created_at=NOW, **fields)  # type: ignore[arg-type]


# -- the default link, client by client ------------------------------------------------

DEFAULT_EXPECTED = {
    **{f"{app}_{os}": V.GUIDE for app, os in PRESET_APPS},
    "safari_iphone": V.REDIRECT,
    "chrome_android": V.REDIRECT,
    "chrome_windows": V.REDIRECT,
    "safari_mac": V.REDIRECT,
    "firefox_linux": V.REDIRECT,
    "ipad_safari": V.REDIRECT,
    "facebook_android": V.REDIRECT,
    "instagram_ios": V.REDIRECT,
    "instagram_ios17": V.REDIRECT,
    "line_android": V.REDIRECT,
    "dingtalk_android": V.REDIRECT,
    "facebook_preview": V.PREVIEW,
    "twitter_preview": V.PREVIEW,
    "slack_preview": V.PREVIEW,
    "googlebot": V.REDIRECT,
    "bingbot": V.REDIRECT,
    "no_user_agent": V.REDIRECT,  # a bot: redirected, not counted
}


def test_table_covers_every_client() -> None:
    assert set(DEFAULT_EXPECTED) == set(ALL)
    assert len(ALL) >= 20


@pytest.mark.parametrize("name", sorted(ALL))
def test_default_link(name: str) -> None:
    ruling = decide(link(), client(name), now=NOW)
    assert ruling.verdict is DEFAULT_EXPECTED[name]
    if ruling.verdict is V.REDIRECT:
        assert ruling.location == "https://example.com/"
        assert ruling.count is not client(name).is_bot


# -- every combination, against the documented order -----------------------------------

ANTI_BLOCK = [None, frozenset(), frozenset({"wechat"}), frozenset({"in_app"})]
MODES = list(AntiBlockMode)
ALLOW = [
    None,
    frozenset({"wechat"}),
    frozenset({"mobile"}),
    frozenset({"desktop"}),
    frozenset({"ios", "android"}),
]
DENY = [frozenset(), frozenset({"bot"}), frozenset({"qq"})]
PASSWORD = [None, hash_password("pw")]
MAX_VISITS = [None, 5]
TARGET_SETS = [(), TARGETS]


def oracle(lk: Link, c: Client) -> tuple[Verdict, str | None, bool]:
    """The documented order, restated: (verdict, location, counted)."""
    if lk.allow is not None and not (c.platforms & lk.allow):
        return V.DENIED, None, False
    if c.platforms & lk.deny:
        return V.DENIED, None, False
    if c.is_preview:
        return V.PREVIEW, None, False
    guided = frozenset({"blocking_apps"}) if lk.anti_block is None else lk.anti_block
    # The guide leads to the system browser: only worth showing if that may open the link.
    twin = browser_twin(c).platforms
    twin_allowed = (lk.allow is None or twin & lk.allow) and not twin & lk.deny
    if (
        lk.anti_block_mode is not AntiBlockMode.OFF
        and not c.is_bot
        and c.platforms & guided
        and twin_allowed
    ):
        return V.GUIDE, None, False
    if lk.password_hash is not None:
        return V.PASSWORD_REQUIRED, None, False
    location = next((url for name, url in lk.targets if name in c.platforms), lk.url)
    if c.is_bot:
        return (V.BOT_DENIED, None, False) if lk.max_visits else (V.REDIRECT, location, False)
    return V.REDIRECT, location, True


def test_every_combination_for_every_client() -> None:
    clients = {name: client(name) for name in ALL}
    checked = 0
    for ab, mode, allow, deny, pw, mv, targets in itertools.product(
        ANTI_BLOCK, MODES, ALLOW, DENY, PASSWORD, MAX_VISITS, TARGET_SETS
    ):
        lk = link(
            anti_block=ab,
            anti_block_mode=mode,
            allow=allow,
            deny=deny,
            password_hash=pw,
            max_visits=mv,
            targets=targets,
        )
        for name, c in clients.items():
            ruling = decide(lk, c, now=NOW)
            assert (ruling.verdict, ruling.location, ruling.count) == oracle(lk, c), (name, lk)
            checked += 1
    assert checked == 1440 * len(clients)


# -- what comes before the rules -------------------------------------------------------


@pytest.mark.parametrize("name", ["wechat_ios", "facebook_preview", "chrome_windows", "googlebot"])
def test_missing_disabled_expired_and_exhausted_come_first(name: str) -> None:
    c = client(name)
    assert decide(None, c, now=NOW).verdict is V.NOT_FOUND
    assert decide(link(disabled=True), c, now=NOW).verdict is V.NOT_FOUND
    assert decide(link(expires_at=NOW), c, now=NOW).verdict is V.EXPIRED
    assert decide(link(expires_at=NOW + timedelta(seconds=1)), c, now=NOW).verdict is not V.EXPIRED
    assert decide(link(max_visits=3, visits=3), c, now=NOW).verdict is V.EXHAUSTED


def test_password_checked_after_the_guide() -> None:
    lk = link(password_hash=hash_password("right"))
    safari = client("safari_iphone")
    assert decide(lk, safari, now=NOW, password="wrong").verdict is V.PASSWORD_WRONG
    assert decide(lk, safari, now=NOW, password="right").verdict is V.REDIRECT
    assert decide(lk, client("wechat_ios"), now=NOW, password="right").verdict is V.GUIDE


def test_targets_pick_by_platform() -> None:
    lk = link(targets=TARGETS)
    assert decide(lk, client("safari_iphone"), now=NOW).location == TARGETS[0][1]
    assert decide(lk, client("chrome_android"), now=NOW).location == TARGETS[1][1]
    assert decide(lk, client("chrome_windows"), now=NOW).location == TARGETS[2][1]
    assert decide(lk, client("ipad_safari"), now=NOW).location == TARGETS[0][1]


def test_empty_user_agent_is_a_bot_and_cannot_use_up_max_visits() -> None:
    """Issue 12: no User-Agent used to count as a person and spend a limited link's visits."""
    nobody = client("no_user_agent")
    assert nobody.is_bot
    assert nobody.bot_name == "empty"
    limited = decide(link(max_visits=5), nobody, now=NOW)
    assert (limited.verdict, limited.count, limited.outcome) == (V.BOT_DENIED, False, "bot")
    free = decide(link(), nobody, now=NOW)
    assert (free.verdict, free.count, free.outcome) == (V.REDIRECT, False, "bot")
    denied = decide(link(), nobody, now=NOW, bot_action=BotAction.DENY)
    assert denied.verdict is V.BOT_DENIED


def test_bot_action_deny() -> None:
    assert (
        decide(link(), client("googlebot"), now=NOW, bot_action=BotAction.DENY).verdict
        is V.BOT_DENIED
    )
    assert (
        decide(link(), client("chrome_windows"), now=NOW, bot_action=BotAction.DENY).verdict
        is V.REDIRECT
    )


@pytest.mark.parametrize(
    ("name", "escape"),
    [
        ("line_android", Escape.LINE_EXTERNAL),
        ("facebook_android", Escape.ANDROID_INTENT),
        ("instagram_ios", None),  # iOS 16: x-safari-https needs iOS 17
        ("instagram_ios17", Escape.SAFARI_SCHEME),
        ("wechat_android", None),
        ("wechat_ios", None),
        ("dingtalk_android", None),
    ],
)
def test_auto_mode_escapes_only_where_a_documented_mechanism_exists(
    name: str, escape: Escape | None
) -> None:
    everywhere = frozenset({"in_app"})
    auto = decide(
        link(anti_block=everywhere, anti_block_mode=AntiBlockMode.AUTO), client(name), now=NOW
    )
    assert auto.verdict is V.GUIDE
    assert auto.escape is escape
    guide = decide(
        link(anti_block=everywhere, anti_block_mode=AntiBlockMode.GUIDE), client(name), now=NOW
    )
    assert guide.escape is None


def test_escape_urls() -> None:
    from suolink.escapes import escape_url

    short = "https://s.example/Ab3dE"
    assert escape_url(Escape.LINE_EXTERNAL, short) == short + "?openExternalBrowser=1"
    assert escape_url(Escape.SAFARI_SCHEME, short) == "x-safari-https://s.example/Ab3dE"
    assert escape_url(Escape.KAKAOTALK_EXTERNAL, short) == (
        "kakaotalk://web/openExternal?url=https%3A%2F%2Fs.example%2FAb3dE"
    )
    assert escape_url(Escape.ANDROID_INTENT, short) == (
        "intent://s.example/Ab3dE#Intent;scheme=https;action=android.intent.action.VIEW;"
        "category=android.intent.category.BROWSABLE;end"
    )
    assert escape_url(Escape.ANDROID_INTENT, "/Ab3dE") is None
    assert escape_url(None, short) is None


def test_every_escape_rule_names_its_source() -> None:
    from suolink.escapes import ESCAPES

    assert {rule.escape for rule in ESCAPES} == set(Escape)
    assert all(len(rule.source) > 30 for rule in ESCAPES)


def test_allow_wechat_only_with_wechat_guided_lets_wechat_in() -> None:
    """Regression: allow=["wechat"] with WeChat in the anti-block list opened for nobody.

    WeChat visitors were sent to their browser, which ``allow`` then refused.
    """
    lk = link(allow=frozenset({"wechat"}))
    assert decide(lk, client("wechat_ios"), now=NOW).verdict is V.REDIRECT
    assert decide(lk, client("wechat_android"), now=NOW).verdict is V.REDIRECT
    assert decide(lk, client("safari_iphone"), now=NOW).verdict is V.DENIED
    # Where the browser may open it too, the guide still shows.
    both = link(allow=frozenset({"wechat", "ios"}))
    assert decide(both, client("wechat_ios"), now=NOW).verdict is V.GUIDE


def test_browser_twin_keeps_the_device_and_drops_the_app() -> None:
    twin = browser_twin(client("wechat_ios"))
    assert twin.app is None
    assert not twin.in_app
    assert {"ios", "mobile", "browser"} <= twin.platforms
    assert not twin.platforms & {"wechat", "in_app", "blocking_apps", "china_apps"}
