"""How long ``suolink import`` takes for 100,000 links on SQLite, in every format it reads.

Writes ``--links`` links in each format (suolink's archive as JSON and CSV, every tenth
link with three visits; Shlink's API JSON and its web client's CSV; YOURLS' export CSV
and API JSON; Kutt's API JSON), then times, for each file, the command a user runs::

    python -m suolink import FILE --storage sqlite:///fresh.db --json

in a child process on a fresh SQLite file: wall time, the child's CPU time, and the load
average before and after (others may share the machine: the CPU time is the figure
least moved by them). For suolink's own formats the store is then exported again
(``suolink export``), which must give the same bytes.

Run ``PYTHONPATH=src .venv/bin/python benchmarks/bench_import.py`` (a few minutes);
``--links 10000`` or ``--formats suolink-json`` for a quick run. Results are printed and
written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import machine_info

from suolink.exports import archive_csv, archive_json
from suolink.models import Link, Visit

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SRC = Path(__file__).resolve().parent.parent / "src"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FORMATS = (
    "suolink-json",
    "suolink-csv",
    "shlink-json",
    "shlink-csv",
    "yourls-csv",
    "yourls-json",
    "kutt-json",
)


def links(count: int, visits_every: int) -> Iterator[tuple[Link, list[Visit]]]:
    """``count`` links, newest first as an export lists them, a few with visits."""
    for i in reversed(range(count)):
        counted = 3 if visits_every and i % visits_every == 0 else 0
        link = Link(
            code=f"b{i:06d}",
            visits=counted,
            url=f"https://example.com/articles/{i}?utm_source=bench",
            created_at=T0 + timedelta(seconds=i),
            title=f"Article {i}" if i % 2 else None,
            tags=("bench", f"t{i % 10}"),
            max_visits=1000 if i % 7 == 0 else None,
        )
        visits = [
            Visit(
                code=link.code,
                at=link.created_at + timedelta(minutes=m),
                os="ios",
                country="CN" if m % 2 else "US",
                visitor_id=f"v{m}",
            )
            for m in range(counted)
        ]
        yield link, visits


def _foreign(count: int) -> Iterator[tuple[int, str, str, str, list[str]]]:
    """(i, code, URL, created ISO time, tags) of another shortener's ``count`` links."""
    for i in range(count):
        at = (T0 + timedelta(seconds=i)).isoformat()
        yield i, f"f{i:06d}", f"https://example.com/p/{i}?ref=bench", at, ["bench", f"t{i % 10}"]


