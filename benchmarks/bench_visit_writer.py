"""The SQLite visit writer alone: microseconds per visit of one group-commit batch.

What the writer thread of ``visits=background`` (and a durable batch's leader) does per
batch, timed without the redirects that feed it: ``SQLiteStorage._write_visits(batch)``
on a fresh file of ``--links`` links, batch after batch of visits as the Shortener
builds them (:data:`~suolink.models.VisitRecord` tuples, ordinary browsers).

Scenarios (each ``--visits`` visits):

* ``one-link``: batches of 32 visits of one link by one person (the best case).
* ``small-batches``: batches of 16 visits of one link, four browsers: what each of the
  two workers of ``bench_http.py``'s durable ASGI server hands its writer at
  ``wrk -c32`` (each redirect waits for its batch, so a batch is what is in flight).
* ``round-robin``: batches of 256 over ``--links`` links in turn, four browsers
  (what ``bench_resolve.py --sqlite`` feeds the writer).
* ``hot-and-many``: batches of 256, 80% to the 20 hottest links, a new person on every
  visit (many ``visitor_counts`` rows).
* ``large-batches``: batches of 4,096 over ``--links`` links in turn, four browsers: what
  the writer of ``bench_resolve.py --sqlite`` gets once the resolving thread outruns it
  (run it with ``--links 10000`` for that benchmark's links).

``--before PATH`` runs the same scenarios with another checkout's ``src`` (for example
``/work/main/src``) in a child process, rounds alternated, and prints both side by side
with the ratio. ``--profile`` prints the writer's top functions (this checkout only).
``--statements`` prints the thread CPU each SQL statement took per visit, and the
writer's Python around them. ``--without-count-rows`` leaves out every statement but the
raw visits' ``INSERT`` (the count rows' SQL; their Python stays), to show the floor of a
writer that writes a row per visit: a measurement, not a mode of the store.

    PYTHONPATH=src python benchmarks/bench_visit_writer.py --before /work/main/src
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import suolink.backends.sqlite as sqlite_backend
from suolink.backends.sqlite import SQLiteStorage
from suolink.models import Link, Visit

UAS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari", "ios", "phone", "safari"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile", "android", "phone", "chrome"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0", "windows", "desktop", "chrome"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15", "macos", "desktop", "safari"),
)  # fmt: skip
SCENARIOS = ("one-link", "small-batches", "round-robin", "hot-and-many", "large-batches")


def _batches(scenario: str, visits: int, links: int, seed: int) -> list[list[Any]]:
    """The batches of one scenario: lists of (VisitRecord, count) pairs."""
    rng = random.Random(seed)
    at = datetime.now(UTC)
    size = {"one-link": 32, "small-batches": 16, "large-batches": 4096}.get(scenario, 256)
    items: list[Any] = []
    for n in range(visits):
        if scenario == "one-link":
            code, person, kind = "c0", "p0", 0
        elif scenario == "small-batches":
            code, kind = "c0", n % 4
            person = f"p{kind}"
        elif scenario in ("round-robin", "large-batches"):
            code, kind = f"c{n % links}", n % 4
            person = f"p{kind}"
        else:
            hot = rng.random() < 0.8
            code = f"c{rng.randrange(min(20, links)) if hot else rng.randrange(links)}"
            kind, person = n % 4, f"p{n}"
        ua, system, device, browser = UAS[kind]
        visit = Visit(
            code=code,
            at=at + timedelta(microseconds=n),
            user_agent=ua,
            os=system,
            device=device,
            browser=browser,
            language="zh-CN",
            visitor_id=f"{person:0>22}",
        )
        items.append((visit.to_record(), True))
    return [items[i : i + size] for i in range(0, len(items), size)]


class _StatementClock:
    """Thread CPU per SQL statement of the visit writer (by its first 40 characters)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.on = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = sqlite_backend._Connection.execute

        def timed(conn: Any, sql: str, *args: Any) -> Any:
            if not self.on:
                return original(conn, sql, *args)
            started = time.thread_time()
            try:
                return original(conn, sql, *args)
            finally:
                key = sql[:40]
                self.cpu[key] = self.cpu.get(key, 0.0) + time.thread_time() - started
                self.calls[key] += 1

        sqlite_backend._Connection.execute = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            sqlite_backend._Connection.execute = original  # type: ignore[method-assign]

    def report(self, visits: int, writer_cpu: float) -> None:
        for sql, cpu in sorted(self.cpu.items(), key=lambda item: -item[1]):
            print(f"  {cpu / visits * 1e6:6.2f} µs/visit  {self.calls[sql]:6,} runs  {sql}")
        rest = writer_cpu - sum(self.cpu.values())
        print(f"  {rest / visits * 1e6:6.2f} µs/visit  the writer's Python around them")


