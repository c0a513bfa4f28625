"""Run the never-5xx properties for a large example count, split into seeded shards.

One hypothesis run of a million examples keeps every tried example in its tree (memory
grows, generation slows), so the count is split into shards of ``--per-shard`` examples,
each a separate pytest process with its own ``--hypothesis-seed`` and log file, run
``--parallel`` at a time. Each property (``HttpApi.handle`` and ``Shortener.resolve``) gets
``--total`` examples in all. A summary (examples, seconds and examples/s per property,
failures) is printed as shards finish and at the end.

    python scripts/never_5xx_shards.py --total 1000000 --per-shard 50000 --parallel 2 \\
        --log-dir /work/notes --prefix never5xx-1M
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_never_5xx.py"
# hypothesis --hypothesis-show-statistics: a test's name, then its generate phase.
_TEST_LINE = re.compile(r"^(tests/\S+::(\w+)):$")
_PHASE = re.compile(r"during generate phase \(([\d.]+) seconds\)")
_PASSING = re.compile(r"(\d+) passing, (\d+) failing")


@dataclass
class Tally:
    """Examples run, failures and generate-phase seconds of one property."""

    examples: int = 0
    failing: int = 0
    seconds: float = 0.0


@dataclass
class Shard:
    """One pytest process: its seed, example count, log and outcome."""

    seed: int
    examples: int
    log: Path
    returncode: int | None = None
    tallies: dict[str, Tally] = field(default_factory=dict)


def _parse(text: str) -> dict[str, Tally]:
    """The per-property figures from one shard's ``--hypothesis-show-statistics`` log."""
    tallies: dict[str, Tally] = {}
    current: Tally | None = None
    for line in text.splitlines():
        if match := _TEST_LINE.match(line.strip()):
            current = tallies.setdefault(match.group(2), Tally())
        elif current is not None and (match := _PHASE.search(line)):
            current.seconds += float(match.group(1))
        elif current is not None and (match := _PASSING.search(line)):
            current.examples += int(match.group(1))
            current.failing += int(match.group(2))
    return tallies


def _run(shard: Shard, python: str) -> Shard:
    """Run one shard to completion, its output in its own log file."""
    env = {**os.environ, "SUOLINK_NEVER_5XX_EXAMPLES": str(shard.examples)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [
        python,
        "-m",
        "pytest",
        TEST,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--hypothesis-seed={shard.seed}",
        "--hypothesis-show-statistics",
    ]
    with shard.log.open("w") as log:
        log.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} seed={shard.seed} ")
        log.write(f"examples={shard.examples} cwd={ROOT}\n# {' '.join(command)}\n")
        log.flush()
        done = subprocess.run(  # noqa: S603 - our own pytest command line
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    shard.returncode = done.returncode
    shard.tallies = _parse(shard.log.read_text(errors="replace"))
    return shard


def _summary(shards: Sequence[Shard], started: float) -> str:
    """Totals so far over the finished shards, one line per property."""
    totals: dict[str, Tally] = {}
    for shard in shards:
        for name, tally in shard.tallies.items():
            total = totals.setdefault(name, Tally())
            total.examples += tally.examples
            total.failing += tally.failing
            total.seconds += tally.seconds
    lines = [f"after {time.monotonic() - started:.0f} s, {len(shards)} shard(s) finished:"]
    for name, t in sorted(totals.items()):
        rate = t.examples / t.seconds if t.seconds else 0.0
        lines.append(
            f"  {name}: {t.examples:,} examples, {t.failing} failing, "
            f"{t.seconds:.0f} s generating, {rate:.0f} examples/s per process"
        )
    bad = [s for s in shards if s.returncode != 0]
    lines.append(f"  shards failed: {[(s.seed, s.returncode, str(s.log)) for s in bad]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Plan the shards, run them, print a running summary; 1 if any shard failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--per-shard", type=int, default=50_000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seed-base", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, default=ROOT / "build")
    parser.add_argument("--prefix", default="never5xx")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    shards: list[Shard] = []
    left, seed = args.total, args.seed_base
    while left > 0:
        count = min(args.per_shard, left)
        log = args.log_dir / f"{args.prefix}-shard-seed{seed}.log"
        shards.append(Shard(seed=seed, examples=count, log=log))
        left -= count
        seed += 1
    started = time.monotonic()
    print(
        f"{len(shards)} shards of ≤{args.per_shard:,} examples per property, "
        f"{args.parallel} at a time, from {ROOT}",
        flush=True,
    )
    finished: list[Shard] = []
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for shard in pool.map(lambda s: _run(s, args.python), shards):
            finished.append(shard)
            print(f"shard seed={shard.seed} exit={shard.returncode} log={shard.log}", flush=True)
            print(_summary(finished, started), flush=True)
    return 0 if all(s.returncode == 0 for s in finished) else 1


if __name__ == "__main__":
    sys.exit(main())
