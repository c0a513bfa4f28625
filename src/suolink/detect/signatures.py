"""The app and bot signatures, as data: which tokens in a user agent name which client.

Order matters and is deliberate: several apps carry other apps' tokens (WeCom UAs
contain ``MicroMessenger``; WeChat and Android QQ contain ``MQQBrowser``/``TBS``; TIM
contains `` QQ/``; Alibaba apps contain ``UCBrowser``/``UWS``; Douyin, TikTok and
Toutiao share ``BytedanceWebview``), so the more specific signature comes first and
the first match wins. Tokens are plain substrings (case-sensitive unless the
signature says otherwise), so matching is linear in the length of the user agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "APP_PACKAGES",
    "APP_SIGNATURES",
    "AUTOMATION_MARKERS",
    "BOT_SIGNATURES",
    "BOT_WORDS",
    "BROWSER_EVIDENCE",
    "BROWSER_PRODUCTS",
    "EMPTY_BOT_NAME",
    "NOT_BOT_WORDS",
    "WORD_ENDING_BOT_WORDS",
    "AppSignature",
    "BotSignature",
]


@dataclass(frozen=True, slots=True)
class AppSignature:
    """One app: any of ``tokens`` names it, unless one of ``unless`` is also present.

    ``version`` lists tokens after which the app's version number follows. With
    ``ignore_case`` the tokens are matched against the lower-cased user agent (write
    them in lower case).
    """

    app: str
    tokens: tuple[str, ...]
    version: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class BotSignature:
    """One automated client: ``token`` (matched case-insensitively, lower case here)."""

    token: str
    name: str
    preview: bool = False


APP_SIGNATURES: Final[tuple[AppSignature, ...]] = (
    # Tencent. WeCom before WeChat (WeCom UAs carry MicroMessenger); TIM before QQ.
    AppSignature("wecom", ("wxwork/",), ("wxwork/",)),
    AppSignature(
        "wechat",
        ("MicroMessenger/", "WindowsWechat", "MacWechat", "WeChat/", "micromessenger/"),
        ("MicroMessenger/", "micromessenger/", "WeChat/"),
    ),
    AppSignature("tim", ("TIM/", "_TIM_"), ("TIM/",)),
    AppSignature("qq", (" QQ/", "V1_AND_SQ_", "V1_IPH_SQ_", "V1_AND_SQI_"), (" QQ/",)),
    # Alibaba: before UC, whose kernel (UWS/UCBS/UCBrowser) several of them embed.
    AppSignature("alipay", ("AlipayClient/", "AliApp(AP/", "AlipayClientHK/"), ("AlipayClient/",)),
    AppSignature(
        "dingtalk",
        ("AliApp(DingTalk/", "DingTalk/", "DingTalk(", "com.alibaba.android.rimet"),
        ("AliApp(DingTalk/", "DingTalk/", "DingTalk("),
    ),
    AppSignature(
        "taobao", ("AliApp(TB/", "AliApp(TB-PD/", "AliApp(LT/", "TBIOS/"), ("AliApp(TB/",)
    ),
    AppSignature(
        "weibo", ("__weibo__", "Weibo (", "weibo/", "WeiboIntl", "Weibolite"), ("__weibo__",)
    ),
    AppSignature("feishu", ("Lark/", "Feishu/", "LarkLocale/"), ("Lark/", "Feishu/")),
    # ByteDance: the AppName/ token decides; the bare BytedanceWebview is handled in code.
    AppSignature(
        "douyin",
        ("AppName/aweme", "AppName/douyin", "aweme_", "aweme/", "Aweme/", "AppName/live_stream"),
        ("app_version/", "aweme/", "Aweme/"),
    ),
    AppSignature(
        "tiktok",
        (
            "AppName/musical_ly",
            "AppName/trill",
            "AppName/tiktok",
            "musical_ly",
            "trill_",
            "TikTok/",
            "TikTok ",
        ),
        ("app_version/", "TikTok/", "TikTok "),
    ),
    AppSignature(
        "toutiao",
        ("AppName/news_article", "NewsArticle/", "news_article/", "NewsLite/"),
        ("app_version/", "NewsArticle/", "NewsLite/"),
    ),
    AppSignature(
        "kuaishou",
        ("Kwai/", "Kwai_Lite/", "Kwai_Pro/", "ksNebula/", "KsWebView", "kwai/"),
        ("Kwai/", "Kwai_Lite/", "Kwai_Pro/", "ksNebula/"),
    ),
    AppSignature(
        "xiaohongshu",
        ("XiaoHongShu/", " discover/", "xiaohongshu/"),
        ("XiaoHongShu/", " discover/"),
    ),
    AppSignature("baidu", ("baiduboxapp/", "baiduboxlite/", "BaiduBoxApp"), ("baiduboxapp/",)),
    AppSignature("jd", ("jdapp;", "JDMobile/", "jdltapp;"), ("jdapp;iPhone;", "jdapp;android;")),
    AppSignature(
        "pinduoduo",
        ("phh_android_version/", "phh_ios_version/", "pddmt_", "PddWebView"),
        ("phh_android_version/", "phh_ios_version/"),
    ),
    AppSignature(
        "meituan",
        ("MeituanGroup/", "Meituan/", "meituangroup/", "imeituan", "MeituanWaimai"),
        ("MeituanGroup/", "Meituan/"),
    ),
    AppSignature("zhihu", ("ZhihuHybrid", "com.zhihu.android", "Zhihu/", "osee2unifiedRelease")),
    AppSignature(
        "bilibili",
        ("BiliApp/", "bili-universal/", "bili-inter/", "bili-hd2/", "mobi_app/", "BiliDroid"),
        ("BiliApp/", "bili-universal/"),
    ),
    # Meta: Messenger, Threads and Instagram before Facebook (they may carry FBAV).
    AppSignature(
        "messenger",
        (
            "FBAN/Messenger",
            "FB_IAB/MESSENGER",
            "FB_IAB/Orca-Android",
            "MessengerLiteForiOS",
            "FBAN/MessengerForiOS",
            "Orca-Android",
            "MetaIAB Messenger",
        ),
        ("FBAV/",),
    ),
    # Meta's newer in-app browser ends the UA with ``MetaIAB <app>`` (Facebook on iOS
    # since 2025, also seen bare on Android); the app word decides, bare is Facebook.
    # The Messenger, Instagram and Threads forms are those public detectors match.
    AppSignature("threads", ("Barcelona ", "MetaIAB Threads"), ("Barcelona ",)),
    AppSignature("instagram", ("Instagram ", "MetaIAB Instagram"), ("Instagram ",)),
    AppSignature(
        "facebook",
        ("FBAN/", "FBAV/", "FB_IAB/", "FBIOS", "FB4A", "[FBAN", "FBForIPhone", "MetaIAB"),
        ("FBAV/",),
    ),
    AppSignature("line", ("Line/", "LINE/"), ("Line/", "LINE/")),
    AppSignature(
        "twitter",
        ("TwitterAndroid", "Twitter for iPhone", "Twitter for iPad", "Twitter/"),
        ("Twitter/",),
    ),
    AppSignature("snapchat", ("Snapchat",), ("Snapchat/", "Snapchat")),
    AppSignature("linkedin", ("LinkedInApp",), ("LinkedInApp/",)),
    AppSignature("telegram", ("Telegram-Android/", "Telegram/", "TelegramWebview")),
    AppSignature("discord", ("Discord/", "discord/"), ("Discord/", "discord/")),
    AppSignature("kakaotalk", ("kakaotalk",), ("kakaotalk ",), ignore_case=True),
    AppSignature("naver", ("NAVER(inapp", "NAVER/"), ("NAVER/",)),
    AppSignature(
        "pinterest",
        ("[Pinterest/", "Pinterest for iOS", "Pinterest for Android", "Pinterest/"),
        ("Pinterest for iOS/", "Pinterest for Android/", "Pinterest/"),
    ),
    AppSignature("reddit", ("Reddit/", "reddit/"), ("Reddit/Version ",)),
    # WhatsApp's own in-app browser (2025): ``[WA4A/<version>;]`` on Android,
    # ``[WAiOS/<version>]`` on iOS. A bare ``WhatsApp/x.y A`` is its preview fetcher.
    AppSignature("whatsapp", ("WhatsApp/", "WA4A/", "WAiOS/"), ("WA4A/", "WAiOS/", "WhatsApp/")),
    # The Google app's browser (Google Search App): GSA/ on iOS and Android, GoogleApp/
    # on newer Android builds.
    AppSignature("google", ("GSA/", "GoogleApp/"), ("GSA/", "GoogleApp/")),
    # Standalone browsers last: a QQ Browser token with TBS/ is the X5 kernel inside an app.
    AppSignature("qqbrowser", ("QQBrowser/",), ("MQQBrowser/", "QQBrowser/"), unless=("TBS/",)),
    AppSignature("quark", ("Quark/", "QuarkPC/", "quarkpc/"), ("Quark/", "quarkpc/")),
    AppSignature(
        "uc",
        ("UCBrowser/", "UCWEB", "UBrowser/", "UCPC/", "UC Browser"),
        ("UCBrowser/", "UBrowser/", "UCPC/", "UC Browser"),
    ),
)

#: Android package names (``X-Requested-With``) of the apps we know.
APP_PACKAGES: Final[dict[str, str]] = {
    "com.tencent.mm": "wechat",
    "com.tencent.wework": "wecom",
    "com.tencent.mobileqq": "qq",
    "com.tencent.tim": "tim",
    "com.tencent.mtt": "qqbrowser",
    "com.sina.weibo": "weibo",
    "com.sina.weibolite": "weibo",
    "com.eg.android.alipaygphone": "alipay",
    "com.alibaba.android.rimet": "dingtalk",
    "com.ss.android.lark": "feishu",
    "com.larksuite.suite": "feishu",
    "com.ss.android.ugc.aweme": "douyin",
    "com.ss.android.ugc.aweme.lite": "douyin",
    "com.zhiliaoapp.musically": "tiktok",
    "com.ss.android.ugc.trill": "tiktok",
    "com.ss.android.article.news": "toutiao",
    "com.ss.android.article.lite": "toutiao",
    "com.smile.gifmaker": "kuaishou",
    "com.kuaishou.nebula": "kuaishou",
    "com.kwai.video": "kuaishou",
    "com.xingin.xhs": "xiaohongshu",
    "com.baidu.searchbox": "baidu",
    "com.baidu.searchbox.lite": "baidu",
    "com.ucmobile": "uc",
    "com.quark.browser": "quark",
    "com.taobao.taobao": "taobao",
    "com.jingdong.app.mall": "jd",
    "com.xunmeng.pinduoduo": "pinduoduo",
    "com.sankuai.meituan": "meituan",
    "com.zhihu.android": "zhihu",
    "tv.danmaku.bili": "bilibili",
    "com.facebook.katana": "facebook",
    "com.facebook.lite": "facebook",
    "com.facebook.orca": "messenger",
    "com.facebook.mlite": "messenger",
    "com.instagram.android": "instagram",
    "com.instagram.barcelona": "threads",
    "jp.naver.line.android": "line",
    "com.twitter.android": "twitter",
    "com.snapchat.android": "snapchat",
    "com.linkedin.android": "linkedin",
    "org.telegram.messenger": "telegram",
    "org.telegram.messenger.web": "telegram",
    "com.discord": "discord",
    "com.kakao.talk": "kakaotalk",
    "com.nhn.android.search": "naver",
    "com.pinterest": "pinterest",
    "com.reddit.frontpage": "reddit",
    "com.whatsapp": "whatsapp",
    "com.whatsapp.w4b": "whatsapp",
    "com.google.android.googlequicksearchbox": "google",
}

BOT_SIGNATURES: Final[tuple[BotSignature, ...]] = (
    # Link-preview fetchers: they fetch a shared link to draw its card, for a human.
    BotSignature("facebookexternalhit", "facebookexternalhit", preview=True),
    BotSignature("facebookcatalog", "facebookcatalog"),
    BotSignature("facebot", "Facebot", preview=True),
    BotSignature("meta-externalfetcher", "meta-externalfetcher", preview=True),
    BotSignature("slackbot-linkexpanding", "Slackbot-LinkExpanding", preview=True),
    BotSignature("slack-imgproxy", "Slack-ImgProxy", preview=True),
    BotSignature("slackbot", "Slackbot", preview=True),
    BotSignature("discordbot", "Discordbot", preview=True),
    BotSignature("telegrambot", "TelegramBot", preview=True),
    BotSignature("twitterbot", "Twitterbot", preview=True),
    BotSignature("linkedinbot", "LinkedInBot", preview=True),
    BotSignature("skypeuripreview", "SkypeUriPreview", preview=True),
    BotSignature("microsoftpreview", "MicrosoftPreview", preview=True),
    BotSignature("viber", "Viber", preview=True),
    BotSignature("kakaotalk-scrap", "kakaotalk-scrap", preview=True),
    BotSignature("dingtalkbot", "DingTalkBot-LinkService", preview=True),
    BotSignature("line-poker", "LINE link preview", preview=True),
    BotSignature("snap url preview", "Snap URL Preview", preview=True),
    BotSignature("redditbot", "redditbot", preview=True),
    BotSignature("embedly", "Embedly", preview=True),
    BotSignature("iframely", "Iframely", preview=True),
    BotSignature("vkshare", "vkShare", preview=True),
    BotSignature("bluesky cardyb", "Bluesky", preview=True),
    BotSignature("mastodon/", "Mastodon", preview=True),
    BotSignature("linkpreview", "link preview", preview=True),
    BotSignature("google web preview", "Google Web Preview", preview=True),
    BotSignature("pinterestbot", "Pinterestbot"),
    # Agents that fetch a page for a person or a tool, and Google's fetchers.
    BotSignature("chatgpt-user", "ChatGPT-User"),
    BotSignature("claude-user", "Claude-User"),
    BotSignature("perplexity-user", "Perplexity-User"),
    BotSignature("mistralai-user", "MistralAI-User"),
    BotSignature("amzn-user", "Amzn-User"),
    BotSignature("agent-novaact", "NovaAct"),
    BotSignature("duplexweb-google", "DuplexWeb-Google"),
    BotSignature("googleimageproxy", "GoogleImageProxy"),
    BotSignature("google_partner_monitoring", "Google Partner Monitoring"),
    BotSignature("google search console", "Google Search Console"),
    BotSignature("google page speed", "Google PageSpeed Insights"),
    BotSignature("google-site-verification", "Google-Site-Verification"),
    BotSignature("google-pagerenderer", "Google-PageRenderer"),
    BotSignature("google favicon", "Google Favicon"),
    BotSignature("bingpreview", "BingPreview"),
    BotSignature("datanyze", "Datanyze"),
    BotSignature("daumoa", "Daumoa"),
    BotSignature("ia_archiver", "ia_archiver"),
    # Crawlers and tools that ua-parser may not call spiders.
    BotSignature("baiduspider", "Baiduspider"),
    BotSignature("bytespider", "Bytespider"),
    BotSignature("yisouspider", "YisouSpider"),
    BotSignature("sogou web spider", "Sogou web spider"),
    BotSignature("360spider", "360Spider"),
    BotSignature("petalbot", "PetalBot"),
    BotSignature("headlesschrome", "HeadlessChrome"),
    BotSignature("phantomjs", "PhantomJS"),
    BotSignature("lighthouse", "Lighthouse"),
    BotSignature("python-requests", "python-requests"),
    BotSignature("python-httpx", "python-httpx"),
    BotSignature("python-urllib", "Python-urllib"),
    BotSignature("aiohttp", "aiohttp"),
    BotSignature("go-http-client", "Go-http-client"),
    BotSignature("curl/", "curl"),
    BotSignature("wget/", "Wget"),
    BotSignature("libwww-perl", "libwww-perl"),
    BotSignature("scrapy", "Scrapy"),
    BotSignature("httpclient", "HttpClient"),
    BotSignature("axios/", "axios"),
    BotSignature("node-fetch", "node-fetch"),
    BotSignature("okhttp", "okhttp"),
    # Monitors, testers and fetchers whose UA is otherwise a browser's: only their own
    # product word gives them away. Each was seen in public bot lists (device-detector's
    # bots fixtures, crawler-user-agents); the token is lower case, matched anywhere.
    BotSignature("google-ads-", "Google-Ads"),
    BotSignature("google-adwords", "Google-Adwords"),
    BotSignature("google-hoteladsverifier", "Google-HotelAdsVerifier"),
    BotSignature("google-amphtml", "Google-AMPHTML"),
    BotSignature("google-assess", "Google-Assess"),
    BotSignature("google-publisher-plugin", "Google-Publisher-Plugin"),
    BotSignature("google-sites-thumbnails", "Google-Sites-Thumbnails"),
    BotSignature("google-businesslinkverification", "Google-BusinessLinkVerification"),
    BotSignature("google-inspectiontool", "Google-InspectionTool"),
    BotSignature("google-physicalweb", "Google-PhysicalWeb"),
    BotSignature("google-agent", "Google-Agent"),
    BotSignature("googleagent-", "GoogleAgent"),
    BotSignature("googleadsenseinfeed", "GoogleAdSenseInfeed"),
    BotSignature("playstore-google", "PlayStore-Google"),
    BotSignature("baidu transcoder", "baidu Transcoder"),
    BotSignature("statuscake", "StatusCake"),
    BotSignature("pingdom", "Pingdom"),
    BotSignature("cloudflarediagnostics", "CloudflareDiagnostics"),
    BotSignature("cloudflareobservatory", "CloudflareObservatory"),
    BotSignature("cloudflare-", "Cloudflare"),
    BotSignature("siteimprove", "Siteimprove"),
    BotSignature("check_http", "check_http"),
    BotSignature("nagios", "Nagios"),
    BotSignature("websitepulse", "WebSitePulse"),
    BotSignature("uptimerobot", "UptimeRobot"),
    BotSignature("site24x7", "Site24x7"),
    BotSignature("datadogsynthetics", "DatadogSynthetics"),
    BotSignature("newrelicsynthetics", "NewRelicSynthetics"),
    BotSignature("ruxitsynthetic", "RuxitSynthetic"),
    BotSignature("catchpoint", "Catchpoint"),
    BotSignature("thousandeyes", "ThousandEyes"),
    BotSignature("dotcom-monitor", "Dotcom-Monitor"),
    BotSignature("gotsitemonitor", "GotSiteMonitor"),
    BotSignature("yottaamonitor", "YottaaMonitor"),
    BotSignature("sucuri", "Sucuri"),
    BotSignature("ghost inspector", "Ghost Inspector"),
    BotSignature("gtmetrix", "GTmetrix"),
    BotSignature("ptst/", "WebPageTest"),
    BotSignature("dareboost", "DareBoost"),
    BotSignature("hardenize", "Hardenize"),
    BotSignature("securityheaders", "SecurityHeaders"),
    BotSignature("silktide", "Silktide"),
    BotSignature("linktiger", "LinkTiger"),
    BotSignature("marketgoo", "MarketGoo"),
    BotSignature("cookiehub", "CookieHub"),
    BotSignature("taginspector", "TagInspector"),
    BotSignature("functionize", "Functionize"),
    BotSignature("appinsights", "AppInsights"),
    BotSignature("w3c-mobileok", "W3C-mobileOK"),
    BotSignature("testlocally", "TestLocally"),
    BotSignature("pwabuilder", "PWABuilder"),
    BotSignature("printfriendly", "PrintFriendly"),
    BotSignature("newsblur", "NewsBlur"),
    BotSignature("monitorss", "MonitoRSS"),
    BotSignature("sindup", "Sindup"),
    BotSignature("readable/", "Readable"),
    BotSignature("collapsify", "Collapsify"),
    BotSignature("miniature.io", "Miniature.io"),
    BotSignature("page-preview-tool", "page-preview-tool"),
    BotSignature("seznamemailproxy", "SeznamEmailProxy"),
    BotSignature("mail.ukr.net proxy", "mail.ukr.net proxy"),
    BotSignature("whatcms", "WhatCMS"),
    BotSignature("morningscore", "Morningscore"),
    BotSignature("mixnode", "Mixnode"),
    BotSignature("outbrain", "outbrain"),
    BotSignature("nutch", "Nutch"),
    BotSignature("sparkler", "Sparkler"),
    BotSignature("httrack", "HTTrack"),
    BotSignature("webcapture", "WebCapture"),
    BotSignature("headonlyscraper", "HeadOnlyScraper"),
    BotSignature("biglotron", "BIGLOTRON"),
    BotSignature("ips-agent", "ips-agent"),
    BotSignature("newsnow/", "NewsNow"),
    BotSignature("netshelter contentscan", "NetShelter ContentScan"),
    BotSignature("convertify", "Convertify"),
    BotSignature("scope3", "Scope3"),
    BotSignature("newsai/", "newsai"),
    BotSignature("proxychecker", "ProxyChecker"),
    BotSignature("checkerproxy", "CheckerProxy"),
    BotSignature("infrawatch", "infrawatch"),
    BotSignature("iplabel", "ip-label"),
    BotSignature("pageburst", "pageburst"),
    BotSignature("360jk", "360JK"),
    BotSignature("networkmeasurement", "NetworkMeasurement"),
    BotSignature("researchscan", "researchscan"),
    BotSignature("scanner.ducks.party", "scanner.ducks.party"),
    BotSignature("project_patchwatch", "project_patchwatch"),
    BotSignature("internal dummy connection", "Apache internal dummy connection"),
    BotSignature("exchange check", "Exchange check"),
    BotSignature("wp_is_mobile", "wp_is_mobile"),
    BotSignature("karnoprospecting", "KarnoProspectingStudio"),
    BotSignature("leadradar", "LeadRadar"),
    BotSignature("geedoshop", "GeedoShopProductFinder"),
    BotSignature("(feeder.co", "feeder.co"),
    BotSignature("ichiro/", "ichiro"),
    BotSignature("assetnote", "Assetnote"),
    BotSignature("cybaaagent", "CybaaAgent"),
    BotSignature("devin/", "Devin"),
    BotSignature("manus-user", "Manus-User"),
    BotSignature("nitro-optimizer", "Nitro-Optimizer-Agent"),
    BotSignature("foregenix", "Foregenix"),
    BotSignature("rigor)", "Rigor"),
    BotSignature("turingos", "TSM-turingos"),
    BotSignature("watchtowr", "watchTowr"),
    BotSignature("abuse.xmco.fr", "xmco"),
    BotSignature("ylt chrome", "YLT"),
    BotSignature("splash version/", "Splash"),
    BotSignature("hotjar", "Hotjar"),
    BotSignature("/scanning", "scanning"),
    BotSignature("zgrab", "zgrab"),
    BotSignature("xtate/", "xtate"),
    BotSignature("onlyscans", "OnlyScans"),
    BotSignature("keydrop", "Keydrop"),
    BotSignature("laravel reaver", "Laravel Reaver"),
    BotSignature("nikto", "Nikto"),
    BotSignature("acunetix", "Acunetix"),
    BotSignature("openvas", "OpenVAS"),
    BotSignature("playwright", "Playwright"),
    BotSignature("selenium", "Selenium"),
    BotSignature("puppeteer", "Puppeteer"),
    BotSignature("modularconnector", "ModularConnector"),
    BotSignature("ps_daily/", "PS_Daily"),
    BotSignature("dlc/", "Dlc"),
    BotSignature("webmoney advisor", "WebMoney Advisor"),
    BotSignature("dmbrowser", "DMBrowser"),
)

#: What ``detect`` names a request that sends no user agent (or only blanks) at all.
EMPTY_BOT_NAME: Final = "empty"

#: Words that make a product token a bot's (``Googlebot``, ``Baiduspider``, ``MJ12bot``,
#: ``ISSCyberRiskCrawler``), matched in the lower-cased UA. Inside the platform comment
#: of an Android UA, where the phone's model lives (``M bot 60 Build/…``, ``B BOT 550``,
#: ``IDbot553``, ``POWER BOT``), only a ``name/version`` item counts (``Storebot-Google/1.0``).
BOT_WORDS: Final[tuple[str, ...]] = ("spider", "crawl")
#: Bot words that must end their word: ``bots``, ``bot_``, ``bot2`` count, ``botany`` not.
WORD_ENDING_BOT_WORDS: Final[tuple[str, ...]] = ("bot",)
#: Whole words that contain a bot word but name a phone or a product, not a bot.
NOT_BOT_WORDS: Final = frozenset({"cubot"})

#: Substrings (lower case) that browsers never send: a URL or contact in the UA, or a
#: note inside the engine's ``(KHTML, like Gecko)`` where a tool names itself.
AUTOMATION_MARKERS: Final[tuple[str, ...]] = (
    "http://",
    "https://",
    "+http",
    "www.",
    ".com/",
    "(compatible; +",
    "(khtml, like gecko;",
    "(at)",
)

#: Signs of a real browser on a device our OS and device tokens do not know (feature
#: phones, old desktop systems, text browsers, set-top boxes, browser toolbars): a UA
#: with one of these is not taken for software for lacking an OS, nor for a URL or a
#: second ``(compatible; …)`` in it. Lower case, matched anywhere.
BROWSER_EVIDENCE: Final[tuple[str, ...]] = (
    "up.browser", "wap browser", "wap-browser", "wap/", "maui", "obigo", "docomo/",
    "mmp/", "midp", "brew", "palmscape", "xiino", "blackberry", "nintendo", "playstation",
    "amigaos", "beos", "haiku", "syllable", "openvms", "risc os", "sunos", "cygwin",
    "webtv", "kreatv", "konqueror", "lynx/", "dillo/", "hotjava", "amaya/", "nook browser",
    "ibrowse", "amigavoyager", "netpositive", "webpositive", "bunjalloo", "aplix_",
    "oregano", "ncbrowser", "(win10 ", "(win7 ", "(win8", "pr(ucbrowser)", "teleca",
    "embedded web browser", "maple ",
)  # fmt: skip

#: Product tokens of browsers and engines: never a bot's name when one is read off a UA.
BROWSER_PRODUCTS: Final = frozenset(
    {
        "mozilla", "applewebkit", "khtml", "like", "gecko", "chrome", "chromium",
        "safari", "mobile", "version", "compatible", "firefox", "build", "edg", "edge",
        "opr", "opera", "msie", "trident", "electron", "crios", "fxios", "edgios", "u",
        "samsungbrowser", "yabrowser", "ucbrowser", "mqqbrowser", "webkit", "presto",
        "linux", "android", "windows", "x11", "macintosh", "iphone", "ipad", "cpu",
        "intel", "mac", "os", "nt", "win64", "x64", "wow64", "rv", "ubuntu", "fedora",
        "unknown", "en", "en-us", "java", "by", "the", "and", "for", "of", "with",
        "x86_64", "i686", "arm64", "aarch64", "win32", "ppc",
    }
)  # fmt: skip
