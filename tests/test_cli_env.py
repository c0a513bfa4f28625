"""The CLI reads the option spec's ``SUOLINK_*`` variables, lists them in ``--help``, hides secrets."""

from __future__ import annotations

import json

import pytest

from suolink import cli
from suolink.cli import main
from suolink.config import OPTIONS, options_for

flask = pytest.importorskip("flask")


def test_help_lists_the_environment_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    serve = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["shorten", "--help"])
    shorten = capsys.readouterr().out
    for option in options_for("flask"):
        assert option.env in top
        assert option.env in serve
    shortener_options = [o for o in OPTIONS.values() if o.target == "shortener"]
    for option in shortener_options:
        assert option.env in shorten
    assert "SUOLINK_API_TOKEN" not in shorten  # only what the command uses
    assert "SUOLINK_USE_PERMISSIONS" not in serve  # Django's own


def test_help_never_shows_a_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_SECRET", "hunter2-secret")
    monkeypatch.setenv("SUOLINK_API_TOKEN", "hunter2-token")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "hunter2" not in capsys.readouterr().out


def test_commands_take_shortener_options_from_the_environment(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_STORAGE", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("SUOLINK_BASE_URL", "https://env.example")
    monkeypatch.setenv("SUOLINK_CODE_STRATEGY", "random")
    monkeypatch.setenv("SUOLINK_RANDOM_LENGTH", "11")
    monkeypatch.setenv("SUOLINK_RESERVED", "taken")
    assert main(["shorten", "https://example.com/", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["code"]) == 11
    assert data["short_url"] == f"https://env.example/{data['code']}"
    assert main(["shorten", "https://example.com/", "--code", "taken"]) == 1
    assert "reserved" in capsys.readouterr().err
    # a flag beats its variable
    assert main(["stats", data["code"], "--storage", f"sqlite:///{tmp_path / 'other.db'}"]) == 1
    assert main(["stats", data["code"]]) == 0


def test_a_bad_variable_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_MIN_LENGTH", "five")
    assert main(["shorten", "https://example.com/", "--storage", "memory://"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("suolink: error: SUOLINK_MIN_LENGTH: expected a whole number")
    assert err.count("\n") == 1


def test_serve_banner_redacts_the_storage_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("redis")
    started: list[dict[str, object]] = []
    # Only the blocking server loop is replaced; the app is built as `suolink serve` builds it.
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: started.append(kw))
    monkeypatch.setenv("SUOLINK_STORAGE", "redis://:hunter2@127.0.0.1:1/0")
    monkeypatch.setenv("SUOLINK_SECRET", "hunter2-secret")
    assert main(["serve", "--port", "9"]) == 0
    out = capsys.readouterr().out
    assert "storage redis://:***@127.0.0.1:1/0" in out
    assert "hunter2" not in out
    ((options,),) = [started]
    assert (options["host"], options["port"], options["access_log"]) == ("127.0.0.1", 9, False)


def test_a_misspelt_variable_is_one_warning_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_SECRT", "oops")
    db = f"sqlite:///{tmp_path / 'w.db'}"
    assert (
        main(["shorten", "https://example.com/", "--storage", db, "--base-url", "https://s.x"]) == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "suolink: warning: SUOLINK_SECRT: unknown suolink setting; did you mean "
        "SUOLINK_SECRET? (from environment)"
    )
    # ... and so the secret is missing, which is said once too.
    assert len(err) == 2
    assert err[1].startswith("suolink: warning: --secret (or $SUOLINK_SECRET) is not set")
