"""The web apps without a server: CPU per redirect of suolink's ASGI and Flask apps beside
the bare apps of ``bench_http.py``, called in this process.

``bench_http.py`` measures whole servers under wrk, which on a shared machine mostly
measures the machine. This calls each app directly (an ASGI scope, a WSGI environ: no
sockets, no HTTP parsing) with the same request ``wrk`` sends, 32 at a time on one event
loop (ASGI) or from 16 threads (Flask, as gunicorn's ``gthread`` workers run it), and
reports CPU time per request of the whole process (its writer threads included), which
moves far less with the load than requests per second. Every answer is checked to be a
302, and for suolink the stored visits to match the answers.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_apps.py
    PYTHONPATH=src .venv/bin/python benchmarks/bench_apps.py --apps starlette-dict,asgi-sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_http  # noqa: E402
from bench_core import RESULTS_DIR, machine_info  # noqa: E402
from bench_http import CODE, SECRET, TARGET  # noqa: E402

if TYPE_CHECKING:
    from suolink import Shortener

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
BASE = "http://127.0.0.1:8000"
APPS = (
    "starlette-dict",
    "asgi-memory",
    "asgi-sqlite",
    "asgi-redis",
    "flask-sqlite",
    "flask-memory",
    "suolink-flask-sqlite",
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- ASGI ------------------------------------------------------------------------------------


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/{CODE}",
        "raw_path": f"/{CODE}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", UA.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _asgi_round(app: Any, count: int, statuses: list[int]) -> None:
    async def one() -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(_scope(), receive, send)
        statuses.append(sent[0]["status"])

    await asyncio.gather(*(one() for _ in range(count)))


async def _asgi(app: Any, calls: int, lifespan: bool) -> tuple[float, float, int]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = None
    if lifespan:
        task = asyncio.ensure_future(
            app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put
            )
        )
        await inbox.put({"type": "lifespan.startup"})
        await outbox.get()
    statuses: list[int] = []
    for _ in range(10):
        await _asgi_round(app, 32, statuses)  # warm: detection, plans, caches
    statuses.clear()
    started, cpu = time.perf_counter(), _cpu()
    for _ in range(calls // 32):
        await _asgi_round(app, 32, statuses)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    if task is not None:
        await inbox.put({"type": "lifespan.shutdown"})
        await task
    if set(statuses) != {302}:
        raise SystemExit(f"expected only 302, got {sorted(set(statuses))}")
    return elapsed, cpu, len(statuses)


# -- WSGI ------------------------------------------------------------------------------------


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": f"/{CODE}",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": UA,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _wsgi(app: Callable[..., Any], calls: int, threads: int) -> tuple[float, float, int]:
    statuses: list[str] = []

    def worker(count: int) -> None:
        for _ in range(count):
            seen: list[str] = []

            def start(status: str, headers: Any, exc: Any = None, seen: list[str] = seen) -> None:
                seen.append(status)

            body = app(_environ(), start)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
            statuses.append(seen[0][:3])

    def run(count: int) -> None:
        pool = [threading.Thread(target=worker, args=(count,)) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    run(20)  # warm
    statuses.clear()
    started, cpu = time.perf_counter(), _cpu()
    run(calls // threads)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    if set(statuses) != {"302"}:
        raise SystemExit(f"expected only 302, got {sorted(set(statuses))}")
    return elapsed, cpu, len(statuses)


# -- one app ---------------------------------------------------------------------------------


def _seeded(
    create_app: Callable[..., Any], get_shortener: Callable[[Any], Shortener], storage: str
) -> tuple[Any, Shortener]:
    """An app on ``storage`` with the benchmark's link in it (made before the app opens a
    shared store, or through the app's own Shortener for ``memory://``)."""
    from suolink import Shortener

    if storage != "memory://":
        with Shortener(storage, secret=SECRET) as shortener:
            shortener.shorten(TARGET, code=CODE)
    app = create_app(storage, secret=SECRET, base_url=BASE)
    stored = get_shortener(app)
    if storage == "memory://":
        stored.shorten(TARGET, code=CODE)
    return app, stored


def _count_batches() -> list[int]:
    """The sizes of the visit batches the store writes from now on (every writer of
    ``GroupCommit`` wrapped): whether concurrent redirects share commits."""
    from suolink.backends import batching

    sizes: list[int] = []
    group: Any = batching.GroupCommit
    for writer in ("_write_slots", "_write_deferred", "_write_background"):
        plain = getattr(group, writer)

        def counted(self: Any, batch: Any, *rest: Any, plain: Any = plain) -> Any:
            sizes.append(len(batch))
            return plain(self, batch, *rest)

        setattr(group, writer, counted)
    return sizes


