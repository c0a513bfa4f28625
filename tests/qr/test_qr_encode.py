"""encode(): formats, sizes, colours, validation, ECI, logos, terminal rendering."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from qr_support import needs_pyzbar, rasterise

from suolink.errors import InvalidOption, QREncodeError
from suolink.qr import decode, encode, render_terminal
from suolink.qr.matrix import build_matrix

URL = "https://suo.run/Ab3dE"


def _png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data))


def _zx(image: Image.Image) -> zxingcpp.Barcode:
    (result,) = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return result


def _logo() -> Image.Image:
    logo = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((0, 0, 79, 79), fill=(220, 40, 40, 255))
    return logo


def test_png_round_trips_and_has_the_default_scale() -> None:
    image = _png(encode(URL))
    modules = len(build_matrix(URL, "M"))
    assert image.size == (10 * (modules + 8), 10 * (modules + 8))
    assert decode(image) == [URL]


def test_svg_is_well_formed_and_round_trips() -> None:
    svg = encode(URL, format="svg", scale=5, border=2)
    root = ET.fromstring(svg)
    modules = len(build_matrix(URL, "M"))
    assert root.attrib["width"] == str(5 * (modules + 4))
    assert decode(rasterise(svg)) == [URL]


@pytest.mark.parametrize("size", [21 * 3, 199, 300, 512, 1000])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_size_is_exact(size: int, fmt: str) -> None:
    data = encode(URL, size=size, format=fmt)  # type: ignore[arg-type]
    image = _png(data) if fmt == "png" else rasterise(data)
    assert image.size == (size, size)
    assert decode(image) == [URL]


def test_png_and_svg_draw_the_same_pixels() -> None:
    png = _png(encode(URL, size=333, fg="#203040", bg="#f0f0e0")).convert("RGB")
    svg = rasterise(encode(URL, size=333, fg="#203040", bg="#f0f0e0", format="svg"))
    assert png.tobytes() == svg.convert("RGB").tobytes()


def test_size_too_small_for_the_code_is_refused() -> None:
    with pytest.raises(QREncodeError) as info:
        encode("https://www.example.com/" + "x" * 200, size=40)
    assert info.value.reason == "size too small"


def test_drawing_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(QREncodeError) as info:
        encode("x" * 1000, scale=64)
    assert info.value.reason == "too large"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"format": "gif"}, "format"),
        ({"scale": 0}, "scale"),
        ({"scale": True}, "scale"),
        ({"scale": "3"}, "scale"),
        ({"scale": 65}, "scale"),
        ({"size": 10}, "size"),
        ({"size": 5000}, "size"),
        ({"size": 300, "scale": 3}, "size"),
        ({"border": -1}, "border"),
        ({"border": 17}, "border"),
        ({"error_correction": "X"}, "error_correction"),
        ({"error_correction": None}, "error_correction"),
        ({"fg": "not-a-colour"}, "fg"),
        ({"fg": "#12345"}, "fg"),
        ({"fg": "transparent"}, "fg"),
        ({"fg": 0}, "fg"),
        ({"bg": "url(javascript:x)"}, "bg"),
        ({"fg": "#ffffff", "bg": "#000000"}, "fg"),
        ({"fg": "#777777", "bg": "#888888"}, "fg"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, object], option: str) -> None:
    with pytest.raises(InvalidOption) as info:
        encode(URL, **options)  # type: ignore[arg-type]
    assert info.value.option == option


@pytest.mark.parametrize("text", ["", "a\ud800b", "x" * 8000, "中" * 1500])
def test_text_that_cannot_be_encoded_is_refused(text: str) -> None:
    with pytest.raises(QREncodeError):
        encode(text)


def test_non_text_is_refused() -> None:
    with pytest.raises(QREncodeError):
        encode(b"https://suo.run/x")  # type: ignore[arg-type]


def test_colours_are_drawn_as_asked() -> None:
    image = _png(encode(URL, fg="#1a3a6a", bg="#fafad2", border=4, scale=10)).convert("RGB")
    assert image.getpixel((5, 5)) == (0xFA, 0xFA, 0xD2)  # quiet zone
    assert image.getpixel((45, 45)) == (0x1A, 0x3A, 0x6A)  # finder pattern corner
    assert decode(image) == [URL]


def test_short_colours_and_names_are_accepted() -> None:
    assert encode(URL, fg="#000", bg="WHITE") == encode(URL)


def test_transparent_background() -> None:
    image = _png(encode(URL, bg="transparent", fg="navy")).convert("RGBA")
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((45, 45)) == (0, 0, 0x80, 255)
    assert decode(image) == [URL]
    svg = encode(URL, bg="transparent", format="svg")
    assert b"<rect" not in svg
    assert decode(rasterise(svg)) == [URL]


def _eci_prefix(data: bytes) -> str:
    """zxing-cpp's hex dump of the code's content, which starts with ECI 26 when present."""
    image = _png(data).convert("L")
    (result,) = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.HexECI)
    return str(result.text)


def test_non_ascii_gets_a_utf8_eci_header_and_ascii_does_not() -> None:
    eci_utf8 = "5D 51 32 5C 30 30 30 30 32 36"  # "]Q2\\000026": ECI 26, UTF-8
    assert _eci_prefix(encode("扫描二维码")).startswith(eci_utf8)
    assert _eci_prefix(encode(URL)).startswith("5D 51 31 ")  # "]Q1": no ECI


@needs_pyzbar
@pytest.mark.parametrize("text", ["こんにちは世界", "Grüße", "ｱｲｳ", "短", "中文 😀"])
def test_pyzbar_reads_our_non_ascii_codes_exactly(text: str) -> None:
    assert decode(encode(text), engines="pyzbar") == [text]


def test_error_correction_level_is_written() -> None:
    for level in "LMQH":
        assert _zx(_png(encode(URL, error_correction=level))).ec_level == level  # type: ignore[arg-type]


def test_logo_forces_level_h_and_scans(tmp_path: Path) -> None:
    logo = _logo()
    path = tmp_path / "logo.png"
    logo.save(path)
    buffer = io.BytesIO()
    logo.save(buffer, format="PNG")
    for source in (logo, path, str(path), buffer.getvalue()):
        image = _png(encode(URL, logo=source, error_correction="L"))
        assert _zx(image).ec_level == "H"
        assert decode(image) == [URL]
    centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert centre == (220, 40, 40)


def test_logo_in_svg_is_embedded_and_scans() -> None:
    svg = encode(URL, logo=_logo(), format="svg", size=400)
    assert b"data:image/png;base64," in svg
    assert decode(rasterise(svg)) == [URL]


def test_logo_on_transparent_background_scans() -> None:
    assert decode(encode(URL, logo=_logo(), bg="transparent", fg="#202020")) == [URL]


def test_logo_that_would_not_scan_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real logos are tried at sizes that scan; a logo over half the width never does.
    monkeypatch.setattr("suolink.qr.encoder.LOGO_RATIOS", (0.6, 0.5))
    with pytest.raises(QREncodeError) as info:
        encode(URL, logo=_logo())
    assert info.value.reason == "does not scan"


def test_logo_shrinks_until_it_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("suolink.qr.encoder.LOGO_RATIOS", (0.6, 0.2))
    image = _png(encode(URL, logo=_logo(), scale=10))
    assert decode(image) == [URL]
    red = image.convert("RGB").tobytes().count(bytes((220, 40, 40)))
    assert 0 < red < (0.25 * image.width) ** 2


@pytest.mark.parametrize("logo", [b"not an image", b"", "/no/such/logo.png"])
def test_unusable_logo_is_an_error(logo: object) -> None:
    with pytest.raises(QREncodeError) as info:
        encode(URL, logo=logo)  # type: ignore[arg-type]
    assert info.value.reason == "bad logo"


def _terminal_to_image(text: str, *, invert: bool) -> Image.Image:
    """Turn half-block lines back into pixels: the drawn half is 'ink'."""
    lines = text.rstrip("\n").split("\n")
    width = len(lines[0])
    image = Image.new("L", (width, 2 * len(lines)), 0)
    for y, line in enumerate(lines):
        assert len(line) == width
        for x, ch in enumerate(line):
            top, bottom = {" ": (0, 0), "▀": (1, 0), "▄": (0, 1), "█": (1, 1)}[ch]
            for dy, ink in ((0, top), (1, bottom)):
                light = ink if invert else not ink
                image.putpixel((x, 2 * y + dy), 255 if light else 0)
    return image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)


@pytest.mark.parametrize("invert", [True, False])
def test_terminal_rendering_round_trips(invert: bool) -> None:
    text = render_terminal(URL, invert=invert)
    assert set(text) <= {" ", "▀", "▄", "█", "\n"}
    assert decode(_terminal_to_image(text, invert=invert)) == [URL]


def test_terminal_rendering_handles_cjk() -> None:
    assert decode(_terminal_to_image(render_terminal("防红短链"), invert=True)) == ["防红短链"]


def test_missing_extra_is_a_clear_error_and_import_still_works() -> None:
    script = textwrap.dedent(
        """
        import sys
        for name in ("qrcode", "PIL", "PIL.Image", "zxingcpp", "pyzbar", "pyzbar.pyzbar"):
            sys.modules[name] = None
        import suolink.qr as qr
        from suolink.errors import MissingDependencyError
        for call in (lambda: qr.encode("x"), lambda: qr.decode(b"x"),
                     lambda: qr.render_terminal("x")):
            try:
                call()
            except MissingDependencyError as exc:
                assert exc.extra == "qr", exc
                print("missing", exc.module)
            else:
                raise SystemExit("no error")
        print(qr.parse_options({"size": "200"}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.count("missing") == 3
    assert "{'size': 200}" in out
