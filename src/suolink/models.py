"""The plain values that flow through suolink: links, visitors, visits and decisions.

All are frozen dataclasses, so a value handed to a backend, a policy or an adapter can
never be changed behind its back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Final

__all__ = [
    "AntiBlockMode",
    "Conversion",
    "Decision",
    "Headers",
    "Link",
    "LinkPage",
    "PageDecision",
    "Redirect",
    "StreamedDecision",
    "Visit",
    "VisitRecord",
    "VisitResult",
    "Visitor",
    "utcnow",
]

Headers = tuple[tuple[str, str], ...]
"""Header name/value pairs, in order; names as they should be sent."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind suolink stores)."""
    return datetime.now(UTC)


class AntiBlockMode(StrEnum):
    """What a link does for visitors inside apps that block outside links."""

    GUIDE = "guide"  #: show the "open in your browser" guide page
    AUTO = "auto"  #: try a documented escape first, fall back to the guide
    OFF = "off"  #: redirect everyone, even inside blocking apps


def _freeze_pairs(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Headers:
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


#: ``field`` metadata of the ``Link`` attributes the backend keeps (identity, counters).
_KEPT: Final = {"kept": True}


@dataclass(frozen=True, slots=True)
class Link:
    """A short link as stored: where it points and the rules for opening it.

    ``anti_block`` and ``allow`` hold platform ids or groups from the detection
    vocabulary; ``anti_block=None`` means the default preset and ``allow=None`` means
    every platform may open the link. ``targets`` maps a platform id (``ios``,
    ``android``, ``wechat``, …) to the URL used for visitors of that platform.
    """

    code: str = field(metadata=_KEPT)
    url: str
    created_at: datetime = field(default_factory=utcnow, metadata=_KEPT)
    expires_at: datetime | None = None
    max_visits: int | None = None
    password_hash: str | None = None
    anti_block: frozenset[str] | None = None
    anti_block_mode: AntiBlockMode = AntiBlockMode.AUTO
    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    targets: tuple[tuple[str, str], ...] = ()
    title: str | None = None
    tags: tuple[str, ...] = ()
    disabled: bool = False
    visits: int = field(default=0, metadata=_KEPT)
    language: str | None = None
    # -- integrations: preview cards ------------------------------------------------
    og_title: str | None = None
    og_description: str | None = None
    og_image: str | None = None
    # -- integrations: weighted targets (A/B split): (arm name, URL, weight) ----------
    split: tuple[tuple[str, str, int], ...] = ()
    # -- integrations: GeoIP rules (ISO 3166-1 alpha-2 countries) ----------------------
    allow_countries: frozenset[str] | None = None
    deny_countries: frozenset[str] = frozenset()
    geo_targets: tuple[tuple[str, str], ...] = ()
    # -- integrations: abuse (an interstitial; a link disabled for abuse) --------------
    warning: str | None = None
    abuse_status: int | None = None
    abuse_message: str | None = None
    # -- people: per-recipient links grouped by campaign (docs/people.md) ---------------
    recipient: str | None = None
    campaign: str | None = None
    # -- domains: the short domain (or pool of domains) the link lives on --------------
    domain: str | None = None
    pool: str | None = None
    # -- conversions: the short URL's query, a click id and UTM tags on the target ------
    #: None: the Shortener's default (``forward_query``, ``forward_click_id``).
    forward_query: bool | None = None
    forward_click_id: bool | None = None
    #: UTM parameters (``source``, ``medium``, …) set on the target of every redirect.
    utm: tuple[tuple[str, str], ...] = ()

    #: Fields an ``update`` may change: all but those marked as the backend's to keep
    #: (``code``, ``created_at``, ``visits``). Set below the class.
    UPDATABLE: ClassVar[frozenset[str]]

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def is_exhausted(self) -> bool:
        return self.max_visits is not None and self.visits >= self.max_visits

    def target_for(self, platforms: Iterable[str]) -> str:
        """The URL for a visitor on these platforms: the first matching target, else ``url``."""
        wanted = set(platforms)
        for platform, url in self.targets:
            if platform in wanted:
                return url
        return self.url

    def with_changes(self, changes: Mapping[str, Any]) -> Link:
        """A copy with ``changes`` applied; only :attr:`UPDATABLE` fields may change."""
        unknown = set(changes) - self.UPDATABLE
        if unknown:
            raise ValueError(f"fields that cannot be updated: {sorted(unknown)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict holding every field (datetimes as ISO 8601, sets sorted)."""
        from .fields import link_to_json  # fields imports this module

        return link_to_json(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Link:
        """The inverse of :meth:`to_dict`; used by backends that store JSON."""
        from .fields import link_from_json  # fields imports this module

        return link_from_json(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Link:
        return cls.from_dict(json.loads(text))


Link.UPDATABLE = frozenset(f.name for f in fields(Link) if not f.metadata.get("kept"))


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Visitor:
    """Who is asking to open a link, as an adapter saw the request.

    ``headers`` keeps only what detection and pages need (names lower-cased).
    ``password`` is what the visitor typed on the password page, if anything.
    ``query`` holds the request's query pairs (the first few): an in-app browser's escape
    hop is told by them (see :func:`suolink.escapes.is_escape_hop`).
    """

    user_agent: str = ""
    ip: str | None = None
    headers: Headers = ()
    accept_language: str = ""
    referer: str | None = None
    password: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    #: The request's ``Cookie`` header (bounded): read only for the visitor cookie of
    #: ``track_people`` (:mod:`suolink.identity`).
    cookie: str | None = None

    def __post_init__(self) -> None:
        # An empty tuple is already what freezing makes of it: most visitors send none of
        # the hint headers and no query, and this runs on every request (2.4 µs → 0.2).
        headers = self.headers
        if type(headers) is not tuple or headers:
            pairs = tuple((k.lower(), v) for k, v in _freeze_pairs(headers))
            object.__setattr__(self, "headers", pairs)
        query = self.query
        if type(query) is not tuple or query:
            object.__setattr__(self, "query", _freeze_pairs(query))

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """One recorded click on a link, with what detection made of the visitor.

    ``visitor_id`` is a keyed hash of IP and user agent, so repeat visitors can be told
    apart without storing who they are; ``ip`` is kept only if the host app opts in.
    ``outcome`` says what the visitor got: ``redirect``, ``guide``, ``denied``,
    ``preview`` or ``bot``; only redirects count towards ``max_visits``. ``country``
    (ISO 3166-1 alpha-2), ``region`` and ``city`` come from the GeoIP database, when one is
    configured; ``arm`` names the weighted-split arm a redirect was sent to.
    """

    code: str
    at: datetime = field(default_factory=utcnow)
    ip: str | None = None
    user_agent: str = ""
    referer: str | None = None
    app: str | None = None
    os: str | None = None
    device: str | None = None
    is_bot: bool = False
    language: str | None = None
    visitor_id: str | None = None
    browser: str | None = None
    outcome: str = "redirect"
    # -- integrations: GeoIP and weighted targets ----------------------------------------
    country: str | None = None
    region: str | None = None
    city: str | None = None
    arm: str | None = None
    # -- domains: the short domain the visit came in on (None: no domains, or unknown) --
    domain: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_record(cls, record: VisitRecord) -> Visit:
        """The visit a :data:`VisitRecord` holds (its values in field order)."""
        (
            code,
            at,
            ip,
            user_agent,
            referer,
            app,
            os,
            device,
            is_bot,
            language,
            vid,
            browser,
            outcome,
            country,
            region,
            city,
            arm,
            domain,
        ) = record
        return cls(
            code=code,
            at=at,
            ip=ip,
            user_agent=user_agent,
            referer=referer,
            app=app,
            os=os,
            device=device,
            is_bot=is_bot,
            language=language,
            visitor_id=vid,
            browser=browser,
            outcome=outcome,
            country=country,
            region=region,
            city=city,
            arm=arm,
            domain=domain,
        )

    def to_record(self) -> VisitRecord:
        """This visit as a :data:`VisitRecord`."""
        return (
            self.code,
            self.at,
            self.ip,
            self.user_agent,
            self.referer,
            self.app,
            self.os,
            self.device,
            self.is_bot,
            self.language,
            self.visitor_id,
            self.browser,
            self.outcome,
            self.country,
            self.region,
            self.city,
            self.arm,
            self.domain,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Visit:
        return cls(
            code=data["code"],
            at=datetime.fromisoformat(data["at"]),
            ip=data.get("ip"),
            user_agent=data.get("user_agent") or "",
            referer=data.get("referer"),
            app=data.get("app"),
            os=data.get("os"),
            device=data.get("device"),
            is_bot=bool(data.get("is_bot", False)),
            language=data.get("language"),
            visitor_id=data.get("visitor_id"),
            browser=data.get("browser"),
            outcome=data.get("outcome") or "redirect",
            country=data.get("country"),
            region=data.get("region"),
            city=data.get("city"),
            arm=data.get("arm"),
            domain=data.get("domain"),
        )


VisitRecord = tuple[
    str,  # code
    datetime,  # at
    str | None,  # ip
    str,  # user_agent
    str | None,  # referer
    str | None,  # app
    str | None,  # os
    str | None,  # device
    bool,  # is_bot
    str | None,  # language
    str | None,  # visitor_id
    str | None,  # browser
    str,  # outcome
    str | None,  # country
    str | None,  # region
    str | None,  # city
    str | None,  # arm
    str | None,  # domain
]
"""A :class:`Visit`'s values as a plain tuple in field order: what the redirect path builds
and an in-process backend appends (a tuple is made ten times faster than the dataclass)."""


@dataclass(frozen=True, slots=True)
class VisitResult:
    """What :meth:`Storage.record_visit` decided: was the visit allowed, and the count after."""

    allowed: bool
    visits: int


@dataclass(frozen=True, slots=True)
class LinkPage:
    """One page of :meth:`Storage.list`: links newest first, and the cursor for the next."""

    links: tuple[Link, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to answer a visitor: an adapter sends ``status``, ``headers`` and ``body`` as is.

    ``reason`` names why (``redirect``, ``not_found``, ``expired``, ``password``, …) for
    logs and tests; it is never sent.
    """

    status: int
    headers: Headers = ()
    body: bytes = b""
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirect(Decision):
    """Send the visitor on to ``location``."""

    location: str
    status: int = 302
    reason: str = "redirect"

    @classmethod
    def to(cls, location: str, status: int = 302, *, reason: str = "redirect") -> Redirect:
        """Kept for callers; built by :func:`suolink.http.responses.redirect`."""
        from .http.responses import redirect  # models is the lowest layer: no import cycle

        return redirect(location, status, reason=reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageDecision(Decision):
    """Show an HTML page (guide, password, denial, not found, expired)."""

    html: str = ""

    @classmethod
    def html_page(cls, status: int, html: str, **options: Any) -> PageDecision:
        """Kept for callers: :func:`suolink.http.responses.html_page` (``reason``, ``nonce``,
        ``extra_headers``) builds it."""
        from .http.responses import html_page  # models is the lowest layer: no import cycle

        return html_page(status, html, **options)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamedDecision(Decision):
    """An answer whose body is made a chunk at a time (exports); ``body`` stays empty.

    Adapters that can stream send ``chunks`` as they come; :meth:`collect` joins them for
    those that cannot. The iterator is one-shot: send the answer once.
    """

    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()), compare=False)

    def collect(self) -> bytes:
        """The whole body at once (for adapters and tests that cannot stream)."""
        return b"".join(self.chunks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    """What a visitor did after a click, as the host reported it: a lead, a sale, ….

    ``click_id`` is the id the redirect handed the target (``sl_click``); ``code``,
    ``clicked_at`` and ``visitor_id`` are read from it, so a conversion is tied to its
    link (and through the link to its recipient and campaign) without a lookup.
    ``value`` is an exact amount in ``currency`` (ISO 4217), both or neither. One
    conversion per (``click_id``, ``kind``): reporting it again changes nothing.
    """

    click_id: str
    code: str
    kind: str
    at: datetime
    clicked_at: datetime
    visitor_id: str | None = None
    value: Decimal | None = None
    currency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times ISO 8601, the value as a decimal string)."""
        return {
            "click_id": self.click_id,
            "code": self.code,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "clicked_at": self.clicked_at.isoformat(),
            "visitor_id": self.visitor_id,
            "value": None if self.value is None else str(self.value),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conversion:
        """The inverse of :meth:`to_dict` (what JSON stores read back)."""
        value = data.get("value")
        return cls(
            click_id=str(data["click_id"]),
            code=str(data["code"]),
            kind=str(data["kind"]),
            at=datetime.fromisoformat(data["at"]),
            clicked_at=datetime.fromisoformat(data["clicked_at"]),
            visitor_id=data.get("visitor_id"),
            value=None if value is None else Decimal(value),
            currency=data.get("currency"),
        )
