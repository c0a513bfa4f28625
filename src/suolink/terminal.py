"""Writing the command's text safely: control characters escaped, a progress bar on a TTY.

Visitor-derived text (referers, titles, user agents) can hold terminal escapes; every line
the ``suolink`` command prints goes through :func:`safe_text` (human output) or
:func:`to_json` (JSON output, where the same characters become ``\\uXXXX`` escapes, so
the JSON still parses to the same values).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final, TypeVar

__all__ = ["Progress", "is_terminal", "progress", "safe_text", "to_json", "write_line"]

T = TypeVar("T")

#: Bidirectional controls that reorder what a terminal shows ("Trojan source").
_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _unsafe(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0 or char in _BIDI


def _escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def safe_text(text: str) -> str:
    """``text`` with control and bidi characters shown as escapes (``\\x1b``, ``\\u202e``)."""
    if not any(_unsafe(char) for char in text):
        return text
    return "".join(_escape(char) if _unsafe(char) else char for char in text)


def to_json(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON with every control and bidi character ``\\u``-escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    # json escapes C0 controls itself; DEL, C1 and bidi marks can only occur inside strings,
    # where a \\u escape stands for the same character.
    return "".join(f"\\u{ord(c):04x}" if _unsafe(c) and c >= " " else c for c in text)


def is_terminal(stream: IO[Any]) -> bool:
    """Whether ``stream`` is an interactive terminal (False for closed or odd streams)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def write_line(text: str = "", *, stream: IO[str] | None = None) -> None:
    """Print one line of human output, control characters escaped.

    A line for stderr first flushes stdout, so piped together they keep their order.
    """
    if stream is sys.stderr:
        sys.stdout.flush()
    print(safe_text(text), file=sys.stdout if stream is None else stream)


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal.

    Piped or redirected, it writes nothing: the command's own output is then plain lines.
    Redrawn at most ten times a second, so it costs nothing next to the work it shows.
    """

    WIDTH: Final = 24

    def __init__(self, label: str, total: int | None = None, stream: IO[str] | None = None):
        self.label = safe_text(label)
        self.total = total
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = is_terminal(self.stream)
        self._drawn_at = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._drawn_at >= 0.1 or self.done == self.total):
            self._drawn_at = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
            bar = "█" * filled + "░" * (self.WIDTH - filled)
            text = f"{self.label} {bar} {self.done}/{self.total}"
        else:
            text = f"{self.label} {self.done}"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar, leaving the terminal as it was."""
        if self.enabled and self._drawn_at:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, showing a :class:`Progress` bar on a terminal as they pass."""
    with Progress(label, total) as bar:
        for item in items:
            yield item
            bar.advance()
