"""Opening untrusted images safely: byte, pixel, side and cost caps first (:mod:`.limits`),
a short list of formats, bounded-memory conversion to grey, and every Pillow failure
turned into :class:`QRDecodeError` or :class:`ImageTooLarge`.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeAlias, cast

from ..errors import ImageTooLarge, QRDecodeError, SuolinkError
from ._deps import require
from .limits import (
    ALLOWED_TIFF_COMPRESSIONS,
    ImageBomb,
    bytes_per_pixel,
    check_budget,
    check_dimensions,
    check_jpeg,
    check_webp,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "WORK_SIDE",
    "ImageSource",
    "load_grayscale",
    "open_image",
    "to_grayscale",
]

DEFAULT_MAX_BYTES: Final = 10_000_000
#: 36 megapixels (6000 x 6000): above any phone photo worth scanning, far below a bomb.
DEFAULT_MAX_PIXELS: Final = 36_000_000
#: Formats Pillow may parse here; others (EPS runs Ghostscript, …) are refused unread.
ALLOWED_FORMATS: Final = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
#: Longest side of the picture the engines see; larger ones are reduced (a 48 MP photo
#: halved still gives a code filling a tenth of its width 20 px per module).
WORK_SIDE: Final = 4096
#: Modes Pillow's ``reduce`` handles without a full-size copy (it premultiplies RGBA and
#: LA into a second full image first; palettes it cannot reduce at all).
_REDUCIBLE: Final = frozenset({"L", "RGB", "CMYK", "I", "F"})
#: Pixels per band when converting to grey: bounds the conversion's extra memory.
_BAND_PIXELS: Final = 1_000_000

ImageSource: TypeAlias = (
    "bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO | Image.Image"
)


def _read_capped(source: object, max_bytes: int) -> bytes:
    """The raw bytes of ``source``, refusing more than ``max_bytes`` without reading them all."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > max_bytes:
            raise ImageTooLarge(
                f"image is {len(data)} bytes, over the {max_bytes}-byte cap",
                reason="too many bytes",
            )
        return data
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise QRDecodeError("image path must be text, not bytes", reason="bad path")
        try:
            size = os.stat(path).st_size
            if size > max_bytes:
                raise ImageTooLarge(
                    f"image file is {size} bytes, over the {max_bytes}-byte cap",
                    reason="too many bytes",
                )
            with open(path, "rb") as handle:
                return _read_capped_stream(handle, max_bytes)
        except (OSError, ValueError) as exc:
            raise QRDecodeError(
                f"cannot read image file {path[:200]!r}: {exc}", reason="unreadable file"
            ) from exc
    read = getattr(source, "read", None)
    if callable(read):
        try:
            return _read_capped_stream(source, max_bytes)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise QRDecodeError(
                f"cannot read image stream: {exc}", reason="unreadable file"
            ) from exc
    raise QRDecodeError(
        f"expected image bytes, a path, a file object or a PIL image, not {type(source).__name__}",
        reason="unsupported input",
    )


def _read_capped_stream(handle: BinaryIO, max_bytes: int) -> bytes:
    data = handle.read(max_bytes + 1)
    if not isinstance(data, bytes | bytearray):
        raise QRDecodeError("the file object must be opened in binary mode", reason="text stream")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is over the {max_bytes}-byte cap", reason="too many bytes")
    return bytes(data)


