"""``suolink serve`` as a real process: uvicorn workers, SIGTERM, in-flight requests, Flask."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from suolink import cli
from suolink.cli import main
from suolink.shortener import Shortener
from tests.http_scenarios import BROWSER

pytest.importorskip("uvicorn")

TOKEN = "serve-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(tmp_path: Path, *flags: str) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``suolink serve`` on a free loopback port, until the block ends (then killed if alive)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    env = {**os.environ, "SUOLINK_SECRET": "s", "SUOLINK_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "suolink", "serve", "--port", str(port), *flags]
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.1)
        yield proc, base, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def create(base: str, url: str) -> str:
    request = urllib.request.Request(
        base + "/api/links",
        data=json.dumps({"url": url}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    code: str = json.loads(urllib.request.urlopen(request, timeout=5).read())["code"]
    return code


def status_of(url: str) -> tuple[int, str | None]:
    """Status and Location of a GET, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    request = urllib.request.Request(url, headers={"User-Agent": BROWSER})
    try:
        reply = urllib.request.build_opener(NoRedirect).open(request, timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location")
    return reply.status, reply.headers.get("Location")


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=40)


def test_workers_serve_redirects_and_sigterm_exits_0_with_visits_stored(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    with serving(tmp_path, "--storage", db, "--workers", "2") as (proc, base, log):
        code = create(base, "https://example.com/served")
        for _ in range(6):  # whichever worker answers
            assert status_of(f"{base}/{code}") == (302, "https://example.com/served")
        assert stop(proc) == 0
    text = log.read_text()
    assert "uvicorn, 2 workers" in text
    assert "GET /" not in text  # no access log by default
    assert "Traceback" not in text
    with Shortener(db, secret="s") as shortener:
        assert shortener.get(code).visits == 6


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    with serving(tmp_path, "--storage", db, "--workers", "1", "--access-log") as (
        proc,
        base,
        log,
    ):
        port = int(base.rsplit(":", 1)[1])
        body = json.dumps({"url": "https://example.com/in-flight"}).encode()
        head = (
            f"POST /api/links HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + body[:10])  # the request has begun, its body not all sent
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert proc.poll() is None  # still serving the request in flight
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        assert proc.wait(timeout=40) == 0
    assert '"POST /api/links HTTP/1.1" 201' in log.read_text()  # --access-log
    with Shortener(db, secret="s") as shortener:
        code = json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"]
        assert shortener.get(code).url == "https://example.com/in-flight"


def test_the_flask_app_is_still_served_and_stops_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("flask")
    db = f"sqlite:///{tmp_path / 'f.db'}"
    with serving(tmp_path, "--storage", db, "--app", "flask") as (proc, base, log):
        code = create(base, "https://example.com/flask")
        assert status_of(f"{base}/{code}") == (302, "https://example.com/flask")
        assert stop(proc) == 0
    assert "Flask server" in log.read_text()
    assert "GET /" not in log.read_text()  # no access log unless --access-log


def test_flask_takes_no_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--app", "flask", "--workers", "2", "--storage", "memory://"]) == 1
    err = capsys.readouterr().err
    assert "--workers needs the ASGI app" in err
    assert err.count("\n") == 1


def test_workers_get_the_flags_as_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[tuple[object, dict[str, str], dict[str, object]]] = []
    monkeypatch.setattr(
        cli, "_run_uvicorn", lambda app, environ, **kw: started.append((app, environ, kw))
    )
    monkeypatch.delenv("SUOLINK_STORAGE", raising=False)
    db = f"sqlite:///{tmp_path / 'e.db'}"
    argv = ["serve", "--storage", db, "--workers", "3", "--allow-anonymous", "--port", "9"]
    assert main([*argv, "--secret", "flag-secret"]) == 0
    ((app, environ, options),) = started
    assert app == "suolink.cli:_asgi_worker"
    assert options["workers"] == 3
    assert options["factory"] is True
    assert options["access_log"] is False
    assert environ["SUOLINK_STORAGE"] == db
    assert environ["SUOLINK_SECRET"] == "flag-secret"
    assert environ["SUOLINK_ALLOW_ANONYMOUS"] == "true"
    assert environ["SUOLINK_BASE_URL"] == "http://127.0.0.1:9"
    assert "3 workers" in capsys.readouterr().out


def test_workers_may_take_30_seconds_to_answer_uvicorns_ping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn kills a worker slow to answer its health ping (5 s by default): on a busy
    host, workers still importing were killed and restarted in a loop."""
    started: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: started.append(kw))
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["serve", "--storage", db, "--secret", "s", "--workers", "2"]) == 0
    assert started[0]["timeout_worker_healthcheck"] == 30
    import uvicorn

    uvicorn.Config("suolink.cli:_asgi_worker", **started[0])  # an option uvicorn knows


def test_a_bad_setting_fails_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[object] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda *a, **kw: started.append(a))
    monkeypatch.setenv("SUOLINK_MIN_LENGTH", "five")
    assert main(["serve", "--storage", "memory://"]) == 1
    assert "SUOLINK_MIN_LENGTH" in capsys.readouterr().err
    assert started == []


def test_the_default_worker_count_is_the_cpus_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: started.append(kw))
    db = f"sqlite:///{tmp_path / 'n.db'}"
    assert main(["serve", "--storage", db, "--secret", "s"]) == 0
    assert started[0]["workers"] == len(os.sched_getaffinity(0))


def test_memory_storage_is_served_by_one_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda app, environ, **kw: started.append(kw))
    assert main(["serve", "--storage", "memory://", "--secret", "s"]) == 0
    assert started[0]["workers"] == 1  # its links live in one process
    capsys.readouterr()
    assert main(["serve", "--storage", "memory://", "--secret", "s", "--workers", "2"]) == 1
    assert "memory:// is not shared between worker processes" in capsys.readouterr().err
    assert len(started) == 1


def test_a_worker_app_reads_the_environment_quietly(
    monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    from suolink.adapters.asgi import get_shortener

    monkeypatch.setenv("SUOLINK_STORAGE", "memory://")
    monkeypatch.delenv("SUOLINK_SECRET", raising=False)
    app = cli._asgi_worker()
    assert get_shortener(app).storage.url == "memory://"
    assert len(recwarn) == 0  # the parent said it once
