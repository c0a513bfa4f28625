"""Benchmark ``suolink.qr.decode`` on hostile uploads: wall time and peak RSS per image.

Each image of ``tests/qr/hostile_images.py`` is decoded in a fresh Python process, so
its peak resident memory (``ru_maxrss`` of that child, read with ``os.wait4``) is its
own; beside them run an "imports only" child (the fixed cost of Python, Pillow and the
engines) and a benign 1000x1000 photo-like JPEG as the baseline. Run from the repository
root::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_hostile_images.py [--only NAME ...]
        [--limit-mb 0] [--output benchmarks/results/hostile-<date>.json]

``--limit-mb`` runs each child under ``RLIMIT_AS`` of that many megabytes (0: none).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "qr"))

import hostile_images  # noqa: E402

#: The child: optional address-space limit, imports, then one timed decode; prints JSON.
CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from suolink.errors import SuolinkError
from suolink.qr import decode
import suolink.qr.engines as engines
engines.available_engines()
path = sys.argv[1]
out = {}
start = time.perf_counter()
cpu = time.process_time()
if path != "-":
    try:
        out["result"] = decode(path)
    except SuolinkError as exc:
        out["error"] = type(exc).__name__
        out["reason"] = exc.reason
        out["status"] = exc.http_status
    except MemoryError:
        out["error"] = "MemoryError"
out["seconds"] = time.perf_counter() - start
out["cpu"] = time.process_time() - cpu
print(json.dumps(out))
"""


def run_child(path: str, limit_bytes: int = 0) -> dict[str, object]:
    """Decode ``path`` ("-" for imports only) in a fresh interpreter; its answer and peak RSS."""
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(limit_bytes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        answer: dict[str, object] = json.loads(stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = {"error": f"child died (exit {proc.returncode})", "stderr": stderr.decode()[-300:]}
    answer["peak_rss_mb"] = usage.ru_maxrss / 1024
    answer["exit"] = proc.returncode
    return answer


def generate_elsewhere(folder: Path, names: list[str]) -> dict[str, Path]:
    """Build the images in another process: a child's peak RSS counts its parent's at fork."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import hostile_images as h; "
        "cases = tuple(c for c in (h.BASELINE, *h.CASES) if c.name in sys.argv[3:]); "
        "h.generate(__import__('pathlib').Path(sys.argv[2]), cases)"
    )
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "tests" / "qr"), str(folder), *names],
        check=True,
        env=env,
    )
    return {name: folder / f"{name}.bin" for name in names}


def _versions() -> dict[str, str]:
    found = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
    }
    for dist in ("pillow", "zxing-cpp", "pyzbar"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "absent"
    return found


def _outcome(answer: dict[str, object]) -> str:
    if "result" in answer:
        return f"read {answer['result']!r}"[:48]
    return f"{answer.get('error')} {answer.get('status', '')} ({answer.get('reason', '')})"[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    parser.add_argument("--limit-mb", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the images here")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    cases = [hostile_images.BASELINE, *hostile_images.CASES]
    if args.only:
        cases = [c for c in cases if c.name in args.only or c.name == "baseline_photo_1000"]
    limit = args.limit_mb * 1024 * 1024
    rows = []
    print(json.dumps(_versions()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        paths = generate_elsewhere(folder, [c.name for c in cases])
        idle = run_child("-", limit)
        print("| image | bytes | outcome | decode s | cpu s | peak RSS MB |")
        print("|---|---:|---|---:|---:|---:|")
        print(f"| (imports only) | | | | | {idle['peak_rss_mb']:.0f} |")
        for case in cases:
            path = paths[case.name]
            answer = run_child(str(path), limit)
            size = path.stat().st_size
            rows.append({"name": case.name, "bytes": size, "note": case.note, **answer})
            print(
                f"| {case.name} | {size:,} | {_outcome(answer)} | {answer.get('seconds', 0):.2f} "
                f"| {answer.get('cpu', 0):.2f} | {answer['peak_rss_mb']:.0f} |",
                flush=True,
            )
    if args.output is not None:
        report = {
            "date": datetime.date.today().isoformat(),
            "versions": _versions(),
            "imports_only_rss_mb": idle["peak_rss_mb"],
            "limit_mb": args.limit_mb,
            "cases": rows,
        }
        args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
