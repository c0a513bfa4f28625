"""QR decoding engines behind one small protocol, chosen by what is installed.

zxing-cpp (wheels, no system library) is tried first; pyzbar follows when it imports and
its system library ``libzbar0`` loads. Engines only read; preprocessing and ordering
live in :mod:`suolink.qr.decoder`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ConfigurationError, MissingDependencyError
from ._deps import optional

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "Found",
    "PyzbarEngine",
    "ZxingEngine",
    "available_engines",
    "repair_mojibake",
    "select_engines",
]

#: Engines in preference order (measured: zxing-cpp reads more, and faster).
ENGINE_NAMES = ("zxing-cpp", "pyzbar")


@dataclass(frozen=True, slots=True)
class Found:
    """One code read from an image: its text, bounding box in pixels, and error margin.

    ``margin`` is the share of the code's error correction left unused, 0 to 1 (zxing-cpp
    reports it; ``None`` when the engine does not). A misread that the Reed-Solomon
    decoder "corrects" into another valid text spends nearly all of it.
    """

    text: str
    left: float
    top: float
    right: float
    bottom: float
    margin: float | None = None


@runtime_checkable
class Engine(Protocol):
    """Reads every QR code in a grayscale (``L``) PIL image."""

    name: str

    def read(self, image: Image.Image) -> list[Found]:
        """All codes found, in any order; an empty list when none."""
        ...


def _box(points: Sequence[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


class ZxingEngine:
    """zxing-cpp: the most robust and fastest reader measured here."""

    name = "zxing-cpp"

    def __init__(self, module: Any) -> None:
        self._zx = module
        self._formats = module.BarcodeFormat.QRCode

    def read(self, image: Image.Image) -> list[Found]:
        """Read with zxing-cpp's own rotate/invert/downscale search; text is returned unmangled."""
        zx = self._zx
        results = zx.read_barcodes(image, formats=self._formats, text_mode=zx.TextMode.Plain)
        found = []
        for result in results:
            pos = result.position
            corners = [
                (pos.top_left.x, pos.top_left.y),
                (pos.top_right.x, pos.top_right.y),
                (pos.bottom_left.x, pos.bottom_left.y),
                (pos.bottom_right.x, pos.bottom_right.y),
            ]
            found.append(Found(result.text, *_box(corners), margin=_unused_correction(result)))
        return found


def _unused_correction(result: Any) -> float | None:
    """zxing-cpp's ``UEC`` extra (unused error correction, 0..1), if this version has it."""
    extra = getattr(result, "extra", None)
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return None
    if not isinstance(extra, dict):
        return None
    value = extra.get("UEC")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def repair_mojibake(text: str) -> str | None:
    """Undo zbar's Shift-JIS/Latin-1 misreading of UTF-8 bytes; ``None`` if the text is damaged.

    zbar guesses a charset for byte-mode data without an ECI header and often picks
    Shift-JIS for UTF-8 payloads. When the guessed text turns back into bytes that are
    valid multi-byte UTF-8, UTF-8 was meant (the reading zxing-cpp also prefers).
    """
    if "\ufffd" in text:
        return None
    if text.isascii():
        return text
    for charset in ("shift_jis", "cp932", "latin-1"):
        try:
            raw = text.encode(charset)
        except UnicodeEncodeError:
            continue
        if raw.isascii():
            continue
        try:
            repaired = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if repaired != text:
            return repaired
    return text


class PyzbarEngine:
    """pyzbar over libzbar: the design card's engine; its charset guesses are repaired here."""

    name = "pyzbar"

    def __init__(self, module: Any) -> None:
        self._pyzbar = module
        self._symbols = [module.ZBarSymbol.QRCODE]

    def read(self, image: Image.Image) -> list[Found]:
        """Read with zbar; text that is unrecoverable mojibake is dropped, never returned."""
        found = []
        for result in self._pyzbar.decode(image, symbols=self._symbols):
            try:
                text = bytes(result.data).decode("utf-8")
            except UnicodeDecodeError:
                continue
            repaired = repair_mojibake(text)
            if repaired is None:
                continue
            rect = result.rect
            found.append(
                Found(repaired, rect.left, rect.top, rect.left + rect.width, rect.top + rect.height)
            )
        return found


@functools.cache
def available_engines() -> tuple[Engine, ...]:
    """The engines usable in this process, best first (empty if none is installed)."""
    engines: list[Engine] = []
    zxing = optional("zxingcpp")
    if zxing is not None:
        engines.append(ZxingEngine(zxing))
    pyzbar = optional("pyzbar.pyzbar")
    if pyzbar is not None:
        engines.append(PyzbarEngine(pyzbar))
    return tuple(engines)


def select_engines(names: str | Sequence[str] | None = None) -> tuple[Engine, ...]:
    """The installed engines, or only those named (in the order given)."""
    engines = available_engines()
    if names is None:
        if not engines:
            raise MissingDependencyError("QR decoding", "qr", module="zxingcpp")
        return engines
    wanted = [names] if isinstance(names, str) else list(names)
    by_name = {engine.name: engine for engine in engines}
    chosen = []
    for name in wanted:
        if name not in ENGINE_NAMES:
            raise ConfigurationError(
                f"unknown QR engine {name!r}; known engines: {', '.join(ENGINE_NAMES)}"
            )
        if name not in by_name:
            module = "zxingcpp" if name == "zxing-cpp" else "pyzbar (with libzbar0)"
            raise MissingDependencyError(f"the {name} QR engine", "qr", module=module)
        chosen.append(by_name[name])
    if not chosen:
        raise ConfigurationError("no QR engine named")
    return tuple(chosen)
