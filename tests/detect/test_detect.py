"""Behaviour of detect(): headers, order of signatures, cache, vocabulary, never raising."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.detect import (
    BLOCKING_APPS,
    MAX_UA_LENGTH,
    PLATFORM_IDS,
    Client,
    Detector,
    available_resolvers,
    detect,
    display_name,
    normalize_platforms,
)
from suolink.errors import InvalidOption, SuolinkError

WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 7.1.1; MI 6 Build/NMF26X; wv) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Version/4.0 Chrome/57.0.2987.132 MQQBrowser/6.2 TBS/043807 Mobile Safari/537.36 "
    "MicroMessenger/6.6.1.1220(0x26060135) NetType/4G Language/zh_CN miniProgram"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
ANDROID_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.0.0 Mobile Safari/537.36"
)


def test_wechat_mini_program() -> None:
    c = detect(WECHAT_ANDROID)
    assert (c.app, c.os, c.device, c.in_app, c.mini_program) == (
        "wechat", "android", "mobile", True, True,
    )  # fmt: skip
    assert c.app_version == "6.6.1.1220"
    assert {"wechat", "in_app", "mobile", "android", "blocking_apps", "china_apps"} <= c.platforms
    assert "browser" not in c.platforms
    assert c.app_name("zh-CN") == "微信"
    assert c.app_name("en") == "WeChat"


def test_x_requested_with_names_the_app() -> None:
    c = detect(ANDROID_WEBVIEW, {"X-Requested-With": "com.tencent.mm"})
    assert c.app == "wechat"
    assert c.in_app
    plain = detect(ANDROID_WEBVIEW)
    assert plain.app is None
    assert plain.in_app
    assert "webview" in plain.platforms
    # XMLHttpRequest is a JS library's header, not a package name
    assert detect(ANDROID_WEBVIEW, {"x-requested-with": "XMLHttpRequest"}).app is None


def test_header_names_in_any_form() -> None:
    for name in ("X-Requested-With", "x-requested-with", "HTTP_X_REQUESTED_WITH"):
        assert detect(ANDROID_WEBVIEW, [(name, "com.ss.android.ugc.aweme")]).app == "douyin"


def test_client_hints() -> None:
    c = detect(ANDROID_CHROME, {"Sec-CH-UA-Model": '"Pixel 8"', "Sec-CH-UA-Mobile": "?1"})
    assert c.model == "Pixel 8"
    assert c.device == "mobile"
    win = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    assert detect(win).os_version == "10"
    eleven = detect(
        win, {"Sec-CH-UA-Platform": '"Windows"', "Sec-CH-UA-Platform-Version": '"15.0.0"'}
    )
    assert eleven.os_version == "11"
    # a desktop-mode request from a phone: the hint tells the truth
    linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
    assert detect(linux, {"Sec-CH-UA-Platform": '"Android"', "Sec-CH-UA-Mobile": "?1"}).os == (
        "android"
    )


@pytest.mark.parametrize(
    ("ua", "app"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 10_2 like Mac OS X) AppleWebKit/602.3.12 (KHTML, "
         "like Gecko) Mobile/14C92 wxwork/2.4.2 MicroMessenger/6.3.22 Language/zh", "wecom"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Mobile/14G60 QQ/103.3 TIM/3.3.5.545 V1_IPH_SQ_8.4.8_335_TIM_D", "tim"),
        ("Mozilla/5.0 (Linux; U; Android 4.4.2; zh-cn; MX4 Build/KOT49H) AppleWebKit/537.36 "
         "(KHTML, like Gecko)Version/4.0 MQQBrowser/6.1 Mobile Safari/537.36", "qqbrowser"),
        ("Mozilla/5.0 (Linux; Android 9; X; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
         "Chrome/66.0.3359.126 MQQBrowser/6.2 TBS/039980 Mobile Safari/537.36", None),
        ("Mozilla/5.0 (Linux; Android 12; X; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0"
         " Chrome/75.0 Mobile Safari/537.36 BytedanceWebview/d8a21c6 ByteLocale/zh-CN Region/CN",
         "douyin"),
        ("Mozilla/5.0 (Linux; Android 12; X; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0"
         " Chrome/75.0 Mobile Safari/537.36 BytedanceWebview/d8a21c6 ByteLocale/en Region/US",
         "tiktok"),
    ],
)  # fmt: skip
def test_signature_order(ua: str, app: str | None) -> None:
    assert detect(ua).app == app


@pytest.mark.parametrize(
    ("ua", "name", "preview"),
    [
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
         "facebookexternalhit", True),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko)"
         " Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
         "iMessage", True),
        ("WhatsApp/2.23.20.0 A", "WhatsApp", True),
        ("TelegramBot (like TwitterBot)", "TelegramBot", True),
        ("DingTalkBot-LinkService/1.0", "DingTalkBot-LinkService", True),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
         "Googlebot", False),
        ("curl/8.5.0", "curl", False),
    ],
)  # fmt: skip
def test_bots_and_previews(ua: str, name: str | None, preview: bool) -> None:
    c = detect(ua)
    assert c.is_bot
    assert c.device == "bot"
    assert c.is_preview is preview
    assert c.app is None
    assert not c.in_app
    assert ("preview" if preview else "crawler") in c.platforms
    assert c.bot_name == name


def test_cubot_phone_is_not_a_bot() -> None:
    ua = (
        "Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/90.0.4430.210 Mobile Safari/537.36"
    )
    assert not detect(ua).is_bot


def test_ipad_and_harmony_platforms() -> None:
    ipad = detect(
        "Mozilla/5.0 (iPad; CPU OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.3 Mobile/15E148 Safari/604.1"
    )
    assert ipad.os == "ipados"
    assert ipad.device == "tablet"
    assert {"ios", "apple"} <= ipad.platforms
    harmony = detect(
        "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.6.0.352) AppleWebKit/537.36"
        " (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/13.0.1.302 Mobile Safari/537.36"
    )
    assert harmony.os == "harmonyos"
    assert "android" in harmony.platforms


def test_empty_user_agent_is_a_bot() -> None:
    """Finding: an empty User-Agent was taken for a person (README: it is a bot)."""
    for value in (None, "", "   ", "\t\n"):
        c = detect(value)
        assert c.is_bot
        assert c.bot_name == "empty"
        assert c.device == "bot"
        assert c.app is None
        assert not c.in_app
        assert c.platforms == frozenset({"other", "bot", "crawler"})
    # hints without a user agent change nothing: browsers always send one
    hinted = detect("", {"Sec-CH-UA-Platform": '"Android"', "Sec-CH-UA-Mobile": "?1"})
    assert hinted.is_bot
    assert hinted.bot_name == "empty"


def test_cache_returns_the_same_object_and_keys_on_headers() -> None:
    d = Detector(cache_size=8)
    first = d.detect(ANDROID_WEBVIEW)
    assert d.detect(ANDROID_WEBVIEW) is first
    assert d.detect(ANDROID_WEBVIEW, {"X-Requested-With": "com.tencent.mm"}).app == "wechat"
    assert d.detect(ANDROID_WEBVIEW) is first
    for i in range(20):  # bounded: old entries are evicted, results stay right
        d.detect(f"{ANDROID_CHROME} x{i}")
    assert d.detect(ANDROID_WEBVIEW) == first


def test_long_user_agent_is_capped() -> None:
    ua = WECHAT_ANDROID + " " + "A" * 100_000
    c = detect(ua)
    assert c.app == "wechat"
    tail = "A" * (MAX_UA_LENGTH + 10) + " MicroMessenger/8.0"
    assert detect(tail).app is None  # beyond the cap is not read


def test_resolvers_agree_on_apps() -> None:
    results = {
        name: Detector(resolver=name, cache_size=0).detect(WECHAT_ANDROID)  # type: ignore[arg-type]
        for name in available_resolvers()
    }
    assert {(c.app, c.os, c.device) for c in results.values()} == {("wechat", "android", "mobile")}


def test_unknown_resolver_is_a_configuration_error() -> None:
    with pytest.raises(SuolinkError):
        Detector(resolver="fast")  # type: ignore[arg-type]


def test_normalize_platforms() -> None:
    assert normalize_platforms(["WeChat", " weixin ", "lark", "in-app"]) == {
        "wechat", "feishu", "in_app",
    }  # fmt: skip
    assert normalize_platforms("ios, android") == {"ios", "android"}
    assert normalize_platforms(BLOCKING_APPS) >= BLOCKING_APPS
    with pytest.raises(InvalidOption) as err:
        normalize_platforms(["wechat", "myspace"])
    assert err.value.option == "platforms"
    assert "myspace" in err.value.reason
    for bad in ([1], None, ["x" * 100], ["a"] * 65):
        with pytest.raises(InvalidOption):
            normalize_platforms(bad)  # type: ignore[arg-type]


def test_vocabulary_has_names() -> None:
    for pid in PLATFORM_IDS:
        assert display_name(pid, "en")
        assert display_name(pid, "zh-CN")
    assert display_name("nope") == "nope"


_header_names = st.sampled_from(
    ["X-Requested-With", "Sec-CH-UA-Platform", "sec-ch-ua-mobile", "Sec-CH-UA-Model",
     "HTTP_X_REQUESTED_WITH", "sec-ch-ua-platform-version", "Cookie"]
) | st.text(max_size=20)  # fmt: skip
_headers = st.one_of(
    st.none(),
    st.dictionaries(_header_names, st.text(max_size=200), max_size=6),
    st.lists(st.tuples(_header_names, st.text(max_size=60)), max_size=6),
    st.lists(st.one_of(st.integers(), st.none(), st.tuples(st.integers())), max_size=3),
)
_ua = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=string.printable, max_size=400),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(
            [WECHAT_ANDROID, ANDROID_CHROME, "facebookexternalhit/1.1 ", "Mozilla/5.0 ("]
        ),
        st.text(max_size=100),
    ),
)


@settings(max_examples=300, deadline=None)
@given(ua=_ua, headers=_headers)
def test_detect_never_raises(ua: str, headers: object) -> None:
    c = detect(ua, headers)  # type: ignore[arg-type]
    assert isinstance(c, Client)
    assert c.platforms <= PLATFORM_IDS
    assert c.os in PLATFORM_IDS
    assert c.device in PLATFORM_IDS
    assert c.in_app is False or c.is_bot is False


@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.integers(), st.binary(), st.lists(st.text()), st.floats()))
def test_detect_accepts_any_object(value: object) -> None:
    assert isinstance(detect(value), Client)  # type: ignore[arg-type]


def test_hostile_input_is_linear() -> None:
    # patterns that make naive regexes backtrack; this must finish (no timing assert)
    for ua in ("bot" * 5000, "a" * 50_000 + "!", "Mozilla/5.0 (" * 4000, "\ud800" * 100):
        assert isinstance(detect(ua), Client)


def test_client_hints_beside_an_ios_agent_do_not_move_it() -> None:
    """Headless Chromium with an iPhone UA still sends its own Linux hints."""
    wechat_ios = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI"
    )
    client = detect(wechat_ios, {"Sec-CH-UA-Platform": '"Linux"', "Sec-CH-UA-Mobile": "?0"})
    assert client.os == "ios"
    assert client.app == "wechat"
    assert client.device == "mobile"
