"""The suolink command: output, exit codes 0/1/2 and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from suolink import cli
from suolink.cli import main


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_shorten_prints_the_short_url_then_stats(db: str, capsys) -> None:
    assert (
        main(
            [
                "shorten",
                "https://example.com/x",
                "--storage",
                db,
                "--base-url",
                "https://s.example",
                "--code",
                "hello",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "https://s.example/hello"
    assert main(["stats", "hello", "--storage", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0
    assert main(["stats", "hello", "--storage", db]) == 0
    assert "0 visits" in capsys.readouterr().out


def test_shorten_takes_anti_block_access_and_targets(db: str, capsys) -> None:
    argv = [
        "shorten", "https://example.com/", "--storage", db, "--json",
        "--anti-block", "wechat,qq", "--anti-block-mode", "guide", "--allow", "mobile",
        "--deny", "bot", "--target", "ios=https://apps.apple.com/app/id1",
    ]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["anti_block"] == ["qq", "wechat"]
    assert data["anti_block_mode"] == "guide"
    assert data["allow"] == ["mobile"]
    assert data["targets"] == {"ios": "https://apps.apple.com/app/id1"}
    assert main(["shorten", "https://example.com/", "--storage", db, "--target", "ios"]) == 1
    assert "PLATFORM=URL" in capsys.readouterr().err
    assert main(["shorten", "https://example.com/", "--storage", db, "--allow", "nokia"]) == 1
    assert "not a known platform" in capsys.readouterr().err


def test_shorten_json_hides_the_password_hash(db: str, capsys) -> None:
    assert (
        main(
            [
                "shorten",
                "https://example.com/",
                "--storage",
                db,
                "--password",
                "pw",
                "--json",
                "--tag",
                "a",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert "password_hash" not in data
    assert data["tags"] == ["a"]
    assert data["has_password"] is True


def test_shorten_json_is_the_api_link_shape(db: str, capsys) -> None:
    """`suolink shorten --json` prints exactly the fields of the API's Link schema."""
    from suolink.openapi import SCHEMAS

    assert main(["shorten", "https://example.com/", "--storage", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(SCHEMAS["Link"]["properties"])
    assert data["has_password"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["shorten", "javascript:alert(1)"], "invalid URL"),
        (["shorten", "https://example.com/", "--max-visits", "0"], "max_visits"),
        (["stats", "missing"], "no link"),
        (["shorten", "https://example.com/", "--code", "api"], "reserved"),
    ],
)
def test_failures_exit_1_with_one_line(db: str, capsys, argv: list[str], message: str) -> None:
    assert main([*argv, "--storage", db, "--secret", "s"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("suolink: error:")
    assert message in err
    assert err.count("\n") == 1


def test_bad_storage_url_exits_1(capsys) -> None:
    assert main(["shorten", "https://example.com/", "--storage", "nosuch://x"]) == 1
    assert "unknown storage scheme" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["shorten"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_qr_writes_png_and_svg_and_decode_reads_them(db: str, tmp_path, capsys) -> None:
    png, svg = tmp_path / "code.png", tmp_path / "code.svg"
    assert main(["qr", "https://example.com/q", "-o", str(png), "--ec", "H"]) == 0
    assert main(["qr", "https://example.com/q", "-o", str(svg)]) == 0
    assert svg.read_bytes().startswith(b"<?xml")
    capsys.readouterr()
    assert main(["decode", str(png)]) == 0
    assert capsys.readouterr().out.strip() == "https://example.com/q"


def test_qr_of_a_stored_code_uses_the_base_url(db: str, capsys) -> None:
    assert main(["shorten", "https://example.com/", "--storage", db, "--code", "qrme"]) == 0
    capsys.readouterr()
    assert main(["qr", "qrme", "--storage", db, "--base-url", "https://s.example"]) == 0
    out = capsys.readouterr().out
    assert "█" in out
    assert out.strip().endswith("https://s.example/qrme")
    assert main(["qr", "nothere", "--storage", db]) == 1


def test_qr_refuses_unknown_output_type(tmp_path, capsys) -> None:
    assert main(["qr", "https://example.com/", "-o", str(tmp_path / "x.gif")]) == 1
    assert ".png or .svg" in capsys.readouterr().err


def test_decode_reports_each_bad_image_and_exits_1(tmp_path, capsys) -> None:
    good = tmp_path / "good.png"
    assert main(["qr", "https://example.com/ok", "-o", str(good)]) == 0
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    capsys.readouterr()
    assert main(["decode", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"{good}: https://example.com/ok" in captured.out
    assert str(bad) in captured.err


def test_every_command_has_help() -> None:
    commands = ("serve", "shorten", "list", "update", "delete", "disable", "enable", "qr")
    for command in (*commands, "decode", "stats"):
        result = subprocess.run(
            [sys.executable, "-m", "suolink", command, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0
        assert "usage: suolink" in result.stdout
        if command != "decode":  # decode opens no store, so reads no SUOLINK_* variable
            assert "SUOLINK_STORAGE" in result.stdout


def test_serve_answers_real_http(tmp_path) -> None:
    """`suolink serve` in a subprocess: a real socket, a real redirect."""
    import socket
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "suolink",
            "serve",
            "--port",
            str(port),
            "--storage",
            db,
            "--token",
            "tok",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        request = urllib.request.Request(
            base + "/api/links",
            data=b'{"url": "https://example.com/served"}',
            headers={"Content-Type": "application/json", "Authorization": "Bearer tok"},
        )
        created = json.loads(urllib.request.urlopen(request, timeout=5).read())
        assert created["short_url"] == f"{base}/{created['code']}"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(created["short_url"], timeout=5)
        assert redirect.value.code == 302
        assert redirect.value.headers["Location"] == "https://example.com/served"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_without_a_secret_codes_use_a_fixed_public_salt_warns_once(
    db: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12: 38 of 40 codes were guessed from a few created ones without a secret.
    monkeypatch.setenv("SUOLINK_BASE_URL", "https://s.example")  # no base-URL hint
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    assert main(["shorten", "https://example.com/a", "--storage", db]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("suolink: warning: --secret (or $SUOLINK_SECRET) is not set")
    assert "fixed public salt" in err[0]
    assert main(["shorten", "https://example.com/b", "--storage", db, "--secret", "s"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SUOLINK_SECRET", "from-env")
    assert main(["shorten", "https://example.com/c", "--storage", db]) == 0
    assert capsys.readouterr().err == ""


def test_commands_that_make_no_codes_do_not_warn_about_the_secret(
    db: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUOLINK_BASE_URL", "https://s.example")  # no base-URL hint
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    assert main(["shorten", "https://example.com/", "--storage", db, "--code", "abc"]) == 0
    assert capsys.readouterr().err == ""  # an alias is the person's own choice
    assert main(["shorten", "https://example.com/", "--storage", db, "--random"]) == 0
    assert capsys.readouterr().err == ""  # random codes do not depend on the secret
    assert main(["shorten", "javascript:alert(1)", "--storage", db]) == 1
    assert capsys.readouterr().err.count("\n") == 1  # a failure stays one line
    assert main(["stats", "abc", "--storage", db]) == 0
    assert capsys.readouterr().err == ""


def test_serve_without_a_secret_warns_once_on_stderr(
    db: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: None)
    assert main(["serve", "--storage", db]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("suolink: warning: SUOLINK_SECRET is not set")
    monkeypatch.setenv("SUOLINK_SECRET", "s")
    assert main(["serve", "--storage", db]) == 0
    assert capsys.readouterr().err == ""


def test_migrate_creates_and_migrates_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new.db"
    assert main(["migrate", "--storage", f"sqlite:///{db}"]) == 0
    assert "schema up to date" in capsys.readouterr().out
    assert db.exists()
    assert main(["migrate", "--storage", f"sqlite:///{db}", "--json"]) == 0  # again: a no-op
    assert '"migrated": true' in capsys.readouterr().out
    assert main(["migrate", "--storage", "nosuch://x"]) == 1


def test_people_leaderboard_csv_and_json(db: str, capsys) -> None:
    from suolink import Shortener
    from suolink.models import Visit

    for member in ("m-1", "m-2"):
        argv = ["shorten", "https://example.com/", "--storage", db, "--code", f"c{member[-1]}"]
        assert main([*argv, "--recipient", member, "--campaign", "spring"]) == 0
    with Shortener(db) as shortener:
        for who in ("a", "b", "a"):
            shortener.storage.record_visit(Visit(code="c1", visitor_id=who))
    capsys.readouterr()
    assert main(["people", "--campaign", "spring", "--storage", db]) == 0
    out = capsys.readouterr().out
    assert "spring: 2 recipients, 3 clicks, reach 1, average reach 0.50" in out
    assert out.splitlines()[2].split() == ["m-1", "3", "1", "1"]
    assert main(["people", "--campaign", "spring", "--csv", "--storage", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("recipient,clicks")
    assert len(lines) == 2  # m-2 has no click: not in the default segment (min 1 click)
    assert main(["people", "--visitors", "--json", "--storage", db]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["visitors"]] == ["a", "b"]
    assert main(["people", "--campaign", "no good", "--storage", db]) == 1
    assert "campaign" in capsys.readouterr().err
