"""Click ids: a counted redirect's signed receipt, handed to the target as ``sl_click``.

A click id holds what a conversion needs to know about its click (the link's code, the
moment and the visitor's keyed id) and an HMAC over them, so the redirect writes nothing
more than the visit it already records, and any worker sharing the Shortener's secret can
check one. Layout (then base64url without padding)::

    version (1) | clicked at, ms since the epoch (6) | visitor id (8) | code (UTF-8) | MAC (12)

The MAC is HMAC-SHA256 under a key derived from the secret, cut to 96 bits: forging one
takes 2**96 tries on average, each a request. Ids are not encrypted: the code and time
can be read (they are in the visit anyway); the visitor id is already a keyed hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from .errors import ClickExpired, InvalidClickId

__all__ = ["DEFAULT_CLICK_ID_TTL", "MAX_CLICK_ID_LENGTH", "Click", "ClickIds"]

#: How long a click id may be reported on by default: 30 days, in seconds.
DEFAULT_CLICK_ID_TTL: Final = 30 * 86400
#: The longest text accepted as a click id (a 64-character ASCII code makes 124).
MAX_CLICK_ID_LENGTH: Final = 400
#: How far in the future a click may seem (clocks of workers differ a little).
_SKEW: Final = timedelta(minutes=5)
_VERSION: Final = 1
_MAC_BYTES: Final = 12
_HEAD: Final = 1 + 6 + 8
_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Click:
    """What a genuine click id says: which link, when, and who (a keyed id or None)."""

    code: str
    at: datetime
    visitor_id: str | None


class ClickIds:
    """Mints and checks the click ids of one Shortener (one key, one time to live)."""

    def __init__(self, key: bytes, *, ttl: int = DEFAULT_CLICK_ID_TTL) -> None:
        self._key = key
        self.ttl = ttl

    def mint(self, code: str, at: datetime, visitor_id: str | None) -> str:
        """The click id of a counted redirect of ``visitor_id`` to ``code`` at ``at``."""
        millis = max(0, (at - _EPOCH) // timedelta(milliseconds=1))
        visitor = _visitor_bytes(visitor_id)
        payload = (
            bytes([_VERSION])
            + millis.to_bytes(6, "big")
            + visitor
            + code.encode("utf-8", "surrogatepass")
        )
        text = base64.urlsafe_b64encode(payload + self._mac(payload)).decode("ascii")
        return text.rstrip("=")

    def check(self, click_id: object, now: datetime) -> Click:
        """The click behind ``click_id``; ``InvalidClickId`` unless this Shortener made it,
        ``ClickExpired`` if it is older than the time to live."""
        if not isinstance(click_id, str) or not 0 < len(click_id) <= MAX_CLICK_ID_LENGTH:
            raise InvalidClickId()
        if not _SHAPE.fullmatch(click_id):
            raise InvalidClickId()
        try:
            raw = base64.urlsafe_b64decode(click_id + "=" * (-len(click_id) % 4))
        except (binascii.Error, ValueError):
            raise InvalidClickId() from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(payload) <= _HEAD or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidClickId()
        if payload[0] != _VERSION:  # pragma: no cover - a signed id of a future version
            raise InvalidClickId("made by a newer version of suolink")
        try:
            code = payload[_HEAD:].decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - signed, so made from a str
            raise InvalidClickId() from None
        at = _EPOCH + timedelta(milliseconds=int.from_bytes(payload[1:7], "big"))
        visitor = payload[7:_HEAD]
        visitor_id = None if visitor == bytes(8) else visitor.hex()
        if at > now + _SKEW:
            raise InvalidClickId("made in the future")
        if now - at > timedelta(seconds=self.ttl):
            raise ClickExpired(at)
        return Click(code, at, visitor_id)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _visitor_bytes(visitor_id: str | None) -> bytes:
    """The 8 bytes of a 16-hex-digit visitor id; zeros for none (or one of another shape)."""
    if visitor_id is None or len(visitor_id) != 16:
        return bytes(8)
    try:
        return bytes.fromhex(visitor_id)
    except ValueError:
        return bytes(8)
