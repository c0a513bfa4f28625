"""Speed and bot accuracy of suolink.detect, per resolver.

Run: ``.venv/bin/python benchmarks/bench_detect.py [--bot-list FILE] [--fixtures DIR]``.
Prints the machine, the versions and the median time per call over the labelled corpus
(tests/detect/ua_corpus.csv), how many of the corpus apps ua-parser alone would name,
and then the bot figures:

* ``--bot-list``: the JSON of crawler-user-agents (default: the one inside the
  ``crawler-user-agents`` package of the dev extra): the share of its example user
  agents called bots, and the misses.
* ``--fixtures``: a checkout's ``Tests/fixtures`` of matomo-org/device-detector (not
  shipped; fetch it yourself): how many of its *browser* user agents are called bots
  (should be 0), and the share of its ``bots.yml`` caught.
"""

from __future__ import annotations

import argparse
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


def _bot_list(path: str | None) -> list[str]:
    if path is None:
        try:
            import crawleruseragents  # the dev extra's copy of crawler-user-agents
        except ImportError:
            return []
        data = crawleruseragents.CRAWLER_USER_AGENTS_DATA
    else:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ua for entry in data for ua in entry.get("instances", [])]


def _bot_figures(bot_list: str | None, fixtures: str | None) -> None:
    detector = Detector(cache_size=0)
    examples = _bot_list(bot_list)
    if examples:
        missed = [ua for ua in examples if not detector.detect(ua).is_bot]
        caught = len(examples) - len(missed)
        print(
            f"\ncrawler-user-agents: {caught}/{len(examples)} example UAs called bots "
            f"({caught / len(examples):.2%}); missed:"
        )
        for ua in missed:
            print(f"  {ua[:150]}")
    if fixtures is None:
        return
    import yaml  # PyYAML, installed with mkdocs in the dev extra

    base = Path(fixtures)
    browsers = called = 0
    wrong: list[str] = []
    for path in sorted(base.glob("*.yml")):
        if path.name == "bots.yml":
            continue
        for row in yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or []:
            client = row.get("client") or {}
            ua = row.get("user_agent") or ""
            if client.get("type") != "browser" or not ua.strip():
                continue  # browsers only; an empty UA is a bot by design
            browsers += 1
            c = detector.detect(ua, row.get("headers"))
            if c.is_bot:
                called += 1
                wrong.append(f"  {path.name}: {c.bot_name}: {ua[:150]}")
    print(f"\ndevice-detector browser fixtures: {called}/{browsers} called bots")
    print("\n".join(wrong))
    bots_file = base / "bots.yml"
    if bots_file.exists():
        rows = yaml.load(bots_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        uas = [row["user_agent"] for row in rows]
        hit = sum(detector.detect(ua).is_bot for ua in uas)
        print(f"device-detector bots.yml: {hit}/{len(uas)} called bots ({hit / len(uas):.2%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot-list", help="crawler-user-agents.json (default: the package's)")
    parser.add_argument("--fixtures", help="device-detector's Tests/fixtures directory")
    args = parser.parse_args()
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
    _bot_figures(args.bot_list, args.fixtures)


if __name__ == "__main__":
    main()
