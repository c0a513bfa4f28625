"""Eight processes on one Redis (and one cluster): no code twice, counts exact, limits kept.

Each process opens its own store, waits on a barrier so the writes really interleave,
then creates 5,000 links (half from ``next_id()`` blocks, half random codes from a tiny
code space, retried on ``CodeTaken``), or tries 1,250 counted visits on one link.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from suolink.backends.redis import RedisStorage
from suolink.errors import CodeTaken
from suolink.models import Link, Visit
from tests import processes

pytestmark = pytest.mark.slow

CTX = processes.CTX  # forked from a preloaded server (tests/processes.py)
PROCESSES = 8
LINKS_EACH = 5_000
VISITS = 10_000
LIMIT = 7_000
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _create(url: str, worker: int, go: Any, results: Any) -> None:
    store = RedisStorage(url)
    try:
        rng = random.Random(worker)
        made: list[str] = []
        collisions = 0
        go.wait(timeout=60)
        for i in range(LINKS_EACH):
            if i % 2 == 0:
                code = f"n{store.next_id()}"
                store.create(Link(code=code, url=f"https://e.com/{worker}/{i}"))
            else:
                while True:
                    code = "r" + "".join(rng.choice(ALPHABET) for _ in range(4))
                    try:
                        store.create(Link(code=code, url=f"https://e.com/{worker}/{i}"))
                        break
                    except CodeTaken:
                        collisions += 1
            made.append(code)
        results.put((made, collisions, None))
    except BaseException:
        results.put((None, 0, traceback.format_exc()))
    finally:
        store.close()


def _visit(url: str, worker: int, go: Any, results: Any) -> None:
    store = RedisStorage(url)
    try:
        go.wait(timeout=60)
        allowed = []
        for i in range(VISITS // PROCESSES):
            result = store.record_visit(Visit(code="hot", user_agent=f"{worker}-{i}"))
            if result.allowed:
                allowed.append(result.visits)
        results.put((allowed, 0, None))
    except BaseException:
        results.put((None, 0, traceback.format_exc()))
    finally:
        store.close()


def _run(url: str, target: Callable[[str, int, Any, Any], None]) -> list[Any]:
    go = CTX.Barrier(PROCESSES + 1)
    results = CTX.Queue()
    workers = [processes.Process(target, (url, w, go, results)) for w in range(PROCESSES)]
    for process in workers:
        process.start()
    try:
        go.wait(timeout=60)
        out = [results.get(timeout=120) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = [error for _, _, error in out if error]
    assert not errors, errors[0]
    return out


@pytest.fixture(params=["redis", "redis-cluster"])
def shared_redis_url(request: pytest.FixtureRequest) -> str:
    name = "redis_url_factory" if request.param == "redis" else "redis_cluster_url_factory"
    factory: Callable[..., str] = request.getfixturevalue(name)
    return factory(block_size=50)


def test_eight_processes_create_forty_thousand_links_without_a_duplicate(
    shared_redis_url: str,
) -> None:
    out = _run(shared_redis_url, _create)
    codes = [code for made, _, _ in out for code in made]
    assert len(codes) == PROCESSES * LINKS_EACH
    assert len(set(codes)) == len(codes)
    assert sum(collisions for _, collisions, _ in out) > 0  # the CodeTaken path ran
    store = RedisStorage(shared_redis_url)
    try:
        listed: list[str] = []
        cursor = None
        while True:
            page = store.list(cursor=cursor, limit=1000)
            listed += [link.code for link in page.links]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(listed) == sorted(codes)
        ids = [int(code[1:]) for code in codes if code.startswith("n")]
        assert store.next_id() > max(ids)
    finally:
        store.close()


def test_ten_thousand_visits_on_one_link_are_counted_exactly(shared_redis_url: str) -> None:
    store = RedisStorage(shared_redis_url)
    try:
        store.create(Link(code="hot", url="https://e.com/hot", max_visits=LIMIT))
        out = _run(shared_redis_url, _visit)
        seen = sorted(n for allowed, _, _ in out for n in allowed)
        assert seen == list(range(1, LIMIT + 1))  # each count handed out once, none past max
        link = store.get("hot")
        assert link is not None
        assert link.visits == LIMIT
        agents = [v.user_agent for v in store.visits("hot")]
        assert len(agents) == LIMIT
        assert len(set(agents)) == LIMIT
    finally:
        store.close()
