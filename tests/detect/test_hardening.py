"""Issue 12, detection findings: each test is named after the finding it guards.

User agents are real (their sources are in ua_corpus.csv or cited here) unless a
comment says a string is built from a documented format.
"""

from __future__ import annotations

import pytest

from suolink.detect import Detector, available_resolvers, detect


@pytest.fixture(scope="module", params=available_resolvers())
def detector(request: pytest.FixtureRequest) -> Detector:
    return Detector(resolver=request.param, cache_size=0)


# -- crawler names were recorded as "mozilla" ----------------------------------------

CRAWLERS = [
    # (user agent, name); sources: crawler-user-agents, device-detector bots fixtures
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/W.X.Y.Z Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "Googlebot",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "bingbot",
    ),
    (
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Baiduspider",
    ),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Applebot",
    ),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "DuckDuckBot"),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "SemrushBot"),
    ("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", "MJ12bot"),
    (
        "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; Storebot-Google/1.0) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Mobile Safari/537.36",
        "Storebot-Google",
    ),
    ("Mozilla/5.0 (Java) outbrain", "outbrain"),
    ("feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)", "feedly"),
]


@pytest.mark.parametrize(("ua", "name"), CRAWLERS)
def test_crawler_names_are_not_recorded_as_mozilla(detector: Detector, ua: str, name: str) -> None:
    client = detector.detect(ua)
    assert client.is_bot
    assert client.bot_name == name


def test_a_bot_name_is_never_a_browser_token() -> None:
    from suolink.detect.bots import bot_name

    for ua in (
        "Mozilla/5.0 (compatible)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 (StatusCake)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0 "
        "Safari/537.36 DareBoost",
    ):
        assert bot_name(ua).lower() not in {"mozilla", "applewebkit", "chrome", "safari", "x86_64"}
    assert bot_name("Mozilla/5.0 (compatible)") == "bot"
    assert bot_name("Mozilla/5.0 (X11) Chrome/1 Safari/1 (StatusCake)") == "StatusCake"


# -- phones whose model names contain "bot" were called bots -------------------------

PHONES = [
    # device-detector fixtures tablet-2.yml, tablet-7.yml, tablet-9.yml, tablet-11.yml,
    # smartphone-28.yml, smartphone-33.yml, smartphone-34.yml
    "Mozilla/5.0 (Linux; Android 7.0; M bot 60 Build/NRD90M) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/58.0.3029.83 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; B BOT 550 Build/MRA58K; wv) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Version/4.0 Chrome/53.0.2785.124 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; IDbot553 Build/MRA58K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/59.0.3071.125 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; POWER BOT Build/MRA58K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/54.0.2840.85 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 7.1.1; M_bot_tab_1150 Build/N9F27F) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/67.0.3396.87 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 7.0; C Bot Tab 70) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0; VR BOT 552 PLUS) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.96 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 8.1.0; XBot_Senior Build/O11019) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/65.0.3325.109 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Spider 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
]


@pytest.mark.parametrize("ua", PHONES)
def test_phones_whose_model_names_contain_bot_are_not_bots(detector: Detector, ua: str) -> None:
    client = detector.detect(ua)
    assert not client.is_bot
    assert client.os == "android"
    assert client.device in {"mobile", "tablet"}
    assert "human" in client.platforms


# -- in-app browsers whose user agents changed recently were missed -------------------

IN_APP = [
    # Facebook on iOS since 2025 (shalanah/inapp-spy issue #57): MetaIAB, no FBAN/
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/22G100 Safari/604.1 MetaIAB Facebook", "facebook", "ios", None),
    # bare MetaIAB on Android (a public Go UA parser's test)
    ("Mozilla/5.0 (Linux; Android 10; 211033MI Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/138.0.7204.179 Mobile Safari/537.36 MetaIAB",
     "facebook", "android", None),
    # built from the documented "MetaIAB <app>" form on the Facebook UA above
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/22G100 Safari/604.1 MetaIAB Instagram", "instagram", "ios", None),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/22G100 Safari/604.1 MetaIAB Threads", "threads", "ios", None),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/22G100 Safari/604.1 MetaIAB Messenger", "messenger", "ios", None),
    # WhatsApp's own in-app browser (faisalman/ua-parser-js PR #841)
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 26_0_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/26.0.1 Mobile/15E148 Safari/604.1 [WAiOS/2.25.31]", "whatsapp", "ios",
     "2.25.31"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/141.0.7390.124 Mobile Safari/537.36 [WA4A/2.25.32.75;]", "whatsapp", "android",
     "2.25.32.75"),
    # the Google app (device-detector smartphone-31.yml, phablet.yml; a public test table)
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) GSA/334.0.674067880 Mobile/15E148 Safari/604.1", "google", "ios", "334.0.674067880"),
    ("Mozilla/5.0 (Linux; Android 10; SM-N9860 Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/85.0.4183.127 Mobile Safari/537.36 "
     "GSA/11.30.9.21.arm64", "google", "android", "11.30.9.21"),
    ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Pro Build/TD1A.220629.003; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/102.0.5005.125 Mobile Safari/537.36 "
     "GoogleApp/13.25.10.29.arm64", "google", "android", "13.25.10.29"),
]  # fmt: skip


