"""Query forwarding, UTM tags and the click id parameter (``suolink.forwarding``)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from suolink.forwarding import (
    CLICK_PARAM,
    MAX_FORWARDED_PAIR,
    MAX_FORWARDED_QUERY,
    forwardable,
    is_own_param,
    set_params,
    with_click_id,
    with_query,
    with_utm,
)


def test_the_targets_own_parameters_win_and_its_text_is_kept() -> None:
    url = "https://e.com/p?a=1&b=%E4%B8%AD#frag"
    out = with_query(url, [("a", "9"), ("c", "x y"), ("c", "2")])
    assert out == "https://e.com/p?a=1&b=%E4%B8%AD&c=x%20y&c=2#frag"


def test_nothing_to_forward_leaves_the_url_alone() -> None:
    assert with_query("https://e.com/?a=1", [("a", "2")]) == "https://e.com/?a=1"
    assert with_query("https://e.com/", []) == "https://e.com/"
    assert with_query("https://e.com/#x", [("q", "1")]) == "https://e.com/?q=1#x"


def test_suolinks_own_parameters_are_never_forwarded() -> None:
    query = [
        ("continue", "1"),
        ("password", "pw"),
        ("openExternalBrowser", "1"),
        (CLICK_PARAM, "forged"),
        ("sl_hop", "t"),
        ("", "nameless"),
        ("keep", "me"),
    ]
    assert forwardable(query) == [("keep", "me")]
    assert is_own_param("sl_anything")
    assert not is_own_param("slx")


def test_long_pairs_are_dropped_whole_and_the_total_is_capped() -> None:
    long_pair = ("big", "x" * MAX_FORWARDED_PAIR)
    assert forwardable([long_pair, ("ok", "1")]) == [("ok", "1")]
    many = [(f"k{i}", "v" * 50) for i in range(100)]
    kept = forwardable(many)
    assert 0 < len(kept) < 100
    assert kept == many[: len(kept)]  # in order, never cut
    assert len(with_query("https://e.com/", many)) < len("https://e.com/?") + MAX_FORWARDED_QUERY


def test_utm_tags_replace_the_targets_own() -> None:
    url = "https://e.com/?utm_source=old&x=1"
    out = with_utm(url, [("source", "wechat"), ("campaign", "春")])
    assert dict(parse_qsl(urlsplit(out).query)) == {
        "x": "1",
        "utm_source": "wechat",
        "utm_campaign": "春",
    }


def test_the_click_id_replaces_one_already_there() -> None:
    out = with_click_id(f"https://e.com/?{CLICK_PARAM}=old&a=1", "NEW")
    assert parse_qsl(urlsplit(out).query) == [("a", "1"), (CLICK_PARAM, "NEW")]


NAMES = st.text(min_size=1, max_size=12)
VALUES = st.text(max_size=40)


@given(
    base=st.sampled_from(["https://e.com/", "https://e.com/p?a=1", "https://e.com/?a=&b=2#f"]),
    pairs=st.lists(st.tuples(NAMES, VALUES), max_size=8),
)
def test_forwarding_keeps_the_targets_pairs_and_adds_only_new_names(
    base: str, pairs: list[tuple[str, str]]
) -> None:
    out = with_query(base, pairs)
    before = parse_qsl(urlsplit(base).query, keep_blank_values=True)
    after = parse_qsl(urlsplit(out).query, keep_blank_values=True)
    assert after[: len(before)] == before
    names = {name for name, _ in before}
    assert all(name not in names and not is_own_param(name) for name, _ in after[len(before) :])
    assert urlsplit(out).fragment == urlsplit(base).fragment
    assert set_params(base, [], replace=True) == base
