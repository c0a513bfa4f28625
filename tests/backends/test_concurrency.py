"""Acceptance: threads and processes hammering one shared store lose and double nothing.

Runs against every backend in the table that several processes can share (today the
SQLite file). Workers open their store, then wait on one barrier, so their writes
really interleave.
"""

from __future__ import annotations

import random
import threading
import traceback
from typing import Any

import pytest

from suolink.backends import Storage, open_storage
from suolink.errors import CodeTaken
from suolink.models import Link, Visit
from tests import processes

pytestmark = pytest.mark.slow

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CTX = processes.CTX  # forked from a preloaded server (tests/processes.py)
PROCESSES = 4
THREADS = 4


def create_links(
    url: str, worker: int, count: int, go: Any, results: Any, storage: Storage | None = None
) -> None:
    """Create ``count`` links: even ones coded from next_id(), odd ones random with retry."""
    store = storage if storage is not None else open_storage(url)
    try:
        rng = random.Random(worker)
        made: list[tuple[str, str]] = []
        retries = 0
        go.wait(timeout=120)
        for i in range(count):
            target = f"https://example.com/{worker}/{i}"
            if i % 2 == 0:
                code = f"n{store.next_id()}"
                store.create(Link(code=code, url=target))
            else:
                while True:  # a 3-character code space: collisions are frequent
                    code = "r" + "".join(rng.choice(ALPHABET) for _ in range(3))
                    try:
                        store.create(Link(code=code, url=target))
                        break
                    except CodeTaken:
                        retries += 1
            made.append((code, target))
        results.put((worker, made, retries))
    except BaseException:
        results.put((worker, None, traceback.format_exc()))
    finally:
        if storage is None:
            store.close()


def visit_link(
    url: str, worker: int, count: int, go: Any, results: Any, storage: Storage | None = None
) -> None:
    """Try ``count`` counted visits on the link ``hot``; report the counts that were allowed."""
    store = storage if storage is not None else open_storage(url)
    try:
        go.wait(timeout=120)
        allowed = []
        for _ in range(count):
            result = store.record_visit(Visit(code="hot", user_agent=f"worker {worker}"))
            if result.allowed:
                allowed.append(result.visits)
        results.put((worker, allowed, None))
    except BaseException:
        results.put((worker, None, traceback.format_exc()))
    finally:
        if storage is None:
            store.close()


def run_everywhere(url: str, target: Any, count: int, storage: Storage) -> list[Any]:
    """Run ``target`` in PROCESSES processes and THREADS threads (sharing ``storage``)."""
    go = CTX.Barrier(PROCESSES + THREADS + 1)
    results = CTX.Queue()
    workers = [processes.Process(target, (url, w, count, go, results)) for w in range(PROCESSES)]
    threads = [
        threading.Thread(target=target, args=(url, PROCESSES + w, count, go, results, storage))
        for w in range(THREADS)
    ]
    for worker in [*workers, *threads]:
        worker.start()
    go.wait(timeout=120)  # every worker is ready: all start at once
    out = [results.get(timeout=300) for _ in range(PROCESSES + THREADS)]
    for thread in threads:
        thread.join()
    for process in workers:
        process.join()
    failures = [error for _, value, error in out if value is None]
    assert not failures, failures[0]
    assert [p.exitcode for p in workers] == [0] * PROCESSES
    return out


def test_links_from_threads_and_processes_are_distinct(shared_url: str) -> None:
    """4,000 links from 4 processes and 4 threads into one store; 2,000 into MariaDB and
    through the Django ORM, whose creates cost milliseconds each (PyMySQL's round trips,
    an ORM save): the race is the same. (Not fewer: half the codes are drawn from 46,656,
    and the test needs their collisions; 10,000 into one SQLite file is
    ``tests/test_acceptance_concurrency.py``'s.)"""
    slow = shared_url.startswith(("mysql", "mariadb", "django://"))
    total = 2_000 if slow else 4_000
    storage = open_storage(shared_url)
    try:
        per_worker = total // (PROCESSES + THREADS)
        out = run_everywhere(shared_url, create_links, per_worker, storage)
        made = [pair for _, pairs, _ in out for pair in pairs]
        codes = [code for code, _ in made]
        assert len(codes) == total
        assert len(set(codes)) == total
        assert sum(retries for _, _, retries in out) > 0  # the retry path really ran

        for code, target in made:
            link = storage.get(code)
            assert link is not None, code
            assert link.url == target

        listed: list[str] = []
        cursor = None
        while True:
            page = storage.list(cursor=cursor, limit=1000)
            listed += [link.code for link in page.links]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(listed) == sorted(codes)
        # Never handed out before; backends that reserve ids in blocks (Redis) leave gaps.
        assert storage.next_id() > max(int(c[1:]) for c in codes if c.startswith("n"))
    finally:
        storage.close()


def _visits_per_worker(shared_url: str, count: int) -> int:
    """A third as many through the Django ORM, where a counted visit is several queries
    under the link's row lock (about 20 ms): the race is the same, the run shorter."""
    return count // 3 if shared_url.startswith("django://") else count


def test_concurrent_visits_are_counted_exactly(shared_url: str) -> None:
    storage = open_storage(shared_url)
    try:
        storage.create(Link(code="hot", url="https://example.com/hot"))
        per_worker = _visits_per_worker(shared_url, 150)
        out = run_everywhere(shared_url, visit_link, per_worker, storage)
        seen = sorted(n for _, allowed, _ in out for n in allowed)
        total = per_worker * (PROCESSES + THREADS)
        assert seen == list(range(1, total + 1))  # every count handed out exactly once
        link = storage.get("hot")
        assert link is not None
        assert link.visits == total
        assert len(list(storage.visits("hot"))) == total
    finally:
        storage.close()


def test_max_visits_is_never_exceeded_under_concurrency(shared_url: str) -> None:
    storage = open_storage(shared_url)
    try:
        per_worker = _visits_per_worker(shared_url, 75)
        places = per_worker * (PROCESSES + THREADS) // 2  # twice as many tries as places
        storage.create(Link(code="hot", url="https://example.com/hot", max_visits=places))
        out = run_everywhere(shared_url, visit_link, per_worker, storage)
        seen = sorted(n for _, allowed, _ in out for n in allowed)
        assert seen == list(range(1, places + 1))
        link = storage.get("hot")
        assert link is not None
        assert link.visits == places
        assert len(list(storage.visits("hot"))) == places
    finally:
        storage.close()
