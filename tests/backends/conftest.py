"""The one table of backends every test in this folder runs against.

Adding a backend is one row in ``BACKENDS``: a name, a function that returns the URL of
a fresh, empty store (it may ask ``request`` for a server fixture), pytest marks, and the
optional capabilities it claims (names in ``suolink.backends.base.CAPABILITIES``): the
capability contract tests in ``test_capabilities.py`` run on every row that claims one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from suolink.backends import Storage, open_storage
from tests.adapters.django.project import postgres_store_url as django_postgres_store_url
from tests.adapters.django.project import store_url as django_store_url

# The Redis server fixtures the redis rows ask for are registered in tests/conftest.py.


@dataclass(frozen=True)
class Backend:
    """One row of the table: how to get the URL of a fresh, empty store."""

    name: str
    url: Callable[[pytest.FixtureRequest, Path], str]
    marks: tuple[Any, ...] = ()
    #: True if two ``open_storage(url)`` calls see the same data (needed to test
    #: several processes or connections sharing one store).
    shared: bool = True
    #: The optional capabilities the backend claims; it must have exactly these.
    capabilities: frozenset[str] = frozenset()


REDIS_CAPABILITIES = frozenset({"keeps_aggregates", "records_in_one_trip", "shares_rate_limits"})

BACKENDS: list[Backend] = [
    Backend(
        "memory",
        lambda request, tmp: "memory://",
        shared=False,
        capabilities=frozenset({"keeps_aggregates"}),
    ),
    Backend(
        "sqlite",
        lambda request, tmp: f"sqlite:///{tmp / 'suolink.db'}",
        capabilities=frozenset({"keeps_aggregates", "restores_in_batches"}),
    ),
    Backend(
        "redis",
        lambda request, tmp: request.getfixturevalue("redis_url_factory")(),
        capabilities=REDIS_CAPABILITIES,
    ),
    Backend(
        "redis-cluster",
        lambda request, tmp: request.getfixturevalue("redis_cluster_url_factory")(),
        capabilities=REDIS_CAPABILITIES,
    ),
    Backend("django", lambda request, tmp: django_store_url(tmp)),
    Backend("django-postgres", lambda request, tmp: django_postgres_store_url()),
]

BACKEND_PARAMS = [pytest.param(b, id=b.name, marks=b.marks) for b in BACKENDS]
SHARED_BACKEND_PARAMS = [p for p, b in zip(BACKEND_PARAMS, BACKENDS, strict=True) if b.shared]


def claiming(capability: str) -> Any:
    """Run a test on every row that claims ``capability``: ``@claiming("…")``."""
    params = [
        p for p, b in zip(BACKEND_PARAMS, BACKENDS, strict=True) if capability in b.capabilities
    ]
    return pytest.mark.parametrize("backend", params, indirect=True)


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The row of ``BACKENDS`` this test runs against."""
    row: Backend = request.param
    return row


@pytest.fixture
def storage_factory(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Storage]]:
    """Open a fresh, empty store of this backend on each call; all closed at teardown."""
    opened: list[Storage] = []
    counter = itertools.count()

    def make() -> Storage:
        folder = tmp_path / f"store-{next(counter)}"
        folder.mkdir()
        store = open_storage(backend.url(request, folder))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=SHARED_BACKEND_PARAMS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store that several processes can open at once."""
    row: Backend = request.param
    return row.url(request, tmp_path)


@pytest.fixture
def storage(storage_factory: Callable[[], Storage]) -> Storage:
    """A fresh, empty store of each backend in the table."""
    return storage_factory()


def reset_counter(store: Storage) -> None:
    """Lose the id counter as a crash or a Redis restart without persistence would.

    Each backend keeps its counter its own way, so this reaches into each one; the
    links and tombstones stay, which is what the "never re-issue a code" test needs.
    """
    from suolink.adapters.django.storage import DjangoStorage
    from suolink.backends.memory import MemoryStorage
    from suolink.backends.redis import RedisStorage
    from suolink.backends.sqlite import SQLiteStorage

    if isinstance(store, MemoryStorage):
        store._counter = 0
    elif isinstance(store, SQLiteStorage):
        with store._write("reset the counter") as conn:
            conn.execute("UPDATE counters SET value = 0 WHERE name = 'links'")
    elif isinstance(store, DjangoStorage):
        with store._write("reset the counter") as tables:
            tables.counters.filter(name="links").delete()
    elif isinstance(store, RedisStorage):
        store._write("reset the counter", lambda client: client.delete(store._ids_key))
        store._block_next, store._block_end = 0, -1
    else:  # pragma: no cover - a new row in BACKENDS needs a branch here
        raise AssertionError(f"no counter reset for {type(store).__name__}")
