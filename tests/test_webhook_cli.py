"""``suolink webhooks add|list|remove|log|run`` on a SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from suolink.cli import main

from .webhook_receiver import Receiver, receiving

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_add_list_log_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--storage", f"sqlite:///{tmp_path / 'c.db'}", "--secret", "s"]
    added = _json(
        capsys, "webhooks", "add", "http://127.0.0.1:9/h", "--event", "link.created", *store
    )
    assert isinstance(added, dict)
    assert added["secret"].startswith("whsec_")
    listed = _json(capsys, "webhooks", "list", *store)
    assert listed == [{k: v for k, v in added.items() if k != "secret"}]
    assert _json(capsys, "webhooks", "log", *store) == []
    assert main(["webhooks", "remove", added["id"], *store]) == 0
    assert main(["webhooks", "remove", added["id"], *store]) == 1
    assert "no webhook endpoint" in capsys.readouterr().err
    assert main(["webhooks", "add", "ftp://x", *store]) == 1
    assert main(["webhooks", "add", "http://127.0.0.1:9/", "--signing-secret", "bad", *store]) == 1


def test_run_delivers_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = ["--storage", db, "--secret", "s"]
    with receiving(Receiver()) as receiver:
        added = _json(capsys, "webhooks", "add", receiver.url, *store)
        assert isinstance(added, dict)
        receiver.secret = added["secret"]
        assert main(["shorten", "https://example.com/", *store]) == 0
        env = {**os.environ, "PYTHONPATH": SRC}
        worker = subprocess.Popen(
            [sys.executable, "-m", "suolink", "webhooks", "run", "--poll", "0.05", *store],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            receiver.wait_for(1)
        finally:
            time.sleep(0.3)
            worker.send_signal(signal.SIGTERM)
            out, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0
    assert b'"delivered": 1' in out
    assert receiver.requests[0].verified
    capsys.readouterr()
    log = _json(capsys, "webhooks", "log", *store)
    assert isinstance(log, list)
    assert [row["outcome"] for row in log] == ["delivered"]


def test_serve_runs_the_delivery_worker(tmp_path: Path) -> None:
    """``suolink serve`` delivers what its own API made, and stops cleanly on SIGTERM."""
    pytest.importorskip("uvicorn")
    from tests.test_cli_serve import TOKEN, create, serving, stop

    db = f"sqlite:///{tmp_path / 's.db'}"
    with (
        receiving(Receiver()) as receiver,
        serving(tmp_path, "--storage", db, "--workers", "2") as (proc, base, log),
    ):
        request = urllib.request.Request(
            base + "/api/webhooks",
            data=json.dumps({"url": receiver.url, "events": ["link.created"]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        endpoint = json.loads(urllib.request.urlopen(request, timeout=5).read())
        receiver.secret = endpoint["secret"]
        code = create(base, "https://example.com/hooked")
        (delivered,) = receiver.wait_for(1, timeout=30)
        assert stop(proc) == 0
    assert delivered.verified
    assert delivered.json()["data"]["code"] == code
    assert "Traceback" not in log.read_text()
