"""Benchmark suolink.qr: median encode times (PNG, SVG, logo, cached) and decode rates/times.

Decode figures come from the labelled corpus in ``tests/qr/qr_corpus.py``, per family and
per engine configuration, and, when given, from folders of real photographs with a
``.txt`` truth beside each image (zxing-cpp's ``test/samples/qrcode-*``, zxing's
``core/src/test/resources/blackbox/qrcode-*``; never committed here). Run from the
repository root::

    .venv/bin/python benchmarks/bench_qr.py [--per-family 28] [--repeat 50]
        [--photos DIR ...]          # or SUOLINK_QR_PHOTOS=DIR1:DIR2

A read is *wrong* when it returns text and the truth is not among it: the figure that
must stay 0, since a shortener would shorten the wrong link.
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

from suolink.errors import SuolinkError  # noqa: E402
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
            bad = bool(got) and bool(set(got) - set(sample.expected))
            wrong += bad
            if bad:
                print(f"  wrong: {sample.path.name}: {got!r} != {sample.expected!r}")
        total = sum(sum(v) for v in hits.values())
        cells = " | ".join(f"{sum(hits[f])}/{len(hits[f])}" for f in families)
        print(
            f"| {label} | {total}/{len(samples)} ({total / len(samples):.1%})"
            f"{f', {wrong} wrong' if wrong else ''} | {statistics.median(times) * 1000:.2f} | "
            f"{cells} |"
        )


_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def photo_samples(folders: list[Path]) -> list[tuple[str, Path, str]]:
    """(folder name, image, truth) for every image in ``folders`` with a ``.txt`` beside it."""
    found = []
    for folder in folders:
        for image in sorted(folder.rglob("*")):
            truth = image.with_suffix(".txt")
            if image.suffix.lower() in _PHOTO_SUFFIXES and truth.exists():
                text = truth.read_bytes().decode("utf-8", "replace")
                found.append((image.parent.name, image, text))
    return found


def bench_photos(samples: list[tuple[str, Path, str]]) -> None:
    """Exact / wrong / missed reads of real photographs, per engine configuration."""
    configs: list[tuple[str, dict[str, object]]] = [("default chain", {})]
    for engine in available_engines():
        configs.append((f"{engine.name}, one pass", {"engines": engine.name, "retry": False}))
    folders = sorted({name for name, _, _ in samples})
    print(
        "| configuration | exact | wrong | missed | refused | median ms | "
        + " | ".join(folders)
        + " |"
    )
    print("|---" * (len(folders) + 6) + "|")
    for label, options in configs:
        exact: dict[str, list[bool]] = defaultdict(list)
        wrong: list[str] = []
        missed = refused = 0
        times = []
        for folder, image, truth in samples:
            start = time.perf_counter()
            try:
                got = decode(image.read_bytes(), **options)  # type: ignore[arg-type]
            except SuolinkError:
                got = None
            times.append(time.perf_counter() - start)
            exact[folder].append(got is not None and truth in got)
            if got is None:
                refused += 1
            elif not got:
                missed += 1
            elif truth not in got:
                wrong.append(f"{folder}/{image.name}: {got!r}")
        total = sum(sum(v) for v in exact.values())
        cells = " | ".join(f"{sum(exact[f])}/{len(exact[f])}" for f in folders)
        print(
            f"| {label} | {total}/{len(samples)} ({total / len(samples):.1%}) | {len(wrong)} "
            f"| {missed} | {refused} | {statistics.median(times) * 1000:.2f} | {cells} |"
        )
        for line in wrong:
            print(f"  wrong: {line[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--photos", type=Path, nargs="*", default=None)
    parser.add_argument("--skip-encode", action="store_true")
    args = parser.parse_args()
    folders = args.photos
    if folders is None:
        env = os.environ.get("SUOLINK_QR_PHOTOS", "")
        folders = [Path(p) for p in env.split(os.pathsep) if p]
    print(_versions(), "\n")
    if not args.skip_encode:
        bench_encode(args.repeat)
        print()
    present = [f for f in folders if f.is_dir()]
    for missing in set(folders) - set(present):
        print(f"photo folder {missing} is absent: skipped")
    if present:
        photos = photo_samples(present)
        print(f"photos: {len(photos)} real photographs with truths in {len(present)} folder(s)\n")
        bench_photos(photos)
        print()
    with tempfile.TemporaryDirectory() as tmp:
        samples = qr_corpus.generate(Path(tmp), per_family=args.per_family)
        print(f"corpus: {len(samples)} images in {len(qr_corpus.FAMILIES)} families\n")
        bench_decode(samples)


if __name__ == "__main__":
    main()
