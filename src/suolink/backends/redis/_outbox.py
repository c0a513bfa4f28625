"""The webhook outbox (``KeepsOutbox``) in Redis and Redis Cluster.

Every key shares the hash tag ``{~wh}`` (no code can hold ``~``), so the Lua scripts
in ``lua/outbox_*.lua`` may touch them all on one cluster slot:

- ``<prefix>{~wh}:ep``: a hash, endpoint id → the endpoint as JSON;
- ``…:q:<endpoint>``: the endpoint's line, a list of message ids (head first), and
  ``…:lines`` the set of endpoints that may have one;
- ``…:m:<message>``: a message's hash (endpoint, event, body, times, attempts, and the
  lease: ``owner``, ``until``);
- ``…:dead``: dead-lettered message ids, newest first;
- ``…:log`` and ``…:log:<endpoint>``: the delivery log as JSON, newest first.

Claiming and settling are scripts, so a lease is taken or checked atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ...outbox import MAX_ERROR, Delivery, Endpoint, Message, from_micros, message_from_row, micros

__all__ = ["RedisOutbox"]

_T = TypeVar("_T")
#: At most this many dead letters are read to filter one endpoint's.
_DEAD_SCAN = 10_000


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisOutbox:
    """The outbox's methods on :class:`~suolink.backends.redis.RedisStorage`."""

    prefix: str
    _scripts: dict[str, Any]
    _read: Callable[..., Any]
    _write: Callable[..., Any]

    @property
    def _wh(self) -> str:
        return f"{self.prefix}{{~wh}}"

    def _outbox_script(self, name: str, args: Sequence[str | int]) -> Callable[[Any], Any]:
        script = self._scripts[f"outbox_{name}"]
        key = f"{self._wh}:ep"
        return lambda client: script(client, [key], [self._wh, *args])

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        key = f"{self._wh}:ep"
        self._write(
            "add a webhook endpoint", lambda c: c.hset(key, endpoint.id, endpoint.to_json())
        )

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        key = f"{self._wh}:ep"
        raw = self._read("read webhook endpoints", lambda c: c.hvals(key))
        found = [Endpoint.from_json(_text(value)) for value in raw]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its waiting and dead messages; True if it existed."""
        run = self._outbox_script("remove", [endpoint_id])
        return bool(self._write("remove a webhook endpoint", run))

    def enqueue(self, messages: Sequence[Message]) -> None:
        """Append messages to their endpoints' lines, in order; unknown endpoints' are dropped."""
        if not messages:
            return
        args: list[str | int] = []
        for m in messages:
            args += [m.id, m.endpoint_id, m.event, m.body, micros(m.created_at), micros(m.due())]
        self._write("queue webhook messages", self._outbox_script("enqueue", args))

    def claim(self, worker: str, *, now: datetime, lease: float, limit: int = 100) -> list[Message]:
        """Lease the due heads of the endpoints' lines to ``worker`` (see :mod:`suolink.outbox`)."""
        until = micros(now + timedelta(seconds=lease))
        run = self._outbox_script("claim", [worker, micros(now), until, int(limit)])
        rows = self._write("claim webhook messages", run)
        return [message_from_row([_text(value) for value in row]) for row in rows]

    def settle(self, worker: str, delivery: Delivery, *, retry_at: datetime | None = None) -> bool:
        """Log ``delivery`` and settle its message if ``worker`` still holds it."""
        row = {**delivery.to_dict(), "at_us": micros(delivery.at)}
        if row["error"] is not None:
            row["error"] = row["error"][:MAX_ERROR]
        args: list[str | int] = [
            worker,
            delivery.message_id,
            delivery.endpoint_id,
            delivery.outcome,
            delivery.attempt,
            micros(retry_at or delivery.at),
            json.dumps(row, ensure_ascii=False, separators=(",", ":")),
        ]
        return bool(self._write("settle a webhook message", self._outbox_script("settle", args)))

    def deliveries(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        key = f"{self._wh}:log" + ("" if endpoint_id is None else f":{endpoint_id}")
        raw = self._read("read the webhook log", lambda c: c.lrange(key, 0, int(limit) - 1))
        out = []
        for text in raw:
            data = json.loads(text)
            out.append(
                Delivery(
                    message_id=data["message_id"],
                    endpoint_id=data["endpoint_id"],
                    event=data["event"],
                    attempt=int(data["attempt"]),
                    at=from_micros(data["at_us"]),
                    outcome=data["outcome"],
                    status=data["status"],
                    error=data["error"],
                    duration_ms=int(data["duration_ms"]),
                )
            )
        return out

    def dead_letters(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Message]:
        """Dead-lettered messages, newest first."""
        base = self._wh

        def read(client: Any) -> list[Message]:
            found: list[Message] = []
            for raw in client.lrange(f"{base}:dead", 0, _DEAD_SCAN - 1):
                ident = _text(raw)
                fields = {
                    _text(k): _text(v) for k, v in client.hgetall(f"{base}:m:{ident}").items()
                }
                if not fields or endpoint_id not in (None, fields["endpoint_id"]):
                    continue
                found.append(
                    Message(
                        id=ident,
                        endpoint_id=fields["endpoint_id"],
                        event=fields["event"],
                        body=fields["body"],
                        created_at=from_micros(fields["created_us"]),
                        attempts=int(fields["attempts"]),
                        next_at=from_micros(fields["next_us"]),
                    )
                )
                if len(found) >= limit:
                    break
            return found

        result: list[Message] = self._read("read dead webhook messages", read)
        return result

    def pending(self, endpoint_id: str | None = None) -> int:
        """How many messages wait, in one endpoint's line or in all."""
        base = self._wh

        def count(client: Any) -> int:
            names = (
                [endpoint_id]
                if endpoint_id is not None
                else [_text(e) for e in client.hkeys(f"{base}:ep")]
            )
            return sum(int(client.llen(f"{base}:q:{name}")) for name in names)

        total: int = self._read("count waiting webhook messages", count)
        return total

    def prune_deliveries(self, before: datetime) -> int:
        """Forget log rows and dead messages older than ``before``; how many."""
        run = self._outbox_script("prune", [micros(before)])
        return int(self._write("prune the webhook log", run))
