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
from PIL import Image, ImageDraw, ImageFilter

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


def miscorrected(truth: str, other: str, *, box: int = 6, blur: float = 3.0) -> Image.Image:
    """The code of ``truth`` damaged so Reed-Solomon "corrects" it into ``other``.

    Both texts are written at level L in byte mode with the same mask. The codewords
    are ``other``'s, except that ``t`` (the correction capacity) of those where the two
    differ keep ``truth``'s: more than ``t`` away from ``truth``, exactly ``t`` from
    ``other``. A decoder reads ``other`` having spent all of its error correction.
    ``blur`` (a Gaussian radius in module fractions: ``blur * box / 6`` px) makes the
    plain pass fail, as on an out-of-focus photo, so only a retry pass reads it.
    """
    import qrcode
    from qrcode import base, util

    level = qrcode.constants.ERROR_CORRECT_L
    first = qrcode.QRCode(error_correction=level)
    first.add_data(util.QRData(truth.encode(), mode=util.MODE_8BIT_BYTE))
    first.make(fit=True)
    version = first.version
    words = [
        util.create_data(version, level, [util.QRData(t.encode(), mode=util.MODE_8BIT_BYTE)])
        for t in (truth, other)
    ]
    blocks = base.rs_blocks(version, level)
    assert len(blocks) == 1, "keep the texts short: one Reed-Solomon block"
    capacity = (blocks[0].total_count - blocks[0].data_count) // 2
    differ = [i for i, (a, b) in enumerate(zip(*words, strict=True)) if a != b]
    assert len(differ) > 2 * capacity, "the texts' codewords must differ beyond the capacity"
    received = list(words[1])
    for i in differ[:capacity]:
        received[i] = words[0][i]
    code = qrcode.QRCode(version=version, error_correction=level, border=0)
    code.data_cache = received
    code.makeImpl(False, 0)
    n = len(code.modules)
    image = Image.new("L", ((n + 8) * box, (n + 8) * box), 255)
    for y, row in enumerate(code.modules):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, ((x + 4) * box, (y + 4) * box, (x + 5) * box, (y + 5) * box))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur * box / 6))
    return image
