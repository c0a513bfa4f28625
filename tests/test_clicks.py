"""Click ids (``suolink.clicks``): what a redirect mints, only its Shortener accepts."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink.clicks import MAX_CLICK_ID_LENGTH, Click, ClickIds
from suolink.errors import ClickExpired, InvalidClickId, InvalidInput

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
IDS = ClickIds(b"k" * 32, ttl=3600)


def test_a_minted_id_reads_back() -> None:
    click_id = IDS.mint("abc", NOW, "0123456789abcdef")
    assert IDS.check(click_id, NOW + timedelta(minutes=1)) == Click("abc", NOW, "0123456789abcdef")
    assert len(click_id) < 60
    assert set(click_id) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_no_visitor_and_odd_visitor_ids_read_back_as_none() -> None:
    for who in (None, "short", "zz" * 8):
        assert IDS.check(IDS.mint("c", NOW, who), NOW).visitor_id is None


def test_a_long_unicode_code_fits() -> None:
    code = "链" * 64
    click_id = IDS.mint(code, NOW, None)
    assert len(click_id) <= MAX_CLICK_ID_LENGTH
    assert IDS.check(click_id, NOW).code == code


def test_another_secret_or_a_changed_byte_is_refused() -> None:
    click_id = IDS.mint("abc", NOW, None)
    with pytest.raises(InvalidClickId):
        ClickIds(b"other" * 8).check(click_id, NOW)
    flipped = click_id[:5] + ("A" if click_id[5] != "A" else "B") + click_id[6:]
    with pytest.raises(InvalidClickId):
        IDS.check(flipped, NOW)


def test_old_ids_expire_and_future_ones_are_refused() -> None:
    click_id = IDS.mint("abc", NOW, None)
    IDS.check(click_id, NOW + timedelta(seconds=3600))
    with pytest.raises(ClickExpired) as caught:
        IDS.check(click_id, NOW + timedelta(seconds=3601))
    assert caught.value.http_status == 410
    assert caught.value.clicked_at == NOW
    with pytest.raises(InvalidClickId, match="future"):
        IDS.check(click_id, NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    "bad", [None, 5, b"abc", "", "a", "not base64!", "====", "A" * (MAX_CLICK_ID_LENGTH + 1)]
)
def test_garbage_is_an_invalid_click_id(bad: object) -> None:
    with pytest.raises(InvalidClickId) as caught:
        IDS.check(bad, NOW)
    assert caught.value.http_status == 400


@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.integers(), st.none()))
def test_checking_anything_raises_only_invalid_input(value: object) -> None:
    with contextlib.suppress(InvalidInput):
        IDS.check(value, NOW)
