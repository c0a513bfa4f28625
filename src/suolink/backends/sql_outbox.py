"""The webhook outbox (``KeepsOutbox``) in SQL, one text for SQLite, PostgreSQL, MariaDB
and the Django ORM's database.

Three tables, made by each backend's own migration (SQLite 11, the SQL backends'
schema 2, Django ``0011_webhooks``) with these columns:

- ``webhook_endpoints (id, created_us, data)``: ``data`` the endpoint as JSON;
- ``webhook_outbox (seq, id, endpoint_id, event, body, created_us, attempts, next_us,
  lease_owner, lease_until, state)``: ``seq`` an increasing key (an endpoint's order),
  ``state`` 0 waiting, 1 dead-lettered;
- ``webhook_deliveries (seq, message_id, endpoint_id, event, attempt, at_us, outcome,
  status, error, duration_ms)``: the delivery log.

Claiming is a compare-and-set: the heads due now are read, then each is leased by an
``UPDATE … WHERE seq = … AND (lease_until IS NULL OR lease_until <= now)``, which only
one transaction can win whatever the isolation level; PostgreSQL and MariaDB also read
the heads ``FOR UPDATE SKIP LOCKED`` so concurrent workers pass over each other's rows.
Statements use ``:name`` parameters; a backend runs them through :meth:`_outbox_tx`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ..outbox import MAX_ERROR, Delivery, Endpoint, Message, from_micros, message_from_row, micros

__all__ = ["Ran", "Run", "SqlOutbox"]


class Ran(NamedTuple):
    """What a statement gave: its rows (empty for writes) and how many rows it changed."""

    rows: list[tuple[Any, ...]]
    rowcount: int


#: Runs one statement with ``:name`` parameters inside the transaction.
Run = Callable[[str, Mapping[str, Any]], Ran]

_MESSAGE = "id, endpoint_id, event, body, created_us, attempts, next_us"
_DELIVERY = "message_id, endpoint_id, event, attempt, at_us, outcome, status, error, duration_ms"


def _delivery(row: Sequence[Any]) -> Delivery:
    message_id, endpoint_id, event, attempt, at_us, outcome, status, error, duration = row
    return Delivery(
        message_id=message_id,
        endpoint_id=endpoint_id,
        event=event,
        attempt=int(attempt),
        at=from_micros(at_us),
        outcome=outcome,
        status=None if status is None else int(status),
        error=error,
        duration_ms=int(duration),
    )


def _where_endpoint(endpoint_id: str | None, column: str = "endpoint_id") -> str:
    return "" if endpoint_id is None else f" AND {column} = :endpoint_id"


class SqlOutbox(ABC):
    """``KeepsOutbox`` over :meth:`_outbox_tx`; the tables come from the backend's migration."""

    #: Appended to the claim's read of due heads (``FOR UPDATE SKIP LOCKED`` where the
    #: engine has it).
    _claim_lock: str = ""

    @abstractmethod
    def _outbox_tx(self, doing: str, *, write: bool = True) -> AbstractContextManager[Run]:
        """A transaction (committed on success) running ``:name`` statements; a read
        (``write=False``) need not take a write lock."""

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Store a new endpoint."""
        with self._outbox_tx("add a webhook endpoint") as run:
            run(
                "INSERT INTO webhook_endpoints (id, created_us, data) VALUES (:id, :at, :data)",
                {"id": endpoint.id, "at": micros(endpoint.created_at), "data": endpoint.to_json()},
            )

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        with self._outbox_tx("read webhook endpoints", write=False) as run:
            rows = run("SELECT data FROM webhook_endpoints ORDER BY created_us, id", {}).rows
        return [Endpoint.from_json(row[0]) for row in rows]

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its waiting and dead messages; True if it existed."""
        with self._outbox_tx("remove a webhook endpoint") as run:
            params = {"id": endpoint_id}
            run("DELETE FROM webhook_outbox WHERE endpoint_id = :id", params)
            return run("DELETE FROM webhook_endpoints WHERE id = :id", params).rowcount > 0

    def enqueue(self, messages: Sequence[Message]) -> None:
        """Append messages to their endpoints' lines, in order; unknown endpoints' are dropped."""
        if not messages:
            return
        with self._outbox_tx("queue webhook messages") as run:
            known = {row[0] for row in run("SELECT id FROM webhook_endpoints", {}).rows}
            for message in messages:
                if message.endpoint_id not in known:
                    continue
                run(
                    f"INSERT INTO webhook_outbox ({_MESSAGE}, state) VALUES "  # noqa: S608
                    "(:id, :endpoint_id, :event, :body, :created_us, :attempts, :next_us, 0)",
                    {
                        "id": message.id,
                        "endpoint_id": message.endpoint_id,
                        "event": message.event,
                        "body": message.body,
                        "created_us": micros(message.created_at),
                        "attempts": message.attempts,
                        "next_us": micros(message.due()),
                    },
                )

    def claim(self, worker: str, *, now: datetime, lease: float, limit: int = 100) -> list[Message]:
        """Lease the due heads of the endpoints' lines to ``worker`` (see the module docstring)."""
        at = micros(now)
        until = micros(now + timedelta(seconds=lease))
        claimed: list[Message] = []
        with self._outbox_tx("claim webhook messages") as run:
            heads = run(
                f"SELECT {_MESSAGE}, seq FROM webhook_outbox o "  # noqa: S608 - constant
                "WHERE o.state = 0 AND o.next_us <= :now "
                "AND (o.lease_until IS NULL OR o.lease_until <= :now) "
                "AND o.seq = (SELECT MIN(i.seq) FROM webhook_outbox i "
                "WHERE i.endpoint_id = o.endpoint_id AND i.state = 0) "
                f"ORDER BY o.seq LIMIT :limit{self._claim_lock}",
                {"now": at, "limit": int(limit)},
            ).rows
            for row in heads:
                won = run(
                    "UPDATE webhook_outbox SET lease_owner = :worker, lease_until = :until "
                    "WHERE seq = :seq AND state = 0 "
                    "AND (lease_until IS NULL OR lease_until <= :now)",
                    {"worker": worker, "until": until, "seq": row[7], "now": at},
                ).rowcount
                if won:
                    claimed.append(message_from_row(row))
        return claimed

    def settle(self, worker: str, delivery: Delivery, *, retry_at: datetime | None = None) -> bool:
        """Log ``delivery`` and settle its message if ``worker`` still holds it."""
        held = "WHERE id = :id AND lease_owner = :worker AND state = 0"
        params: dict[str, Any] = {"id": delivery.message_id, "worker": worker}
        with self._outbox_tx("settle a webhook message") as run:
            if delivery.outcome == "delivered":
                changed = run(f"DELETE FROM webhook_outbox {held}", params).rowcount  # noqa: S608
            elif delivery.outcome == "dead":
                changed = run(
                    "UPDATE webhook_outbox SET state = 1, attempts = :attempts, "  # noqa: S608
                    f"lease_owner = NULL, lease_until = NULL {held}",
                    {**params, "attempts": delivery.attempt},
                ).rowcount
            else:
                changed = run(
                    "UPDATE webhook_outbox SET attempts = :attempts, next_us = :next_us, "  # noqa: S608
                    f"lease_owner = NULL, lease_until = NULL {held}",
                    {
                        **params,
                        "attempts": delivery.attempt,
                        "next_us": micros(retry_at or delivery.at),
                    },
                ).rowcount
            if not changed:
                return False
            run(
                f"INSERT INTO webhook_deliveries ({_DELIVERY}) VALUES "  # noqa: S608
                "(:message_id, :endpoint_id, :event, :attempt, :at_us, :outcome, :status, "
                ":error, :duration_ms)",
                {
                    "message_id": delivery.message_id,
                    "endpoint_id": delivery.endpoint_id,
                    "event": delivery.event,
                    "attempt": delivery.attempt,
                    "at_us": micros(delivery.at),
                    "outcome": delivery.outcome,
                    "status": delivery.status,
                    "error": None if delivery.error is None else delivery.error[:MAX_ERROR],
                    "duration_ms": delivery.duration_ms,
                },
            )
            return True

    def deliveries(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first."""
        found = self._newest(
            "read the webhook delivery log",
            _DELIVERY,
            "webhook_deliveries",
            "1 = 1",
            endpoint_id,
            limit,
        )
        return [_delivery(row) for row in found]

    def dead_letters(self, *, endpoint_id: str | None = None, limit: int = 100) -> list[Message]:
        """Dead-lettered messages, newest first."""
        found = self._newest(
            "read dead webhook messages",
            _MESSAGE,
            "webhook_outbox",
            "state = 1",
            endpoint_id,
            limit,
        )
        return [message_from_row(row) for row in found]

    def _newest(
        self, doing: str, columns: str, table: str, where: str, endpoint_id: str | None, limit: int
    ) -> Sequence[Any]:
        """The newest ``limit`` rows of ``table`` matching ``where`` (and the endpoint)."""
        with self._outbox_tx(doing, write=False) as run:
            return run(
                f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608
                f"{_where_endpoint(endpoint_id)} ORDER BY seq DESC LIMIT :limit",
                {"endpoint_id": endpoint_id, "limit": int(limit)},
            ).rows

    def pending(self, endpoint_id: str | None = None) -> int:
        """How many messages wait, in one endpoint's line or in all."""
        with self._outbox_tx("count waiting webhook messages", write=False) as run:
            rows = run(
                "SELECT COUNT(*) FROM webhook_outbox WHERE state = 0"  # noqa: S608
                + _where_endpoint(endpoint_id),
                {"endpoint_id": endpoint_id},
            ).rows
        return int(rows[0][0])

    def prune_deliveries(self, before: datetime) -> int:
        """Forget log rows and dead messages older than ``before``; how many."""
        at = {"before": micros(before)}
        with self._outbox_tx("prune the webhook delivery log") as run:
            log = run("DELETE FROM webhook_deliveries WHERE at_us < :before", at).rowcount
            dead = run(
                "DELETE FROM webhook_outbox WHERE state = 1 AND created_us < :before", at
            ).rowcount
        return max(0, log) + max(0, dead)
