"""Group commit: many threads' visits written in one transaction (or one pipeline).

A backend hands a :class:`GroupCommit` the function that writes a batch, ``write(items)
-> results``, one result (or exception) per item in order. Two ways to submit:

* :meth:`GroupCommit.submit` (the default, *durable* mode): the caller waits until the
  batch holding its item is written and gets its own result or exception. The first
  waiting thread writes (the leader); items that arrive meanwhile form the next batch,
  so batches grow with the load and a lone caller never waits for a timer. A leader
  whose last batch held several items waits a moment (``COMPANY_WAIT`` at most) for
  as many again: threads that all come back from one batch at once would otherwise
  alternate a commit of one (the first back) with a commit of all the others.
* :meth:`GroupCommit.submit_later` (*background* mode): the item is queued and the call
  returns at once; a flusher thread writes every ``batch_ms`` or ``batch_size`` items.
  What a crash loses is what was queued: at most ``QUEUED_BATCHES * batch_size`` items
  plus the batch being written, since a caller finding the queue full waits for room.
  A flusher that fell behind writes the whole queue as one batch, so the batch being
  written holds up to ``QUEUED_BATCHES * batch_size`` items too.

:meth:`GroupCommit.close` writes whatever is queued before it returns; queued items of
a process that is exiting are written by an ``atexit`` hook.

A caller that must not block (an event loop) asks for durable writes without waiting
inside :func:`deferring`: :meth:`GroupCommit.submit_deferred` stages the item on the
loop and hands back an asyncio future the caller awaits before it answers, so what is
acknowledged is still written. The items of one turn of the loop reach the flusher
together (one lock, at most one wake-up); the flusher writes without its period, but
waits up to ``COMPANY_WAIT`` for as many items as its last deferred batch answered and
saw queued (those answered come back together, a few per turn: each commit costs a
store far more than a visit). A written batch wakes each loop once, whatever number of
its futures the batch settles. A write whose result
cannot be known before it is written (a ``max_visits`` count) raises
:class:`CommitWouldWait` there instead, before anything is written.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar

from ..errors import BackendUnavailable, ConfigurationError

__all__ = [
    "BACKGROUND",
    "DURABLE",
    "BatchOptions",
    "CommitWouldWait",
    "Deferrals",
    "GroupCommit",
    "deferred_commits",
    "deferring",
    "parse_batch_option",
]

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
Mode = Literal["durable", "background"]
DURABLE: Mode = "durable"
BACKGROUND: Mode = "background"

#: Storage URL options this module reads (``?visits=background&batch_ms=2``).
OPTION_NAMES = ("visits", "batch_ms", "batch_size")
MAX_BATCH_SIZE = 10_000
MAX_BATCH_MS = 10_000.0
#: Background batches that may wait in the queue: beyond ``QUEUED_BATCHES * batch_size``
#: queued items a caller waits for the flusher (back-pressure), which bounds the loss.
#: 16: a flusher behind writes up to 4,096 visits at once (default ``batch_size``), which
#: SQLite writes for about two thirds of the CPU per visit of 1,024 (docs/storage.md).
QUEUED_BATCHES = 16
#: Seconds a durable leader (without ``batch_ms``) waits at most for as many items as its
#: last batch held; a batch of one never waits. See :meth:`GroupCommit._lead`.
COMPANY_WAIT: Final = 0.002
#: Seconds between attempts while a background write keeps failing "not now".
_RETRY_PAUSES = (0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How visits are batched: the mode, and when a batch is written.

    ``batch_ms`` is how long a batch may gather before it is written: in background
    mode the flusher's period (default 2 ms), in durable mode an optional extra wait
    for more visits (default 0: a batch is what arrived while the last one was written).
    ``batch_size`` caps a batch (default 256).
    """

    mode: Mode = DURABLE
    batch_ms: float | None = None
    batch_size: int = 256

    @property
    def delay(self) -> float:
        """Seconds a batch gathers before it is written (the flusher's, in background mode)."""
        if self.batch_ms is not None:
            return self.batch_ms / 1000
        return 0.002 if self.mode == BACKGROUND else 0.0

    @property
    def leader_delay(self) -> float:
        """Seconds a waiting caller's batch gathers: ``batch_ms`` in durable mode only.

        In background mode the visits that must wait (a ``max_visits`` link) are few and
        are written at once, never held for the flusher's period.
        """
        return self.delay if self.mode == DURABLE else 0.0

    def with_option(self, name: str, value: str) -> BatchOptions:
        """These options with one URL option applied; ``ConfigurationError`` if bad."""
        return parse_batch_option(self, name, value)


