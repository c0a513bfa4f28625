"""The hot redirect: an ordinary link opened by an ordinary browser, in as few steps as
Python allows.

For a store that holds links in this process (:class:`~suolink.backends.base.
HoldsLinksInProcess`), :func:`hot_path` makes what
:meth:`~suolink.shortener.Shortener.resolve` tries first: the visitor (detection and what
a visit keeps of them), the stored link, its plan (:mod:`suolink.plans`), the visit record
built inline and appended. Whatever the plan cannot answer (no link, a page, a password, a
limit, a country, a link bound to domains, a person to track…) returns None *before
anything is recorded*, and ``resolve`` takes the full path, which gives the same answer it
always did. So this module only ever removes work; it decides nothing of its own.

What a visit keeps of a visitor depends on the request alone: the detected client, the
keyed visitor id of its address and user agent, the storable address and user agent, the
referer's host and the language. They are kept together per distinct request
(:data:`Seen`, one dict lookup for a returning visitor, no HMAC), in a bounded dict emptied
when full. On ``memory://`` the visit is five references (:data:`~suolink.backends.memory.
HotVisit`: the code, the time as integer nanoseconds, the request's part, the plan
answer's part, the place) appended inline under the store's lock
(:meth:`~suolink.backends.memory.MemoryStorage.hot_parts`); the store assembles the
:class:`~suolink.models.Visit` when visits are read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from time import time_ns
from typing import Final

from .backends.base import HoldsLinksInProcess
from .backends.memory import HotVisit, MemoryStorage, VisitorPart, hot_record, moment
from .detect import Client, Detector
from .events import EventBus
from .geoip import NOWHERE, PlaceFinder
from .models import Decision, Visitor, VisitRecord, utcnow
from .plans import Answer, RedirectPlans
from .render import pick_language
from .visits import MAX_STORED_TEXT, KeyedHash, referer_host, storable, storable_agent

__all__ = ["MAX_REMEMBERED", "HotPath", "Seen", "hot_path"]

#: Visitors (and languages) remembered; each dict is emptied when it reaches this.
MAX_REMEMBERED: Final = 8192
#: Longest Accept-Language header whose language is remembered.
MAX_LANGUAGE_HEADER: Final = 256


HotPath = Callable[[str, Visitor, bool], "Decision | None"]
"""``hot(code, visitor, record)``: the planned redirect of ``code`` for ``visitor``, its
visit appended (unless ``record`` is false: a HEAD); None, with nothing recorded: "take
the full path"."""

Seen = tuple[Client, int, VisitorPart]
"""What the hot path keeps of one distinct request: the detected client, its ``id`` (the
key of a plan's answers) and what a visit keeps of the request
(:data:`~suolink.backends.memory.VisitorPart`: the storable address, None unless
addresses are stored; the storable user agent; the referer's host; the language; the
keyed visitor id, as :class:`~suolink.visits.KeyedHash` gives it, so unique-visitor
counts carry on)."""

_SeenKey = tuple[str, tuple[tuple[str, str], ...], str | None, str, str | None]
_Known = Callable[[_SeenKey], "Seen | None"]  # the dict of requests' ``get``
_SeenOf = Callable[[_SeenKey], "Seen"]  # a miss of that dict


def hot_path(
    storage: HoldsLinksInProcess,
    plans: RedirectPlans,
    *,
    detector: Detector,
    clock: Callable[[], datetime],
    key: KeyedHash,
    store_ip: bool,
    geoip: PlaceFinder | None,
    events: EventBus,
    emit: Callable[[VisitRecord], None],
) -> HotPath:
    """The :data:`HotPath` of one Shortener; see the module. Safe to share between threads
    (dict reads and writes are atomic; the visit is appended under the store's lock).

    A closure rather than an object: its parts are local cells, read faster than
    attributes, and a function call is cheaper than an instance's ``__call__``.
    """
    seen_of, remembered = _visitors(detector, key, store_ip)
    known = remembered.get
    if isinstance(storage, MemoryStorage):
        return _in_memory(
            storage, plans, known, seen_of, clock=clock, geoip=geoip, events=events, emit=emit
        )
    return _elsewhere(
        storage, plans, known, seen_of, clock=clock, geoip=geoip, events=events, emit=emit
    )


