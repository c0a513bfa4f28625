"""Test helpers: a rasteriser for the SVG ``suolink.qr.encode`` writes, engine skips.

The rasteriser lets SVG output be decoded in tests. Only our own output is understood (a background rect, one path of ``M x y h w v s h -w z``
runs, an optional embedded PNG image); anything else fails loudly.
"""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageDraw

from suolink.qr import available_engines

_NS = "{http://www.w3.org/2000/svg}"
_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v(\d+)h-(\d+)z")


def rasterise(svg: bytes) -> Image.Image:
    """An RGBA image of the SVG at its nominal pixel size."""
    root = ET.fromstring(svg)
    assert root.tag == f"{_NS}svg"
    width, height = int(root.attrib["width"]), int(root.attrib["height"])
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    for child in root:
        if child.tag == f"{_NS}rect":
            draw.rectangle((0, 0, width - 1, height - 1), fill=child.attrib["fill"])
        elif child.tag == f"{_NS}path":
            d = child.attrib["d"]
            runs = _RUN.findall(d)
            assert "".join(f"M{x} {y}h{w}v{s}h-{w2}z" for x, y, w, s, w2 in runs) == d
            for x, y, w, s, _ in runs:
                x0, y0 = int(x), int(y)
                draw.rectangle(
                    (x0, y0, x0 + int(w) - 1, y0 + int(s) - 1), fill=child.attrib["fill"]
                )
        elif child.tag == f"{_NS}image":
            href = child.attrib["href"]
            prefix = "data:image/png;base64,"
            assert href.startswith(prefix)
            logo = Image.open(io.BytesIO(base64.b64decode(href[len(prefix) :]))).convert("RGBA")
            assert logo.size == (int(child.attrib["width"]), int(child.attrib["height"]))
            image.alpha_composite(logo, (int(child.attrib["x"]), int(child.attrib["y"])))
        else:
            raise AssertionError(f"unexpected SVG element {child.tag}")
    return image


def pyzbar_available() -> bool:
    """True when pyzbar imports and its system library libzbar0 loads."""
    return any(engine.name == "pyzbar" for engine in available_engines())


needs_pyzbar = pytest.mark.skipif(
    not pyzbar_available(), reason="pyzbar or the system library libzbar0 is not installed"
)
