"""The visit path: what is recorded about a visitor, and the redirect in one storage trip.

The :class:`~suolink.shortener.Shortener` resolves through here; kept apart so the rule
of when the policy may be skipped sits next to the one storage call that relies on it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from .backends.base import RecordsInOneTrip
from .detect import Client
from .detect.platforms import BLOCKING_APPS
from .escapes import is_escape_hop
from .geoip import NOWHERE, Place
from .models import Visit, Visitor, VisitRecord
from .policy import DEFAULT_ANTI_BLOCK, Ruling, Verdict
from .render import pick_language
from .targets import pick_target

__all__ = [
    "ClientFields",
    "KeyedHash",
    "build_record",
    "build_visit",
    "client_fields",
    "record_in_one_trip",
    "recorded_outcome",
    "referer_host",
    "storable",
    "storable_agent",
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


def storable_agent(user_agent: str) -> str:
    """A visitor's user agent as a visit keeps it: :func:`storable`, at most
    :data:`MAX_STORED_TEXT` characters. Short ASCII without NUL (nearly all) is kept as is."""
    if len(user_agent) <= MAX_STORED_TEXT and user_agent.isascii() and "\x00" not in user_agent:
        return user_agent
    return storable(user_agent[:MAX_STORED_TEXT]) or ""


_IPAD: Final = bytes(x ^ 0x36 for x in range(256))
_OPAD: Final = bytes(x ^ 0x5C for x in range(256))
_BLOCK: Final = 64  # SHA-256's block size


class KeyedHash:
    """HMAC-SHA256 with the key schedule done once: the same digests as ``hmac.new(key,
    message, sha256)`` at half the cost, since each message only copies two prepared states.

    Visitor ids made before it existed stay equal, so unique-visitor counts carry on.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def hexdigest(self, message: bytes) -> str:
        """The HMAC of ``message`` in hexadecimal."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def visitor_id(self, ip: str | None, user_agent: str) -> str:
        """A keyed hash of IP and user agent: tells repeat visitors apart, reveals neither.
        (:meth:`hexdigest` inlined: once per new visitor on the redirect path.)"""
        inner = self._inner.copy()
        inner.update(f"{ip or ''}\n{user_agent}".encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:16]


def visitor_id(key: bytes | KeyedHash, visitor: Visitor) -> str:
    """A keyed hash of IP and user agent: tells repeat visitors apart, reveals neither."""
    hasher = key if isinstance(key, KeyedHash) else KeyedHash(key)
    return hasher.visitor_id(visitor.ip, visitor.user_agent)


def build_visit(
    code: str,
    visitor: Visitor,
    client: Client,
    *,
    at: datetime,
    outcome: str,
    key: bytes | KeyedHash,
    store_ip: bool,
    arm: str | None = None,
    place: Place = NOWHERE,
    domain: str | None = None,
) -> Visit:
    """The record of ``visitor`` opening ``code``: detection results, never raw secrets.

    The IP is kept only if ``store_ip``; the referer only as its host name.
    """
    hasher = key if isinstance(key, KeyedHash) else KeyedHash(key)
    record = build_record(
        code, visitor, client_fields(client), at, outcome, hasher, store_ip, place, arm, domain
    )
    return Visit.from_record(record)


ClientFields = tuple[str | None, str, str, bool, str | None]
"""What a visit keeps of its :class:`~suolink.detect.Client`: app (or bot), OS, device,
bot or not, browser; the same for every visit of that client, so it can be made once."""


def client_fields(client: Client) -> ClientFields:
    """The :data:`ClientFields` of ``client``, every text storable."""
    return (
        storable(client.bot_name if client.is_bot else client.app),
        client.os,
        client.device,
        client.is_bot,
        storable(client.browser),
    )


def build_record(
    code: str,
    visitor: Visitor,
    fields: ClientFields,
    at: datetime,
    outcome: str,
    key: KeyedHash,
    store_ip: bool,
    place: Place = NOWHERE,
    arm: str | None = None,
    domain: str | None = None,
) -> VisitRecord:
    """:func:`build_visit` as a :data:`~suolink.models.VisitRecord` (every text storable),
    from the visitor's :func:`client_fields`. Arguments by position: it is on every
    redirect, where keywords cost."""
    referer = visitor.referer
    user_agent = visitor.user_agent
    app, os_name, device, is_bot, browser = fields
    return (
        code,
        at,
        storable(visitor.ip) if store_ip else None,
        storable_agent(user_agent),
        referer_host(referer) if referer else None,
        app,
        os_name,
        device,
        is_bot,
        pick_language(visitor.accept_language),
        key.visitor_id(visitor.ip, user_agent),
        browser,
        outcome,
        place.country,
        place.region,
        place.city,
        arm,
        domain,
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
    """The host name of a ``Referer`` header as a visit keeps it (storable), or None if it
    has none a URL parser accepts. Cached: a few pages send most visitors.
    """
    return _host(referer[:MAX_STORED_TEXT])


@lru_cache(maxsize=2048)
def _host(referer: str) -> str | None:
    # ``urlsplit`` raises on an unclosed IPv6 bracket (``http://[``), which any client can
    # send: that must cost the visitor nothing but the referer.
    try:
        return storable(urlsplit(referer).hostname)
    except ValueError:
        return None
