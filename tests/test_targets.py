"""targets.py: the order of platform targets, the split, the URL; arms stable and weighted."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.errors import InvalidOption
from suolink.models import Link, Visitor
from suolink.targets import Target, choose_arm, pick_target

ARMS = (("a", "https://a.example/", 1), ("b", "https://b.example/", 3), ("off", "https://o/", 0))
LINK = Link(code="abc", url="https://example.com/", split=ARMS)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def test_a_platform_target_wins_over_the_split() -> None:
    link = Link(
        code="abc", url="https://example.com/", targets=(("ios", "https://ios/"),), split=ARMS
    )
    assert pick_target(link, {"ios", "mobile"}, visitor_id="v") == Target("https://ios/")
    assert pick_target(link, {"android"}, visitor_id="v").arm in {"a", "b"}


def test_without_a_split_the_url_and_no_arm() -> None:
    assert pick_target(Link(code="abc", url="https://e/"), set()) == Target("https://e/")


@given(st.text(max_size=20))
def test_the_same_visitor_always_gets_the_same_arm(visitor: str) -> None:
    first = choose_arm(ARMS, "abc", visitor)
    assert all(choose_arm(ARMS, "abc", visitor) == first for _ in range(3))
    assert first[0] != "off"  # weight 0: never chosen


def test_arms_follow_their_weights() -> None:
    """Over 4000 visitor ids the shares are 1:3 (the hash is uniform; no randomness here)."""
    counts = Counter(choose_arm(ARMS, "abc", f"visitor-{i}")[0] for i in range(4000))
    assert set(counts) == {"a", "b"}
    assert 0.22 < counts["a"] / 4000 < 0.28


def test_links_split_their_visitors_independently() -> None:
    same = sum(
        choose_arm(ARMS[:2], "one", f"v{i}") == choose_arm(ARMS[:2], "two", f"v{i}")
        for i in range(2000)
    )
    assert same < 1900  # not the same assignment on every link


# -- through the Shortener ------------------------------------------------------------


@pytest.fixture
def shortener() -> Shortener:
    return Shortener("memory://", secret="s")


def visitor(ip: str) -> Visitor:
    return Visitor(user_agent=CHROME, ip=ip)


def test_split_given_as_dicts_or_pairs_with_default_names(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/",
        split=[
            {"url": "https://a.example/"},
            ("https://b.example/", 2),
            {"url": "https://c/", "name": "c-1", "weight": 0},
        ],
    )
    assert link.split == (
        ("a", "https://a.example/", 1),
        ("b", "https://b.example/", 2),
        ("c-1", "https://c/", 0),
    )
    assert link.to_dict()["split"][1] == {"name": "b", "url": "https://b.example/", "weight": 2}


def test_split_urls_follow_the_url_rules(shortener: Shortener) -> None:
    from suolink.errors import InvalidURL

    with pytest.raises(InvalidURL):
        shortener.shorten("https://example.com/", split=[{"url": "javascript:alert(1)"}])
    with pytest.raises(InvalidOption) as caught:
        shortener.shorten("https://example.com/", split=[{"url": "https://a/", "weight": 0}])
    assert caught.value.option == "split"


def test_visitors_are_split_stably_and_stats_count_arms(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/", split=[{"url": "https://a.example/"}, {"url": "https://b.example/"}]
    )
    seen: dict[str, str] = {}
    for i in range(40):
        ip = f"198.51.100.{i}"
        first = shortener.resolve(link.code, visitor(ip))
        again = shortener.resolve(link.code, visitor(ip))
        location = dict(first.headers)["Location"]
        assert dict(again.headers)["Location"] == location
        seen[ip] = location
    assert set(seen.values()) == {"https://a.example/", "https://b.example/"}
    arms = Counter(v.arm for v in shortener.visits(link.code))
    stats = shortener.stats(link.code)
    assert stats.by_arm == {arm: n for arm, n in arms.items() if arm}
    assert sum(stats.by_arm.values()) == 80
    assert stats.by_arm["a"] == 2 * sum(1 for url in seen.values() if url.endswith("a.example/"))


def test_the_arm_survives_an_update_that_keeps_the_split(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/", split=[{"url": "https://a.example/"}, {"url": "https://b.example/"}]
    )
    before = dict(shortener.resolve(link.code, visitor("203.0.113.9")).headers)["Location"]
    shortener.update(link.code, title="renamed")
    after = dict(shortener.resolve(link.code, visitor("203.0.113.9")).headers)["Location"]
    assert before == after
    shortener.update(link.code, split=None)
    cleared = shortener.resolve(link.code, visitor("203.0.113.9"))
    assert dict(cleared.headers)["Location"] == "https://example.com/"
