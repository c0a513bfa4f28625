"""Opening untrusted images safely: byte and pixel caps first, a short list of formats,
and every Pillow failure turned into :class:`QRDecodeError` or :class:`ImageTooLarge`.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import TYPE_CHECKING, BinaryIO, Final, TypeAlias, cast

from ..errors import ImageTooLarge, QRDecodeError, SuolinkError
from ._deps import require

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "ImageSource",
    "open_image",
    "to_grayscale",
]

DEFAULT_MAX_BYTES: Final = 10_000_000
#: 36 megapixels (6000 x 6000): above any phone photo worth scanning, far below a bomb.
DEFAULT_MAX_PIXELS: Final = 36_000_000
#: Formats Pillow may parse here; others (EPS runs Ghostscript, …) are refused unread.
ALLOWED_FORMATS: Final = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")

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


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise QRDecodeError("image has no pixels", reason="empty image")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} pixels, over the {max_pixels}-pixel cap",
            reason="too many pixels",
        )


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
        _check_pixels(given.width, given.height, max_pixels)
        return given
    data = _read_capped(source, max_bytes)
    if not data:
        raise QRDecodeError("the image is empty (0 bytes)", reason="empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            image: Image.Image = pil.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            # The header is parsed; no pixel data has been decoded yet.
            _check_pixels(image.width, image.height, max_pixels)
            image.load()
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
    except Exception as exc:  # Pillow's plugins raise OSError, SyntaxError, struct.error, …
        raise QRDecodeError(
            f"the image is truncated or corrupt: {exc}", reason="corrupt image"
        ) from exc
    return image


def to_grayscale(image: Image.Image) -> Image.Image:
    """An ``L`` image, transparency flattened onto white (transparent pixels are often black)."""
    pil = require("PIL.Image")
    if image.mode == "L":
        return image
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        canvas: Image.Image = pil.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("L")
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        floats = image.convert("F")
        low, high = cast(tuple[float, float], floats.getextrema())
        span = high - low or 1.0
        return floats.point(lambda v: (v - low) * 255.0 / span).convert("L")
    return image.convert("L")