def _csv_text(header: list[str] | None, rows: Iterator[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_file(fmt: str, path: Path, count: int, visits_every: int) -> None:
    """``count`` links in ``fmt``, the way that program writes them."""
    writers: dict[str, Callable[[], bytes | str]] = {
        "suolink-json": lambda: b"".join(archive_json(links(count, visits_every))),
        "suolink-csv": lambda: b"".join(archive_csv(links(count, visits_every))),
        "shlink-json": lambda: json.dumps(
            {
                "shortUrls": {
                    "data": [
                        {
                            "shortCode": code,
                            "shortUrl": f"https://s.test/{code}",
                            "longUrl": url,
                            "deviceLongUrls": {"android": None, "ios": None, "desktop": None},
                            "dateCreated": at,
                            "visitsSummary": {"total": i % 50, "nonBots": i % 50, "bots": 0},
                            "tags": tags,
                            "meta": {"validSince": None, "validUntil": None, "maxVisits": None},
                            "domain": None,
                            "title": f"Page {i}",
                            "crawlable": False,
                            "forwardQuery": True,
                        }
                        for i, code, url, at, tags in _foreign(count)
                    ],
                    "pagination": {"currentPage": 1, "pagesCount": 1, "totalItems": count},
                }
            }
        ),
        "shlink-csv": lambda: _csv_text(
            ["createdAt", "domain", "shortCode", "shortUrl", "longUrl", "title", "tags", "visits"],
            (
                [at, "s.test", code, f"https://s.test/{code}", url, f"Page {i}", "|".join(tags), 0]
                for i, code, url, at, tags in _foreign(count)
            ),
        ),
        "yourls-csv": lambda: _csv_text(
            None,
            (
                [code, url, f"Page {i}", at[:19].replace("T", " "), "127.0.0.1", i % 9]
                for i, code, url, at, _ in _foreign(count)
            ),
        ),
        "yourls-json": lambda: json.dumps(
            {
                "links": {
                    f"link_{i + 1}": {
                        "shorturl": f"https://sho.rt/{code}",
                        "url": url,
                        "title": f"Page {i}",
                        "timestamp": at[:19].replace("T", " "),
                        "ip": "127.0.0.1",
                        "clicks": str(i % 9),
                    }
                    for i, code, url, at, _ in _foreign(count)
                },
                "stats": {"total_links": str(count), "total_clicks": "0"},
            }
        ),
        "kutt-json": lambda: json.dumps(
            {
                "limit": count,
                "skip": 0,
                "total": count,
                "data": [
                    {
                        "id": f"00000000-0000-4000-8000-{i:012d}",
                        "address": code,
                        "banned": False,
                        "created_at": at.replace("+00:00", ".000Z"),
                        "updated_at": at.replace("+00:00", ".000Z"),
                        "link": f"https://kutt.it/{code}",
                        "password": False,
                        "target": url,
                        "description": f"Page {i}",
                        "expire_in": None,
                        "visit_count": 0,
                    }
                    for i, code, url, at, _ in _foreign(count)
                ],
            }
        ),
    }
    data = writers[fmt]()
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def run_cli(args: list[str], src: Path = SRC) -> dict[str, Any]:
    """``python -m suolink ARGS`` in a child: its wall and CPU seconds, output, load."""
    env = {**os.environ, "PYTHONPATH": str(src), "SUOLINK_SECRET": "bench"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "suolink", *args], capture_output=True, env=env, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "status": done.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "stdout": done.stdout,
        "stderr": done.stderr.decode(errors="replace")[-500:],
    }


def bench_format(
    fmt: str, folder: Path, count: int, visits_every: int, src: Path = SRC
) -> dict[str, Any]:
    suffix = ".csv" if fmt.endswith("csv") else ".json"
    source = folder / f"{fmt}{suffix}"
    write_file(fmt, source, count, visits_every)
    store = f"sqlite:///{folder / f'{fmt}.db'}"
    run = run_cli(["import", str(source), "--storage", store, "--json"], src)
    summary = json.loads(run.pop("stdout") or b"{}")
    result: dict[str, Any] = {
        "file_mb": round(source.stat().st_size / 1e6, 1),
        **summary,
        **run,
        "links_per_s": round(count / run["wall_s"]) if run["wall_s"] else None,
    }
    if fmt.startswith("suolink-"):
        again = folder / f"again{suffix}"
        exported = run_cli(
            ["export", "--storage", store, "--format", suffix[1:], "-o", str(again)], src
        )
        result["export_wall_s"] = exported["wall_s"]
        result["export_cpu_s"] = exported["cpu_s"]
        result["round_trip_exact"] = again.read_bytes() == source.read_bytes()
        again.unlink()
    source.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--visits-every", type=int, default=10)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument(
        "--src", type=Path, default=SRC, help="the suolink sources to time (another checkout's)"
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    info = machine_info()
    print(json.dumps(info, indent=2))
    results: dict[str, Any] = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in formats:
            result = bench_format(fmt, Path(tmp), args.links, args.visits_every, args.src)
            results[fmt] = result
            ok = ok and result["status"] == 0 and result.get("created") == args.links
            ok = ok and result.get("round_trip_exact", True)
            print(fmt, json.dumps(result), flush=True)
    output_data = {
        "machine": info,
        "src": str(args.src),
        "links": args.links,
        "visits_every": args.visits_every,
        "formats": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    output = args.output or RESULTS_DIR / f"import-{day}.json"
    output.write_text(json.dumps(output_data, indent=2) + "\n")
    print(f"written to {output}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