def parse_batch_option(options: BatchOptions, name: str, value: str) -> BatchOptions:
    """``options`` with the URL option ``name=value`` applied (names in ``OPTION_NAMES``)."""
    if name == "visits":
        if value not in (DURABLE, BACKGROUND):
            raise ConfigurationError(f"visits must be 'durable' or 'background', not {value!r}")
        return BatchOptions(value, options.batch_ms, options.batch_size)
    if name == "batch_ms":
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if not 0 <= ms <= MAX_BATCH_MS:  # also refuses nan
            raise ConfigurationError(f"batch_ms must be 0 to {MAX_BATCH_MS:g}: {value!r}")
        return BatchOptions(options.mode, ms, options.batch_size)
    if name == "batch_size":
        size = int(value) if value.isascii() and value.isdigit() else 0
        if not 1 <= size <= MAX_BATCH_SIZE:
            raise ConfigurationError(f"batch_size must be 1 to {MAX_BATCH_SIZE}: {value!r}")
        return BatchOptions(options.mode, options.batch_ms, size)
    raise ConfigurationError(f"not a batching option: {name!r}")


class _Slot(Generic[Item, Result]):
    """One submitted item: its result or exception once written, and its waiter's lock.

    The lock is taken when the slot is made; releasing it wakes the one thread waiting
    on it, either because its item is written (``done``) or to make it the next leader.
    """

    __slots__ = ("done", "error", "item", "result", "wake")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()
        self.wake.acquire()


Write = Callable[[Sequence[Item]], Sequence["Result | BaseException"]]


@dataclass(slots=True)
class Deferrals:
    """The durable writes deferred by one call on an event loop: their futures."""

    loop: asyncio.AbstractEventLoop
    pending: list[asyncio.Future[Any]] = field(default_factory=list)


#: The deferrals in force in this context (None: writes wait as usual).
_DEFERRED: ContextVar[Deferrals | None] = ContextVar("suolink_deferred", default=None)


class CommitWouldWait(Exception):
    """A durable write inside :func:`deferring` that must be waited for: nothing written.

    Run the call again where it may block (a worker thread).
    """


class deferring:
    """Durable writes in this block (on the running event loop) queue their item and add
    its future to ``pending``; await every one before answering (a failed write's future
    holds its error). A class, not ``@contextmanager``: it is on every redirect of the
    ASGI app, where a generator's set-up costs."""

    __slots__ = ("_deferrals", "_token")

    def __init__(self) -> None:
        self._deferrals = Deferrals(asyncio.get_running_loop())

    def __enter__(self) -> Deferrals:
        self._token = _DEFERRED.set(self._deferrals)
        return self._deferrals

    def __exit__(self, *exc: object) -> None:
        _DEFERRED.reset(self._token)


