"""Every example in README.md and docs/*.md runs and shows what it prints (see examples.py).

One test per fenced block, id ``page.md:LINE`` (the line of its opening fence). Each page
runs once per test process, in a fresh Python process and temporary folder, all its
blocks in order; the block's test then reports that block's result. Skipped blocks carry
the reason written next to them in the page.
"""

from __future__ import annotations

import functools

import pytest

from tests.docs import examples

BLOCKS = [block for page in examples.pages() for block in examples.parse_page(page)]


@functools.cache
def page_results(page: str) -> dict[str, examples.Result]:
    return {result.id: result for result in examples.run_page_isolated(page)}


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_example(block: examples.Block) -> None:
    result = page_results(block.page)[block.id]
    if result.status == "skipped":
        pytest.skip(result.message)
    assert result.status == "ok", f"{block.id} ({block.lang}):\n{result.message}"


def test_markers_are_understood() -> None:
    """A misspelt option would silently change what runs; every option is a known one."""
    known = {"env", "skip", "reason", "output", "django"}
    for block in BLOCKS:
        assert set(dict(block.options)) <= known, block.id
        if block.option("skip") is not None or block.option("output") is not None:
            assert block.option("reason"), f"{block.id}: say why with reason=..."


def test_examples_are_found() -> None:
    """The collector sees the pages' blocks (a broken parser must not pass by finding none)."""
    readme = [block for block in BLOCKS if block.page == "README.md"]
    assert any("shortener.resolve(" in block.code for block in readme)
    assert len(BLOCKS) >= 40
    assert {block.lang for block in BLOCKS} == {"python", "sh", "console"}
