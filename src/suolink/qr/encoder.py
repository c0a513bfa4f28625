"""``encode(text, …) -> bytes``: a QR code as PNG or SVG, optionally with a centred logo.

A logo hides modules, so it forces error correction H, is tried at shrinking sizes,
and the drawing is decoded before it is returned: a code that would not scan is an
error here, not a surprise on somebody's phone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, TypeAlias

from ..errors import ConfigurationError, QREncodeError, SuolinkError
from .decoder import decode
from .images import open_image
from .matrix import Matrix, build_matrix
from .options import ErrorCorrection, ImageFormat, QROptions, validate_options
from .render import layout, render_image, render_png, render_svg, terminal_lines

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "LOGO_MAX_BYTES",
    "LOGO_RATIOS",
    "LogoSource",
    "encode",
    "encode_options",
    "render_terminal",
]

LogoSource: TypeAlias = "bytes | str | os.PathLike[str] | Image.Image"

#: Logo sides tried, as a fraction of the code's width, largest first.
LOGO_RATIOS: Final = (0.30, 0.24, 0.18)
LOGO_MAX_BYTES: Final = 5_000_000
LOGO_MAX_PIXELS: Final = 16_000_000
#: Pixels per module used to check an SVG's scannability (its size is only nominal).
_SVG_CHECK_SCALE: Final = 6


def _load_logo(logo: LogoSource) -> Image.Image:
    try:
        image = open_image(logo, max_bytes=LOGO_MAX_BYTES, max_pixels=LOGO_MAX_PIXELS)
        return image.convert("RGBA")
    except SuolinkError as exc:
        raise QREncodeError(f"the logo cannot be used: {exc}", reason="bad logo") from exc
    except Exception as exc:  # conversion of an odd mode
        raise QREncodeError(f"the logo cannot be used: {exc}", reason="bad logo") from exc


def _logo_modules(modules: int, ratio: float) -> int:
    """A box of about ``ratio`` of the width, with the same parity as the code so it centres."""
    size = max(3, round(modules * ratio))
    if (modules - size) % 2:
        size -= 1
    return size


def _clear(matrix: Matrix, size: int) -> Matrix:
    start = (len(matrix) - size) // 2
    cleared = [row[:] for row in matrix]
    for y in range(start, start + size):
        for x in range(start, start + size):
            cleared[y][x] = False
    return cleared


def _scans(image: Image.Image, text: str) -> bool:
    try:
        return decode(image) == [text]
    except SuolinkError:
        return False


def encode_options(text: str, options: QROptions, logo: LogoSource | None = None) -> bytes:
    """Draw ``text`` with already validated options (the cache's entry point)."""
    if logo is None:
        matrix = build_matrix(text, options.error_correction)
        box = layout(len(matrix), options)
        if options.format == "svg":
            return render_svg(matrix, box, options, None)
        return render_png(render_image(matrix, box, options, None))

    logo_image = _load_logo(logo)
    if options.error_correction != "H":
        options = QROptions(**{**options.as_dict(), "error_correction": "H"})
    full = build_matrix(text, "H")
    n = len(full)
    check = options
    if options.format == "svg":
        check = QROptions(**{**options.as_dict(), "size": None, "scale": _SVG_CHECK_SCALE})
    for ratio in LOGO_RATIOS:
        modules = _logo_modules(n, ratio)
        matrix = _clear(full, modules)
        drawn = render_image(matrix, layout(n, check, logo_modules=modules), check, logo_image)
        if not _scans(drawn, text):
            continue
        box = layout(n, options, logo_modules=modules)
        if options.format == "svg":
            return render_svg(matrix, box, options, logo_image)
        return render_png(drawn)
    raise QREncodeError(
        "the code does not scan with this logo; use a larger size or scale, "
        "a shorter text, or a simpler logo",
        reason="does not scan",
    )


def encode(
    text: str,
    *,
    format: ImageFormat = "png",
    scale: int | None = None,
    size: int | None = None,
    border: int = 4,
    error_correction: ErrorCorrection = "M",
    fg: str = "#000000",
    bg: str = "#ffffff",
    logo: LogoSource | None = None,
) -> bytes:
    """``text`` as a QR code image (PNG or SVG bytes).

    ``scale`` is pixels per module (default 10); ``size`` instead asks for an exact
    width in pixels. ``bg`` may be ``"transparent"``. A ``logo`` (bytes, path or PIL
    image) is centred, forces level H and is checked to scan. Non-ASCII text is
    written as UTF-8 with an ECI header. Raises InvalidOption or QREncodeError.
    """
    options = validate_options(
        format=format,
        scale=scale,
        size=size,
        border=border,
        error_correction=error_correction,
        fg=fg,
        bg=bg,
    )
    return encode_options(text, options, logo)


def render_terminal(
    text: str,
    *,
    border: int = 2,
    invert: bool = True,
    error_correction: ErrorCorrection = "M",
) -> str:
    """The code as Unicode half blocks for a terminal, one line per two module rows.

    ``invert`` (the default) suits dark terminals: light modules are drawn.
    """
    options = validate_options(border=border, error_correction=error_correction)
    if not isinstance(invert, bool):
        raise ConfigurationError("invert must be True or False")
    matrix = build_matrix(text, options.error_correction)
    return "\n".join(terminal_lines(matrix, border=options.border, invert=invert)) + "\n"
