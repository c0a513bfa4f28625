"""Hostile uploads (issue 12, "denial of service through uploads and images").

Every image of ``hostile_images.py`` is decoded in a fresh interpreter whose address
space is capped at 400 MB: a decoder that needs more dies there (today's thin PNG
needed 1.7 GB). Outcomes are asserted, never times: speed is in
``benchmarks/bench_hostile_images.py``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import hostile_images
import pytest
from hostile_images import REFUSED, Case
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.shared_files import shared_directory

from suolink.errors import ImageTooLarge, QRDecodeError
from suolink.qr import decode, encode
from suolink.qr.images import load_grayscale, to_grayscale
from suolink.qr.limits import (
    DECODE_BUDGET,
    MAX_ASPECT,
    MAX_IMAGE_SIDE,
    MAX_JPEG_SCANS,
    ImageBomb,
    check_dimensions,
    jpeg_layout,
)

ADDRESS_SPACE_MB = 400
SRC = Path(__file__).resolve().parents[2] / "src"

#: Decode one file under RLIMIT_AS and print the outcome as JSON.
CHILD = r"""
import json, resource, sys
limit = int(sys.argv[2]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from suolink.errors import SuolinkError
from suolink.qr import decode
try:
    print(json.dumps({"result": decode(sys.argv[1])}))
except SuolinkError as exc:
    kinds = [k.__name__ for k in type(exc).__mro__]
    print(json.dumps({"error": kinds, "status": exc.http_status, "reason": exc.reason}))
"""


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Case], Path]:
    """A case's file, built once per run by the first xdist worker that needs it, under
    that case's own lock: the workers build different cases at the same time (one lock
    for them all had the other worker wait 11 s for every case to be built)."""

    def build(case: Case) -> Path:
        with shared_directory(tmp_path_factory, f"hostile-{case.name}") as (directory, _):
            return hostile_images.generate(directory, (case,))[case.name]  # if not there yet

    return build


def _decode_in_child(path: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(ADDRESS_SPACE_MB)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [hostile_images.BASELINE, *hostile_images.CASES], ids=lambda c: c.name
)
def test_hostile_upload_is_answered_within_400_mb(
    case: Case, hostile: Callable[[Case], Path]
) -> None:
    path = hostile(case)
    assert path.stat().st_size <= 10_000_000  # api.DEFAULT_MAX_UPLOAD
    answer = _decode_in_child(path)
    if case.expected == REFUSED:
        assert "ImageTooLarge" in answer.get("error", []), answer  # type: ignore[operator]
        assert answer["status"] == 413
    elif case.expected is None:
        assert "result" in answer or "QRDecodeError" in answer["error"], answer  # type: ignore[operator]
    else:
        assert answer == {"result": case.expected}


def test_progressive_jpeg_with_thousands_of_scans_is_refused_from_its_bytes() -> None:
    image = Image.new("RGB", (64, 64), (90, 90, 90))
    out = io.BytesIO()
    image.save(out, format="JPEG", progressive=True)
    bomb = hostile_images.repeat_scans(out.getvalue(), 5000)
    layout = jpeg_layout(bomb)
    assert layout is not None
    assert layout.progressive
    assert layout.scans > 5000
    with pytest.raises(ImageBomb) as info:
        decode(bomb)
    assert info.value.reason == "too many scans"
    assert isinstance(info.value, ImageTooLarge)
    assert info.value.http_status == 413
    allowed = hostile_images.repeat_scans(out.getvalue(), MAX_JPEG_SCANS - 20)
    assert decode(allowed) == []


def test_scans_of_an_exif_thumbnail_are_not_counted() -> None:
    thumb = io.BytesIO()
    Image.new("RGB", (32, 32)).save(thumb, format="JPEG", progressive=True)
    thumbnail = hostile_images.repeat_scans(thumb.getvalue(), 500)
    app1 = b"Exif\x00\x00" + thumbnail[:60000]
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, format="JPEG", exif=app1)
    layout = jpeg_layout(out.getvalue())
    assert layout is not None
    assert layout.scans == 1


def test_thin_png_is_refused_before_its_pixels_are_decoded() -> None:
    with pytest.raises(ImageTooLarge):
        decode(hostile_images._thin_rgba())


@pytest.mark.parametrize(
    ("width", "height", "error"),
    [
        (1, 36_000_000, ImageTooLarge),
        (MAX_IMAGE_SIDE + 1, 100, ImageTooLarge),
        (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE // (MAX_ASPECT + 1), ImageBomb),
        (0, 10, QRDecodeError),
    ],
)
def test_dimension_caps(width: int, height: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_dimensions(width, height, 36_000_000)


def test_dimensions_at_the_caps_are_accepted() -> None:
    check_dimensions(MAX_IMAGE_SIDE, -(-MAX_IMAGE_SIDE // MAX_ASPECT), 36_000_000)
    check_dimensions(6000, 6000, 36_000_000)


def test_progressive_jpeg_over_the_coefficient_budget_is_refused() -> None:
    # 6000x6000 CMYK progressive: 288 MB of DCT coefficients before a pixel is out.
    data = hostile_images._cmyk_progressive()
    layout = jpeg_layout(data)
    assert layout is not None
    assert layout.coefficient_bytes() > DECODE_BUDGET
    with pytest.raises(ImageBomb) as info:
        decode(data)
    assert info.value.reason == "decode memory"


def test_jpeg_inside_tiff_is_refused() -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(encode("https://suo.run/t", scale=4))).convert("RGB").save(
        out, format="TIFF", compression="jpeg"
    )
    with pytest.raises(QRDecodeError) as info:
        decode(out.getvalue())
    assert info.value.reason == "unsupported compression"


def test_large_jpeg_is_decoded_at_a_reduced_scale_in_grey() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8000, 4000), (200, 10, 10)).save(out, format="JPEG", quality=50)
    gray = load_grayscale(out.getvalue(), work_side=2000)
    assert gray.mode == "L"
    assert max(gray.size) <= 2000


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "PA", "I;16", "I", "F", "CMYK", "1", "RGB"])
def test_banded_grayscale_matches_a_whole_image_conversion(mode: str) -> None:
    code = Image.open(io.BytesIO(encode("https://suo.run/band", scale=5))).convert("L")
    tall = Image.new("L", (code.width, code.height * 12), 255)
    for i in range(12):
        tall.paste(code, (0, i * code.height))
    if mode in ("RGBA", "LA", "PA"):
        source = tall.convert(mode)
        source.putalpha(Image.new("L", tall.size, 255))
    else:
        source = tall.convert(mode)
    gray = to_grayscale(source)
    assert gray.mode == "L"
    assert gray.size == tall.size
    assert gray.getextrema() == (0, 255)
    assert decode(gray) == ["https://suo.run/band"] * 12


def test_transparent_palette_png_is_flattened_without_rgba_copies() -> None:
    plte = hostile_images._chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255]))
    trns = hostile_images._chunk(b"tRNS", b"\x00")
    # 64x64 transparent (index 0, black) with a white square: reads as all white.
    rows = b"".join(b"\x00" + bytes(64) for _ in range(64))
    data = hostile_images._png(64, 64, 8, 3, __import__("zlib").compress(rows), plte, trns)
    gray = load_grayscale(data)
    assert gray.getextrema() == (255, 255)


def test_png_header_is_read_as_claimed() -> None:
    data = hostile_images._huge_header()
    assert struct.unpack(">II", data[16:24]) == (100_000, 100_000)
    with pytest.raises(ImageTooLarge):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_jpeg_marker_walk_never_raises(tail: bytes) -> None:
    layout = jpeg_layout(b"\xff\xd8" + tail)
    assert layout is None or layout.scans >= 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 600), st.binary(min_size=1, max_size=8))
def test_corrupted_progressive_jpegs_raise_only_typed_errors(at: int, junk: bytes) -> None:
    data = _small_progressive()
    at = at % len(data)
    corrupted = data[:at] + junk + data[at + len(junk) :]
    with contextlib.suppress(QRDecodeError, ImageTooLarge):
        assert isinstance(decode(corrupted), list)


def test_a_pil_image_in_an_unusual_mode_is_a_typed_error_or_read() -> None:
    code = Image.open(io.BytesIO(encode("https://suo.run/hsv", scale=4))).convert("RGB")
    with contextlib.suppress(QRDecodeError):
        assert decode(code.convert("HSV")) in ([], ["https://suo.run/hsv"])


@functools.cache
def _small_progressive() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(encode("https://suo.run/p", scale=4))).convert("RGB").save(
        out, format="JPEG", progressive=True
    )
    return out.getvalue()
