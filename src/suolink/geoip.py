"""Where a visitor is: country, region and city from a MaxMind-format (``.mmdb``) database.

The host supplies the database (MaxMind GeoLite2/GeoIP2 City or Country, DB-IP, IPinfo
and others in the same format); suolink never downloads one. Reading needs the ``geo``
extra (``maxminddb``). A lookup never raises: an address the database does not know, a
malformed one, or a record of an unexpected shape is simply "nowhere" (:data:`NOWHERE`).
Answers are kept in a bounded LRU cache keyed by the address, so a returning visitor
costs a dictionary look-up (see ``benchmarks/bench_geoip.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol, runtime_checkable

from .errors import ConfigurationError, MissingDependencyError

__all__ = ["DEFAULT_CACHE_SIZE", "NOWHERE", "GeoIP", "Place", "PlaceFinder", "open_geoip"]

#: Addresses whose place is kept; a place is three short strings, so ~10 MB at most.
DEFAULT_CACHE_SIZE: Final = 65_536
#: Longest region or city name kept (a record could hold anything).
_MAX_NAME: Final = 100
_COUNTRY: Final = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True)
class Place:
    """Where an address is: ISO 3166-1 alpha-2 country, region and city names (or None)."""

    country: str | None = None
    region: str | None = None
    city: str | None = None


#: The place of an unknown address.
NOWHERE: Final = Place()


@runtime_checkable
class PlaceFinder(Protocol):
    """Anything that places an address: :class:`GeoIP`, or a host's own (a CDN header)."""

    def lookup(self, ip: str | None) -> Place:
        """The place of ``ip``; :data:`NOWHERE` when unknown. Never raises."""
        ...


def _name(entry: object) -> str | None:
    """An English name (or the code) of a region or city entry, bounded and one line."""
    if not isinstance(entry, Mapping):
        return None
    names = entry.get("names")
    value = names.get("en") if isinstance(names, Mapping) else None
    if not isinstance(value, str):
        value = entry.get("iso_code")
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())[:_MAX_NAME]
    return value.replace("\x00", "") or None


def _country(record: Mapping[str, Any]) -> str | None:
    """The country code of a record: GeoIP2's ``country``/``registered_country``, or the
    flat ``country_code``/``country`` strings other publishers use."""
    for key in ("country", "registered_country"):
        entry = record.get(key)
        code = entry.get("iso_code") if isinstance(entry, Mapping) else entry
        if isinstance(code, str) and _COUNTRY.fullmatch(code.upper()):
            return code.upper()
    code = record.get("country_code")
    if isinstance(code, str) and _COUNTRY.fullmatch(code.upper()):
        return code.upper()
    return None


def place_of(record: object) -> Place:
    """The :class:`Place` a database record describes (:data:`NOWHERE` if none)."""
    if not isinstance(record, Mapping):
        return NOWHERE
    subdivisions = record.get("subdivisions")
    region = _name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else None
    place = Place(_country(record), region, _name(record.get("city")))
    return NOWHERE if place == NOWHERE else place


class GeoIP:
    """A ``.mmdb`` database opened once, with an LRU cache of places by address.

    Thread-safe: the reader is read-only and the cache is ``functools.lru_cache``'s.
    """

    def __init__(self, path: str | os.PathLike[str], *, cache_size: int = DEFAULT_CACHE_SIZE):
        try:
            import maxminddb
        except ImportError as exc:
            raise MissingDependencyError("GeoIP lookups", "geo", module="maxminddb") from exc
        self.path = os.fspath(path)
        try:
            self._reader = maxminddb.open_database(self.path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigurationError(
                f"geoip_db: cannot read {self.path!r} as a MaxMind database: {exc}"
            ) from None
        self.database_type: str = self._reader.metadata().database_type
        self._errors = (ValueError, TypeError, maxminddb.InvalidDatabaseError)
        self._cached = lru_cache(maxsize=cache_size)(self._lookup)

    def lookup(self, ip: str | None) -> Place:
        """The place of ``ip`` (cached); :data:`NOWHERE` if unknown or not an address."""
        return self._cached(ip)

    def _lookup(self, ip: str | None) -> Place:
        if not ip or len(ip) > 64:
            return NOWHERE
        if ip[:7].lower() == "::ffff:":  # IPv4-mapped (a dual-stack socket): the IPv4 tree
            ip = ip[7:]
        try:
            record = self._reader.get(ip)
        except self._errors:  # not an address, IPv6 in an IPv4-only file, a damaged file
            return NOWHERE
        return place_of(record)

    def close(self) -> None:
        """Release the database (its memory map) and forget the cached places."""
        self._cached.cache_clear()
        self._reader.close()

    def __repr__(self) -> str:
        return f"GeoIP({self.path!r}, type={self.database_type!r})"


def open_geoip(source: str | os.PathLike[str] | PlaceFinder | None) -> PlaceFinder | None:
    """A place finder from what ``Shortener(geoip_db=...)`` was given: a path, a finder,
    or None (no GeoIP: every visitor's place is unknown)."""
    if source is None or isinstance(source, PlaceFinder):
        return source
    if isinstance(source, str | os.PathLike):
        return GeoIP(source)
    raise ConfigurationError("geoip_db must be a path to a .mmdb file or a PlaceFinder")