@contextlib.contextmanager
def _without_count_rows() -> Iterator[None]:
    """Only the raw visits' ``INSERT`` of each batch is run (the floor; see the module doc)."""
    original = sqlite_backend._insert_many

    def raw_rows_only(tx: Any, head: str, width: int, flat: list[Any], tail: str = "") -> None:
        if head == sqlite_backend._INSERT_VISITS_HEAD:
            original(tx, head, width, flat, tail)

    sqlite_backend._insert_many = raw_rows_only
    try:
        yield
    finally:
        sqlite_backend._insert_many = original


def run(
    scenario: str,
    visits: int,
    links: int,
    *,
    profile: bool = False,
    statements: bool = False,
    count_rows: bool = True,
) -> dict[str, float]:
    """One scenario on a fresh file: microseconds per visit (thread CPU and wall)."""
    clock = _StatementClock()
    with contextlib.ExitStack() as patches:
        if statements:
            patches.enter_context(clock.installed())
        if not count_rows:
            patches.enter_context(_without_count_rows())
        result = _run(scenario, visits, links, profile=profile, clock=clock)
    if statements:
        clock.report(visits, result["cpu_us"] * visits / 1e6)
    return result


def _run(
    scenario: str, visits: int, links: int, *, profile: bool, clock: _StatementClock
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStorage(f"sqlite:///{folder}/w.db")
        try:
            base = datetime.now(UTC)
            for n in range(links):
                store.create(Link(code=f"c{n}", url=f"https://shop.example/{n}", created_at=base))
            warm = _batches(scenario, min(max(2048, links), visits), links, seed=1)
            for batch in warm:
                store._write_visits(batch)
            batches = _batches(scenario, visits, links, seed=2)
            gc.collect()
            gc.disable()
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            clock.on = True
            wall, cpu = time.perf_counter(), time.thread_time()
            for batch in batches:
                store._write_visits(batch)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            clock.on = False
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
            gc.enable()
            found = (store.get(f"c{n}") for n in range(links))
            total = sum(link.visits for link in found if link is not None)
            expected = visits + sum(len(b) for b in warm)
            if total != expected:
                raise SystemExit(f"{scenario}: {total} visits counted for {expected}")
        finally:
            store.close()
    return {"cpu_us": cpu / visits * 1e6, "wall_us": wall / visits * 1e6}


def _child(src: str, scenario: str, visits: int, links: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--child", scenario, "--visits", str(visits),
         "--links", str(links)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--before", default=None, help="another checkout's src, to compare")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--statements", action="store_true", help="CPU per SQL statement")
    parser.add_argument(
        "--without-count-rows", action="store_true", help="only the raw rows' INSERT (a floor)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run(args.child, args.visits, args.links)))
        return 0
    here = str(Path(__file__).resolve().parent.parent / "src")
    print(f"load average: {os.getloadavg()}")
    for scenario in args.scenarios.split(","):
        after: list[dict[str, float]] = []
        before: list[dict[str, float]] = []
        for _ in range(args.rounds):
            if args.profile or args.statements or args.without_count_rows:  # in this process
                after.append(
                    run(
                        scenario,
                        args.visits,
                        args.links,
                        profile=args.profile,
                        statements=args.statements,
                        count_rows=not args.without_count_rows,
                    )
                )
            else:
                after.append(_child(here, scenario, args.visits, args.links))
            if args.before:
                before.append(_child(args.before, scenario, args.visits, args.links))
        best = min(r["cpu_us"] for r in after)
        line = (
            f"{scenario:13} this: {best:6.1f} µs CPU/visit "
            f"({min(r['wall_us'] for r in after):6.1f} wall, {1e6 / best:,.0f} visits/s of CPU)"
        )
        if before:
            old = min(r["cpu_us"] for r in before)
            line += f" | before: {old:6.1f} µs CPU/visit | {old / best:.2f}x fewer µs"
        print(line, flush=True)
    print(f"load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
