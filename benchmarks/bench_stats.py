"""How long ``Shortener.stats`` takes on a link with many visits (SQLite, Django), and the cost.

For each size in ``--sizes`` (default 100k and 1M visits on one link) it builds a fresh
SQLite file: the visits are written straight into ``visits``, ``user_agents``,
``visit_counts`` and ``visitor_counts`` with ``executemany`` (exactly the rows
``record_visit`` would have written; the counts come from the backend's own
``_count_cells``), so a million visits take seconds, not an hour of redirects. Then:

* **counts**: ``Shortener.stats(code)`` answered from the kept counts (whole history),
  and for the last 30 days; median and max of ``--repeat`` calls;
* **raw scan**: the same stats folded from every raw visit, as every ``stats`` call did
  before the counts were kept (``suolink.stats.aggregate`` over ``storage.visits``),
  once per size up to ``--raw-up-to`` (default 100k); the two answers must be equal;
* **bytes/visit**: the file size over the number of visits, for this schema and (up to
  ``--v4-up-to``, default 100k) for the previous one (migration 4: the full user agent
  in every visit row, no counts);
* **record_visit/s**: ``--writes`` visits recorded one by one on the big file.

``--backends sqlite,django`` (the default) measures both: ``django`` is the
``django://`` ORM backend on a SQLite database, its tables made by the app's migrations
and filled the same way (``suolink_visit``, ``suolink_user_agent``,
``suolink_visit_count``, ``suolink_visitor_count``); it has no "previous schema" figure.

Run ``python benchmarks/bench_stats.py`` (about a minute on two cores); ``--quick`` for
a smoke run. Results are printed and written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import suolink
from suolink.backends._common import to_micros
from suolink.backends.relational import PEOPLE, count_cells
from suolink.backends.sqlite import SQLiteStorage, migrate
from suolink.models import Link, Visit
from suolink.shortener import Shortener
from suolink.stats import aggregate

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECRET = "benchmark-secret"  # a salt for the visitor ids, not a credential
DAYS = 365
END = datetime(2026, 12, 1, tzinfo=UTC)
_APPS = ["wechat", "qq", "weibo", "alipay", "douyin", None, None, None]
_OS = ["ios", "android", "windows", "macos"]
_DEVICES = ["mobile", "desktop", "tablet"]
_BROWSERS = ["safari", "chrome", "wechat", "qq", "edge", "firefox"]
_BOTS = ["googlebot", "bingbot", "baiduspider", "facebookexternalhit"]


def user_agents(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct user agents of about 1 KB, the longest a visit keeps."""
    base = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    return [f"{base}MicroMessenger/8.0.{i} " + "x" * rng.randint(800, 940) for i in range(count)]


