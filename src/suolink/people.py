"""People across links: which visits count, the scopes they count in, and a tally.

A person's redirect on a link made for a ``recipient`` or in a ``campaign`` counts for
its visitor and its recipient in two scopes: the link's campaign and "every campaign"
(:data:`EVERY`). :class:`PeopleTally` keeps those counts in dicts: ``memory://`` keeps
its people in one, and the Shortener folds raw visits into one for the questions the
kept rows cannot answer (a ``since`` window, a tag). See docs/people.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from . import rules
from .backends._common import to_micros
from .backends.base import PeopleTotals, PersonRow
from .errors import InvalidOption
from .models import Link, Visit, utcnow

__all__ = [
    "EVERY",
    "MAX_LIMIT",
    "MAX_RECIPIENTS",
    "RECIPIENT_COLUMNS",
    "VISITOR_COLUMNS",
    "PeopleTally",
    "check_campaign",
    "check_id",
    "check_limit",
    "check_min_clicks",
    "check_recipients",
    "counts_for_people",
    "fold_visitors",
    "is_people_link",
    "people_rows",
    "people_sql",
    "rank",
    "row_to_json",
    "scope_of",
    "scopes",
    "totals_to_json",
]

#: The scope of "every campaign" (a campaign name is never empty).
EVERY: Final = ""
#: The most rows one ``top_*`` call returns (an export reads them all: ``limit=None``).
MAX_LIMIT: Final = 10_000


def counts_for_people(visit: Visit) -> bool:
    """True for a person's redirect with a visitor id: what people stats count.

    Bots, previews, refusals and guide views are not clicks: the guide view is the
    WeChat step before the browser, whose redirect counts for the same person.
    """
    return visit.outcome == "redirect" and not visit.is_bot and bool(visit.visitor_id)


def is_people_link(campaign: str | None, recipient: str | None) -> bool:
    """True if a link's visits count for people: it has a campaign or a recipient."""
    return campaign is not None or recipient is not None


def scopes(campaign: str | None) -> tuple[str, ...]:
    """The scopes a link's visits count in: its campaign (if any) and :data:`EVERY`."""
    return (EVERY,) if campaign is None else (campaign, EVERY)


def scope_of(campaign: str | None) -> str:
    """The scope a query names: a campaign, or :data:`EVERY` for ``None``."""
    return EVERY if campaign is None else campaign


def rank(rows: Iterable[PersonRow], *, limit: int | None, min_clicks: int = 0) -> list[PersonRow]:
    """Rows with at least ``min_clicks``, most clicks first, ties by id, ``limit`` of them."""
    kept = sorted(
        (row for row in rows if row.clicks >= min_clicks), key=lambda row: (-row.clicks, row.id)
    )
    return kept if limit is None else kept[:limit]


@dataclass(slots=True)
class _Person:
    """One visitor's or recipient's counts in one scope."""

    clicks: int = 0
    links: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    #: Recipients: their own visitor id ("" once forgotten) and the others seen.
    own: str | None = None
    others: set[str] = field(default_factory=set)

    def click(self, code: str, at: datetime) -> None:
        self.clicks += 1
        self.links.add(code)
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last

    def row(self, who: str, *, recipient: bool) -> PersonRow:
        return PersonRow(
            id=who,
            clicks=self.clicks,
            links=len(self.links),
            first_seen=self.first,
            last_seen=self.last,
            reach=len(self.others) if recipient else 0,
            visitor=(self.own or None) if recipient else None,
        )


