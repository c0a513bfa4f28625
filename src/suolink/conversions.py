"""Conversions: checking what a host reports after a click, and the funnel they make.

A conversion is a lead, a sale or a kind the host names, reported with the click id the
redirect handed its landing page (:mod:`suolink.clicks`). This module checks the report
(kind, amount, currency) and folds a link's clicks and conversions into a
:class:`Funnel`: clicks → leads → sales (→ other kinds), with value sums per currency.
Pure: the Shortener reads and stores, this only checks and counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NamedTuple

from .errors import InvalidOption
from .models import Conversion

__all__ = [
    "KINDS",
    "KIND_PATTERN",
    "MAX_VALUE",
    "VALUE_PLACES",
    "Funnel",
    "FunnelReport",
    "add_funnels",
    "check_amount",
    "check_kind",
    "fold_funnel",
]

#: The kinds every funnel shows, in order; hosts may report others (:data:`KIND_PATTERN`).
KINDS: Final = ("lead", "sale")
#: A kind: a short lower-case word (``signup``, ``trial-start``).
KIND_PATTERN: Final = r"[a-z][a-z0-9_-]{0,31}"
_KIND: Final = re.compile(KIND_PATTERN)
#: Amounts are below this and have at most :data:`VALUE_PLACES` decimal places.
MAX_VALUE: Final = Decimal(10) ** 15
VALUE_PLACES: Final = 6
_CURRENCY: Final = re.compile(r"[A-Za-z]{3}")


def check_kind(kind: object) -> str:
    """``kind`` as stored: ``lead``, ``sale`` or another short lower-case word."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidOption(
            "kind", "expected lead, sale or a short lower-case word (a-z, 0-9, _ and -)"
        )
    if kind == "clicks":
        raise InvalidOption("kind", "'clicks' is the funnel's first stage, not a conversion")
    return kind


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise InvalidOption("value", "expected an amount such as 19.99 (a number or a string)")
    if isinstance(value, str) and (len(value) > 40 or not value.strip()):
        raise InvalidOption("value", "expected an amount such as 19.99")
    try:
        # A float through its shortest text: 19.99 stays 19.99, not 19.989999….
        return Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        raise InvalidOption("value", "expected an amount such as 19.99") from None


def check_amount(value: object, currency: object) -> tuple[Decimal | None, str | None]:
    """``(value, currency)`` as stored: both None, or an exact non-negative amount with
    at most :data:`VALUE_PLACES` decimals and an ISO 4217 code in capitals."""
    if value is None and currency is None:
        return None, None
    if value is None:
        raise InvalidOption("value", "a currency needs a value")
    if currency is None:
        raise InvalidOption("currency", "a value needs its currency (ISO 4217, such as CNY)")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidOption("currency", "expected three letters of ISO 4217, such as CNY or USD")
    amount = _decimal(value)
    if not amount.is_finite() or amount < 0 or amount >= MAX_VALUE:
        raise InvalidOption("value", f"expected an amount from 0 to below {MAX_VALUE:,}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -VALUE_PLACES:
        amount = amount.normalize()  # 1.5000000 is 1.5
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -VALUE_PLACES:
            raise InvalidOption("value", f"at most {VALUE_PLACES} decimal places")
    if amount == 0:
        amount = Decimal(0)
    elif isinstance(exponent, int) and exponent > 0:
        amount = amount.quantize(Decimal(1))  # 1E+3 is 1000
    return amount, currency.upper()


@dataclass(frozen=True, slots=True)
class Funnel:
    """Clicks, then conversions by kind, and what they were worth per currency.

    ``clicks`` are counted redirects of people; ``conversions`` counts each kind once per
    click id; ``values`` sums amounts by kind, then currency (never across currencies).
    """

    clicks: int = 0
    conversions: dict[str, int] = field(default_factory=dict)
    values: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def leads(self) -> int:
        return self.conversions.get("lead", 0)

    @property
    def sales(self) -> int:
        return self.conversions.get("sale", 0)

    def stages(self) -> list[tuple[str, int, dict[str, Decimal]]]:
        """``(name, count, values)`` in funnel order: clicks, lead, sale, then others A-Z."""
        kinds = [*KINDS, *sorted(set(self.conversions) - set(KINDS))]
        return [("clicks", self.clicks, {})] + [
            (kind, self.conversions.get(kind, 0), self.values.get(kind, {})) for kind in kinds
        ]

    def rate(self, kind: str) -> float | None:
        """Conversions of ``kind`` per click (None without clicks)."""
        return self.conversions.get(kind, 0) / self.clicks if self.clicks else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as decimal strings (exact), counts as numbers."""
        return {
            "clicks": self.clicks,
            "leads": self.leads,
            "sales": self.sales,
            "conversions": dict(self.conversions),
            "values": {
                kind: {currency: str(total) for currency, total in by.items()}
                for kind, by in self.values.items()
            },
        }


class FunnelReport(NamedTuple):
    """Many links' funnels: their ``total`` and one per group (recipient or campaign)."""

    total: Funnel
    groups: dict[str, Funnel]


def fold_funnel(clicks: int, conversions: Iterable[Conversion]) -> Funnel:
    """The funnel of ``clicks`` counted redirects and these ``conversions``."""
    counts: dict[str, int] = {}
    values: dict[str, dict[str, Decimal]] = {}
    for conversion in conversions:
        counts[conversion.kind] = counts.get(conversion.kind, 0) + 1
        if conversion.value is not None and conversion.currency is not None:
            by = values.setdefault(conversion.kind, {})
            by[conversion.currency] = by.get(conversion.currency, Decimal(0)) + conversion.value
    return Funnel(clicks, dict(sorted(counts.items())), _sorted(values))


def _sorted(values: Mapping[str, Mapping[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
    return {kind: dict(sorted(by.items())) for kind, by in sorted(values.items())}


def add_funnels(funnels: Iterable[Funnel]) -> Funnel:
    """Several links' funnels as one (a recipient's links, a campaign's): counts and
    amounts added, per kind and currency."""
    clicks = 0
    counts: dict[str, int] = {}
    values: dict[str, dict[str, Decimal]] = {}
    for funnel in funnels:
        clicks += funnel.clicks
        for kind, n in funnel.conversions.items():
            counts[kind] = counts.get(kind, 0) + n
        for kind, by in funnel.values.items():
            into = values.setdefault(kind, {})
            for currency, amount in by.items():
                into[currency] = into.get(currency, Decimal(0)) + amount
    return Funnel(clicks, dict(sorted(counts.items())), _sorted(values))
