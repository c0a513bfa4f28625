"""Issue 12 in the CLI: terminal escapes in visitor text and QR payloads, secrets in ``ps``."""

from __future__ import annotations

import json

import pytest

from suolink import cli
from suolink.cli import main
from suolink.models import Visit
from suolink.shortener import Shortener
from suolink.terminal import safe_text, to_json

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m"


@pytest.fixture
def db(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_terminal_escapes_in_visitor_text_reach_the_terminal_raw(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Shortener(db, secret="s") as shortener:
        code = shortener.shorten("https://example.com/", code="esc").code
        shortener.storage.record_visit(
            Visit(
                code=code, app=f"bot{ESCAPES}", referer=f"ref{ESCAPES}", is_bot=True, outcome="bot"
            ),
            count=False,
        )
    assert main(["stats", code, "--storage", db]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "\x9b" not in out
    assert "bot\\x1b]0;pwned\\x07\\x1b[2J\\u202e\\x9b31m" in out  # shown, not acted on
    assert main(["stats", code, "--storage", db, "--json"]) == 0
    raw = capsys.readouterr().out
    assert "\x1b" not in raw
    assert "\u202e" not in raw
    assert "\x9b" not in raw
    assert f"bot{ESCAPES}" in json.loads(raw)["by_bot"]  # the same data, JSON-escaped


def test_terminal_escapes_in_qr_payloads_reach_the_terminal_raw(
    tmp_path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    pytest.importorskip("PIL")
    from suolink.qr import encode

    picture = tmp_path / "evil.png"
    picture.write_bytes(encode(f"hello{ESCAPES}\nline two", scale=8))
    assert main(["decode", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert out == "hello\\x1b]0;pwned\\x07\\x1b[2J\\u202e\\x9b31m\nline two\n"


def test_printable_escapes_only_what_a_terminal_acts_on() -> None:
    assert safe_text("短链 https://example.com/?a=1") == "短链 https://example.com/?a=1"
    assert "\x1b" not in safe_text("a\x1b[2Jb")
    assert "\u2066" not in safe_text("\u2066x\u2069\x7f")
    assert json.loads(to_json({"k": ESCAPES})) == {"k": ESCAPES}
    assert "\u202e" not in to_json({"k": ESCAPES})


def test_token_and_secret_flags_show_in_ps(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: None)
    assert main(["serve", "--storage", db, "--secret", "s3"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--secret is visible to other users" in err
    assert "SUOLINK_SECRET" in err
    assert "s3" not in err.replace("SUOLINK_SECRET", "")


def test_serve_warns_about_the_token_flag_and_a_missing_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: None)
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    monkeypatch.setenv("SUOLINK_STORAGE", "memory://")
    assert main(["serve", "--token", "hunter2"]) == 0
    captured = capsys.readouterr()
    assert "--token is visible to other users" in captured.err
    assert "SUOLINK_API_TOKEN" in captured.err
    assert "SUOLINK_SECRET" in captured.err  # the no-secret warning
    assert "hunter2" not in captured.out + captured.err
    monkeypatch.setenv("SUOLINK_SECRET", "from-env")
    monkeypatch.setenv("SUOLINK_API_TOKEN", "from-env")
    assert main(["serve"]) == 0
    assert capsys.readouterr().err == ""  # the environment is the quiet way
