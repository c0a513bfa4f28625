"""decode(): input kinds, reading order, transparency, and hostile input."""

from __future__ import annotations

import contextlib
import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qr_support import needs_pyzbar

from suolink.errors import ConfigurationError, ImageTooLarge, QRDecodeError
from suolink.qr import Engine, available_engines, decode, encode
from suolink.qr.engines import repair_mojibake

URL = "https://suo.run/Ab3dE"


@pytest.fixture(scope="module")
def png() -> bytes:
    return encode(URL, scale=6)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels but carries (almost) no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_every_input_kind(png: bytes, tmp_path: Path) -> None:
    path = tmp_path / "code.png"
    path.write_bytes(png)
    image = Image.open(io.BytesIO(png))
    image.load()
    sources: list[object] = [
        png,
        bytearray(png),
        memoryview(png),
        path,
        str(path),
        io.BytesIO(png),
        image,
        image.convert("RGB"),
        image.convert("P"),
        image.convert("I;16"),
        image.convert("CMYK"),
    ]
    for source in sources:
        assert decode(source) == [URL], type(source)  # type: ignore[arg-type]
    with path.open("rb") as handle:
        assert decode(handle) == [URL]


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_common_formats(png: bytes, fmt: str) -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB" if fmt == "JPEG" else "L").save(out, format=fmt)
    assert decode(out.getvalue()) == [URL]


def test_no_code_is_an_empty_list() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (120, 200, 30)).save(out, format="PNG")
    assert decode(out.getvalue()) == []


def test_transparent_black_background_is_flattened_onto_white() -> None:
    # What qrcode's back_color="transparent" makes: transparent pixels are black.
    dark = Image.open(io.BytesIO(encode(URL))).convert("L").point(lambda v: 255 - v)
    rgba = Image.new("RGBA", dark.size, (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (0, 0), dark)
    assert decode(rgba) == [URL]


def test_reading_order_rows_then_columns() -> None:
    texts = [f"https://suo.run/{name}" for name in ("one", "two", "three", "four", "five")]
    tiles = [
        Image.open(io.BytesIO(encode(t, scale=s)))
        for t, s in zip(texts, [4, 6, 3, 5, 4], strict=True)
    ]
    canvas = Image.new("L", (900, 700), 255)
    # Row 1: three codes of different sizes, tops not aligned; row 2: two codes.
    spots = [(20, 30), (300, 10), (650, 60), (40, 400), (500, 380)]
    for tile, spot in zip(tiles, spots, strict=True):
        canvas.paste(tile.convert("L"), spot)
    assert decode(canvas) == texts


def test_caps_are_configurable_and_checked(png: bytes) -> None:
    with pytest.raises(ImageTooLarge):
        decode(png, max_bytes=len(png) - 1)
    with pytest.raises(ImageTooLarge):
        decode(png, max_pixels=100)
    with pytest.raises(ImageTooLarge):
        decode(Image.new("L", (200, 200)), max_pixels=100)
    with pytest.raises(ImageTooLarge):
        decode(io.BytesIO(png), max_bytes=10)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ConfigurationError):
            decode(png, max_bytes=bad)  # type: ignore[arg-type]


def test_huge_header_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge) as info:
        decode(_png_header_only(20_000, 20_000))
    assert info.value.reason == "too many pixels"
    assert info.value.http_status == 413


def test_huge_gif_screen_is_refused() -> None:
    header = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
    with pytest.raises((ImageTooLarge, QRDecodeError)):
        decode(header + b"\x3b")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, not an image",
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # EPS would run Ghostscript
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x89PNG\r\n\x1a\n",
    ],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(QRDecodeError):
        decode(data)


def test_truncated_pngs_are_decode_errors(png: bytes) -> None:
    for cut in range(8, len(png) - 12, max(1, len(png) // 60)):
        try:
            result = decode(png[:cut])
        except QRDecodeError:
            continue
        assert result in ([], [URL])


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(QRDecodeError):
        decode(tmp_path / "missing.png")
    with pytest.raises(QRDecodeError):
        decode(str(tmp_path))  # a directory
    with pytest.raises(QRDecodeError):
        decode(12345)  # type: ignore[arg-type]
    text_file = tmp_path / "t.txt"
    text_file.write_text("x")
    with text_file.open() as handle, pytest.raises(QRDecodeError):
        decode(handle)  # type: ignore[arg-type]
    with pytest.raises(QRDecodeError):
        decode("bad\x00path")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_raise_only_suolink_errors(data: bytes) -> None:
    # Any other exception escapes and fails the test.
    with contextlib.suppress(QRDecodeError, ImageTooLarge):
        assert isinstance(decode(data), list)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2000), st.binary(min_size=1, max_size=16))
def test_corrupted_pngs_raise_only_suolink_errors(png: bytes, at: int, junk: bytes) -> None:
    at = at % len(png)
    data = png[:at] + junk + png[at + len(junk) :]
    with contextlib.suppress(QRDecodeError, ImageTooLarge):
        assert isinstance(decode(data), list)


def test_engines_follow_the_protocol_and_order() -> None:
    engines = available_engines()
    assert engines[0].name == "zxing-cpp"
    assert all(isinstance(engine, Engine) for engine in engines)
    with pytest.raises(ConfigurationError):
        decode(b"x", engines="tesseract")


@needs_pyzbar
def test_each_engine_reads_the_same(png: bytes) -> None:
    assert decode(png, engines="pyzbar") == decode(png, engines="zxing-cpp") == [URL]
    assert decode(png, engines=["pyzbar", "zxing-cpp"]) == [URL]


@pytest.mark.parametrize(
    ("seen", "meant"),
    [
        ("縺薙ｓ縺ｫ縺｡縺ｯ荳也阜", "こんにちは世界"),  # UTF-8 read as Shift-JIS
        ("Grﾃｼﾃ歹", "Grüße"),
        ("ï½±ï½²ï½³", "ｱｲｳ"),  # UTF-8 read as Latin-1
        ("こんにちは世界", "こんにちは世界"),  # already right
        ("中文二维码", "中文二维码"),
        ("Grüße", "Grüße"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_mojibake_is_repaired(seen: str, meant: str) -> None:
    assert repair_mojibake(seen) == meant


def test_damaged_text_is_rejected() -> None:
    assert repair_mojibake("broken \ufffd text") is None


def test_without_libzbar_pyzbar_is_skipped_and_named_when_asked_for() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pyzbar"] = sys.modules["pyzbar.pyzbar"] = None
        from suolink.errors import MissingDependencyError
        from suolink.qr import available_engines, decode, encode
        print([e.name for e in available_engines()])
        print(decode(encode("https://suo.run/x")))
        try:
            decode(b"x", engines="pyzbar")
        except MissingDependencyError as exc:
            print("missing", exc.extra)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == ["['zxing-cpp']", "['https://suo.run/x']", "missing qr"]
