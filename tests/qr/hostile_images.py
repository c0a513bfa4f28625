"""Hostile uploads for ``suolink.qr.decode``: images built to cost far more than their bytes.

Each :class:`Case` is a few bytes to a few megabytes (all under the 10,000,000-byte
upload cap) that once made a decoder spend seconds of CPU or gigabytes of memory:
repeated progressive JPEG scans, thin or huge PNGs with tiny IDATs, palettes with
transparency, 16-bit and interlaced PNGs, CMYK JPEGs, many-frame GIF/WebP, TIFF,
truncated files, an EXIF orientation bomb, and legal images close to the caps. Built
deterministically at test time; nothing here is committed as binary data. Used by
``test_qr_hostile.py`` and ``benchmarks/bench_hostile_images.py``.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from suolink.qr import encode

__all__ = ["BASELINE", "CASES", "Case", "generate", "jpeg_segments", "repeat_scans"]

URL = "https://suo.run/Hostile1"

#: Outcome kinds: the image is refused with a typed error, or decoded to this list.
REFUSED = "refused"


@dataclass(frozen=True)
class Case:
    """One hostile image: how to build it and what ``decode`` must answer."""

    name: str
    build: Callable[[], bytes]
    #: ``"refused"`` (ImageTooLarge, HTTP 413), or the exact list decode returns, or
    #: ``None`` when any list or QRDecodeError is fine (a truncated file may still show
    #: its code).
    expected: str | list[str] | None
    note: str


# -- byte-level builders ---------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour: int, idat: bytes, *extra: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _interlaced_png(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _deflate_repeated(row: bytes, rows: int) -> bytes:
    """zlib stream of ``row`` repeated ``rows`` times, compressed once per distinct block.

    Each block of rows is deflated after a full flush (no reference to what came before),
    so the same compressed bytes repeat; only the Adler-32 checksum reads all the data.
    """
    block_rows = max(1, 4_000_000 // len(row))
    repeats, rest = divmod(rows, block_rows)
    block = row * block_rows
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated_block = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated_rest = last.compress(row * rest) + last.flush()
    checksum = 1
    for _ in range(repeats):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    header = b"\x78\xda"  # deflate, 32 KiB window, best compression
    return header + deflated_block * repeats + deflated_rest + struct.pack(">I", checksum)


def _noise(size: tuple[int, int], sigma: float, seed: int = 7) -> Image.Image:
    """Grey noise around 128 with standard deviation ``sigma`` (uniform, clipped).

    Ten times faster than ``Image.effect_noise``'s Gaussian for the large pictures here.
    """
    half = sigma * 3**0.5
    levels = bytes(max(0, min(255, round(128 + (b - 127.5) / 127.5 * half))) for b in range(256))
    data = random.Random(seed).randbytes(size[0] * size[1]).translate(levels)
    return Image.frombytes("L", size, data)


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _flat_png(width: int, height: int, *, bit_depth: int = 8, colour: int = 6) -> bytes:
    """A one-colour PNG whose IDAT is a few kilobytes for any size."""
    row = b"\x00" + b"\x00" * (width * _CHANNELS[colour] * bit_depth // 8)
    return _png(width, height, bit_depth, colour, _deflate_repeated(row, height))


def _adam7_rows(width: int, height: int, bytes_per_pixel: int) -> Iterator[int]:
    """Row lengths (pixels) of every Adam7 pass row, in file order."""
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    passes += ((0, 1, 1, 2),)
    for x0, y0, dx, dy in passes:
        cols = max(0, (width - x0 + dx - 1) // dx)
        rows = max(0, (height - y0 + dy - 1) // dy)
        if cols:
            for _ in range(rows):
                yield cols * bytes_per_pixel


def _interlaced_flat_png(width: int, height: int) -> bytes:
    packer = zlib.compressobj(9)
    out = []
    for length in _adam7_rows(width, height, 4):
        out.append(packer.compress(b"\x00" + b"\x80" * length))
    out.append(packer.flush())
    return _interlaced_png(width, height, 8, 6, b"".join(out))


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """A JPEG split into (marker, whole segment bytes); a scan's entropy data joins its SOS."""
    segments: list[tuple[int, bytes]] = [(0xD8, data[:2])]
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xD9:
            segments.append((marker, data[pos : pos + 2]))
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        end = pos + 2 + length
        if marker == 0xDA:
            while True:
                end = data.index(b"\xff", end)
                nxt = data[end + 1]
                if nxt == 0 or 0xD0 <= nxt <= 0xD7:
                    end += 2
                    continue
                break
        segments.append((marker, data[pos:end]))
        pos = end
    return segments


