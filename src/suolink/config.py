"""One spec of server options, read the same way by every adapter and the CLI.

Each :class:`Option` says its name, who takes it (the ``Shortener``, the ``HttpApi`` or
the adapter itself), its default, how to read it from text (environment variables and
config files give strings), how to check it, and whether it is secret. Adapters only
translate their own spelling into option names through a :class:`KeyStyle` (keyword
``alphabet``, Flask config or environment ``SUOLINK_ALPHABET``, Django
``SUOLINK = {"ALPHABET": ...}``) and call :func:`resolve_options` (or
:func:`from_environ`); layers are merged with :meth:`ServerOptions.over`.
``tests/test_config.py`` ties :data:`OPTIONS` to the signatures of ``Shortener`` and
``HttpApi`` both ways, so a new keyword cannot be forgotten, and to the docs' table.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

from .backends import redact_url
from .backends.base import Storage
from .clicks import DEFAULT_CLICK_ID_TTL
from .codes import DEFAULT_ALPHABET, DEFAULT_RESERVED, CodeStrategy
from .errors import InvalidSetting
from .identity import COOKIE_NAME as _COOKIE_PATTERN
from .policy import BotAction
from .render.i18n import LANGUAGES
from .urls import DEFAULT_MAX_URL_LENGTH

__all__ = [
    "ADAPTERS",
    "CODE_ONLY",
    "ENV_PREFIX",
    "GUESSABLE_CODES",
    "OPTIONS",
    "KeyStyle",
    "NoSecretWarning",
    "Option",
    "ServerOptions",
    "app_options",
    "closest",
    "from_environ",
    "import_object",
    "options_for",
    "resolve_options",
    "warn_if_no_secret",
]

#: Every environment variable and Flask config key of suolink starts with this.
ENV_PREFIX: Final = "SUOLINK_"
#: The adapters that read the spec; adapter-level options name the ones they serve.
ADAPTERS: Final = frozenset({"flask", "django", "asgi"})
#: Constructor keywords that are not settings: pass a ``Shortener`` built with them.
CODE_ONLY: Final = frozenset({"clock"})

#: What running without a secret exposes; every start-up warning (Flask, the CLI,
#: Django's ``suolink.W001``) says it after naming its own way to set the secret.
GUESSABLE_CODES: Final = (
    "generated codes use a fixed public salt, so anyone who sees a few codes can guess "
    "the others and open every link, and visitor ids change on every restart. Set a long "
    "random secret and keep it stable"
)


class NoSecretWarning(UserWarning):
    """A server that makes codes was started without a secret (see ``GUESSABLE_CODES``)."""


def warn_if_no_secret(secret: object, *, setting: str, stacklevel: int = 2) -> bool:
    """Warn that codes are guessable when ``secret`` is unset; True if it warned.

    ``setting`` is how the caller's users set it (``SUOLINK_SECRET``, ``--secret``).
    """
    if secret:
        return False
    warnings.warn(
        f"{setting} is not set: {GUESSABLE_CODES}", NoSecretWarning, stacklevel=stacklevel + 1
    )
    return True


Target = Literal["shortener", "api", "adapter"]
Unknown = Literal["error", "warn", "ignore"]

_UNSET: Any = object()


class _Refused(ValueError):
    """A value failed its option's check; ``resolve_options`` adds the key and source."""


# -- kinds: how a type of value is read from text and checked ---------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """How values of one type are read from text and checked (both raise ``_Refused``)."""

    label: str
    from_text: Callable[[str], Any]
    check: Callable[[Any], Any]


def _same(text: str) -> str:
    return text


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused(f"expected text, not {type(value).__name__}")
    return value


def _non_empty(value: Any) -> str:
    if not _text(value):
        raise _Refused("must not be empty")
    return str(value)


