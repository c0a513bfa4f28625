"""QRCache (bounded LRU of drawn codes) and parse_options (HTTP query strings)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from suolink.errors import ConfigurationError, InvalidOption, QREncodeError
from suolink.qr import QRCache, cached_encode, decode, default_cache, encode, parse_options

URL = "https://suo.run/Ab3dE"


def test_repeat_is_a_hit_with_the_same_bytes() -> None:
    cache = QRCache()
    first = cache.encode(URL, size=200)
    second = cache.encode(URL, size=200)
    assert first is second
    assert first == encode(URL, size=200)
    info = cache.info()
    assert (info.hits, info.misses, info.entries) == (1, 1, 1)
    assert info.bytes == len(first)


def test_equivalent_options_share_an_entry() -> None:
    cache = QRCache()
    cache.encode(URL, fg="#000", bg="white", error_correction="h", format="PNG")
    cache.encode(URL, fg="#000000", bg="#FFFFFF", error_correction="H")
    assert cache.info().hits == 1


def test_different_text_or_options_miss() -> None:
    cache = QRCache()
    cache.encode(URL)
    cache.encode(URL + "x")
    cache.encode(URL, format="svg")
    cache.encode(URL, border=2)
    assert cache.info().misses == 4
    assert len(cache) == 4


def test_least_recently_used_is_evicted_first() -> None:
    cache = QRCache(maxsize=2)
    cache.encode("a")
    cache.encode("b")
    cache.encode("a")  # a is now the most recent
    cache.encode("c")  # evicts b
    cache.encode("a")
    assert cache.info().hits == 2
    cache.encode("b")
    assert cache.info().misses == 4
    assert len(cache) == 2


def test_total_bytes_are_bounded() -> None:
    one = len(encode("a"))
    cache = QRCache(max_bytes=one * 3 + 10)
    for text in "abcdefgh":
        cache.encode(text)
        assert cache.info().bytes <= cache.max_bytes
    assert 1 <= len(cache) <= 3


def test_entry_larger_than_the_cache_is_not_stored() -> None:
    cache = QRCache(max_bytes=10)
    assert cache.encode(URL) == encode(URL)
    assert len(cache) == 0


def test_logo_is_part_of_the_key(tmp_path: Path) -> None:
    cache = QRCache()
    red = Image.new("RGB", (40, 40), (220, 40, 40))
    blue = Image.new("RGB", (40, 40), (40, 40, 220))
    cache.encode(URL, logo=red)
    cache.encode(URL, logo=red.copy())
    assert cache.info().hits == 1
    cache.encode(URL, logo=blue)
    assert cache.info().misses == 2
    path = tmp_path / "logo.png"
    red.save(path)
    with_path = cache.encode(URL, logo=path)
    assert cache.encode(URL, logo=path) is with_path
    blue.resize((50, 50)).save(path)  # the file changed: a new entry
    assert cache.encode(URL, logo=path) is not with_path
    assert decode(cache.encode(URL, logo=path)) == [URL]


def test_errors_are_raised_and_not_cached() -> None:
    cache = QRCache()
    with pytest.raises(InvalidOption):
        cache.encode(URL, size=1)
    with pytest.raises(QREncodeError):
        cache.encode("")
    with pytest.raises(QREncodeError):
        cache.encode(URL, logo=object())  # type: ignore[arg-type]
    assert len(cache) == 0


def test_clear_and_bad_bounds() -> None:
    cache = QRCache()
    cache.encode(URL)
    cache.clear()
    assert cache.info() == type(cache.info())(0, 0, 0, 0, cache.maxsize, cache.max_bytes)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigurationError):
            QRCache(maxsize=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            QRCache(max_bytes=bad)  # type: ignore[arg-type]


def test_threads_share_one_cache() -> None:
    cache = QRCache()
    results: list[bytes] = []

    def work() -> None:
        for _ in range(5):
            results.append(cache.encode(URL, scale=3))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    info = cache.info()
    assert info.hits + info.misses == 30
    assert info.entries == 1


def test_cached_encode_uses_the_default_cache() -> None:
    before = default_cache.info()
    cached_encode(URL + "/default", scale=2)
    cached_encode(URL + "/default", scale=2)
    after = default_cache.info()
    assert after.hits == before.hits + 1


def test_parse_options_converts_a_query_string() -> None:
    options = parse_options({"size": "300", "fg": "1a1a1a", "bg": "transparent", "ec": "h"})
    assert options == {"size": 300, "fg": "#1a1a1a", "bg": "transparent", "error_correction": "H"}
    assert decode(encode(URL, **options)) == [URL]
    assert parse_options({}) == {}
    assert parse_options({"level": "q", "border": "2", "format": "svg", "scale": "3"}) == {
        "error_correction": "Q",
        "border": 2,
        "format": "svg",
        "scale": 3,
    }


@pytest.mark.parametrize(
    ("query", "option"),
    [
        ({"size": "10px"}, "size"),
        ({"size": "-5"}, "size"),
        ({"size": "99999999"}, "size"),
        ({"scale": "0"}, "scale"),
        ({"border": ""}, "border"),
        ({"fg": "zzz"}, "fg"),
        ({"ec": "Z"}, "error_correction"),
        ({"ec": "H", "level": "L"}, "error_correction"),
        ({"logo": "/etc/passwd"}, "logo"),
        ({"size": "300", "scale": "3"}, "size"),
        ({"fg": "#eeeeee"}, "fg"),
    ],
)
def test_parse_options_refuses(query: dict[str, str], option: str) -> None:
    with pytest.raises(InvalidOption) as info:
        parse_options(query)
    assert info.value.option == option
    assert info.value.http_status == 400


def test_parse_options_can_ignore_unknown_names() -> None:
    assert parse_options({"v": "2", "size": "100"}, ignore_unknown=True) == {"size": 100}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["size", "scale", "border", "ec", "fg", "bg", "format", "x"]),
        st.text(max_size=12),
    )
)
def test_parse_options_raises_only_invalid_option(query: dict[str, str]) -> None:
    try:
        options = parse_options(query)
    except InvalidOption:
        return
    assert set(options) <= {"size", "scale", "border", "error_correction", "fg", "bg", "format"}


# -- issue 12: "every new option set is drawn afresh, no token needed" -------------------------


def test_uncached_renders_are_visible_before_drawing() -> None:
    cache = QRCache()
    assert cache.would_draw(URL, size=4096, fg="#123456")
    assert cache.peek(URL, size=4096, fg="#123456") is None
    assert cache.info().misses == 0  # asking never draws
    image = cache.encode(URL, size=4096, fg="#123456")
    assert not cache.would_draw(URL, size=4096, fg="123456")
    assert cache.peek(URL, size=4096, fg="#123456") is image
    assert cache.would_draw(URL, size=4096, fg="#123457")
    with pytest.raises(InvalidOption):
        cache.would_draw(URL, size=100_000)


def test_colour_spellings_and_the_default_scale_share_one_entry() -> None:
    cache = QRCache()
    cache.encode(URL, bg="FFFFEE")
    assert not cache.would_draw(URL, bg="#ffffee")
    assert not cache.would_draw(URL, bg="#FfE", scale=None)
    cache.encode(URL)
    assert not cache.would_draw(URL, scale=10)
    cache.encode(URL, scale=10)
    assert cache.info().hits == 1
    assert len(cache) == 2


@settings(max_examples=25, deadline=None)
@given(
    fg=st.integers(0, 0x60).map(lambda v: f"#{v:02x}{v // 2:02x}{v:02x}"),
    bg=st.sampled_from(["#ffffff", "#fafad2", "transparent", "#e0f0ff"]),
    size=st.integers(300, 800),
)
def test_large_coloured_codes_are_two_colour_palettes(fg: str, bg: str, size: int) -> None:
    png = encode(URL, size=size, fg=fg, bg=bg)
    image = Image.open(io.BytesIO(png))
    assert image.mode in ("P", "1")
    rgba = image.convert("RGBA")
    assert len(rgba.getcolors(4) or []) == 2  # exactly background and modules
    assert rgba.size == (size, size)
    assert decode(image) == [URL]
