"""The owner's rules: what ``shorten``/``update``/the API/the CLI accept for each setting.

``validate_settings`` turns settings into ``Link`` field values; these tests pin the
words and conversions of each rule, the interplay of inputs that fill one field, and
how ``Shortener.shorten``/``update`` pass their keywords through.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import InvalidInput
from suolink.detect.platforms import normalize_platforms
from suolink.errors import InvalidOption
from suolink.models import AntiBlockMode
from suolink.options import SETTING_NAMES, validate_settings
from suolink.passwords import verify_password
from suolink.rules import MAX_TAGS
from suolink.shortener import Shortener
from suolink.urls import validate_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def check(settings: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return validate_settings(
        settings, now=NOW, validate_url=validate_url, check_platforms=normalize_platforms, **kw
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
setting_names = st.sampled_from(sorted(SETTING_NAMES | {"url", "bogus"}))


@given(st.dictionaries(setting_names, json_values, max_size=6))
def test_settings_refuse_only_with_invalid_input(settings_: dict[str, object]) -> None:
    with contextlib.suppress(InvalidInput):
        validate_settings(settings_, now=NOW, validate_url=validate_url)


def test_only_given_settings_appear_in_the_result() -> None:
    assert check({}) == {}
    assert check({"title": "Hi"}) == {"title": "Hi"}


# -- expiry ----------------------------------------------------------------------------


def test_expires_at_needs_a_timezone_and_the_future_and_is_kept_in_utc() -> None:
    with pytest.raises(InvalidOption, match="timezone"):
        check({"expires_at": datetime(2031, 1, 1)})
    with pytest.raises(InvalidOption, match="future"):
        check({"expires_at": NOW - timedelta(seconds=1)})
    with pytest.raises(InvalidOption, match="ISO 8601"):
        check({"expires_at": "next tuesday"})
    got = check({"expires_at": "2031-01-01T08:00:00+08:00"})["expires_at"]
    assert got == datetime(2031, 1, 1, tzinfo=UTC)
    assert got.tzinfo is UTC
    east = datetime(2031, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    assert check({"expires_at": east})["expires_at"].tzinfo is UTC
    assert check({"expires_at": "2031-01-01T00:00:00Z"})["expires_at"] == got
    assert check({"expires_at": None}) == {"expires_at": None}


def test_expires_in_fills_expires_at_from_now() -> None:
    assert check({"expires_in": 60}) == {"expires_at": NOW + timedelta(seconds=60)}
    assert check({"expires_in": timedelta(days=1)}) == {"expires_at": NOW + timedelta(days=1)}
    assert check({"expires_in": None}) == {}


def test_expires_at_and_expires_in_cannot_both_be_given() -> None:
    with pytest.raises(InvalidOption, match="give expires_at or expires_in, not both") as caught:
        check({"expires_in": 60, "expires_at": NOW + timedelta(days=1)})
    assert caught.value.option == "expires_in"


@pytest.mark.parametrize("order", ["at_first", "in_first"])
def test_a_null_beside_the_other_expiry_input_is_ignored(order: str) -> None:
    pairs = [("expires_at", None), ("expires_in", 60)]
    settings = dict(pairs if order == "at_first" else reversed(pairs))
    assert check(settings) == {"expires_at": NOW + timedelta(seconds=60)}


# -- the other settings ----------------------------------------------------------------


def test_password_is_stored_only_as_a_hash() -> None:
    got = check({"password": "s3cret"})
    assert set(got) == {"password_hash"}
    assert "s3cret" not in got["password_hash"]
    assert verify_password("s3cret", got["password_hash"])
    assert check({"password": None}) == {"password_hash": None}


def test_title_is_stripped_and_empty_means_none() -> None:
    assert check({"title": "  Hello  "}) == {"title": "Hello"}
    assert check({"title": "   "}) == {"title": None}
    with pytest.raises(InvalidOption, match="control characters"):
        check({"title": "a\u2028b"})


def test_tags_from_a_list_or_a_comma_string_without_repeats() -> None:
    assert check({"tags": "a, b,a"}) == {"tags": ("a", "b")}
    assert check({"tags": ["x.y", "z-1"]}) == {"tags": ("x.y", "z-1")}
    assert check({"tags": None}) == {"tags": ()}
    assert check({"tags": ["t"] * (MAX_TAGS + 5)}) == {"tags": ("t",)}


def test_platforms_are_lower_cased_and_groups_resolved() -> None:
    got = check({"deny": "WeChat", "allow": None, "anti_block": ["qq"]})
    assert got["deny"] == normalize_platforms(["wechat"])
    assert got["allow"] is None
    assert got["anti_block"] == normalize_platforms(["qq"])
    assert check({"deny": None}) == {"deny": frozenset()}
    with pytest.raises(InvalidOption) as caught:
        check({"allow": ["nosuchapp"]})
    assert caught.value.option == "allow"


def test_targets_map_platforms_to_checked_urls() -> None:
    got = check({"targets": {"iOS": "https://apps.apple.com/x"}})
    assert got == {"targets": (("ios", "https://apps.apple.com/x"),)}
    assert check({"targets": None}) == {"targets": ()}


def test_anti_block_mode_null_is_the_default() -> None:
    assert check({"anti_block_mode": "guide"}) == {"anti_block_mode": AntiBlockMode.GUIDE}
    assert check({"anti_block_mode": AntiBlockMode.OFF}) == {"anti_block_mode": AntiBlockMode.OFF}
    assert check({"anti_block_mode": None}) == {"anti_block_mode": AntiBlockMode.AUTO}


def test_language_and_disabled() -> None:
    assert check({"language": "zh-CN", "disabled": True}) == {
        "language": "zh-CN",
        "disabled": True,
    }
    with pytest.raises(InvalidOption, match="zh-CN, en"):
        check({"language": "fr"})


def test_an_unknown_setting_names_the_closest_valid_one() -> None:
    with pytest.raises(InvalidOption, match="did you mean 'title'") as caught:
        check({"titel": "x"})
    assert caught.value.option == "titel"
    with pytest.raises(InvalidOption, match=r"unknown setting$"):
        check({"zzzzzz": 1})


# -- through the Shortener -------------------------------------------------------------


@pytest.fixture
def shortener() -> Shortener:
    return Shortener("memory://", secret="o", clock=lambda: NOW)


def test_shorten_takes_every_documented_keyword(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/",
        code="doc1",
        anti_block=["wechat"],
        anti_block_mode="guide",
        allow=None,
        deny=["qq"],
        expires_at=None,
        expires_in=3600,
        max_visits=5,
        password="pw",
        targets={"ios": "https://apps.apple.com/x"},
        title="Docs",
        tags=("a", "b"),
        language="en",
        disabled=False,
    )
    assert link.expires_at == NOW + timedelta(hours=1)
    assert (link.max_visits, link.title, link.tags, link.language) == (5, "Docs", ("a", "b"), "en")
    assert link.anti_block_mode is AntiBlockMode.GUIDE
    assert link.has_password
    assert shortener.get("doc1") == link


def test_shorten_with_only_a_url_has_the_defaults(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", code="plain")
    assert (link.tags, link.deny, link.targets, link.disabled) == ((), frozenset(), (), False)
    assert link.anti_block_mode is AntiBlockMode.AUTO
    assert link.allow is link.anti_block is link.expires_at is link.title is None


def test_shorten_and_update_refuse_unknown_keywords_with_a_hint(shortener: Shortener) -> None:
    with pytest.raises(InvalidOption, match="did you mean 'max_visits'"):
        shortener.shorten("https://example.com/", max_visit=3)  # type: ignore[call-arg]
    code = shortener.shorten("https://example.com/").code
    with pytest.raises(InvalidOption, match="did you mean 'tags'"):
        shortener.update(code, tag="x")  # type: ignore[call-arg]
    assert shortener.update(code, url="https://example.com/new").url == "https://example.com/new"