@contextlib.contextmanager
def _pillow_errors(pil: Any) -> Iterator[None]:
    """Every Pillow failure while opening or decoding, as QRDecodeError or ImageTooLarge."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            yield
    except SuolinkError:
        raise
    except (pil.DecompressionBombError, pil.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"image refused as too large: {exc}", reason="too many pixels") from exc
    except pil.UnidentifiedImageError as exc:
        allowed = ", ".join(ALLOWED_FORMATS)
        raise QRDecodeError(
            f"not an image, or not one of the supported formats ({allowed})",
            reason="not an image",
        ) from exc
    except MemoryError as exc:
        raise ImageBomb("the image needs more memory than is available", reason="memory") from exc
    except Exception as exc:  # Pillow's plugins raise OSError, SyntaxError, struct.error, …
        raise QRDecodeError(
            f"the image is truncated or corrupt: {exc}", reason="corrupt image"
        ) from exc


def _open_checked(pil: Any, data: bytes, max_pixels: int) -> tuple[Image.Image, int]:
    """Parse the header only; refuse what it says would cost too much to decode.

    Returns the image and the working bytes its decoder needs besides the pixels
    (a progressive JPEG's coefficients, a TIFF's strip or tile buffer).
    """
    check_webp(data, max_pixels)
    image: Image.Image = pil.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    check_dimensions(image.width, image.height, max_pixels)
    extra = 0
    if image.format in ("JPEG", "MPO"):
        layout = check_jpeg(data)
        extra = 0 if layout is None else layout.coefficient_bytes()
    elif image.format == "TIFF":
        extra = _tiff_buffer(image)
    return image, extra


def _tiff_buffer(image: Image.Image) -> int:
    """Refuse unusual TIFF codecs; the bytes of one strip or tile, which libtiff allocates.

    A 261 KB TIFF of 64 x 64 pixels declaring one 16384 x 16384 deflate tile made
    libtiff fill a 268 MB buffer: the tile size is the header's to claim.
    """
    compression = image.info.get("compression", "raw")
    if compression not in ALLOWED_TIFF_COMPRESSIONS:
        raise QRDecodeError(
            f"TIFF compression {compression!r} is not supported; use PNG or JPEG",
            reason="unsupported compression",
        )
    tags = getattr(image, "tag_v2", {})
    width, height = image.size
    per_pixel = bytes_per_pixel(image.mode)
    tile_width, tile_height = tags.get(322), tags.get(323)
    if isinstance(tile_width, int) and isinstance(tile_height, int):
        return tile_width * tile_height * per_pixel
    rows = tags.get(278)
    rows = min(rows, height) if isinstance(rows, int) and rows > 0 else height
    return rows * width * per_pixel


def open_image(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """A loaded PIL image (first frame) from untrusted ``source``; caps checked before decoding."""
    pil = require("PIL.Image")
    if isinstance(source, pil.Image):
        given: Image.Image = source
        check_dimensions(given.width, given.height, max_pixels)
        return given
    data = _read_capped(source, max_bytes)
    if not data:
        raise QRDecodeError("the image is empty (0 bytes)", reason="empty")
    with _pillow_errors(pil):
        image, extra = _open_checked(pil, data, max_pixels)
        # The header is parsed; no pixel data has been decoded yet.
        check_budget(image.width, image.height, image.mode, extra)
        image.load()
    return image


def load_grayscale(
    source: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    work_side: int = WORK_SIDE,
) -> Image.Image:
    """``source`` as an ``L`` image no larger than ``work_side``, decoded with bounded memory.

    JPEGs are decoded straight to grey at a reduced scale (libjpeg's DCT scaling);
    other formats are converted band by band, then box-reduced to ``work_side``.
    """
    pil = require("PIL.Image")
    if isinstance(source, pil.Image):
        given: Image.Image = source
        check_dimensions(given.width, given.height, max_pixels)
        return _fit(to_grayscale(given), work_side)
    data = _read_capped(source, max_bytes)
    if not data:
        raise QRDecodeError("the image is empty (0 bytes)", reason="empty")
    with _pillow_errors(pil):
        image, extra = _open_checked(pil, data, max_pixels)
        if image.format in ("JPEG", "MPO"):
            scale = _draft_scale(image.size, work_side)
            image.draft("L", (image.width // scale, image.height // scale))
        check_budget(image.width, image.height, image.mode, extra)
        image.load()
        if image.mode in _REDUCIBLE:
            image = _fit(image, work_side)  # cheaper than converting every pixel first
        gray = to_grayscale(image)
        del image
        return _fit(gray, work_side)


def _draft_scale(size: tuple[int, int], work_side: int) -> int:
    """The largest JPEG DCT scale (1, 2, 4, 8) that keeps the longest side >= ``work_side``."""
    scale = 1
    while scale < 8 and max(size) // (scale * 2) >= work_side:
        scale *= 2
    return scale


def _fit(image: Image.Image, work_side: int) -> Image.Image:
    """Box-reduce by a whole factor so the longest side is at most ``work_side``."""
    factor = -(-max(image.size) // work_side)
    if factor <= 1:
        return image
    reduced: Image.Image = image.reduce(factor)
    return reduced


def to_grayscale(image: Image.Image) -> Image.Image:
    """An ``L`` image, transparency flattened onto white (transparent pixels are often black).

    Converted in bands of rows, so a 36-megapixel RGBA picture never gets a second
    full-size RGBA copy: the extra memory is one ``L`` image plus one band.
    """
    pil = require("PIL.Image")
    if image.mode == "L":
        return image
    span = None
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        span = cast(tuple[float, float], image.getextrema())
    width, height = image.size
    rows = max(1, _BAND_PIXELS // width)
    if rows >= height:
        return _band_to_grayscale(pil, image, span)
    gray: Image.Image = pil.new("L", image.size, 255)
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        gray.paste(_band_to_grayscale(pil, band, span), (0, top))
    return gray


def _band_to_grayscale(
    pil: Any, image: Image.Image, span: tuple[float, float] | None
) -> Image.Image:
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        canvas: Image.Image = pil.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("L")
    if span is not None:
        low, high = span
        scale = 255.0 / ((high - low) or 1.0)
        floats = image.convert("F")
        return floats.point(lambda v: (v - low) * scale).convert("L")
    converted: Image.Image = image.convert("L")
    return converted
