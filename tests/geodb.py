"""Small MaxMind-format databases the GeoIP tests read, built with ``mmdb-writer``.

No download at test time: each database is written from the networks below into the
test's own folder. IPv4 and IPv6 networks, a City-shaped record, a country-only one and
one with only the registered country.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: network -> record, in the shapes GeoIP2/GeoLite2 City and Country databases use.
NETWORKS: dict[str, dict[str, Any]] = {
    "1.2.3.0/24": {
        "country": {"iso_code": "CN", "names": {"en": "China", "zh-CN": "中国"}},
        "subdivisions": [{"iso_code": "GD", "names": {"en": "Guangdong"}}],
        "city": {"names": {"en": "Shenzhen", "zh-CN": "深圳"}},
    },
    "5.6.7.0/24": {"country": {"iso_code": "US", "names": {"en": "United States"}}},
    "9.9.9.0/24": {"registered_country": {"iso_code": "FR"}},
    "2001:db8:1::/48": {
        "country": {"iso_code": "DE"},
        "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
        "city": {"names": {"en": "Berlin"}},
    },
    "2001:db8:2::/48": {"country": {"iso_code": "CN"}},
}

#: An address of each kind, and where it is.
CN_V4, US_V4, FR_V4, DE_V6, CN_V6 = (
    "1.2.3.4",
    "5.6.7.8",
    "9.9.9.9",
    "2001:db8:1::5",
    "2001:db8:2::9",
)
UNKNOWN_V4, UNKNOWN_V6 = "198.51.100.1", "2001:db8:ffff::1"


def build(path: Path, networks: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write a GeoIP2-City-shaped ``.mmdb`` holding ``networks`` (default :data:`NETWORKS`)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoIP2-City",
        languages=["en"],
        description={"en": "suolink test database"},
    )
    for network, record in (NETWORKS if networks is None else networks).items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