class PeopleTally:
    """People's counts in dicts, by scope; not thread-safe (the caller holds a lock)."""

    def __init__(self) -> None:
        self._visitors: dict[str, dict[str, _Person]] = {}
        self._recipients: dict[str, dict[str, _Person]] = {}

    def add_link(self, link: Link) -> None:
        """A new link made for a recipient: the recipient is listed with no click yet."""
        if link.recipient is None:
            return
        for scope in scopes(link.campaign):
            self._recipients.setdefault(scope, {}).setdefault(link.recipient, _Person())

    def add(self, visit: Visit, campaign: str | None, recipient: str | None) -> None:
        """Count ``visit`` (on a link with this campaign and recipient) if it is a click."""
        if not is_people_link(campaign, recipient) or not counts_for_people(visit):
            return
        who = visit.visitor_id
        assert who is not None  # counts_for_people
        for scope in scopes(campaign):
            self.click(visit, scope)
            if recipient is None:
                continue
            person = self._recipients.setdefault(scope, {}).setdefault(recipient, _Person())
            person.click(visit.code, visit.at)
            if person.own is None:
                person.own = who
            elif who != person.own:
                person.others.add(who)

    def click(self, visit: Visit, scope: str) -> None:
        """Count a person's click for its visitor in one scope."""
        assert visit.visitor_id is not None
        self._visitors.setdefault(scope, {}).setdefault(visit.visitor_id, _Person()).click(
            visit.code, visit.at
        )

    def top_visitors(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        kept = self._visitors.get(scope_of(campaign), {})
        rows = (p.row(who, recipient=False) for who, p in kept.items())
        return rank(rows, limit=limit, min_clicks=min_clicks)

    def top_recipients(
        self, campaign: str | None, *, limit: int | None, min_clicks: int = 0
    ) -> list[PersonRow]:
        kept = self._recipients.get(scope_of(campaign), {})
        rows = (p.row(who, recipient=True) for who, p in kept.items())
        return rank(rows, limit=limit, min_clicks=min_clicks)

    def campaigns(self) -> dict[str, PeopleTotals]:
        return {
            scope: self.people_totals(scope)
            for scope in sorted(self._recipients)
            if scope != EVERY and self._recipients[scope]
        }

    def people_totals(self, campaign: str | None) -> PeopleTotals:
        kept = self._recipients.get(scope_of(campaign), {})
        return PeopleTotals(
            recipients=len(kept),
            clicks=sum(p.clicks for p in kept.values()),
            reach=sum(len(p.others) for p in kept.values()),
        )

    def forget_visitor(self, visitor: str) -> bool:
        found = False
        for kept in self._visitors.values():
            found = kept.pop(visitor, None) is not None or found
        for kept in self._recipients.values():
            for person in kept.values():
                if person.own == visitor:
                    person.own, found = "", True
                elif visitor in person.others:
                    person.others.discard(visitor)
                    found = True
        return found

    def forget_recipient(self, recipient: str) -> bool:
        found = False
        for kept in self._recipients.values():
            found = kept.pop(recipient, None) is not None or found
        return found


# -- what the Shortener asks: checks, folding raw visits, CSV ----------------------------


def check_limit(limit: object, *, name: str = "limit") -> int:
    """A ``top_*`` limit: a whole number from 1 to :data:`MAX_LIMIT`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidOption(name, f"must be a whole number from 1 to {MAX_LIMIT}")
    return limit


def check_min_clicks(value: object) -> int:
    """A ``min_clicks`` threshold: a whole number from 0."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**62:
        raise InvalidOption("min_clicks", "must be a whole number from 0")
    return value


def check_campaign(campaign: object) -> str | None:
    """A campaign named in a query (None: every campaign), by the setting's own rule."""
    if campaign is None:
        return None
    checked = rules.CAMPAIGN.check(
        campaign, rules.Context(now=utcnow(), validate_url=str, name="campaign")
    )
    assert isinstance(checked, str)
    return checked


#: The most recipients one ``shorten_for`` call makes.
MAX_RECIPIENTS: Final = 10_000


def check_recipients(recipients: object) -> list[str]:
    """Recipient ids for ``shorten_for``: each by the setting's rule, none twice."""
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise InvalidOption("recipients", "expected a list of recipient ids")
    context = rules.Context(now=utcnow(), validate_url=str, name="recipients")
    out: list[str] = []
    seen: set[str] = set()
    for item in recipients:
        checked = rules.RECIPIENT.check(item, context)
        if not isinstance(checked, str):
            raise InvalidOption("recipients", "a recipient id cannot be null")
        if checked in seen:
            raise InvalidOption("recipients", f"names {checked[:40]!r} twice")
        seen.add(checked)
        out.append(checked)
        if len(out) > MAX_RECIPIENTS:
            raise InvalidOption("recipients", f"at most {MAX_RECIPIENTS} in one call")
    if not out:
        raise InvalidOption("recipients", "name at least one recipient")
    return out


def check_id(value: object) -> str:
    """A visitor or recipient id given to ``forget_*``: text of 1-128 characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or not value.isprintable():
        raise InvalidOption("id", "expected a visitor or recipient id (1-128 characters)")
    return value


def fold_visitors(
    items: Iterable[tuple[Link, Iterable[Visit]]], *, limit: int | None, min_clicks: int = 0
) -> list[PersonRow]:
    """The visitors of these links' visits, ranked: for windows and tags the kept rows
    do not answer (cost: every visit read)."""
    tally = PeopleTally()
    for _link, visits in items:
        for visit in visits:
            if counts_for_people(visit):
                tally.click(visit, EVERY)
    return tally.top_visitors(None, limit=limit, min_clicks=min_clicks)


VISITOR_COLUMNS: Final = ("visitor", "clicks", "links", "first_seen", "last_seen")
RECIPIENT_COLUMNS: Final = (
    "recipient",
    "clicks",
    "links",
    "reach",
    "visitor",
    "first_seen",
    "last_seen",
)


def people_rows(rows: Iterable[PersonRow], *, recipients: bool) -> Iterator[tuple[object, ...]]:
    """Rows as CSV cells in the order of :data:`RECIPIENT_COLUMNS` or :data:`VISITOR_COLUMNS`."""
    for row in rows:
        if recipients:
            yield (
                row.id,
                row.clicks,
                row.links,
                row.reach,
                row.visitor,
                row.first_seen,
                row.last_seen,
            )
        else:
            yield (row.id, row.clicks, row.links, row.first_seen, row.last_seen)


def row_to_json(row: PersonRow, *, recipients: bool) -> dict[str, object]:
    """One row as the API shows it (times in ISO 8601)."""
    out: dict[str, object] = {
        "id": row.id,
        "clicks": row.clicks,
        "links": row.links,
        "first_seen": None if row.first_seen is None else row.first_seen.isoformat(),
        "last_seen": None if row.last_seen is None else row.last_seen.isoformat(),
    }
    if recipients:
        out["reach"] = row.reach
        out["visitor"] = row.visitor
    return out


def totals_to_json(totals: PeopleTotals) -> dict[str, object]:
    """A campaign's totals as the API shows them."""
    return {
        "recipients": totals.recipients,
        "clicks": totals.clicks,
        "reach": totals.reach,
        "average_reach": round(totals.average_reach, 4),
    }


def people_sql(family: str) -> dict[str, str]:
    """The statements counting a click for people (SQLite's, with hashed keys).

    ``family`` is ``"postgresql"``, ``"mysql"`` or ``"sqlite"`` (Django's ``django://``
    on SQLite shares them too, tables renamed). Rows are made by an insert that skips
    an existing row, then updated: the same two statements on every engine (in an
    ``UPDATE`` MySQL reads columns assigned before, so ``reach`` is set before ``own``).
    """
    ignore = (
        "INSERT IGNORE INTO {}" if family == "mysql" else "INSERT INTO {} ON CONFLICT DO NOTHING"
    )
    low, high = ("MIN", "MAX") if family == "sqlite" else ("LEAST", "GREATEST")
    seen = (
        f"first_us = COALESCE({low}(first_us, :at), :at), "
        f"last_us = COALESCE({high}(last_us, :at), :at)"
    )
    return {
        "add_recipient": ignore.format(
            "people_recipients (scope_key, recipient_key, scope, recipient, clicks, links, "
            "first_us, last_us, own, reach) VALUES (:sk, :rk, :scope, :recipient, 0, 0, "
            "NULL, NULL, NULL, 0)"
        ),
        "add_visitor": ignore.format(
            "people_visitors (scope_key, visitor_key, scope, visitor, clicks, links) "
            "VALUES (:sk, :vk, :scope, :who, 0, 0)"
        ),
        "visitor_link": ignore.format(
            "people_visitor_links (scope_key, visitor_key, code) VALUES (:sk, :vk, :code)"
        ),
        "recipient_link": ignore.format(
            "people_recipient_links (scope_key, recipient_key, code) VALUES (:sk, :rk, :code)"
        ),
        "recipient_visitor": ignore.format(
            "people_recipient_visitors (scope_key, recipient_key, visitor_key) "
            "VALUES (:sk, :rk, :vk)"
        ),
        "visitor_click": "UPDATE people_visitors SET clicks = clicks + 1, "  # noqa: S608
        f"links = links + :new, {seen} WHERE scope_key = :sk AND visitor_key = :vk",
        # ``own`` is the first visitor; every later new visitor adds one to ``reach``.
        "recipient_click": "UPDATE people_recipients SET clicks = clicks + 1, "  # noqa: S608
        f"links = links + :new, {seen}, "
        "reach = reach + (CASE WHEN :new_person = 1 AND own IS NOT NULL THEN 1 ELSE 0 END), "
        "own = COALESCE(own, :who) WHERE scope_key = :sk AND recipient_key = :rk",
    }


def count_click(
    run: Callable[[str, dict[str, Any]], int],
    key: Callable[[str], object],
    visit: Visit,
    campaign: str | None,
    recipient: str | None,
) -> None:
    """One click on a people link through :func:`people_sql`'s statements, per scope: the
    visitor's rows, then the recipient's. ``run(name, params)`` executes one statement and
    returns the rows it changed; ``key`` is the store's hash of a text for key columns."""
    who = str(visit.visitor_id)
    vk, at = key(who), to_micros(visit.at)
    for scope in scopes(campaign):
        sk = key(scope)
        keys = {"sk": sk, "vk": vk, "code": visit.code}
        new_link = run("visitor_link", keys)
        run("add_visitor", {"sk": sk, "vk": vk, "scope": scope, "who": who})
        run("visitor_click", {"sk": sk, "vk": vk, "new": new_link, "at": at})
        if recipient is None:
            continue
        rk = key(recipient)
        keys = {"sk": sk, "rk": rk, "code": visit.code, "vk": vk}
        new_link = run("recipient_link", keys)
        new_person = run("recipient_visitor", keys)
        run("add_recipient", {"sk": sk, "rk": rk, "scope": scope, "recipient": recipient})
        run(
            "recipient_click",
            {"sk": sk, "rk": rk, "new": new_link, "new_person": int(new_person > 0),
             "at": at, "who": who},
        )  # fmt: skip