def _integer(low: int, choices: Iterable[int] = ()) -> Kind:
    allowed = frozenset(choices)

    def from_text(text: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise _Refused(f"expected a whole number, not {text!r}") from None

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Refused(f"expected a whole number, not {type(value).__name__}")
        if allowed and value not in allowed:
            raise _Refused(f"must be one of {', '.join(map(str, sorted(allowed)))}, not {value}")
        if value < low:
            raise _Refused(f"must be at least {low}, not {value}")
        return value

    label = f"one of {', '.join(map(str, sorted(allowed)))}" if allowed else "integer"
    return Kind(label, from_text, check)


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def _bool_from_text(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Refused(f"expected 1/0, true/false, yes/no or on/off, not {text!r}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # JSON-parsed config gives 0/1
        return bool(value)
    raise _Refused(f"expected true or false, not {type(value).__name__}")


def _words_from_text(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return _words_from_text(value)
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return tuple(items)
    raise _Refused("expected a list of words (or one comma-separated string)")


def _choice(values: Callable[[], Iterable[str]]) -> Kind:
    def check(value: Any) -> str:
        choices = tuple(values())
        if not isinstance(value, str) or value not in choices:
            raise _Refused(f"expected one of {', '.join(choices)}, not {value!r}")
        return str(value)

    return Kind(f"one of {', '.join(values())}", lambda text: text.strip(), check)


def import_object(path: str) -> Any:
    """The object at ``"package.module:name"`` or ``"package.module.name"``."""
    module_name, colon, attr = path.strip().partition(":")
    if not colon:
        module_name, _, attr = module_name.rpartition(".")
    if not module_name or not attr:
        raise _Refused(f"{path!r} is not an import path like 'package.module:name'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise _Refused(f"cannot import {path!r}: {exc}") from None
    return target


def _callable(value: Any) -> Any:
    if not callable(value):
        raise _Refused(f"expected a callable (or its import path), not {type(value).__name__}")
    return value


def _storage(value: Any) -> Any:
    if isinstance(value, str):
        if "://" not in value:
            # not echoed: a malformed URL may still hold a password
            raise _Refused("expected a storage URL like sqlite:///path or redis://host:6379/0")
        return value
    if isinstance(value, Storage):
        return value
    raise _Refused(f"expected a storage URL or a Storage, not {type(value).__name__}")


def _url_with_scheme(value: Any) -> str:
    if "://" not in _text(value):
        raise _Refused("expected a URL like redis://host:6379 (not echoed: it may hold a password)")
    return str(value)


def _http_url(value: Any) -> str:
    if not _text(value).startswith(("http://", "https://")):
        raise _Refused(f"expected an http:// or https:// URL, not {value!r}")
    return str(value)


def _rate(value: Any) -> str:
    text = _text(value).strip()
    if not text:
        return ""  # no limit
    try:
        import limits
    except ImportError:  # pragma: no cover - limits comes with the web extras
        return text
    try:
        limits.parse_many(text)
    except ValueError:
        raise _Refused(f"{text!r} is not a limit like '10/minute' or '10/minute;100/day'") from None
    return text


def _prefix(value: Any) -> str:
    text = _text(value).strip().rstrip("/")
    if text and not text.startswith("/"):
        raise _Refused(f"a URL prefix must start with '/', not {text!r}")
    return text


def _identifier(value: Any) -> str:
    if not _text(value).isidentifier():
        raise _Refused(f"{value!r} is not a Python attribute name")
    return str(value)


def _cookie_name(value: Any) -> str:
    if not _COOKIE_PATTERN.fullmatch(_text(value)):
        raise _Refused(f"{value!r} is not a cookie name (1-64 letters, digits, '_', '-', …)")
    return str(value)


NON_EMPTY: Final = Kind("text", _same, _non_empty)
COOKIE_NAME: Final = Kind("cookie name", str.strip, _cookie_name)
BOOLEAN: Final = Kind("boolean (1/0, true/false, yes/no, on/off)", _bool_from_text, _bool)
WORDS: Final = Kind("comma-separated list", _words_from_text, _words)
CALLABLE: Final = Kind("callable or import path", import_object, _callable)
STORAGE: Final = Kind("storage URL", str.strip, _storage)
URL: Final = Kind("URL", str.strip, _url_with_scheme)
HTTP_URL: Final = Kind("http(s) URL", str.strip, _http_url)
RATE: Final = Kind("rate limit ('' for none)", _same, _rate)
PREFIX: Final = Kind("URL path prefix", _same, _prefix)
IDENTIFIER: Final = Kind("attribute name", str.strip, _identifier)


def _domain_list(value: Any) -> Any:
    from .domains import parse_domains
    from .errors import InvalidDomain

    try:
        parse_domains(value)
    except (InvalidDomain, TypeError) as exc:
        raise _Refused(str(exc)) from None
    return value


DOMAINS: Final = Kind("short domains ('s1.example=pool, s2.example')", str.strip, _domain_list)


def _values(enum: type[Enum]) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(str(member.value) for member in enum)


# -- the spec --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One server option: how it is spelt, read, checked, shown and documented."""

    name: str
    target: Target
    kind: Kind
    default: Any
    doc: str
    #: Never printed: banners and ``--help`` show ``***``.
    secret: bool = False
    #: Adapters that accept it (adapter-level options are one framework's own).
    adapters: frozenset[str] = ADAPTERS
    #: What an empty string means; by default "not set" (an empty environment variable).
    blank: Any = _UNSET
    #: The default as the docs and ``--help`` show it, when ``repr`` would not do.
    shown_default: str | None = None

    @property
    def env(self) -> str:
        """The environment variable and Flask config key: ``SUOLINK_<NAME>``."""
        return ENV_PREFIX + self.name.upper()

    @property
    def setting(self) -> str:
        """The key in Django's ``settings.SUOLINK`` dict."""
        return self.name.upper()

    def read(self, value: Any, *, key: str, source: str) -> Any:
        """The checked value of ``value`` (text is parsed first); ``_UNSET`` if not given."""
        if value is None:
            return _UNSET
        try:
            if isinstance(value, str):
                if not value.strip():
                    if self.blank is _UNSET:
                        return _UNSET
                    value = self.blank
                else:
                    value = self.kind.from_text(value)
            return self.kind.check(value)
        except _Refused as exc:
            raise InvalidSetting(key, str(exc), option=self.name, source=source) from None

    def show(self, value: Any) -> str:
        """``value`` safe to print: secrets masked, passwords in URLs redacted."""
        if self.secret:
            return "***"
        if isinstance(value, str) and "://" in value:
            return redact_url(value)
        return str(value)

    def default_text(self) -> str:
        """The default as the docs show it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, tuple):
            return ", ".join(self.default)
        if isinstance(self.default, Enum):
            return str(self.default.value)
        return str(self.default)


_WEB: Final = frozenset({"flask", "asgi"})

#: Every server option, in the order the docs and ``--help`` list them.
OPTIONS: Final[Mapping[str, Option]] = {
    option.name: option
    for option in (
        # -- Shortener ---------------------------------------------------------------
        Option(
            "storage",
            "shortener",
            STORAGE,
            "sqlite:///suolink.db",
            "where links live: a storage URL such as sqlite:///path, redis://host:port/db "
            "or postgresql://host/db",
        ),
        Option(
            "secret",
            "shortener",
            NON_EMPTY,
            None,
            "salts generated codes and visitor ids; keep it long, stable and private",
            secret=True,
            shown_default="none (codes are guessable: set one)",
        ),
        Option(
            "base_url",
            "shortener",
            HTTP_URL,
            None,
            "public URL where short links live",
            shown_default="the request's host and prefix",
        ),
        Option(
            "code_strategy",
            "shortener",
            _choice(_values(CodeStrategy)),
            CodeStrategy.HASHIDS,
            "how new codes are made: hashids over a counter, or random",
        ),
        Option("min_length", "shortener", _integer(1), 5, "shortest hashids code"),
        Option("random_length", "shortener", _integer(1), 7, "length of random codes"),
        Option(
            "alphabet",
            "shortener",
            NON_EMPTY,
            DEFAULT_ALPHABET,
            "characters generated codes use",
            shown_default="letters and digits without look-alikes (0 O o 1 l I)",
        ),
        Option(
            "reserved",
            "shortener",
            WORDS,
            DEFAULT_RESERVED,
            "codes that are never generated nor accepted as aliases",
            shown_default="a built-in list (api, admin, login, …)",
        ),
        Option(
            "allowed_schemes",
            "shortener",
            WORDS,
            ("http", "https"),
            "URL schemes links may point to",
        ),
        Option(
            "max_url_length",
            "shortener",
            _integer(1),
            DEFAULT_MAX_URL_LENGTH,
            "longest target URL accepted",
        ),
        Option(
            "redirect_status",
            "shortener",
            _integer(300, (301, 302, 303, 307, 308)),
            302,
            "HTTP status of redirects",
        ),
        Option(
            "default_language",
            "shortener",
            _choice(lambda: LANGUAGES),
            None,
            "language of pages when Accept-Language does not decide",
            shown_default="from Accept-Language",
        ),
        Option(
            "bot_action",
            "shortener",
            _choice(_values(BotAction)),
            BotAction.REDIRECT,
            "what crawlers that are not link previews get",
        ),
        Option(
            "store_ip",
            "shortener",
            BOOLEAN,
            False,
            "keep visitors' IP addresses with their visits (else only a hashed id)",
        ),
        Option(
            "reuse_deleted_codes",
            "shortener",
            BOOLEAN,
            False,
            "let a deleted link's code be claimed again (else it stays retired for good)",
        ),
        Option(
            "track_people",
            "shortener",
            BOOLEAN,
            False,
            "count people across links: a signed first-party visitor cookie and the guide "
            "page's hop token (docs/people.md)",
        ),
        Option(
            "people_cookie",
            "shortener",
            COOKIE_NAME,
            "sl_vid",
            "name of the visitor cookie set when track_people is on",
        ),
        Option(
            "people_cookie_days",
            "shortener",
            _integer(1),
            365,
            "lifetime of the visitor cookie, in days",
        ),
        Option(
            "forward_query",
            "shortener",
            BOOLEAN,
            False,
            "add a short URL's query to the target (links may say otherwise; the target's "
            "own parameters win)",
        ),
        Option(
            "forward_click_id",
            "shortener",
            BOOLEAN,
            False,
            "add a signed click id (sl_click) to the target of counted redirects, for "
            "record_conversion (links may say otherwise)",
        ),
        Option(
            "click_id_ttl",
            "shortener",
            _integer(1),
            DEFAULT_CLICK_ID_TTL,
            "seconds a click id may be reported on (record_conversion)",
            shown_default="2592000 (30 days)",
        ),
        Option(
            "templates_dir",
            "shortener",
            NON_EMPTY,
            None,
            "a folder of Jinja templates overriding the built-in pages (guide.html, …)",
            shown_default="none (the built-in pages)",
        ),
        Option(
            "blocklist",
            "shortener",
            NON_EMPTY,
            None,
            "a file of domains refused as targets, one a line (read again when it changes)",
            shown_default="none",
        ),
        Option(
            "check_url",
            "shortener",
            CALLABLE,
            None,
            "check_url(url) -> allow, warn or refuse new targets; or its import path",
        ),
        Option(
            "check_on_resolve",
            "shortener",
            BOOLEAN,
            False,
            "ask the blocklist and check_url again on every redirect (451 if refused)",
        ),
        Option(
            "domains",
            "shortener",
            DOMAINS,
            None,
            "short domains, NAME or NAME=POOL, comma-separated (the first is the default); "
            "requests on other hosts get 404",
            shown_default="none: short URLs follow base_url or the request",
        ),
        Option(
            "unknown_host_redirect",
            "shortener",
            HTTP_URL,
            None,
            "with domains: where requests on other hosts are sent instead of a 404",
            shown_default="none (404)",
        ),
        Option(
            "geoip_db",
            "shortener",
            NON_EMPTY,
            None,
            "a MaxMind-format .mmdb file: visits gain country, region and city (geo extra)",
            shown_default="none (no GeoIP)",
        ),
        # -- HttpApi -------------------------------------------------------------------
        Option(
            "api_token",
            "api",
            NON_EMPTY,
            None,
            "bearer token that may manage links over the API",
            secret=True,
        ),
        Option(
            "authorize",
            "api",
            CALLABLE,
            None,
            "authorize(request, action) -> bool, or its import path",
        ),
        Option(
            "allow_anonymous",
            "api",
            BOOLEAN,
            False,
            "let anyone create links and decode QR images (rate-limited)",
        ),
        Option("max_body_bytes", "api", _integer(1), 64 * 1024, "largest JSON request body"),
        Option(
            "max_upload_bytes",
            "api",
            _integer(1),
            10_000_000,
            "largest picture sent to /api/decode",
        ),
        Option(
            "rate_limit",
            "api",
            RATE,
            "10/minute",
            "anonymous requests allowed per address ('' for no limit)",
            blank="",
        ),
        Option(
            "rate_limit_storage",
            "api",
            URL,
            None,
            "a limits storage URL for the rate limits",
            shown_default="the link store's Redis, else memory://",
        ),
        Option(
            "password_rate_limit",
            "api",
            RATE,
            "10/minute;100/day",
            "wrong password tries allowed per link and address ('' for no limit); past the "
            "longer window, one try per shorter window",
            blank="",
        ),
        Option(
            "token_rate_limit",
            "api",
            RATE,
            "20/minute;200/day",
            "wrong API tokens allowed per address ('' for no limit)",
            blank="",
        ),
        Option(
            "allowed_hosts",
            "api",
            WORDS,
            None,
            "hosts requests may name when there is no base_url (example.com, "
            ".example.com for subdomains, * for any); others get 400",
            shown_default="any host (set base_url or this in production)",
        ),
        Option(
            "qr_render_rate_limit",
            "api",
            RATE,
            "30/minute",
            "QR images drawn afresh (not cached) per address; token holders exempt "
            "('' for no limit)",
            blank="",
        ),
        # -- adapters ------------------------------------------------------------------
        Option(
            "url_prefix",
            "adapter",
            PREFIX,
            "",
            "where the API, the web page and the stats page are mounted",
            adapters=_WEB,
            shown_default="none (the root)",
        ),
        Option(
            "link_prefix",
            "adapter",
            PREFIX,
            None,
            "where short links and their QR images are mounted",
            adapters=_WEB,
            blank="",
            shown_default="url_prefix",
        ),
        Option(
            "web_page",
            "adapter",
            BOOLEAN,
            True,
            "mount the web page and the stats page (false: only the API and short links)",
            adapters=_WEB,
        ),
        Option(
            "check_domains_every",
            "adapter",
            _integer(0),
            0,
            "seconds between health checks of every short domain (0: off); of the "
            "processes of one machine serving a store, one checks",
            adapters=frozenset({"asgi"}),
            shown_default="0 (off)",
        ),
        Option(
            "domain_checker",
            "adapter",
            CALLABLE,
            None,
            "a callable returning the DomainChecker (or a list of them) the periodic "
            "checks use; or its import path",
            adapters=frozenset({"asgi"}),
            shown_default="the built-in HttpChecker",
        ),
        Option(
            "use_permissions",
            "adapter",
            BOOLEAN,
            True,
            "Django permissions (suolink.add_link, …) authorise the API",
            adapters=frozenset({"django"}),
        ),
        Option(
            "request_attribute",
            "adapter",
            IDENTIFIER,
            "suolink_client",
            "the request attribute the middleware sets to the detected client",
            adapters=frozenset({"django"}),
        ),
    )
}


def options_for(adapter: str | None = None) -> tuple[Option, ...]:
    """The options ``adapter`` accepts (every option when None), in spec order."""
    return tuple(o for o in OPTIONS.values() if adapter is None or adapter in o.adapters)


# -- spellings ---------------------------------------------------------------------------


class KeyStyle(Enum):
    """How a source spells option names."""

    ARGUMENT = ("", False)  #: ``alphabet``: keyword arguments
    ENVIRON = (ENV_PREFIX, True)  #: ``SUOLINK_ALPHABET``: environment, Flask config
    SETTING = ("", True)  #: ``ALPHABET``: Django's ``settings.SUOLINK``

    def key(self, name: str) -> str:
        """How this style spells option ``name``."""
        prefix, upper = self.value
        return prefix + (name.upper() if upper else name)

    def owns(self, key: object) -> bool:
        """Whether ``key`` is meant for suolink at all (Flask config has other keys too)."""
        return isinstance(key, str) and key.startswith(self.value[0])

    def option_name(self, key: str) -> str | None:
        """The option name ``key`` spells exactly, or None."""
        prefix, upper = self.value
        name = key[len(prefix) :].lower() if upper else key[len(prefix) :]
        return name if name in OPTIONS and self.key(name) == key else None


def closest(
    key: str, *, style: KeyStyle = KeyStyle.ARGUMENT, adapter: str | None = None
) -> str | None:
    """The valid key closest to a misspelt ``key`` (ignoring case), or None if none is close."""
    prefix = style.value[0].casefold()
    word = key.casefold().removeprefix(prefix)  # the shared prefix would make all look close
    keys = {o.name.casefold(): style.key(o.name) for o in options_for(adapter)}
    match = difflib.get_close_matches(word, list(keys), n=1, cutoff=0.7)
    return keys[match[0]] if match else None


# -- resolving -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Checked option values by name; only what a source set (the rest is default)."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """The value of option ``name``: as set, else the spec's default."""
        return self.values[name] if name in self.values else OPTIONS[name].default

    def over(self, lower: ServerOptions) -> ServerOptions:
        """These values, falling back to ``lower``'s (arguments over config over env)."""
        return ServerOptions({**lower.values, **self.values})

    def for_target(self, target: Target) -> dict[str, Any]:
        """Keyword arguments for ``target``: what was set, so constructors keep defaults."""
        return {k: v for k, v in self.values.items() if OPTIONS[k].target == target}

    def shortener_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~suolink.shortener.Shortener`."""
        return self.for_target("shortener")

    def api_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~suolink.api.HttpApi`."""
        return self.for_target("api")

    def as_keys(self, style: KeyStyle) -> dict[str, Any]:
        """The values keyed as ``style`` spells them (``SUOLINK_STORAGE`` …)."""
        return {style.key(k): v for k, v in self.values.items()}

    def printable(self) -> dict[str, str]:
        """The set values safe to print or log: secrets masked, URLs redacted."""
        return {k: OPTIONS[k].show(v) for k, v in self.values.items()}


def resolve_options(
    given: Mapping[str, Any],
    *,
    source: str,
    style: KeyStyle = KeyStyle.ARGUMENT,
    adapter: str | None = None,
    unknown: Unknown = "error",
) -> ServerOptions:
    """Check ``given`` (spelt as ``style``) against the spec; text is parsed.

    ``None`` and (for most options) empty text mean "not set". A key ``adapter`` does not
    accept is an :class:`~suolink.errors.InvalidSetting` naming the closest valid key, or
    with ``unknown="warn"`` a ``UserWarning`` saying the same; ``source`` ("app.config",
    "settings.SUOLINK", …) is named in both.
    """
    values: dict[str, Any] = {}
    for key, raw in given.items():
        if not style.owns(key):
            continue
        name = style.option_name(key)
        option = OPTIONS.get(name) if name else None
        if option is None or (adapter is not None and adapter not in option.adapters):
            _unknown(key, source=source, style=style, adapter=adapter, unknown=unknown)
            continue
        value = option.read(raw, key=key, source=source)
        if value is not _UNSET:
            values[option.name] = value
    return ServerOptions(values)


def _unknown(
    key: str, *, source: str, style: KeyStyle, adapter: str | None, unknown: Unknown
) -> None:
    if unknown == "ignore":
        return
    name = style.option_name(key)
    if name is not None:  # a real option, of other adapters
        users = ", ".join(sorted(OPTIONS[name].adapters))
        error = InvalidSetting(
            key, f"not a setting of the {adapter} adapter (only of: {users})", source=source
        )
    else:
        error = InvalidSetting(
            key,
            "unknown suolink setting",
            source=source,
            suggestion=closest(key, style=style, adapter=adapter),
        )
    if unknown == "error":
        raise error
    warnings.warn(str(error), UserWarning, stacklevel=4)


def from_environ(environ: Mapping[str, str], *, adapter: str | None = None) -> ServerOptions:
    """The options set by ``SUOLINK_*`` environment variables.

    Other ``SUOLINK_*`` variables (test settings, other tools) are ignored, but one that
    looks like a misspelt option gets a ``UserWarning`` naming the option it resembles.
    """
    values: dict[str, Any] = {}
    known = {o.env: o for o in options_for(adapter)}
    for key, raw in environ.items():
        option = known.get(key)
        if option is not None:
            value = option.read(raw, key=key, source="environment")
            if value is not _UNSET:
                values[option.name] = value
        elif key.startswith(ENV_PREFIX) and (
            suggestion := closest(key, style=KeyStyle.ENVIRON, adapter=adapter)
        ):
            warnings.warn(
                f"{key}: unknown suolink setting; did you mean {suggestion}? (from environment)",
                UserWarning,
                stacklevel=2,
            )
    return ServerOptions(values)


def app_options(
    given: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    adapter: str,
    source: str = "create_app()",
) -> ServerOptions:
    """What a ready-made app (``create_app(**options)``) runs with.

    ``given`` over the ``SUOLINK_*`` variables of ``environ`` over the defaults, both checked.
    """
    arguments = resolve_options(given, source=source, adapter=adapter)
    return arguments.over(from_environ(environ, adapter=adapter))