def measure(name: str, calls: int, folder: Path) -> dict[str, Any]:
    """Requests/s (wall) and CPU µs per request of one app, in a fresh store."""
    from suolink import Shortener

    storage = "memory://" if name.endswith("memory") else f"sqlite:///{folder / name}.db"
    if name.endswith("redis"):  # the server main() started, emptied for this measure
        import redis

        storage = os.environ["BENCH_REDIS_URL"]
        redis.Redis.from_url(storage).flushdb()
    stored: Shortener | None = None
    batches = _count_batches()
    if name == "starlette-dict":
        elapsed, cpu, made = asyncio.run(_asgi(bench_http.bare_starlette(), calls, False))
    elif name == "flask-sqlite":
        path = folder / "bare.db"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE IF NOT EXISTS links (code TEXT PRIMARY KEY, url TEXT)")
        db.execute("INSERT OR REPLACE INTO links VALUES (?, ?)", (CODE, TARGET))
        db.commit()
        db.close()
        os.environ["BENCH_SQLITE"] = str(path)
        elapsed, cpu, made = _wsgi(bench_http.bare_flask(), calls, 16)
    elif name.startswith("asgi-"):
        from suolink.adapters.asgi import create_app, get_shortener

        app, stored = _seeded(create_app, get_shortener, storage)
        elapsed, cpu, made = asyncio.run(_asgi(app, calls, storage != "memory://"))
    else:
        from suolink.adapters.flask import create_app as flask_app
        from suolink.adapters.flask import get_shortener as flask_shortener

        app, stored = _seeded(flask_app, flask_shortener, storage)
        elapsed, cpu, made = _wsgi(app, calls, 16)
    visits = None
    warm = 320  # both loops answer 320 redirects before the timing starts
    if stored is not None:
        if storage == "memory://":
            visits = stored.get(CODE).visits
        else:
            stored.close()  # pending visits written
            with Shortener(storage, secret=SECRET) as shortener:
                visits = shortener.get(CODE).visits
        if visits != made + warm:
            raise SystemExit(f"{name}: {visits} visits stored for {made + warm} redirects")
    done = made
    return {
        "per_second_wall": round(done / elapsed),
        "cpu_us_per_request": round(cpu / done * 1e6, 1),
        "visits_stored_for_answered": None if visits is None else [visits, made + warm],
        # the store's commits of visits (warm-up included): batches formed, or not
        "commits": len(batches),
        "visits_per_commit": round(sum(batches) / len(batches), 1) if batches else None,
        "lone_commits": batches.count(1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated: " + ",".join(APPS))
    parser.add_argument("--calls", type=int, default=16_000, help="requests per app and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the apps take turns")
    parser.add_argument("--output", type=Path, help="JSON file (default: results/apps-…)")
    args = parser.parse_args(argv)
    names = [n for n in args.apps.split(",") if n]
    unknown = sorted(set(names) - set(APPS))
    if unknown:
        parser.error(f"unknown apps: {', '.join(unknown)}")
    info = machine_info()
    print(f"{info['date']}  {info['cpu']} ×{info['cores']}  {info['python']}  git {info['git']}")
    print(f"load average at start: {info['load_average_at_start']}")
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as folder, _redis(names, Path(folder)):
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                # a fresh process per measure: no app's caches or threads help another
                runs[name].append(_in_child(name, args.calls, Path(folder) / f"r{round_}"))
    summary = {}
    for name, results in runs.items():
        best = min(results, key=lambda r: r["cpu_us_per_request"])
        summary[name] = best
        print(
            f"{name:22s} {best['cpu_us_per_request']:8.1f} µs CPU per request (best of "
            f"{len(results)}: {', '.join(str(r['cpu_us_per_request']) for r in results)}), "
            f"{best['per_second_wall']:,}/s wall"
            + (
                f", visits {best['visits_stored_for_answered'][0]:,} stored / "
                f"{best['visits_stored_for_answered'][1]:,} answered"
                if best["visits_stored_for_answered"]
                else ""
            )
            + (
                f", {best['commits']:,} commits of {best['visits_per_commit']} visits "
                f"({best['lone_commits']:,} of one)"
                if best.get("commits")
                else ""
            )
        )
    ratios = {}
    for label, mine, bare in (
        ("suolink ASGI on SQLite / bare Starlette+dict", "asgi-sqlite", "starlette-dict"),
        ("suolink ASGI on Redis / bare Starlette+dict", "asgi-redis", "starlette-dict"),
        ("suolink ASGI on memory / bare Starlette+dict", "asgi-memory", "starlette-dict"),
        ("suolink Flask on SQLite / bare Flask+SQLite", "suolink-flask-sqlite", "flask-sqlite"),
        ("suolink Flask on memory / bare Flask+SQLite", "flask-memory", "flask-sqlite"),
    ):
        if mine in summary and bare in summary:
            ratio = summary[bare]["cpu_us_per_request"] / summary[mine]["cpu_us_per_request"]
            ratios[label] = round(ratio, 2)
            print(f"{label}: {ratio:.2f}x (by CPU per request: bare / suolink)")
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at end: {load}")
    output = args.output or RESULTS_DIR / f"apps-{info['date'][:10]}-{info['git']}.json"
    output.write_text(
        json.dumps(
            {"machine": info, "runs": runs, "best": summary, "ratios": ratios,
             "load_average_at_end": load},
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    print(f"wrote {output}")
    return 0


@contextlib.contextmanager
def _redis(names: list[str], folder: Path) -> Iterator[None]:
    """A Redis server for ``asgi-redis`` (its URL in ``BENCH_REDIS_URL`` for the children);
    its CPU is not the app's, as in ``bench_http.py``."""
    if "asgi-redis" not in names:
        yield
        return
    with bench_http.redis_server(folder) as url:
        if url is None:
            raise SystemExit("asgi-redis needs valkey-server or redis-server")
        os.environ["BENCH_REDIS_URL"] = url
        yield


def _in_child(name: str, calls: int, folder: Path) -> dict[str, Any]:
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import bench_apps; "
        f"print(json.dumps(bench_apps.measure({name!r}, {calls}, "
        f"__import__('pathlib').Path({str(folder)!r}))))"
    )
    env = {**os.environ, "SUOLINK_SECRET": SECRET}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    raise SystemExit(main())
