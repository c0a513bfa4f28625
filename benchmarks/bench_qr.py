"""Benchmark suolink.qr: median encode times (PNG, SVG, logo, cached) and decode rates/times.

Decode figures come from the labelled corpus in ``tests/qr/qr_corpus.py``, per family and
per engine configuration. Run from the repository root::

    .venv/bin/python benchmarks/bench_qr.py [--per-family 28] [--repeat 50]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "qr"))

import qr_corpus  # noqa: E402

from suolink.qr import QRCache, available_engines, decode, encode  # noqa: E402

URL = "https://suo.run/Ab3dE9"


def _median_ms(func: Callable[[], object], repeat: int) -> float:
    func()  # warm up imports and caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _versions() -> str:
    parts = [f"Python {platform.python_version()}", platform.machine(), f"{os.cpu_count()} CPUs"]
    for dist in ("qrcode", "pillow", "zxing-cpp", "pyzbar"):
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist} absent")
    parts.append("engines: " + ", ".join(e.name for e in available_engines()))
    return "; ".join(parts)


def bench_encode(repeat: int) -> None:
    logo = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((0, 0, 95, 95), fill=(220, 40, 40, 255))
    cache = QRCache()
    cache.encode(URL, size=300)
    png = encode(URL, size=300)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("encode PNG (short link, size=300)", lambda: encode(URL, size=300)),
        ("encode SVG (short link, size=300)", lambda: encode(URL, size=300, format="svg")),
        ("encode PNG with logo (checked by decoding)", lambda: encode(URL, size=300, logo=logo)),
        ("encode PNG, 500 CJK characters", lambda: encode("中" * 500)),
        ("QRCache.encode hit", lambda: cache.encode(URL, size=300)),
        ("decode clean PNG bytes (size=300)", lambda: decode(png)),
    ]
    print("| operation | median ms |\n|---|---:|")
    for name, func in cases:
        runs = max(5, repeat // 10) if "500" in name else repeat
        print(f"| {name} | {_median_ms(func, runs):.2f} |")


def bench_decode(samples: list[qr_corpus.Sample]) -> None:
    configs: list[tuple[str, dict[str, object]]] = [("default chain", {})]
    for engine in available_engines():
        configs.append((f"{engine.name}, one pass", {"engines": engine.name, "retry": False}))
        configs.append((f"{engine.name} + retries", {"engines": engine.name}))
    families = list(qr_corpus.FAMILIES)
    header = "| configuration | overall | median ms | " + " | ".join(families) + " |"
    print(header)
    print("|---" * (len(families) + 3) + "|")
    for label, options in configs:
        hits: dict[str, list[bool]] = defaultdict(list)
        times = []
        wrong = 0
        for sample in samples:
            data = sample.path.read_bytes()
            start = time.perf_counter()
            got = decode(data, **options)  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
            hits[sample.family].append(got == sample.expected)
            wrong += bool(got) and bool(set(got) - set(sample.expected))
        total = sum(sum(v) for v in hits.values())
        cells = " | ".join(f"{sum(hits[f])}/{len(hits[f])}" for f in families)
        print(
            f"| {label} | {total}/{len(samples)} ({total / len(samples):.1%})"
            f"{f', {wrong} wrong' if wrong else ''} | {statistics.median(times) * 1000:.2f} | "
            f"{cells} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print(_versions(), "\n")
    bench_encode(args.repeat)
    print()
    with tempfile.TemporaryDirectory() as tmp:
        samples = qr_corpus.generate(Path(tmp), per_family=args.per_family)
        print(f"corpus: {len(samples)} images in {len(qr_corpus.FAMILIES)} families\n")
        bench_decode(samples)


if __name__ == "__main__":
    main()
