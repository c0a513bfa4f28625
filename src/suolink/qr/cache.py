"""A bounded, thread-safe LRU of drawn codes, keyed by (text, options, logo fingerprint).

Serving the same link's QR twice should cost one encode: the Shortener and the HTTP
layer hold one :class:`QRCache` and call :meth:`QRCache.encode` instead of ``encode``.
:meth:`QRCache.would_draw` tells the HTTP layer which requests are misses, the only ones
worth rate-limiting.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigurationError, QREncodeError
from .encoder import LogoSource, encode_options
from .options import DEFAULT_SCALE, QROptions, validate_options

__all__ = ["CacheInfo", "QRCache", "cached_encode", "default_cache"]


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a :class:`QRCache`, for stats pages and tests."""

    hits: int
    misses: int
    entries: int
    bytes: int
    maxsize: int
    max_bytes: int


def _logo_key(logo: LogoSource | None) -> Hashable:
    """A fingerprint of the logo: content hash for bytes/images, path + mtime + size for files."""
    if logo is None:
        return None
    if isinstance(logo, bytes | bytearray | memoryview):
        return ("bytes", hashlib.sha256(bytes(logo)).hexdigest())
    if isinstance(logo, str | os.PathLike):
        path = os.fspath(logo)
        try:
            stat = os.stat(path)
        except (OSError, ValueError) as exc:
            raise QREncodeError(f"the logo cannot be used: {exc}", reason="bad logo") from exc
        return ("path", path, stat.st_mtime_ns, stat.st_size)
    tobytes = getattr(logo, "tobytes", None)
    if callable(tobytes):
        digest = hashlib.sha256(tobytes()).hexdigest()
        return ("image", logo.mode, logo.size, digest)
    raise QREncodeError("the logo must be bytes, a path or a PIL image", reason="bad logo")


def _key(text: str, options: QROptions, logo: LogoSource | None) -> Hashable:
    """The cache key: equal for requests that draw the same bytes.

    Colours, format and level are already canonical in :class:`QROptions`; here the
    default scale is made explicit, so ``scale=None`` and ``scale=10`` share an entry.
    """
    if options.size is None and options.scale is None:
        options = replace(options, scale=DEFAULT_SCALE)
    return (text, options, _logo_key(logo))


class QRCache:
    """LRU of encoded images bounded by entry count and total bytes."""

    def __init__(self, maxsize: int = 512, max_bytes: int = 32_000_000) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigurationError("QRCache maxsize must be a whole number of at least 1")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigurationError("QRCache max_bytes must be a whole number of at least 1")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def encode(self, text: str, *, logo: LogoSource | None = None, **options: Any) -> bytes:
        """Like :func:`suolink.qr.encode`; a repeat of the same request is served from memory."""
        normalised = validate_options(**options)
        key = _key(text, normalised, logo)
        found = self._hit(key, count_miss=True)
        if found is not None:
            return found
        image = encode_options(text, normalised, logo)
        self._store(key, image)
        return image

    def peek(self, text: str, *, logo: LogoSource | None = None, **options: Any) -> bytes | None:
        """The drawn image if it is cached (counted as a hit), else ``None``; never draws.

        Raises InvalidOption for bad options, like :meth:`encode`.
        """
        return self._hit(_key(text, validate_options(**options), logo))

    def _hit(self, key: Hashable, *, count_miss: bool = False) -> bytes | None:
        """The cached image for ``key`` (made most recent, counted as a hit), else None."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self._hits += 1
            elif count_miss:
                self._misses += 1
            return found

    def would_draw(self, text: str, *, logo: LogoSource | None = None, **options: Any) -> bool:
        """True when :meth:`encode` with these arguments would draw (a miss), counters untouched.

        Drawing is the expensive part (up to tens of milliseconds at 4096 px, more with a
        logo); serving a hit is not. The HTTP layer rate-limits the requests for which
        this is true, per client, so new option sets cannot be used to burn CPU.
        """
        key = _key(text, validate_options(**options), logo)
        with self._lock:
            return key not in self._entries

    def _store(self, key: Hashable, image: bytes) -> None:
        if len(image) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._entries[key] = image
            self._bytes += len(image)
            while len(self._entries) > self.maxsize or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)

    def info(self) -> CacheInfo:
        """Hit and miss counts and the current size."""
        with self._lock:
            return CacheInfo(
                self._hits,
                self._misses,
                len(self._entries),
                self._bytes,
                self.maxsize,
                self.max_bytes,
            )

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._hits = self._misses = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process-wide cache behind :func:`cached_encode`.
default_cache = QRCache()


def cached_encode(text: str, *, logo: LogoSource | None = None, **options: Any) -> bytes:
    """:func:`suolink.qr.encode` through the process-wide :data:`default_cache`."""
    return default_cache.encode(text, logo=logo, **options)
