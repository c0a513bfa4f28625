"""Events: what happened in a Shortener, handed to in-process hooks off the request path.

An :class:`Event` is a name (:data:`EVENT_TYPES`), an id, a UTC timestamp and a
JSON-ready payload. Library users subscribe with ``Shortener.on(name, callback)`` (or
``on_visit`` / ``on_link_created``); webhooks (:mod:`suolink.webhooks`) receive the same
events through the outbox.

**Emitting** (for modules that add events, e.g. domains and conversions)::

    shortener.emit("conversion.recorded", {"code": "abc", "value": 12.5})

``Shortener.emit(name: str, payload: Mapping[str, Any]) -> Event`` checks the name is one
of :data:`EVENT_TYPES`, hands the event to the hooks (:meth:`EventBus.publish`) and to the
webhook outbox, and returns at once. It never raises because a hook failed or the queue
is full; the payload must be JSON-ready (str, int, float, bool, None, lists, dicts).

**Hooks never slow a redirect or break it.** Callbacks (plain functions or coroutine
functions) run one at a time in one worker thread fed by a bounded queue: publishing is a
``put_nowait``; when the queue is full the event is dropped and counted
(:attr:`EventBus.dropped`); an exception in a callback is logged on the
``suolink.events`` logger and counted (:attr:`EventBus.failed`). Delivery is at most once
and in publishing order; events still queued when the process dies are lost (use webhooks
for durable delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from .errors import InvalidOption

__all__ = [
    "ANY",
    "EVENT_TYPES",
    "Callback",
    "Event",
    "EventBus",
    "check_event_name",
    "new_event_id",
]

log = logging.getLogger("suolink.events")

#: Every event name, with what it means. Webhook endpoints subscribe to these names.
EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "link.created": "a link was made (payload: the link, as the API returns it)",
        "link.updated": "a link's settings changed (payload: the link after the change)",
        "link.deleted": "a link was deleted (payload: its code)",
        "link.clicked": "a visit was recorded (payload: the visit; webhooks get them in batches)",
        "conversion.recorded": "a conversion was attributed to a link",
        "domain.state_changed": (
            "a short domain's state in a platform changed (ok, suspect, blocked; payload: "
            "domain, pool, platform, before, after, reason, since)"
        ),
    }
)
#: The name that subscribes to every event.
ANY: Final = "*"
#: What a hook may be: a function of the event, returning nothing or an awaitable.
Callback = Callable[["Event"], Awaitable[None] | None]

#: Events waiting for the hooks' worker at most; more are dropped and counted.
DEFAULT_QUEUE_SIZE: Final = 10_000
#: How long an ``async`` hook may run before it is cancelled (seconds).
ASYNC_HOOK_TIMEOUT: Final = 30.0
#: How often timers registered with :meth:`EventBus.every` run, at most (seconds).
TICK: Final = 1.0
_STOP: Final = object()
_WAKE: Final = object()  # a timer was added: stop waiting without a timeout


def check_event_name(name: object, *, allow_any: bool = False) -> str:
    """``name`` if it is an event type (or ``*`` with ``allow_any``); ``InvalidOption`` if not."""
    if isinstance(name, str) and (name in EVENT_TYPES or (allow_any and name == ANY)):
        return name
    known = ", ".join(EVENT_TYPES) + (", *" if allow_any else "")
    raise InvalidOption("event", f"{str(name)[:80]!r} is not an event type (one of {known})")


def new_event_id() -> str:
    """A unique, roughly time-ordered id: ``evt_`` + 13 hex digits of ms + 16 random."""
    return f"evt_{time.time_ns() // 1_000_000:013x}{secrets.token_hex(8)}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: ``name`` (see :data:`EVENT_TYPES`), a unique ``id``, when
    (``timestamp``, aware UTC) and a JSON-ready ``payload``."""

    name: str
    payload: Mapping[str, Any]
    id: str = field(default_factory=new_event_id)
    timestamp: datetime = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """The Standard Webhooks body: ``{"type", "timestamp", "data"}`` plus ``id``."""
        return {
            "id": self.id,
            "type": self.name,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "data": dict(self.payload),
        }


#: What the queue holds: an event, or (name, a function making the event) so the
#: request path does not even build the payload.
_Item = Event | Callable[[], Event]


