"""Webhook endpoints and events into the outbox: URL and secret checks, who gets what,
click batches, and an outbox failure that must not fail the write that caused it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from suolink import EndpointNotFound, InvalidOption, Visitor
from suolink.backends.memory import MemoryStorage
from suolink.events import EventBus
from suolink.models import utcnow
from suolink.shortener import Shortener
from suolink.webhooks import Webhooks, check_endpoint_url, check_public_host, new_secret, signer


@pytest.fixture(params=["memory", "sqlite"])
def shortener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shortener]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'w.db'}"
    with Shortener(url, secret="s", base_url="https://s.example") as s:
        yield s


def _hooks(shortener: Shortener) -> Webhooks:
    assert shortener.webhooks is not None
    return shortener.webhooks


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h.example/",
        "javascript:alert(1)",
        "http://",
        "https:///path",
        "http://h.example/ a",
        "http://h.example/\n",
        "http://h.example:0/",
        "http://h.example:99999/",
        "https://h.example/" + "a" * 2100,
        "",
        None,
        42,
    ],
)
def test_bad_endpoint_urls_are_refused(url: object) -> None:
    with pytest.raises(InvalidOption):
        check_endpoint_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://h.example/x?y=1"])
def test_good_endpoint_urls_pass(url: str) -> None:
    assert check_endpoint_url(url) == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/"]
)
def test_private_addresses_are_refused_when_asked(url: str) -> None:
    with pytest.raises(InvalidOption):
        check_public_host(url)
    hooks = Webhooks(MemoryStorage(), EventBus(), utcnow, refuse_private=True)
    with pytest.raises(InvalidOption):
        hooks.add(url)


@pytest.mark.parametrize("secret", ["nope", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ=", 7])
def test_malformed_secrets_are_refused(shortener: Shortener, secret: object) -> None:
    with pytest.raises(InvalidOption):
        shortener.add_webhook("http://127.0.0.1:9/", secret=secret)  # type: ignore[arg-type]
    assert shortener.list_webhooks() == []


def test_endpoints_are_listed_and_removed(shortener: Shortener) -> None:
    secret = new_secret()
    one = shortener.add_webhook("http://127.0.0.1:9/1", ["link.created"], secret)
    two = shortener.add_webhook("http://127.0.0.1:9/2", description="all of it")
    assert one.secret == secret
    assert two.secret.startswith("whsec_")
    assert two.events == ("*",)
    assert [e.id for e in shortener.list_webhooks()] == [one.id, two.id]
    shortener.remove_webhook(one.id)
    with pytest.raises(EndpointNotFound):
        shortener.remove_webhook(one.id)
    with pytest.raises(InvalidOption):
        shortener.add_webhook("http://127.0.0.1:9/", ["link.nope"])
    with pytest.raises(InvalidOption):
        shortener.add_webhook("http://127.0.0.1:9/", [])


def test_each_endpoint_gets_the_events_it_wants(shortener: Shortener) -> None:
    created = shortener.add_webhook("http://127.0.0.1:9/c", ["link.created"])
    everything = shortener.add_webhook("http://127.0.0.1:9/all")
    link = shortener.shorten("https://example.com/", password="pw-12345")
    shortener.update(link.code, title="t")
    shortener.emit("conversion.recorded", {"code": link.code, "value": 1})
    store = _hooks(shortener).storage
    assert store.pending(created.id) == 1
    assert store.pending(everything.id) == 3
    (message,) = store.claim("t", now=shortener.clock(), lease=5, limit=10)[:1]
    body = json.loads(message.body)
    assert body["type"] == "link.created"
    assert body["data"]["code"] == link.code
    assert "password_hash" not in body["data"]
    assert body["id"].startswith("evt_")


def test_clicks_are_batched_by_count_and_by_time(shortener: Shortener) -> None:
    hooks = _hooks(shortener)
    hooks.click_batch = 2
    endpoint = shortener.add_webhook("http://127.0.0.1:9/", ["link.clicked"])
    link = shortener.shorten("https://example.com/")
    for _ in range(3):
        shortener.resolve(link.code, Visitor(user_agent="Mozilla/5.0 Chrome/120.0"))
    assert shortener.events.drain()
    assert hooks.storage.pending(endpoint.id) == 1  # one full batch; one click waits
    hooks.click_wait = 0.0
    shortener.events.every(lambda: None)  # nudge: the worker ticks
    deadline = time.monotonic() + 5
    while hooks.storage.pending(endpoint.id) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hooks.storage.pending(endpoint.id) == 2


def test_an_outbox_failure_never_fails_the_write(
    shortener: Shortener, monkeypatch: pytest.MonkeyPatch
) -> None:
    shortener.add_webhook("http://127.0.0.1:9/")
    hooks = _hooks(shortener)

    def broken(messages: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(hooks.storage, "enqueue", broken)
    link = shortener.shorten("https://example.com/")
    assert shortener.get(link.code).url == "https://example.com/"
    assert hooks.failed == 1


def test_the_signature_is_the_standard_one() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    signature = signer(secret).sign("msg_1", now, '{"a":1}')
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
