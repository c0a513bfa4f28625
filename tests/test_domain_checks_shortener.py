"""Domain checks on a real Shortener's domains: one round, the ASGI app, ``suolink serve``.

The local servers of :mod:`tests.domain_servers` play the domains (``http://127.0.0.1:PORT``
names, which the domain registry accepts on loopback).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from suolink.domain_checks import HttpChecker, check_domains
from suolink.shortener import Shortener

from .domain_servers import Servers, running_servers


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with running_servers(("healthy", "blocked"), delay=0) as found:
        yield found


def origin(servers: Servers, role: str) -> str:
    return f"http://127.0.0.1:{servers.address(role)[1]}"


def name(servers: Servers, role: str) -> str:
    return f"127.0.0.1:{servers.address(role)[1]}"


def add_domains(shortener: Shortener, servers: Servers) -> None:
    shortener.add_domain(origin(servers, "healthy"), default=True)
    shortener.add_domain(origin(servers, "blocked"))


@pytest.fixture
def shortener(servers: Servers) -> Iterator[Shortener]:
    """A memory store whose domains are the local servers (the healthy one the default)."""
    with Shortener("memory://", secret="s") as made:
        add_domains(made, servers)
        yield made


@pytest.fixture
def stored(servers: Servers, tmp_path: Path) -> Callable[..., str]:
    """``stored(file, *origins)``: a SQLite store's URL, its domains the local servers (the
    healthy one the default) and ``origins``."""

    def make(file: str, *origins: str) -> str:
        db = f"sqlite:///{tmp_path / file}"
        with Shortener(db, secret="s") as shortener:
            add_domains(shortener, servers)
            for more in origins:
                shortener.add_domain(more)
        return db

    return make


def test_one_round_marks_the_blocked_domain_and_rotates_wechat_urls(
    servers: Servers, shortener: Shortener
) -> None:
    link = shortener.shorten("https://example.com/a", domain=name(servers, "blocked"))
    before = shortener.short_url(link, for_platform="wechat")
    assert before.startswith(origin(servers, "blocked"))
    results = check_domains(shortener, [HttpChecker(timeout=2)])
    assert [r.error for r in results] == [None, None]
    blocked = shortener.domain(name(servers, "blocked"))
    healthy = shortener.domain(name(servers, "healthy"))
    assert blocked.health("wechat") == "blocked"
    assert blocked.health("qq") == "ok"
    assert "已停止访问该网页" in blocked.states["wechat"].reason
    assert healthy.health() == "ok"
    assert blocked.last_check is not None
    assert healthy.last_check is not None
    assert shortener.short_url(link, for_platform="wechat").startswith(origin(servers, "healthy"))
    assert shortener.short_url(link, for_platform="qq") == before


def test_a_check_never_undoes_a_mark_made_by_hand(servers: Servers, shortener: Shortener) -> None:
    healthy, blocked = name(servers, "healthy"), name(servers, "blocked")
    shortener.mark_blocked(healthy, ["wechat"], reason="users report the warning page")
    check_domains(shortener, [HttpChecker(timeout=2)])
    kept = shortener.domain(healthy).states["wechat"]
    assert kept.state == "blocked"
    assert kept.reason == "users report the warning page"
    assert shortener.domain(blocked).states["wechat"].reason.startswith("check: ")
    # the block page is gone (here: no longer recognised): the check's own mark is lifted
    check_domains(shortener, [HttpChecker(timeout=2, block_patterns={})])
    assert shortener.domain(blocked).health("wechat") == "ok"
    assert shortener.domain(healthy).health("wechat") == "blocked"


def test_an_unreachable_domain_stays_blocked_rather_than_suspect(servers: Servers) -> None:
    with Shortener("memory://", secret="s") as shortener:
        dead = f"127.0.0.1:{servers.address('dead')[1]}"
        shortener.add_domain(f"http://{dead}")
        shortener.mark_blocked(dead, ["wechat"], reason="by hand")
        (result,) = check_domains(shortener, [HttpChecker(timeout=1, retries=0)])
        assert result.error is not None
        assert result.error.startswith("refused")
        assert shortener.domain(dead).health("wechat") == "blocked"
        assert shortener.domain(dead).health("qq") == "suspect"
        assert shortener.domain(dead).last_check is not None


def test_the_asgi_app_marks_the_blocked_domain_within_one_interval(
    servers: Servers, stored: Callable[..., str]
) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from suolink.adapters.asgi import create_app

    db = stored("d.db")
    app = create_app(db, secret="s", check_domains_every=3)
    started = time.monotonic()
    with TestClient(app), Shortener(db, secret="s") as reader:
        while reader.domain(name(servers, "blocked")).health("wechat") != "blocked":
            assert time.monotonic() - started < 3.0, "not marked within one interval"
            time.sleep(0.05)
        assert reader.domain(name(servers, "healthy")).health() == "ok"


# -- suolink serve, N workers, SIGTERM ----------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``suolink serve`` running with its output in ``log``; killed if still running after."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_serve_checks_in_one_worker_and_stops_on_sigterm(
    servers: Servers, stored: Callable[..., str], tmp_path: Path
) -> None:
    pytest.importorskip("uvicorn")
    port = _free_port()
    db = stored("serve.db", f"http://127.0.0.1:{port}")
    log = tmp_path / "serve.log"
    env = {**os.environ, "SUOLINK_SECRET": "s", "SUOLINK_API_TOKEN": "t"}
    command = [sys.executable, "-m", "suolink", "serve", "--storage", db, "--port", str(port)]
    command += ["--workers", "2", "--check-domains-every", "2"]
    healthy = servers.servers["healthy"]
    with _serving(command, env, log) as proc:
        started = time.monotonic()
        with Shortener(db, secret="s") as reader:
            while reader.domain(name(servers, "blocked")).health("wechat") != "blocked":
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() - started < 60, log.read_text()
                time.sleep(0.1)
        first = len(healthy.hits)
        time.sleep(5)
        rounds = (len(healthy.hits) - first) / 2  # a WeChat and a QQ probe per round
        # one process checks every 2 s: at most 3 rounds in 5 s (two workers would make 5-6)
        assert 1 <= rounds <= 3, (rounds, log.read_text())
        _stops_on_sigterm(proc, log)
    assert "Traceback" not in log.read_text()


def _stops_on_sigterm(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM stops the serve process cleanly within 40 s (else it shows its threads)."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(timeout=10)
        raise AssertionError(log.read_text()) from None
    assert code == 0, log.read_text()


@pytest.mark.slow
def test_serve_flask_checks_and_stops_on_sigterm(
    servers: Servers, stored: Callable[..., str], tmp_path: Path
) -> None:
    pytest.importorskip("flask")
    db = stored("flask.db")
    port = _free_port()
    log = tmp_path / "flask.log"
    env = {**os.environ, "SUOLINK_SECRET": "s", "SUOLINK_CHECK_DOMAINS_EVERY": "1"}
    env["PYTHONFAULTHANDLER"] = "1"  # a stuck server shows its threads when aborted
    command = [sys.executable, "-m", "suolink", "serve", "--app", "flask", "--storage", db]
    with _serving([*command, "--port", str(port)], env, log) as proc:
        started = time.monotonic()
        with Shortener(db, secret="s") as reader:
            while reader.domain(name(servers, "blocked")).health("wechat") != "blocked":
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() - started < 60, log.read_text()
                time.sleep(0.1)
        _stops_on_sigterm(proc, log)
    assert "Traceback" not in log.read_text()
