"""``decode(image) -> list[str]``: every QR code in an uploaded or photographed image.

Order of work: caps and cost checks from the header (:mod:`.limits`), decoding to grey
at a bounded size (:mod:`.images`), then passes of cheap preprocessing, each tried with
every engine in turn. The plain pass is trusted as the engine reports it; a retry pass
bends the pixels, so what it reads is returned only once confirmed (see :func:`decode`).
Results come back in reading order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, cast

from ..errors import ConfigurationError, QRDecodeError, SuolinkError
from ._deps import require
from .engines import Engine, Found, select_engines
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ImageSource, load_grayscale

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PASS_NAMES", "SAFE_MARGIN", "decode", "reading_order"]

#: A retry pass's read is trusted only if the engine left at least this share of the code's
#: error correction unused: at least one corrected error short of the capacity, where
#: miscorrections into another valid text cluster (they land at the capacity itself).
SAFE_MARGIN: Final = 0.25

#: Images smaller than this (longest side, px) get an upscaled pass: modules of 1-2 px.
_UPSCALE_BELOW: Final = 400
#: Retry passes work on a copy no larger than this (longest side, px), bounding their cost.
_RETRY_SIDE: Final = 1600
#: Below this (shortest side, px) box-averaged downscales would leave too few pixels.
_SHRINK_ABOVE: Final = 120


def _ops() -> Any:
    return require("PIL.ImageOps")


def _stretch(image: Image.Image) -> Image.Image | None:
    """Contrast stretch: low-contrast codes (measured: the largest single gain for zxing-cpp)."""
    low, high = cast(tuple[int, int], image.getextrema())
    if low <= 8 and high >= 247:
        return None
    stretched: Image.Image = _ops().autocontrast(image, cutoff=1)
    return stretched


def _sharpen(image: Image.Image) -> Image.Image | None:
    """Unsharp mask: recovers out-of-focus photos whose modules have run together."""
    filters = require("PIL.ImageFilter")
    mask = filters.UnsharpMask(radius=4, percent=200, threshold=0)
    sharpened: Image.Image = _ops().autocontrast(image.filter(mask), cutoff=1)
    return sharpened


def _invert(image: Image.Image) -> Image.Image | None:
    """Light-on-dark codes, which pyzbar cannot read as they are."""
    inverted: Image.Image = _ops().invert(_ops().autocontrast(image, cutoff=1))
    return inverted


def _shrink(divisor: int) -> Callable[[Image.Image], Image.Image | None]:
    """Box-averaged downscale: averages away sensor noise on large, noisy codes."""

    def shrink(image: Image.Image) -> Image.Image | None:
        if min(image.size) // divisor < _SHRINK_ABOVE // 2 or min(image.size) < _SHRINK_ABOVE:
            return None
        pil = require("PIL.Image")
        size = (image.width // divisor, image.height // divisor)
        small: Image.Image = _ops().autocontrast(image.resize(size, pil.Resampling.BOX), cutoff=1)
        return small

    return shrink


def _denoise(image: Image.Image) -> Image.Image | None:
    """Median filter: salt-and-pepper noise and JPEG ringing."""
    filters = require("PIL.ImageFilter")
    smoothed: Image.Image = _ops().autocontrast(image.filter(filters.MedianFilter(3)), cutoff=1)
    return smoothed


def _upscale(image: Image.Image) -> Image.Image | None:
    """Tiny images: modules of one or two pixels are too small for the finders."""
    if max(image.size) >= _UPSCALE_BELOW:
        return None
    pil = require("PIL.Image")
    factor = -(-_UPSCALE_BELOW * 2 // max(image.size))
    return image.resize((image.width * factor, image.height * factor), pil.Resampling.BICUBIC)


def _bounded(image: Image.Image) -> Image.Image:
    """A copy no larger than ``_RETRY_SIDE`` for the retry passes."""
    if max(image.size) <= _RETRY_SIDE:
        return image
    pil = require("PIL.Image")
    factor = max(image.size) / _RETRY_SIDE
    size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return image.resize(size, pil.Resampling.BOX)


_PASSES: Final[tuple[tuple[str, Callable[[Image.Image], Image.Image | None]], ...]] = (
    ("stretch", _stretch),
    ("sharpen", _sharpen),
    ("invert", _invert),
    ("shrink2", _shrink(2)),
    ("shrink3", _shrink(3)),
    ("denoise", _denoise),
    ("upscale", _upscale),
)
PASS_NAMES: Final = ("plain", *(name for name, _ in _PASSES))


def _variants(gray: Image.Image, retry: bool) -> Iterator[tuple[str, Image.Image]]:
    """The image as given, then each retry pass that applies to it, built lazily."""
    yield "plain", gray
    if not retry:
        return
    bounded = _bounded(gray)
    if bounded is not gray:
        yield "bounded", bounded
    for name, make in _PASSES:
        variant = make(bounded)
        if variant is not None:
            yield name, variant


def _same_row(a: Found, b: Found) -> bool:
    """Two codes share a row when they overlap vertically by half the smaller one's height."""
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.5 * min(a.bottom - a.top, b.bottom - b.top)