def repeat_scans(progressive: bytes, copies: int) -> bytes:
    """The JPEG with its smallest scan repeated ``copies`` times before EOI (decoders redo it)."""
    segments = jpeg_segments(progressive)
    scans = [seg for marker, seg in segments if marker == 0xDA]
    smallest = min(scans, key=len)
    body = b"".join(seg for marker, seg in segments if marker != 0xD9)
    return body + smallest * copies + b"\xff\xd9"


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _qr_tile(scale: int = 8) -> Image.Image:
    return Image.open(io.BytesIO(encode(URL, scale=scale))).convert("L")


def _photo(size: tuple[int, int], *, seed: int = 7, qr_scale: int = 8) -> Image.Image:
    """A photo-like RGB picture: gradient, soft shapes, mild noise, a QR code near the middle."""
    rng = random.Random(seed)
    w, h = size
    small = Image.linear_gradient("L").resize((max(1, w // 8), max(1, h // 8)))
    base = Image.merge(
        "RGB", (small, small.rotate(90), small.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    base = base.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(base)
    for _ in range(30):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.randint(w // 40 + 1, w // 8 + 2)
        colour = tuple(rng.randint(40, 220) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    tile = _qr_tile(qr_scale)
    base.paste(tile.convert("RGB"), ((w - tile.width) // 2, (h - tile.height) // 2))
    noise = _noise(size, 12, seed).convert("RGB")
    return Image.blend(base, noise, 0.08)


# -- the cases ---------------------------------------------------------------------------------


def _progressive_many_scans() -> bytes:
    image = Image.new("RGB", (6000, 6000), (200, 200, 200))
    ImageDraw.Draw(image).rectangle((1000, 1000, 5000, 5000), fill=(30, 30, 30))
    return repeat_scans(_save(image, "JPEG", progressive=True, quality=30), 5000)


def _progressive_within_cap() -> bytes:
    image = _photo((1200, 1200))
    return repeat_scans(_save(image, "JPEG", progressive=True, quality=85), 60)


@functools.cache
def _cmyk_progressive() -> bytes:
    image = Image.new("CMYK", (6000, 6000), (10, 10, 10, 0))
    ImageDraw.Draw(image).rectangle((2000, 2000, 4000, 4000), fill=(0, 0, 0, 255))
    return _save(image, "JPEG", progressive=True, quality=40)


def _cmyk_many_scans() -> bytes:
    return repeat_scans(_cmyk_progressive(), 400)


def _thin_rgba() -> bytes:
    return _flat_png(1, 36_000_000)


def _huge_header() -> bytes:
    return _png(100_000, 100_000, 8, 6, zlib.compress(b"\x00" * 1024))


def _wide_strip() -> bytes:
    return _flat_png(8192, 60, colour=0)


def _palette_trns() -> bytes:
    plte = _chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255]))
    trns = _chunk(b"tRNS", b"\x00")
    row = b"\x00" + b"\x00" * 6000
    return _png(6000, 6000, 8, 3, _deflate_repeated(row, 6000), plte, trns)


def _rgba_6000() -> bytes:
    return _flat_png(6000, 6000)


def _grey16() -> bytes:
    return _flat_png(6000, 6000, bit_depth=16, colour=0)


def _rgba16() -> bytes:
    return _flat_png(6000, 6000, bit_depth=16, colour=6)


def _interlaced() -> bytes:
    return _interlaced_flat_png(6000, 6000)


def _gif_many_frames() -> bytes:
    frames = [Image.new("P", (800, 800), i % 2) for i in range(300)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 255, 255])
    first = _qr_tile(4).convert("P").resize((800, 800))
    return _save(first, "GIF", save_all=True, append_images=frames, duration=10, loop=0)


def _webp_many_frames() -> bytes:
    frames = [Image.new("RGB", (1000, 1000), (i * 6 % 256, 0, 0)) for i in range(40)]
    first = _qr_tile(4).convert("RGB").resize((1000, 1000))
    return _save(first, "WEBP", save_all=True, append_images=frames, lossless=False, quality=10)


def _webp_canvas(side: int) -> bytes:
    """A two-frame 16 px animated WebP whose VP8X header claims a ``side`` square canvas."""
    frames = [Image.new("RGB", (16, 16), (i * 90, 0, 0)) for i in range(2)]
    data = bytearray(_save(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    assert data[12:16] == b"VP8X"
    data[24:27] = (side - 1).to_bytes(3, "little")
    data[27:30] = (side - 1).to_bytes(3, "little")
    return bytes(data)


def _webp_huge_canvas() -> bytes:
    return _webp_canvas(16384)


def _webp_legal_canvas() -> bytes:
    return _webp_canvas(6000)


def _tiff_deflate() -> bytes:
    return _save(
        Image.new("RGB", (6000, 6000), (255, 255, 255)), "TIFF", compression="tiff_adobe_deflate"
    )


def _tiff_pages() -> bytes:
    pages = [Image.new("L", (2000, 2000), 255) for _ in range(60)]
    first = _qr_tile(6).resize((2000, 2000))
    return _save(
        first, "TIFF", save_all=True, append_images=pages, compression="tiff_adobe_deflate"
    )


def _tiff_tile_bomb() -> bytes:
    """64 x 64 grey pixels in one declared 16384 x 16384 deflate tile of zeros (~260 KB)."""
    tile = 16384
    packer = zlib.compressobj(9)
    rows = bytes(tile) * 256
    data = b"".join(packer.compress(rows) for _ in range(tile // 256)) + packer.flush()
    entries = [
        (256, 4, 64),  # ImageWidth
        (257, 4, 64),  # ImageLength
        (258, 3, 8),  # BitsPerSample
        (259, 3, 8),  # Compression: deflate
        (262, 3, 1),  # Photometric: black is zero
        (277, 3, 1),  # SamplesPerPixel
        (322, 4, tile),  # TileWidth
        (323, 4, tile),  # TileLength
        (324, 4, 8 + 2 + 12 * 10 + 4),  # TileOffsets: right after the IFD
        (325, 4, len(data)),  # TileByteCounts
    ]
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return out + struct.pack("<I", 0) + data


def _tiff_single_strip_grey() -> bytes:
    image = Image.new("L", (6000, 6000), 255)
    image.paste(_qr_tile(30), (1500, 1500))
    return _save(image, "TIFF", compression="tiff_adobe_deflate", tiffinfo={278: 6000})


def _truncated_jpeg() -> bytes:
    data = _save(_photo((4000, 3000)), "JPEG", quality=80)
    return data[: len(data) // 3]


def _truncated_png() -> bytes:
    data = _rgba_6000()
    return data[: len(data) // 2]


def _truncated_progressive() -> bytes:
    data = _save(_photo((4000, 3000)), "JPEG", quality=80, progressive=True)
    return data[: len(data) // 2]


def _exif_bomb() -> bytes:
    """Orientation 6 in an EXIF block stuffed with 4,000 IFD entries and a self-referencing IFD."""
    entries = [(0x0112, 3, 1, 6)] + [(0x9000 + i, 3, 1, i) for i in range(4000)]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(
        struct.pack("<HHIHH", tag, kind, count, value, 0) for tag, kind, count, value in entries
    )
    ifd += struct.pack("<I", 8)  # next IFD points back at this one: a loop
    exif = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    image = _photo((3000, 2000))
    return _save(image, "JPEG", quality=80, exif=exif[:65000])


def _legal_near_caps() -> bytes:
    return _save(_photo((8000, 4500), qr_scale=24), "JPEG", quality=70)


def _legal_png_near_caps() -> bytes:
    canvas = Image.new("L", (6000, 5900), 255)
    tile = _qr_tile(30)
    canvas.paste(tile, (2000, 2000))
    return _save(canvas, "PNG", optimize=True)


def _noise_jpeg() -> bytes:
    return _save(_noise((4000, 3000), 64).convert("RGB"), "JPEG", quality=40)


def _noise_jpeg_near_body_cap() -> bytes:
    """Incompressible noise: the most pixels a 10 MB JPEG can carry into every retry pass."""
    return _save(_noise((8000, 4500), 90).convert("RGB"), "JPEG", quality=15)


def _noise_png_near_body_cap() -> bytes:
    return _save(_noise((3100, 3100), 90), "PNG")


def _bmp_rle() -> bytes:
    image = Image.new("P", (6000, 6000), 1)
    image.putpalette([0, 0, 0, 255, 255, 255])
    # Pillow writes uncompressed BMP; an RLE8 body is built by hand: runs of 255 pixels.
    run = b"\xff\x01" * (6000 // 255) + bytes([6000 % 255, 1]) + b"\x00\x00"
    body = run * 6000 + b"\x00\x01"
    palette = b"\x00\x00\x00\x00\xff\xff\xff\x00"
    header_size = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, 6000, 6000, 1, 8, 1, len(body), 2835, 2835, 2, 0)
    file_header = b"BM" + struct.pack("<IHHI", header_size + len(body), 0, 0, header_size)
    del image
    return file_header + info + palette + body


def _baseline() -> bytes:
    return _save(_photo((1000, 1000), qr_scale=8), "JPEG", quality=85)


#: The benign reference: a 1000x1000 photo-like JPEG holding one code.
BASELINE = Case("baseline_photo_1000", _baseline, [URL], "benign 1000x1000 photo-like JPEG")

CASES: tuple[Case, ...] = (
    Case(
        "jpeg_progressive_5000_scans",
        _progressive_many_scans,
        REFUSED,
        "6000x6000, smallest scan x5000",
    ),
    Case(
        "jpeg_progressive_60_scans",
        _progressive_within_cap,
        [URL],
        "1200x1200 photo, 60 extra scans: under the cap",
    ),
    Case("jpeg_cmyk_progressive", _cmyk_progressive, REFUSED, "6000x6000 CMYK progressive"),
    Case("jpeg_cmyk_400_scans", _cmyk_many_scans, REFUSED, "CMYK progressive, a scan x400"),
    Case("jpeg_truncated", _truncated_jpeg, None, "4000x3000 baseline, first third"),
    Case(
        "jpeg_progressive_truncated",
        _truncated_progressive,
        None,
        "4000x3000 progressive, first half",
    ),
    Case(
        "jpeg_exif_orientation_bomb",
        _exif_bomb,
        [URL],
        "orientation 6, 4,000 IFD entries, IFD loop",
    ),
    Case("jpeg_noise_4000x3000", _noise_jpeg, [], "no code: every retry pass runs"),
    Case("jpeg_noise_8000x4500", _noise_jpeg_near_body_cap, [], "36 MP of noise, near 10 MB"),
    Case("png_noise_3100", _noise_png_near_body_cap, [], "9.6 MP grey noise, near 10 MB"),
    Case("jpeg_legal_8000x4500", _legal_near_caps, [URL], "36 MP photo, just under the caps"),
    Case("png_thin_1x36M_rgba", _thin_rgba, REFUSED, "1 x 36,000,000 RGBA, 175 KB"),
    Case("png_header_100000_square", _huge_header, REFUSED, "claims 10^10 pixels, tiny IDAT"),
    Case("png_strip_8192x60", _wide_strip, REFUSED, "aspect ratio 136:1"),
    Case("png_palette_trns_6000", _palette_trns, [], "6000x6000 palette + tRNS, 4.5 KB"),
    Case("png_rgba_6000", _rgba_6000, [], "6000x6000 RGBA, one colour"),
    Case("png_grey16_6000", _grey16, [], "6000x6000 16-bit grey"),
    Case("png_rgba16_6000", _rgba16, [], "6000x6000 16-bit RGBA"),
    Case("png_interlaced_6000", _interlaced, [], "6000x6000 Adam7 RGBA"),
    Case("png_truncated_6000", _truncated_png, None, "6000x6000 RGBA, IDAT cut in half"),
    Case("png_legal_6000x5900", _legal_png_near_caps, [URL], "35 MP greyscale with a big code"),
    Case("gif_300_frames", _gif_many_frames, [URL], "800x800, 301 frames"),
    Case("webp_40_frames", _webp_many_frames, None, "1000x1000 animated, 41 frames"),
    Case("webp_canvas_16384", _webp_huge_canvas, REFUSED, "animated, canvas claims 268 Mpx"),
    Case("webp_canvas_6000", _webp_legal_canvas, REFUSED, "174 bytes, animated 36 Mpx canvas"),
    Case("tiff_deflate_6000", _tiff_deflate, [], "6000x6000 RGB deflate"),
    Case("tiff_tile_16384", _tiff_tile_bomb, REFUSED, "64x64 image, one 16384x16384 tile"),
    Case("tiff_one_strip_6000", _tiff_single_strip_grey, [URL], "36 MP grey in one strip"),
    Case("tiff_60_pages", _tiff_pages, [URL], "2000x2000, 61 pages"),
    Case("bmp_rle8_6000", _bmp_rle, [], "6000x6000 RLE8, ~280 KB"),
)


def generate(directory: Path, cases: tuple[Case, ...] = (BASELINE, *CASES)) -> dict[str, Path]:
    """Write every case to ``directory`` (``<name>.bin``); returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for case in cases:
        path = directory / f"{case.name}.bin"
        if not path.exists():
            path.write_bytes(case.build())
        written[case.name] = path
    return written
