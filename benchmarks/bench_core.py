"""Core speed of suolink: shorten/s, resolve/s and resolve latency as the store grows.

For each backend (``memory://`` and ``sqlite:///<temporary file>``) it measures:

* ``Shortener.shorten`` throughput on a fresh store (hashids codes, URL validation,
  atomic counter and insert);
* the store is then grown to each size in ``--sizes`` by bulk-creating links through
  the backend's own ``Storage.create`` (the Shortener's extra work is measured above);
* at each size, ``Shortener.resolve`` on codes drawn at random from every stored link,
  with realistic visitors (WeChat, QQ, Safari, Chrome UAs, several IPs): the whole
  redirect path, including the atomic visit record and count. Throughput and the
  median and p99 latency of single calls are reported.

Run ``python benchmarks/bench_core.py`` (default sizes 10k, 100k, 1M; about 5 minutes on
two cores) or ``--quick`` for a smoke run. Results are printed and written as JSON to
``benchmarks/results/core-<date>.json``. Times come from ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import suolink
from suolink.models import Decision, Link, Redirect, Visitor, utcnow
from suolink.shortener import Shortener

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
#: Bulk-created links use counter values from here up, far above what ``shorten`` uses,
#: so their hashids codes are real codes that never collide with generated ones.
BULK_ID_OFFSET = 1_000_000_000
SECRET = "benchmark-secret"  # a salt for the codes, not a credential

_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko)"
)

#: Visitors in ordinary browsers: they get the redirect, and their visit is counted.
BROWSER_VISITORS: tuple[Visitor, ...] = (
    Visitor(
        user_agent=f"{_IPHONE} Version/17.4 Mobile/15E148 Safari/604.1",
        ip="203.0.113.7",
        accept_language="zh-CN,zh;q=0.9",
        referer="https://www.example.org/article",
    ),
    Visitor(
        user_agent=(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
        ),
        ip="198.51.100.23",
        headers={"sec-ch-ua-platform": '"Android"', "sec-ch-ua-mobile": "?1"},
        accept_language="zh-CN",
    ),
    Visitor(
        user_agent=(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
        ),
        ip="2001:db8::42",
        accept_language="en-GB,en;q=0.8",
    ),
    Visitor(
        user_agent=(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
        ),
        ip="192.0.2.200",
        headers={"sec-ch-ua-platform": '"Windows"', "sec-ch-ua-mobile": "?0"},
        accept_language="en-US,en;q=0.9,zh-CN;q=0.5",
    ),
)

#: Visitors inside apps that block links: they get the anti-block guide page (with the
#: link's QR code drawn in it), recorded but not counted.
IN_APP_VISITORS: tuple[Visitor, ...] = (
    Visitor(
        user_agent=(
            f"{_IPHONE} Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
        ),
        ip="203.0.113.9",
        accept_language="zh-CN,zh;q=0.9",
        referer="https://mp.weixin.qq.com/",
    ),
    Visitor(
        user_agent=(
            "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 "
            "Mobile Safari/537.36 V1_AND_SQ_8.9.88_4852_YYB_D QQ/8.9.88.12345 NetType/4G"
        ),
        ip="198.51.100.99",
        headers={"x-requested-with": "com.tencent.mobileqq"},
        accept_language="zh-CN",
    ),
)


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _git_revision() -> str | None:
    """The checkout's commit (``+dirty`` with local changes), so a figure names its code."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def machine_info() -> dict[str, Any]:
    """What the figures depend on: hardware, load, interpreter and library versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_average_at_start": None if load is None else [round(x, 2) for x in load],
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "suolink": suolink.__version__,
        "git": _git_revision(),
        "sqlite": sqlite3.sqlite_version,
    }


# --------------------------------------------------------------------------- measuring


@dataclass
class Timing:
    """Throughput over a run of calls and the latency of single calls, in microseconds."""

    calls: int
    per_second: float
    median_us: float
    p99_us: float
    #: CPU time of this process over wall time: well under 1.0 means other programs
    #: took the CPU during the run (or we waited on I/O), so the figures are pessimistic.
    cpu_share: float

    @classmethod
    def of(cls, durations_ns: Sequence[int], wall_s: float, cpu_s: float) -> Timing:
        ordered = sorted(durations_ns)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(
            calls=len(ordered),
            per_second=round(len(ordered) / wall_s, 1),
            median_us=round(statistics.median(ordered) / 1000, 1),
            p99_us=round(p99 / 1000, 1),
            cpu_share=round(cpu_s / wall_s, 2),
        )


def _timed(calls: int, one: Callable[[int], object]) -> Timing:
    """Call ``one(i)`` for i in range(calls); per-call and overall times by perf_counter."""
    durations = [0] * calls
    clock = time.perf_counter_ns
    cpu_started = time.process_time()
    started = time.perf_counter()
    for i in range(calls):
        t0 = clock()
        one(i)
        durations[i] = clock() - t0
    wall = time.perf_counter() - started
    return Timing.of(durations, wall, time.process_time() - cpu_started)


@dataclass
class SizeResult:
    links: int
    resolve: Timing
    guide: Timing | None
    guide_hot: Timing | None
    bulk_create_per_second: float | None
    storage_bytes: int | None = None


@dataclass
class BackendResult:
    backend: str
    shorten: Timing
    sizes: list[SizeResult] = field(default_factory=list)


def _storage_bytes(path: Path | None) -> int | None:
    if path is None:
        return None
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def _bulk_create(shortener: Shortener, start: int, count: int) -> tuple[list[str], float]:
    """Create ``count`` links through ``Storage.create``; their codes and links/s."""
    storage = shortener.storage
    encode = shortener.codes.codec.encode
    base = utcnow()
    step = timedelta(microseconds=1)
    codes: list[str] = []
    started = time.perf_counter()
    for n in range(start, start + count):
        code = encode(BULK_ID_OFFSET + n)
        storage.create(
            Link(
                code=code,
                url=f"https://shop.example.com/item/{n}?utm_source=wechat&utm_medium=share",
                created_at=base + n * step,
                tags=("bulk",),
            )
        )
        codes.append(code)
    elapsed = time.perf_counter() - started
    return codes, round(count / elapsed, 1) if elapsed else 0.0


def _time_resolves(
    shortener: Shortener,
    codes: Sequence[str],
    visitors: Sequence[Visitor],
    expect: Callable[[Decision], bool],
) -> Timing | None:
    """Timing of ``resolve(codes[i], visitors[i])`` for each i; None if one was unexpected."""
    decisions: list[Decision | None] = [None] * len(codes)

    def resolve_one(i: int) -> None:
        decisions[i] = shortener.resolve(codes[i], visitors[i])

    timing = _timed(len(codes), resolve_one)
    return timing if all(d is not None and expect(d) for d in decisions) else None


def _is_redirect(decision: Decision) -> bool:
    return isinstance(decision, Redirect)


def _is_guide(decision: Decision) -> bool:
    return decision.status == 200 and decision.reason == "guide"


def _line(label: str, timing: Timing, notes: Sequence[str] = ()) -> str:
    return (
        f"{label} {timing.per_second:>9,.0f}/s   median {timing.median_us:>8.1f} µs   "
        f"p99 {timing.p99_us:>8.1f} µs   " + "   ".join([f"cpu {timing.cpu_share:.2f}", *notes])
    )


def bench_backend(
    name: str,
    url: str,
    *,
    sizes: Sequence[int],
    shorten_calls: int,
    resolve_calls: int,
    guide_calls: int,
    db_path: Path | None,
    rng: random.Random,
    log: Callable[[str], None],
) -> BackendResult:
    """Shorten throughput on a fresh store, then resolve timings at each size."""
    with Shortener(url, secret=SECRET, base_url="https://s.example") as shortener:
        for i in range(min(200, shorten_calls)):  # warm caches, imports, the file
            shortener.shorten(f"https://warmup.example.com/{i}")
        shorten = _timed(
            shorten_calls,
            lambda i: shortener.shorten(
                f"https://www.example.com/articles/{i}?from=timeline&isappinstalled=0",
                tags=("bench",),
            ),
        )
        log(_line("  shorten            ", shorten, [f"{shorten.calls:,} calls"]))
        result = BackendResult(backend=name, shorten=shorten)
        codes = [link.code for link in shortener.iter_links()]
        bulk_made = 0
        for size in sorted(sizes):
            missing = size - len(codes)
            rate: float | None = None
            if missing > 0:
                made, rate = _bulk_create(shortener, bulk_made, missing)
                codes.extend(made)
                bulk_made += missing
            sample = [rng.choice(codes) for _ in range(resolve_calls)]
            visitors = [rng.choice(BROWSER_VISITORS) for _ in range(resolve_calls)]
            for i in range(min(500, resolve_calls)):  # warm-up, not timed
                shortener.resolve(sample[i], visitors[i])
            timing = _time_resolves(shortener, sample, visitors, _is_redirect)
            if timing is None:
                raise SystemExit(f"{name}: a browser visitor was not redirected; invalid run")
            guide: Timing | None = None
            guide_hot: Timing | None = None
            if guide_calls:
                # Codes drawn from the whole store: each guide page draws its QR code.
                in_app = [rng.choice(IN_APP_VISITORS) for _ in range(guide_calls)]
                picked = [rng.choice(codes) for _ in range(guide_calls)]
                guide = _time_resolves(shortener, picked, in_app, _is_guide)
                # One popular link: its QR code comes from the Shortener's cache.
                hot = [rng.choice(codes)] * guide_calls
                guide_hot = _time_resolves(shortener, hot, in_app, _is_guide)
                if guide is None or guide_hot is None:
                    raise SystemExit(f"{name}: an in-app visitor got no guide page; invalid run")
            entry = SizeResult(
                links=len(codes),
                resolve=timing,
                guide=guide,
                guide_hot=guide_hot,
                bulk_create_per_second=rate,
                storage_bytes=_storage_bytes(db_path),
            )
            result.sizes.append(entry)
            notes = []
            if rate:
                notes.append(f"grew at {rate:,.0f} links/s")
            if entry.storage_bytes is not None:
                notes.append(f"file {entry.storage_bytes / 1e6:,.0f} MB")
            log(_line(f"  {len(codes):>9,} redirect", timing, notes))
            if guide is not None:
                log(_line(f"  {len(codes):>9,} guide   ", guide, ["QR drawn each time"]))
            if guide_hot is not None:
                log(_line(f"  {len(codes):>9,} guide   ", guide_hot, ["one hot link, QR cached"]))
            gc.collect()
    return result


# --------------------------------------------------------------------------- command line


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 10000,100000: {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive whole numbers")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=DEFAULT_SIZES,
        help="store sizes at which resolve is timed (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: sizes 1000,10000 and fewer calls"
    )
    parser.add_argument(
        "--backends",
        default="memory,sqlite",
        help="comma-separated: memory, sqlite (default both)",
    )
    parser.add_argument("--shorten-calls", type=int, default=None, help="default 5000")
    parser.add_argument(
        "--resolve-calls", type=int, default=None, help="resolves timed per size (default 20000)"
    )
    parser.add_argument(
        "--guide-calls",
        type=int,
        default=None,
        help="guide-page resolves timed per size (default 1000; 0 skips them)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="random seed for code sampling")
    parser.add_argument(
        "--output", type=Path, default=None, help="JSON file (default results/core-<date>.json)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes: tuple[int, ...] = QUICK_SIZES if args.quick else args.sizes
    shorten_calls = args.shorten_calls or (500 if args.quick else 5_000)
    resolve_calls = args.resolve_calls or (2_000 if args.quick else 20_000)
    guide_calls = (
        args.guide_calls if args.guide_calls is not None else (200 if args.quick else 1_000)
    )
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"memory", "sqlite"}
    if unknown:
        print(f"bench_core: unknown backend(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2

    info = machine_info()
    print("suolink core benchmark")
    print(f"  machine : {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM")
    print(f"  system  : {info['os']}, load average at start {info['load_average_at_start']}")
    print(f"  python  : {info['python']}")
    print(
        f"  versions: suolink {info['suolink']} (git {info['git'] or 'unknown'}), "
        f"SQLite {info['sqlite']}"
    )
    print(
        f"  run     : sizes {', '.join(f'{s:,}' for s in sizes)}; {shorten_calls:,} shortens; "
        f"{resolve_calls:,} redirects and {guide_calls:,} guide pages per size "
        "(visits recorded)"
    )
    print(flush=True)

    rng = random.Random(args.seed)
    results: list[BackendResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="suolink-bench-") as tmp:
        for backend in backends:
            if backend == "memory":
                url, db_path = "memory://", None
            else:
                db_path = Path(tmp) / "bench.db"
                url = f"sqlite:///{db_path}"
            print(f"{backend} ({url})", flush=True)
            results.append(
                bench_backend(
                    backend,
                    url,
                    sizes=sizes,
                    shorten_calls=shorten_calls,
                    resolve_calls=resolve_calls,
                    guide_calls=guide_calls,
                    db_path=db_path,
                    rng=rng,
                    log=lambda line: print(line, flush=True),
                )
            )
            gc.collect()
    total = round(time.perf_counter() - started, 1)
    load_end = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print(f"\ntotal time {total} s; load average at end {load_end}")

    output = args.output
    if output is None:
        suffix = "-quick" if args.quick else ""
        output = RESULTS_DIR / f"core-{datetime.now(UTC).date().isoformat()}{suffix}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "core",
        "machine": info,
        "settings": {
            "sizes": list(sizes),
            "shorten_calls": shorten_calls,
            "resolve_calls_per_size": resolve_calls,
            "guide_calls_per_size": guide_calls,
            "seed": args.seed,
        },
        "results": [asdict(r) for r in results],
        "total_seconds": total,
        "load_average_at_end": load_end,
    }
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
