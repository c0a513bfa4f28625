"""The delivery worker against a local receiver: retries, order per endpoint, signatures
the receiver verifies itself, dead letters, no redirects, and a restart of the worker
process with the outbox on SQLite (at least once, nothing lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from suolink.outbox import RetryPolicy
from suolink.shortener import Shortener
from suolink.webhook_worker import WebhookWorker, post

from .webhook_receiver import Receiver, receiving

FAST = RetryPolicy(base=0.05, factor=2.0, cap=0.2, jitter=0.0)
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(params=["memory", "sqlite"])
def shortener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shortener]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'wh.db'}"
    with Shortener(url, secret="s", base_url="https://s.example") as s:
        yield s


def test_retries_keep_order_and_signatures_verify(shortener: Shortener) -> None:
    with receiving(Receiver(fail_first=3)) as receiver:
        endpoint = shortener.add_webhook(receiver.url + "/hook", ["link.created", "link.deleted"])
        receiver.secret = endpoint.secret
        codes = [shortener.shorten(f"https://example.com/{i}").code for i in range(5)]
        shortener.delete(codes[0])
        worker = shortener.run_webhooks(retry=FAST, poll=0.02, timeout=2.0, lease=10.0)
        try:
            delivered = receiver.wait_for(6)
        finally:
            worker.stop(5)
    assert all(r.verified for r in receiver.requests)
    bodies = [r.json() for r in delivered]
    assert [b["type"] for b in bodies] == ["link.created"] * 5 + ["link.deleted"]
    assert [b["data"]["code"] for b in bodies] == [*codes, codes[0]]
    # Every try, failed or not, came in order: the line never overtakes its head.
    order = [r.id for r in receiver.requests]
    assert order == sorted(order, key=[r.id for r in delivered].index)
    log = shortener.webhook_deliveries(endpoint.id)
    failures = [d for d in log if d.outcome == "failed"]
    assert [(d.status, d.attempt) for d in failures] == [(503, 3), (503, 2), (503, 1)]
    assert len([d for d in log if d.outcome == "delivered"]) == 6
    assert all(r.headers["user-agent"].startswith("suolink-webhooks/") for r in delivered)
    assert shortener.webhooks is not None
    assert shortener.webhooks.storage.pending() == 0


def test_clicks_arrive_in_batches(shortener: Shortener) -> None:
    from suolink import Visitor

    assert shortener.webhooks is not None
    shortener.webhooks.click_batch = 3
    with receiving(Receiver()) as receiver:
        endpoint = shortener.add_webhook(receiver.url, ["link.clicked"])
        receiver.secret = endpoint.secret
        link = shortener.shorten("https://example.com/c")
        for _ in range(7):
            shortener.resolve(link.code, Visitor(user_agent="Mozilla/5.0 Chrome/120.0"))
        shortener.events.drain()
        shortener.webhooks.flush()  # the last, partial batch now rather than in 10 s
        worker = shortener.run_webhooks(retry=FAST, poll=0.02)
        try:
            delivered = receiver.wait_for(3)
        finally:
            worker.stop(5)
    batches = [r.json()["data"] for r in delivered]
    assert [b["count"] for b in batches] == [3, 3, 1]
    assert {c["code"] for b in batches for c in b["clicks"]} == {link.code}


def test_a_message_is_dead_lettered_after_its_attempts(shortener: Shortener) -> None:
    with receiving(Receiver(fail_first=100, fail_status=500)) as receiver:
        endpoint = shortener.add_webhook(receiver.url, ["link.created"])
        receiver.secret = endpoint.secret
        shortener.shorten("https://example.com/dead")
        shortener.shorten("https://example.com/next")
        worker = WebhookWorker(
            shortener.storage, retry=RetryPolicy(base=0.01, jitter=0, max_attempts=2), poll=0.02
        )
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while len(shortener.webhook_dead_letters()) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            worker.stop(5)
    dead = shortener.webhook_dead_letters()
    assert len(dead) == 2
    assert all(m.attempts == 2 for m in dead)
    assert len(receiver.requests) == 4
    assert worker.counts == {"delivered": 0, "failed": 2, "dead": 2}


def test_redirects_are_not_followed_and_answers_are_capped() -> None:
    with receiving(Receiver(status_for={"/moved": 302})) as receiver:
        moved = post(receiver.url + "/moved", b"{}", {}, timeout=2, max_response=1)
        fine = post(receiver.url + "/ok", b"{}", {}, timeout=2, max_response=1)
    assert moved.status == 302
    assert not moved.ok
    assert moved.error is not None
    assert "redirects are not followed" in moved.error
    assert fine.ok
    assert fine.error is None
    assert len(receiver.requests) == 2  # the redirect's target was never asked


def test_timeouts_and_refused_connections_are_failures() -> None:
    with receiving(Receiver(delay=1.0)) as receiver:
        slow = post(receiver.url, b"{}", {}, timeout=0.2, max_response=10)
    assert slow.status is None
    assert slow.error is not None
    assert "timed out" in slow.error
    gone = post("http://127.0.0.1:9/", b"{}", {}, timeout=1, max_response=10)
    assert gone.status is None
    assert gone.error is not None
    refused = post(
        "http://127.0.0.1:9/", b"{}", {}, timeout=1, max_response=10, refuse_private=True
    )
    assert refused.error is not None
    assert refused.error.startswith("refused")


# -- restart: the outbox on SQLite survives the worker process -----------------------

WORKER = """
import sys
from suolink.outbox import RetryPolicy
from suolink.webhook_worker import WebhookWorker
WebhookWorker(sys.argv[1], retry=RetryPolicy(base=0.05, cap=0.2, jitter=0), poll=0.02,
              lease=3.0, timeout=0.5, concurrency=2).run()
"""


def _worker(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", WORKER, url], env=env)


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    with receiving(Receiver(fail_first=2, delay=0.05)) as receiver:
        with Shortener(url, secret="s") as shortener:
            one = shortener.add_webhook(receiver.url + "/one", ["link.created"])
            two = shortener.add_webhook(receiver.url + "/two", ["link.created"], one.secret)
            receiver.secret = one.secret
            codes = [shortener.shorten(f"https://example.com/{i}").code for i in range(15)]
        first = _worker(url)
        try:
            deadline = time.monotonic() + 20
            while len(receiver.delivered()) < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert len(receiver.delivered()) < 30  # it was killed mid-way
        second = _worker(url)
        try:
            receiver.wait_for(30, timeout=60)
            with Shortener(url, secret="s") as shortener:
                assert shortener.webhooks is not None
                deadline = time.monotonic() + 20
                while shortener.webhooks.storage.pending() and time.monotonic() < deadline:
                    time.sleep(0.02)  # the last answers are being settled
        finally:
            second.terminate()
            second.wait(10)
    assert all(r.verified for r in receiver.requests)
    for path in ("/one", "/two"):
        got = [json.loads(r.body)["data"]["code"] for r in receiver.delivered() if r.path == path]
        # At least once: a repeat is the same message again, never a later one first.
        firsts = list(dict.fromkeys(got))
        assert firsts == codes
        assert got == sorted(got, key=codes.index)
    with Shortener(url, secret="s") as shortener:
        assert shortener.webhooks is not None
        assert shortener.webhooks.storage.pending() == 0
        assert {e.id for e in shortener.list_webhooks()} == {one.id, two.id}
