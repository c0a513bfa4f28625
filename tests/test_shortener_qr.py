"""Shortener.qr (cached drawing of a link's code) and shorten_from_image (the upload flow)."""

from __future__ import annotations

import pytest

from suolink import InvalidURL, LinkNotFound
from suolink.qr import decode, encode
from suolink.shortener import Shortener


def test_qr_draws_the_short_url_and_caches_it(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/long/path")
    png = shortener.qr(link.code)
    assert decode(png) == [shortener.short_url(link)]
    assert shortener.qr(link.code) is png  # the second call is served from the cache
    svg = shortener.qr(link.code, format="svg")
    assert svg.startswith(b"<?xml")
    with pytest.raises(LinkNotFound):
        shortener.qr("missing9")


def test_shorten_from_image_takes_the_first_usable_link(shortener: Shortener) -> None:
    link = shortener.shorten_from_image(encode("https://example.com/from-a-picture"), title="pic")
    assert link.url == "https://example.com/from-a-picture"
    assert link.title == "pic"


def test_shorten_from_image_refuses_pictures_without_links(shortener: Shortener) -> None:
    with pytest.raises(InvalidURL, match="does not hold a usable link"):
        shortener.shorten_from_image(encode("javascript:alert(1)"))
    with pytest.raises(InvalidURL, match="no QR code"):
        shortener.shorten_from_image(_blank_png())
    assert shortener.list().links == ()


def _blank_png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="PNG")
    return out.getvalue()
