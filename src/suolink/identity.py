"""Who a visitor is across links and across the WeChat-to-browser hop (``track_people``).

A first-party cookie holds a random visitor id, signed so nobody can claim another's:
when present it is the visit's ``visitor_id`` instead of the hash of IP and user agent.
The guide page's copy link and escape URL carry a short-lived signed *hop token* with the
same id (``?_slh=…``), so the browser the visitor escapes to is the same person as the
in-app view; there the token becomes the browser's cookie too. A forged, altered or
expired cookie or token is ignored (the visitor is new), never an error.

Pure: no I/O, no framework; the Shortener asks, the adapters send the header it gives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .errors import ConfigurationError
from .models import Visitor

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_COOKIE",
    "DEFAULT_COOKIE_DAYS",
    "HOP_PARAM",
    "HOP_SECONDS",
    "MAX_COOKIE_HEADER",
    "PeopleIds",
    "Person",
    "without_hop",
]

#: The query parameter carrying the hop token; never forwarded to a target.
HOP_PARAM: Final = "_slh"
#: How long a hop token is good for: the time to tap "open in browser" or paste the link.
HOP_SECONDS: Final = 600
DEFAULT_COOKIE: Final = "sl_vid"
DEFAULT_COOKIE_DAYS: Final = 365
#: Characters of a ``Cookie`` header read (browsers send far less to one site).
MAX_COOKIE_HEADER: Final = 4096
#: What a cookie name may be (RFC 6265 token characters).
COOKIE_NAME: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_ID_BYTES: Final = 9  # 12 characters of base64url
_SIG_CHARS: Final = 22  # 132 bits of HMAC-SHA256


@dataclass(frozen=True, slots=True)
class Person:
    """The visitor id of one visit, and the ``Set-Cookie`` value to send (None: keep)."""

    id: str
    set_cookie: str | None = None


def without_hop(visitor: Visitor) -> Visitor:
    """``visitor`` without the hop token in its query (what targets and pages may see)."""
    query = visitor.query
    if not query or not any(name == HOP_PARAM for name, _ in query):  # most have no query
        return visitor
    from dataclasses import replace

    return replace(visitor, query=tuple(p for p in visitor.query if p[0] != HOP_PARAM))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class PeopleIds:
    """Signs and checks visitor cookies and hop tokens with one key.

    ``key`` should come from the Shortener's ``secret``: with a key of the process only,
    every restart makes every visitor new.
    """

    def __init__(
        self,
        key: bytes,
        *,
        cookie_name: str = DEFAULT_COOKIE,
        cookie_days: int = DEFAULT_COOKIE_DAYS,
        hop_seconds: int = HOP_SECONDS,
    ) -> None:
        if not isinstance(cookie_name, str) or not COOKIE_NAME.fullmatch(cookie_name):
            raise ConfigurationError(f"people_cookie must be a cookie name, not {cookie_name!r}")
        if isinstance(cookie_days, bool) or not isinstance(cookie_days, int) or cookie_days < 1:
            raise ConfigurationError("people_cookie_days must be a whole number from 1")
        self._key = key
        self.cookie_name = cookie_name
        self.max_age = cookie_days * 86_400
        self.hop_seconds = hop_seconds

    def _sign(self, kind: str, payload: str) -> str:
        digest = hmac.new(self._key, f"{kind}|{payload}".encode(), hashlib.sha256).digest()
        return _b64(digest)[:_SIG_CHARS]

    def _verified(self, kind: str, payload: str, signature: str) -> bool:
        return hmac.compare_digest(self._sign(kind, payload), signature)

    @staticmethod
    def new_id() -> str:
        """A fresh random visitor id (12 characters of base64url)."""
        return _b64(secrets.token_bytes(_ID_BYTES))

    # -- the cookie -------------------------------------------------------------------

    def cookie_value(self, visitor_id: str) -> str:
        return f"{visitor_id}.{self._sign('c', visitor_id)}"

    def from_cookie(self, value: str) -> str | None:
        """The visitor id a cookie value holds, if its signature is right; else None."""
        visitor_id, dot, signature = value.strip().strip('"').partition(".")
        if not dot or not visitor_id or len(visitor_id) > 64:
            return None
        return visitor_id if self._verified("c", visitor_id, signature) else None

    def from_cookie_header(self, header: str | None) -> str | None:
        """The visitor id of this cookie in a ``Cookie`` header (the first valid one)."""
        if not header:
            return None
        for part in header[:MAX_COOKIE_HEADER].split(";"):
            name, eq, value = part.partition("=")
            if eq and name.strip() == self.cookie_name:
                found = self.from_cookie(value)
                if found is not None:
                    return found
        return None

    def set_cookie(self, visitor_id: str, *, secure: bool) -> str:
        """The ``Set-Cookie`` header value: HttpOnly, SameSite=Lax, Secure over https."""
        parts = [
            f"{self.cookie_name}={self.cookie_value(visitor_id)}",
            f"Max-Age={self.max_age}",
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    # -- the hop token ----------------------------------------------------------------

    def hop_token(self, visitor_id: str, now: datetime) -> str:
        """A token naming ``visitor_id`` until ``hop_seconds`` from ``now``."""
        expires = format(int(now.timestamp()) + self.hop_seconds, "x")
        payload = f"{visitor_id}.{expires}"
        return f"{payload}.{self._sign('h', payload)}"

    def from_hop(self, token: str, now: datetime) -> str | None:
        """The visitor id of a hop token that is signed and not expired; else None."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0] or len(parts[0]) > 64 or len(parts[1]) > 12:
            return None
        visitor_id, expires, signature = parts
        try:
            until = int(expires, 16)
        except ValueError:
            return None
        if until < now.timestamp() or not self._verified("h", f"{visitor_id}.{expires}", signature):
            return None
        return visitor_id

    def hop_url(self, short_url: str, visitor_id: str, now: datetime) -> str:
        """``short_url`` with the hop token added to its query."""
        glue = "&" if "?" in short_url else "?"
        return f"{short_url}{glue}{HOP_PARAM}={self.hop_token(visitor_id, now)}"

    # -- one visit --------------------------------------------------------------------

    def identify(self, visitor: Visitor, now: datetime, *, secure: bool) -> Person:
        """Who ``visitor`` is: a valid hop token's id, else the cookie's, else a new id.

        The token wins over a cookie (the browser a person escaped to joins the in-app
        identity from then on); the cookie is (re)set whenever the id is not the one it
        already holds.
        """
        cookie = self.from_cookie_header(visitor.cookie)
        hop = next((value for name, value in visitor.query if name == HOP_PARAM), None)
        hopped = None if hop is None else self.from_hop(hop, now)
        chosen = hopped or cookie or self.new_id()
        if chosen == cookie:
            return Person(chosen)
        return Person(chosen, self.set_cookie(chosen, secure=secure))
