"""Fixtures shared by the whole suite: a clock that tests can move, and a Shortener."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from suolink.shortener import Shortener

from .backends.redis_servers import (  # noqa: F401 - session fixtures: real Redis servers
    redis_cluster_url,
    redis_cluster_url_factory,
    redis_server_url,
    redis_url_factory,
)


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


def storage_url(name: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty store of the named backend (Redis: a real server, own key prefix)."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'links.db'}"
    factory = request.getfixturevalue("redis_url_factory")
    url: str = factory()
    return url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def shortener(request: pytest.FixtureRequest, tmp_path, clock: FakeClock) -> Iterator[Shortener]:
    """A Shortener over each built-in backend, with a movable clock."""
    url = storage_url(request.param, request, tmp_path)
    with Shortener(url, secret="test-secret", base_url="https://s.example", clock=clock) as s:
        yield s
