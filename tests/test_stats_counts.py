"""Stats from the counts a backend keeps at write time, and their windows (stats.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.backends.base import StatsCounts
from suolink.backends.memory import MemoryStorage
from suolink.errors import InvalidOption
from suolink.models import Link, Visit
from suolink.stats import aggregate, day_window, from_counts, link_stats, ranked

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_aggregate_counts_people_and_bots_apart() -> None:
    visits = [
        Visit(code="c", at=T0, app="wechat", os="ios", device="mobile", visitor_id="v1"),
        Visit(code="c", at=T0, app="wechat", os="ios", visitor_id="v1", referer="a.example"),
        Visit(code="c", at=T0 + timedelta(days=1), ip="1.2.3.4"),
        Visit(code="c", at=T0, app="googlebot", is_bot=True, outcome="bot", visitor_id="b"),
    ]
    stats = aggregate("c", visits)
    assert (stats.total, stats.humans, stats.bots, stats.unique_visitors) == (4, 3, 1, 2)
    assert stats.by_app == {"wechat": 2, "browser": 1}
    assert stats.by_device == {"other": 2, "mobile": 1}
    assert stats.by_bot == {"googlebot": 1}
    assert stats.by_day == {"2030-01-01": 3, "2030-01-02": 1}
    assert stats.by_outcome == {"redirect": 3, "bot": 1}
    assert stats.top_visitors == [("v1", 2), ("1.2.3.4", 1)]
    assert stats.top_referers == [("a.example", 1)]


def test_days_are_utc_days_unless_a_zone_is_given() -> None:
    late = datetime(2030, 1, 1, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=8)))
    assert aggregate("c", [Visit(code="c", at=late)]).by_day == {"2030-01-01": 1}
    shanghai = timezone(timedelta(hours=8))
    assert aggregate("c", [Visit(code="c", at=late)], tz=shanghai).by_day == {"2030-01-02": 1}


def test_ties_rank_by_value_not_by_arrival() -> None:
    visits = [Visit(code="c", at=T0, visitor_id=who) for who in ("z", "b", "a", "b")]
    assert aggregate("c", visits).top_visitors == [("b", 2), ("a", 1), ("z", 1)]
    assert ranked({"x": 1, "y": 3, "w": 1}, 2) == [("y", 3), ("w", 1)]


@given(st.dictionaries(st.text(max_size=3), st.integers(1, 5), max_size=15))
def test_ranked_is_a_total_order_largest_first(counts: dict[str, int]) -> None:
    items = ranked(counts)
    assert sorted(items) == sorted(counts.items())
    assert items == ranked(dict(reversed(list(counts.items()))))
    assert all((-a[1], a[0]) < (-b[1], b[0]) for a, b in itertools.pairwise(items))


def test_from_counts_fills_every_field() -> None:
    counts = StatsCounts(
        by_day={"2030-01-02": 2, "2030-01-01": 3, "2030-01-03": 0},
        dimensions={
            "outcome": {"redirect": 4, "bot": 1},
            "bot": {"googlebot": 1},
            "app": {"wechat": 4},
            "os": {"ios": 4},
            "device": {"mobile": 4},
            "browser": {"safari": 4},
            "referer": {"b.example": 1, "a.example": 1},
        },
        unique_visitors=2,
        top_visitors=[("v2", 1), ("v1", 3)],
    )
    stats = from_counts("c", counts)
    assert (stats.total, stats.humans, stats.bots, stats.redirects) == (5, 4, 1, 4)
    assert list(stats.by_day) == ["2030-01-01", "2030-01-02"]
    assert stats.top_visitors == [("v1", 3), ("v2", 1)]
    assert stats.top_referers == [("a.example", 1), ("b.example", 1)]
    assert stats.by_browser == {"safari": 4}
    assert from_counts("c", StatsCounts()) == aggregate("c", [])


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, (None, None)),
        (T0, None, (date(2030, 1, 1), None)),
        (None, T0 + timedelta(days=2), (None, date(2030, 1, 3))),
        (T0.astimezone(timezone(timedelta(hours=8))), None, (date(2030, 1, 1), None)),
        (T0 + timedelta(hours=1), None, None),
        (None, T0 + timedelta(microseconds=1), None),
        (datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=8))), None, None),
    ],
)
def test_day_window_accepts_only_utc_midnights(
    since: datetime | None, until: datetime | None, expected: object
) -> None:
    assert day_window(since, until) == expected


class _Watched(MemoryStorage):
    """A memory store that says which way stats were read."""

    def __init__(self) -> None:
        super().__init__()
        self.ways: list[str] = []

    def counts(
        self, code: str, *, since: date | None = None, until: date | None = None
    ) -> StatsCounts:
        """Counted, and noted."""
        self.ways.append("counts")
        return super().counts(code, since=since, until=until)

    def visits(self, code: str, **window: object) -> Iterator[Visit]:  # type: ignore[override]
        self.ways.append("visits")
        return super().visits(code, **window)  # type: ignore[arg-type]


def test_whole_days_come_from_counts_and_sub_day_windows_from_raw_visits() -> None:
    store = _Watched()
    store.create(Link(code="w", url="https://e.com"))
    for hours in (1, 13, 30):
        store.record_visit(Visit(code="w", at=T0 + timedelta(hours=hours)))
    assert link_stats(store, "w").total == 3
    assert link_stats(store, "w", since=T0 + timedelta(days=1)).total == 1
    assert store.ways == ["counts", "counts"]
    store.ways.clear()
    assert link_stats(store, "w", since=T0 + timedelta(hours=12)).total == 2
    assert link_stats(store, "w", until=T0 + timedelta(hours=2)).total == 1
    assert store.ways == ["visits", "visits"]


def test_naive_windows_are_refused_on_either_path() -> None:
    store = MemoryStorage()
    store.create(Link(code="n", url="https://e.com"))
    for bound in (datetime(2030, 1, 1), datetime(2030, 1, 1, 5)):
        with pytest.raises(InvalidOption):
            link_stats(store, "n", since=bound)
        with pytest.raises(InvalidOption):
            link_stats(store, "n", until=bound)


def test_shortener_stats_uses_the_kept_counts() -> None:
    store = _Watched()
    shortener = Shortener(store, secret="k" * 32)
    link = shortener.shorten("https://example.com/a")
    store.record_visit(Visit(code=link.code, at=T0, visitor_id="v"))
    stats = shortener.stats(link.code)
    assert (stats.total, stats.unique_visitors) == (1, 1)
    assert store.ways == ["counts"]
