"""The Shortener: the one service object that ties codes, rules, pages and storage together.

Adapters and the CLI only ever talk to a Shortener; everything a link does when it is
created or opened is decided here (and in the pure modules it calls).
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace as _replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Unpack

from . import people, visits
from .abuse import AbuseGuard, UrlChecker
from .abuse import Action as AbuseAction
from .backends import open_storage
from .backends.base import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    HoldsLinksInProcess,
    KeepsOutbox,
    PeopleTotals,
    PersonRow,
    RecordsConversions,
    RecordsInOneTrip,
    RestoresInBatches,
    Storage,
    TracksPeople,
)
from .clicks import DEFAULT_CLICK_ID_TTL, ClickIds
from .codes import DEFAULT_ALPHABET, DEFAULT_RESERVED, CodeFactory, CodeStrategy
from .conversions import (
    Funnel,
    FunnelReport,
    add_funnels,
    check_amount,
    check_kind,
    fold_funnel,
)
from .detect import Client, default_detector
from .detect.platforms import PLATFORM_IDS, normalize_platforms
from .domains import parse_domains
from .errors import (
    BackendError,
    BlockedURL,
    CapabilityMissing,
    CodeSpaceExhausted,
    CodeTaken,
    ConfigurationError,
    EndpointNotFound,
    InvalidInput,
    InvalidOption,
    InvalidURL,
    LinkNotFound,
    MissingDependencyError,
)
from .events import Callback, Event, EventBus, check_event_name
from .exports import table_csv
from .fields import Action
from .forwarding import with_click_id, with_query
from .geoip import NOWHERE, GeoIP, Place, PlaceFinder, open_geoip
from .hotpath import HotPath, hot_path
from .http.responses import redirect
from .identity import DEFAULT_COOKIE, DEFAULT_COOKIE_DAYS, PeopleIds, Person, without_hop
from .models import Conversion, Decision, Link, LinkPage, Visit, Visitor, VisitRecord, utcnow
from .options import CommonSettings, LinkChanges, LinkSettings, validate_settings
from .outbox import Delivery, Endpoint, Message
from .plans import RedirectPlans
from .policy import BotAction, Ruling, Verdict, decide
from .qr import QRCache
from .qr import decode as decode_qr
from .qr.images import ImageSource
from .render import language_hint, pick_language, template_dirs
from .render.pages import GUIDE_QR, PageContext, decision_for, guide_qr_src
from .search import check_query, search_links, search_page
from .shortener_domains import DomainMethods, Where
from .stats import LinkStats, link_stats
from .urls import DEFAULT_MAX_URL_LENGTH, ShortBase, URLRules
from .webhooks import Webhooks

if TYPE_CHECKING:
    from .webhook_worker import WebhookWorker

__all__ = ["REDIRECT_STATUSES", "Shortener"]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Generated codes tried per ``shorten`` before giving up: a taken one (an alias that
#: happens to look generated, a tombstone, a counter that restarted) just means "next".
GENERATION_ATTEMPTS: Final = 16
#: Verdicts ``protect`` answers with a page; any other means "serve the page as usual".
_PROTECT_PAGES: Final = frozenset({Verdict.GUIDE, Verdict.DENIED, Verdict.BOT_DENIED})
#: A click a little before its link's creation is still its own (clocks of workers differ).
_CLOCK_SKEW: Final = timedelta(minutes=5)


class Shortener(DomainMethods):
    """Create, resolve and manage short links over one storage backend.

    ``storage`` is a URL (``sqlite:///suolink.db``, ``memory://``, ``redis://…``) or a
    :class:`~suolink.backends.Storage`. ``secret`` salts the hashids codes; keep it
    stable and private, or codes are guessable from their order. A deleted code is
    retired for good unless ``reuse_deleted_codes``. It is thread-safe: share one per
    process.
    """

    def __init__(
        self,
        storage: str | Storage = "sqlite:///suolink.db",
        *,
        secret: str | None = None,
        base_url: str | None = None,
        code_strategy: CodeStrategy | str = CodeStrategy.HASHIDS,
        min_length: int = 5,
        random_length: int = 7,
        alphabet: str = DEFAULT_ALPHABET,
        reserved: Iterable[str] = DEFAULT_RESERVED,
        allowed_schemes: Iterable[str] = ("http", "https"),
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        redirect_status: int = 302,
        default_language: str | None = None,
        bot_action: BotAction | str = BotAction.REDIRECT,
        store_ip: bool = False,
        reuse_deleted_codes: bool = False,
        track_people: bool = False,
        people_cookie: str = DEFAULT_COOKIE,
        people_cookie_days: int = DEFAULT_COOKIE_DAYS,
        geoip_db: str | os.PathLike[str] | PlaceFinder | None = None,
        templates_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
        blocklist: str | os.PathLike[str] | Iterable[str] | None = None,
        check_url: UrlChecker | str | None = None,
        check_on_resolve: bool = False,
        domains: Iterable[str | Mapping[str, Any]] | str | None = None,
        unknown_host_redirect: str | None = None,
        forward_query: bool = False,
        forward_click_id: bool = False,
        click_id_ttl: int = DEFAULT_CLICK_ID_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if redirect_status not in REDIRECT_STATUSES:
            raise ConfigurationError(
                f"redirect_status must be one of {sorted(REDIRECT_STATUSES)}, "
                f"not {redirect_status!r}"
            )
        if base_url is not None and (
            not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
        ):
            raise ConfigurationError("base_url must be an http:// or https:// URL")
        self.storage: Storage = open_storage(storage)
        self.secret = secret
        self.base_url = base_url.rstrip("/") if base_url else None
        self.codes = CodeFactory(
            secret=secret,
            strategy=code_strategy,
            min_length=min_length,
            random_length=random_length,
            alphabet=alphabet,
            reserved=reserved,
        )
        self.url_rules = URLRules(
            allowed_schemes=frozenset(allowed_schemes), max_length=max_url_length
        )
        self.redirect_status = redirect_status
        self.default_language = default_language
        try:
            self.bot_action = BotAction(bot_action)
        except ValueError:
            raise ConfigurationError("bot_action must be 'redirect' or 'deny'") from None
        self.store_ip = bool(store_ip)
        self.reuse_deleted_codes = bool(reuse_deleted_codes)
        #: People across links (docs/people.md): visits carry the visitor cookie's id.
        self.track_people = bool(track_people)
        people_key = (
            hmac.new(secret.encode(), b"suolink/people/v1", hashlib.sha256).digest()
            if secret
            else secrets.token_bytes(32)
        )
        #: The visitor cookie and hop token of ``track_people``.
        self.people_ids = PeopleIds(
            people_key, cookie_name=people_cookie, cookie_days=people_cookie_days
        )
        self._visitor_key = (
            hmac.new(secret.encode(), b"suolink/visitor-id/v1", hashlib.sha256).digest()
            if secret
            else secrets.token_bytes(32)
        )
        self._visitor_ids = visits.KeyedHash(self._visitor_key)
        self._address_key = (
            hmac.new(secret.encode(), b"suolink/rate-limit/v1", hashlib.sha256).digest()
            if secret
            else secrets.token_bytes(32)
        )
        #: Where visitors are (country, region, city), or None: no GeoIP database.
        self.geoip: PlaceFinder | None = open_geoip(geoip_db)
        #: The host's template folders (``templates_dir``), searched before the built-in.
        self.template_dirs = template_dirs(templates_dir)
        #: The abuse rules: a domain blocklist and the host's ``check_url`` hook.
        self.abuse = AbuseGuard(
            blocklist=blocklist, check_url=check_url, check_on_resolve=check_on_resolve
        )
        self._owns_geoip = isinstance(self.geoip, GeoIP) and self.geoip is not geoip_db
        #: Defaults of the links' ``forward_query``/``forward_click_id`` (None on a link).
        self.forward_query = bool(forward_query)
        self.forward_click_id = bool(forward_click_id)
        if isinstance(click_id_ttl, bool) or not isinstance(click_id_ttl, int) or click_id_ttl < 1:
            raise ConfigurationError("click_id_ttl must be a whole number of seconds, 1 or more")
        # Keyed by the secret, so every worker sharing it accepts the others' click ids;
        # without a secret only this process's own (and none after a restart).
        self._click_ids = ClickIds(
            hmac.new(secret.encode(), b"suolink/click-id/v1", hashlib.sha256).digest()
            if secret
            else secrets.token_bytes(32),
            ttl=click_id_ttl,
        )
        self.clock = clock
        # -- short domains (shortener_domains.py) --
        self._init_domains(parse_domains(domains))
        if unknown_host_redirect is not None and (
            not isinstance(unknown_host_redirect, str)
            or not unknown_host_redirect.startswith(("http://", "https://"))
        ):
            raise ConfigurationError("unknown_host_redirect must be an http:// or https:// URL")
        #: Where a request on a host that is not one of the domains is sent (None: 404).
        self.unknown_host_redirect = unknown_host_redirect
        self._close_lock = threading.Lock()
        self._qr_cache: QRCache | None = None
        # The storage is fixed, so what it can do is asked once (a Protocol isinstance
        # check costs microseconds).
        storage_now = self.storage
        self._one_trip = storage_now if isinstance(storage_now, RecordsInOneTrip) else None
        self._in_process = storage_now if isinstance(storage_now, HoldsLinksInProcess) else None
        detector = default_detector()
        self._detect = detector.detect  # what ``detect`` calls, one call fewer
        self._plans = RedirectPlans(
            check_code=self.codes.check_code,
            redirect_status=redirect_status,
            bot_action=self.bot_action,
            forward_query=self.forward_query,
            forward_click_id=self.forward_click_id,
        )
        #: In-process hooks (:mod:`suolink.events`), run off the request path.
        self.events = EventBus()
        #: Webhook endpoints and the outbox (:mod:`suolink.webhooks`); None if the
        #: storage keeps no outbox.
        self.webhooks: Webhooks | None = (
            Webhooks(storage_now, self.events, self.clock)
            if isinstance(storage_now, KeepsOutbox)
            else None
        )
        # until the first visit starts the watch (no outbox: nothing to watch)
        self._webhooks_unwatched = self.webhooks is not None
        #: The planned redirect tried first by ``resolve`` (:mod:`suolink.hotpath`): not
        #: for people tracked or links judged on each visit; live once the webhook
        #: watch has started (the first visit's full path starts it).
        self._hot_path: HotPath | None = (
            hot_path(
                self._in_process,
                self._plans,
                detector=detector,
                clock=self.clock,
                key=self._visitor_ids,
                store_ip=self.store_ip,
                geoip=self.geoip,
                events=self.events,
                emit=self._emit_visit,
            )
            if self._in_process is not None
            and not self.track_people
            and not (self.abuse.check_on_resolve and self.abuse.active)
            else None
        )
        self._hot: HotPath | None = None if self._webhooks_unwatched else self._hot_path

    # -- creating and managing links ---------------------------------------------------

    def shorten(
        self,
        url: str,
        *,
        code: str | None = None,
        strategy: CodeStrategy | str | None = None,
        base_url: str | None = None,
        **settings: Unpack[LinkSettings],
    ) -> Link:
        """Store a new short link to ``url`` and return it.

        ``code`` asks for a custom alias (``CodeTaken`` if in use); otherwise a code is
        made by ``strategy`` (the Shortener's default unless given). ``settings`` are the
        link's settings (``expires_at``, ``max_visits``, ``password``, ``anti_block``,
        ``allow``, ``deny``, ``targets``, ``title``, ``tags`` …: see
        :data:`suolink.options.SETTING_NAMES`). They are checked before anything is
        stored; a refusal raises an ``InvalidInput`` subclass. A target under this
        Shortener's own short links (its ``base_url``, or ``base_url`` here: the one the
        request came in on) is refused, since following it would loop and count.
        """
        link = self._shorten(url, code=code, strategy=strategy, base_url=base_url, **settings)
        self._emit_link("link.created", link)
        return link

    def _shorten(
        self,
        url: str,
        *,
        code: str | None,
        strategy: CodeStrategy | str | None,
        base_url: str | None,
        **settings: Any,
    ) -> Link:
        fields = self._validate({"url": url, **settings}, base_url=base_url, alias=code)
        fields = self._bind_domain(fields, settings, creating=True)
        now = self.clock()
        if code is not None:
            alias = self.codes.validate_alias(code)
            return self.storage.create(Link(code=alias, created_at=now, **fields))
        chosen = self.codes.strategy if strategy is None else CodeStrategy(strategy)
        for _ in range(GENERATION_ATTEMPTS):
            generated = (
                self.codes.random_code()
                if chosen is CodeStrategy.RANDOM
                else self.codes.hashids_code(self.storage.next_id)
            )
            try:
                return self.storage.create(Link(code=generated, created_at=now, **fields))
            except CodeTaken:
                continue  # an alias, a tombstone or a restarted counter holds it: next
        raise CodeSpaceExhausted(
            f"{GENERATION_ATTEMPTS} generated {chosen.value} codes in a row were taken "
            "(by aliases, deleted codes or a restarted counter); "
            + (
                "raise random_length"
                if chosen is CodeStrategy.RANDOM
                else "the id counter is far behind the codes in use: raise it in the storage"
            )
        )

    def get(self, code: str) -> Link:
        """The link with ``code``; ``LinkNotFound`` if there is none."""
        link = self.storage.get(self.codes.check_code(code))
        if link is None:
            raise LinkNotFound(code)
        return link

    def update(
        self, code: str, *, base_url: str | None = None, **settings: Unpack[LinkChanges]
    ) -> Link:
        """Change settings of an existing link (same names as :meth:`shorten`, and ``url``).

        ``base_url`` is the request's, refused as a target like the configured one.
        """
        checked = self.codes.check_code(code)
        if not settings:
            return self.get(checked)
        fields = self._validate(settings, action="update", base_url=base_url)
        fields = self._bind_domain(fields, settings, creating=False)
        link = self.storage.update(checked, fields)
        self._emit_link("link.updated", link)
        return link

    def delete(self, code: str) -> bool:
        """Delete the link and its visits; False if there was no such link.

        The code stays retired (a tombstone): nobody can claim it again and old posters
        lead nowhere rather than to someone else's target. ``reuse_deleted_codes`` frees it.
        """
        checked = self.codes.check_code(code)
        deleted = self.storage.delete(checked, tombstone=not self.reuse_deleted_codes)
        if deleted:
            self.emit("link.deleted", {"code": checked})
        return deleted

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        tag: str | None = None,
        q: str | None = None,
    ) -> LinkPage:
        """Links newest first, a page at a time (pass back ``next_cursor``).

        ``q`` keeps links whose code, URL, title or a tag contains it (any case). It is a
        scan (:mod:`suolink.search`): a page may come back short with a cursor to go on.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidOption("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
        needle = check_query(q)
        if needle is None:
            return self.storage.list(cursor=cursor, limit=limit, tag=tag)
        return search_page(self.storage, needle, cursor=cursor, limit=limit, tag=tag)

    def iter_links(
        self, *, tag: str | None = None, q: str | None = None, cursor: str | None = None
    ) -> Iterator[Link]:
        """Every link (matching ``q`` if given), newest first, paging through the backend."""
        return search_links(self.storage, check_query(q), cursor=cursor, tag=tag)

    def visits(
        self, code: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Visit]:
        """A link's recorded visits, oldest first, within ``[since, until)``."""
        link = self.get(code)
        return iter(self.storage.visits(link.code, since=since, until=until))

    def stats(
        self, code: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> LinkStats:
        """Counts of the link's visits by platform, app, OS, device and day.

        From the counts the backend keeps at write time when it can (whole UTC days),
        else by folding raw visits; see :func:`suolink.stats.link_stats`.
        """
        link = self.get(code)
        stats = link_stats(self.storage, link.code, since=since, until=until)
        if isinstance(self.storage, RecordsConversions):
            funnel = self._funnel(self.storage, link.code, stats.redirects, since, until)
            stats = _replace(stats, funnel=funnel)
        return stats

    def short_url(
        self,
        link_or_code: Link | str,
        *,
        base_url: str | None = None,
        for_platform: str | None = None,
    ) -> str:
        """The public URL of a link: the Shortener's ``base_url`` + ``/`` + code.

        ``base_url`` here is the fallback for a Shortener configured without one: adapters
        pass the request's own base URL. With short domains, the URL is on the first
        healthy domain of the link's pool for ``for_platform`` (``wechat``, …; None: a
        domain no platform blocks), never on the request's host: see docs/domains.md.
        """
        code = link_or_code.code if isinstance(link_or_code, Link) else link_or_code
        if self.domain_book.all():
            platform = _one_platform(for_platform)
            link = link_or_code if isinstance(link_or_code, Link) else self._lookup(code)
            on_domain = self.domain_url(link, code, base_url=base_url, for_platform=platform)
            if on_domain is not None:
                return on_domain
        base = (self.base_url or base_url or "").rstrip("/")
        if not base:
            raise ConfigurationError("set base_url on the Shortener to build short URLs")
        return f"{base}/{code}"

    # -- people across links (docs/people.md) -------------------------------------------

    def shorten_for(
        self,
        url: str,
        recipients: Iterable[str],
        *,
        campaign: str | None = None,
        base_url: str | None = None,
        **settings: Unpack[CommonSettings],
    ) -> builtins.list[Link]:
        """One link to ``url`` per recipient (their opaque ids), sharing ``settings``.

        Every recipient is checked before anything is stored. If storing fails half-way,
        the links already made are deleted again (their codes freed) and the error is
        raised: all or nothing, though another reader may see the first links for a
        moment (no backend holds thousands of creations in one transaction).
        """
        wanted = people.check_recipients(recipients)
        self._validate({"url": url, "campaign": campaign, **settings}, base_url=base_url)
        made: builtins.list[Link] = []
        try:
            for recipient in wanted:
                made.append(
                    self.shorten(
                        url, base_url=base_url, recipient=recipient, campaign=campaign, **settings
                    )
                )
        except BaseException:
            for link in made:
                self.storage.delete(link.code, tombstone=False)
            raise
        return made

    def top_visitors(
        self,
        campaign: str | None = None,
        *,
        tag: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        min_clicks: int = 0,
    ) -> builtins.list[PersonRow]:
        """Who clicks most across links: visitors of a campaign's links (every campaign's
        with None), most clicks first, with distinct links and first/last seen.

        Read from the rows the backend keeps; with ``tag`` or ``since`` the links' raw
        visits are folded instead (links with the tag, else people links; cost grows with
        their visits).
        """
        chosen = people.check_campaign(campaign)
        people.check_limit(limit)
        least = people.check_min_clicks(min_clicks)
        if tag is None and since is None:
            return self._people("top visitors").top_visitors(chosen, limit=limit, min_clicks=least)
        links = (
            link
            for link in self.iter_links(tag=tag)
            if (chosen is None or link.campaign == chosen)
            and (tag is not None or people.is_people_link(link.campaign, link.recipient))
        )
        items = ((link, self.storage.visits(link.code, since=since)) for link in links)
        return people.fold_visitors(items, limit=limit, min_clicks=least)

    def top_recipients(
        self, campaign: str | None = None, *, limit: int = 20, min_clicks: int = 0
    ) -> builtins.list[PersonRow]:
        """Recipients of a campaign's links (every campaign's with None), most clicks on
        their links first, with reach: distinct visitors other than the recipient."""
        chosen = people.check_campaign(campaign)
        people.check_limit(limit)
        least = people.check_min_clicks(min_clicks)
        return self._people("top recipients").top_recipients(chosen, limit=limit, min_clicks=least)

    def people_totals(self, campaign: str | None = None) -> PeopleTotals:
        """A campaign's recipients, clicks and reach; ``.average_reach`` is its 裂变系数."""
        return self._people("campaign totals").people_totals(people.check_campaign(campaign))

    def campaigns(self) -> dict[str, PeopleTotals]:
        """Every campaign with a recipient's link, by name, with its totals."""
        return self._people("campaigns").campaigns()

    def people_csv(
        self, campaign: str | None = None, *, recipients: bool = True, min_clicks: int = 1
    ) -> Iterator[bytes]:
        """A segment as CSV: the campaign's recipients (or visitors) with at least
        ``min_clicks``, most clicks first (formula cells neutralised)."""
        chosen = people.check_campaign(campaign)
        least = people.check_min_clicks(min_clicks)
        store = self._people("people export")
        if recipients:
            rows = store.top_recipients(chosen, limit=None, min_clicks=least)
        else:
            rows = store.top_visitors(chosen, limit=None, min_clicks=least)
        columns = people.RECIPIENT_COLUMNS if recipients else people.VISITOR_COLUMNS
        return table_csv(columns, people.people_rows(rows, recipients=recipients))

    def people_funnels(
        self, campaign: str | None = None
    ) -> tuple[Funnel, dict[str, Funnel]] | None:
        """:meth:`funnel_report` with ``clicks="people"``: the campaign's funnel and each
        recipient's; None if the backend records no conversions (kept for old callers)."""
        chosen = people.check_campaign(campaign)
        self._people("people funnels")
        if not isinstance(self.storage, RecordsConversions):
            return None
        return self.funnel_report(campaign=chosen, clicks="people")

    def forget_visitor(self, visitor_id: str) -> bool:
        """Delete what is kept about one visitor (docs/people.md); True if anything was."""
        return self._people("forget_visitor").forget_visitor(people.check_id(visitor_id))

    def forget_recipient(self, recipient: str) -> bool:
        """Delete what is kept about one recipient; their links stay, made for nobody."""
        return self._people("forget_recipient").forget_recipient(people.check_id(recipient))

    def _people(self, feature: str) -> TracksPeople:
        storage = self.storage
        if not isinstance(storage, TracksPeople):
            raise CapabilityMissing(feature, "tracks_people", storage.url)
        return storage

    # -- QR codes -----------------------------------------------------------------------

    def qr(
        self,
        code: str,
        *,
        base_url: str | None = None,
        for_platform: str | None = None,
        **options: Any,
    ) -> bytes:
        """The QR code image of a link's short URL (PNG by default; see ``suolink.qr.encode``).

        Drawn once per (code, options) and kept in a bounded LRU cache. With short
        domains the URL is the one :meth:`short_url` gives for ``for_platform``.
        """
        url = self._qr_url(code, base_url, for_platform)
        return self._qr_images().encode(url, **options)

    def qr_would_draw(
        self,
        code: str,
        *,
        base_url: str | None = None,
        for_platform: str | None = None,
        **options: Any,
    ) -> bool:
        """True if :meth:`qr` with these arguments would draw afresh (not in the cache).

        Drawing is the expensive part; the HTTP layer rate-limits only these requests.
        Raises like :meth:`qr` for a missing link or bad options; never draws.
        """
        url = self._qr_url(code, base_url, for_platform)
        return self._qr_images().would_draw(url, **options)

    def _qr_url(self, code: str, base_url: str | None, for_platform: str | None) -> str:
        """What a link's QR code says: its short URL (a missing link raises here)."""
        return self.short_url(self.get(code), base_url=base_url, for_platform=for_platform)

    def shorten_from_image(
        self, image: ImageSource, *, base_url: str | None = None, **settings: Any
    ) -> Link:
        """Read the QR codes in ``image`` and shorten the first web link found in them.

        Raises ``InvalidURL`` if no code in the picture holds a link this Shortener accepts
        (a code holding one of its own short links is not accepted).
        """
        payloads = decode_qr(image)
        own = self._own_bases(base_url)
        last: InvalidURL | None = None
        for payload in payloads:
            try:
                url = self.url_rules.validate(payload, own=own, is_link=self._is_link)
            except InvalidURL as exc:
                last = exc
                continue
            return self.shorten(url, base_url=base_url, **settings)
        if last is not None:
            raise InvalidURL(last.url, f"the QR code does not hold a usable link: {last.reason}")
        raise InvalidURL("", "no QR code was found in the image")

    # -- resolving ------------------------------------------------------------------------

    def resolve(
        self,
        code: str,
        visitor: Visitor,
        *,
        base_url: str | None = None,
        record: bool = True,
    ) -> Decision:
        """What to answer ``visitor`` who opened ``/<code>``, with the visit recorded.

        Detects the visitor's platform, applies the link's rules (see
        :mod:`suolink.policy`) and renders the page or redirect. Only redirects of people
        count towards ``max_visits``; guide views, refusals, previews and bots are recorded
        apart. Never raises for bad codes or visitor data; storage failures raise
        ``BackendError`` so the adapter can answer 503. ``base_url`` is the request's, for
        the short link shown on pages when the Shortener has none configured.
        ``record=False`` (HTTP HEAD) gives the same answer with nothing recorded or counted.
        """
        hot = self._hot
        if hot is not None and not (base_url and self.domain_book.all()):
            planned = hot(code, visitor, record)  # an ordinary redirect, or None
            if planned is not None:
                return planned
        now = self.clock()
        if self._webhooks_unwatched and self.webhooks is not None:
            self._watch_webhooks()
        client = self._detect(visitor.user_agent, visitor.headers)
        judged = self.abuse.check_on_resolve and self.abuse.active
        where = self.where(base_url)
        if where is not None and where.domain is None:
            return self._unknown_host(visitor, client)
        came_on = where.domain.name if where is not None and where.domain is not None else None
        person = self._person(visitor, client, now, base_url) if record else None
        visitor = without_hop(visitor)
        if (
            person is None
            and record
            and self._in_process is not None
            and now.tzinfo is UTC
            and not judged
        ):
            planned = self._redirect_as_planned(self._in_process, code, visitor, client, now, where)
            if planned is not None:
                return planned
        place = NOWHERE if self.geoip is None else self.geoip.lookup(visitor.ip)
        confirmed = ("continue", "1") in visitor.query
        one_trip = record and not judged
        ruling = (
            self._resolve_in_one_trip(code, visitor, client, now, place, person, came_on)
            if one_trip
            else None
        )
        if ruling is None:
            link = self._lookup(code)
            if link is not None and not self.link_serves(link, where):
                link = None  # bound to another domain or pool: not here
            ruling = decide(
                link,
                client,
                now=now,
                password=visitor.password,
                bot_action=self.bot_action,
                visitor_id=self.visitor_id(visitor) if link is not None and link.split else None,
                country=place.country,
                confirmed=confirmed,
            )
            if judged:
                ruling = self._judge_visit(ruling, client, confirmed)
            outcome = visits.recorded_outcome(ruling, client, visitor) if record else None
            if link is not None and outcome is not None:
                visit = self._visit(
                    link.code,
                    visitor,
                    client,
                    now,
                    outcome,
                    arm=ruling.arm,
                    place=place,
                    person=person,
                    domain=came_on,
                )
                result = self.storage.record_visit(visit, count=ruling.count)
                if ruling.count and not result.allowed:
                    ruling = Ruling(Verdict.EXHAUSTED, link)
                elif self.events.wanted:
                    self._emit_visit(visit)
        if ruling.verdict is Verdict.REDIRECT and ruling.location is not None:
            location = ruling.location
            if ruling.link is not None and self._forwards(ruling.link):
                # Only a counted redirect of a person (recorded, not HEAD) earns a click id.
                counted = record and ruling.count
                location = self._forwarded(location, ruling.link, visitor, now, counted)
            answer: Decision = redirect(location, self.redirect_status)  # no page
            return answer if person is None else _with_cookie(answer, person)
        on = where.domain if where is not None else None
        if ruling.verdict is Verdict.NOT_FOUND and on is not None and on.settings.not_found_url:
            return redirect(on.settings.not_found_url, 302)
        platform = client.app if client.app in PLATFORM_IDS and self.domain_book.all() else None
        try:
            short_url = self.short_url(
                ruling.link or code, base_url=base_url, for_platform=platform
            )
        except ConfigurationError:
            short_url = f"/{code}"
        context = self._page_context(
            ruling,
            code,
            short_url,
            visitor,
            client,
            qr_route=True,
            qr_platform=platform,
            domain_language=on.settings.language if on is not None else None,
        )
        if person is not None and ruling.verdict is Verdict.GUIDE:
            hop = self.people_ids.hop_url(short_url, person.id, now)
            context = dataclasses.replace(context, hop_url=hop)
        answer = decision_for(ruling, context)
        return answer if person is None else _with_cookie(answer, person)

    def _person(
        self, visitor: Visitor, client: Client, now: datetime, base_url: str | None
    ) -> Person | None:
        """Who this visitor is with ``track_people`` (None: not tracking, or a bot)."""
        if not self.track_people or client.is_bot or client.is_preview:
            return None
        secure = (self.base_url or base_url or "").startswith("https://")
        return self.people_ids.identify(visitor, now, secure=secure)

    def _unknown_host(self, visitor: Visitor, client: Client) -> Decision:
        """A request on a host that is none of the domains: 404, or the configured redirect."""
        if self.unknown_host_redirect is not None:
            return redirect(self.unknown_host_redirect, 302)
        ruling = Ruling(Verdict.NOT_FOUND)
        return decision_for(ruling, self._page_context(ruling, "-", "", visitor, client))

    def _forwards(self, link: Link) -> bool:
        """True if redirects of ``link`` carry the visitor's query or a click id."""
        query = self.forward_query if link.forward_query is None else link.forward_query
        click = self.forward_click_id if link.forward_click_id is None else link.forward_click_id
        return query or click

    def _forwarded(
        self, location: str, link: Link, visitor: Visitor, now: datetime, counted: bool
    ) -> str:
        """``location`` with the short URL's query and a fresh click id, as ``link`` says."""
        query = self.forward_query if link.forward_query is None else link.forward_query
        click = self.forward_click_id if link.forward_click_id is None else link.forward_click_id
        if query and visitor.query:
            location = with_query(location, visitor.query)
        if click and counted:
            click_id = self._click_ids.mint(link.code, now, self.visitor_id(visitor))
            location = with_click_id(location, click_id)
        return location

    # -- conversions ----------------------------------------------------------------------

    def record_conversion(
        self,
        click_id: str,
        kind: str = "lead",
        value: object = None,
        currency: str | None = None,
    ) -> Conversion:
        """Record what the visitor of a click did next: a ``lead``, a ``sale``, or a kind
        of the host's own (a short lower-case word), once per (click id, kind).

        ``click_id`` is the ``sl_click`` parameter a redirect of a ``forward_click_id``
        link handed the landing page. ``value`` (a ``Decimal``, or text such as
        ``"19.99"``) needs its ``currency`` (ISO 4217, such as ``"CNY"``). Reporting the
        same click id and kind again returns the conversion stored first and counts
        nothing. Raises ``InvalidOption`` (bad kind, value or currency),
        ``InvalidClickId`` (not made by this Shortener's secret), ``ClickExpired`` (older
        than ``click_id_ttl``), ``LinkNotFound`` (the link was deleted) and
        ``CapabilityMissing`` (the storage keeps no conversions).
        """
        return self.report_conversion(click_id, kind, value, currency)[0]

    def report_conversion(
        self,
        click_id: str,
        kind: str = "lead",
        value: object = None,
        currency: str | None = None,
    ) -> tuple[Conversion, bool]:
        """:meth:`record_conversion`, also saying whether it was new (False: a repeat)."""
        storage = self._conversion_store("record_conversion")
        checked_kind = check_kind(kind)
        amount, money = check_amount(value, currency)
        now = self.clock()
        click = self._click_ids.check(click_id, now)
        link = self.storage.get(click.code)
        if link is None or click.at < link.created_at - _CLOCK_SKEW:
            raise LinkNotFound(click.code)  # deleted (a later link of its code is another)
        conversion = Conversion(
            click_id=click_id,
            code=click.code,
            kind=checked_kind,
            at=now,
            clicked_at=click.at,
            visitor_id=click.visitor_id,
            value=amount,
            currency=money,
        )
        stored, new = storage.record_conversion(conversion)
        if new and self.wants_event("conversion.recorded"):
            self.emit("conversion.recorded", stored.to_dict())  # hooks and webhooks
        return stored, new

    def conversions(
        self, code: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Conversion]:
        """A link's conversions, oldest first, recorded within ``[since, until)``."""
        storage = self._conversion_store("conversions")
        link = self.get(code)
        return iter(storage.conversions(link.code, since=since, until=until))

    def funnel(
        self, code: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Funnel:
        """Clicks → leads → sales of one link (``stats(code).funnel`` without the rest).

        With a window, the clicks made in it and the conversions of those clicks.
        """
        storage = self._conversion_store("funnel")
        return self._funnel(
            storage, code, self.stats(code, since=since, until=until).redirects, since, until
        )

    def funnels(
        self,
        *,
        by: str = "recipient",
        campaign: str | None = None,
        tag: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Funnel]:
        """:meth:`funnel_report`'s groups: ``{recipient or campaign: Funnel}``."""
        found = self.funnel_report(by=by, campaign=campaign, tag=tag, since=since, until=until)
        return found.groups

    def funnel_report(
        self,
        *,
        by: str = "recipient",
        campaign: str | None = None,
        tag: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        clicks: str = "links",
    ) -> FunnelReport:
        """Funnels of many links added up, grouped ``by`` the links' ``"recipient"`` or
        ``"campaign"``, and their total: who (or which campaign) brought the leads and sales.

        Only links of campaign ``campaign`` (any if None) tagged ``tag`` (any if None)
        count; links without the grouping setting are left out. ``clicks="links"`` counts
        the links' redirects (within ``[since, until)`` if given); ``clicks="people"``
        takes them from the people rows instead (recipients only, no tag or window), one
        group per recipient with clicks. A scan of the links, each one's conversions read:
        fine for a campaign, slow for a whole big store.
        """
        if by not in ("recipient", "campaign"):
            raise InvalidOption("by", "expected recipient or campaign")
        if clicks not in ("links", "people"):
            raise InvalidOption("clicks", "expected links or people")
        wanted = people.check_campaign(campaign)
        counted: dict[str, int] | None = None  # the people rows' clicks per recipient
        if clicks == "people":
            if by != "recipient" or tag is not None or since is not None or until is not None:
                raise InvalidOption("clicks", "people rows count recipients: no tag or window")
            rows = self._people("people funnels").top_recipients(wanted, limit=None)
            counted = {row.id: row.clicks for row in rows}
        storage = self._conversion_store("funnels")
        windowed = since is not None or until is not None
        groups: dict[str, builtins.list[Funnel]] = {
            key: [Funnel(n)] for key, n in (counted or {}).items()
        }
        for link in self.iter_links(tag=tag):
            key = link.recipient if by == "recipient" else link.campaign
            if key is None or (wanted is not None and link.campaign != wanted):
                continue
            if counted is not None:
                if key in counted:
                    groups[key].append(self._funnel(storage, link.code, 0, None, None))
                continue
            redirects = (
                link_stats(self.storage, link.code, since=since, until=until).redirects
                if windowed
                else link.visits
            )
            groups.setdefault(key, []).append(
                self._funnel(storage, link.code, redirects, since, until)
            )
        order = groups.items() if counted is not None else sorted(groups.items())
        each = {key: add_funnels(found) for key, found in order}
        return FunnelReport(add_funnels(each.values()), each)

    def _funnel(
        self,
        storage: RecordsConversions,
        code: str,
        clicks: int,
        since: datetime | None,
        until: datetime | None,
    ) -> Funnel:
        done = storage.conversions(code, since=since)  # a conversion follows its click
        if since is not None or until is not None:
            done = (
                c
                for c in done
                if (since is None or c.clicked_at >= since)
                and (until is None or c.clicked_at < until)
            )
        return fold_funnel(clicks, done)

    def _conversion_store(self, feature: str) -> RecordsConversions:
        storage = self.storage
        if not isinstance(storage, RecordsConversions):
            raise CapabilityMissing(feature, "records_conversions", storage.url)
        return storage

    def _judge_visit(self, ruling: Ruling, client: Client, confirmed: bool) -> Ruling:
        """``check_on_resolve``: the abuse rules on where a redirect would go, now."""
        if ruling.verdict is not Verdict.REDIRECT or ruling.location is None:
            return ruling
        verdict = self.abuse.check(ruling.location)
        if verdict.action is AbuseAction.REFUSE:
            return Ruling(Verdict.BLOCKED, ruling.link, message=verdict.reason or None)
        if verdict.action is AbuseAction.WARN and not confirmed and not client.is_bot:
            return Ruling(
                Verdict.WARNING,
                ruling.link,
                ruling.location,
                outcome="warning",
                message=verdict.reason or None,
            )
        return ruling

    def protect(
        self,
        visitor: Visitor,
        *,
        url: str,
        anti_block: Iterable[str] | None = None,
        anti_block_mode: str | None = None,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
    ) -> Decision | None:
        """Apply a link's access and anti-block rules to one of the host app's own pages.

        ``url`` is the page's own address (shown and copied on the guide page). Returns
        None when the page may be served as usual, else the guide page or the refusal to
        send instead. Nothing is stored; rules are checked as ``shorten`` checks them.
        """
        settings: dict[str, Any] = {"anti_block": anti_block, "allow": allow, "deny": deny}
        if anti_block_mode is not None:
            settings["anti_block_mode"] = anti_block_mode
        fields = self._validate(settings)
        page_url = url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""
        link = Link(code="-", url=page_url or "about:blank", **fields)
        client = self._detect(visitor.user_agent, visitor.headers)
        ruling = decide(link, client, now=self.clock(), bot_action=self.bot_action)
        if ruling.verdict not in _PROTECT_PAGES:
            return None
        return decision_for(
            ruling, self._page_context(ruling, link.code, page_url, visitor, client)
        )

    def _redirect_as_planned(
        self,
        storage: HoldsLinksInProcess,
        code: str,
        visitor: Visitor,
        client: Client,
        now: datetime,
        where: Where | None = None,
    ) -> Decision | None:
        """The redirect of a planned link (:mod:`suolink.plans`), its visit appended as a
        record built here; None: "take the full path" (no link, a page, a limit reached,
        a link bound to domains the request did not come in on)."""
        link = storage.peek(code)
        if link is None:
            return None
        if where is not None and not self.link_serves(link, where):
            return None
        answer = self._plans.answer(link, client, now)
        if answer is None:
            return None
        came_on = where.domain.name if where is not None and where.domain is not None else None
        # A plan is never made for a link the country decides (plans._plan), so the
        # place only goes into the record: a cached look-up, not the policy's path.
        place = NOWHERE if self.geoip is None else self.geoip.lookup(visitor.ip)
        record = visits.build_record(
            link.code,
            visitor,
            answer.fields,
            now,
            answer.outcome,
            self._visitor_ids,
            self.store_ip,
            place,
            None,
            came_on,
        )
        if storage.append_visit(record, count=answer.count) is not True:
            return None  # deleted meanwhile, or refused: the policy says what instead
        if self.events.wanted:
            self._emit_visit(record)
        return answer.decision

    def _resolve_in_one_trip(
        self,
        code: str,
        visitor: Visitor,
        client: Client,
        now: datetime,
        place: Place,
        person: Person | None = None,
        domain: str | None = None,
    ) -> Ruling | None:
        """The common redirect as one storage call, for backends that offer it (Redis).

        See :mod:`suolink.visits`: tried only for visitors no client rule can stop, and
        the backend records only if no link setting could refuse. None: "ask the policy".
        """
        storage = self._one_trip
        if storage is None or not visits.takes_one_trip(client, visitor):
            return None
        try:
            checked = self.codes.check_code(code)
        except InvalidInput:
            return Ruling(Verdict.NOT_FOUND)
        visit = self._visit(
            checked,
            visitor,
            client,
            now,
            "redirect",
            place=place,
            person=person,
            domain=domain,
        )
        ruling = visits.record_in_one_trip(storage, visit, client)
        if ruling is not None and ruling.verdict is Verdict.REDIRECT and self.events.wanted:
            self._emit_visit(visit)
        return ruling

    def _lookup(self, code: str) -> Link | None:
        try:
            checked = self.codes.check_code(code)
        except InvalidInput:
            return None
        return self.storage.get(checked)

    def visitor_id(self, visitor: Visitor) -> str:
        """A keyed hash of IP and user agent: tells repeat visitors apart, reveals neither."""
        return visits.visitor_id(self._visitor_ids, visitor)

    def address_id(self, address: str) -> str:
        """A keyed hash of a client address: rate limits count per address, store no IP.

        Keyed by the secret, so every worker sharing it (and one Redis) counts alike;
        without a secret the key is this process's own.
        """
        message = address.encode("utf-8", "surrogatepass")
        return hmac.new(self._address_key, message, hashlib.sha256).hexdigest()[:32]

    def _visit(
        self,
        code: str,
        visitor: Visitor,
        client: Client,
        now: datetime,
        outcome: str,
        *,
        arm: str | None = None,
        place: Place = NOWHERE,
        person: Person | None = None,
        domain: str | None = None,
    ) -> Visit:
        visit = visits.build_visit(
            code,
            visitor,
            client,
            at=now,
            outcome=outcome,
            key=self._visitor_ids,
            store_ip=self.store_ip,
            arm=arm,
            place=place,
            domain=domain,
        )
        # With track_people the cookie's id stands for the person, not IP and user agent.
        return visit if person is None else dataclasses.replace(visit, visitor_id=person.id)

    def _qr_images(self) -> QRCache:
        """The QR cache, made on first use (most Shorteners never draw one)."""
        if self._qr_cache is None:
            self._qr_cache = QRCache()
        return self._qr_cache

    def _page_context(
        self,
        ruling: Ruling,
        code: str,
        short_url: str,
        visitor: Visitor,
        client: Client,
        *,
        qr_route: bool = False,
        qr_platform: str | None = None,
        domain_language: str | None = None,
    ) -> PageContext:
        """What a page needs besides the ruling; the guide page shows ``short_url`` as a QR.

        With ``qr_route`` (a link's own guide page) the QR is an image of the link's
        ``<code>.png`` route beside the page, drawn and cached when the browser asks for
        it: making the page never waits for a drawing (3 ms). Otherwise (``protect``) it
        is drawn inline. A QR code that cannot be drawn (no imaging extra, a URL too
        long) is left out.
        """
        link = ruling.link
        override = (
            link.language
            if link is not None and link.language
            else domain_language or self.default_language
        )
        qr_png = qr_src = None
        if ruling.verdict is Verdict.GUIDE and "://" in short_url:
            if qr_route:
                qr_src = guide_qr_src(code, short_url, platform=qr_platform)
            else:
                try:
                    qr_png = self._qr_images().encode(short_url, **GUIDE_QR)
                except (MissingDependencyError, InvalidInput):
                    qr_png = None
        return PageContext(
            lang=pick_language(
                visitor.accept_language, override, ua_hint=language_hint(visitor.user_agent)
            ),
            client=client,
            code=code,
            short_url=short_url,
            redirect_status=self.redirect_status,
            qr_png=qr_png,
            qr_src=qr_src,
            template_dirs=self.template_dirs,
        )

    # -- housekeeping ---------------------------------------------------------------------

    def _validate(
        self,
        settings: Mapping[str, Any],
        *,
        action: Action = "create",
        base_url: str | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        own = self._own_bases(base_url)

        def is_link(code: str) -> bool:  # an existing link, or the one being made
            return code == alias or self._is_link(code)

        def validate_url(url: object) -> str:
            return self.url_rules.validate(url, own=own, is_link=is_link)

        fields = validate_settings(
            settings,
            now=self.clock(),
            validate_url=validate_url,
            check_platforms=normalize_platforms,
            action=action,
        )
        if self.abuse.active:
            self._judge_targets(fields)
        return fields

    def _judge_targets(self, fields: dict[str, Any]) -> None:
        """Ask the abuse rules about every URL the settings hold: refuse, or warn visitors."""
        urls = [fields["url"]] if fields.get("url") else []
        urls += [url for _, url in fields.get("targets") or ()]
        urls += [url for _, url in fields.get("geo_targets") or ()]
        urls += [url for _, url, _ in fields.get("split") or ()]
        for url in urls:
            verdict = self.abuse.check(url)
            if verdict.action is AbuseAction.REFUSE:
                raise BlockedURL(url, verdict.reason or "the target is not allowed here")
            if verdict.action is AbuseAction.WARN and fields.get("warning") is None:
                fields["warning"] = verdict.reason

    def _is_link(self, code: str) -> bool:
        return self._lookup(code) is not None

    def _own_bases(self, base_url: str | None) -> tuple[ShortBase, ...]:
        """Where this Shortener's links live: its ``base_url``, the request's, if given,
        and every short domain."""
        return tuple(
            base
            for base in (
                ShortBase.parse(self.base_url),
                ShortBase.parse(base_url),
                *(ShortBase.parse(origin) for origin in self._domain_origins()),
            )
            if base is not None
        )

    # -- events and hooks (suolink.events) ------------------------------------------------

    def on(self, event: str, callback: Callback) -> Callback:
        """Call ``callback(event)`` after each ``event`` (a name of
        :data:`suolink.events.EVENT_TYPES`, or ``*`` for all), in a worker thread.

        ``callback`` may be a plain or an ``async`` function. It never delays or breaks
        the request that caused the event: it runs later, off the request path; if it
        raises, the error is logged (``suolink.events``) and counted; if events come
        faster than callbacks take them, the excess is dropped and counted
        (``shortener.events.dropped``). Returns ``callback`` (usable as a decorator).
        """
        return self.events.on(event, callback)

    def on_visit(self, callback: Callback) -> Callback:
        """:meth:`on` for ``link.clicked``: every recorded visit (payload: the visit)."""
        return self.events.on("link.clicked", callback)

    def on_link_created(self, callback: Callback) -> Callback:
        """:meth:`on` for ``link.created`` (payload: the link as the API shows it)."""
        return self.events.on("link.created", callback)

    def emit(self, name: str, payload: Mapping[str, Any]) -> Event:
        """Publish event ``name`` with a JSON-ready ``payload`` to hooks and webhooks.

        For modules that add events (see :mod:`suolink.events`). Returns at once; never
        raises because of a hook. ``InvalidOption`` for a name not in ``EVENT_TYPES``.
        """
        event = Event(check_event_name(name), dict(payload), timestamp=self.clock())
        self.events.publish(event)
        if self.webhooks is not None:
            self.webhooks.publish(event)
        return event

    def wants_event(self, name: str) -> bool:
        """True if a hook or a webhook endpoint wants event ``name``: callers that must
        work to build a payload check this first (reading the endpoints at most every 5 s)."""
        hooks = self.webhooks
        return self.events.wants(name) or (hooks is not None and hooks.wants(name))

    def _emit_link(self, name: str, link: Link) -> None:
        if self.wants_event(name):
            self.emit(name, self._link_payload(link))

    def _watch_webhooks(self) -> None:
        """From the first visit on, look at the endpoints every 30 s in the hooks' worker
        (off the request path, stopped by ``close`` before the storage closes): clicks are
        collected while an endpoint, added by any process, wants them."""
        self._webhooks_unwatched = False
        self._hot = self._hot_path
        hooks = self.webhooks
        if hooks is None:
            return
        due = [0.0]

        def look() -> None:
            if time.monotonic() < due[0]:
                return
            due[0] = time.monotonic() + 30.0
            try:
                hooks.refresh()
            except BackendError:  # down or closed: the next look tries again
                return

        self.events.every(look)

    # -- webhooks (suolink.webhooks, suolink.webhook_worker) --------------------------------

    def _outbox(self) -> Webhooks:
        if self.webhooks is None:
            raise CapabilityMissing("webhooks", "keeps_outbox", self.storage.url)
        return self.webhooks

    def add_webhook(
        self,
        url: str,
        events: Iterable[str] = ("*",),
        secret: str | None = None,
        *,
        description: str = "",
    ) -> Endpoint:
        """Send ``events`` (names of ``suolink.events.EVENT_TYPES``, ``*``: all) to ``url``,
        signed with ``secret`` (made if not given: read it from the result once)."""
        return self._outbox().add(url, events=events, secret=secret, description=description)

    def list_webhooks(self) -> builtins.list[Endpoint]:
        """Every webhook endpoint, oldest first."""
        return self._outbox().list()

    def remove_webhook(self, endpoint_id: str) -> None:
        """Remove an endpoint and its waiting messages; ``EndpointNotFound`` if none."""
        if not self._outbox().remove(endpoint_id):
            raise EndpointNotFound(str(endpoint_id))

    def webhook_deliveries(
        self, endpoint_id: str | None = None, *, limit: int = 100
    ) -> builtins.list[Delivery]:
        """The delivery log, newest first (one endpoint's, or all)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidOption("limit", "must be a whole number from 1 to 1000")
        return self._outbox().storage.deliveries(endpoint_id=endpoint_id, limit=limit)

    def webhook_dead_letters(
        self, endpoint_id: str | None = None, *, limit: int = 100
    ) -> builtins.list[Message]:
        """Messages given up on, newest first."""
        return self._outbox().storage.dead_letters(endpoint_id=endpoint_id, limit=limit)

    def run_webhooks(self, **options: Any) -> WebhookWorker:
        """Start delivering this storage's outbox in a background thread; the worker.

        ``options`` are :class:`~suolink.webhook_worker.WebhookWorker`'s. Stop it with
        ``worker.stop()`` (in-flight deliveries finish first).
        """
        from .webhook_worker import WebhookWorker

        self._outbox()  # CapabilityMissing without an outbox
        worker = WebhookWorker(self.storage, **options)
        worker.start()
        return worker

    def _link_payload(self, link: Link) -> dict[str, Any]:
        """A link as the API shows it: no password hash; its short URL if one can be made."""
        data = link.to_dict()
        data.pop("password_hash", None)
        data["has_password"] = link.has_password
        if self.base_url:
            data["short_url"] = f"{self.base_url}/{link.code}"
        return data

    def _emit_visit(self, visit: Visit | VisitRecord) -> None:
        """Hand a recorded visit to the hooks; the event is built in their worker."""

        def make() -> Event:
            seen = visit if isinstance(visit, Visit) else Visit.from_record(visit)
            return Event("link.clicked", seen.to_dict(), timestamp=seen.at)

        self.events.publish(make, "link.clicked")

    # -- imports (suolink.imports) ---------------------------------------------------------

    def restore(self, link: Link, visits: Iterable[Visit] = ()) -> int:
        """Store ``link`` as an archive holds it, then replay its ``visits``; their number.

        The code, creation time and every setting are kept (the code and URL are checked
        again, and the abuse rules judge its targets as on create); redirects count as
        they did. Everything is checked before anything is stored, so a bad record
        stores nothing; ``CodeTaken`` if the code is in use.
        """
        return self._store_restored(*self.check_restore(link, visits))

    def restore_many(
        self, items: Iterable[tuple[Link, Iterable[Visit]]], *, checked: bool = False
    ) -> builtins.list[bool]:
        """:meth:`restore` for many links; per item, True if made, False if its code is taken.

        One transaction for them all on a backend that ``RestoresInBatches`` (SQLite),
        each link still all or nothing; elsewhere one :meth:`restore` after another. A
        link or visit the checks refuse raises before anything is stored. ``checked``:
        the items come from :meth:`check_restore` or :meth:`foreign_link` (not checked,
        nor judged by the abuse rules, twice).
        """
        ready = [
            (link, list(visits)) if checked else self.check_restore(link, visits)
            for link, visits in items
        ]
        if isinstance(self.storage, RestoresInBatches):
            return self.storage.restore_many(ready)
        from .backends._common import normalise_link, normalise_visit

        for link, recorded in ready:  # what the store would refuse, before storing any
            normalise_link(link)
            for visit in recorded:
                normalise_visit(visit)
        made: builtins.list[bool] = []
        for link, recorded in ready:
            try:
                self._store_restored(link, recorded)
            except CodeTaken:
                made.append(False)
            else:
                made.append(True)
        return made

    def check_restore(
        self, link: Link, visits: Iterable[Visit] = ()
    ) -> tuple[Link, builtins.list[Visit]]:
        """An archived link checked again (code, URL, the abuse rules on its targets),
        and its visits under its code: what :meth:`restore` stores. Stores nothing."""
        from dataclasses import replace

        code = self.codes.check_code(link.code)
        url = self.url_rules.validate(link.url)
        if code != link.code or url != link.url:
            link = replace(link, code=code, url=url)
        if self.abuse.active:
            fields: dict[str, Any] = {
                "url": url,
                "targets": link.targets,
                "geo_targets": link.geo_targets,
                "split": link.split,
                "warning": link.warning,
            }
            self._judge_targets(fields)
            if fields["warning"] != link.warning:
                link = replace(link, warning=fields["warning"])
        return link, [
            visit if visit.code == code else replace(visit, code=code) for visit in visits
        ]

    def _store_restored(self, link: Link, visits: Sequence[Visit]) -> int:
        """A checked link, then its visits (all checked before the link is stored)."""
        from .backends._common import normalise_visit

        replay = [normalise_visit(visit) for visit in visits]
        self.storage.create(link)  # its count starts at 0: the replay counts again
        for visit in replay:
            self.storage.record_visit(visit, count=visit.outcome == "redirect")
        return len(replay)

    def restore_from(
        self,
        url: str,
        *,
        code: str | None = None,
        created_at: datetime | None = None,
        **settings: Any,
    ) -> Link:
        """A link from another shortener's export: checked as ``shorten`` checks it, its
        code and (past, timezone-aware) creation time kept when given."""
        if code is None:
            return self.shorten(url, **settings)
        return self.storage.create(
            self.foreign_link(url, code=code, created_at=created_at, **settings)
        )

    def foreign_link(
        self, url: str, *, code: str, created_at: datetime | None = None, **settings: Any
    ) -> Link:
        """The link :meth:`restore_from` would store, checked (as ``shorten`` checks one,
        abuse rules included) but not stored: for :meth:`restore_many` with ``checked``."""
        fields = self._validate({"url": url, **settings}, alias=code)
        now = self.clock()
        when = created_at if created_at is not None and created_at.utcoffset() is not None else now
        return Link(code=self.codes.validate_alias(code), created_at=min(when, now), **fields)

    def check(self) -> None:
        """Raise ``BackendUnavailable`` if the storage cannot be used now (health checks)."""
        self.storage.check()

    def close(self) -> None:
        """Close the storage (and a GeoIP database it opened); not used afterwards."""
        with self._close_lock:
            if self.webhooks is not None:
                self.events.drain()
                self.webhooks.flush()
            self.events.close()
            self.storage.close()
            if self._owns_geoip and isinstance(self.geoip, GeoIP):
                self.geoip.close()

    def __enter__(self) -> Shortener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Shortener(storage={self.storage.url!r}, base_url={self.base_url!r})"


def _with_cookie(answer: Decision, person: Person) -> Decision:
    """``answer`` with the visitor cookie set, if it must be."""
    if person.set_cookie is None:
        return answer
    return dataclasses.replace(answer, headers=(*answer.headers, ("Set-Cookie", person.set_cookie)))


def _one_platform(name: str | None) -> str | None:
    """``for_platform``: one platform id (aliases allowed), or None."""
    if name is None:
        return None
    found = normalize_platforms([name])
    return next(iter(found))
