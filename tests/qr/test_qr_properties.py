"""Property: decode(encode(s)) == [s] for any text, PNG and SVG, with and without a logo."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from qr_support import rasterise

from suolink.errors import QREncodeError
from suolink.qr import decode, encode

#: Bytes that always fit a version-40 code at level H (1273, less the ECI header).
_H_CAPACITY = 1266

_cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_kana = st.characters(min_codepoint=0x3040, max_codepoint=0x30FF)
_emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
_any = st.characters(exclude_categories=("Cs",))
texts = st.one_of(
    st.text(_any, min_size=1, max_size=500),
    st.text(
        st.one_of(_cjk, _kana, _emoji, st.characters(max_codepoint=0x7F)), min_size=1, max_size=500
    ),
    st.from_regex(r"https://suo\.run/[A-Za-z0-9]{1,12}", fullmatch=True),
)

_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _logo() -> Image.Image:
    logo = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rounded_rectangle((0, 0, 63, 63), radius=12, fill=(10, 120, 220, 255))
    return logo


@_settings
@given(texts)
def test_png_round_trip(text: str) -> None:
    assert decode(encode(text, scale=3)) == [text]


@_settings
@given(texts)
def test_svg_round_trip(text: str) -> None:
    assert decode(rasterise(encode(text, format="svg", scale=3))) == [text]


@_settings
@given(texts, st.sampled_from(["png", "svg"]))
def test_logo_round_trip_or_too_long(text: str, fmt: str) -> None:
    refused: QREncodeError | None = None
    try:
        data = encode(text, logo=_logo(), format=fmt, scale=4)  # type: ignore[arg-type]
    except QREncodeError as exc:
        refused = exc
    if refused is not None:
        assert refused.reason == "text too long"
        assert len(text.encode()) > _H_CAPACITY
        return
    image = rasterise(data) if fmt == "svg" else data
    assert decode(image) == [text]
