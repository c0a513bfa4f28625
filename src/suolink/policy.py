"""What a visitor gets for a link: the rules of resolving, as a pure and total function.

``decide`` never touches storage or the network and never raises; the Shortener turns
its ``Ruling`` into a page or a redirect. Order: not found / disabled -> expired ->
exhausted -> password -> redirect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .models import Link
from .passwords import verify_password

__all__ = ["Ruling", "Verdict", "decide"]


class Verdict(StrEnum):
    """The kinds of answer a visitor can get."""

    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    PASSWORD_REQUIRED = "password_required"  # noqa: S105 - a verdict name, not a secret
    PASSWORD_WRONG = "password_wrong"  # noqa: S105 - a verdict name, not a secret
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class Ruling:
    """A verdict, the link it concerns, and where to send the visitor if anywhere."""

    verdict: Verdict
    link: Link | None = None
    location: str | None = None


def decide(
    link: Link | None,
    *,
    now: datetime,
    password: str | None = None,
    platforms: frozenset[str] = frozenset(),
) -> Ruling:
    """The ruling for a visitor on ``platforms`` who typed ``password`` (or nothing)."""
    if link is None or link.disabled:
        return Ruling(Verdict.NOT_FOUND, link)
    if link.is_expired(now):
        return Ruling(Verdict.EXPIRED, link)
    if link.is_exhausted:
        return Ruling(Verdict.EXHAUSTED, link)
    if link.password_hash is not None:
        if password is None:
            return Ruling(Verdict.PASSWORD_REQUIRED, link)
        if not verify_password(password, link.password_hash):
            return Ruling(Verdict.PASSWORD_WRONG, link)
    return Ruling(Verdict.REDIRECT, link, link.target_for(platforms))
