"""Speed of suolink.detect: first sight of a user agent and a cache hit, per resolver.

Run: ``.venv/bin/python benchmarks/bench_detect.py``. Prints the machine, the versions
and the median time per call over the labelled corpus (tests/detect/ua_corpus.csv),
plus how many of the corpus apps ua-parser alone would name.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

from suolink.detect import Detector, available_resolvers

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "detect" / "ua_corpus.csv"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _load() -> list[tuple[str, dict[str, str] | None]]:
    rows = list(csv.DictReader(CORPUS.open(encoding="utf-8")))
    return [(r["user_agent"], json.loads(r["headers"]) if r["headers"] else None) for r in rows]


def _median_ns(fn, items, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples: list[float] = []
    for _ in range(repeat):
        for ua, headers in items:
            t0 = time.perf_counter_ns()
            fn(ua, headers)
            samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def main() -> None:
    items = _load()
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")
    print(f"python {sys.version.split()[0]} on {platform.platform()}")
    print(
        f"ua-parser {_version('ua-parser')}, ua-parser-rs {_version('ua-parser-rs')}, "
        f"ua-parser-builtins {_version('ua-parser-builtins')}"
    )
    print(f"corpus: {len(items)} user agents\n")
    print(f"{'resolver':8} {'first sight (median)':>22} {'cache hit (median)':>20}")
    for name in available_resolvers():
        cold = Detector(resolver=name, cache_size=0)  # type: ignore[arg-type]
        cold.parser.warm()
        cold.detect(items[0][0])
        first = _median_ns(cold.detect, items, repeat=3)
        hot = Detector(resolver=name)  # type: ignore[arg-type]
        for ua, headers in items:
            hot.detect(ua, headers)
        hit = _median_ns(hot.detect, items, repeat=20)
        print(f"{name:8} {first / 1000:>19.1f} µs {hit / 1000:>17.2f} µs")

    # How much of the app column ua-parser alone would get (its family naming the app).
    rows = list(csv.DictReader(CORPUS.open(encoding="utf-8")))
    if "rust" in available_resolvers() or "python" in available_resolvers():
        parser = Detector(cache_size=0).parser
        named = total = 0
        for r in rows:
            if r["app"]:
                total += 1
                parsed = parser.parse(r["user_agent"])
                fam = (parsed.browser or "").lower() if parsed else ""
                key = r["app"].replace("qqbrowser", "qq browser").replace("uc", "uc browser")
                named += bool(fam) and (key in fam or fam.split()[0] in key)
        print(f"\nua-parser alone names the app in {named}/{total} labelled in-app rows")


if __name__ == "__main__":
    main()
