"""The visit path: what is recorded about a visitor, and the redirect in one storage trip.

The :class:`~suolink.shortener.Shortener` resolves through here; kept apart so the rule
of when the policy may be skipped sits next to the one storage call that relies on it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlsplit

from .backends.base import RecordsInOneTrip
from .detect import Client
from .detect.platforms import BLOCKING_APPS
from .escapes import is_escape_hop
from .geoip import NOWHERE, Place
from .models import Visit, Visitor
from .policy import DEFAULT_ANTI_BLOCK, Ruling, Verdict
from .render import pick_language
from .targets import pick_target

__all__ = [
    "build_visit",
    "record_in_one_trip",
    "recorded_outcome",
    "referer_host",
    "storable",
    "takes_one_trip",
    "visitor_id",
]

#: Longest user agent or referer kept with a visit (the rest is noise or an attack).
MAX_STORED_TEXT = 1024


def storable(text: str | None) -> str | None:
    """Visitor-sent text as every backend can store it: no NUL, no lone surrogates."""
    if text is None:
        return None
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def visitor_id(key: bytes, visitor: Visitor) -> str:
    """A keyed hash of IP and user agent: tells repeat visitors apart, reveals neither."""
    message = f"{visitor.ip or ''}\n{visitor.user_agent}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def build_visit(
    code: str,
    visitor: Visitor,
    client: Client,
    *,
    at: datetime,
    outcome: str,
    key: bytes,
    store_ip: bool,
    arm: str | None = None,
    place: Place = NOWHERE,
) -> Visit:
    """The record of ``visitor`` opening ``code``: detection results, never raw secrets.

    The IP is kept only if ``store_ip``; the referer only as its host name.
    """
    referer = visitor.referer
    return Visit(
        code=code,
        at=at,
        ip=storable(visitor.ip) if store_ip else None,
        user_agent=storable(visitor.user_agent[:MAX_STORED_TEXT]) or "",
        referer=storable(referer_host(referer)) if referer else None,
        app=storable(client.bot_name if client.is_bot else client.app),
        os=client.os,
        device=client.device,
        browser=storable(client.browser),
        is_bot=client.is_bot,
        language=pick_language(visitor.accept_language),
        visitor_id=visitor_id(key, visitor),
        outcome=outcome,
        country=place.country,
        region=place.region,
        city=place.city,
        arm=arm,
    )


def recorded_outcome(ruling: Ruling, client: Client, visitor: Visitor) -> str | None:
    """How the visit is recorded (None: not at all): the ruling's outcome, but hops aside.

    A guide view that is the in-app browser's own escape hop (LINE reloading the link with
    ``openExternalBrowser=1``) was already recorded when the guide page first showed.
    """
    if ruling.verdict is Verdict.GUIDE and is_escape_hop(client, visitor.query):
        return None
    return ruling.outcome


def takes_one_trip(client: Client, visitor: Visitor) -> bool:
    """True for visitors only a link's own settings can turn away from the redirect.

    A person (no bot, no preview) outside the anti-block preset's apps who typed no
    password: for them the policy's client-dependent steps are all "go on", so a backend
    that records only on links no setting could refuse may skip it.
    """
    return (
        not client.is_bot
        and not client.is_preview
        and visitor.password is None
        and not client.matches(DEFAULT_ANTI_BLOCK | BLOCKING_APPS)
    )


def record_in_one_trip(storage: RecordsInOneTrip, visit: Visit, client: Client) -> Ruling | None:
    """Read ``visit.code`` and record the redirect in one call; None: "ask the policy".

    Only for a visitor :func:`takes_one_trip` accepts. Answers not found, exhausted
    (``max_visits`` reached; nothing recorded) or the counted redirect.
    """
    link, result = storage.get_and_record(visit, count=True)
    if link is None:
        return Ruling(Verdict.NOT_FOUND)
    if result is None:
        return None
    if not result.allowed:
        return Ruling(Verdict.EXHAUSTED, link)
    # Links with a split never take this path (the backend leaves them to the policy).
    location = pick_target(link, client.platforms, country=visit.country).url
    return Ruling(Verdict.REDIRECT, link, location, outcome="redirect", count=True)


def referer_host(referer: str) -> str | None:
    """The host name of a ``Referer`` header, or None if it has none a URL parser accepts.

    ``urlsplit`` raises on an unclosed IPv6 bracket (``http://[``), which any client can
    send: that must cost the visitor nothing but the referer.
    """
    try:
        return urlsplit(referer[:MAX_STORED_TEXT]).hostname
    except ValueError:
        return None
