"""The rules a link owner's settings follow, each with the JSON schema of what it accepts.

A :class:`Rule` turns what an owner gave (from Python, JSON or the command line) into the
value a ``Link`` field holds, or raises :class:`~suolink.errors.InvalidOption` naming the
input. :data:`suolink.fields.LINK_FIELDS` says which rule each input follows; the schema
sits beside the rule and is built from the same constants, so the API document cannot
promise other limits than the code keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .domains import check_domain_name, check_pool
from .errors import InvalidDomain, InvalidOption, InvalidURL
from .forwarding import MAX_UTM_VALUE, UTM_NAMES
from .languages import LANGUAGES
from .models import AntiBlockMode
from .passwords import hash_password
from .urls import validate_url

__all__ = [
    "ABUSE_STATUS",
    "ANTI_BLOCK_MODE",
    "CAMPAIGN",
    "CAMPAIGN_PATTERN",
    "COUNTRIES",
    "COUNTRY_PATTERN",
    "DOMAIN",
    "EXPIRES_AT",
    "EXPIRES_IN",
    "FLAG",
    "GEO_TARGETS",
    "LANGUAGE",
    "MAX_ARMS",
    "MAX_COUNTRIES",
    "MAX_EXPIRES_IN",
    "MAX_MAX_VISITS",
    "MAX_OG_DESCRIPTION_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "MAX_PLATFORMS",
    "MAX_TAGS",
    "MAX_TITLE_LENGTH",
    "MAX_VISITS",
    "MAX_WEIGHT",
    "MESSAGE",
    "OG_DESCRIPTION",
    "OG_IMAGE",
    "OG_TITLE",
    "OMIT",
    "OPTIONAL_COUNTRIES",
    "OPTIONAL_FLAG",
    "OPTIONAL_PLATFORMS",
    "PASSWORD",
    "PLATFORMS",
    "PLATFORM_PATTERN",
    "POOL",
    "RECIPIENT",
    "RECIPIENT_PATTERN",
    "SPLIT",
    "TAGS",
    "TAG_PATTERN",
    "TARGETS",
    "TITLE",
    "URL",
    "UTM",
    "Context",
    "PlatformValidator",
    "Rule",
]

MAX_MAX_VISITS: Final = 1_000_000_000
MAX_PASSWORD_LENGTH: Final = 128
MAX_TITLE_LENGTH: Final = 200
MAX_OG_DESCRIPTION_LENGTH: Final = 500
MAX_COUNTRIES: Final = 300
COUNTRY_PATTERN: Final = r"[A-Z]{2}"
_COUNTRY = re.compile(COUNTRY_PATTERN)
MAX_ARMS: Final = 20
MAX_WEIGHT: Final = 1_000_000
ARM_PATTERN: Final = r"[A-Za-z0-9_.-]{1,32}"
_ARM = re.compile(ARM_PATTERN)
MAX_TAGS: Final = 20
MAX_PLATFORMS: Final = 64
#: The longest ``expires_in``, in seconds: 100 years.
MAX_EXPIRES_IN: Final = 100 * 365 * 86400
TAG_PATTERN: Final = r"[\w.-]{1,32}"
PLATFORM_PATTERN: Final = r"[a-z0-9_]{1,32}"
_TAG = re.compile(TAG_PATTERN)
_PLATFORM = re.compile(PLATFORM_PATTERN)
#: A recipient id: an opaque token (member id, hashed phone), no spaces or control characters.
RECIPIENT_PATTERN: Final = r"[\w.:@+=/-]{1,128}"
#: A campaign name: letters (any script), digits, '.', '-', '_'; it appears in URLs.
CAMPAIGN_PATTERN: Final = r"[\w.-]{1,64}"
_RECIPIENT = re.compile(RECIPIENT_PATTERN)
_CAMPAIGN = re.compile(CAMPAIGN_PATTERN)
#: What a raw phone number looks like (E.164, or a mainland mobile number): refused as a
#: recipient id, which must be opaque (docs/people.md).
_PHONE = re.compile(r"\+?(?:86)?1[3-9]\d{9}|\+\d{7,15}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

PlatformValidator = Callable[[Iterable[str]], frozenset[str]]


class _Omit:
    """The type of :data:`OMIT`."""

    def __repr__(self) -> str:
        return "OMIT"


#: What a rule returns when the input, as given, changes nothing (``expires_in=None``).
OMIT: Final = _Omit()


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may need besides the value: the time, the Shortener's URL and platform
    checks, and the name of the input being checked (refusals name it)."""

    now: datetime
    validate_url: Callable[[object], str]
    check_platforms: PlatformValidator | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """``check(value, context)``: the field value, :data:`OMIT`, or ``InvalidOption``;
    ``schema``: the JSON schema of the values it accepts, for the API document."""

    check: Callable[[object, Context], Any]
    schema: Mapping[str, Any]


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


