"""Which of many fixed tokens occur in a string: one Aho-Corasick pass when available.

With ``pyahocorasick`` (installed by the ``detect`` extra) a user agent is scanned once
for every token at the same time; without it, each token is looked for in turn. Both
answer the same set, so detection does not depend on which is installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["TokenIndex"]

try:
    import ahocorasick as _ahocorasick
except ImportError:  # pragma: no cover - exercised by the no-extra test
    _ahocorasick = None


class TokenIndex:
    """A set of ``(token, value)`` pairs; :meth:`find` gives the values whose token occurs."""

    __slots__ = ("_automaton", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, int]], *, accelerated: bool = True) -> None:
        self._pairs = tuple(pairs)
        self._automaton: Any = None
        if accelerated and _ahocorasick is not None and self._pairs:
            automaton = _ahocorasick.Automaton()
            by_token: dict[str, list[int]] = {}
            for token, value in self._pairs:
                by_token.setdefault(token, []).append(value)
            for token, values in by_token.items():
                automaton.add_word(token, tuple(values))
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def accelerated(self) -> bool:
        return self._automaton is not None

    def find(self, text: str) -> set[int]:
        """Every value whose token is a substring of ``text``."""
        if self._automaton is None:
            return {value for token, value in self._pairs if token in text}
        found: set[int] = set()
        for _, values in self._automaton.iter(text):
            found.update(values)
        return found
