"""The one table of backends every test in this folder runs against.

Adding a backend is one row in ``BACKENDS``: a name, a function that returns the URL of
a fresh, empty store (it may ask ``request`` for a server fixture), pytest marks, and the
optional capabilities it claims (names in ``suolink.backends.base.CAPABILITIES``): the
capability contract tests in ``test_capabilities.py`` run on every row that claims one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from suolink.backends import Storage, open_storage
from tests.adapters.django.project import postgres_store_url as django_postgres_store_url
from tests.adapters.django.project import recycle_postgres_store as django_recycle_postgres
from tests.adapters.django.project import store_url as django_store_url

from .sql_servers import (
    recycle_mariadb_store,
    recycle_postgres_store,
    recycled_mariadb_store_url,
    recycled_postgres_store_url,
)

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
    #: Called with the URL of each store ``storage_factory`` made, once the test is over
    #: and its stores are closed, to hand it to the next test emptied (a new one costs
    #: a schema or database migrated from scratch on the PostgreSQL and MariaDB rows).
    recycle: Callable[[str], None] | None = None


REDIS_CAPABILITIES = frozenset(
    {
        "keeps_aggregates",
        "records_in_one_trip",
        "holds_links_in_process",
        "shares_rate_limits",
        "tracks_people",
        "keeps_domains",
        "records_conversions",
        "keeps_outbox",
    }
)
SQL_CAPABILITIES = frozenset(
    {
        "keeps_aggregates",
        "restores_in_batches",
        "keeps_domains",
        "keeps_outbox",
        "tracks_people",
        "records_conversions",
    }
)
DJANGO_CAPABILITIES = frozenset(
    {"keeps_aggregates", "keeps_domains", "keeps_outbox", "records_conversions", "tracks_people"}
)

BACKENDS: list[Backend] = [
    Backend(
        "memory",
        lambda request, tmp: "memory://",
        shared=False,
        capabilities=frozenset(
            {
                "keeps_aggregates",
                "holds_links_in_process",
                "tracks_people",
                "keeps_domains",
                "keeps_outbox",
                "records_conversions",
            }
        ),
    ),
    Backend(
        "sqlite",
        lambda request, tmp: f"sqlite:///{tmp / 'suolink.db'}",
        capabilities=frozenset(
            {
                "keeps_aggregates",
                "restores_in_batches",
                "tracks_people",
                "keeps_domains",
                "keeps_outbox",
                "records_conversions",
                "holds_links_in_process",
            }
        ),
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
    Backend(
        "django",
        lambda request, tmp: django_store_url(tmp),
        capabilities=DJANGO_CAPABILITIES,
    ),
    Backend(
        "django-postgres",
        lambda request, tmp: django_postgres_store_url(recycled=True),
        capabilities=DJANGO_CAPABILITIES,
        recycle=django_recycle_postgres,
    ),
    Backend(
        "postgresql",
        lambda request, tmp: recycled_postgres_store_url(),
        capabilities=SQL_CAPABILITIES | {"records_in_one_trip", "holds_links_in_process"},
        recycle=recycle_postgres_store,
    ),
    Backend(
        "mariadb",
        lambda request, tmp: recycled_mariadb_store_url(),
        capabilities=SQL_CAPABILITIES,
        recycle=recycle_mariadb_store,
    ),
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


class StoreFactory:
    """Opens fresh, empty stores of one backend; ``release`` closes one early (and
    recycles it, see ``Backend.recycle``), teardown the rest."""

    def __init__(self, backend: Backend, request: pytest.FixtureRequest, tmp_path: Path):
        self.backend, self.request, self.tmp_path = backend, request, tmp_path
        self.opened: dict[int, tuple[Storage, str]] = {}
        self.counter = itertools.count()

    def __call__(self) -> Storage:
        folder = self.tmp_path / f"store-{next(self.counter)}"
        folder.mkdir()
        url = self.backend.url(self.request, folder)
        store = open_storage(url)
        self.opened[id(store)] = (store, url)
        return store

    def release(self, store: Storage) -> None:
        """Close ``store`` now; its URL may be handed out again."""
        _, url = self.opened.pop(id(store))
        store.close()
        if self.backend.recycle is not None:
            self.backend.recycle(url)

    def close_all(self) -> None:
        for store, _ in list(self.opened.values()):
            store.close()
        if self.backend.recycle is not None:
            for _, url in self.opened.values():
                self.backend.recycle(url)
        self.opened.clear()


@pytest.fixture
def storage_factory(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    """Open a fresh, empty store of this backend on each call; all closed at teardown."""
    factory = StoreFactory(backend, request, tmp_path)
    yield factory
    factory.close_all()


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
    from suolink.backends.sql import SQLStorage
    from suolink.backends.sql.schema import counters
    from suolink.backends.sqlite import SQLiteStorage

    if isinstance(store, MemoryStorage):
        store._counter = 0
    elif isinstance(store, SQLiteStorage):
        with store._write("reset the counter") as conn:
            conn.execute("UPDATE counters SET value = 0 WHERE name = 'links'")
    elif isinstance(store, DjangoStorage):
        with store._write("reset the counter") as tables:
            tables.counters.filter(name="links").delete()
    elif isinstance(store, SQLStorage):
        with store._write("reset the counter") as conn:
            conn.execute(counters.update().where(counters.c.name == "links").values(value=0))
    elif isinstance(store, RedisStorage):
        store._write("reset the counter", lambda client: client.delete(store._ids_key))
        store._block_next, store._block_end = 0, -1
    else:  # pragma: no cover - a new row in BACKENDS needs a branch here
        raise AssertionError(f"no counter reset for {type(store).__name__}")


#: Rows whose store batches visits (group commit): their URLs take ``visits``,
#: ``batch_ms`` and ``batch_size`` (see ``suolink.backends.batching``).
BATCHING = ("sqlite", "redis", "redis-cluster")
BATCHING_PARAMS = [p for p, b in zip(BACKEND_PARAMS, BACKENDS, strict=True) if b.name in BATCHING]


def with_query(url: str, **options: object) -> str:
    """``url`` with more query options (after the ones it may already have)."""
    from urllib.parse import urlencode

    return url + ("&" if "?" in url else "?") + urlencode(options)


@contextmanager
def refused_writes(store: Storage) -> Iterator[None]:
    """Make the store refuse every write for a moment, as a real server or file would.

    SQLite: another connection holds the write lock (open the store with a short
    ``timeout``). Redis: ``min-replicas-to-write 1`` on a server with no replica, so
    every write is refused with ``NOREPLICAS``.
    """
    import sqlite3

    from suolink.backends.redis import RedisStorage
    from suolink.backends.sqlite import SQLiteStorage

    if isinstance(store, SQLiteStorage):
        holder = sqlite3.connect(store.path, timeout=5, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    elif isinstance(store, RedisStorage):
        client = store._client
        extra: dict[str, Any] = {"target_nodes": "all"} if store.cluster else {}
        client.config_set("min-replicas-to-write", 1, **extra)
        try:
            yield
        finally:
            client.config_set("min-replicas-to-write", 0, **extra)
    else:  # pragma: no cover - a new row in BATCHING needs a branch here
        raise AssertionError(f"no way to refuse writes on {type(store).__name__}")
