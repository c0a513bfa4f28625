"""Every example in README.md and docs/*.md runs and shows what it prints (see examples.py).

One test per fenced block, id ``page.md:LINE`` (the line of its opening fence). Each page
runs once per test process, in a fresh Python process and temporary folder, all its
blocks in order; the block's test then reports that block's result. Skipped blocks carry
the reason written next to them in the page. The Python blocks of pages that need an
extra run in the dev environment here, which has every extra; ``scripts/wheel-smoke.sh``
runs each block again in the installed wheel's environment of the extras it names.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from tests.docs import examples
from tests.shared_files import shared_directory

BLOCKS = [block for page in examples.pages() for block in examples.parse_page(page)]


_PAGES: dict[str, dict[str, examples.Result]] = {}


def page_results(page: str, factory: pytest.TempPathFactory) -> dict[str, examples.Result]:
    """The page's results, run once per test run: xdist's ``loadgroup`` does not always
    keep a page's blocks on one worker, so the first worker to ask runs the page and
    writes its results where the others read them (see ``tests/shared_files.py``)."""
    if page not in _PAGES:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", page)
        with shared_directory(factory, f"docs-{slug}") as (directory, ready):
            saved = directory / "results.json"
            if ready:
                results = [examples.Result(**r) for r in json.loads(saved.read_text())]
            else:
                results = examples.run_page_isolated(page)
                saved.write_text(json.dumps([dataclasses.asdict(r) for r in results]))
        _PAGES[page] = {result.id: result for result in results}
    return _PAGES[page]


@pytest.mark.parametrize(
    "block",
    # One page's blocks on one xdist worker (with --dist loadgroup), so it runs once.
    [pytest.param(b, id=b.id, marks=pytest.mark.xdist_group(b.page)) for b in BLOCKS],
)
def test_example(block: examples.Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = page_results(block.page, tmp_path_factory)[block.id]
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


# -- the runner itself: it must fail where the docs are wrong ---------------------------


@pytest.mark.parametrize(
    ("output", "comment"),
    [
        ("302", "302: redirected, visit counted"),
        ("guide", 'guide: the "open in your browser" page'),
        ("{'redirect': 1, 'guide': 1}", "{'redirect': 1, 'guide': 1}"),
        ("2 1", "2 1: both visits recorded, one counted"),
        ("https://s.example.com/qykYg", "https://s.example.com/<code>"),
        ("302 https://example.com/articles/42", "302 https://example.com/..."),
        ("https://example.com/app.apk", "…/app.apk"),
        ("401", "401"),
    ],
)
def test_output_matches_what_the_comment_shows(output: str, comment: str) -> None:
    assert examples.output_matches(output, comment)


@pytest.mark.parametrize(
    ("output", "comment"),
    [
        ("301", "302: redirected"),
        ("2", "2 1: both visits"),
        ("https://s.example.com/a/b", "https://t.example.com/<code>"),
        ("", "401"),
    ],
)
def test_output_differs_from_what_the_comment_shows(output: str, comment: str) -> None:
    assert not examples.output_matches(output, comment)


def test_console_lines_with_an_ellipsis() -> None:
    assert examples.lines_match(["{", '  "a": 1', '  "b": 2', "}"], ["{", "...", '  "b": 2', "}"])
    assert examples.lines_match(["x"], ["...", "x", "..."])
    assert not examples.lines_match(["{", '  "a": 1', "}"], ["{", "...", '  "b": 2', "}"])
    assert not examples.lines_match(["x", "y"], ["x"])


PAGE = """# A page

<!-- examples: env=qr -->

```python
x = 2
print(x + 1)  # 3: right
print(x)  # 5: wrong
```

Text between.

```python
x  # 2
int("a")  # ValueError: invalid literal for int() with base 10: 'a'
[x, "y"]  # [2, 'z']
```

<!-- example: skip reason=not here -->
```sh
exit 3
```

<!-- example: env=core -->
```sh
echo made > made.txt
false
```

```console
$ cat made.txt
made
$ echo other
shown
```

