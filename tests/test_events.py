"""In-process hooks: every event reaches its callbacks, off the request path, whatever
the callbacks do (raise, sleep, await) and whichever visit path recorded the visit."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from suolink import InvalidOption, Visitor
from suolink.events import EVENT_TYPES, Event, EventBus, check_event_name
from suolink.shortener import Shortener

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def test_link_events_reach_their_hooks_in_order(shortener: Shortener) -> None:
    seen: list[Event] = []
    shortener.on_link_created(seen.append)
    shortener.on("link.updated", seen.append)
    shortener.on("link.deleted", seen.append)
    link = shortener.shorten("https://example.com/a", password="hunter22")
    shortener.update(link.code, title="A")
    shortener.delete(link.code)
    assert shortener.events.drain()
    assert [e.name for e in seen] == ["link.created", "link.updated", "link.deleted"]
    created = seen[0].payload
    assert created["code"] == link.code
    assert created["short_url"] == f"https://s.example/{link.code}"
    assert created["has_password"] is True
    assert "password_hash" not in created
    assert seen[1].payload["title"] == "A"
    assert seen[2].payload == {"code": link.code}
    assert len({e.id for e in seen}) == 3


def test_on_visit_sees_every_recorded_visit_on_every_path(shortener: Shortener) -> None:
    """memory (planned redirect), sqlite (policy then record), redis (one trip)."""
    link = shortener.shorten("https://example.com/v")
    visits: list[Event] = []
    shortener.on_visit(visits.append)
    for _ in range(3):
        assert (
            shortener.resolve(link.code, Visitor(user_agent=CHROME, ip="203.0.113.9")).status == 302
        )
    shortener.resolve(link.code, Visitor(user_agent=CHROME), record=False)  # HEAD: nothing
    shortener.resolve("nosuchcode", Visitor(user_agent=CHROME))
    assert shortener.events.drain()
    assert [e.name for e in visits] == ["link.clicked"] * 3
    assert {e.payload["code"] for e in visits} == {link.code}
    assert visits[0].payload["outcome"] == "redirect"
    assert visits[0].payload["ip"] is None  # store_ip is off: hooks see what is stored


def test_a_raising_hook_is_logged_and_breaks_nothing(
    shortener: Shortener, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    later: list[str] = []
    shortener.on_visit(broken)
    shortener.on_visit(lambda e: later.append(e.name))
    link = shortener.shorten("https://example.com/r")
    with caplog.at_level(logging.ERROR, logger="suolink.events"):
        assert shortener.resolve(link.code, Visitor(user_agent=CHROME)).status == 302
        assert shortener.events.drain()
    assert shortener.events.failed == 1
    assert later == ["link.clicked"]  # the next hook still ran
    assert "hook bug" in caplog.text


def test_a_slow_hook_does_not_slow_the_redirect(shortener: Shortener) -> None:
    release = threading.Event()
    shortener.on_visit(lambda e: release.wait(5))
    link = shortener.shorten("https://example.com/s")
    started = time.perf_counter()
    for _ in range(5):
        assert shortener.resolve(link.code, Visitor(user_agent=CHROME)).status == 302
    assert time.perf_counter() - started < 1.0
    release.set()
    assert shortener.events.drain()


def test_async_hooks_are_awaited(shortener: Shortener) -> None:
    seen: list[str] = []

    async def hook(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.payload["code"])

    shortener.on_link_created(hook)
    link = shortener.shorten("https://example.com/async")
    assert shortener.events.drain()
    assert seen == [link.code]


def test_a_full_queue_drops_and_counts() -> None:
    bus = EventBus(queue_size=2)
    release = threading.Event()
    bus.on("*", lambda e: release.wait(5))
    published = [bus.publish(Event("link.deleted", {"code": str(i)})) for i in range(10)]
    assert bus.dropped >= 7
    assert published.count(True) == 10 - bus.dropped
    release.set()
    assert bus.drain()
    assert bus.delivered == 10 - bus.dropped
    bus.close()


def test_nobody_listening_costs_nothing_and_queues_nothing() -> None:
    bus = EventBus()
    assert bus.publish(Event("link.created", {})) is False
    assert bus._thread is None


def test_off_unsubscribes() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.on("link.created", seen.append)
    assert bus.off("link.created", seen.append) is True
    assert bus.off("link.created", seen.append) is False
    assert bus.publish(Event("link.created", {})) is False
    bus.close()


@pytest.mark.parametrize("name", ["link.nope", "", None, "*", "LINK.CREATED"])
def test_unknown_event_names_are_refused(shortener: Shortener, name: object) -> None:
    with pytest.raises(InvalidOption):
        shortener.emit(name, {})  # type: ignore[arg-type]
    if name != "*":
        with pytest.raises(InvalidOption):
            shortener.on(name, print)  # type: ignore[arg-type]


def test_emit_returns_the_event_in_the_standard_webhooks_shape(shortener: Shortener) -> None:
    seen: list[Event] = []
    shortener.on("*", seen.append)
    event = shortener.emit("conversion.recorded", {"code": "abc", "value": 3})
    assert shortener.events.drain()
    assert seen == [event]
    body = event.to_dict()
    assert body["type"] == "conversion.recorded"
    assert body["data"] == {"code": "abc", "value": 3}
    assert body["timestamp"].endswith("Z")
    assert body["id"].startswith("evt_")
    assert check_event_name("domain.state_changed") in EVENT_TYPES


def test_close_runs_what_is_queued() -> None:
    shortener = Shortener("memory://")
    seen: list[Event] = []
    shortener.on_link_created(seen.append)
    shortener.shorten("https://example.com/c")
    shortener.close()
    assert len(seen) == 1
