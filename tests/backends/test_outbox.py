"""The webhook outbox (``keeps_outbox``) on every backend that claims it: endpoints, the
per-endpoint line, leases, settling, the delivery log (see :mod:`suolink.outbox`)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import cast

from suolink.backends import Storage
from suolink.backends.base import KeepsOutbox
from suolink.outbox import Delivery, Endpoint, Message, Outcome, new_id

from .conftest import claiming

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _endpoint(store: KeepsOutbox, name: str = "a", events: tuple[str, ...] = ("*",)) -> Endpoint:
    endpoint = Endpoint(
        id=new_id("ep"),
        url=f"http://127.0.0.1:9/{name}",
        events=events,
        secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
        created_at=T0 + timedelta(seconds=len(store.endpoints())),
        description=name,
    )
    store.add_endpoint(endpoint)
    return endpoint


def _messages(endpoint: Endpoint, n: int, at: datetime = T0) -> list[Message]:
    return [
        Message(
            id=new_id("msg"),
            endpoint_id=endpoint.id,
            event="link.created",
            body=f'{{"n":{i},"text":"中文 ✓"}}',
            created_at=at,
        )
        for i in range(n)
    ]


def _delivery(message: Message, outcome: Outcome, attempt: int = 1, **extra: object) -> Delivery:
    return Delivery(
        message_id=message.id,
        endpoint_id=message.endpoint_id,
        event=message.event,
        attempt=attempt,
        at=T0,
        outcome=outcome,
        **extra,  # type: ignore[arg-type]
    )


@claiming("keeps_outbox")
def test_endpoints_round_trip_and_go(storage: Storage) -> None:
    store = cast(KeepsOutbox, storage)
    assert store.endpoints() == []
    first = _endpoint(store, "a", ("link.created", "link.clicked"))
    second = _endpoint(store, "b")
    assert store.endpoints() == [first, second]
    assert store.remove_endpoint(first.id) is True
    assert store.remove_endpoint(first.id) is False
    assert store.endpoints() == [second]


@claiming("keeps_outbox")
def test_only_the_head_of_each_line_is_claimed_in_order(storage: Storage) -> None:
    store = cast(KeepsOutbox, storage)
    a, b = _endpoint(store, "a"), _endpoint(store, "b")
    line_a, line_b = _messages(a, 3), _messages(b, 2)
    store.enqueue(line_a + line_b)
    assert store.pending() == 5
    assert store.pending(a.id) == 3
    got = store.claim("w1", now=T0, lease=30)
    assert sorted(m.id for m in got) == sorted([line_a[0].id, line_b[0].id])
    assert {m.id: m for m in got}[line_a[0].id] == line_a[0]
    assert store.claim("w2", now=T0, lease=30) == []  # leased: the lines wait
    delivered = [line_a[0]]
    for message in line_a[1:]:
        assert store.settle("w1", _delivery(delivered[-1], "delivered"))
        got = store.claim("w1", now=T0, lease=30)
        assert [m.id for m in got] == [message.id]
        delivered.append(message)
    assert store.pending(a.id) == 1
    assert store.settle("w1", _delivery(line_a[-1], "delivered"))
    assert store.pending(a.id) == 0


@claiming("keeps_outbox")
def test_a_lease_runs_out_and_the_old_holder_cannot_settle(storage: Storage) -> None:
    store = cast(KeepsOutbox, storage)
    (message,) = _messages(_endpoint(store), 1)
    store.enqueue([message])
    assert [m.id for m in store.claim("w1", now=T0, lease=10)] == [message.id]
    assert store.claim("w2", now=T0 + timedelta(seconds=9), lease=10) == []
    assert [m.id for m in store.claim("w2", now=T0 + timedelta(seconds=10), lease=10)] == [
        message.id
    ]
    assert store.settle("w1", _delivery(message, "delivered")) is False
    assert store.deliveries() == []
    assert store.settle("w2", _delivery(message, "delivered")) is True
    assert store.pending() == 0


@claiming("keeps_outbox")
def test_a_failure_waits_its_turn_and_keeps_the_line(storage: Storage) -> None:
    store = cast(KeepsOutbox, storage)
    first, second = _messages(_endpoint(store), 2)
    store.enqueue([first, second])
    store.claim("w", now=T0, lease=30)
    retry_at = T0 + timedelta(seconds=20)
    failed = _delivery(first, "failed", status=503, error="Service Unavailable")
    assert store.settle("w", failed, retry_at=retry_at)
    assert store.claim("w", now=T0 + timedelta(seconds=19), lease=30) == []  # not the 2nd
    (again,) = store.claim("w", now=retry_at, lease=30)
    assert (again.id, again.attempts, again.next_at) == (first.id, 1, retry_at)
    assert store.settle("w", _delivery(again, "dead", attempt=2, error="gave up"))
    (head,) = store.claim("w", now=retry_at, lease=30)
    assert head.id == second.id
    (dead,) = store.dead_letters()
    assert (dead.id, dead.attempts, dead.body) == (first.id, 2, first.body)
    log = store.deliveries()
    assert [(d.attempt, d.outcome, d.status) for d in log] == [
        (2, "dead", None),
        (1, "failed", 503),
    ]
    assert log[1] == failed


@claiming("keeps_outbox")
def test_the_log_filters_prunes_and_removing_an_endpoint_drops_its_line(
    storage: Storage,
) -> None:
    store = cast(KeepsOutbox, storage)
    a, b = _endpoint(store, "a"), _endpoint(store, "b")
    (ma,), (mb,) = _messages(a, 1), _messages(b, 1)
    store.enqueue([ma, mb, *_messages(b, 2)])
    store.claim("w", now=T0, lease=30)
    store.settle("w", _delivery(ma, "delivered", status=204))
    store.settle("w", _delivery(mb, "dead"))
    assert [d.message_id for d in store.deliveries(endpoint_id=a.id)] == [ma.id]
    assert len(store.deliveries(limit=1)) == 1
    assert store.remove_endpoint(b.id)
    assert store.pending() == 0
    assert store.dead_letters() == []
    store.enqueue(_messages(b, 1))  # gone: dropped
    assert store.pending() == 0
    assert store.prune_deliveries(T0) == 0
    assert store.prune_deliveries(T0 + timedelta(seconds=1)) == 2
    assert store.deliveries() == []


@claiming("keeps_outbox")
def test_concurrent_workers_never_hold_one_message(storage: Storage) -> None:
    store = cast(KeepsOutbox, storage)
    endpoints = [_endpoint(store, str(i)) for i in range(4)]
    store.enqueue([m for e in endpoints for m in _messages(e, 5)])
    settled: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        try:
            for _ in range(200):
                got = store.claim(name, now=T0, lease=600)
                for message in got:
                    if store.settle(name, _delivery(message, "delivered")):
                        with lock:
                            settled[message.id] += 1
                if store.pending() == 0:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.pending() == 0
    assert len(settled) == 20
    assert set(settled.values()) == {1}
    assert len(store.deliveries(limit=100)) == 20
