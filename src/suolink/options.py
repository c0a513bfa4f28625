"""Validation of the settings a link owner gives (expiry, visit limit, password, platforms…).

One place for the rules, so ``shorten``, ``update``, the HTTP API and the CLI refuse the
same things with the same words. Every refusal is :class:`InvalidOption`. Which settings
exist, which field each fills and which rule it follows is read from
:data:`suolink.fields.LINK_FIELDS`; the rules themselves are in :mod:`suolink.rules`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypedDict

from .errors import InvalidOption
from .fields import Action, inputs, setting_names
from .models import AntiBlockMode
from .rules import (
    MAX_MAX_VISITS,
    MAX_PASSWORD_LENGTH,
    MAX_PLATFORMS,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    OMIT,
    Context,
    PlatformValidator,
)

__all__ = [
    "MAX_MAX_VISITS",
    "MAX_PASSWORD_LENGTH",
    "MAX_PLATFORMS",
    "MAX_TAGS",
    "MAX_TITLE_LENGTH",
    "SETTING_NAMES",
    "CommonSettings",
    "LinkChanges",
    "LinkSettings",
    "PlatformValidator",
    "protect_rules",
    "validate_settings",
]

#: Settings accepted by ``shorten``/``update`` besides ``url``.
SETTING_NAMES: Final = setting_names()


class CommonSettings(TypedDict, total=False):
    """The settings both ``shorten`` and ``update`` take."""

    anti_block: Iterable[str] | str | None
    anti_block_mode: AntiBlockMode | str | None
    allow: Iterable[str] | str | None
    deny: Iterable[str] | str | None
    expires_at: datetime | str | None
    expires_in: float | timedelta | None
    max_visits: int | None
    password: str | None
    targets: Mapping[str, str] | None
    title: str | None
    tags: Iterable[str] | str | None
    language: str | None
    disabled: bool
    # integrations: preview cards
    og_title: str | None
    og_description: str | None
    og_image: str | None
    # integrations: weighted targets
    split: Iterable[Mapping[str, Any] | tuple[str, int]] | None
    # integrations: GeoIP rules
    allow_countries: Iterable[str] | str | None
    deny_countries: Iterable[str] | str | None
    geo_targets: Mapping[str, str] | None
    # integrations: abuse
    warning: str | None
    abuse_status: int | None
    abuse_message: str | None
    # domains
    domain: str | None
    pool: str | None
    # conversions
    forward_query: bool | None
    forward_click_id: bool | None
    utm: Mapping[str, str] | None


class LinkSettings(CommonSettings, total=False):
    """The keyword settings of ``Shortener.shorten``, for static type checkers.

    The one second copy of the settings' names: a test holds it equal to
    :data:`SETTING_NAMES`, so a new setting cannot be forgotten here.
    """

    # people: fixed when the link is made
    recipient: str | None
    campaign: str | None


class LinkChanges(CommonSettings, total=False):
    """The keyword settings of ``Shortener.update``: those of ``shorten`` and ``url``."""

    url: str


def _unknown(name: str, known: Iterable[str]) -> InvalidOption:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InvalidOption(name, f"unknown setting{hint}")


def validate_settings(
    settings: Mapping[str, Any],
    *,
    now: datetime,
    validate_url: Callable[[object], str],
    check_platforms: PlatformValidator | None = None,
    action: Action = "create",
) -> dict[str, Any]:
    """Turn owner-given settings into ``Link`` field values, or raise ``InvalidOption``.

    Only fields named in ``settings`` appear in the result, so the same function serves
    ``shorten`` (``action="create"``) and ``update``. Each input fills its field
    (``password`` becomes ``password_hash``, ``expires_in`` becomes ``expires_at``); two
    inputs of one field may not both be given a value.
    """
    known = inputs()
    for name in settings:
        found = known.get(name)
        if found is None:
            raise _unknown(name, known)
        if not getattr(found[1], action):
            when = "when the link is made" if action == "update" else "to an update"
            raise InvalidOption(name, f"can only be given {when}")
    given = {known[n][0].name: known[n][0] for n, value in settings.items() if value is not None}
    for field in given.values():
        names = [i.name for i in field.inputs if settings.get(i.name) is not None]
        if len(names) > 1:
            raise InvalidOption(names[-1], f"give {' or '.join(names)}, not both")
    out: dict[str, Any] = {}
    for name, value in settings.items():
        field, item = known[name]
        if value is None and field.name in given:
            continue  # another input of the field gives the value
        result = item.rule.check(value, Context(now, validate_url, check_platforms, name))
        if result is not OMIT:
            out[field.name] = result
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