# -- helpers ---------------------------------------------------------------------------


def _as_list(name: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return [item.strip() for item in items]
    raise InvalidOption(name, "expected a list of names (or one comma-separated string)")


def _platforms(value: object, ctx: Context) -> frozenset[str]:
    names = [n.lower() for n in _as_list(ctx.name, value)]
    if len(names) > MAX_PLATFORMS:
        raise InvalidOption(ctx.name, f"at most {MAX_PLATFORMS} platforms")
    for platform in names:
        if not _PLATFORM.fullmatch(platform):
            raise InvalidOption(ctx.name, f"{platform[:40]!r} is not a platform name")
    if ctx.check_platforms is not None:
        try:
            return ctx.check_platforms(names)
        except InvalidOption as exc:
            raise InvalidOption(ctx.name, exc.reason) from None
    return frozenset(names)


def _unicode(value: str, ctx: Context) -> str:
    """``value`` if it is valid Unicode text (no lone surrogates from JSON ``\\udc00``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOption(ctx.name, "is not valid Unicode text") from None
    return value


# -- the rules -------------------------------------------------------------------------


def _url(value: object, ctx: Context) -> str:
    return ctx.validate_url(value)


def _expires_at(value: object, ctx: Context) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidOption(
                ctx.name, "expected an ISO 8601 time like 2030-01-31T12:00:00+08:00"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidOption(ctx.name, "expected a date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOption(ctx.name, "the time must say its timezone (e.g. +08:00 or Z)")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the last UTC instant
        raise InvalidOption(ctx.name, "is out of the range of dates suolink stores") from None
    if moment <= ctx.now:
        raise InvalidOption(ctx.name, "must be in the future")
    return moment


def _expires_in(value: object, ctx: Context) -> datetime | _Omit:
    if value is None:
        return OMIT
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidOption(ctx.name, "expected a number of seconds")
    if not 0 < seconds <= MAX_EXPIRES_IN:
        raise InvalidOption(ctx.name, "must be between 1 second and 100 years")
    return ctx.now + timedelta(seconds=seconds)


def _max_visits(value: object, ctx: Context) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(ctx.name, "expected a whole number")
    if not 1 <= value <= MAX_MAX_VISITS:
        raise InvalidOption(ctx.name, f"must be between 1 and {MAX_MAX_VISITS:,}")
    return value


def _password(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption(ctx.name, "expected text")
    if not 1 <= len(value) <= MAX_PASSWORD_LENGTH:
        raise InvalidOption(ctx.name, f"must be 1 to {MAX_PASSWORD_LENGTH} characters")
    _unicode(value, ctx)
    if "\x00" in value:
        raise InvalidOption(ctx.name, "must not contain NUL characters")
    return hash_password(value)


def _line(value: object, ctx: Context, longest: int) -> str | None:
    """One line of text (a title): stripped, at most ``longest`` characters, None if empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption(ctx.name, "expected text")
    value = _unicode(value, ctx).strip()
    if len(value) > longest:
        raise InvalidOption(ctx.name, f"at most {longest} characters")
    if _CONTROL.search(value):
        raise InvalidOption(ctx.name, "must not contain control characters or line breaks")
    return value or None


def _title(value: object, ctx: Context) -> str | None:
    return _line(value, ctx, MAX_TITLE_LENGTH)


def _og_description(value: object, ctx: Context) -> str | None:
    return _line(value, ctx, MAX_OG_DESCRIPTION_LENGTH)


def _abuse_status(value: object, ctx: Context) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value not in (410, 451):
        raise InvalidOption(ctx.name, "expected 451 (unavailable for legal reasons) or 410 (gone)")
    return int(value)


def _og_image(value: object, ctx: Context) -> str | None:
    """An http(s) picture URL, whatever schemes the Shortener allows for targets.

    Checked by the target rules' own parser (no credentials, no control characters), but
    not refused for pointing at this Shortener: a link's own QR picture is a fine card.
    """
    if value is None:
        return None
    try:
        return validate_url(value)
    except InvalidURL as exc:
        raise InvalidOption(ctx.name, f"must be an http(s) URL: {exc.reason}") from None


def _tags(value: object, ctx: Context) -> tuple[str, ...]:
    if value is None:
        return ()
    tags = list(dict.fromkeys(_as_list(ctx.name, value)))
    if len(tags) > MAX_TAGS:
        raise InvalidOption(ctx.name, f"at most {MAX_TAGS} tags")
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise InvalidOption(
                ctx.name, f"{tag[:40]!r}: a tag is 1-32 letters, digits, '.', '-' or '_'"
            )
    return tuple(tags)


def _recipient(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption(ctx.name, "expected text")
    if not _RECIPIENT.fullmatch(value) or not value.isprintable():
        raise InvalidOption(
            ctx.name,
            "a recipient is 1-128 letters, digits or '.:@+=/-_' (an opaque id, no spaces)",
        )
    if _PHONE.fullmatch(value):
        raise InvalidOption(
            ctx.name, "looks like a phone number: pass an opaque id or a keyed hash of it"
        )
    return value


def _campaign(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption(ctx.name, "expected text")
    if not _CAMPAIGN.fullmatch(value) or not value.isprintable():
        raise InvalidOption(ctx.name, "a campaign is 1-64 letters, digits, '.', '-' or '_'")
    return value


def _optional_platforms(value: object, ctx: Context) -> frozenset[str] | None:
    return None if value is None else _platforms(value, ctx)


def _platform_set(value: object, ctx: Context) -> frozenset[str]:
    return frozenset() if value is None else _platforms(value, ctx)


def _targets(value: object, ctx: Context) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidOption(ctx.name, "expected a mapping of platform name to URL")
    if len(value) > MAX_PLATFORMS:
        raise InvalidOption(ctx.name, f"at most {MAX_PLATFORMS} targets")
    out: list[tuple[str, str]] = []
    for platform, url in value.items():
        if not isinstance(platform, str):
            raise InvalidOption(ctx.name, "platform names must be text")
        (name,) = _platforms([platform], ctx)
        out.append((name, ctx.validate_url(url)))
    return tuple(out)


def _country(value: object, ctx: Context) -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased (``cn`` is ``CN``)."""
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value.strip().upper()):
        shown = value[:40] if isinstance(value, str) else value
        raise InvalidOption(ctx.name, f"{shown!r} is not a two-letter country code (ISO 3166-1)")
    return value.strip().upper()


def _countries(value: object, ctx: Context) -> frozenset[str]:
    names = _as_list(ctx.name, value)
    if len(names) > MAX_COUNTRIES:
        raise InvalidOption(ctx.name, f"at most {MAX_COUNTRIES} countries")
    return frozenset(_country(name, ctx) for name in names)


def _optional_countries(value: object, ctx: Context) -> frozenset[str] | None:
    return None if value is None else _countries(value, ctx)


def _country_set(value: object, ctx: Context) -> frozenset[str]:
    return frozenset() if value is None else _countries(value, ctx)


def _geo_targets(value: object, ctx: Context) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidOption(ctx.name, "expected a mapping of country code to URL")
    if len(value) > MAX_COUNTRIES:
        raise InvalidOption(ctx.name, f"at most {MAX_COUNTRIES} countries")
    out: dict[str, str] = {}
    for country, url in value.items():
        code = _country(country, ctx)
        if code in out:
            raise InvalidOption(ctx.name, f"names {code} twice")
        out[code] = ctx.validate_url(url)
    return tuple(out.items())


def _arm(item: object, position: int, ctx: Context) -> tuple[str, str, int]:
    """One arm of a split: ``{"url", "weight"?, "name"?}`` or a ``(url, weight)`` pair."""
    if isinstance(item, Mapping):
        unknown = set(item) - {"url", "weight", "name"}
        if unknown:
            raise InvalidOption(ctx.name, f"an arm has url, weight and name, not {sorted(unknown)}")
        url, weight, name = item.get("url"), item.get("weight", 1), item.get("name")
    elif isinstance(item, tuple | list) and len(item) == 2:
        (url, weight), name = item, None
    else:
        raise InvalidOption(ctx.name, 'each arm is {"url": ..., "weight": ..., "name": ...}')
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise InvalidOption(ctx.name, "an arm's weight is a whole number")
    if not 0 <= weight <= MAX_WEIGHT:
        raise InvalidOption(ctx.name, f"an arm's weight is from 0 to {MAX_WEIGHT:,}")
    if name is None:
        name = chr(ord("a") + position)  # a, b, c … (MAX_ARMS keeps it a letter)
    if not isinstance(name, str) or not _ARM.fullmatch(name):
        raise InvalidOption(
            ctx.name, f"{str(name)[:40]!r}: an arm's name is 1-32 letters, digits, '.', '-', '_'"
        )
    return name, ctx.validate_url(url), weight


def _split(value: object, ctx: Context) -> tuple[tuple[str, str, int], ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidOption(ctx.name, 'expected a list of arms {"url": ..., "weight": ...}')
    items = list(value)
    if len(items) > MAX_ARMS:
        raise InvalidOption(ctx.name, f"at most {MAX_ARMS} arms")
    arms = [_arm(item, i, ctx) for i, item in enumerate(items)]
    names = [name for name, _, _ in arms]
    if len(set(names)) != len(names):
        raise InvalidOption(ctx.name, "two arms have the same name")
    if arms and sum(weight for _, _, weight in arms) == 0:
        raise InvalidOption(ctx.name, "at least one arm needs a weight above 0")
    return tuple(arms)


def _anti_block_mode(value: object, ctx: Context) -> AntiBlockMode:
    if value is None:
        return AntiBlockMode.AUTO
    if isinstance(value, str) and value in AntiBlockMode.__members__.values():
        return AntiBlockMode(value)
    choices = ", ".join(mode.value for mode in AntiBlockMode)
    raise InvalidOption(ctx.name, f"expected one of: {choices}")


def _language(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in LANGUAGES:
        return value
    raise InvalidOption(ctx.name, f"expected one of: {', '.join(LANGUAGES)}")


def _domain(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    try:
        return check_domain_name(value)[0]
    except InvalidDomain as exc:
        raise InvalidOption(ctx.name, exc.reason) from None


def _pool(value: object, ctx: Context) -> str | None:
    if value is None:
        return None
    try:
        return check_pool(value)
    except InvalidDomain as exc:
        raise InvalidOption(ctx.name, exc.reason) from None


def _flag(value: object, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise InvalidOption(ctx.name, "expected true or false")
    return value


def _optional_flag(value: object, ctx: Context) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidOption(ctx.name, "expected true, false or null (the Shortener's default)")
    return value


def _utm(value: object, ctx: Context) -> tuple[tuple[str, str], ...]:
    """UTM tags by name without the ``utm_`` prefix, in :data:`UTM_NAMES` order."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidOption(ctx.name, f"expected an object of {', '.join(UTM_NAMES)}")
    given: dict[str, str] = {}
    for key, text in value.items():
        name = key.removeprefix("utm_") if isinstance(key, str) else key
        if name not in UTM_NAMES:
            shown = key[:40] if isinstance(key, str) else type(key).__name__
            raise InvalidOption(ctx.name, f"{shown!r} is not one of {', '.join(UTM_NAMES)}")
        if name in given:
            raise InvalidOption(ctx.name, f"names {name!r} twice")
        line = _line(text, ctx, MAX_UTM_VALUE)
        if line is not None:
            given[name] = line
    return tuple((name, given[name]) for name in UTM_NAMES if name in given)


_PLATFORM_LIST: Final = {
    "type": ["array", "null"],
    "items": {"type": "string", "pattern": _anchored(PLATFORM_PATTERN)},
    "maxItems": MAX_PLATFORMS,
    "description": "Platform ids or groups (see the platform vocabulary).",
}

#: The target URL (its limits are the Shortener's ``URLRules``).
URL: Final = Rule(_url, {"type": "string", "format": "uri"})
EXPIRES_AT: Final = Rule(
    _expires_at,
    {
        "type": ["string", "null"],
        "format": "date-time",
        "description": "When the link stops working (ISO 8601 with a timezone).",
    },
)
EXPIRES_IN: Final = Rule(
    _expires_in,
    {
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "maximum": MAX_EXPIRES_IN,
        "description": "Seconds from now until the link stops working.",
    },
)
MAX_VISITS: Final = Rule(
    _max_visits, {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_MAX_VISITS}
)
PASSWORD: Final = Rule(
    _password,
    {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": MAX_PASSWORD_LENGTH,
        "description": "Visitors must type it (stored only as a salted hash).",
    },
)
#: Platforms, or null (``anti_block``: the default preset; ``allow``: every platform).
OPTIONAL_PLATFORMS: Final = Rule(_optional_platforms, _PLATFORM_LIST)
#: Platforms; null is the empty set.
PLATFORMS: Final = Rule(_platform_set, _PLATFORM_LIST)


def _url_map(most: int, description: str) -> dict[str, Any]:
    """The schema of a key -> target URL object (per platform, per country)."""
    return {
        "type": ["object", "null"],
        "additionalProperties": {"type": "string", "format": "uri"},
        "maxProperties": most,
        "description": description,
    }


TARGETS: Final = Rule(
    _targets, _url_map(MAX_PLATFORMS, "Platform id -> URL for visitors of that platform.")
)
ANTI_BLOCK_MODE: Final = Rule(
    _anti_block_mode,
    {"type": ["string", "null"], "enum": [*(m.value for m in AntiBlockMode), None]},
)
TITLE: Final = Rule(_title, {"type": ["string", "null"], "maxLength": MAX_TITLE_LENGTH})
OG_TITLE: Final = Rule(_title, {"type": ["string", "null"], "maxLength": MAX_TITLE_LENGTH})
OG_DESCRIPTION: Final = Rule(
    _og_description, {"type": ["string", "null"], "maxLength": MAX_OG_DESCRIPTION_LENGTH}
)
OG_IMAGE: Final = Rule(
    _og_image, {"type": ["string", "null"], "format": "uri", "pattern": "^https?://"}
)
TAGS: Final = Rule(
    _tags,
    {
        "type": ["array", "null"],
        "items": {"type": "string", "pattern": _anchored(TAG_PATTERN)},
        "maxItems": MAX_TAGS,
    },
)
LANGUAGE: Final = Rule(_language, {"type": ["string", "null"], "enum": [*LANGUAGES, None]})
_COUNTRY_LIST: Final = {
    "type": ["array", "null"],
    "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    "maxItems": MAX_COUNTRIES,
    "description": "ISO 3166-1 alpha-2 country codes (case does not matter).",
}
#: Countries, or null (every country).
OPTIONAL_COUNTRIES: Final = Rule(_optional_countries, _COUNTRY_LIST)
#: Countries; null is the empty set.
COUNTRIES: Final = Rule(_country_set, _COUNTRY_LIST)
GEO_TARGETS: Final = Rule(
    _geo_targets, _url_map(MAX_COUNTRIES, "Country code -> URL for visitors from that country.")
)
#: A line an operator or owner writes for visitors (a warning, an abuse notice).
MESSAGE: Final = OG_DESCRIPTION  # the same rule: one line of text, at most that long
ABUSE_STATUS: Final = Rule(_abuse_status, {"type": ["integer", "null"], "enum": [451, 410, None]})
#: A short domain's name (it must be one of the Shortener's domains: checked there).
DOMAIN: Final = Rule(_domain, {"type": ["string", "null"], "maxLength": 300})
#: A pool of short domains.
POOL: Final = Rule(_pool, {"type": ["string", "null"], "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"})
SPLIT: Final = Rule(
    _split,
    {
        "type": ["array", "null"],
        "maxItems": MAX_ARMS,
        "items": {
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "weight": {"type": "integer", "minimum": 0, "maximum": MAX_WEIGHT, "default": 1},
                "name": {"type": "string", "pattern": _anchored(ARM_PATTERN)},
            },
        },
        "description": "Weighted arms; each visitor always gets the same one (null: none).",
    },
)
#: True or false (null is refused: a flag has no "unset").
FLAG: Final = Rule(_flag, {"type": "boolean"})
RECIPIENT: Final = Rule(
    _recipient,
    {
        "type": ["string", "null"],
        "pattern": _anchored(RECIPIENT_PATTERN),
        "description": "The host's opaque id of the person (member id, hashed phone).",
    },
)
CAMPAIGN: Final = Rule(
    _campaign, {"type": ["string", "null"], "pattern": _anchored(CAMPAIGN_PATTERN)}
)
#: True, false, or null: the Shortener's default decides.
OPTIONAL_FLAG: Final = Rule(_optional_flag, {"type": ["boolean", "null"]})
UTM: Final = Rule(
    _utm,
    {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {name: {"type": "string", "maxLength": MAX_UTM_VALUE} for name in UTM_NAMES},
        "description": "UTM tags set on the target (source, medium, campaign, term, "
        "content, id; the utm_ prefix is optional when given, left out when shown).",
    },
)