@pytest.mark.parametrize(("ua", "app", "os", "version"), IN_APP)
def test_in_app_browsers_with_new_user_agents_are_named(
    detector: Detector, ua: str, app: str, os: str, version: str | None
) -> None:
    client = detector.detect(ua)
    assert (client.app, client.os, client.in_app, client.is_bot) == (app, os, True, False)
    assert {app, "in_app", "human"} <= client.platforms
    assert "browser" not in client.platforms
    if version is not None:
        assert client.app_version == version


def test_whatsapp_preview_fetcher_stays_a_preview() -> None:
    preview = detect("WhatsApp/2.23.20.0 A")
    assert (preview.is_bot, preview.is_preview, preview.app) == (True, True, None)


def test_google_app_package_names_the_app() -> None:
    webview = (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/120.0.0.0 Mobile Safari/537.36"
    )
    client = detect(webview, {"X-Requested-With": "com.google.android.googlequicksearchbox"})
    assert client.app == "google"
    assert client.in_app


# -- monitors and fetchers with browser-like user agents were missed ------------------

MONITORS = [
    # (user agent, name); all from device-detector Tests/fixtures/bots.yml
    ("Mozilla/5.0 (X11; Linux x86_64)AppleWebKit/537.36 (KHTML, like Gecko; Google-Ads-Qualify)"
     "Chrome/85.0.4183.140 Safari/537.36", "Google-Ads"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/27.0.1453 "
     "Safari/537.36 (compatible; Google-HotelAdsVerifier/2.0)", "Google-HotelAdsVerifier"),
    ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0; baidu Transcoder;)", "baidu Transcoder"),
    ("Mozilla/5.0 (Windows NT 6.2; WOW64) AppleWebKit/537.4 (KHTML, like Gecko) Chrome/98 "
     "Safari/537.4 (StatusCake)", "StatusCake"),
    ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) "
     "PingdomTMS/0.8.5 Safari/534.34", "Pingdom"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/67.0.3396.99 Safari/537.36 CloudflareDiagnostics/1.0", "CloudflareDiagnostics"),
    ("Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0) LinkCheck by "
     "Siteimprove.com", "Siteimprove"),
    ("check_http/v1.5 (nagios-plugins 1.5)", "check_http"),
    ("Mozilla/5.0 (en-US) AppleWebKit/537.36 (KHTML, like Gecko; Google-Assess) "
     "Chrome/34.0.1847.116 Safari/537.36", "Google-Assess"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; compatible; "
     "pageburst) Chrome/98.0.4758.102 Safari/537.36", "pageburst"),
]  # fmt: skip


@pytest.mark.parametrize(("ua", "name"), MONITORS)
def test_monitors_with_browser_like_user_agents_are_bots(
    detector: Detector, ua: str, name: str
) -> None:
    client = detector.detect(ua)
    assert client.is_bot
    assert not client.is_preview
    assert client.bot_name == name
    assert client.device == "bot"
    assert "crawler" in client.platforms


def test_public_bot_list_is_caught() -> None:
    """At least 95 % of crawler-user-agents' examples are bots, none named Mozilla."""
    cua = pytest.importorskip("crawleruseragents")
    d = Detector(cache_size=0)
    examples = [ua for entry in cua.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])]
    assert len(examples) >= 1000
    clients = [d.detect(ua) for ua in examples]
    caught = sum(c.is_bot for c in clients)
    assert caught / len(examples) >= 0.95, f"{caught}/{len(examples)}"
    assert not [c.bot_name for c in clients if (c.bot_name or "").lower() == "mozilla"]


@pytest.mark.parametrize(
    "ua",
    [
        # device-detector fixtures: browsers with no OS our tokens know, or with a URL
        "KDDI-CA3H UP.Browser/6.2_7.2.7.1.K.5.214 (GUI) MMP/2.0",
        "Mozilla/5.0 (compatible; IBrowse 3.0; AmigaOS4.0)",
        "Lynx/2.8.8pre.3 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.0.1e",
        "BrightSign/6.0.13 (XD1132) Mozilla/5.0 (compatible; Linux mips) AppleWebKit/537.4 "
        "(KHTML, like Gecko) Chromium/18.0.1025.168 Chrome/18.0.1025.168 Safari/537.4",
        "Mozilla/5.0 (PlayStation 4 PRO) AppleWebKit/531.3 (KHTML, like Gecko, HEVC, HDR, UHD) "
        "SCEE/1.0 Nuanti/2.0",
    ],
)
def test_old_and_odd_browsers_are_not_bots(detector: Detector, ua: str) -> None:
    assert not detector.detect(ua).is_bot
