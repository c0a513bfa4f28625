"""Which URL a redirected visitor is sent to: platform targets, country targets, the split.

Pure and total, like the policy that calls it. The order is fixed and documented:

1. ``targets``: the first per-platform URL whose platform the visitor is on (an app store
   link for iOS visitors is about the device, so it wins);
2. ``geo_targets``: the URL for the visitor's country, when the GeoIP lookup found one;
3. ``split``: one weighted arm, chosen from a hash of the link's code and the visitor's
   keyed id, so the same visitor always lands on the same arm (and the arm is recorded);
4. the link's ``url``.

Whichever is chosen then carries the link's UTM tags (``utm``, see
:func:`suolink.forwarding.with_utm`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from .forwarding import with_utm
from .models import Link

__all__ = ["Target", "choose_arm", "pick_target"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a visitor goes, and the split arm that sent them there (None: no split)."""

    url: str
    arm: str | None = None


def choose_arm(
    arms: tuple[tuple[str, str, int], ...], code: str, visitor_id: str | None
) -> tuple[str, str]:
    """``(name, url)`` of the arm for this visitor: stable per (code, visitor), by weight.

    A point in ``[0, total weight)`` from SHA-256 of code and visitor id, then the arm
    whose share covers it; arms of weight 0 are never chosen. ``arms`` is not empty and
    its weights sum above 0 (the setting's rule sees to both).
    """
    total = sum(weight for _, _, weight in arms)
    digest = hashlib.sha256(f"{code}\n{visitor_id or ''}".encode("utf-8", "surrogatepass"))
    point = int.from_bytes(digest.digest()[:8], "big") % total
    for name, url, weight in arms:
        if point < weight:
            return name, url
        point -= weight
    raise AssertionError("unreachable: the point lies below the total weight")  # pragma: no cover


def pick_target(
    link: Link,
    platforms: Iterable[str],
    *,
    country: str | None = None,
    visitor_id: str | None = None,
) -> Target:
    """The URL for a visitor on ``platforms`` in ``country`` (see the module's order)."""
    target = _pick(link, platforms, country, visitor_id)
    if link.utm:
        return Target(with_utm(target.url, link.utm), target.arm)
    return target


def _pick(
    link: Link, platforms: Iterable[str], country: str | None, visitor_id: str | None
) -> Target:
    if link.targets:
        wanted = set(platforms)
        for platform, url in link.targets:
            if platform in wanted:
                return Target(url)
    if country and link.geo_targets:
        for place, url in link.geo_targets:
            if place == country:
                return Target(url)
    if link.split:
        name, url = choose_arm(link.split, link.code, visitor_id)
        return Target(url, name)
    return Target(link.url)
