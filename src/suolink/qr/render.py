"""Drawing a module matrix: PNG through Pillow, SVG as text, and Unicode half blocks.

Layout (module scale, padding to an exact pixel size, the logo's box) is computed once
in :class:`Layout` so the PNG and SVG outputs of the same options agree pixel for pixel.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import quoteattr

from ..errors import QREncodeError
from ._deps import require
from .matrix import Matrix
from .options import DEFAULT_SCALE, MAX_SIDE, QROptions

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Layout", "layout", "render_png", "render_svg", "terminal_lines"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things go: pixels per module, quiet zone, padding, and the logo box in modules."""

    modules: int
    border: int
    scale: int
    pad_before: int
    side: int
    logo_modules: int = 0

    @property
    def origin(self) -> int:
        """Pixel offset of the first module (quiet zone plus padding)."""
        return self.pad_before + self.border * self.scale

    def logo_box(self) -> tuple[int, int, int, int] | None:
        """The logo's cleared square as (left, top, right, bottom) pixels, if there is one."""
        if not self.logo_modules:
            return None
        start = self.origin + (self.modules - self.logo_modules) // 2 * self.scale
        end = start + self.logo_modules * self.scale
        return start, start, end, end


def layout(modules: int, options: QROptions, *, logo_modules: int = 0) -> Layout:
    """Fit ``modules`` plus the quiet zone to ``options.size`` or ``options.scale``."""
    total = modules + 2 * options.border
    if options.size is not None:
        scale = options.size // total
        if scale < 1:
            raise QREncodeError(
                f"size {options.size} px is too small for this code: it needs at least "
                f"{total} px ({modules} modules plus the border)",
                reason="size too small",
            )
        side = options.size
    else:
        scale = options.scale or DEFAULT_SCALE
        side = scale * total
        if side > MAX_SIDE:
            raise QREncodeError(
                f"the code would be {side} px wide, over the {MAX_SIDE} px limit; "
                "use a smaller scale",
                reason="too large",
            )
    pad_before = (side - scale * total) // 2
    return Layout(modules, options.border, scale, pad_before, side, logo_modules)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _module_mask(matrix: Matrix, box: Layout) -> Image.Image:
    """An ``L`` image at pixel size, 255 where a module is dark."""
    pil = require("PIL.Image")
    n = box.modules
    small = pil.new("L", (n, n), 0)
    small.putdata([255 if cell else 0 for row in matrix for cell in row])
    big = small.resize((n * box.scale, n * box.scale), pil.Resampling.NEAREST)
    mask: Image.Image = pil.new("L", (box.side, box.side), 0)
    mask.paste(big, (box.origin, box.origin))
    return mask


def render_image(
    matrix: Matrix, box: Layout, options: QROptions, logo: Image.Image | None
) -> Image.Image:
    """The code as a PIL image: ``1`` for black on white, ``P`` for two other colours, else RGB(A).

    Without a logo a code has two colours: a 1-bit palette image is a quarter of the
    memory of RGB and an eighth of the PNG work, so a 4096 px drawing costs tens of
    milliseconds whatever the colours (an RGB one took 0.4 s).
    """
    pil = require("PIL.Image")
    mask = _module_mask(matrix, box)
    if logo is None:
        return _two_colours(mask, options)
    if options.transparent:
        canvas: Image.Image = pil.new("RGBA", (box.side, box.side), (255, 255, 255, 0))
        canvas.paste((*_rgb(options.fg), 255), (0, 0), mask)
    else:
        canvas = pil.new("RGB", (box.side, box.side), _rgb(options.bg))
        canvas.paste(_rgb(options.fg), (0, 0), mask)
    if logo is not None:
        _paste_logo(canvas, box, logo)
    return canvas


def _two_colours(mask: Image.Image, options: QROptions) -> Image.Image:
    """Index 0 the background (transparent if asked), index 1 the modules."""
    if options.fg == "#000000" and options.bg == "#ffffff":
        pil = require("PIL.Image")
        inverted = mask.point(lambda v: 0 if v else 255)
        plain: Image.Image = inverted.convert("1", dither=pil.Dither.NONE)
        return plain
    indexed: Image.Image = mask.point(lambda v: 1 if v else 0)
    background = (255, 255, 255) if options.transparent else _rgb(options.bg)
    indexed.putpalette([*background, *_rgb(options.fg)])
    if options.transparent:
        indexed.info["transparency"] = 0
    return indexed


def _fit_logo(logo: Image.Image, box: Layout) -> tuple[Image.Image, tuple[int, int]] | None:
    """The logo scaled into its box (keeping aspect, one module of margin) and its position."""
    area = box.logo_box()
    if area is None:
        return None
    pil = require("PIL.Image")
    left, top, right, _ = area
    inner = max(1, right - left - 2 * box.scale)
    fitted = logo.convert("RGBA")
    ratio = min(inner / fitted.width, inner / fitted.height)
    size = (max(1, round(fitted.width * ratio)), max(1, round(fitted.height * ratio)))
    fitted = fitted.resize(size, pil.Resampling.LANCZOS)
    span = right - left
    return fitted, (left + (span - size[0]) // 2, top + (span - size[1]) // 2)


def _paste_logo(canvas: Image.Image, box: Layout, logo: Image.Image) -> None:
    placed = _fit_logo(logo, box)
    if placed is None:
        return
    fitted, (x, y) = placed
    if canvas.mode == "RGBA":
        canvas.alpha_composite(fitted, (x, y))
    else:
        canvas.paste(fitted, (x, y), fitted)


def render_png(image: Image.Image) -> bytes:
    """PNG bytes of a rendered code, optimised for size (codes compress very well)."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_svg(matrix: Matrix, box: Layout, options: QROptions, logo: Image.Image | None) -> bytes:
    """A standalone SVG: one path of dark module runs, an optional embedded PNG logo."""
    s = box.scale
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        n = len(row)
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            px = box.origin + start * s
            py = box.origin + y * s
            parts.append(f"M{px} {py}h{(x - start) * s}v{s}h-{(x - start) * s}z")
    side = box.side
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">',
    ]
    if not options.transparent:
        lines.append(f'<rect width="{side}" height="{side}" fill={quoteattr(options.bg)}/>')
    lines.append(f'<path fill={quoteattr(options.fg)} d="{"".join(parts)}"/>')
    placed = _fit_logo(logo, box) if logo is not None else None
    if placed is not None:
        fitted, (x, y) = placed
        data = base64.b64encode(render_png(fitted)).decode("ascii")
        lines.append(
            f'<image x="{x}" y="{y}" width="{fitted.width}" height="{fitted.height}" '
            f'href="data:image/png;base64,{data}"/>'
        )
    lines.append("</svg>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def terminal_lines(matrix: Matrix, *, border: int, invert: bool) -> list[str]:
    """Rows of Unicode half blocks, two modules tall per line.

    With ``invert`` (for dark terminals) the light modules are drawn, so the code reads
    dark-on-light on screen; without it the dark modules are drawn.
    """
    n = len(matrix)
    size = n + 2 * border

    def dark(y: int, x: int) -> bool:
        inside = border <= y < border + n and border <= x < border + n
        return inside and matrix[y - border][x - border]

    def ink(y: int, x: int) -> bool:
        if y >= size:
            return False
        return dark(y, x) != invert

    chars = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    return [
        "".join(chars[(ink(y, x), ink(y + 1, x))] for x in range(size)) for y in range(0, size, 2)
    ]
