"""Acceptance: a worker killed with SIGKILL mid-load lost no visit it had answered.

A real worker process (the Flask app on a threaded WSGI server, default durable
group commit) serves redirects to several client threads; each request carries its
own user agent, so its visit can be found afterwards. Once enough redirects are
answered the worker gets ``kill -9``; every redirect a client received must have its
visit stored. (Visits stored without an answer, cut off by the kill, are allowed.)
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from suolink.backends import open_storage
from suolink.models import Link

pytestmark = pytest.mark.slow

CLIENTS = 12
#: Redirects answered before the kill (the load goes on while the signal is sent).
KILL_AFTER = 400
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

WORKER = """
import sys
from werkzeug.serving import make_server
from suolink.adapters.flask import create_app

app = create_app(storage=sys.argv[1], secret="kill-test")
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.port, flush=True)
server.serve_forever()
"""


def _serve(url: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if not line.strip().isdigit():
        worker.kill()
        pytest.fail(f"the worker did not start: {line!r}")
    return worker, int(line)


def _load_then_kill(url: str, codes: list[str]) -> set[str]:
    """Redirect requests from ``CLIENTS`` threads, SIGKILL the worker midway; answered UAs."""
    worker, port = _serve(url)
    answered: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def client(number: int) -> None:
        i = 0
        while not stop.is_set():
            agent = f"{BROWSER} req-{number}-{i}"
            code = codes[i % len(codes)]
            i += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", f"/{code}", headers={"User-Agent": agent})
                response = conn.getresponse()
                response.read()
            except OSError:
                return  # the worker is gone
            finally:
                conn.close()
            assert response.status == 302, response.status
            with lock:
                answered.add(agent)
                if len(answered) >= KILL_AFTER:
                    enough.set()

    pool = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in pool:
        thread.start()
    try:
        assert enough.wait(timeout=120), f"only {len(answered)} redirects answered"
        os.kill(worker.pid, signal.SIGKILL)  # mid-load: the clients are still sending
        worker.wait(timeout=30)
    finally:
        stop.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    for thread in pool:
        thread.join(timeout=30)
    with lock:
        return set(answered)


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kill.db'}"
    url: str = request.getfixturevalue("redis_url_factory")()
    return url


def test_every_answered_redirect_survives_kill_9(store_url: str) -> None:
    store = open_storage(store_url)
    codes = [f"k{i}" for i in range(5)]
    try:
        for code in codes:
            store.create(Link(code=code, url=f"https://example.com/{code}"))
    finally:
        store.close()

    started = time.monotonic()
    answered = _load_then_kill(store_url, codes)

    store = open_storage(store_url)
    try:
        stored = {visit.user_agent for code in codes for visit in store.visits(code)}
        counted = sum(store.get(code).visits for code in codes)  # type: ignore[union-attr]
    finally:
        store.close()
    missing = answered - stored
    assert not missing, f"{len(missing)} answered redirects lost: {sorted(missing)[:5]}"
    assert counted == len(stored)  # every stored redirect counted once
    assert len(answered) >= KILL_AFTER, time.monotonic() - started