def _visitors(
    detector: Detector, key: KeyedHash, store_ip: bool
) -> tuple[_SeenOf, dict[_SeenKey, Seen]]:
    """``seen_of(key)``, the :data:`Seen` of a request worked out on a miss of
    the hot path's dict of requests (returned with it; ``seen_of`` fills it under
    ``key``). A visitor whose fields are not all text makes it raise ``TypeError`` or
    ``AttributeError``: the hot path then steps aside (the full path copes with those)."""
    detect = detector.detect
    front = detector.front_cache  # detection's own dict, read here as detect() would
    max_agent = detector.max_length
    visitor_id_of = key.visitor_id
    remembered: dict[_SeenKey, Seen] = {}
    languages: dict[str, str] = {}

    def seen_of(key: _SeenKey) -> Seen:
        user_agent, headers, ip, accept, referer = key
        client = (
            front.get((user_agent, headers))
            if front is not None and len(user_agent) <= max_agent
            else None
        )
        if client is None:
            client = detect(user_agent, headers)
        language = languages.get(accept)
        if language is None:
            language = pick_language(accept)
            if len(accept) <= MAX_LANGUAGE_HEADER:
                if len(languages) >= MAX_REMEMBERED:
                    languages.clear()
                languages[accept] = language
        seen: Seen = (
            client,
            id(client),
            (
                storable(ip) if store_ip else None,
                user_agent
                if len(user_agent) <= MAX_STORED_TEXT
                and user_agent.isascii()
                and "\x00" not in user_agent
                else storable_agent(user_agent),  # storable_agent's own shortcut, inlined
                referer_host(referer) if referer else None,
                language,
                visitor_id_of(ip, user_agent),
            ),
        )
        if (
            len(user_agent) <= max_agent
            and len(accept) <= MAX_LANGUAGE_HEADER
            and (referer is None or len(referer) <= MAX_STORED_TEXT)
        ):  # a bounded request (a huge header is answered, not kept)
            if len(remembered) >= MAX_REMEMBERED:
                remembered.clear()
            remembered[key] = seen
        return seen

    return seen_of, remembered


