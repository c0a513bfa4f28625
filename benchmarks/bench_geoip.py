"""What the GeoIP lookup adds to a redirect: ``GeoIP.lookup`` cached and not, and
``Shortener.resolve`` with and without a database.

The database is built here with ``mmdb-writer`` (the ``dev`` extra): ``--networks``
random IPv4 /24 and IPv6 /48 networks with City-shaped records (country, a region, a
city), about the shape and depth of GeoLite2-City's tree for those prefixes. Timed:

* **miss**: ``lookup`` of addresses never seen (``--addresses`` distinct ones, the cache
  cleared before each pass): the tree walk and the record decode;
* **hit**: ``lookup`` of an address already in the LRU cache (what a returning visitor,
  or any of the 65,536 most recent addresses, costs);
* **resolve**: ``Shortener.resolve`` on ``memory://`` for a Chrome visitor, without a
  database, with one (cached addresses), and with one whose cache is off (every
  redirect walks the tree), median of single calls; the differences are the cost per
  redirect.

Run ``PYTHONPATH=src .venv/bin/python benchmarks/bench_geoip.py`` (about 20 s).
Results are printed and written as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import machine_info

from suolink import Shortener
from suolink.geoip import GeoIP
from suolink.models import Visitor

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
COUNTRIES = ["CN", "US", "DE", "JP", "BR", "IN", "FR", "GB", "KR", "SG"]


def build_db(path: Path, networks: int, rng: random.Random) -> list[str]:
    """Write the database; return one address inside each network."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    inside: list[str] = []
    seen: set[str] = set()
    while len(inside) < networks:
        if rng.random() < 0.7:
            net = ipaddress.ip_network(
                f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
            )
        else:
            net = ipaddress.ip_network(
                f"2001:{rng.randrange(1, 0xFFFF):x}:{rng.randrange(0xFFFF):x}::/48"
            )
        if str(net) in seen:
            continue
        seen.add(str(net))
        country = rng.choice(COUNTRIES)
        writer.insert_network(
            IPSet([str(net)]),
            {
                "country": {"iso_code": country, "names": {"en": country}},
                "subdivisions": [
                    {"iso_code": "R1", "names": {"en": f"Region {rng.randrange(50)}"}}
                ],
                "city": {"names": {"en": f"City {rng.randrange(5000)}"}},
                "location": {"latitude": rng.uniform(-80, 80), "longitude": rng.uniform(-170, 170)},
            },
        )
        inside.append(str(net[rng.randrange(1, 200)]))
    writer.to_db_file(str(path))
    return inside


def per_call_us(func: Any, args: list[Any], repeat: int) -> dict[str, float]:
    """Median, p99 and mean microseconds of single calls over ``args``, ``repeat`` passes."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(repeat):
        for arg in args:
            start = clock()
            func(arg)
            samples.append((clock() - start) / 1000)
    samples.sort()
    return {
        "calls": len(samples),
        "median_us": round(statistics.median(samples), 3),
        "p99_us": round(samples[int(len(samples) * 0.99)], 3),
        "mean_us": round(statistics.fmean(samples), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=20_000)
    parser.add_argument("--addresses", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resolve-calls", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    info = machine_info()
    print(json.dumps(info, indent=2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mmdb"
        started = time.perf_counter()
        inside = build_db(path, args.networks, rng)
        print(
            f"built {args.networks} networks in {time.perf_counter() - started:.1f}s, "
            f"{path.stat().st_size / 1e6:.1f} MB"
        )
        geo = GeoIP(path)
        addresses = rng.sample(inside, min(args.addresses, len(inside)))
        assert all(geo.lookup(ip).country for ip in addresses[:100])

        misses: list[float] = []
        for _ in range(args.repeat):
            geo._cached.cache_clear()
            misses.append(per_call_us(geo.lookup, addresses, 1)["median_us"])
        miss = per_call_us(lambda ip: geo._lookup(ip), addresses, args.repeat)
        hit = per_call_us(geo.lookup, addresses, args.repeat)  # all cached by now

        visitors = [Visitor(user_agent=CHROME, ip=ip) for ip in addresses[:1000]]
        resolve: dict[str, Any] = {}
        finders: tuple[tuple[str, Any], ...] = (
            ("without", None),
            ("with", str(path)),
            ("with_uncached", GeoIP(path, cache_size=0)),
        )
        for label, db in finders:
            shortener = Shortener("memory://", secret="bench", geoip_db=db)
            code = shortener.shorten("https://example.com/").code
            for visitor in visitors:  # warm detection and the place cache
                shortener.resolve(code, visitor)
            calls = max(1, args.resolve_calls // len(visitors))
            resolve[label] = per_call_us(
                lambda v, s=shortener, c=code: s.resolve(c, v), visitors, calls
            )
            shortener.close()
            if isinstance(db, GeoIP):
                db.close()
        geo.close()

    result = {
        "machine": info,
        "networks": args.networks,
        "addresses": len(addresses),
        "lookup_miss": miss,
        "lookup_miss_cold_cache_medians_us": misses,
        "lookup_hit": hit,
        "resolve": resolve,
        "resolve_added_median_us": round(
            resolve["with"]["median_us"] - resolve["without"]["median_us"], 3
        ),
        "resolve_added_uncached_median_us": round(
            resolve["with_uncached"]["median_us"] - resolve["without"]["median_us"], 3
        ),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    RESULTS_DIR.mkdir(exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    output = args.output or RESULTS_DIR / f"geoip-{day}.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
