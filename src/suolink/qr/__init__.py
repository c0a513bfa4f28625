"""QR codes: draw a short link (PNG/SVG, colours, logo) and read codes from pictures.

Importing this package needs nothing optional; calling :func:`encode` or
:func:`decode` without the ``qr`` extra raises
:class:`~suolink.errors.MissingDependencyError`.

Modules, one job each: ``options`` (validating drawing options, query strings),
``matrix`` (text to modules, UTF-8 ECI), ``render`` (PNG, SVG, terminal),
``encoder`` (``encode`` with logo check), ``limits`` (what an untrusted image may
cost, judged from its header), ``images`` (safe, bounded-memory loading of untrusted
images), ``engines`` (zxing-cpp and pyzbar behind one protocol), ``decoder``
(``decode`` with retry passes whose reads must be confirmed), ``cache`` (bounded LRU
of drawn codes).
"""

from .cache import CacheInfo, QRCache, cached_encode, default_cache
from .decoder import decode
from .encoder import encode, render_terminal
from .engines import Engine, Found, available_engines
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from .limits import DECODE_BUDGET, MAX_ASPECT, MAX_IMAGE_SIDE, MAX_JPEG_SCANS, ImageBomb
from .options import QROptions, parse_options, validate_options

__all__ = [
    "DECODE_BUDGET",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MAX_ASPECT",
    "MAX_IMAGE_SIDE",
    "MAX_JPEG_SCANS",
    "CacheInfo",
    "Engine",
    "Found",
    "ImageBomb",
    "QRCache",
    "QROptions",
    "available_engines",
    "cached_encode",
    "decode",
    "default_cache",
    "encode",
    "parse_options",
    "render_terminal",
    "validate_options",
]
