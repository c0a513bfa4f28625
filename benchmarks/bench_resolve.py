"""The hot resolve path: ``Shortener.resolve`` on ``memory://``, one core, and guide pages.

Two figures, each over a tight loop on one thread (calls over wall time):

* **redirects**: ordinary browser visitors (Safari on iOS/macOS, Chrome on Android and
  Windows; the detection cache warm) opening codes drawn from ``--links`` stored links;
  every visit is recorded and counted. Every answer is checked to be a redirect.
* **guide pages, first view**: WeChat and QQ visitors opening links none has opened
  before, so the page is made for each link the first time (its QR code included).
  Every answer is checked to be the guide page.

``--sqlite`` adds the redirects on SQLite (a temporary file): durable (one commit each,
``--calls / 10``), ``visits=background`` (``--calls / 4``; the warm-up's visits are
written before the clock starts, and it stops when every timed visit is written) and,
labelled apart, background on *hot links*: codes drawn Zipf-like (the n-th most visited
link ∝ 1/n) instead of round robin, so a batch holds several visits of a link, as real
traffic does. The SQLite lines also give the writer's share: process CPU
minus the resolving thread's, per visit. Beside background mode, in the same run, a
bare SQLite visit log (``bare_visits.py``: a dict lookup, the visit's row and its link's
count written by a thread in batches) and the ratio of the two.

``--profile`` runs the redirect loop under cProfile and prints the top functions.
``--against SRC`` times the redirects of another source tree (``before``) and of this one
(``after``) in turns, one fresh process per run, and prints them side by side with the
ratio: the fair comparison on a shared machine (with ``--sqlite``, the SQLite lines too).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_resolve.py
    PYTHONPATH=src .venv/bin/python benchmarks/bench_resolve.py --profile --calls 200000
    PYTHONPATH=src .venv/bin/python benchmarks/bench_resolve.py --against ../main/src \
        --calls 200000 --repeat 5 --ips 100000 --first-use 50000
    PYTHONPATH=src .venv/bin/python benchmarks/bench_resolve.py --against ../main/src \
        --calls 200000 --repeat 3 --sqlite
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare_visits import BareVisitLog
from bench_core import (
    BROWSER_VISITORS,
    BULK_ID_OFFSET,
    IN_APP_VISITORS,
    RESULTS_DIR,
    SECRET,
    machine_info,
)

from suolink.models import Link, Redirect, Visitor, utcnow
from suolink.shortener import Shortener


def _fill(shortener: Shortener, count: int, start: int = 0) -> list[str]:
    """``count`` plain links created through the storage; their codes."""
    encode = shortener.codes.codec.encode
    base = utcnow()
    codes = []
    for n in range(start, start + count):
        code = encode(BULK_ID_OFFSET + n)
        shortener.storage.create(
            Link(
                code=code,
                url=f"https://shop.example.com/item/{n}?utm_source=wechat",
                created_at=base + timedelta(microseconds=n),
            )
        )
        codes.append(code)
    return codes


def bench_redirects(
    calls: int,
    links: int,
    *,
    profile: bool,
    storage: str = "memory://",
    ips: int = 0,
    hot: bool = False,
) -> tuple[float, float, float]:
    """Redirects per second (visits recorded and counted), over wall time, over this
    process's CPU time (the fairer figure on a shared machine) and over the resolving
    thread's own CPU time (without a group commit's writer thread, which has the other
    core). Wall time ends when every visit is written. ``hot``: codes drawn Zipf-like
    (weight 1/rank, a fixed seed) instead of round robin."""
    shortener = Shortener(storage, secret=SECRET, base_url="https://s.example")
    codes = _fill(shortener, links)
    visitors: Sequence[Visitor] = BROWSER_VISITORS
    if ips:  # many visitors: the Shortener's remembered visitor ids mostly miss
        visitors = [
            replace(BROWSER_VISITORS[n % 4], ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
            for n in range(ips)
        ]
    pairs = [(codes[i % links], visitors[i % len(visitors)]) for i in range(calls)]
    if hot:
        drawn = random.Random(14).choices(
            codes, [1 / rank for rank in range(1, links + 1)], k=calls
        )
        pairs = [(code, visitors[i % len(visitors)]) for i, code in enumerate(drawn)]
    resolve = shortener.resolve
    warm = pairs[: max(2000, links)]  # every link planned (or cached) once
    if hot:  # the draws miss the coldest links: each once, in turn
        warm = [(code, visitors[i % len(visitors)]) for i, code in enumerate(codes)]
    for code, visitor in warm:  # warm the detection cache and every code path
        resolve(code, visitor)
    batches = getattr(shortener.storage, "_visit_batches", None)
    if batches is not None:
        batches.flush()  # the warm-up's queued visits are not the timed calls' to write

    def run() -> None:
        for code, visitor in pairs:
            resolve(code, visitor)

    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    # Background mode: the queue is written (``flush``) inside the wall and CPU timing.
    elapsed, cpu, own = _timed(run, settle=None if batches is None else batches.flush)
    if profiler is not None:
        profiler.disable()
    last = resolve(pairs[-1][0], pairs[-1][1])
    if not isinstance(last, Redirect):
        raise SystemExit(f"expected a redirect, got {last!r}")
    if batches is not None:
        batches.flush()
    recorded = sum(shortener.get(code).visits for code in codes)
    if recorded != calls + len(warm) + 1:
        raise SystemExit(f"{recorded} visits counted for {calls + len(warm) + 1} redirects")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    shortener.close()
    return calls / elapsed, calls / cpu, calls / own


def _timed(
    run: Callable[[], None], *, settle: Callable[[], None] | None = None
) -> tuple[float, float, float]:
    """Seconds of wall, process CPU and this thread's CPU that ``run()`` takes, the
    garbage collector off; ``settle()`` after it (a flush of queued visits) counts in the
    first two only."""
    gc.collect()
    gc.disable()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        own_started = time.thread_time()
        run()
        own = time.thread_time() - own_started
        if settle is not None:
            settle()
        return time.perf_counter() - started, time.process_time() - cpu_started, own
    finally:
        gc.enable()


def bench_bare_sqlite(calls: int, links: int, path: str) -> tuple[float, float, float]:
    """The same redirects on :class:`bare_visits.BareVisitLog` (a dict lookup, the visit
    queued for a writer thread), timed as ``bench_redirects`` times background mode."""
    codes = [f"b{n:07d}" for n in range(links)]
    log = BareVisitLog(path, {code: f"https://shop.example.com/item/{code}" for code in codes})
    visitors = BROWSER_VISITORS
    pairs = [(codes[i % links], visitors[i % len(visitors)]) for i in range(calls)]
    redirect = log.redirect
    for code, visitor in pairs[: max(2000, links)]:
        redirect(code, visitor.ip, visitor.user_agent)
    log.flush()
    warm = log.visits()

    def run() -> None:
        for code, visitor in pairs:
            if redirect(code, visitor.ip, visitor.user_agent) is None:
                raise SystemExit(f"no link {code}")

    elapsed, cpu, own = _timed(run, settle=log.flush)
    if log.visits() - warm != calls:
        raise SystemExit(f"{log.visits() - warm} visits counted for {calls} redirects")
    log.close()
    return calls / elapsed, calls / cpu, calls / own


def bench_first_use(calls: int) -> tuple[float, float, float]:
    """Redirects per second when every call opens a link nobody opened before (its plan
    is made by that call): wall time, process CPU and thread CPU, as bench_redirects."""
    shortener = Shortener("memory://", secret=SECRET, base_url="https://s.example")
    codes = _fill(shortener, calls + 2000)
    resolve = shortener.resolve
    visitors = BROWSER_VISITORS
    for i, code in enumerate(codes[:2000]):  # detection, the code paths, visitor ids
        resolve(code, visitors[i % 4])
    pairs = [(code, visitors[i % 4]) for i, code in enumerate(codes[2000:])]

    def run() -> None:
        for code, visitor in pairs:
            resolve(code, visitor)

    elapsed, cpu, own = _timed(run)
    recorded = sum(shortener.get(code).visits for code in codes)
    if recorded != calls + 2000:
        raise SystemExit(f"{recorded} visits counted for {calls + 2000} redirects")
    shortener.close()
    return calls / elapsed, calls / cpu, calls / own


def bench_guide_first_view(pages: int) -> tuple[float, float]:
    """Guide pages/s and median µs when each link is opened for the first time."""
    shortener = Shortener("memory://", secret=SECRET, base_url="https://s.example")
    codes = _fill(shortener, pages + 50)
    for i, code in enumerate(codes[:50]):  # warm templates and detection
        shortener.resolve(code, IN_APP_VISITORS[i % 2])
    durations = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for i, code in enumerate(codes[50:]):
        t0 = clock()
        decision = shortener.resolve(code, IN_APP_VISITORS[i % 2])
        durations.append(clock() - t0)
        if decision.reason != "guide":
            raise SystemExit(f"expected the guide page, got {decision.reason}")
    elapsed = time.perf_counter() - started
    durations.sort()
    return pages / elapsed, durations[len(durations) // 2] / 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300_000, help="timed redirects")
    parser.add_argument("--links", type=int, default=10_000, help="links stored")
    parser.add_argument("--pages", type=int, default=2_000, help="guide pages, first views")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--profile", action="store_true", help="cProfile the redirect loop")
    parser.add_argument(
        "--ips",
        type=int,
        default=0,
        help="also time redirects by this many distinct client addresses (0: skip)",
    )
    parser.add_argument(
        "--first-use",
        type=int,
        default=0,
        metavar="N",
        help="also time N redirects each on a link never opened before (0: skip)",
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="redirects on SQLite (a temporary file) too"
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="alternate runs of the redirects with this source tree (before) and ours (after)",
    )
    parser.add_argument("--output", type=Path, help="JSON file (default: results/resolve-…)")
    args = parser.parse_args(argv)
    info = machine_info()
    print(f"{info['date']}  {info['cpu']} ×{info['cores']}  {info['python']}  git {info['git']}")
    print(f"load average at start: {info['load_average_at_start']}")
    if args.against:
        return _side_by_side(args, info)
    if args.profile:
        bench_redirects(args.calls, args.links, profile=True)
        return 0
    results: dict[str, Any] = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}}
    runs = [bench_redirects(args.calls, args.links, profile=False) for _ in range(args.repeat)]
    results["memory_redirects"] = _rates(f"redirects, memory://, {args.links:,} links", runs)
    if args.ips:
        runs = [
            bench_redirects(args.calls, args.links, profile=False, ips=args.ips)
            for _ in range(args.repeat)
        ]
        results["memory_redirects_distinct_ips"] = _rates(
            f"redirects, memory://, {args.ips:,} client addresses", runs
        )
    if args.first_use:
        runs = [bench_first_use(args.first_use) for _ in range(args.repeat)]
        results["memory_first_use"] = _rates(
            f"redirects, memory://, each on a link opened for the first time, {args.first_use:,}",
            runs,
        )
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            calls = max(1, args.calls // 10)
            runs = [
                bench_redirects(
                    calls, args.links, profile=False, storage=f"sqlite:///{folder}/run{n}.db"
                )
                for n in range(args.repeat)
            ]
            results["sqlite_redirects"] = _rates(
                f"redirects, sqlite (durable: one commit each), {calls:,} calls", runs
            )
            calls = max(1, args.calls // 4)
            runs = [
                bench_redirects(
                    calls,
                    args.links,
                    profile=False,
                    storage=f"sqlite:///{folder}/bg{n}.db?visits=background",
                )
                for n in range(args.repeat)
            ]
            results["sqlite_background_redirects"] = _rates(
                f"redirects, sqlite (visits=background), {calls:,} calls", runs, writer=True
            )
            runs = [
                bench_bare_sqlite(calls, args.links, f"{folder}/bare{n}.db")
                for n in range(args.repeat)
            ]
            results["bare_sqlite_redirects"] = _rates(
                f"bare SQLite visit log (dict lookup, queued visit row and count), {calls:,} calls",
                runs,
                writer=True,
            )
            ratio = (
                results["sqlite_background_redirects"]["per_second_wall"]
                / results["bare_sqlite_redirects"]["per_second_wall"]
            )
            results["sqlite_background_over_bare"] = round(ratio, 3)
            print(f"  sqlite background / bare SQLite visit log, over wall time: {ratio:.2f}×")
            runs = [
                bench_redirects(
                    calls,
                    args.links,
                    profile=False,
                    storage=f"sqlite:///{folder}/hot{n}.db?visits=background",
                    hot=True,
                )
                for n in range(args.repeat)
            ]
            results["sqlite_background_hot_redirects"] = _rates(
                f"redirects, sqlite (visits=background), hot links (Zipf-like), {calls:,} calls",
                runs,
                writer=True,
            )
    if args.pages:
        guide = [bench_guide_first_view(args.pages) for _ in range(args.repeat)]
        results["guide_first_view"] = {
            "pages_per_second": round(max(r for r, _ in guide)),
            "median_us": round(min(m for _, m in guide), 1),
        }
        print(
            f"guide pages, first view: best {max(r for r, _ in guide):,.0f}/s, "
            f"median {min(m for _, m in guide):.0f} µs; runs: "
            + ", ".join(f"{r:,.0f}/s ({m:.0f} µs)" for r, m in guide)
        )
    load = os.getloadavg()
    results["load_average_at_end"] = [round(x, 2) for x in load]
    print(f"load average at end: {results['load_average_at_end']}")
    output = args.output or RESULTS_DIR / f"resolve-{info['date'][:10]}-{info['git']}.json"
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def _side_by_side(args: argparse.Namespace, info: dict[str, Any]) -> int:
    """Before (``--against``) and after (the suolink imported here) in turns, a fresh
    process per run, ``--repeat`` runs each; the best of each, side by side."""
    import suolink

    trees = {"before": args.against.resolve(), "after": Path(suolink.__file__).parents[1]}
    kinds = [("memory_redirects", "four browsers")]
    if args.ips:
        kinds.append(("memory_redirects_distinct_ips", f"{args.ips:,} addresses"))
    if args.first_use:
        kinds.append(("memory_first_use", "each link's first use"))
    if args.sqlite:
        kinds.append(("sqlite_redirects", "sqlite durable"))
        kinds.append(("sqlite_background_redirects", "sqlite background"))
        kinds.append(("sqlite_background_hot_redirects", "sqlite background, hot"))
    runs: dict[tuple[str, str], list[list[int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in range(args.repeat):
            for side, tree in trees.items():
                output = Path(folder) / f"{side}{n}.json"
                command = [sys.executable, __file__, "--calls", str(args.calls)]
                command += ["--links", str(args.links), "--repeat", "1", "--pages", "0"]
                command += ["--ips", str(args.ips), "--first-use", str(args.first_use)]
                command += ["--output", str(output)] + (["--sqlite"] if args.sqlite else [])
                env = dict(os.environ, PYTHONPATH=str(tree))
                subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
                found = json.loads(output.read_text())
                for kind, _ in kinds:
                    if kind in found:  # an older tree's bench may lack a line
                        runs.setdefault((side, kind), []).extend(found[kind]["runs"])
    results: dict[str, Any] = {"machine": info, "trees": {k: str(v) for k, v in trees.items()}}
    print(f"before: {trees['before']}\nafter:  {trees['after']}")
    heading = f"redirects, best of {args.repeat}"
    print(f"{heading:44} {'before':>12} {'after':>12} {'after/before':>13}")
    for kind, what in kinds:
        if (("before", kind) not in runs) or (("after", kind) not in runs):
            continue
        label = what if kind == "memory_first_use" else f"{args.links:,} links, {what}"
        for column, name in ((1, "CPU"), (0, "wall")):
            before = max(r[column] for r in runs[("before", kind)])
            after = max(r[column] for r in runs[("after", kind)])
            row = f"{label}, /s of {name}"
            print(f"{row:44} {before:>12,} {after:>12,} {after / before:>12.2f}×")
            print(f"{'  µs each':44} {1e6 / before:>12.2f} {1e6 / after:>12.2f}")
        if kind.startswith("sqlite_background"):  # the writer's CPU: process minus resolver
            shares = []
            for side in trees:
                best = max(runs[(side, kind)], key=lambda r: r[1])
                shares.append(1e6 / best[1] - 1e6 / best[2])
            row = "  writer µs of CPU each (best CPU run)"
            print(f"{row:44} {shares[0]:>12.2f} {shares[1]:>12.2f}")
        results[kind] = {side: runs[(side, kind)] for side in trees}
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at end: {results['load_average_at_end']}")
    output = args.output or RESULTS_DIR / f"resolve-ab-{info['date'][:10]}-{info['git']}.json"
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output}  (runs: [wall, CPU, thread CPU] per second)")
    return 0


def _rates(
    label: str, runs: list[tuple[float, float, float]], *, writer: bool = False
) -> dict[str, Any]:
    wall, cpu, own = (max(r[i] for r in runs) for i in range(3))
    # The other threads' CPU (a group commit's writer), per visit, in the run of best CPU.
    best = max(runs, key=lambda r: r[1])
    share = f"; writer ≈ {1e6 / best[1] - 1e6 / best[2]:.1f} µs of CPU each" if writer else ""
    print(
        f"{label}: best {wall:,.0f}/s over wall time ({1e6 / wall:.2f} µs each), "
        f"{cpu:,.0f}/s over CPU time ({1e6 / cpu:.2f} µs), {own:,.0f}/s over the "
        f"resolving thread's CPU time ({1e6 / own:.2f} µs){share}; runs (wall/cpu/thread): "
        + ", ".join(f"{w:,.0f}/{c:,.0f}/{t:,.0f}" for w, c, t in runs)
    )
    return {
        "per_second_wall": round(wall),
        "per_second_cpu": round(cpu),
        "per_second_thread_cpu": round(own),
        "runs": [[round(w), round(c), round(t)] for w, c, t in runs],
    }


if __name__ == "__main__":
    raise SystemExit(main())