def reading_order(found: Sequence[Found]) -> list[Found]:
    """Rows top to bottom (codes overlapping vertically share a row), each row left to right."""
    rows: list[list[Found]] = []
    for item in sorted(found, key=lambda f: (f.top, f.left)):
        if rows and any(_same_row(item, other) for other in rows[-1]):
            rows[-1].append(item)
        else:
            rows.append([item])
    return [item for row in rows for item in sorted(row, key=lambda f: f.left)]


def _scaled(found: list[Found], sx: float, sy: float) -> list[Found]:
    return [
        replace(f, left=f.left * sx, right=f.right * sx, top=f.top * sy, bottom=f.bottom * sy)
        for f in found
    ]


def _check_cap(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive whole number")
    return value


class _Confirmations:
    """Retry-pass reads so far, per text: trusted once a reading left a safe margin.

    Agreement between passes is no proof when the engine reports a margin: a code damaged
    past its error correction is "corrected" into the same wrong text by every pass that
    reads it (measured: sharpen, shrink and upscale agreeing at margin 0). Engines that
    report no margin (pyzbar) are trusted when two of their readings agree.
    """

    def __init__(self) -> None:
        self._safe: set[str] = set()
        self._blind: dict[str, int] = {}
        self._latest: dict[str, Found] = {}

    def accept(self, found: list[Found]) -> bool:
        """Record one pass's reads; True when every one of them is now trusted."""
        for f in found:
            if f.margin is None:
                self._blind[f.text] = self._blind.get(f.text, 0) + 1
            elif f.margin >= SAFE_MARGIN:
                self._safe.add(f.text)
            self._latest[f.text] = f
        return all(self._trusted(f.text) for f in found)

    def _trusted(self, text: str) -> bool:
        return text in self._safe or self._blind.get(text, 0) >= 2

    def leftovers(self) -> list[Found]:
        """Trusted texts that never made up a whole pass's reads on their own."""
        return [f for text, f in self._latest.items() if self._trusted(text)]


def _scan(gray: Image.Image, engines: Sequence[Engine], retry: bool) -> list[Found]:
    """The first pass whose reads are trusted, scaled to ``gray``'s coordinates."""
    pending = _Confirmations()
    for name, variant in _variants(gray, retry):
        sx, sy = gray.width / variant.width, gray.height / variant.height
        for engine in engines:
            found = _scaled(engine.read(variant), sx, sy)
            if not found:
                continue
            if name == "plain" or pending.accept(found):
                return found
    return pending.leftovers()


def decode(
    image: ImageSource | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    engines: str | Sequence[str] | None = None,
    retry: bool = True,
) -> list[str]:
    """Every QR code's exact text in ``image``, in reading order; ``[]`` when there is none.

    ``image`` is bytes, a path, a binary file object or a PIL image. Raises
    :class:`ImageTooLarge` over ``max_bytes``/``max_pixels`` or the side, aspect and
    decoding-cost caps of :mod:`suolink.qr.limits` (checked from the header, before
    pixels are decoded; :class:`~suolink.qr.limits.ImageBomb` for files built to cost
    more than their size), and :class:`QRDecodeError` for data that is not a readable
    image. ``engines`` restricts the engines used (``"zxing-cpp"``, ``"pyzbar"``);
    ``retry=False`` skips the preprocessing passes (faster, reads fewer damaged codes).

    A read from a retry pass (sharpened, denoised, rescaled pixels) is returned only if
    the engine left at least :data:`SAFE_MARGIN` of the error correction unused (for an
    engine that does not say, if a second pass or engine read the same text): a retry
    must not turn a damaged code into a different, valid-looking link.
    """
    _check_cap("max_bytes", max_bytes)
    _check_cap("max_pixels", max_pixels)
    chosen = select_engines(engines)
    try:
        gray = load_grayscale(image, max_bytes=max_bytes, max_pixels=max_pixels)
        found = _scan(gray, chosen, retry)
    except SuolinkError:
        raise
    except Exception as exc:  # an engine or filter choking on an odd but valid image
        raise QRDecodeError(f"the image could not be scanned: {exc}", reason="scan failed") from exc
    return [f.text for f in reading_order(found)]
