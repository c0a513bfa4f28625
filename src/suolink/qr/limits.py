"""What an untrusted image may cost, judged from its header before any pixel is decoded.

A 175 KB PNG can claim 1 x 36,000,000 pixels; a 400 KB progressive JPEG can repeat a
scan 5,000 times and hold a core for seconds. These checks read only the header (and,
for JPEG, walk the marker segments) and refuse such files with :class:`ImageBomb`,
an :class:`~suolink.errors.ImageTooLarge` (HTTP 413). Pure Python, no Pillow needed.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Final

from ..errors import ImageTooLarge, QRDecodeError

__all__ = [
    "ALLOWED_TIFF_COMPRESSIONS",
    "DECODE_BUDGET",
    "MAX_ASPECT",
    "MAX_IMAGE_SIDE",
    "MAX_JPEG_SCANS",
    "ImageBomb",
    "JpegLayout",
    "bytes_per_pixel",
    "check_budget",
    "check_dimensions",
    "check_jpeg",
    "check_webp",
    "jpeg_layout",
]

#: Longest side accepted, in pixels (a 48 MP phone photo is 8000 px wide).
MAX_IMAGE_SIDE: Final = 8192
#: Longest side over shortest side: a QR code is square; a 1 x 36,000,000 strip is an attack.
MAX_ASPECT: Final = 20
#: Scans in a progressive JPEG; encoders write about 10, each one is a pass over every pixel.
MAX_JPEG_SCANS: Final = 100
#: Bytes the decoded pixels (and a progressive JPEG's coefficients) may take in memory.
DECODE_BUDGET: Final = 160_000_000
#: TIFF compressions with bounded, well-trodden decoders (no JPEG-in-TIFF, no exotic codecs).
ALLOWED_TIFF_COMPRESSIONS: Final = frozenset(
    {
        "raw",
        "tiff_ccitt",
        "group3",
        "group4",
        "tiff_lzw",
        "tiff_adobe_deflate",
        "tiff_deflate",
        "packbits",
    }
)


class ImageBomb(ImageTooLarge):
    """An image that would cost far more memory or CPU to decode than its size suggests."""


def check_dimensions(width: int, height: int, max_pixels: int) -> None:
    """Refuse empty images, and those over the side, aspect-ratio or pixel caps."""
    if width <= 0 or height <= 0:
        raise QRDecodeError("image has no pixels", reason="empty image")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLarge(
            f"image is {width}x{height} pixels; each side may be at most {MAX_IMAGE_SIDE} px",
            reason="too many pixels",
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} pixels, over the {max_pixels}-pixel cap",
            reason="too many pixels",
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageBomb(
            f"image is {width}x{height} pixels; the long side may be at most "
            f"{MAX_ASPECT} times the short one",
            reason="aspect ratio",
        )


def bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow stores per pixel of ``mode`` (RGB, LA and CMYK take four, like RGBA)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def check_budget(width: int, height: int, mode: str, extra: int = 0) -> None:
    """Refuse an image whose decoded pixels (plus ``extra`` working bytes) exceed the budget."""
    need = width * height * bytes_per_pixel(mode) + extra
    if need > DECODE_BUDGET:
        raise ImageBomb(
            f"decoding this {width}x{height} {mode} image would take {need // 1_000_000} MB, "
            f"over the {DECODE_BUDGET // 1_000_000} MB budget",
            reason="decode memory",
        )


@dataclass(frozen=True, slots=True)
class JpegLayout:
    """What the marker walk found: frame size, components' sampling, scans, progressive."""

    width: int
    height: int
    sampling: tuple[tuple[int, int], ...]
    scans: int
    progressive: bool

    def coefficient_bytes(self) -> int:
        """The whole-image DCT coefficient buffer a progressive decoder keeps (2 bytes each)."""
        if not self.progressive or not self.sampling:
            return 0
        h_max = max(h for h, _ in self.sampling)
        v_max = max(v for _, v in self.sampling)
        total = 0
        for h, v in self.sampling:
            # Blocks per component, padded to whole MCUs as libjpeg allocates them.
            mcus_x = -(-self.width // (8 * h_max))
            mcus_y = -(-self.height // (8 * v_max))
            total += mcus_x * h * mcus_y * v * 64 * 2
        return total


#: The animation flag of a WebP VP8X chunk.
_WEBP_ANIMATION: Final = 0x02
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE: Final = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
#: The end of entropy-coded data: 0xFF followed by anything but a stuffed 0x00, RSTn or fill.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_layout(data: bytes) -> JpegLayout | None:
    """Walk the JPEG's segments (skipping their bodies) and count its scans.

    ``None`` when the stream is not laid out as expected; Pillow then judges it itself.
    An EXIF thumbnail inside APP1 is skipped with its segment, so its scans do not count.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    scans = 0
    frame: tuple[int, int, tuple[tuple[int, int], ...], bool] | None = None
    size = len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None
        body = data[pos + 4 : pos + 2 + length]
        if marker in _SOF and frame is None and len(body) >= 6:
            height, width, count = struct.unpack_from(">HHB", body, 1)
            sampling = tuple(
                (body[7 + 3 * i] >> 4 or 1, body[7 + 3 * i] & 15 or 1)
                for i in range(count)
                if 8 + 3 * i < len(body)
            )
            frame = (width, height, sampling, marker in _PROGRESSIVE)
        pos += 2 + length
        if marker == 0xDA:
            scans += 1
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
    if frame is None:
        return None
    width, height, sampling, progressive = frame
    return JpegLayout(width, height, sampling, scans, progressive)


def check_webp(data: bytes, max_pixels: int) -> None:
    """Check an extended WebP's canvas before Pillow opens it.

    Opening an animated WebP creates libwebp's animation decoder, which allocates two
    canvas-sized RGBA buffers besides Pillow's own image (measured: a 174-byte file
    claiming a 6000 x 6000 canvas took 586 MB), so the caps must hold before opening.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8X":
        return
    width = 1 + int.from_bytes(data[24:27], "little")
    height = 1 + int.from_bytes(data[27:30], "little")
    check_dimensions(width, height, max_pixels)
    animated = bool(data[20] & _WEBP_ANIMATION)
    if animated:
        check_budget(width, height, "RGBA", extra=2 * width * height * 4)


def check_jpeg(data: bytes) -> JpegLayout | None:
    """Refuse a JPEG with more scans than :data:`MAX_JPEG_SCANS`; its layout otherwise."""
    layout = jpeg_layout(data)
    if layout is not None and layout.scans > MAX_JPEG_SCANS:
        raise ImageBomb(
            f"the JPEG has {layout.scans} scans; at most {MAX_JPEG_SCANS} are decoded",
            reason="too many scans",
        )
    return layout
