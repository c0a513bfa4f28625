"""How long ``suolink import`` takes for 100,000 links on SQLite, and its export.

Builds a suolink archive of ``--links`` links (JSON, the format ``suolink export`` writes;
links of varied settings, ``--visits-every``-th link with three visits), then times, on a
fresh SQLite file: reading the file into records, ``import_records`` (each link checked
and created in its own transaction, its visits replayed), and exporting the store again
(which must give the same bytes: the round trip is exact).

Run ``PYTHONPATH=src .venv/bin/python benchmarks/bench_import.py`` (about a minute);
``--links 10000`` for a quick run. Results are printed and written as JSON to
``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import machine_info

from suolink import Shortener
from suolink.exports import archive_json
from suolink.imports import import_records, read_file
from suolink.models import Link, Visit

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


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
            Visit(code=link.code, at=link.created_at + timedelta(minutes=m), os="ios")
            for m in range(counted)
        ]
        yield link, visits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--visits-every", type=int, default=10)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    info = machine_info()
    print(json.dumps(info, indent=2))
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "links.json"
        with archive.open("wb") as file:
            for chunk in archive_json(
                (link, visits) for link, visits in links(args.links, args.visits_every)
            ):
                file.write(chunk)
        size_mb = archive.stat().st_size / 1e6
        print(f"archive: {args.links} links, {size_mb:.1f} MB")

        started = time.perf_counter()
        records = list(read_file(archive))
        read_s = time.perf_counter() - started

        shortener = Shortener(f"sqlite:///{tmp}/import.db", secret="bench")
        started = time.perf_counter()
        report = import_records(shortener, records)
        import_s = time.perf_counter() - started
        assert not report.skipped, report.skipped[:3]
        assert report.created == args.links

        again = Path(tmp) / "again.json"
        started = time.perf_counter()
        with again.open("wb") as file:
            items = ((link, shortener.visits(link.code)) for link in shortener.iter_links())
            for chunk in archive_json(items):
                file.write(chunk)
        export_s = time.perf_counter() - started
        exact = again.read_bytes() == archive.read_bytes()
        shortener.close()

    result = {
        "machine": info,
        "links": args.links,
        "visits": report.visits,
        "archive_mb": round(size_mb, 1),
        "read_s": round(read_s, 2),
        "import_s": round(import_s, 2),
        "links_per_s": round(args.links / import_s),
        "export_s": round(export_s, 2),
        "round_trip_exact": exact,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    RESULTS_DIR.mkdir(exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    output = args.output or RESULTS_DIR / f"import-{day}.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {output}")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