class EventBus:
    """Callbacks by event name, run off the caller's thread (see the module docstring).

    The worker thread starts with the first subscription; :meth:`publish` costs one
    attribute read when nobody listens to the event.
    """

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise InvalidOption("queue_size", "must be a whole number of at least 1")
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._hooks: dict[str, tuple[Callback, ...]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._tickers: tuple[Callable[[], None], ...] = ()
        #: Names somebody listens to (``*`` included); read on every publish, so a set
        #: swapped whole, never mutated.
        self.wanted: frozenset[str] = frozenset()
        #: Events dropped because the queue was full.
        self.dropped = 0
        #: Callback calls that raised (each logged).
        self.failed = 0
        #: Callback calls that returned normally.
        self.delivered = 0

    # -- subscribing ----------------------------------------------------------------------

    def on(self, name: str, callback: Callback) -> Callback:
        """Call ``callback(event)`` for every event ``name`` (``*``: every event).

        Returns ``callback``, so this also works as a decorator's body.
        """
        name = check_event_name(name, allow_any=True)
        if not callable(callback):
            raise InvalidOption("callback", "must be callable")
        with self._lock:
            self._hooks[name] = (*self._hooks.get(name, ()), callback)
            self.wanted = frozenset(self._hooks)
            self._start()
        return callback

    def every(self, ticker: Callable[[], None]) -> None:
        """Also call ``ticker()`` in the worker about once a second (batching timers)."""
        with self._lock:
            if ticker not in self._tickers:
                self._tickers = (*self._tickers, ticker)
            self._start()
            running = self._thread is not None and self._thread.is_alive()
        if running:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_WAKE)

    def off(self, name: str, callback: Callback) -> bool:
        """Stop calling ``callback`` for ``name``; False if it was not subscribed."""
        with self._lock:
            hooks = self._hooks.get(name, ())
            if callback not in hooks:
                return False
            index = hooks.index(callback)  # equal, not identical: bound methods are new
            rest = hooks[:index] + hooks[index + 1 :]
            if rest:
                self._hooks[name] = rest
            else:
                del self._hooks[name]
            self.wanted = frozenset(self._hooks)
            return True

    def wants(self, name: str) -> bool:
        """True if a callback listens to ``name`` (cheap: one set lookup or two)."""
        wanted = self.wanted
        return bool(wanted) and (name in wanted or ANY in wanted)

    # -- publishing -----------------------------------------------------------------------

    def publish(self, event: Event | Callable[[], Event], name: str | None = None) -> bool:
        """Queue ``event`` for the callbacks; False if nobody listens or it was dropped.

        ``event`` may be a function making it (called in the worker), then ``name`` says
        which event it will be. Never blocks, never raises.
        """
        key = event.name if isinstance(event, Event) else name
        if key is None or not self.wants(key):
            return False
        if self._pid != os.getpid():  # forked: the worker thread stayed in the parent
            self._after_fork()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was handed to its callbacks; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Run what is queued (up to ``timeout``), then stop the worker."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self.drain(timeout)
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)

    # -- the worker -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._closed or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name="suolink-events", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        with self._lock:
            self._pid = os.getpid()
            self._queue = queue.Queue(maxsize=self._queue.maxsize)
            self._thread = None
            self._loop = None
            if self._hooks:
                self._start()

    def _run(self) -> None:
        source = self._queue
        while True:
            try:
                item = source.get(timeout=TICK if self._tickers else None)
            except queue.Empty:
                self._tick()
                continue
            try:
                if item is _STOP:
                    return
                if item is not _WAKE:
                    self._dispatch(item)
            finally:
                source.task_done()
            if self._tickers and source.empty():
                self._tick()

    def _tick(self) -> None:
        for ticker in self._tickers:
            try:
                ticker()
            except Exception:
                self.failed += 1
                log.exception("suolink event timer %r failed", ticker)

    def _dispatch(self, item: _Item) -> None:
        try:
            event = item if isinstance(item, Event) else item()
        except Exception:
            self.failed += 1
            log.exception("suolink could not build an event for the hooks")
            return
        hooks = self._hooks.get(event.name, ()) + self._hooks.get(ANY, ())
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    self._await(result)
            except Exception:
                self.failed += 1
                log.exception("suolink hook %r failed on %s %s", hook, event.name, event.id)
            else:
                self.delivered += 1

    def _await(self, result: Awaitable[None]) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()

        async def bounded() -> None:
            await asyncio.wait_for(result, ASYNC_HOOK_TIMEOUT)

        self._loop.run_until_complete(bounded())
