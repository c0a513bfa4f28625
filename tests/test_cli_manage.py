"""`suolink list/update/delete/disable/enable`, `qr -o -`, `decode --json`, `stats --all`.

Also where global options may go, what a terminal sees (a real pty), and that every
refusal is one `suolink: error:` line with exit code 1.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from suolink import Shortener
from suolink.cli import main
from suolink.models import Visitor
from suolink.openapi import SCHEMAS

SRC = str(Path(__file__).resolve().parents[1] / "src")
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def links(db: str) -> str:
    """Three links: a tagged one with a title, an expired one, a plain one."""
    with Shortener(db) as shortener:
        shortener.shorten("https://example.com/spring", code="spring", tags=["promo"],
                          title="Spring Sale")  # fmt: skip
        past = Shortener(db, clock=lambda: datetime.now(UTC) - timedelta(days=2))
        with past:
            past.shorten("https://example.com/old", code="old", expires_in=60)
        shortener.shorten("https://example.org/plain", code="plain")
    return db


def run(
    *argv: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[Any]:
    """The installed command in a subprocess (its stdout bytes as they are)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUOLINK_")}
    base["PYTHONPATH"] = SRC + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "suolink", *argv],
        capture_output=True,
        env={**base, **(env or {})},
        check=False,
        timeout=60,
        **kw,
    )


def run_in_pty(*argv: str, answer: bytes = b"", stderr_piped: bool = False) -> tuple[int, str, str]:
    """The command with a real terminal as stdin/stdout (and stderr unless piped)."""
    main_fd, child_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUOLINK_")}
    env.update(PYTHONPATH=SRC, COLUMNS="200")
    process = subprocess.Popen(
        [sys.executable, "-m", "suolink", *argv],
        stdin=child_fd,
        stdout=child_fd,
        stderr=subprocess.PIPE if stderr_piped else child_fd,
        env=env,
    )
    os.close(child_fd)
    if answer:
        os.write(main_fd, answer)
    seen = b""
    while True:
        ready, _, _ = select.select([main_fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    code = process.wait(timeout=30)
    err = process.stderr.read().decode() if process.stderr else ""
    os.close(main_fd)
    return code, seen.decode(errors="replace").replace("\r\n", "\n"), err


def _json_type_ok(value: Any, schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    python = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
              "array": list, "object": dict, "null": type(None)}  # fmt: skip
    if isinstance(value, bool) and "boolean" not in names:
        return False
    return any(isinstance(value, python[name]) for name in names)


def assert_api_link(data: dict[str, Any]) -> None:
    """``data`` has exactly the API's Link fields, each of the schema's JSON type."""
    schema = SCHEMAS["Link"]
    assert set(data) == set(schema["properties"]) == set(schema["required"])
    for name, value in data.items():
        assert _json_type_ok(value, schema["properties"][name]), (name, value)


# -- global options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [
        ["--storage", "{db}", "--json", "list"],
        ["list", "--storage", "{db}", "--json"],
        ["--json", "list", "--storage", "{db}"],
        ["--storage", "{db}", "list", "--json"],
        ["--storage", "sqlite:///nowhere/x.db", "list", "--storage", "{db}", "--json"],
    ],
)
def test_global_options_go_before_or_after_the_command(links: str, capsys, order) -> None:
    assert main([arg.replace("{db}", links) for arg in order]) == 0
    codes = [link["code"] for link in json.loads(capsys.readouterr().out)]
    assert codes == ["plain", "spring", "old"]


def test_global_secret_before_the_command_salts_codes(tmp_path, capsys) -> None:
    made = []
    for secret in ("one", "two"):
        db = f"sqlite:///{tmp_path / secret}.db"
        assert main(["--secret", secret, "--storage", db, "shorten", "https://example.com/"]) == 0
        made.append(capsys.readouterr().out.strip())
    assert made[0] != made[1]


# -- shorten without a base URL ------------------------------------------------------------