```text
not run
```
"""


def test_a_page_runs_as_one_session_and_reports_each_block(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = examples.parse_page(page, root=tmp_path)
    assert [(b.id, b.lang) for b in blocks] == [
        ("page.md:5", "python"),
        ("page.md:13", "python"),
        ("page.md:20", "sh"),
        ("page.md:25", "sh"),
        ("page.md:30", "console"),
    ]
    assert [sorted(b.extras) for b in blocks] == [["qr"], ["qr"], ["qr"], [], ["qr"]]
    work = tmp_path / "work"
    work.mkdir()
    results = examples.run_page(blocks, work, root=tmp_path)
    status = {r.id: r for r in results}
    assert status["page.md:5"].status == "failed"
    assert "line 8: printed '2', the comment shows '5: wrong'" in status["page.md:5"].message
    assert "line 7" not in status["page.md:5"].message
    # The namespace carries over; the value comment and the expected exception pass.
    assert status["page.md:13"].status == "failed"
    assert status["page.md:13"].message == (
        "line 16: the value is [2, 'y'], the comment shows \"[2, 'z']\""
    )
    assert (status["page.md:20"].status, status["page.md:20"].message) == ("skipped", "not here")
    assert status["page.md:25"].status == "failed"  # `false` under set -e
    # The folder carries over too (made.txt); the second command's output differs.
    assert status["page.md:30"].status == "failed"
    assert "$ echo other" in status["page.md:30"].message
    assert "$ cat made.txt" not in status["page.md:30"].message


def test_blocks_that_need_a_missing_extra_are_skipped(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    work = tmp_path / "work"
    work.mkdir()
    results = examples.run_page(
        examples.parse_page(page, root=tmp_path), work, frozenset(), root=tmp_path
    )
    assert [r.status for r in results] == ["skipped", "skipped", "skipped", "failed", "skipped"]
    assert results[0].message == "needs suolink[qr]"


HOMES = """# Homes

```python
made = 1
```

<!-- example: env=qr -->
```python
print(made)  # 1
```

```python
print(made + 1)  # 2
```
"""


def test_each_block_runs_in_the_smallest_environment_that_can(tmp_path) -> None:
    """wheel-smoke.sh: a block runs once, in its home; a page runs in an environment up to
    its last block homed there (the blocks before it make its state), else not at all."""
    page = tmp_path / "page.md"
    page.write_text(HOMES)
    blocks = examples.parse_page(page, root=tmp_path)
    core, qr, flask, flask_qr = (frozenset(e) for e in ((), ("qr",), ("flask",), ("flask", "qr")))
    envs = [flask_qr, core, flask, qr]
    assert examples.home(frozenset(), envs) == core
    assert examples.home(qr, envs) == qr
    assert examples.home(flask_qr, envs) == flask_qr
    assert examples.home(frozenset({"django"}), envs) is None

    def run(extras: frozenset[str]) -> list[tuple[str, str]]:
        work = tmp_path / f"work-{'-'.join(sorted(extras))}"
        work.mkdir()
        results = examples.run_page(blocks, work, extras, root=tmp_path, envs=envs)
        return [(r.status, r.message) for r in results]

    assert run(core) == [("ok", ""), ("skipped", "needs suolink[qr]"), ("ok", "")]
    assert run(qr) == [
        ("ok", ""),
        ("ok", ""),
        ("skipped", "runs in the suolink[core] environment"),
    ]
    assert [status for status, _ in run(flask)] == ["skipped"] * 3
    assert [status for status, _ in run(flask_qr)] == ["skipped"] * 3
    # Without envs, every block an environment can run runs there (the old way).
    work = tmp_path / "work-all"
    work.mkdir()
    assert [r.status for r in examples.run_page(blocks, work, flask_qr, root=tmp_path)] == [
        "ok"
    ] * 3


def test_the_wheel_smoke_runs_every_block_its_environments_can(tmp_path) -> None:
    """Each block that some environment of scripts/wheel-smoke.sh can run has a home there."""
    script = (examples.ROOT / "scripts" / "wheel-smoke.sh").read_text()
    default = re.search(r"EXTRAS=\$\{EXTRAS:-([^}]*)\}", script)
    assert default is not None
    everything = re.search(r"all\) echo ([\w,]+) ;;", script)
    assert everything is not None
    names = {"bare": "core", "all": everything[1]}
    envs = [examples._parse_extras(names.get(e, e)) for e in default[1].split()]
    assert frozenset() in envs
    for block in BLOCKS:
        if block.skip_reason is None and block.extras <= frozenset().union(*envs):
            where = examples.home(block.extras, envs)
            assert where is not None, block.id
            blocks = examples.parse_page(examples.ROOT / block.page)
            assert blocks.index(block) < examples._homed_end(blocks, where, envs), block.id
