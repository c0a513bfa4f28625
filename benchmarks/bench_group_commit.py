"""Visits written by group commit: redirects/s on SQLite (and Redis), and the loss window.

Scenarios, each on a fresh store of ``--links`` links (80% of redirects go to the 20
hottest, the rest uniformly to all), visitors in ordinary browsers from many addresses:

* ``resolve``: ``Shortener.resolve(code, visitor)`` from T threads, the visit recorded
  (the whole redirect path). Modes: ``per-visit`` (``batch_size=1``: one transaction per
  visit, what suolink did before group commit), ``durable`` (the default: a redirect is
  answered once its batch is committed) and ``background`` (answered at once, written
  every ``batch_ms``).
* ``record``: ``Storage.record_visit`` alone from T threads, to separate the storage's
  cost from the Shortener's.
* ``loss``: a child process resolves in background mode and is killed with SIGKILL
  after a second; the visits it answered but never stored are the loss window (also in
  milliseconds of traffic).

Every run checks afterwards that the store holds exactly one visit per answered
redirect. Run ``python benchmarks/bench_group_commit.py`` (about two minutes) or
``--quick``; ``--redis URL`` adds the Redis scenarios. Results are printed and written
to ``benchmarks/results/group-commit-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import suolink
from suolink.backends import Storage, open_storage
from suolink.detect import detect
from suolink.models import Redirect, Visitor
from suolink.shortener import Shortener

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECRET = "benchmark-secret"  # a salt for the codes, not a credential
HOT = 20
BROWSERS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
)
VISITORS = tuple(
    Visitor(user_agent=BROWSERS[i % 3], ip=f"198.51.{i // 250}.{i % 250}", accept_language="zh-CN")
    for i in range(500)
)


def _codes(shortener: Shortener, links: int) -> list[str]:
    return [shortener.shorten(f"https://example.com/{i}").code for i in range(links)]


def _plan(codes: Sequence[str], calls: int, seed: int) -> list[tuple[str, Visitor]]:
    """What each redirect opens and who opens it: 80% to the hottest links."""
    rng = random.Random(seed)
    hot = codes[:HOT]
    return [
        (rng.choice(hot) if rng.random() < 0.8 else rng.choice(codes), rng.choice(VISITORS))
        for _ in range(calls)
    ]


def _run_threads(
    threads: int, plan: list[tuple[str, Visitor]], call: Callable[..., Any]
) -> tuple[float, float]:
    """Run ``plan`` split over ``threads`` threads; the seconds and CPU seconds it took.

    CPU time (all threads of the process, flushers included) is what a loaded machine
    changes least: ``calls / cpu`` is the rate one free core would reach.
    """
    shares = [plan[t::threads] for t in range(threads)]
    go = threading.Barrier(threads + 1)

    def work(share: list[tuple[str, Visitor]]) -> None:
        go.wait()
        for code, visitor in share:
            call(code, visitor)

    pool = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in pool:
        thread.start()
    go.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, time.process_time() - cpu


def _stored(url: str, codes: Sequence[str]) -> tuple[int, int]:
    """(visits stored, visits counted) over ``codes``."""
    store = open_storage(url)
    try:
        counted = sum(store.get(code).visits for code in codes)  # type: ignore[union-attr]
        stored = sum(len(list(store.visits(code))) for code in codes)
    finally:
        store.close()
    return stored, counted


def _fresh_url(base: str, folder: Path, name: str) -> str:
    if base == "sqlite":
        return f"sqlite:///{folder / name}.db"
    return f"{base}{'&' if '?' in base else '?'}prefix=bench-{name}-{os.getpid()}:"


def _with(url: str, options: str) -> str:
    return url if not options else f"{url}{'&' if '?' in url else '?'}{options}"


def bench_resolve(
    base: str, folder: Path, mode: str, options: str, threads: int, calls: int, links: int
) -> dict[str, Any]:
    """Redirects/s through ``Shortener.resolve`` with the visit recorded."""
    url = _fresh_url(base, folder, f"resolve-{mode}-{threads}")
    shortener = Shortener(_with(url, options), secret=SECRET)
    codes = _codes(shortener, links)
    plan = _plan(codes, calls, seed=threads)
    for code, visitor in plan[:200]:  # warm the UA cache and the link cache
        shortener.resolve(code, visitor, record=False)

    def call(code: str, visitor: Visitor) -> None:
        answer = shortener.resolve(code, visitor)
        if not isinstance(answer, Redirect):
            raise AssertionError(f"expected a redirect, got {answer!r}")

    seconds, cpu = _run_threads(threads, plan, call)
    started, cpu_started = time.perf_counter(), time.process_time()
    shortener.close()  # background mode: the last batches are written here
    closing = time.perf_counter() - started
    cpu += time.process_time() - cpu_started
    stored, counted = _stored(url, codes)
    return {
        "scenario": "resolve",
        "store": base.split(":")[0],
        "mode": mode,
        "threads": threads,
        "calls": calls,
        "per_s": round(calls / seconds),
        "per_s_with_close": round(calls / (seconds + closing)),
        "cpu_us": round(cpu / calls * 1e6, 1),
        "stored_ok": stored == calls and counted == calls,
    }


def bench_record(
    base: str, folder: Path, mode: str, options: str, threads: int, calls: int, links: int
) -> dict[str, Any]:
    """``Storage.record_visit`` alone: the storage's share of a redirect."""
    url = _fresh_url(base, folder, f"record-{mode}-{threads}")
    shortener = Shortener(_with(url, options), secret=SECRET)
    codes = _codes(shortener, links)
    storage: Storage = shortener.storage
    now = shortener.clock()
    visits = {
        (code, visitor.ip): shortener._visit(
            code, visitor, detect(visitor.user_agent), now, "redirect"
        )
        for code, visitor in _plan(codes, calls, seed=threads)
    }
    plan = [(code, visitor) for code, visitor in _plan(codes, calls, seed=threads)]

    def call(code: str, visitor: Visitor) -> None:
        storage.record_visit(visits[code, visitor.ip])

    seconds, cpu = _run_threads(threads, plan, call)
    started = time.process_time()
    shortener.close()
    cpu += time.process_time() - started
    stored, _ = _stored(url, codes)
    return {
        "scenario": "record",
        "store": base.split(":")[0],
        "mode": mode,
        "threads": threads,
        "calls": calls,
        "per_s": round(calls / seconds),
        "cpu_us": round(cpu / calls * 1e6, 1),
        "stored_ok": stored == calls,
    }


