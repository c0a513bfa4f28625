"""``suolink domains`` (list), ``add``, ``remove`` and ``mark``; ``shorten --domain/--pool``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suolink import Shortener
from suolink.cli import main
from suolink.models import Visitor


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SUOLINK_SECRET", "s" * 32)
    return f"sqlite:///{tmp_path / 'links.db'}"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_add_list_mark_remove(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["domains", "add", "s1.example", "--default", "--storage", db]) == 0
    assert main(["domains", "add", "S2.Example.", "--storage", db]) == 0
    assert main(["domains", "add", "短.例子", "--pool", "promo", "--storage", db]) == 0
    assert main(["domains", "add", "s1.example", "--storage", db]) == 1  # taken
    assert main(["domains", "add", "bad..host", "--storage", db]) == 1
    capsys.readouterr()
    assert (
        main(["shorten", "https://example.com/a", "--domain", "s1.example", "--storage", db]) == 0
    )
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://s1.example/")
    assert main(["shorten", "https://example.com/b", "--pool", "promo", "--storage", db]) == 0
    assert capsys.readouterr().out.startswith("https://xn--s7y.xn--fsqu00a/")
    # a visit on s1, so the list shows its last visit
    with Shortener(db, secret="s" * 32) as shortener:
        code = url.rsplit("/", 1)[1]
        shortener.resolve(code, Visitor(user_agent="Mozilla/5.0"), base_url="https://s1.example")

    marked = _json(
        capsys,
        "domains",
        "mark",
        "s1.example",
        "blocked",
        "--reason",
        "block page",
        "--storage",
        db,
    )
    assert isinstance(marked, list)
    assert marked[0]["states"]["wechat"]["state"] == "blocked"
    rows = _json(capsys, "domains", "--storage", db)
    assert isinstance(rows, list)
    assert [(r["name"], r["links"], r["pool_links"]) for r in rows] == [
        ("s1.example", 1, 0),
        ("s2.example", 0, 0),
        ("xn--s7y.xn--fsqu00a", 0, 1),
    ]
    assert rows[0]["last_visit"] is not None
    assert rows[1]["last_visit"] is None
    capsys.readouterr()
    assert main(["domains", "list", "--storage", db]) == 0
    table = capsys.readouterr().out
    assert "wechat blocked" in table
    assert "LAST CHECK" in table
    assert main(["domains", "mark", "s1.example", "ok", "--storage", db]) == 0
    assert (
        main(["domains", "mark", "s1.example", "suspect", "--platform", "qq", "--storage", db]) == 0
    )
    assert (
        main(["domains", "mark", "s1.example", "blocked", "--platform", "nope", "--storage", db])
        == 1
    )
    assert main(["domains", "remove", "s2.example", "--storage", db]) == 0
    assert main(["domains", "remove", "s2.example", "--storage", db]) == 1
    rows = _json(capsys, "domains", "list", "--storage", db)
    assert isinstance(rows, list)
    assert [r["name"] for r in rows] == ["s1.example", "xn--s7y.xn--fsqu00a"]
    assert rows[0]["states"] == {"qq": rows[0]["states"]["qq"]}


def test_hostile_names_are_escaped(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["domains", "add", "s1.example\x1b[31m", "--storage", db]) == 1
    assert "\x1b" not in capsys.readouterr().err
