"""The webhook outbox's values and rules, below the backends that keep them.

An :class:`Endpoint` is where deliveries go; a :class:`Message` is one event for one
endpoint, waiting in the outbox until delivered or dead-lettered; a :class:`Delivery`
is one attempt, kept in the delivery log. Backends keep them through the
``KeepsOutbox`` capability (:mod:`suolink.backends.base`); :class:`MemoryOutbox` is that
capability in process (``memory://``, lost on exit) and the reference the others match.

The rules every backend keeps (``tests/backends/test_outbox.py``):

- **per-endpoint order**: only the oldest waiting message of an endpoint (its head) can
  be claimed; the next waits until the head is delivered or dead-lettered;
- **leases**: a claim holds the head for ``lease`` seconds; another worker cannot claim
  it meanwhile, so two workers never deliver one message at once; a worker that dies
  leaves a lease that simply runs out;
- **settling** needs the lease still held by the worker (``False`` if not: someone else
  took it over); it logs the attempt and removes the message (delivered, dead) or puts it
  back with its next time (failed).
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

__all__ = [
    "OUTCOMES",
    "Delivery",
    "Endpoint",
    "MemoryOutbox",
    "Message",
    "Outcome",
    "RetryPolicy",
    "from_micros",
    "message_from_row",
    "micros",
    "new_id",
]

Outcome = Literal["delivered", "failed", "dead"]
OUTCOMES: Final = ("delivered", "failed", "dead")
#: Longest error text kept in the delivery log.
MAX_ERROR: Final = 500
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def new_id(prefix: str) -> str:
    """``prefix_`` + 13 hex digits of milliseconds + 16 random: unique, roughly ordered."""
    return f"{prefix}_{time.time_ns() // 1_000_000:013x}{secrets.token_hex(8)}"


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (how SQL and Redis backends keep outbox times)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int | str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A receiver of webhooks: its URL, the events it wants (``*``: all), its secret
    (``whsec_`` + base64, as Standard Webhooks has it)."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime
    description: str = ""

    def wants(self, event: str) -> bool:
        return event in self.events or "*" in self.events

    def to_dict(self, *, with_secret: bool = False) -> dict[str, Any]:
        """JSON-ready; the secret only when asked (it is shown once, when made)."""
        data: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at.isoformat(),
            "description": self.description,
        }
        if with_secret:
            data["secret"] = self.secret
        return data

    def to_json(self) -> str:
        """How backends store it (secret included)."""
        return json.dumps(self.to_dict(with_secret=True), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Endpoint:
        data = json.loads(text)
        return cls(
            id=data["id"],
            url=data["url"],
            events=tuple(data["events"]),
            secret=data["secret"],
            created_at=datetime.fromisoformat(data["created_at"]),
            description=data.get("description", ""),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One event for one endpoint. ``id`` is the ``webhook-id`` header, the same on every
    retry (receivers dedupe on it); ``body`` is the exact JSON text signed and sent."""

    id: str
    endpoint_id: str
    event: str
    body: str
    created_at: datetime
    #: Attempts made so far.
    attempts: int = 0
    #: Not claimable before this (None given: ``created_at``).
    next_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.next_at is None:
            object.__setattr__(self, "next_at", self.created_at)

    def due(self) -> datetime:
        """When it may be claimed."""
        return self.next_at or self.created_at