def visits(code: str, size: int, seed: int) -> Iterator[Visit]:
    """``size`` visits of ``code`` over a year: skewed visitors, apps, referers; 8% bots."""
    rng = random.Random(seed)
    agents = user_agents(rng, 300)
    people = max(10, size // 4)
    referers = [f"r{i}.example.com" for i in range(40)]
    span = DAYS * 86_400_000_000
    start = END - timedelta(days=DAYS)
    for _ in range(size):
        at = start + timedelta(microseconds=rng.randrange(span))
        bot = rng.random() < 0.08
        who = int(people * rng.random() ** 3)  # a few visitors come back often
        yield Visit(
            code=code,
            at=at,
            ip=None,
            user_agent=agents[int(len(agents) * rng.random() ** 2)],
            referer=rng.choice(referers) if rng.random() < 0.4 else None,
            app=rng.choice(_BOTS) if bot else rng.choice(_APPS),
            os=None if bot else rng.choice(_OS),
            device=None if bot else rng.choice(_DEVICES),
            is_bot=bot,
            language=rng.choice(["zh-CN", "en"]),
            visitor_id=f"{who:016x}",
            browser=None if bot else rng.choice(_BROWSERS),
            outcome="bot" if bot else rng.choice(["redirect"] * 8 + ["guide", "preview"]),
        )


def _visit_row(visit: Visit, ua_id: int | None) -> tuple[Any, ...]:
    agent: Any = visit.user_agent if ua_id is None else ua_id
    return (
        visit.code,
        visit.at.isoformat(),
        to_micros(visit.at),
        visit.ip,
        agent,
        visit.referer,
        visit.app,
        visit.os,
        visit.device,
        int(visit.is_bot),
        visit.language,
        visit.visitor_id,
        visit.browser,
        visit.outcome,
    )


_COLUMNS = "code, at, at_us, ip, {ua}, referer, app, os, device, is_bot, language, "
_COLUMNS += "visitor_id, browser, outcome"
_MARKS = ", ".join("?" * 14)


def build(path: Path, code: str, size: int, seed: int, *, schema: int | None) -> float:
    """A SQLite file with one link and ``size`` visits at ``schema``; seconds it took."""
    began = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, **({} if schema is None else {"target": schema}))
    link = Link(code=code, url="https://example.com/landing", created_at=END)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO links (code, url, created_at, created_us, anti_block_mode, deny, targets,"
        " tags, disabled, visits) VALUES (?, ?, ?, ?, 'auto', '[]', '[]', '[]', 0, ?)",
        (code, link.url, END.isoformat(), to_micros(END), size),
    )
    interned = schema is None
    ua_ids: dict[str, int] = {}
    cells: Counter[tuple[str, str, str, str]] = Counter()
    people: Counter[str] = Counter()
    batch: list[tuple[Any, ...]] = []
    insert = (
        f"INSERT INTO visits ({_COLUMNS.format(ua='ua_id' if interned else 'user_agent')})"
        f" VALUES ({_MARKS})"
    )
    for visit in visits(code, size, seed):
        ua_id = None
        if interned:
            ua_id = ua_ids.get(visit.user_agent)
            if ua_id is None:
                ua_id = ua_ids[visit.user_agent] = len(ua_ids) + 1
                conn.execute(
                    "INSERT INTO user_agents (id, text) VALUES (?, ?)", (ua_id, visit.user_agent)
                )
            counted, who = count_cells(visit)
            cells.update(counted)
            if who is not None:
                people[who] += 1
        batch.append(_visit_row(visit, ua_id))
        if len(batch) >= 20_000:
            conn.executemany(insert, batch)
            batch.clear()
    conn.executemany(insert, batch)
    if interned:
        conn.executemany(
            "INSERT INTO visit_counts (code, dimension, day, value, n) VALUES (?, ?, ?, ?, ?)",
            [(*cell, n) for cell, n in cells.items()],
        )
        conn.executemany(
            "INSERT INTO visitor_counts (code, visitor, n) VALUES (?, ?, ?)",
            [(code, who, n) for who, n in people.items()],
        )
        conn.execute(  # the distinct-people count record_visit keeps
            "INSERT INTO visit_counts (code, dimension, day, value, n) "
            "VALUES (?, 'people', '', '', ?)",
            (code, len(people)),
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - began


def timed(call: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    """The last answer of ``call`` and each call's milliseconds."""
    times: list[float] = []
    answer = None
    for _ in range(repeat):
        began = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - began) * 1000)
    return answer, times


