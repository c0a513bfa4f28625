"""suolink.terminal: what reaches a terminal holds no control characters; the bar is TTY-only."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from suolink.terminal import Progress, progress, safe_text, to_json


def _unsafe(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_safe_text_shows_escapes() -> None:
    assert safe_text("plain 中文") == "plain 中文"
    assert safe_text("a\x1b[2Jb\x9b\x07\n\t\u202e") == "a\\x1b[2Jb\\x9b\\x07\\n\\t\\u202e"


@given(st.text())
def test_safe_text_leaves_nothing_a_terminal_obeys(text: str) -> None:
    shown = safe_text(text)
    assert not any(_unsafe(c) for c in shown)
    if not any(_unsafe(c) for c in text):
        assert shown == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(json_values, st.sampled_from([None, 2]))
def test_to_json_is_the_same_json_without_control_characters(value: object, indent) -> None:
    text = to_json(value, indent=indent)
    assert json.loads(text) == value
    assert not any(_unsafe(c) for c in text if c != "\n")


def test_progress_draws_only_on_a_terminal() -> None:
    piped = io.StringIO()
    bar = Progress("work", 3, stream=piped)
    for _ in range(3):
        bar.advance()
    bar.close()
    assert piped.getvalue() == ""
    tty = Terminal()
    with Progress("work\x1b", 2, stream=tty) as bar:
        bar.advance()
        bar.advance()
    drawn = tty.getvalue()
    assert "work\\x1b" in drawn
    assert "2/2" in drawn
    assert "█" * Progress.WIDTH in drawn
    assert drawn.endswith("\r\x1b[K")  # the bar is erased when done


def test_progress_passes_every_item_through() -> None:
    assert list(progress(iter(range(5)), "n")) == [0, 1, 2, 3, 4]
