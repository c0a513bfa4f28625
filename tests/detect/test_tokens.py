"""The Aho-Corasick token index answers exactly what the plain loop answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink.detect import core
from suolink.detect.signatures import BOT_SIGNATURES, BROWSER_EVIDENCE
from suolink.detect.tokens import TokenIndex

TABLES = {
    "apps": core._APP_TOKENS,
    "apps_ci": core._APP_TOKENS_CI,
    "bots": tuple((sig.token, i) for i, sig in enumerate(BOT_SIGNATURES)),
    "evidence": tuple((token, 0) for token in BROWSER_EVIDENCE),
}
FRAGMENTS = [token for pairs in TABLES.values() for token, _ in pairs]


def test_the_accelerator_is_in_use() -> None:
    pytest.importorskip("ahocorasick")
    assert TokenIndex(core._APP_TOKENS).accelerated


@given(
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=8).map("".join),
    st.sampled_from(sorted(TABLES)),
)
def test_same_answer_with_and_without_the_accelerator(text: str, table: str) -> None:
    pairs = TABLES[table]
    fast, plain = TokenIndex(pairs), TokenIndex(pairs, accelerated=False)
    assert fast.find(text) == plain.find(text) == {v for t, v in pairs if t in text}
