"""Redirect plans: the policy's answer for a link and a kind of client, worked out once.

For a backend that holds links in this process (:class:`~suolink.backends.base.
HoldsLinksInProcess`), a stored link is one object until it changes. While it stays the
same, :func:`~suolink.policy.decide` gives the same ruling to the same
:class:`~suolink.detect.Client` (detection hands out one object per kind of request), so
the ruling, the redirect sent and what the visit keeps of the client are kept per (link,
client). A changed link is a new object: its old plan is simply not used again.

Only links whose ruling depends on nothing but the client are planned: none disabled,
with a password or a visit limit (the count decides those), a split, country rules or an
abuse mark (the visitor's id or country decides those), nor any that forwards the
visitor's query or a click id (each redirect differs). An expiry is checked on every
use. Only redirects are answered from a plan; pages are rendered per visitor as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from .backends.memory import ClientPart
from .detect import Client
from .errors import InvalidInput
from .http.responses import redirect
from .models import Decision, Link
from .policy import BotAction, Verdict, decide
from .visits import ClientFields, client_fields

__all__ = ["MAX_CLIENTS_PER_PLAN", "MAX_PLANS", "Answer", "Plan", "RedirectPlans"]

#: Links planned at once; past this the plans start afresh (cheap to remake).
MAX_PLANS: Final = 16_384
#: Kinds of client remembered per link; rarer ones are answered without being kept.
MAX_CLIENTS_PER_PLAN: Final = 32


@dataclass(frozen=True, slots=True)
class Answer:
    """A redirect for one kind of client on one link: what to send and what to record."""

    decision: Decision
    outcome: str
    count: bool
    fields: ClientFields
    #: ``fields`` and ``outcome``: what a visit keeps of this answer, as ``memory://``'s
    #: hot path appends it (:data:`~suolink.backends.memory.ClientPart`).
    kept: ClientPart


@dataclass(slots=True)
class Plan:
    """The answers worked out for one stored link object (see the module)."""

    link: Link
    #: ``id(client)`` -> (that client, its answer or None: "not a redirect, ask the policy").
    #: The client is held, so its id cannot be reused while the entry lives.
    answers: dict[int, tuple[Client, Answer | None]] = field(default_factory=dict)


class RedirectPlans:
    """Per-link plans of one Shortener, made on first use; safe to share between threads."""

    def __init__(
        self,
        *,
        check_code: Callable[[str], str],
        redirect_status: int,
        bot_action: BotAction,
        forward_query: bool = False,
        forward_click_id: bool = False,
    ) -> None:
        self._check_code = check_code
        self._forward_query = forward_query
        self._forward_click_id = forward_click_id
        self._status = redirect_status
        self._bot_action = bot_action
        #: Plans by code; read directly by :mod:`suolink.hotpath` (only ``answer`` and
        #: ``clear`` change it). A plan is good only while ``plan.link`` is the stored link.
        self.by_code: dict[str, Plan] = {}
        self._lock = threading.Lock()  # only to make and drop plans; reads take none

    def answer(self, link: Link, client: Client, now: datetime) -> Answer | None:
        """The redirect ``client`` gets for ``link`` at ``now``; None: "ask the policy".

        ``link`` must be the stored object (:meth:`HoldsLinksInProcess.peek`), so that a
        change of the link is a change of object.
        """
        plan = self.by_code.get(link.code)
        if plan is None or plan.link is not link:
            plan = self._plan(link)
            if plan is None:
                return None
        expires = link.expires_at
        if expires is not None and now >= expires:
            return None
        entry = plan.answers.get(id(client))
        if entry is not None and entry[0] is client:
            return entry[1]
        answer = self._answer(link, client, now)
        if len(plan.answers) < MAX_CLIENTS_PER_PLAN:
            plan.answers[id(client)] = (client, answer)
        return answer

    def clear(self) -> None:
        """Forget every plan (they are remade on use)."""
        with self._lock:
            self.by_code.clear()

    def _plan(self, link: Link) -> Plan | None:
        if link.disabled or link.password_hash is not None or link.max_visits is not None:
            return None
        if link.split or link.geo_targets or link.allow_countries is not None:
            return None  # the visitor's id or country decides, not the client alone
        if link.deny_countries or link.warning is not None or link.abuse_status is not None:
            return None
        if _on(link.forward_query, self._forward_query) or _on(
            link.forward_click_id, self._forward_click_id
        ):
            return None  # the visitor's query or a fresh click id: a URL per request
        try:
            self._check_code(link.code)
        except InvalidInput:
            return None  # a code no request can name: the policy answers "not found"
        plan = Plan(link)
        with self._lock:
            if len(self.by_code) >= MAX_PLANS:
                self.by_code.clear()
            self.by_code[link.code] = plan
        return plan

    def _answer(self, link: Link, client: Client, now: datetime) -> Answer | None:
        ruling = decide(link, client, now=now, bot_action=self._bot_action)
        if ruling.verdict is not Verdict.REDIRECT or ruling.location is None:
            return None
        fields = client_fields(client)
        outcome = ruling.outcome or "redirect"
        return Answer(
            decision=redirect(ruling.location, self._status),
            outcome=outcome,
            count=ruling.count,
            fields=fields,
            kept=(*fields, outcome),
        )


def _on(setting: bool | None, default: bool) -> bool:
    """A link's flag, or the Shortener's default where the link leaves it unset."""
    return default if setting is None else setting
