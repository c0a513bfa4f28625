"""The webhook delivery worker: claims messages from the outbox, signs and POSTs them.

``suolink webhooks run`` and ``suolink serve`` run one; a host runs it with
``Shortener.run_webhooks()`` or ``WebhookWorker(storage).run()``. Several workers (on
one host or many) may share a store: a message is leased to one worker at a time (see
:mod:`suolink.outbox`), so none is delivered twice at once, and each endpoint gets its
messages in order.

Each POST: the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), ``timeout`` seconds per network step, redirects not followed
(a 3xx is a failure), at most ``max_response`` bytes of the answer read. A 2xx answer
delivers the message; anything else is retried with :class:`~suolink.outbox.RetryPolicy`
backoff, then dead-lettered. Delivery is **at least once**: a worker killed after the
receiver answered but before it settled leaves the lease to run out, and the message is
sent again with the same ``webhook-id``; receivers dedupe on it.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from ._version import __version__
from .backends.base import KeepsOutbox, Storage
from .errors import CapabilityMissing, InvalidOption
from .outbox import Delivery, Endpoint, Message, Outcome, RetryPolicy, new_id
from .webhooks import check_public_host, signer

__all__ = ["Attempt", "WebhookWorker", "post"]

log = logging.getLogger("suolink.webhooks")

USER_AGENT: Final = f"suolink-webhooks/{__version__}"
#: Deliveries kept in the log (and dead messages kept) this long by default.
DEFAULT_RETENTION: Final = timedelta(days=7)
_PRUNE_EVERY: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST gave: the status (None: no answer) and what went wrong, if anything."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _now() -> datetime:
    return datetime.now(UTC)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    max_response: int,
    refuse_private: bool = False,
) -> Attempt:
    """POST ``body`` to ``url``: no redirects followed, answer read up to ``max_response``."""
    started = time.perf_counter()

    def done(status: int | None, error: str | None) -> Attempt:
        return Attempt(status, error, int((time.perf_counter() - started) * 1000))

    parts = urlsplit(url)
    try:
        if refuse_private:
            check_public_host(url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = kind(parts.hostname or "", parts.port, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read(max_response + 1)
            status = response.status
        finally:
            conn.close()
    except InvalidOption as exc:
        return done(None, f"refused: {exc.reason}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return done(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return done(status, None)
    text = answer[:200].decode("utf-8", "replace")
    if 300 <= status < 400:
        return done(status, f"HTTP {status}: redirects are not followed")
    return done(status, f"HTTP {status}: {text}")


class WebhookWorker:
    """Delivers the outbox of ``storage`` (a URL or a ``KeepsOutbox`` storage).

    ``lease`` (seconds) must exceed the longest delivery (``timeout`` per step);
    ``batch`` messages are claimed at a time and posted ``concurrency`` at once (each to
    a different endpoint); ``poll`` is the pause when nothing is due; ``retention`` how
    long the delivery log and dead messages are kept.
    """

    def __init__(
        self,
        storage: str | Storage,
        *,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        lease: float = 60.0,
        batch: int = 20,
        concurrency: int = 4,
        timeout: float = 10.0,
        max_response: int = 64 * 1024,
        poll: float = 1.0,
        retention: timedelta = DEFAULT_RETENTION,
        refuse_private: bool = False,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if isinstance(storage, str):
            from .backends import open_storage

            storage = open_storage(storage)
            self._owns_storage = True
        else:
            self._owns_storage = False
        if not isinstance(storage, KeepsOutbox):
            raise CapabilityMissing("webhooks", "keeps_outbox", storage.url)
        if not timeout > 0 or not lease > timeout * 3:
            raise InvalidOption("lease", "must be more than three times the timeout")
        self.storage: KeepsOutbox = storage
        self._store: Storage = storage
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self.retry = retry or RetryPolicy()
        self.lease = float(lease)
        self.batch = int(batch)
        self.timeout = float(timeout)
        self.max_response = int(max_response)
        self.poll = float(poll)
        self.retention = retention
        self.refuse_private = bool(refuse_private)
        self.clock = clock
        self._pool = ThreadPoolExecutor(max(1, int(concurrency)), thread_name_prefix="suolink-wh")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._endpoints: tuple[float, dict[str, Endpoint]] = (-1e9, {})
        self._pruned = 0.0
        #: Counts since start: ``delivered``, ``failed`` (to be retried), ``dead``.
        self.counts: dict[str, int] = {"delivered": 0, "failed": 0, "dead": 0}

    def _endpoint(self, endpoint_id: str) -> Endpoint | None:
        read_at, known = self._endpoints
        if endpoint_id not in known or time.monotonic() - read_at > 5.0:
            known = {e.id: e for e in self.storage.endpoints()}
            self._endpoints = (time.monotonic(), known)
        return known.get(endpoint_id)

    def run_once(self) -> int:
        """Claim what is due, deliver it, settle it; how many messages were attempted."""
        claimed = self.storage.claim(
            self.name, now=self.clock(), lease=self.lease, limit=self.batch
        )
        if claimed:
            list(self._pool.map(self._deliver, claimed))
        if time.monotonic() - self._pruned > _PRUNE_EVERY:
            self._pruned = time.monotonic()
            self.storage.prune_deliveries(self.clock() - self.retention)
        return len(claimed)

    def _deliver(self, message: Message) -> None:
        try:
            endpoint = self._endpoint(message.endpoint_id)
            if endpoint is None:
                attempt = Attempt(None, "the endpoint was removed", 0)
            else:
                attempt = self._post(endpoint, message)
            self._settle(message, attempt)
        except Exception:
            log.exception("suolink webhook worker failed on message %s", message.id)

    def _post(self, endpoint: Endpoint, message: Message) -> Attempt:
        sent_at = self.clock()
        signature = signer(endpoint.secret).sign(message.id, sent_at, message.body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": message.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        }
        return post(
            endpoint.url,
            message.body.encode("utf-8"),
            headers,
            timeout=self.timeout,
            max_response=self.max_response,
            refuse_private=self.refuse_private,
        )

    def _settle(self, message: Message, attempt: Attempt) -> None:
        now = self.clock()
        number = message.attempts + 1
        outcome: Outcome
        retry_at = None
        if attempt.ok:
            outcome = "delivered"
        elif attempt.error == "the endpoint was removed" or self.retry.gives_up(
            message, number, now
        ):
            outcome = "dead"
        else:
            outcome = "failed"
            retry_at = now + timedelta(seconds=self.retry.delay(number))
        delivery = Delivery(
            message_id=message.id,
            endpoint_id=message.endpoint_id,
            event=message.event,
            attempt=number,
            at=now,
            outcome=outcome,
            status=attempt.status,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )
        if self.storage.settle(self.name, delivery, retry_at=retry_at):
            self.counts[outcome] += 1
            level = logging.INFO if outcome == "delivered" else logging.WARNING
            log.log(level, "webhook %s %s: %s", message.id, outcome, attempt.error or "ok")
        else:
            log.warning("webhook %s: lease lost before settling (sent anyway)", message.id)

    # -- running ----------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until :meth:`stop`; what is in flight then finishes first."""
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("suolink webhook worker could not read the outbox")
                busy = 0
            if not busy:
                self._stop.wait(self.poll)
        self._pool.shutdown(wait=True)

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="suolink-webhooks", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end and wait for in-flight deliveries (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._owns_storage:
            self._store.close()

    def status(self) -> dict[str, Any]:
        """Counts and the outbox's length (for ``suolink webhooks run`` logs)."""
        return {"worker": self.name, **self.counts, "pending": self.storage.pending()}
