"""Resident memory of the in-process (``memory://``) limit store under an address flood.

``python benchmarks/bench_limit_memory.py ADDRESSES TRIES [MAX_ENTRIES]``: that many
addresses (IPv6 /64s, hashed as the HTTP layer hashes them) each send TRIES wrong API
tokens to a ``WrongTryLimiter("20/minute;200/day")``; prints the keys and entries kept
and the growth of peak RSS. ``MAX_ENTRIES`` defaults to the library's cap; pass a huge
number to see the store unbounded.
"""

from __future__ import annotations

import resource
import sys
import time

from suolink.http.auth import DEFAULT_MAX_LIMIT_ENTRIES, WrongTryLimiter
from suolink.shortener import Shortener


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> None:
    addresses, tries = int(argv[0]), int(argv[1])
    cap = int(argv[2]) if len(argv) > 2 else DEFAULT_MAX_LIMIT_ENTRIES
    shortener = Shortener("memory://", secret="bench")
    limiter = WrongTryLimiter("20/minute;200/day", count_checks=False, max_entries=cap)
    base, started = _rss_mb(), time.perf_counter()
    for i in range(addresses):
        key = shortener.address_id(f"2001:db8:{i >> 16:x}:{i & 0xFFFF:x}::/64")
        for _ in range(tries):
            limiter.failed("token", key)
    events = limiter.storage.events
    print(
        f"cap {cap}: {addresses} addresses x {tries} wrong tries: {len(events)} keys kept, "
        f"{sum(map(len, events.values()))} entries, peak RSS +{_rss_mb() - base:.0f} MB, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
