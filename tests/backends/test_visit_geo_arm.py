"""Per-visit GeoIP place and split arm: kept by every backend, counted alike by both stats paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from suolink.backends import Storage
from suolink.errors import InvalidOption
from suolink.models import Link, Visit
from suolink.stats import aggregate, link_stats

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def visits() -> list[Visit]:
    return [
        Visit(
            code="g", at=T0, country="CN", region="Guangdong", city="深圳", arm="a", visitor_id="v1"
        ),
        Visit(code="g", at=T0 + timedelta(minutes=1), country="US", arm="b", visitor_id="v2"),
        Visit(code="g", at=T0 + timedelta(days=1), country="CN", visitor_id="v3"),
        Visit(code="g", at=T0 + timedelta(days=1, minutes=1), visitor_id="v4"),
        Visit(
            code="g",
            at=T0 + timedelta(days=2),
            country="CN",
            arm="a",
            is_bot=True,
            app="Googlebot",
            outcome="bot",
        ),
    ]


def test_place_and_arm_round_trip(storage: Storage) -> None:
    storage.create(Link(code="g", url="https://example.com/"))
    recorded = visits()
    for visit in recorded:
        storage.record_visit(visit, count=not visit.is_bot)
    assert list(storage.visits("g")) == recorded


def test_stats_by_country_and_arm_count_people(storage: Storage) -> None:
    storage.create(Link(code="g", url="https://example.com/"))
    for visit in visits():
        storage.record_visit(visit, count=not visit.is_bot)
    stats = link_stats(storage, "g")
    assert stats.by_country == {"CN": 2, "US": 1}
    assert stats.by_arm == {"a": 1, "b": 1}
    assert stats == aggregate("g", storage.visits("g"))
    one_day = link_stats(
        storage, "g", since=T0.replace(hour=0), until=T0.replace(hour=0) + timedelta(days=1)
    )
    assert one_day.by_country == {"CN": 1, "US": 1}


@pytest.mark.parametrize("name", ["country", "region", "city", "arm"])
def test_unstorable_place_is_refused(storage: Storage, name: str) -> None:
    storage.create(Link(code="g", url="https://example.com/"))
    with pytest.raises(InvalidOption):
        storage.record_visit(Visit(code="g", at=T0, **{name: "a\x00b"}))  # type: ignore[arg-type]
    assert list(storage.visits("g")) == []
