"""``records_conversions``: every backend that claims it keeps one conversion per
(click id, kind), atomically, exactly as given, and forgets them with their link."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from suolink.backends import Storage
from suolink.backends.base import RecordsConversions
from suolink.errors import InvalidOption, LinkNotFound
from suolink.models import Conversion, Link

from .conftest import claiming

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _store(storage: Storage) -> RecordsConversions:
    assert isinstance(storage, RecordsConversions)
    return storage


def _made(storage: Storage, code: str = "abc") -> str:
    storage.create(Link(code=code, url=f"https://example.com/{code}", created_at=T0))
    return code


def _conversion(code: str = "abc", **fields: Any) -> Conversion:
    values: dict[str, Any] = {
        "click_id": f"click-{code}",
        "code": code,
        "kind": "lead",
        "at": T0 + timedelta(minutes=5),
        "clicked_at": T0,
        "visitor_id": "0123456789abcdef",
    }
    return Conversion(**(values | fields))


@claiming("records_conversions")
def test_a_conversion_is_stored_once_per_click_id_and_kind(storage: Storage) -> None:
    store = _store(storage)
    code = _made(storage)
    lead = _conversion(code)
    assert store.record_conversion(lead) == (lead, True)
    later = _conversion(code, at=T0 + timedelta(hours=1), visitor_id=None)
    assert store.record_conversion(later) == (lead, False)  # the first one, unchanged
    sale = _conversion(
        code, kind="sale", at=T0 + timedelta(hours=2), value=Decimal("99.50"), currency="CNY"
    )
    assert store.record_conversion(sale) == (sale, True)
    assert list(store.conversions(code)) == [lead, sale]


@claiming("records_conversions")
def test_conversions_read_back_exactly(storage: Storage) -> None:
    store = _store(storage)
    code = _made(storage, "链-1")
    east = timezone(timedelta(hours=8))
    made = [
        _conversion(code, click_id="a", value=Decimal("0.000001"), currency="USD"),
        _conversion(
            code,
            click_id="b",
            kind="sale",
            at=datetime(2030, 1, 1, 21, 0, 0, 123456, tzinfo=east),
            value=Decimal("999999999999999.999999"),
            currency="CNY",
        ),
        _conversion(code, click_id="c", kind="trial-start", value=Decimal(0), currency="JPY"),
        _conversion(code, click_id="d" * 300, visitor_id=None),
    ]
    for conversion in made:
        assert store.record_conversion(conversion)[1]
    got = list(store.conversions(code))
    assert sorted(got, key=lambda c: c.click_id) == sorted(made, key=lambda c: c.click_id)
    assert {str(c.value) for c in got} == {"0.000001", "999999999999999.999999", "0", "None"}


@claiming("records_conversions")
def test_conversions_come_oldest_first_within_a_window(storage: Storage) -> None:
    store = _store(storage)
    code = _made(storage)
    made = [
        _conversion(code, click_id=f"c{i}", at=T0 + timedelta(minutes=10 - i)) for i in range(5)
    ]
    for conversion in made:
        store.record_conversion(conversion)
    oldest_first = made[::-1]
    assert list(store.conversions(code)) == oldest_first
    window = list(
        store.conversions(code, since=T0 + timedelta(minutes=7), until=T0 + timedelta(minutes=9))
    )
    assert window == oldest_first[1:3]
    assert list(store.conversions(code, limit=2)) == oldest_first[:2]
    assert list(store.conversions("nosuch")) == []
    assert list(store.conversions("bad\x00code")) == []


@claiming("records_conversions")
def test_no_link_no_conversion_and_deleting_forgets_them(storage: Storage) -> None:
    store = _store(storage)
    with pytest.raises(LinkNotFound):
        store.record_conversion(_conversion("nosuch"))
    with pytest.raises(LinkNotFound):
        store.record_conversion(_conversion("bad\x00code"))
    code = _made(storage)
    store.record_conversion(_conversion(code))
    assert storage.delete(code, tombstone=False)
    assert list(store.conversions(code)) == []
    _made(storage)
    assert list(store.conversions(code)) == []
    # the same click id reported again on the new link is new there
    assert store.record_conversion(_conversion(code))[1]


@claiming("records_conversions")
@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "a\x00b"},
        {"kind": ""},
        {"click_id": ""},
        {"at": datetime(2030, 1, 1)},
        {"clicked_at": "2030-01-01"},
        {"value": Decimal("NaN"), "currency": "CNY"},
        {"value": 5, "currency": "CNY"},
        {"value": Decimal(1)},
        {"currency": "CNY"},
        {"visitor_id": 5},
    ],
    ids=repr,
)
def test_what_cannot_be_stored_is_refused(storage: Storage, bad: dict[str, Any]) -> None:
    store = _store(storage)
    code = _made(storage)
    with pytest.raises(InvalidOption):
        store.record_conversion(_conversion(code, **bad))
    with pytest.raises(InvalidOption):
        store.record_conversion("not a conversion")  # type: ignore[arg-type]
    assert list(store.conversions(code)) == []


@claiming("records_conversions")
def test_racing_reports_store_one(storage: Storage) -> None:
    store = _store(storage)
    code = _made(storage)
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def report(n: int) -> None:
        try:
            start.wait()
            conversion = _conversion(code, kind="sale", at=T0 + timedelta(seconds=n))
            results.append(store.record_conversion(conversion)[1])
        except BaseException as exc:  # pragma: no cover - shown below
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert len(list(store.conversions(code))) == 1