def run_size(folder: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    code = "big"
    path = folder / f"stats-{size}.db"
    old_path = folder / f"stats-{size}-v4.db"
    setup = build(path, code, size, args.seed, schema=None)
    out: dict[str, Any] = {
        "backend": "sqlite",
        "visits": size,
        "setup_s": round(setup, 1),
        "bytes_per_visit": round(path.stat().st_size / size),
    }
    if size <= args.v4_up_to:
        build(old_path, code, size, args.seed, schema=4)
        out["bytes_per_visit_v4"] = round(old_path.stat().st_size / size)
        old_path.unlink()
    storage = SQLiteStorage(f"sqlite:///{path}")
    try:
        measure(storage, code, size, args, out)
    finally:
        storage.close()
    path.unlink()
    return out


def measure(
    storage: Any, code: str, size: int, args: argparse.Namespace, out: dict[str, Any]
) -> None:
    """Time stats (whole history, last 30 days), the raw scan and writes into ``out``."""
    shortener = Shortener(storage, secret=SECRET)
    stats, times = timed(lambda: shortener.stats(code), args.repeat)
    out["stats_ms"] = {
        "first": round(times[0], 1),
        "median": round(statistics.median(times), 1),
        "max": round(max(times), 1),
    }
    month = END - timedelta(days=30)
    month = month.replace(hour=0, minute=0, second=0, microsecond=0)
    _, times = timed(lambda: shortener.stats(code, since=month), args.repeat)
    out["stats_30_days_ms"] = {
        "median": round(statistics.median(times), 1),
        "max": round(max(times), 1),
    }
    assert stats.total == size
    if size <= args.raw_up_to:
        raw, times = timed(lambda: aggregate(code, storage.visits(code)), 1)
        out["raw_scan_ms"] = round(times[0], 1)
        assert raw == stats, "stats from counts differ from the raw scan"
    visit = next(visits(code, 1, args.seed + 1))
    began = time.perf_counter()
    for i in range(args.writes):
        storage.record_visit(replace(visit, at=END + timedelta(seconds=i)), count=False)
    out["record_visit_per_s"] = round(args.writes / (time.perf_counter() - began))


# -------------------------------------------------------------------------- django://


def _django_alias(path: Path) -> str:
    """A database alias on the SQLite file ``path``, Django set up (once) to hold it."""
    import django
    from django.conf import settings
    from django.db import connections

    if not settings.configured:
        settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["suolink.adapters.django"],
            USE_TZ=True,
            SUOLINK={"SECRET": SECRET},
        )
        django.setup()
    alias = f"bench_{path.stem.replace('-', '_')}"
    config = {  # as docs/django.md recommends for SQLite
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
    connections.configure_settings({**settings.DATABASES, alias: config})
    settings.DATABASES[alias] = config
    connections.settings[alias] = config
    return alias


def build_django(path: Path, code: str, size: int, seed: int) -> tuple[str, float]:
    """A ``django://`` SQLite database with one link and ``size`` visits: alias, seconds.

    The tables come from the app's migrations and the link from ``DjangoStorage.create``;
    visits, user agents and counts are written with ``executemany``, exactly the rows
    ``record_visit`` would have written.
    """
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    from suolink.adapters.django.storage import DjangoStorage, digest

    began = time.perf_counter()
    alias = _django_alias(path)
    executor = MigrationExecutor(connections[alias])
    executor.migrate(executor.loader.graph.leaf_nodes("suolink"))
    store = DjangoStorage(f"django://{alias}")
    store.create(Link(code=code, url="https://example.com/landing", created_at=END))
    store.close()
    connections[alias].close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("UPDATE suolink_link SET visits = ? WHERE code = ?", (size, code))
    ua_ids: dict[str, int] = {}
    cells: Counter[tuple[str, str, str, str]] = Counter()
    people: Counter[str] = Counter()
    batch: list[tuple[Any, ...]] = []
    insert = (
        "INSERT INTO suolink_visit (code, at, at_us, at_offset, ip, ua_id, referer, app, os,"
        " device, is_bot, language, visitor_id, browser, outcome)"
        f" VALUES ({', '.join('?' * 15)})"
    )
    for visit in visits(code, size, seed):
        ua_id = ua_ids.get(visit.user_agent)
        if ua_id is None:
            ua_id = ua_ids[visit.user_agent] = len(ua_ids) + 1
            conn.execute(
                "INSERT INTO suolink_user_agent (id, digest, text) VALUES (?, ?, ?)",
                (ua_id, digest(visit.user_agent), visit.user_agent),
            )
        counted, who = count_cells(visit)
        cells.update(counted)
        if who is not None:
            people[who] += 1
        row = _visit_row(visit, ua_id)
        at = visit.at.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        batch.append((row[0], at, row[2], 0, *row[3:]))
        if len(batch) >= 20_000:
            conn.executemany(insert, batch)
            batch.clear()
    conn.executemany(insert, batch)
    cells[code, PEOPLE, "", ""] = len(people)  # the distinct-people count record_visit keeps
    conn.executemany(
        "INSERT INTO suolink_visit_count (code, dimension, day, value, value_digest, n)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*cell, digest(cell[3]), n) for cell, n in cells.items()],
    )
    conn.executemany(
        "INSERT INTO suolink_visitor_count (code, visitor, visitor_digest, n) VALUES (?, ?, ?, ?)",
        [(code, who, digest(who), n) for who, n in people.items()],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return alias, time.perf_counter() - began


def run_size_django(folder: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    from suolink.adapters.django.storage import DjangoStorage

    code = "big"
    path = folder / f"django-{size}.db"
    alias, setup = build_django(path, code, size, args.seed)
    out: dict[str, Any] = {
        "backend": "django (SQLite)",
        "visits": size,
        "setup_s": round(setup, 1),
        "bytes_per_visit": round(path.stat().st_size / size),
    }
    storage = DjangoStorage(f"django://{alias}")
    try:
        measure(storage, code, size, args, out)
    finally:
        storage.close()
    path.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--raw-up-to", type=int, default=100_000)
    parser.add_argument("--v4-up-to", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--backends", default="sqlite,django", help="sqlite, django or both")
    parser.add_argument("--quick", action="store_true", help="sizes 1k and 10k")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    sizes = [1000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    meta = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "suolink": suolink.__version__,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(meta))
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            run = {"sqlite": run_size, "django": run_size_django}[backend.strip()]
            for size in sizes:
                result = run(Path(folder), size, args)
                print(json.dumps(result), flush=True)
                results.append(result)
    day = datetime.now(UTC).date().isoformat()
    output = args.output or RESULTS_DIR / f"stats-{day}{'-quick' if args.quick else ''}.json"
    output.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
