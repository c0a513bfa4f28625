"""Detection proper: user agent + request headers -> :class:`Client`, cached, never raising.

The app and bot tables (``signatures``) are applied first, in their order; ua-parser
supplies browser, OS version and device model; small token rules decide OS family and
device class (and stand in for ua-parser when it is not installed). Client hints and
``X-Requested-With`` refine the answer when the browser sends them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final

from .bots import bot_name as _bot_name
from .bots import has_browser_evidence, match_bot
from .client import Client
from .platforms import BLOCKING_APPS, BROWSER_APPS, CHINA_APPS, display_name
from .resolver import ParsedUA, ResolverName, UAParser
from .signatures import APP_PACKAGES, APP_SIGNATURES, EMPTY_BOT_NAME, AppSignature
from .tokens import TokenIndex

__all__ = ["DEFAULT_CACHE_SIZE", "HINT_HEADERS", "MAX_UA_LENGTH", "Detector"]

#: Characters of the user agent that are read; real ones stay well under this.
MAX_UA_LENGTH: Final = 1024
DEFAULT_CACHE_SIZE: Final = 4096
_MAX_HINT_LENGTH: Final = 128
_MAX_HEADERS: Final = 200
#: Header pairs a request may carry and still be kept in the front cache.
_MAX_FRONT_HEADERS: Final = 16

#: Request headers detection reads (lower case), in the order they are keyed.
HINT_HEADERS: Final = (
    "x-requested-with",
    "sec-ch-ua-platform",
    "sec-ch-ua-mobile",
    "sec-ch-ua-model",
    "sec-ch-ua-platform-version",
)
_HINT_INDEX: Final = {name: i for i, name in enumerate(HINT_HEADERS)}
Hints = tuple[str, ...]
_NO_HINTS: Final[Hints] = ()

# Every pattern is a literal token followed by bounded classes: linear on any input.
_IOS_VERSION: Final = re.compile(r"(?:iPhone OS|CPU OS|iOS|iPhone_OS/) ?(\d{1,2})[_.](\d{1,2})")
_ANDROID_VERSION: Final = re.compile(r"Android[ /](\d{1,2}(?:\.\d{1,2}){0,2})")
_HARMONY_VERSION: Final = re.compile(r"(?:OpenHarmony|HarmonyOS)[ /]?(\d{1,2}(?:\.\d{1,2}){0,2})")
_MAC_VERSION: Final = re.compile(r"Mac OS X (\d{1,2})[_.](\d{1,2})")
_WINDOWS_VERSION: Final = re.compile(r"Windows NT (\d{1,2}\.\d)")
_WINDOWS_NAMES: Final = {
    "10.0": "10",
    "6.3": "8.1",
    "6.2": "8",
    "6.1": "7",
    "6.0": "Vista",
    "5.1": "XP",
}
_VERSION_CHARS: Final = frozenset("0123456789._")

_HINT_PLATFORMS: Final = {
    "android": "android",
    "ios": "ios",
    "windows": "windows",
    "macos": "macos",
    "linux": "linux",
    "chrome os": "chromeos",
    "chromeos": "chromeos",
    "chromium os": "chromeos",
    "harmonyos": "harmonyos",
    "openharmony": "harmonyos",
}
#: (UA says, client hint says) pairs where the UA is the more specific of the two.
_KEEP_UA_OS: Final = frozenset(
    {
        ("harmonyos", "android"),
        ("ipados", "ios"),
        ("ipados", "macos"),
        ("chromeos", "linux"),
        ("android", "linux"),
        ("harmonyos", "linux"),
    }
)
_UAP_OS: Final = {
    "iOS": "ios",
    "Android": "android",
    "Windows": "windows",
    "Mac OS X": "macos",
    "Chrome OS": "chromeos",
    "Linux": "linux",
    "Ubuntu": "linux",
    "Fedora": "linux",
    "Debian": "linux",
    "HarmonyOS": "harmonyos",
}
_TV_TOKENS: Final = (
    "smart-tv", "smarttv", "googletv", "android tv", "appletv", "apple tv", "hbbtv",
    "netcast", "web0s", "webos.tv", "bravia", "crkey", "roku", "; aft", "opera tv",
    "tizen tv", "dtv", "aquos", "philipstv", "viera", "tv safari", "; tv ", "tvos",
)  # fmt: skip
_MOBILE_TOKENS: Final = (
    "iphone", "ipod", "mobile", "phone", "opera mini", "opera mobi", "midp", "kaios",
    "symbian", "lumia", "nokia",
)  # fmt: skip
_TV: Final = re.compile("|".join(re.escape(t) for t in _TV_TOKENS))
_TABLET_TOKENS: Final = ("ipad", "tablet", "kindle", "silk/", "pad/apad", "playbook")


#: What an unreadable request is (detection failed): nothing known, no group but ``other``.
_UNKNOWN: Final = Client(platforms=frozenset({"other"}))
#: A request with no user agent: browsers always send one, so this is software.
_NO_USER_AGENT: Final = Client(
    device="bot",
    is_bot=True,
    bot_name=EMPTY_BOT_NAME,
    platforms=frozenset({"other", "bot", "crawler"}),
)


def _read_version(text: str, start: int) -> str | None:
    end = start
    limit = min(len(text), start + 24)
    while end < limit and text[end] in _VERSION_CHARS:
        end += 1
    version = text[start:end].strip("._").replace("_", ".")
    return version or None


def _version_after(text: str, tokens: tuple[str, ...]) -> str | None:
    for token in tokens:
        i = text.find(token)
        if i >= 0:
            version = _read_version(text, i + len(token))
            if version:
                return version
    return None


#: (token, signature index) pairs, flattened once; a loop of ``in`` beats a regex here.
_APP_TOKENS: Final = tuple(
    (token, i)
    for i, sig in enumerate(APP_SIGNATURES)
    if not sig.ignore_case
    for token in sig.tokens
)
_APP_TOKENS_CI: Final = tuple(
    (token, i) for i, sig in enumerate(APP_SIGNATURES) if sig.ignore_case for token in sig.tokens
)
_APP_INDEX: Final = TokenIndex(_APP_TOKENS)
_APP_INDEX_CI: Final = TokenIndex(_APP_TOKENS_CI)


def _match_app(ua: str, low: str) -> tuple[str | None, str | None]:
    found = _APP_INDEX.find(ua)
    found.update(_APP_INDEX_CI.find(low))
    for index in sorted(found):
        sig: AppSignature = APP_SIGNATURES[index]
        hay = low if sig.ignore_case else ua
        if not any(u in hay for u in sig.unless):
            return sig.app, _version_after(hay, sig.version)
    if "BytedanceWebview" in ua or "ByteLocale/" in ua:
        # No AppName: Douyin serves mainland China, TikTok everywhere else.
        app = "douyin" if ("Region/CN" in ua or "ByteLocale/zh" in ua) else "tiktok"
        return app, _version_after(ua, ("app_version/",))
    return None, None


def _os_from_tokens(ua: str, low: str) -> str:
    if "harmonyos" in low or "openharmony" in low or "hmos/" in low:
        return "harmonyos"
    if "chromebook" in low or "cros " in low:
        return "chromeos"
    if "windows phone" in low:
        return "windows"
    if "ipad" in low:
        return "ipados"
    if "iphone" in low or "ipod" in low or "like mac os x" in low:
        return "ios"
    if "android" in low or "; adr " in low:
        return "android"
    if "macintosh" in low or "mac os x" in low or "mac_powerpc" in low:
        return "macos"
    if "windows" in low or "win64" in low or "win32" in low:
        return "windows"
    if "darwin/" in low:
        return "macos" if "x86_64" in low or "macbook" in low else "ios"
    if "ios" in low.split(";")[0] or " ios " in low or "; ios" in low or "(ios" in low:
        return "ios"
    if "linux" in low or "x11" in low or "ubuntu" in low:
        return "linux"
    return "other"


def _os_version(os_name: str, ua: str, parsed: ParsedUA | None) -> str | None:
    if os_name in ("ios", "ipados"):
        m = _IOS_VERSION.search(ua)
        return f"{m.group(1)}.{m.group(2)}" if m else None
    if os_name == "android":
        m = _ANDROID_VERSION.search(ua)
        return m.group(1) if m else None
    if os_name == "harmonyos":
        m = _HARMONY_VERSION.search(ua)
        return m.group(1) if m else None
    if os_name == "windows":
        m = _WINDOWS_VERSION.search(ua)
        return _WINDOWS_NAMES.get(m.group(1), m.group(1)) if m else None
    if os_name == "macos":
        m = _MAC_VERSION.search(ua)
        return f"{m.group(1)}.{m.group(2)}" if m else None
    if parsed is not None and parsed.os is not None and _UAP_OS.get(parsed.os) == os_name:
        return parsed.os_version
    return None


def _device(ua: str, low: str, os_name: str, parsed: ParsedUA | None) -> str:
    if "chromebook" in low:
        return "desktop"
    if _TV.search(low) or ("tizen" in low and "mobile" not in low):
        return "tv"
    tablet = os_name == "ipados" or any(token in low for token in _TABLET_TOKENS)
    if tablet and "tablet pc" not in low:
        return "tablet"
    if parsed is not None and parsed.device == "iPad":
        return "tablet"
    if os_name in ("android", "harmonyos") and low.startswith("mozilla/"):
        return "mobile" if ("mobile" in low or "phone" in low) else "tablet"
    if os_name in ("ios", "android", "harmonyos"):
        return "mobile"
    if any(token in low for token in _MOBILE_TOKENS):
        return "mobile"
    if os_name in ("windows", "macos", "linux", "chromeos"):
        return "desktop"
    return "other"


def _fallback_browser(ua: str) -> tuple[str | None, str | None]:
    for token, name in (
        ("EdgA/", "Edge Mobile"),
        ("EdgiOS/", "Edge Mobile"),
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("YaBrowser/", "Yandex Browser"),
        ("HuaweiBrowser/", "Huawei Browser"),
        ("MiuiBrowser/", "MiuiBrowser"),
        ("FxiOS/", "Firefox iOS"),
        ("Firefox/", "Firefox"),
        ("CriOS/", "Chrome Mobile iOS"),
        ("Chrome/", "Chrome"),
    ):
        i = ua.find(token)
        if i >= 0:
            return name, _read_version(ua, i + len(token))
    if "Safari/" in ua and "Version/" in ua:
        return "Safari", _read_version(ua, ua.find("Version/") + 8)
    return None, None


def _clean_hint(value: str) -> str:
    return value.strip().strip('"').strip()


def _hints(headers: object) -> Hints:
    """The values of :data:`HINT_HEADERS` found in ``headers``, as a hashable key."""
    if headers is None:
        return _NO_HINTS
    found: list[str] = [""] * len(HINT_HEADERS)
    any_found = False
    items: Iterable[object]
    items = headers.items() if isinstance(headers, Mapping) else headers  # type: ignore[assignment]
    for count, pair in enumerate(items):
        if count >= _MAX_HEADERS:
            break
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            continue
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        key = name.lower().replace("_", "-")
        if key.startswith("http-"):
            key = key[5:]  # WSGI/CGI style: HTTP_X_REQUESTED_WITH
        index = _HINT_INDEX.get(key)
        if index is not None and value:
            found[index] = value[:_MAX_HINT_LENGTH]
            any_found = True
    return tuple(found) if any_found else _NO_HINTS


def _analyse(ua: str, hints: Hints, parser: UAParser) -> Client:
    if not ua:
        return _NO_USER_AGENT
    low = ua.lower()
    bot_name, is_preview = match_bot(ua, low)
    # A bot needs nothing from ua-parser, whose miss on bots is its slowest case;
    # everyone else is parsed.
    parsed = None if bot_name is not None else parser.parse(ua)
    is_bot = bot_name is not None
    app, app_version = (None, None) if is_bot else _match_app(ua, low)

    requested_with = platform_hint = mobile_hint = model_hint = version_hint = ""
    if hints:
        requested_with, platform_hint, mobile_hint, model_hint, version_hint = hints
    if requested_with and not is_bot:
        package_app = APP_PACKAGES.get(_clean_hint(requested_with).lower())
        if package_app is not None and (app is None or app in BROWSER_APPS):
            app, app_version = package_app, None

    os_name = _os_from_tokens(ua, low)
    if os_name == "other" and parsed is not None and parsed.os is not None:
        os_name = _UAP_OS.get(parsed.os, "other")
    hinted_os = _HINT_PLATFORMS.get(_clean_hint(platform_hint).lower()) if platform_hint else None
    # Client hints come from Chromium engines only, and none runs on iOS: hints beside an
    # iOS user agent are a spoof or an emulator's, and the UA is what was meant.
    if (
        hinted_os is not None
        and os_name not in ("ios", "ipados")
        and (os_name, hinted_os) not in _KEEP_UA_OS
    ):
        os_name = hinted_os
    os_version = _os_version(os_name, ua, parsed)
    if version_hint and hinted_os == os_name:
        raw = _clean_hint(version_hint)
        if raw and len(raw) <= 20 and all(c in _VERSION_CHARS for c in raw):
            if os_name == "windows":
                major = raw.split(".")[0]
                if major.isdigit() and int(major) > 0:
                    os_version = "11" if int(major) >= 13 else "10"
            else:
                os_version = raw

    if is_bot:
        device = "bot"
    else:
        device = _device(ua, low, os_name, parsed)
        mobile = _clean_hint(mobile_hint) if mobile_hint else ""
        if mobile == "?1" and device in ("desktop", "tablet", "other"):
            device = "mobile"
        elif mobile == "?0" and device == "other" and os_name != "other":
            device = "desktop"

    if (
        not is_bot
        and app is None
        and device == "other"
        and os_name == "other"
        and (not low.startswith(("mozilla/", "opera/")) or "compatible;" in low)
        and not has_browser_evidence(low)
    ):
        # No browser, OS or device in it: a script, monitor or feed reader.
        is_bot, bot_name, device = True, _bot_name(ua), "bot"

    model = _clean_hint(model_hint) if model_hint else None
    if not model and parsed is not None and parsed.model:
        model = parsed.model
    model = model or None

    webview = not is_bot and (
        ("; wv)" in low and "opr/" not in low)
        or (
            os_name in ("ios", "ipados")
            and low.startswith("mozilla/")
            and "applewebkit" in low
            and "safari" not in low
        )
    )
    in_app = not is_bot and app not in BROWSER_APPS and (app is not None or webview)
    mini_program = in_app and ("miniprogram" in low)

    if app is not None and app not in BROWSER_APPS:
        browser: str | None = display_name(app, "en")
        browser_version = app_version
    elif parsed is not None and parsed.browser is not None:
        browser, browser_version = parsed.browser, parsed.browser_version
    else:
        browser, browser_version = _fallback_browser(ua)
        if app in BROWSER_APPS:
            browser, browser_version = display_name(app or "", "en"), app_version

    platforms = {os_name, device}
    if app is not None:
        platforms.add(app)
        if app in BLOCKING_APPS:
            platforms.add("blocking_apps")
        if app in CHINA_APPS:
            platforms.add("china_apps")
    if os_name == "ipados":
        platforms.add("ios")
    if os_name == "harmonyos" and "android" in low:
        platforms.add("android")
    if os_name in ("ios", "ipados", "macos"):
        platforms.add("apple")
    if in_app:
        platforms.add("in_app")
        if app is None:
            platforms.add("webview")
    if mini_program:
        platforms.add("miniprogram")
    if is_bot:
        platforms.add("preview" if is_preview else "crawler")
    else:
        platforms.add("human")
        if not in_app:
            platforms.add("browser")

    return Client(
        app=app,
        app_version=app_version,
        os=os_name,
        os_version=os_version,
        device=device,
        model=model,
        browser=browser,
        browser_version=browser_version,
        in_app=in_app,
        webview=webview,
        mini_program=mini_program,
        is_bot=is_bot,
        bot_name=bot_name,
        is_preview=is_preview,
        platforms=frozenset(platforms),
    )


class Detector:
    """Detection with its own resolver and bounded LRU cache; ``detect`` never raises.

    ``resolver`` is ``auto`` (best installed), ``rust``, ``python`` or ``none``;
    ``cache_size=0`` disables the cache; ``max_length`` caps the user agent read.
    """

    def __init__(
        self,
        *,
        resolver: ResolverName = "auto",
        cache_size: int = DEFAULT_CACHE_SIZE,
        max_length: int = MAX_UA_LENGTH,
    ) -> None:
        self.parser = UAParser(resolver)
        self.max_length = max(1, int(max_length))
        self.cache_size = max(0, int(cache_size))
        parser = self.parser

        def analyse(ua: str, hints: Hints) -> Client:
            try:
                return _analyse(ua, hints, parser)
            except Exception:  # defence in depth: a bad rule must not break a redirect
                return _UNKNOWN

        self._analyse = lru_cache(maxsize=self.cache_size)(analyse) if self.cache_size else analyse
        #: In front of that cache: a request's own (user agent, header pairs), as a
        #: :class:`~suolink.models.Visitor` holds them, straight to the answer, so a repeat
        #: visitor costs one dict lookup rather than a hint scan and an LRU update.
        self._front: dict[tuple[str, tuple[object, ...]], Client] | None = (
            {} if self.cache_size else None
        )

    @property
    def front_cache(self) -> dict[tuple[str, tuple[object, ...]], Client] | None:
        """The dict in front of the LRU cache, by (user agent, header pairs) as a
        :class:`~suolink.models.Visitor` holds them (None: no cache). The same object for
        the Detector's life (emptied, never replaced), so a hot path may keep it and read
        it directly; only :meth:`detect` fills it."""
        return self._front

    @property
    def resolver(self) -> str:
        """The resolver actually used (``rust``, ``python`` or ``none``)."""
        return self.parser.name

    def detect(
        self,
        user_agent: str | None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> Client:
        """The :class:`Client` for this user agent and request headers; never raises."""
        front = self._front
        if (
            front is not None
            and type(user_agent) is str
            and (headers is None or type(headers) is tuple)
            and len(user_agent) <= self.max_length
        ):
            key = (user_agent, headers or ())
            try:
                found = front.get(key)
            except TypeError:  # pairs that are not hashable: detect without the front cache
                return self._detect(user_agent, headers)
            if found is None and len(key[1]) <= _MAX_FRONT_HEADERS:
                found = self._detect(user_agent, headers)
                if len(front) >= self.cache_size:
                    front.clear()  # the LRU cache behind still holds the analyses
                front[key] = found
            return found if found is not None else self._detect(user_agent, headers)
        return self._detect(user_agent, headers)

    def _detect(
        self,
        user_agent: str | None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    ) -> Client:
        try:
            if type(user_agent) is not str:
                user_agent = user_agent if isinstance(user_agent, str) else ""
            ua = user_agent if len(user_agent) <= self.max_length else user_agent[: self.max_length]
            hints = _hints(headers) if headers else _NO_HINTS
            return self._analyse(ua.strip(), hints)
        except Exception:
            return _UNKNOWN

    def cache_clear(self) -> None:
        """Forget every cached result."""
        if self._front is not None:
            self._front.clear()
        clear = getattr(self._analyse, "cache_clear", None)
        if clear is not None:
            clear()