def _loss_child(url: str, codes: list[str], answered: Any, ready: Any) -> None:
    """Resolve as fast as possible, counting answers in shared memory, until killed."""
    shortener = Shortener(url, secret=SECRET)
    plan = _plan(codes, 20_000, seed=7)
    ready.set()
    i = 0
    while True:
        code, visitor = plan[i % len(plan)]
        shortener.resolve(code, visitor)
        i += 1
        answered.value = i


def bench_loss(base: str, folder: Path, options: str, links: int, run_s: float) -> dict[str, Any]:
    """SIGKILL a process resolving in background mode: visits answered but not stored."""
    url = _fresh_url(base, folder, "loss")
    shortener = Shortener(url, secret=SECRET)
    codes = _codes(shortener, links)
    shortener.close()
    ctx = multiprocessing.get_context("spawn")
    answered = ctx.Value("q", 0, lock=False)
    ready = ctx.Event()
    child = ctx.Process(target=_loss_child, args=(_with(url, options), codes, answered, ready))
    child.start()
    ready.wait(timeout=60)
    deadline = time.monotonic() + 60
    while answered.value == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the child is answering: start the clock
    first = answered.value
    time.sleep(run_s)
    before = answered.value - first
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    total = answered.value
    stored, _ = _stored(url, codes)
    rate = before / run_s
    lost = max(0, total - stored)
    return {
        "scenario": "loss",
        "store": base.split(":")[0],
        "mode": "background",
        "options": options,
        "answered": total,
        "stored": stored,
        "lost": lost,
        "lost_ms": round(lost / rate * 1000, 2) if rate else None,
        "per_s": round(rate),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few calls")
    parser.add_argument("--calls", type=int, default=40_000, help="redirects per scenario")
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--threads", default="1,4,16", help="thread counts for durable mode")
    parser.add_argument("--redis", default=None, help="a redis:// URL to add Redis runs")
    parser.add_argument("--output", type=Path, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    calls = 3_000 if args.quick else args.calls
    thread_counts = [int(t) for t in args.threads.split(",")]
    info = machine_info()
    print(f"suolink {suolink.__version__} on {info['cpu']}, {info['cores']} cores")
    rows: list[dict[str, Any]] = []
    stores = ["sqlite"] + ([args.redis] if args.redis else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for base in stores:
            runs: list[tuple[str, str, int]] = [("per-visit", "batch_size=1", 1)]
            runs += [("per-visit", "batch_size=1", max(thread_counts))]
            runs += [("durable", "", t) for t in thread_counts]
            runs += [("background", "visits=background", 1)]
            for scenario in (bench_record, bench_resolve):
                for mode, options, threads in runs:
                    row = scenario(base, folder, mode, options, threads, calls, args.links)
                    rows.append(row)
                    print(
                        f"{row['store']:7s} {row['scenario']:8s} {mode:10s} "
                        f"threads={threads:<3d} {row['per_s']:>8,}/s "
                        f"{row['cpu_us']:>6} µs CPU each"
                        f"  stored ok: {row['stored_ok']}"
                    )
            for options in ("visits=background", "visits=background&batch_ms=20"):
                row = bench_loss(base, folder, options, args.links, 0.5 if args.quick else 2.0)
                rows.append(row)
                print(
                    f"{row['store']:7s} loss     {options:30s} answered={row['answered']:,} "
                    f"lost={row['lost']} ({row['lost_ms']} ms of traffic at {row['per_s']:,}/s)"
                )
    output = args.output or RESULTS_DIR / (
        f"group-commit-{datetime.now(UTC):%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
