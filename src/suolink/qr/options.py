"""Validation of QR drawing options, shared by :func:`encode`, the cache and HTTP query strings.

Pure Python on purpose: the HTTP layer can refuse bad options before anything heavy is
imported, and every refusal is :class:`~suolink.errors.InvalidOption` with plain words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from ..errors import InvalidOption

__all__ = [
    "DEFAULT_SCALE",
    "MAX_BORDER",
    "MAX_SCALE",
    "MAX_SIDE",
    "MIN_CONTRAST",
    "MIN_SIZE",
    "ErrorCorrection",
    "ImageFormat",
    "QROptions",
    "contrast_ratio",
    "parse_colour",
    "parse_options",
    "validate_options",
]

ImageFormat = Literal["png", "svg"]
ErrorCorrection = Literal["L", "M", "Q", "H"]

DEFAULT_SCALE: Final = 10
MAX_SCALE: Final = 64
MIN_SIZE: Final = 21
#: Largest width/height in pixels of a drawn code; bounds memory and CPU per request.
MAX_SIDE: Final = 4096
MAX_BORDER: Final = 16
#: WCAG contrast ratio below which phone scanners start to miss codes.
MIN_CONTRAST: Final = 3.0

_FORMATS: Final = ("png", "svg")
_LEVELS: Final = ("L", "M", "Q", "H")
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_INT = re.compile(r"[0-9]{1,6}")
#: CSS basic colour keywords; anything else must be written in hex.
_NAMED: Final = {
    "black": "#000000",
    "white": "#ffffff",
    "gray": "#808080",
    "grey": "#808080",
    "silver": "#c0c0c0",
    "maroon": "#800000",
    "red": "#ff0000",
    "purple": "#800080",
    "fuchsia": "#ff00ff",
    "green": "#008000",
    "lime": "#00ff00",
    "olive": "#808000",
    "yellow": "#ffff00",
    "navy": "#000080",
    "blue": "#0000ff",
    "teal": "#008080",
    "aqua": "#00ffff",
}
TRANSPARENT: Final = "transparent"

#: Query-string names accepted by :func:`parse_options`, mapped to ``encode`` keywords.
_QUERY_NAMES: Final = {
    "format": "format",
    "scale": "scale",
    "size": "size",
    "border": "border",
    "ec": "error_correction",
    "level": "error_correction",
    "error_correction": "error_correction",
    "fg": "fg",
    "bg": "bg",
}


@dataclass(frozen=True, slots=True)
class QROptions:
    """Normalised drawing options; hashable, so it doubles as a cache key part."""

    format: ImageFormat = "png"
    scale: int | None = None
    size: int | None = None
    border: int = 4
    error_correction: ErrorCorrection = "M"
    fg: str = "#000000"
    bg: str = "#ffffff"

    @property
    def transparent(self) -> bool:
        """True when the background is left transparent."""
        return self.bg == TRANSPARENT

    def as_dict(self) -> dict[str, Any]:
        """The options as ``encode`` keyword arguments."""
        return {
            "format": self.format,
            "scale": self.scale,
            "size": self.size,
            "border": self.border,
            "error_correction": self.error_correction,
            "fg": self.fg,
            "bg": self.bg,
        }


def parse_colour(option: str, value: object, *, allow_transparent: bool = False) -> str:
    """``#rgb``, ``#rrggbb`` (``#`` optional) or a CSS basic name, as lowercase ``#rrggbb``."""
    if not isinstance(value, str):
        raise InvalidOption(option, "a colour must be a string such as '#000000'")
    text = value.strip().lower()
    if allow_transparent and text == TRANSPARENT:
        return TRANSPARENT
    if text in _NAMED:
        return _NAMED[text]
    match = _HEX.fullmatch(text)
    if match is None:
        extra = ", or 'transparent'" if allow_transparent else ""
        raise InvalidOption(
            option, f"{value[:40]!r} is not a colour; use '#rrggbb', '#rgb', a CSS name{extra}"
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(colour)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (a transparent background counts as white)."""
    light = _luminance("#ffffff" if bg == TRANSPARENT else bg)
    dark = _luminance(fg)
    hi, lo = max(light, dark), min(light, dark)
    return (hi + 0.05) / (lo + 0.05)


def _int_option(option: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(option, "must be a whole number")
    if not low <= value <= high:
        raise InvalidOption(option, f"must be between {low} and {high}, got {value}")
    return value


def validate_options(
    *,
    format: object = "png",
    scale: object = None,
    size: object = None,
    border: object = 4,
    error_correction: object = "M",
    fg: object = "#000000",
    bg: object = "#ffffff",
) -> QROptions:
    """Check every option and return them normalised; raise InvalidOption on the first bad one."""
    if not isinstance(format, str) or format.lower() not in _FORMATS:
        raise InvalidOption("format", "must be 'png' or 'svg'")
    fmt = cast(ImageFormat, format.lower())
    if scale is not None and size is not None:
        raise InvalidOption("size", "give either scale or size, not both")
    scale_value = None if scale is None else _int_option("scale", scale, 1, MAX_SCALE)
    size_value = None if size is None else _int_option("size", size, MIN_SIZE, MAX_SIDE)
    border_value = _int_option("border", border, 0, MAX_BORDER)
    if not isinstance(error_correction, str) or error_correction.upper() not in _LEVELS:
        raise InvalidOption("error_correction", "must be one of L, M, Q, H")
    level = cast(ErrorCorrection, error_correction.upper())
    fg_value = parse_colour("fg", fg)
    bg_value = parse_colour("bg", bg, allow_transparent=True)
    light = "#ffffff" if bg_value == TRANSPARENT else bg_value
    if _luminance(fg_value) >= _luminance(light):
        raise InvalidOption("fg", "the foreground must be darker than the background")
    ratio = contrast_ratio(fg_value, bg_value)
    if ratio < MIN_CONTRAST:
        raise InvalidOption(
            "fg", f"too little contrast with the background ({ratio:.1f}:1, need {MIN_CONTRAST}:1)"
        )
    return QROptions(fmt, scale_value, size_value, border_value, level, fg_value, bg_value)


def parse_options(query: Mapping[str, str], *, ignore_unknown: bool = False) -> dict[str, Any]:
    """Turn query-string options (``?size=300&fg=1a1a1a&ec=H``) into ``encode`` keywords.

    Names: ``format``, ``scale``, ``size``, ``border``, ``ec`` (or ``level``,
    ``error_correction``), ``fg``, ``bg``. Raises InvalidOption for unknown names
    (unless ``ignore_unknown``) and bad values; the result passes :func:`validate_options`.
    """
    raw: dict[str, object] = {}
    for name, value in query.items():
        key = _QUERY_NAMES.get(name)
        if key is None:
            if ignore_unknown:
                continue
            known = ", ".join(sorted(_QUERY_NAMES))
            raise InvalidOption(str(name)[:40], f"unknown QR option; known options: {known}")
        if not isinstance(value, str):
            raise InvalidOption(key, "must be given as text")
        if key in raw:
            raise InvalidOption(key, "given more than once")
        if key in ("scale", "size", "border"):
            text = value.strip()
            if not _INT.fullmatch(text):
                raise InvalidOption(key, f"{value[:20]!r} is not a whole number")
            raw[key] = int(text)
        else:
            raw[key] = value.strip()
    options = validate_options(**raw)
    return {key: getattr(options, key) for key in raw}