def message_from_row(row: Sequence[Any]) -> Message:
    """A message from its first seven stored columns, in the stores' order: id, endpoint
    id, event, body, created (µs), attempts, next attempt (µs)."""
    ident, endpoint_id, event, body, created_us, attempts, next_us = row[:7]
    return Message(
        id=ident,
        endpoint_id=endpoint_id,
        event=event,
        body=body,
        created_at=from_micros(created_us),
        attempts=int(attempts),
        next_at=from_micros(next_us),
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver a message: a row of the delivery log."""

    message_id: str
    endpoint_id: str
    event: str
    attempt: int
    at: datetime
    outcome: Outcome
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "endpoint_id": self.endpoint_id,
            "event": self.event,
            "attempt": self.attempt,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "status": self.status,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is tried again: ``base * factor**(n-1)`` seconds after the
    n-th failure, at most ``cap``, each spread by ±``jitter`` (a fraction) so endpoints
    coming back are not hit by every retry at once. After ``max_attempts`` attempts, or
    once the message is older than ``max_age``, it is dead-lettered."""

    base: float = 5.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.2
    max_attempts: int = 12
    max_age: timedelta = timedelta(days=1)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2, …)."""
        raw = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        spread = raw * self.jitter
        return max(0.0, raw + self.rng.uniform(-spread, spread))

    def gives_up(self, message: Message, attempts: int, now: datetime) -> bool:
        """True if a message that failed its ``attempts``-th attempt is dead."""
        return attempts >= self.max_attempts or now - message.created_at >= self.max_age

    def schedule(self) -> list[float]:
        """The delays without jitter, attempt by attempt (for the docs)."""
        return [min(self.cap, self.base * self.factor**n) for n in range(self.max_attempts - 1)]


@dataclass
class _Slot:
    message: Message
    owner: str | None = None
    until: datetime | None = None


class MemoryOutbox:
    """``KeepsOutbox`` in this process: dicts behind a lock, gone when it exits."""

    def __init__(self) -> None:
        self._outbox_lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._queues: dict[str, list[_Slot]] = {}
        self._dead: list[Message] = []
        self._log: list[Delivery] = []

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        with self._outbox_lock:
            self._endpoints[endpoint.id] = endpoint

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        with self._outbox_lock:
            return sorted(self._endpoints.values(), key=lambda e: (e.created_at, e.id))

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its waiting and dead messages; True if it existed."""
        with self._outbox_lock:
            self._queues.pop(endpoint_id, None)
            self._dead = [m for m in self._dead if m.endpoint_id != endpoint_id]
            return self._endpoints.pop(endpoint_id, None) is not None

    def enqueue(self, messages: Sequence[Message]) -> None:
        """Append messages to their endpoints' lines, in order; unknown endpoints' are dropped."""
        with self._outbox_lock:
            for message in messages:
                if message.endpoint_id in self._endpoints:
                    self._queues.setdefault(message.endpoint_id, []).append(_Slot(message))

    def claim(self, worker: str, *, now: datetime, lease: float, limit: int = 100) -> list[Message]:
        """Lease the due heads of the endpoints' lines to ``worker`` (see the module docstring)."""
        claimed: list[Message] = []
        until = now + timedelta(seconds=lease)
        with self._outbox_lock:
            for slots in self._queues.values():
                if len(claimed) >= limit:
                    break
                if not slots:
                    continue
                head = slots[0]
                if head.message.due() > now or (head.until is not None and head.until > now):
                    continue
                head.owner, head.until = worker, until
                claimed.append(head.message)
        return claimed

    def settle(self, worker: str, delivery: Delivery, *, retry_at: datetime | None = None) -> bool:
        """Log ``delivery`` and settle its message if ``worker`` still holds it."""
        with self._outbox_lock:
            slots = self._queues.get(delivery.endpoint_id) or []
            if not slots or slots[0].message.id != delivery.message_id or slots[0].owner != worker:
                return False
            head = slots[0]
            self._log.append(delivery)
            if delivery.outcome == "failed":
                head.message = replace(head.message, attempts=delivery.attempt, next_at=retry_at)
                head.owner = head.until = None
            else:
                slots.pop(0)
                if delivery.outcome == "dead":
                    self._dead.append(replace(head.message, attempts=delivery.attempt))
            return True

    def deliveries(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        with self._outbox_lock:
            rows = [d for d in self._log if endpoint_id in (None, d.endpoint_id)]
        return rows[::-1][:limit]

    def dead_letters(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Message]:
        """Dead-lettered messages, newest first."""
        with self._outbox_lock:
            rows = [m for m in self._dead if endpoint_id in (None, m.endpoint_id)]
        return rows[::-1][:limit]

    def pending(self, endpoint_id: str | None = None) -> int:
        """How many messages wait, in one endpoint's line or in all."""
        with self._outbox_lock:
            return sum(
                len(slots) for key, slots in self._queues.items() if endpoint_id in (None, key)
            )

    def prune_deliveries(self, before: datetime) -> int:
        """Forget log rows and dead messages older than ``before``; how many."""
        with self._outbox_lock:
            kept = [d for d in self._log if d.at >= before]
            dead = [m for m in self._dead if m.created_at >= before]
            pruned = len(self._log) - len(kept) + len(self._dead) - len(dead)
            self._log, self._dead = kept, dead
            return pruned
