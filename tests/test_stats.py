"""stats.py: folding visits into counts (by app, OS, device, day, outcome), visitors, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from suolink import Shortener
from suolink.conversions import Funnel
from suolink.models import Visit
from suolink.stats import LinkStats, aggregate

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def person(**kw: Any) -> Visit:
    """A person's visit to ``abc`` at ``T0``, with ``kw`` changed."""
    return Visit(**{"code": "abc", "at": T0, "visitor_id": "v1", **kw})


def test_no_visits_is_all_zero() -> None:
    stats = aggregate("abc", [])
    assert stats == LinkStats(code="abc")
    assert stats.redirects == 0
    assert stats.to_dict()["top_visitors"] == []


def test_people_are_counted_by_app_os_device_and_browser() -> None:
    visits = [
        person(app="wechat", os="ios", device="mobile", browser="safari"),
        person(app="wechat", os="android", device="mobile", browser="chrome"),
        person(app=None, os="windows", device="desktop", browser="chrome"),
    ]
    stats = aggregate("abc", visits)
    assert stats.total == stats.humans == 3
    assert stats.bots == 0
    assert stats.by_app == {"wechat": 2, "browser": 1}
    assert list(stats.by_app) == ["wechat", "browser"]  # most first
    assert stats.by_os == {"ios": 1, "android": 1, "windows": 1}
    assert stats.by_device == {"mobile": 2, "desktop": 1}
    assert stats.by_browser == {"chrome": 2, "safari": 1}


def test_missing_detection_falls_into_named_buckets() -> None:
    stats = aggregate("abc", [person(app=None, os=None, device=None, browser=None)])
    assert stats.by_app == {"browser": 1}
    assert stats.by_os == stats.by_device == stats.by_browser == {"other": 1}


def test_bots_are_counted_apart_from_people() -> None:
    visits = [
        person(app="wechat", os="ios"),
        Visit(code="abc", at=T0, is_bot=True, app="googlebot", outcome="bot", visitor_id="b"),
        Visit(code="abc", at=T0, is_bot=True, app=None, outcome="bot", referer="https://x"),
    ]
    stats = aggregate("abc", visits)
    assert (stats.total, stats.humans, stats.bots) == (3, 1, 2)
    assert stats.by_bot == {"googlebot": 1, "unknown": 1}
    assert stats.by_app == {"wechat": 1}  # bots are not in the people's tables
    assert stats.unique_visitors == 1
    assert stats.top_referers == []
    assert stats.by_outcome == {"bot": 2, "redirect": 1}
    assert stats.by_day == {"2026-03-01": 3}  # but every visit is in the day count


def test_outcomes_and_redirects() -> None:
    visits = [person(outcome=o) for o in ("redirect", "guide", "redirect", "denied", "preview")]
    stats = aggregate("abc", visits)
    assert stats.by_outcome == {"redirect": 2, "guide": 1, "denied": 1, "preview": 1}
    assert stats.redirects == 2
    assert stats.to_dict()["redirects"] == 2


def test_unique_and_top_visitors_use_the_id_then_the_ip() -> None:
    visits = [
        person(visitor_id="a"),
        person(visitor_id="a"),
        person(visitor_id="a"),
        person(visitor_id="b"),
        person(visitor_id=None, ip="198.51.100.7"),
        person(visitor_id=None, ip="198.51.100.7"),
        person(visitor_id=None, ip=None),  # nobody to tell apart: counted, not a visitor
    ]
    stats = aggregate("abc", visits)
    assert stats.humans == 7
    assert stats.unique_visitors == 3
    assert stats.top_visitors == [("a", 3), ("198.51.100.7", 2), ("b", 1)]
    assert stats.to_dict()["top_visitors"][0] == {"visitor": "a", "visits": 3}


def test_top_lists_keep_the_ten_biggest() -> None:
    visits = [
        person(visitor_id=f"v{i}", referer=f"https://r{i}") for i in range(12) for _ in range(i + 1)
    ]
    stats = aggregate("abc", visits)
    assert stats.unique_visitors == 12
    assert len(stats.top_visitors) == len(stats.top_referers) == 10
    assert stats.top_visitors[0] == ("v11", 12)
    assert stats.top_referers[-1] == ("https://r2", 3)
    assert stats.to_dict()["top_referers"][0] == {"referer": "https://r11", "visits": 12}


def test_days_are_sorted_and_counted_in_the_given_zone() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Shanghai
    visits = [person(at=late), person(at=T0 - timedelta(days=2)), person(at=T0)]
    assert aggregate("abc", visits).by_day == {"2026-02-27": 1, "2026-03-01": 2}
    shanghai = timezone(timedelta(hours=8))
    by_day = aggregate("abc", visits, tz=shanghai).by_day
    assert by_day == {"2026-02-27": 1, "2026-03-01": 1, "2026-03-02": 1}
    assert list(by_day) == sorted(by_day)


@settings(deadline=None)  # timing under a loaded CI machine is not the property
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(["wechat", "qq", None]), st.integers(0, 5)),
        max_size=40,
    )
)
def test_every_table_adds_up(rows: list[tuple[bool, str | None, int]]) -> None:
    visits = [
        Visit(code="abc", at=T0 + timedelta(hours=h), is_bot=bot, app=app, visitor_id=str(h))
        for bot, app, h in rows
    ]
    stats = aggregate("abc", visits)
    assert stats.total == len(visits) == stats.humans + stats.bots
    assert sum(stats.by_day.values()) == stats.total == sum(stats.by_outcome.values())
    for table in (stats.by_app, stats.by_os, stats.by_device, stats.by_browser):
        assert sum(table.values()) == stats.humans
    assert sum(stats.by_bot.values()) == stats.bots
    assert stats.unique_visitors <= stats.humans


def test_shortener_stats_counts_a_window_of_since_inclusive_until_exclusive() -> None:
    shortener = Shortener("memory://", secret="s" * 32)
    link = shortener.shorten("https://example.com/a")
    for day in range(5):
        shortener.storage.record_visit(
            Visit(code=link.code, at=T0 + timedelta(days=day), app="qq", visitor_id=f"v{day}")
        )
    assert shortener.stats(link.code).total == 5
    window = shortener.stats(link.code, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert window.total == 2
    assert window.by_day == {"2026-03-02": 1, "2026-03-03": 1}
    assert window.by_app == {"qq": 2}
    empty = LinkStats(code=link.code, funnel=Funnel())
    assert shortener.stats(link.code, since=T0 + timedelta(days=9)) == empty
