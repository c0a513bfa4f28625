"""A retry pass must not return a text the code does not hold (issue 12, "a wrong QR text").

Sharpening, denoising and rescaling bend the pixels; a code damaged past its error
correction can then be "corrected" into another valid text. Retry reads are returned
only with a safe error-correction margin (or, for engines that report none, when two
readings agree).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from qr_support import miscorrected

from suolink.qr import decode, encode
from suolink.qr.decoder import SAFE_MARGIN, _scan
from suolink.qr.engines import Found, select_engines

TRUTH = "https://suo.run/pay/alice"
WRONG = "https://suo.run/pay/mallo"


def test_retry_pass_does_not_return_a_miscorrected_text() -> None:
    photo = miscorrected(TRUTH, WRONG)
    zxing = select_engines("zxing-cpp")[0]
    # The premise: the plain pass reads nothing, a sharpened copy reads the wrong text
    # having spent all of its error correction.
    assert zxing.read(photo) == []
    assert decode(photo, retry=False) == []
    got = decode(photo)
    assert WRONG not in got
    assert got == []


def test_the_same_damage_in_several_passes_is_still_not_trusted() -> None:
    # At this size sharpen, shrink and upscale all read the same wrong text at margin 0:
    # agreement between passes is no proof when the damage is in the code itself.
    photo = miscorrected(TRUTH, WRONG, box=8, blur=2.5)
    assert decode(photo, retry=False) == []
    assert decode(photo) == []


def test_the_engine_reports_the_spent_error_correction() -> None:
    crisp = miscorrected(TRUTH, WRONG, blur=0)
    (found,) = select_engines("zxing-cpp")[0].read(crisp)
    assert found.text == WRONG
    assert found.margin == 0.0
    clean = Image.open(io.BytesIO(encode(TRUTH, scale=6))).convert("L")
    (clean_found,) = select_engines("zxing-cpp")[0].read(clean)
    assert clean_found.margin == 1.0


class _Scripted:
    """An engine that answers from a script, one entry per call (a stand-in for pyzbar etc.)."""

    name = "scripted"

    def __init__(self, answers: list[list[Found]]) -> None:
        self.answers = answers

    def read(self, image: Image.Image) -> list[Found]:
        return self.answers.pop(0) if self.answers else []


def _found(text: str, margin: float | None) -> Found:
    return Found(text, 10, 10, 50, 50, margin=margin)


@pytest.fixture
def gray() -> Image.Image:
    return Image.new("L", (300, 300), 255)


def test_retry_reads_are_trusted_with_a_safe_margin(gray: Image.Image) -> None:
    engine = _Scripted([[], [_found(TRUTH, SAFE_MARGIN)]])
    assert [f.text for f in _scan(gray, [engine], retry=True)] == [TRUTH]


def test_retry_reads_below_the_margin_are_dropped_even_when_repeated(gray: Image.Image) -> None:
    engine = _Scripted([[]] + [[_found(WRONG, 0.0)]] * 8)
    assert _scan(gray, [engine], retry=True) == []


def test_a_later_safe_reading_confirms_an_earlier_unsafe_one(gray: Image.Image) -> None:
    engine = _Scripted([[], [_found(TRUTH, 0.1)], [_found(TRUTH, 0.9)]])
    assert [f.text for f in _scan(gray, [engine], retry=True)] == [TRUTH]


def test_engines_without_a_margin_need_two_readings(gray: Image.Image) -> None:
    once = _Scripted([[], [_found(TRUTH, None)]])
    assert _scan(gray, [once], retry=True) == []
    twice = _Scripted([[], [_found(TRUTH, None)], [_found(TRUTH, None)]])
    assert [f.text for f in _scan(gray, [twice], retry=True)] == [TRUTH]


def test_the_plain_pass_is_taken_as_the_engine_reads_it(gray: Image.Image) -> None:
    engine = _Scripted([[_found(TRUTH, 0.0)]])
    assert [f.text for f in _scan(gray, [engine], retry=True)] == [TRUTH]


def test_a_pass_with_one_unconfirmed_code_is_not_returned_whole(gray: Image.Image) -> None:
    engine = _Scripted([[], [_found(TRUTH, 0.9), _found(WRONG, 0.0)]])
    assert [f.text for f in _scan(gray, [engine], retry=True)] == [TRUTH]


def _photo_folders() -> list[Path]:
    return [Path(p) for p in os.environ.get("SUOLINK_QR_PHOTOS", "").split(os.pathsep) if p]


@pytest.mark.slow
@pytest.mark.skipif(
    not any(p.is_dir() for p in _photo_folders()),
    reason="set SUOLINK_QR_PHOTOS to folders of real photos with .txt truths (not committed)",
)
def test_public_photos_give_no_wrong_text() -> None:
    # zxing's blackbox qrcode-2/13.png: pyzbar on the 3x shrink read "photography" for
    # "photograph" before retry reads had to be confirmed.
    wrong = []
    for folder in _photo_folders():
        for image in sorted(folder.rglob("*")):
            truth = image.with_suffix(".txt")
            if image.suffix.lower() not in (".png", ".jpg", ".webp") or not truth.exists():
                continue
            got = decode(image)
            if got and truth.read_bytes().decode("utf-8", "replace") not in got:
                wrong.append(f"{image}: {got!r}")
    assert not wrong, wrong
