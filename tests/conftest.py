"""Fixtures shared by the whole suite: a clock that tests can move, and a Shortener."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from suolink.shortener import Shortener


class FakeClock:
    """A clock the test moves by hand, so expiry is tested without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def shortener(request: pytest.FixtureRequest, tmp_path, clock: FakeClock) -> Iterator[Shortener]:
    """A Shortener over each built-in backend, with a movable clock."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'links.db'}"
    with Shortener(url, secret="test-secret", base_url="https://s.example", clock=clock) as s:
        yield s
