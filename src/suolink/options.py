"""Validation of the settings a link owner gives (expiry, visit limit, password, platforms…).

One place for the rules, so ``shorten``, ``update``, the HTTP API and the CLI refuse the
same things with the same words. Every refusal is :class:`InvalidOption`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .errors import InvalidOption
from .models import AntiBlockMode, Link
from .passwords import hash_password
from .render.i18n import LANGUAGES

__all__ = [
    "MAX_MAX_VISITS",
    "MAX_PASSWORD_LENGTH",
    "MAX_TAGS",
    "MAX_TITLE_LENGTH",
    "SETTING_NAMES",
    "protect_rules",
    "validate_settings",
]

MAX_MAX_VISITS: Final = 1_000_000_000
MAX_PASSWORD_LENGTH: Final = 128
MAX_TITLE_LENGTH: Final = 200
MAX_TAGS: Final = 20
MAX_PLATFORMS: Final = 64
_TAG = re.compile(r"[\w.-]{1,32}")
_PLATFORM = re.compile(r"[a-z0-9_]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: Settings accepted by ``shorten``/``update`` besides ``url``.
SETTING_NAMES: Final = frozenset(
    {
        "expires_at",
        "expires_in",
        "max_visits",
        "password",
        "anti_block",
        "anti_block_mode",
        "allow",
        "deny",
        "targets",
        "title",
        "tags",
        "disabled",
        "language",
    }
)

PlatformValidator = Callable[[Iterable[str]], frozenset[str]]


def _as_list(name: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return [item.strip() for item in items]
    raise InvalidOption(name, "expected a list of names (or one comma-separated string)")


def _platforms(name: str, value: object, check: PlatformValidator | None) -> frozenset[str]:
    names = [n.lower() for n in _as_list(name, value)]
    if len(names) > MAX_PLATFORMS:
        raise InvalidOption(name, f"at most {MAX_PLATFORMS} platforms")
    for platform in names:
        if not _PLATFORM.fullmatch(platform):
            raise InvalidOption(name, f"{platform[:40]!r} is not a platform name")
    if check is not None:
        try:
            return check(names)
        except InvalidOption as exc:
            raise InvalidOption(name, exc.reason) from None
    return frozenset(names)


def _datetime(name: str, value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidOption(
                name, "expected an ISO 8601 time like 2030-01-31T12:00:00+08:00"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidOption(name, "expected a date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOption(name, "the time must say its timezone (e.g. +08:00 or Z)")
    return value.astimezone(UTC)


def _expires_in(value: object) -> timedelta:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidOption("expires_in", "expected a number of seconds")
    if not 0 < seconds <= 100 * 365 * 86400:
        raise InvalidOption("expires_in", "must be between 1 second and 100 years")
    return timedelta(seconds=seconds)


def _max_visits(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption("max_visits", "expected a whole number")
    if not 1 <= value <= MAX_MAX_VISITS:
        raise InvalidOption("max_visits", f"must be between 1 and {MAX_MAX_VISITS:,}")
    return value


def _password(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption("password", "expected text")
    if not 1 <= len(value) <= MAX_PASSWORD_LENGTH:
        raise InvalidOption("password", f"must be 1 to {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in value:
        raise InvalidOption("password", "must not contain NUL characters")
    return hash_password(value)


def _title(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOption("title", "expected text")
    value = value.strip()
    if len(value) > MAX_TITLE_LENGTH:
        raise InvalidOption("title", f"at most {MAX_TITLE_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidOption("title", "must not contain control characters or line breaks")
    return value or None


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    tags = list(dict.fromkeys(_as_list("tags", value)))
    if len(tags) > MAX_TAGS:
        raise InvalidOption("tags", f"at most {MAX_TAGS} tags")
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise InvalidOption(
                "tags", f"{tag[:40]!r}: a tag is 1-32 letters, digits, '.', '-' or '_'"
            )
    return tuple(tags)


def _targets(
    value: object, validate_url: Callable[[object], str], check: PlatformValidator | None
) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidOption("targets", "expected a mapping of platform name to URL")
    if len(value) > MAX_PLATFORMS:
        raise InvalidOption("targets", f"at most {MAX_PLATFORMS} targets")
    out: list[tuple[str, str]] = []
    for platform, url in value.items():
        if not isinstance(platform, str):
            raise InvalidOption("targets", "platform names must be text")
        (name,) = _platforms("targets", [platform], check)
        out.append((name, validate_url(url)))
    return tuple(out)


def _anti_block_mode(value: object) -> AntiBlockMode:
    if isinstance(value, str) and value in AntiBlockMode.__members__.values():
        return AntiBlockMode(value)
    choices = ", ".join(mode.value for mode in AntiBlockMode)
    raise InvalidOption("anti_block_mode", f"expected one of: {choices}")


def _language(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in LANGUAGES:
        return value
    raise InvalidOption("language", f"expected one of: {', '.join(LANGUAGES)}")


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidOption(name, "expected true or false")
    return value


def validate_settings(
    settings: Mapping[str, Any],
    *,
    now: datetime,
    validate_url: Callable[[object], str],
    check_platforms: PlatformValidator | None = None,
) -> dict[str, Any]:
    """Turn owner-given settings into ``Link`` field values, or raise ``InvalidOption``.

    Only keys present in ``settings`` appear in the result, so the same function serves
    ``shorten`` (all fields) and ``update`` (a few). ``password`` becomes ``password_hash``
    and ``expires_in`` becomes ``expires_at``.
    """
    unknown = set(settings) - SETTING_NAMES - {"url"}
    if unknown:
        raise InvalidOption(sorted(unknown)[0], "unknown setting")
    if (
        "expires_at" in settings
        and "expires_in" in settings
        and (settings["expires_at"] is not None and settings["expires_in"] is not None)
    ):
        raise InvalidOption("expires_in", "give expires_at or expires_in, not both")
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name == "url":
            out["url"] = validate_url(value)
        elif name == "expires_at":
            out["expires_at"] = None if value is None else _datetime(name, value)
            if out["expires_at"] is not None and out["expires_at"] <= now:
                raise InvalidOption(name, "must be in the future")
        elif name == "expires_in":
            if value is not None:
                out["expires_at"] = now + _expires_in(value)
        elif name == "max_visits":
            out[name] = _max_visits(value)
        elif name == "password":
            out["password_hash"] = _password(value)
        elif name in ("anti_block", "allow"):
            out[name] = None if value is None else _platforms(name, value, check_platforms)
        elif name == "deny":
            out[name] = frozenset() if value is None else _platforms(name, value, check_platforms)
        elif name == "anti_block_mode":
            out[name] = _anti_block_mode(value)
        elif name == "targets":
            out[name] = _targets(value, validate_url, check_platforms)
        elif name == "title":
            out[name] = _title(value)
        elif name == "tags":
            out[name] = _tags(value)
        elif name == "disabled":
            out[name] = _bool(name, value)
        elif name == "language":
            out[name] = _language(value)
    assert set(out) <= Link.UPDATABLE
    return out


def _no_url(value: object) -> str:  # pragma: no cover - protect rules carry no URL
    raise InvalidOption("url", "a page's rules take no URL")


def protect_rules(
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The rules of a host's page (``Shortener.protect``'s keywords), checked now.

    Every adapter's ``protect`` decorator calls it when the view is decorated, so an
    unknown platform name is an ``InvalidOption`` at import time, not on the first visit.
    """
    from .detect.platforms import normalize_platforms

    given: dict[str, Any] = {"anti_block": anti_block, "allow": allow, "deny": deny}
    if anti_block_mode is not None:
        given["anti_block_mode"] = anti_block_mode
    checked = validate_settings(
        given, now=datetime.now(UTC), validate_url=_no_url, check_platforms=normalize_platforms
    )
    mode = checked.get("anti_block_mode")
    return {
        "anti_block": checked["anti_block"],
        "anti_block_mode": None if mode is None else mode.value,
        "allow": checked["allow"],
        "deny": checked["deny"],
    }