def deferred_commits() -> Deferrals | None:
    """The :func:`deferring` in force here, or None."""
    return _DEFERRED.get()


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """On the loop: give each future its result or exception (unless it was cancelled)."""
    for future, outcome in outcomes:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class GroupCommit(Generic[Item, Result]):
    """Items from many threads written together by ``write``; see the module docstring.

    ``write`` gets up to ``batch_size`` items and returns one result or exception per
    item; an exception it raises is every item's. Thread-safe; a forked child starts
    empty (it never writes its parent's queue). Each waiting thread is woken exactly
    once: when its item is written, or to lead the next batch.
    """

    def __init__(
        self, write: Write[Item, Result], options: BatchOptions, *, name: str = "suolink"
    ) -> None:
        self._write = write
        self.options = options
        self._delay = options.leader_delay  # a durable leader's gathering time
        #: Without ``batch_ms``, in durable mode: how long a leader may wait for company.
        self._company = COMPANY_WAIT if options.mode == DURABLE and not options.batch_ms else 0.0
        self._expect = 1  # the items of the last durable batch: the company waited for
        self._target = options.batch_size  # waiting items that end a leader's gathering
        self._period = options.delay  # the background flusher's
        self._size = options.batch_size
        self._max_queued = QUEUED_BATCHES * options.batch_size
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._waiting: list[_Slot[Item, Result]] = []  # durable, not yet taken by a leader
        self._full = threading.Event()  # a gathering leader's batch is full
        self._queued: list[Item] = []  # background, and deferred durable items
        self._futures: list[asyncio.Future[Result] | None] = []  # one per queued item
        self._urgent = 0  # deferred durable items queued: the flusher writes at once
        #: Deferred items staged per event loop this turn (items, futures): handed over
        #: to the queue together by ``_hand_over`` at the end of the turn.
        self._staged: dict[
            asyncio.AbstractEventLoop, tuple[list[Item], list[asyncio.Future[Result]]]
        ] = {}
        #: Deferred items the flusher waits for (0: it waits for none): see ``_flush_forever``.
        self._company_target = 0
        #: Deferred items expected for the next batch: the last one's and those queued
        #: while it was written.
        self._expect_deferred = 1
        self._leading = False
        self._closed = False
        self._pid = os.getpid()
        self._flusher: threading.Thread | None = None
        self._flushing = False  # the flusher is writing a batch taken from _queued
        #: The flusher was notified and has not looked at the queue since: callers need
        #: not notify again (a notify per queued item cost the event loop a Condition
        #: round and the flusher a wake-up each, while it waited for the GIL).
        self._nudged = False
        self._hurry = False  # flush() asked: write what is queued without waiting
        #: Background items given up on (a write failed for good); for tests and logs.
        self.lost = 0
        _OPEN.add(self)

    # -- durable ---------------------------------------------------------------------

    def submit(self, item: Item) -> Result:
        """Write ``item`` in the next batch and return its result (or raise its error)."""
        slot: _Slot[Item, Result] = _Slot(item)
        self._check_pid()
        with self._cond:
            self._check_open()
            self._waiting.append(slot)
            follow = self._leading
            self._leading = True
            if follow and len(self._waiting) >= self._target:
                self._full.set()
        if follow:
            slot.wake.acquire()  # written, or handed the lead
        if not slot.done:
            self._lead(slot)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self, own: _Slot[Item, Result]) -> None:
        """Write batches until ``own`` is written, then hand the lead to a waiter.

        A batch gathers for ``batch_ms`` (if set) or until full; without ``batch_ms``, a
        batch that has fewer items than the last one gathers until it has as many, for
        ``COMPANY_WAIT`` at most: under ``gthread`` the threads a batch releases all come
        back, each after its own request's work, and the first back would commit alone.
        Waiting for fewer than came shrinks the next wait, so a lone caller never waits.
        """
        while True:
            wait, target = self._delay, self._size
            with self._cond:
                if not wait and self._company and len(self._waiting) < self._expect:
                    wait, target = self._company, min(self._expect, self._size)
                gather = wait and len(self._waiting) < target
                if gather:
                    self._target = target
                    self._full.clear()
            if gather:
                self._full.wait(wait)
            with self._cond:
                self._target = self._size
                batch = self._waiting[: self._size]
                del self._waiting[: self._size]
            self._expect = len(batch)
            self._write_slots(batch, own)
            if own.done:
                break
        with self._cond:
            if self._waiting:
                self._waiting[0].wake.release()  # it leads next (_leading stays True)
            else:
                self._leading = False

    def _write_slots(self, batch: list[_Slot[Item, Result]], own: _Slot[Item, Result]) -> None:
        """Write ``batch``, give each slot its result and wake its waiter (not ``own``)."""
        try:
            results = self._write([slot.item for slot in batch])
            if len(results) != len(batch):
                raise AssertionError(f"{self._name}: {len(results)} results for {len(batch)}")
        except BaseException as exc:  # every item's error, the waiters re-raise it
            results = [exc] * len(batch)
        for slot, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                slot.error = result
            else:
                slot.result = result
            slot.done = True
            if slot is not own:
                slot.wake.release()

    # -- background ------------------------------------------------------------------

    def submit_later(self, item: Item) -> None:
        """Queue ``item`` for the flusher thread and return at once.

        With ``QUEUED_BATCHES * batch_size`` items already queued (the store is slower
        than the callers, or down), the caller first waits for the flusher to take a
        batch: what a crash can lose stays bounded, and so does memory.
        """
        self._check_pid()
        cond = self._cond
        with cond:
            self._check_open()
            self._ensure_flusher()
            while len(self._queued) >= self._max_queued:
                cond.notify_all()
                cond.wait()
                self._check_open()
            self._queued.append(item)
            self._futures.append(None)
            queued = len(self._queued)
            # The flusher idle on an empty queue starts its period at the first item;
            # a full batch cuts the period short.
            if (queued == 1 or queued >= self._size) and not self._nudged:
                self._nudged = True
                cond.notify_all()

    def submit_deferred(
        self, item: Item, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[Result]:
        """Queue ``item`` for a durable write by the flusher; its future on ``loop`` (the
        running one), at once.

        Items are staged on the loop and handed to the flusher together once per turn of
        the loop (one lock and at most one wake-up for all the visits of that turn, not
        one each). The flusher writes without waiting out its period: only ``batch_ms``,
        if given, as a durable leader would; without it, for up to ``COMPANY_WAIT``
        until as many deferred items as its last such batch held are queued (the
        requests that batch answered come back together). Items arriving meanwhile
        share the next batch. The future gets the item's result, or its exception;
        never waits for room.
        """
        future: asyncio.Future[Result] = loop.create_future()
        if _PROCESS[0] != self._pid:
            self._check_pid()
        self._check_open()
        staged = self._staged.get(loop)
        if staged is None:  # the turn's first: hand the turn's items over after it
            staged = self._staged[loop] = ([], [])
            loop.call_soon(self._hand_over, loop)
        staged[0].append(item)
        staged[1].append(future)
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: queue the items it staged this turn for the flusher, in one go."""
        staged = self._staged.pop(loop, None)
        if staged is None:  # forked, or already handed over
            return
        items, futures = staged
        cond = self._cond
        with cond:
            closed = self._closed
            if not closed:
                self._ensure_flusher()
                self._queued += items
                self._futures += futures
                self._urgent += len(items)
                target = self._company_target
                if not self._nudged and (self._urgent >= target if target else not self._flushing):
                    self._nudged = True
                    cond.notify_all()
        if closed:  # closed since they were staged: nothing of theirs was written
            error = BackendUnavailable(f"{self._name}: the storage is closed")
            _settle([(future, error) for future in futures])

    def _ensure_flusher(self) -> None:
        """Start the flusher thread unless it runs (the lock held, the store open)."""
        if self._flusher is not None:
            return
        thread = threading.Thread(
            target=self._flush_forever, name=f"{self._name}-flusher", daemon=True
        )
        self._flusher = thread
        thread.start()

    def _flush_forever(self) -> None:
        cond = self._cond
        with cond:
            while True:
                while not self._queued and not self._closed:
                    cond.wait()
                    self._nudged = False
                if not self._queued:
                    return  # closed and drained
                started = time.monotonic()
                if self._urgent and not self._delay and self._company:
                    self._gather_company(started)
                while len(self._queued) < self._size and not (self._closed or self._hurry):
                    period = self._delay if self._urgent else self._period
                    left = started + period - time.monotonic()
                    if left <= 0:
                        break
                    cond.wait(left)
                    self._nudged = False
                # Behind on background items only, the flusher writes all it holds in
                # one batch (the queue's bound already bounds the loss): a larger batch
                # shares more of the store's pages per commit, so the flusher catches up.
                take = self._size if self._urgent else self._max_queued
                batch = self._queued[:take]
                futures = self._futures[:take]
                del self._queued[:take], self._futures[:take]
                urgent = len(futures) - futures.count(None)
                self._urgent -= urgent
                if not self._queued:
                    self._hurry = False
                self._flushing = True
                self._nudged = False
                cond.notify_all()  # callers waiting for room in the queue
                cond.release()
                try:
                    if urgent:
                        self._write_deferred(batch, futures)
                    else:
                        self._write_background(batch)
                finally:
                    cond.acquire()
                    self._flushing = False
                    cond.notify_all()

    def _gather_company(self, started: float) -> None:
        """Wait (the lock held) up to ``COMPANY_WAIT`` from ``started`` until as many
        deferred items are queued as the flusher's last deferred batch held.

        The redirects a batch answered come back together (their clients send the next
        request at once), a few per turn of the loop: written as they come, they would
        commit a few at a time, and each commit costs the store far more than a visit.
        A batch of one never waits; one that waited in vain shrinks the next wait.
        """
        want = min(self._expect_deferred, self._size)
        try:
            while self._urgent < want and not (self._closed or self._hurry):
                left = started + self._company - time.monotonic()
                if left <= 0:
                    break
                self._company_target = want
                self._cond.wait(left)
                self._nudged = False
        finally:
            self._company_target = 0

    def _write_deferred(
        self, batch: list[Item], futures: list[asyncio.Future[Result] | None]
    ) -> None:
        """Write a batch holding deferred durable items once; each future gets its outcome,
        each loop one wake-up.

        Background items sharing the batch (a store used both ways) are given up on if the
        whole write fails: their callers were answered already.
        """
        try:
            results = self._write(batch)
            if len(results) != len(batch):
                raise AssertionError(f"{self._name}: {len(results)} results for {len(batch)}")
        except BaseException as exc:  # every item's error
            results = [exc] * len(batch)
            background = futures.count(None)
            if background:
                self._give_up(background, exc)
        # Those answered now come back, to join those queued while they were written (read
        # before anyone is answered, so no answered one is counted twice).
        self._expect_deferred = len(futures) - futures.count(None) + self._urgent
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for future, result in zip(futures, results, strict=True):
            if future is not None:
                by_loop.setdefault(future.get_loop(), []).append((future, result))
        for loop, outcomes in by_loop.items():
            with suppress(RuntimeError):  # a loop closed meanwhile: nobody awaits them
                loop.call_soon_threadsafe(_settle, outcomes)

    def _write_background(self, batch: list[Item]) -> None:
        """Write a background batch, retrying while the store says "not now"."""
        pauses = iter(_RETRY_PAUSES)
        while True:
            try:
                results = self._write(batch)
            except BackendUnavailable as exc:
                pause = next(pauses, None)
                if pause is None or self._closed:
                    self._give_up(len(batch), exc)
                    return
                time.sleep(pause)
                continue
            except Exception as exc:
                self._give_up(len(batch), exc)
                return
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:  # a link deleted since its visit was queued: nothing to count
                log.debug("%s: %d queued visits not recorded: %s", self._name, len(failed), failed)
            return

    def _give_up(self, count: int, exc: BaseException) -> None:
        self.lost += count
        log.error("%s: %d queued visits could not be written: %s", self._name, count, exc)

    # -- both --------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Items submitted and not yet written."""
        staged = sum(len(items) for items, _ in list(self._staged.values()))
        with self._cond:
            return len(self._waiting) + len(self._queued) + staged

    def flush(self) -> None:
        """Return once every item queued before this call is written (or given up)."""
        self._check_pid()
        cond = self._cond
        with cond:
            if self._flusher is None:
                return
            self._hurry = bool(self._queued)  # no waiting out the period
            cond.notify_all()
            while (self._queued or self._flushing) and self._flusher.is_alive():
                cond.wait(0.1)

    def close(self) -> None:
        """Write what is queued, stop the flusher; later submits raise ``BackendUnavailable``."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(timeout=30)
        _OPEN.discard(self)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendUnavailable(f"{self._name}: the storage is closed")

    def _check_pid(self) -> None:
        """In a forked child: drop the parent's queue and flusher (the parent writes them)."""
        if _PROCESS[0] == self._pid:
            return
        self._pid = os.getpid()
        self._waiting, self._queued, self._futures = [], [], []
        self._urgent = 0
        self._staged = {}
        self._company_target = 0
        self._expect_deferred = 1
        self._expect = 1
        self._leading = self._flushing = self._nudged = False
        self._flusher = None
        self._cond = threading.Condition(threading.Lock())
        self._full = threading.Event()


#: This process's id, kept current across ``fork`` (``os.getpid`` is a system call, and
#: every queued visit asks).
_PROCESS: Final = [os.getpid()]


def _forked() -> None:
    _PROCESS[0] = os.getpid()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_forked)


#: Every open GroupCommit, flushed when the interpreter exits normally.
_OPEN: weakref.WeakSet[GroupCommit[Any, Any]] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for group in list(_OPEN):
        try:
            group.flush()
        except Exception:  # pragma: no cover - a store gone at exit: logged, not raised
            log.exception("suolink: queued visits could not be written at exit")
