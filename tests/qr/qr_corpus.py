"""A labelled corpus of QR pictures, generated deterministically at test time.

Each family imitates one way real uploads go wrong (scale, rotation, perspective,
blur, noise, JPEG, low contrast, inversion, logos, busy backgrounds, two codes,
transparency, palettes, CJK payloads). Codes are drawn with the qrcode library
directly, as a third-party generator would, except where suolink's own encoder
is the subject (logo, ECI). Used by the corpus test and ``benchmarks/bench_qr.py``.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from suolink.qr import encode

__all__ = ["FAMILIES", "Sample", "generate", "load"]

_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
_CJK = [
    "扫描二维码",
    "上传二维码 https://suo.run/",
    "防红短链接 测试",
    "こんにちは世界",
    "日本語のテキスト https://例え.jp/パス",
    "ｱｲｳｴｵ 半角カナ",
    "한국어 QR 코드",
    "中文 😀 emoji 🎉",
    "繁體中文測試 網址",
    "Grüße, café — naïve",
]


@dataclass(frozen=True)
class Sample:
    """One picture on disk and the texts it holds, in reading order."""

    family: str
    path: Path
    expected: list[str]


def _short_link(rng: random.Random) -> str:
    code = "".join(rng.choice(_ALNUM) for _ in range(rng.randint(4, 8)))
    host = rng.choice(["https://suo.run/", "https://s.example.cn/", "http://t.cn/"])
    return host + code


def _long_url(rng: random.Random) -> str:
    path = "/".join(
        "".join(rng.choice(_ALNUM) for _ in range(rng.randint(3, 10)))
        for _ in range(rng.randint(1, 4))
    )
    return f"https://www.example.com/{path}?utm_source=wechat&id={rng.randint(1, 10**9)}"


def _payload(rng: random.Random) -> str:
    return _short_link(rng) if rng.random() < 0.6 else _long_url(rng)


def _qr(text: str, *, level: str = "M", box: int = 8, border: int = 4) -> Image.Image:
    """An ``L`` picture of ``text`` drawn by the qrcode library (bare UTF-8, no ECI)."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], box_size=box, border=border)
    code.add_data(text)
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def _ours(text: str, **options: object) -> Image.Image:
    return Image.open(io.BytesIO(encode(text, **options)))  # type: ignore[arg-type]


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8x8 here); avoids needing numpy."""
    n = len(rhs)
    a = [[*row, rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                for c in range(col, n + 1):
                    a[r][c] -= f * a[col][c]
    return [a[i][n] / a[i][i] for i in range(n)]


def _perspective(img: Image.Image, rng: random.Random, strength: float) -> Image.Image:
    w, h = img.size
    pad = int(max(w, h) * 0.25)
    canvas = ImageOps.expand(img, pad, fill=255)
    cw, ch = canvas.size
    src = [(pad, pad), (pad + w, pad), (pad + w, pad + h), (pad, pad + h)]
    dst = [
        (x + rng.uniform(-strength, strength) * w, y + rng.uniform(-strength, strength) * h)
        for x, y in src
    ]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    coeffs = _solve(rows, rhs)
    return canvas.transform(
        (cw, ch), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=255
    )


def _busy_background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    bg = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(bg)
    for _ in range(rng.randint(40, 90)):
        x0, y0 = rng.randint(0, size[0]), rng.randint(0, size[1])
        x1, y1 = x0 + rng.randint(10, size[0] // 3), y0 + rng.randint(10, size[1] // 3)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.choice(["rect", "ellipse", "line"])
        if shape == "rect":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(1, 8))
    return bg.filter(ImageFilter.GaussianBlur(1))


def _noise(img: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    noise = Image.effect_noise(img.size, sigma)
    return ImageChops.add(img.convert("L"), noise, scale=1.0, offset=-128)


def _save(img: Image.Image, path: Path, **params: object) -> Path:
    img.save(path, **params)
    return path


# Each maker draws one sample: (rng, index, directory) -> (path, expected texts).
Maker = Callable[[random.Random, int, Path], tuple[Path, list[str]]]


def _clean(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _qr(text, level=rng.choice("LMQH"), box=rng.randint(3, 10))
    return _save(img, d / f"clean-{i}.png"), [text]


def _scale(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _short_link(rng) if i % 3 else _long_url(rng)
    img = _qr(text, box=4)
    side = int(math.exp(rng.uniform(math.log(60), math.log(2000))))
    method = rng.choice([Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.BOX])
    return _save(img.resize((side, side), method), d / f"scale-{i}-{side}.png"), [text]


def _rotation(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _qr(text, box=rng.randint(2, 6))
    angle = rng.uniform(0, 360)
    rotated = img.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return _save(rotated, d / f"rotation-{i}.png"), [text]


def _perspective_family(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _perspective(_qr(text, box=rng.randint(3, 7)), rng, rng.uniform(0.08, 0.28))
    return _save(img, d / f"perspective-{i}.png"), [text]


def _blur(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    box = rng.randint(5, 10)
    img = _qr(text, box=box).filter(ImageFilter.GaussianBlur(box * rng.uniform(0.25, 0.75)))
    return _save(img, d / f"blur-{i}.png"), [text]


def _noise_family(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _noise(_qr(text, box=rng.randint(3, 6)), rng, rng.uniform(40, 130))
    return _save(img, d / f"noise-{i}.png"), [text]


def _jpeg(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _qr(text, box=rng.randint(2, 5)).convert("RGB")
    return _save(img, d / f"jpeg-{i}.jpg", quality=rng.randint(2, 25)), [text]


def _low_contrast(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    dark = rng.randint(60, 200)
    light = dark + rng.randint(8, 40)
    img = _qr(text, box=rng.randint(3, 8)).point(lambda v: light if v else dark)
    if i % 2:
        img = _noise(img, rng, rng.uniform(3, 10))
    return _save(img, d / f"lowcontrast-{i}.png"), [text]


def _inverted(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = ImageOps.invert(_qr(text, box=rng.randint(3, 8)))
    if i % 2:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return _save(img, d / f"inverted-{i}.png"), [text]


def _logo_image(rng: random.Random) -> Image.Image:
    logo = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), 255)
    draw.rounded_rectangle((0, 0, 119, 119), radius=rng.randint(0, 40), fill=colour)
    draw.text((30, 40), rng.choice(["S", "QR", "短"]), fill=(255, 255, 255, 255))
    return logo


def _logo(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _ours(text, logo=_logo_image(rng), scale=rng.randint(4, 10))
    if i % 2:  # a photo of it: smaller and slightly soft
        side = rng.randint(200, 400)
        img = img.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    return _save(img, d / f"logo-{i}.png"), [text]


def _busy(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    code = _qr(text, box=rng.randint(2, 6), border=rng.randint(0, 3)).convert("RGB")
    w = int(code.width * rng.uniform(1.6, 3.0))
    h = int(code.height * rng.uniform(1.6, 3.0))
    bg = _busy_background(rng, (w, h))
    bg.paste(code, (rng.randint(0, w - code.width), rng.randint(0, h - code.height)))
    return _save(bg, d / f"busy-{i}.png"), [text]


def _two(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    first, second = _payload(rng), _payload(rng)
    while second == first:
        second = _payload(rng)
    a, b = _qr(first, box=rng.randint(3, 6)), _qr(second, box=rng.randint(3, 6))
    gap = rng.randint(10, 80)
    side_by_side = i % 2 == 0
    if side_by_side:
        size = (a.width + b.width + gap, max(a.height, b.height) + 40)
        spots = [(0, rng.randint(0, 20)), (a.width + gap, rng.randint(0, 20))]
    else:
        size = (max(a.width, b.width) + 40, a.height + b.height + gap)
        spots = [(rng.randint(0, 20), 0), (rng.randint(0, 20), a.height + gap)]
    canvas = Image.new("L", size, 255)
    canvas.paste(a, spots[0])
    canvas.paste(b, spots[1])
    return _save(canvas, d / f"two-{i}.png"), [first, second]


def _rgba(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    mask = ImageOps.invert(_qr(text, box=rng.randint(4, 8)))  # 255 where dark
    fg = (rng.randint(0, 60), rng.randint(0, 60), rng.randint(0, 60), 255)
    if i % 2:  # what qrcode's back_color="transparent" produces: transparent black
        img = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    else:
        img = Image.new("RGBA", mask.size, (255, 255, 255, 0))
    img.paste(fg, (0, 0), mask)
    return _save(img, d / f"rgba-{i}.png"), [text]


def _palette(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _payload(rng)
    img = _qr(text, box=rng.randint(4, 8)).convert("RGB")
    tint = (rng.randint(0, 80), rng.randint(0, 80), rng.randint(100, 200))
    img = ImageOps.colorize(img.convert("L"), black=tint, white=(255, 255, 255))
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=rng.choice([2, 4, 16]))
    params: dict[str, object] = {}
    if i % 3 == 0:
        params["transparency"] = pal.getpixel((0, 0))  # the background index
    return _save(pal, d / f"palette-{i}.png", **params), [text]


def _cjk(rng: random.Random, i: int, d: Path) -> tuple[Path, list[str]]:
    text = _CJK[i % len(_CJK)]
    if rng.random() < 0.5:
        text += " " + _short_link(rng)
    # Odd: bare UTF-8, as most generators write it; even: suolink's UTF-8 with ECI.
    img = _qr(text, box=rng.randint(4, 8)) if i % 2 else _ours(text, scale=rng.randint(4, 8))
    return _save(img, d / f"cjk-{i}.png"), [text]


FAMILIES: dict[str, Maker] = {
    "clean": _clean,
    "scale": _scale,
    "rotation": _rotation,
    "perspective": _perspective_family,
    "blur": _blur,
    "noise": _noise_family,
    "jpeg": _jpeg,
    "low_contrast": _low_contrast,
    "inverted": _inverted,
    "logo": _logo,
    "busy_background": _busy,
    "two_codes": _two,
    "rgba": _rgba,
    "palette": _palette,
    "cjk": _cjk,
}


def generate(directory: Path, *, per_family: int = 28, seed: int = 20240501) -> list[Sample]:
    """Write ``per_family`` pictures of every family to ``directory`` with a ``labels.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    samples = []
    for name, maker in FAMILIES.items():
        rng = random.Random(f"{seed}-{name}")
        for i in range(per_family):
            path, expected = maker(rng, i, directory)
            samples.append(Sample(name, path, expected))
    labels = [{"family": s.family, "file": s.path.name, "expected": s.expected} for s in samples]
    (directory / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1))
    return samples


def load(directory: Path) -> list[Sample]:
    """Samples previously written by :func:`generate`."""
    labels = json.loads((directory / "labels.json").read_text())
    return [Sample(x["family"], directory / x["file"], x["expected"]) for x in labels]