def _in_memory(
    storage: MemoryStorage,
    plans: RedirectPlans,
    known: _Known,
    seen_of: _SeenOf,
    *,
    clock: Callable[[], datetime],
    geoip: PlaceFinder | None,
    events: EventBus,
    emit: Callable[[VisitRecord], None],
) -> HotPath:
    """The hot path of ``memory://``: its dict of links read directly, the visit appended
    inline under its lock (:class:`~suolink.backends.memory.HotParts`), the default clock
    read as integer nanoseconds."""
    lock, links, counts, pending = storage.hot_parts()
    acquire, release = lock.acquire, lock.release  # a ``with`` costs more
    links_get = links.get
    append = pending.append
    by_code = plans.by_code.get
    plan_answer = plans.answer
    default_clock = clock is utcnow
    ns = time_ns  # the default clock's reading, as an integer

    def hot(code: str, visitor: Visitor, record: bool = True) -> Decision | None:
        at: int | datetime  # an int (nanoseconds) from the default clock: see moment()
        if default_clock:
            at = ns()
        else:
            at = clock()
            if at.tzinfo is not UTC:
                return None  # a host's clock that is not UTC: the full path normalises it
        request = (
            visitor.user_agent,
            visitor.headers,
            visitor.ip,
            visitor.accept_language,
            visitor.referer,
        )
        try:  # free in CPython 3.11 unless it raises
            seen = known(request)
            if seen is None:
                seen = seen_of(request)
        except (TypeError, AttributeError):
            return None  # a field that is not text: the full path copes with it
        link = links_get(code) if type(code) is str else None
        if link is None:
            return None
        # -- the plan (plans.RedirectPlans.answer, its hit inlined) ------------------------
        plan = by_code(code)
        answer: Answer | None
        if plan is not None and plan.link is link:
            if link.expires_at is not None and moment(at) >= link.expires_at:
                return None
            entry = plan.answers.get(seen[1])
            if entry is not None and entry[0] is seen[0]:
                answer = entry[1]
            else:
                answer = plan_answer(link, seen[0], moment(at))
        else:
            answer = plan_answer(link, seen[0], moment(at))
        if answer is None:
            return None
        if not record:
            return answer.decision
        # -- the visit: five references, assembled when read (memory.hot_record) ---------
        visit: HotVisit = (
            code,
            at,
            seen[2],
            answer.kept,
            None if geoip is None else geoip.lookup(visitor.ip),
        )
        acquire()  # as MemoryStorage.append_visit, for the very link planned
        try:
            if links_get(code) is not link:
                return None  # changed, deleted or closed meanwhile: the full path decides
            if answer.count:  # a planned link has no max_visits: nothing to refuse
                counts[code] += 1
            append(visit)
        finally:
            release()
        if events.wanted:
            emit(hot_record(visit))
        return answer.decision

    return hot


def _elsewhere(
    storage: HoldsLinksInProcess,
    plans: RedirectPlans,
    known: _Known,
    seen_of: _SeenOf,
    *,
    clock: Callable[[], datetime],
    geoip: PlaceFinder | None,
    events: EventBus,
    emit: Callable[[VisitRecord], None],
) -> HotPath:
    """The hot path of any other in-process store: ``peek`` and ``append_visit``."""
    peek = storage.peek
    append = storage.append_visit
    by_code = plans.by_code.get
    plan_answer = plans.answer
    now_utc = datetime.now if clock is utcnow else None  # the default clock, unwrapped

    def hot(code: str, visitor: Visitor, record: bool = True) -> Decision | None:
        if now_utc is not None:
            now = now_utc(UTC)
        else:
            now = clock()
            if now.tzinfo is not UTC:
                return None  # a host's clock that is not UTC: the full path normalises it
        request = (
            visitor.user_agent,
            visitor.headers,
            visitor.ip,
            visitor.accept_language,
            visitor.referer,
        )
        try:  # free in CPython 3.11 unless it raises
            seen = known(request)
            if seen is None:
                seen = seen_of(request)
        except (TypeError, AttributeError):
            return None  # a field that is not text: the full path copes with it
        client = seen[0]
        link = peek(code)
        if link is None:
            return None
        plan = by_code(code)
        answer: Answer | None
        if plan is not None and plan.link is link:
            expires = link.expires_at
            if expires is not None and now >= expires:
                return None
            entry = plan.answers.get(seen[1])
            answer = (
                entry[1]
                if entry is not None and entry[0] is client
                else plan_answer(link, client, now)
            )
        else:
            answer = plan_answer(link, client, now)
        if answer is None:
            return None
        if not record:
            return answer.decision
        place = NOWHERE if geoip is None else geoip.lookup(visitor.ip)
        app, os_name, device, is_bot, browser = answer.fields
        ip, user_agent, referer, language, visitor_id = seen[2]
        visit: VisitRecord = (
            link.code,
            now,
            ip,
            user_agent,
            referer,
            app,
            os_name,
            device,
            is_bot,
            language,
            visitor_id,
            browser,
            answer.outcome,
            place.country,
            place.region,
            place.city,
            None,
            None,
        )
        if append(visit, count=answer.count) is not True:
            return None  # deleted meanwhile, or refused: the policy says what instead
        if events.wanted:
            emit(visit)
        return answer.decision

    return hot