def test_shorten_without_a_base_url_prints_the_code_and_a_hint(db: str, capsys) -> None:
    assert main(["shorten", "https://example.com/", "--storage", db, "--code", "nobase"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "nobase\n"
    assert "127.0.0.1" not in captured.out + captured.err
    assert "SUOLINK_BASE_URL" in captured.err
    assert main(["shorten", "https://example.com/", "--storage", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["short_url"] == f"/{data['code']}"


def test_shorten_prints_the_configured_base_url(db: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SUOLINK_BASE_URL", "https://env.example")
    assert main(["shorten", "https://example.com/", "--storage", db, "--code", "e1"]) == 0
    assert capsys.readouterr().out == "https://env.example/e1\n"
    args = ["shorten", "https://example.com/", "--storage", db, "--code", "e2"]
    assert main([*args, "--base-url", "https://flag.example"]) == 0
    assert capsys.readouterr().out == "https://flag.example/e2\n"


# -- list ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "codes"),
    [
        ([], ["plain", "spring", "old"]),
        (["--tag", "promo"], ["spring"]),
        (["--search", "SALE"], ["spring"]),  # the title, any case
        (["--search", "example.org"], ["plain"]),  # the URL
        (["--search", "prom"], ["spring"]),  # a tag
        (["--search", "ol"], ["old"]),  # the code
        (["--expired"], ["old"]),
        (["--expired", "--tag", "promo"], []),
        (["--limit", "2"], ["plain", "spring"]),
        (["--search", "example", "--limit", "1"], ["plain"]),
    ],
)
def test_list_filters(links: str, capsys, filters: list[str], codes: list[str]) -> None:
    assert main(["list", "--storage", links, "--json-lines", *filters]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["code"] for line in lines] == codes


def test_list_json_is_an_array_of_api_links(links: str, capsys) -> None:
    assert main(["list", "--storage", links, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [link["code"] for link in data] == ["plain", "spring", "old"]
    for link in data:
        assert_api_link(link)
    assert data[0]["short_url"] == "/plain"  # no base URL configured: no made-up host
    assert main(["list", "--storage", links, "--json", "--base-url", "https://s.example"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["short_url"] == "https://s.example/plain"
    assert main(["list", "--storage", links, "--json", "--tag", "none"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_list_piped_is_tab_separated_lines(links: str, capsys) -> None:
    assert main(["list", "--storage", links]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[:3] for row in rows] == [
        ["plain", "active", "0"],
        ["spring", "active", "0"],
        ["old", "expired", "0"],
    ]
    assert rows[1][4:] == ["promo", "https://example.com/spring"]


def test_list_on_a_terminal_is_a_table(links: str) -> None:
    code, seen, _ = run_in_pty("list", "--storage", links)
    assert code == 0
    lines = seen.splitlines()
    assert lines[0].split() == ["CODE", "STATE", "VISITS", "EXPIRES", "TAGS", "URL"]
    assert lines[1].split()[:2] == ["plain", "active"]
    # columns line up: every URL starts where the header's URL does
    start = lines[0].index("URL")
    assert all(line[start:].startswith("https://") for line in lines[1:])


@pytest.mark.parametrize(
    "argv",
    [
        ["shorten", "https://example.com/", "--code", "shape", "--password", "pw", "--json"],
        ["list", "--json-lines", "--limit", "1"],
        ["update", "spring", "--title", "New", "--clear", "expires-at", "--json"],
        ["disable", "spring", "--json"],
        ["--json", "enable", "spring"],
    ],
)
@pytest.mark.parametrize("base_url", [None, "https://s.example"])
def test_every_json_link_is_the_api_link_shape(
    links: str, capsys, argv: list[str], base_url: str | None
) -> None:
    """Each command's JSON link has the OpenAPI ``Link`` fields and types, never a hash."""
    extra = ["--base-url", base_url] if base_url else []
    assert main([*argv, "--storage", links, *extra]) == 0
    data = json.loads(capsys.readouterr().out)
    assert_api_link(data)
    assert data["short_url"] == f"{base_url or ''}/{data['code']}"


# -- update, disable, enable, delete ---------------------------------------------------------


def test_update_changes_and_clears_settings(links: str, capsys) -> None:
    argv = ["update", "spring", "--storage", links, "--max-visits", "5", "--clear", "title",
            "--tag", "a", "--tag", "b", "--url", "https://example.com/new", "--json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert_api_link(data)
    assert (data["max_visits"], data["title"], data["tags"]) == (5, None, ["a", "b"])
    assert data["url"] == "https://example.com/new"
    assert main(["update", "spring", "--storage", links, "--clear", "max-visits"]) == 0
    assert capsys.readouterr().out == "updated spring: max_visits\n"
    with Shortener(links) as shortener:
        assert shortener.get("spring").max_visits is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["update", "spring"], "nothing to change"),
        (["update", "spring", "--title", "x", "--clear", "title"], "not both"),
        (["update", "spring", "--max-visits", "0"], "max_visits"),
        (["update", "spring", "--url", "javascript:alert(1)"], "invalid URL"),
        (["update", "nosuch", "--title", "x"], "no link"),
        (["disable", "nosuch"], "no link"),
        (["delete", "nosuch", "--yes"], "no link"),
        (["stats"], "give a CODE or --all"),
        (["stats", "spring", "--all"], "give a CODE or --all"),
        (["qr", "spring"], "no base URL is configured"),
        (["qr", "spring", "-o", "x.gif"], ".png or .svg"),
        (["qr", "spring", "-o", "x.png", "--format", "svg"], "does not match"),
        (["qr", "https://example.com/", "--logo", "/nonexistent/logo.png", "-o", "-"], "logo"),
        (["shorten", "https://example.com/", "--code", "spring"], "spring"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    links: str, capsys, argv: list[str], message: str
) -> None:
    with Shortener(links) as shortener:
        before = [link.to_dict() for link in shortener.iter_links()]
    assert main([*argv, "--storage", links]) == 1
    err = capsys.readouterr().err
    assert err.startswith("suolink: error:")
    assert message in err
    assert err.count("\n") == 1
    with Shortener(links) as shortener:
        assert [link.to_dict() for link in shortener.iter_links()] == before


def test_disable_makes_the_link_404_and_enable_undoes_it(links: str, capsys) -> None:
    visitor = Visitor(user_agent=CHROME, ip="203.0.113.9")
    assert main(["disable", "plain", "--storage", links]) == 0
    assert capsys.readouterr().out == "plain disabled\n"
    with Shortener(links, base_url="https://s.example") as shortener:
        assert shortener.resolve("plain", visitor).status == 404
    assert main(["--json", "enable", "plain", "--storage", links]) == 0
    data = json.loads(capsys.readouterr().out)
    assert_api_link(data)
    assert data["disabled"] is False
    with Shortener(links, base_url="https://s.example") as shortener:
        assert shortener.resolve("plain", visitor).status == 302


def test_delete_needs_yes_when_no_terminal_can_ask(links: str, capsys) -> None:
    assert main(["delete", "plain", "--storage", links]) == 1
    assert "--yes" in capsys.readouterr().err
    with Shortener(links) as shortener:
        assert shortener.get("plain").code == "plain"
    assert main(["delete", "plain", "--storage", links, "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"code": "plain", "deleted": True}
    assert main(["delete", "plain", "--storage", links, "-y"]) == 1


@pytest.mark.parametrize(("answer", "deleted"), [(b"y\n", True), (b"n\n", False), (b"\n", False)])
def test_delete_asks_on_a_terminal(links: str, answer: bytes, deleted: bool) -> None:
    code, seen, _ = run_in_pty("delete", "old", "--storage", links, answer=answer)
    assert "delete old -> https://example.com/old and its 0 visits? [y/N]" in seen
    assert code == (0 if deleted else 1)
    with Shortener(links) as shortener:
        assert (shortener.storage.get("old") is None) is deleted


# -- qr -o -, decode --json ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_to_stdout_is_the_shorteners_image(links: str, fmt: str) -> None:
    done = run("qr", "spring", "-o", "-", "--format", fmt, "--storage", links,
               env={"SUOLINK_BASE_URL": "https://s.example"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Shortener(links, base_url="https://s.example") as shortener:
        assert done.stdout == shortener.qr("spring", format=fmt)
    assert done.stderr == b""


def test_qr_does_not_write_an_image_to_a_terminal() -> None:
    code, _, err = run_in_pty("qr", "https://example.com/", "-o", "-", stderr_piped=True)
    assert code == 1
    assert err == "suolink: error: not writing a PNG image to a terminal: redirect it\n"


def test_decode_json_lines_have_the_api_payloads_shape(tmp_path: Path, capsys) -> None:
    png = tmp_path / "a.png"
    assert main(["qr", "https://example.com/q", "-o", str(png)]) == 0
    capsys.readouterr()
    assert main(["decode", str(png), str(png), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"image": str(png), "payloads": ["https://example.com/q"]}] * 2
    assert set(SCHEMAS["Payloads"]["required"]) <= set(lines[0])


# -- stats --all and escaping ----------------------------------------------------------------


def _visit_with_escapes(db: str) -> None:
    with Shortener(db, base_url="https://s.example") as shortener:
        for referer in ("http://ev\x1bcil\x9b.example/", "http://\u202eevil.example/"):
            visitor = Visitor(user_agent=CHROME, ip="198.51.100.7", referer=referer)
            assert shortener.resolve("spring", visitor).status == 302


def test_stats_escapes_visitor_text(links: str, capsys) -> None:
    _visit_with_escapes(links)
    assert main(["stats", "spring", "--storage", links]) == 0
    out = capsys.readouterr().out
    assert "ev\\x1bcil\\x9b.example" in out
    assert "\\u202eevil.example" in out
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in out)
    assert "\u202e" not in out
    assert main(["stats", "spring", "--storage", links, "--json"]) == 0
    text = capsys.readouterr().out
    assert "\x9b" not in text
    assert "\u202e" not in text
    assert "\x1b" not in text
    referers = {r["referer"] for r in json.loads(text)["top_referers"]}
    assert referers == {"ev\x1bcil\x9b.example", "\u202eevil.example"}


def test_stats_all_streams_a_line_per_link(links: str, capsys) -> None:
    _visit_with_escapes(links)
    assert main(["stats", "--all", "--storage", links]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "plain: 0 visits (0 people, 0 bots), 0 unique visitors",
        "spring: 2 visits (2 people, 0 bots), 1 unique visitor",
        "old: 0 visits (0 people, 0 bots), 0 unique visitors",
    ]
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert main(["--json", "stats", "--all", "--storage", links]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["code"], row["total"]) for row in rows] == [
        ("plain", 0),
        ("spring", 2),
        ("old", 0),
    ]
    with Shortener(links) as shortener:
        assert rows[1] == shortener.stats("spring").to_dict()


def test_stats_all_draws_a_progress_bar_on_a_terminal(links: str) -> None:
    code, seen, _ = run_in_pty("stats", "--all", "--storage", links)
    assert code == 0
    assert "3/3" in seen
    assert "█" in seen
    assert "spring: 0 visits" in seen


def test_an_unexpected_failure_is_still_one_escaped_line(links: str, capsys, monkeypatch) -> None:
    def broken(self: Shortener, code: str, **kwargs: Any) -> None:
        raise RuntimeError("boom\x1b[2J")

    monkeypatch.setattr(Shortener, "stats", broken)
    assert main(["stats", "spring", "--storage", links]) == 1
    err = capsys.readouterr().err
    assert err == "suolink: error: unexpected RuntimeError: boom\\x1b[2J (please report this)\n"


def test_a_reader_that_goes_away_is_no_error(db: str) -> None:
    with Shortener(db) as shortener:
        for n in range(300):
            shortener.shorten(f"https://example.com/{n}", title="x" * 200)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUOLINK_")}
    env["PYTHONPATH"] = SRC
    done = subprocess.run(
        f"{sys.executable} -m suolink list --json --storage {db} | head -c 10",
        shell=True,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.stdout.startswith(b"[")
    assert b"Traceback" not in done.stderr
    assert done.stderr == b""
