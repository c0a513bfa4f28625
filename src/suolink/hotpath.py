"""The hot redirect: an ordinary link opened by an ordinary browser, in as few steps as
Python allows.

For a store that holds links in this process (:class:`~suolink.backends.base.
HoldsLinksInProcess`), :func:`hot_path` makes what
:meth:`~suolink.shortener.Shortener.resolve` tries first: detection (its front cache),
the stored link, its plan (:mod:`suolink.plans`), the visit record built inline and
appended. Whatever the plan cannot answer (no link, a page, a password, a limit, a
country, a link bound to domains, a person to track…) returns None *before anything is
recorded*, and ``resolve`` takes the full path, which gives the same answer it always
did. So this module only ever removes work; it decides nothing of its own.

Per-visitor values that repeat (the keyed visitor id of an address and user agent, the
language of an ``Accept-Language`` header) are kept in small bounded dicts, emptied when
full: a returning visitor costs a dict lookup instead of an HMAC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from .backends.base import HoldsLinksInProcess
from .detect import Detector
from .events import EventBus
from .geoip import NOWHERE, PlaceFinder
from .models import Decision, Visitor, VisitRecord, utcnow
from .plans import RedirectPlans
from .render import pick_language
from .visits import MAX_STORED_TEXT, KeyedHash, referer_host, storable, storable_agent

__all__ = ["MAX_REMEMBERED", "HotPath", "hot_path"]

#: Visitor ids and languages remembered (each dict is emptied when it reaches this).
MAX_REMEMBERED: Final = 8192
MAX_AGENT: Final = MAX_STORED_TEXT


HotPath = Callable[[str, Visitor, bool], "Decision | None"]
"""``hot(code, visitor, record)``: the planned redirect of ``code`` for ``visitor``, its
visit appended (unless ``record`` is false: a HEAD); None, with nothing recorded: "take
the full path"."""


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
    (dict reads and writes are atomic; the store's append takes its own lock).

    A closure rather than an object: its parts are local cells, read faster than
    attributes, and a function call is cheaper than an instance's ``__call__``.
    """
    links = getattr(storage, "link_map", None)  # memory://: its dict of stored links
    peek = storage.peek
    append = storage.append_visit
    by_code = plans.by_code
    plan_answer = plans.answer
    detect = detector.detect
    front = detector.front_cache
    max_agent = detector.max_length
    now_utc = datetime.now if clock is utcnow else None  # the default clock, unwrapped
    visitor_id_of = key.visitor_id
    ids: dict[tuple[str | None, str], str] = {}
    languages: dict[str, str] = {}

    def hot(code: str, visitor: Visitor, record: bool = True) -> Decision | None:
        if now_utc is not None:
            now = now_utc(UTC)
        else:
            now = clock()
            if now.tzinfo is not UTC:
                return None  # a host's clock that is not UTC: the full path normalises it
        # -- detection: its front cache read here, a miss asks the detector ---------------
        user_agent = visitor.user_agent
        headers = visitor.headers
        client = (
            front.get((user_agent, headers))
            if front is not None and len(user_agent) <= max_agent
            else None
        )
        if client is None:
            client = detect(user_agent, headers)
        link = links.get(code) if links is not None and type(code) is str else peek(code)
        if link is None:
            return None
        # -- the plan (plans.RedirectPlans.answer, its hit inlined) ------------------------
        plan = by_code.get(code)
        if plan is not None and plan.link is link:
            expires = link.expires_at
            if expires is not None and now >= expires:
                return None
            entry = plan.answers.get(id(client))
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
        # -- the visit, as visits.build_record makes it ------------------------------------
        ip = visitor.ip
        pair = (ip, user_agent)
        visitor_id = ids.get(pair)
        if visitor_id is None:
            visitor_id = visitor_id_of(ip, user_agent)
            if len(ids) >= MAX_REMEMBERED:
                ids.clear()
            ids[pair] = visitor_id
        accept = visitor.accept_language
        language = languages.get(accept)
        if language is None:
            language = pick_language(accept)
            if len(languages) >= MAX_REMEMBERED:
                languages.clear()
            languages[accept] = language
        referer = visitor.referer
        place = NOWHERE if geoip is None else geoip.lookup(ip)
        app, os_name, device, is_bot, browser = answer.fields
        visit: VisitRecord = (
            link.code,
            now,
            storable(ip) if store_ip else None,
            user_agent
            if len(user_agent) <= MAX_STORED_TEXT
            and user_agent.isascii()
            and "\x00" not in user_agent
            else storable_agent(user_agent),
            referer_host(referer) if referer else None,
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
