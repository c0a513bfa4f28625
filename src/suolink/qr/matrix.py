"""Text to a QR module matrix with qrcode, adding the UTF-8 ECI header qrcode lacks.

ASCII text uses qrcode's own mode optimisation (numeric/alphanumeric/byte). Any other
text is written as one byte-mode segment behind ECI 26 (UTF-8): the one form every
decoder tested here reads back exactly, where bare UTF-8 bytes come back from zbar as
Shift-JIS mojibake.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import QREncodeError
from ._deps import require
from .options import ErrorCorrection

__all__ = ["MAX_TEXT_LENGTH", "Matrix", "build_matrix"]

Matrix = list[list[bool]]

#: More characters than the largest code holds in any mode; refused before any work.
MAX_TEXT_LENGTH: Final = 7089
_ECI_MODE: Final = 0b0111
_ECI_UTF8: Final = 26


def _level(qrcode: Any, level: ErrorCorrection) -> int:
    constants = qrcode.constants
    levels: dict[str, int] = {
        "L": constants.ERROR_CORRECT_L,
        "M": constants.ERROR_CORRECT_M,
        "Q": constants.ERROR_CORRECT_Q,
        "H": constants.ERROR_CORRECT_H,
    }
    return levels[level]


def _too_long(length: int, level: ErrorCorrection) -> QREncodeError:
    return QREncodeError(
        f"the text ({length} bytes) is too long for a QR code at error correction {level}",
        reason="text too long",
    )


def _eci_code(qrcode: Any, data: bytes, level: int, name: ErrorCorrection) -> Any:
    """A QRCode holding ``ECI 26 + byte segment``, built through qrcode's own RS and masking."""
    util = require("qrcode.util")
    base = require("qrcode.base")
    for version in range(1, 41):
        blocks = base.rs_blocks(version, level)
        limit = sum(block.data_count * 8 for block in blocks)
        count_bits = util.length_in_bits(util.MODE_8BIT_BYTE, version)
        if 12 + 4 + count_bits + 8 * len(data) <= limit:
            break
    else:
        raise _too_long(len(data), name)
    buffer = util.BitBuffer()
    buffer.put(_ECI_MODE, 4)
    buffer.put(_ECI_UTF8, 8)
    buffer.put(util.MODE_8BIT_BYTE, 4)
    buffer.put(len(data), count_bits)
    for byte in data:
        buffer.put(byte, 8)
    for _ in range(min(limit - len(buffer), 4)):  # terminator
        buffer.put_bit(False)
    while len(buffer) % 8:
        buffer.put_bit(False)
    for i in range((limit - len(buffer)) // 8):
        buffer.put(util.PAD0 if i % 2 == 0 else util.PAD1, 8)
    code = qrcode.QRCode(version=version, error_correction=level, border=0)
    code.data_cache = util.create_bytes(buffer, blocks)
    code.makeImpl(False, code.best_mask_pattern())
    return code


def build_matrix(text: str, error_correction: ErrorCorrection) -> Matrix:
    """The code's modules (True = dark), without quiet zone; QREncodeError if it cannot be made."""
    if not isinstance(text, str):
        raise QREncodeError("the text to encode must be a string", reason="not text")
    if not text:
        raise QREncodeError("there is no text to encode", reason="empty text")
    if len(text) > MAX_TEXT_LENGTH:
        raise _too_long(len(text), error_correction)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QREncodeError(
            "the text contains characters that cannot be encoded (unpaired surrogates)",
            reason="bad text",
        ) from exc
    qrcode = require("qrcode")
    level = _level(qrcode, error_correction)
    if text.isascii():
        code = qrcode.QRCode(error_correction=level, border=0)
        code.add_data(text)
        try:
            code.make(fit=True)
        except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
            raise _too_long(len(data), error_correction) from exc
    else:
        code = _eci_code(qrcode, data, level, error_correction)
    return [[bool(cell) for cell in row] for row in code.modules]
