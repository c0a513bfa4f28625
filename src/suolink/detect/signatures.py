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
    "BOT_SIGNATURES",
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
        ),
        ("FBAV/",),
    ),
    AppSignature("threads", ("Barcelona ",), ("Barcelona ",)),
    AppSignature("instagram", ("Instagram ",), ("Instagram ",)),
    AppSignature(
        "facebook",
        ("FBAN/", "FBAV/", "FB_IAB/", "FBIOS", "FB4A", "[FBAN", "FBForIPhone"),
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
    AppSignature("whatsapp", ("WhatsApp/",), ("WhatsApp/",)),
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
)
