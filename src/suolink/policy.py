"""What a visitor gets for a link: the rules of resolving, as a pure and total function.

``decide`` never touches storage or the network and never raises; the Shortener turns
its :class:`Ruling` into a page or a redirect. The order is fixed and documented:

1. not found / disabled; disabled for abuse (``abuse_status``: 451 or 410)
2. expired, then out of visits
3. access rules (``allow``, then ``deny``; then ``allow_countries``, ``deny_countries``
   for the country the GeoIP lookup placed the visitor in: unknown is refused by an
   allow list and let through by a deny list)
4. link-preview fetchers (a small Open Graph page)
5. anti-block (the "open in your browser" guide inside apps that block links), only
   when the system browser the guide sends the visitor to may open the link itself;
   then a link's ``warning``: an interstitial for people who have not said "continue"
6. password
7. other bots: refused on links with a visit limit (they must not use it up, nor pass
   it for free); otherwise redirected or refused by the Shortener's ``bot_action``
8. the target: see :mod:`suolink.targets` (platform, country, weighted split, URL)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Final

from .detect import Client
from .detect.platforms import APP_IDS
from .escapes import Escape, choose_escape
from .models import AntiBlockMode, Link
from .passwords import verify_password
from .targets import pick_target

__all__ = [
    "DEFAULT_ANTI_BLOCK",
    "BotAction",
    "Escape",
    "Ruling",
    "Verdict",
    "browser_twin",
    "country_allowed",
    "decide",
    "is_allowed",
    "needs_guide",
]

#: What ``anti_block=None`` means: the apps known to block or warn on outside links.
DEFAULT_ANTI_BLOCK: Final = frozenset({"blocking_apps"})


class Verdict(StrEnum):
    """The kinds of answer a visitor can get."""

    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    DENIED = "denied"
    PREVIEW = "preview"
    BLOCKED = "blocked"
    WARNING = "warning"
    GUIDE = "guide"
    PASSWORD_REQUIRED = "password_required"  # noqa: S105 - a verdict name, not a secret
    PASSWORD_WRONG = "password_wrong"  # noqa: S105 - a verdict name, not a secret
    BOT_DENIED = "bot_denied"
    REDIRECT = "redirect"


class BotAction(StrEnum):
    """What crawlers that are not link previews get."""

    REDIRECT = "redirect"  #: follow the link like anyone (not counted as a visit)
    DENY = "deny"  #: a 403 page


@dataclass(frozen=True, slots=True)
class Ruling:
    """A verdict, the link it concerns, and what goes with it.

    ``location`` is where a redirect goes; ``escape`` is what the guide page tries
    automatically; ``outcome`` is how the visit is recorded (``None``: not at all) and
    ``count`` whether it counts towards ``max_visits``; ``arm`` the split arm that chose
    ``location`` (recorded with the visit).
    """

    verdict: Verdict
    link: Link | None = None
    location: str | None = None
    escape: Escape | None = None
    outcome: str | None = None
    count: bool = False
    arm: str | None = None
    #: The words of a refusal or warning that came from an abuse check, not the link.
    message: str | None = None


def is_allowed(link: Link, client: Client) -> bool:
    """True if the link's ``allow`` and ``deny`` rules let this client open it."""
    if link.allow is not None and not client.matches(link.allow):
        return False
    return not client.matches(link.deny)


def country_allowed(link: Link, country: str | None) -> bool:
    """True if the link's country rules let a visitor from ``country`` (None: unknown) in."""
    if link.allow_countries is not None and country not in link.allow_countries:
        return False
    return country is None or country not in link.deny_countries


#: Platform ids that belong to the app a visitor is in rather than to their device.
_APP_BOUND: Final = APP_IDS | frozenset(
    {"in_app", "webview", "miniprogram", "blocking_apps", "china_apps"}
)


@lru_cache(maxsize=1024)
def browser_twin(client: Client) -> Client:
    """The same visitor in their system browser: where the guide page sends them.

    Cached: a few kinds of in-app client make nearly all guide views, and a copy of a
    client costs more than looking it up.
    """
    return replace(
        client,
        app=None,
        app_version=None,
        in_app=False,
        webview=False,
        mini_program=False,
        platforms=(client.platforms - _APP_BOUND) | {"browser"},
    )


def needs_guide(link: Link, client: Client) -> bool:
    """True if this client is inside an app the link wants the guide page for.

    Never when the access rules would refuse the system browser the guide sends the
    visitor to (``allow=["wechat"]``): the guide would lead nowhere, so the visitor is
    let through inside the app, the only place the owner allowed.
    """
    if link.anti_block_mode is AntiBlockMode.OFF or client.is_bot:
        return False
    platforms = DEFAULT_ANTI_BLOCK if link.anti_block is None else link.anti_block
    return client.matches(platforms) and is_allowed(link, browser_twin(client))


def decide(
    link: Link | None,
    client: Client,
    *,
    now: datetime,
    password: str | None = None,
    bot_action: BotAction = BotAction.REDIRECT,
    visitor_id: str | None = None,
    country: str | None = None,
    confirmed: bool = False,
) -> Ruling:
    """The ruling for ``client`` opening ``link`` at ``now`` having typed ``password``.

    ``visitor_id`` (the keyed id of :mod:`suolink.visits`) keeps a visitor on one split arm;
    ``country`` is where the GeoIP lookup places them (None: unknown); ``confirmed``:
    they said "continue" on the link's warning interstitial.
    """
    if link is None or link.disabled:
        return Ruling(Verdict.NOT_FOUND, link)
    if link.abuse_status is not None:
        return Ruling(Verdict.BLOCKED, link)
    if link.is_expired(now):
        return Ruling(Verdict.EXPIRED, link)
    if link.is_exhausted:
        return Ruling(Verdict.EXHAUSTED, link)
    if not is_allowed(link, client) or not country_allowed(link, country):
        return Ruling(Verdict.DENIED, link, outcome="denied")
    if client.is_preview:
        return Ruling(Verdict.PREVIEW, link, outcome="preview")
    if needs_guide(link, client):
        escape = choose_escape(client) if link.anti_block_mode is AntiBlockMode.AUTO else None
        return Ruling(Verdict.GUIDE, link, escape=escape, outcome="guide")
    if link.warning is not None and not confirmed and not client.is_bot:
        target = pick_target(link, client.platforms, country=country, visitor_id=visitor_id)
        return Ruling(Verdict.WARNING, link, target.url, outcome="warning")
    if link.password_hash is not None:
        if password is None:
            return Ruling(Verdict.PASSWORD_REQUIRED, link)
        if not verify_password(password, link.password_hash):
            return Ruling(Verdict.PASSWORD_WRONG, link)
    if client.is_bot:
        if bot_action is BotAction.DENY or link.max_visits is not None:
            return Ruling(Verdict.BOT_DENIED, link, outcome="bot")
        target = pick_target(link, client.platforms, country=country, visitor_id=visitor_id)
        return Ruling(Verdict.REDIRECT, link, target.url, outcome="bot", arm=target.arm)
    target = pick_target(link, client.platforms, country=country, visitor_id=visitor_id)
    return Ruling(
        Verdict.REDIRECT, link, target.url, outcome="redirect", count=True, arm=target.arm
    )
