"""Acceptance: many threads in many processes share one SQLite file through Shortener.

10,000 links from 4 processes x 4 threads: every code distinct and readable afterwards;
visits from every worker on one link counted exactly; a visit limit never exceeded.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from suolink import Visitor
from suolink.shortener import Shortener
from tests import processes

# A person's browser: a request with no User-Agent is a bot and would not be counted.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PROCESSES = 4
THREADS = 4
LINKS_PER_THREAD = 625  # 4 x 4 x 625 = 10,000
VISITS_PER_THREAD = 50
SECRET = "acceptance"


def _create_links(db: str, worker: int) -> list[tuple[str, str]]:
    with Shortener(db, secret=SECRET, base_url="https://s.example") as shortener:

        def make(thread: int) -> list[tuple[str, str]]:
            strategy = "random" if thread % 2 else "hashids"
            out = []
            for i in range(LINKS_PER_THREAD):
                url = f"https://example.com/{worker}/{thread}/{i}"
                out.append((shortener.shorten(url, strategy=strategy).code, url))
            return out

        with ThreadPoolExecutor(THREADS) as pool:
            return [pair for chunk in pool.map(make, range(THREADS)) for pair in chunk]


def _visit(db: str, code: str) -> list[int]:
    with Shortener(db, secret=SECRET, base_url="https://s.example") as shortener:

        def hit(_: int) -> list[int]:
            return [
                shortener.resolve(code, Visitor(user_agent=BROWSER, ip="198.51.100.1")).status
                for _ in range(VISITS_PER_THREAD)
            ]

        with ThreadPoolExecutor(THREADS) as pool:
            return [status for chunk in pool.map(hit, range(THREADS)) for status in chunk]


@pytest.mark.slow
def test_ten_thousand_links_from_threads_and_processes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    Shortener(db, secret=SECRET).close()  # create the schema once, before the race
    # processes forked from a preloaded server (tests/processes.py)
    with processes.Pool(PROCESSES) as pool:
        results = pool.starmap(_create_links, [(db, w) for w in range(PROCESSES)])
    pairs = [pair for chunk in results for pair in chunk]
    assert len(pairs) == PROCESSES * THREADS * LINKS_PER_THREAD == 10_000
    codes = [code for code, _ in pairs]
    assert len(set(codes)) == len(codes)
    with Shortener(db, secret=SECRET) as shortener:
        for code, url in pairs:
            assert shortener.get(code).url == url
        assert sum(1 for _ in shortener.iter_links()) == 10_000

        counted = shortener.shorten("https://example.com/counted").code
        limited = shortener.shorten("https://example.com/limited", max_visits=150).code
    with processes.Pool(PROCESSES) as pool:
        counted_statuses = pool.starmap(_visit, [(db, counted)] * PROCESSES)
        limited_statuses = pool.starmap(_visit, [(db, limited)] * PROCESSES)
    expected = PROCESSES * THREADS * VISITS_PER_THREAD
    assert all(s == 302 for chunk in counted_statuses for s in chunk)
    flat = [s for chunk in limited_statuses for s in chunk]
    assert flat.count(302) == 150
    assert flat.count(410) == expected - 150
    with Shortener(db, secret=SECRET) as shortener:
        assert shortener.get(counted).visits == expected
        assert shortener.stats(counted).total == expected
        assert shortener.get(limited).visits == 150
        assert shortener.stats(limited).total == 150
