"""The group-commit machinery on its own: who gets which result, batches, flushing.

The writes here are plain functions that record what they were given, so each test
can see the batches the machinery formed; the storage contract suite
(``test_group_commit.py``) runs it against real stores.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.backends import batching, open_storage
from suolink.backends.batching import (
    BatchOptions,
    GroupCommit,
    deferred_commits,
    deferring,
    parse_batch_option,
)
from suolink.errors import BackendUnavailable, ConfigurationError


class Recorder:
    """A write that doubles each item, remembers its batches and may fail or stall."""

    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause
        self.gate = threading.Event()
        self.gate.set()
        self.failures: list[BaseException] = []

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.gate.wait(timeout=30)
        if self.failures:
            raise self.failures.pop(0)
        if self.pause:
            time.sleep(self.pause)
        self.batches.append(list(items))
        return [ValueError(item) if item < 0 else item * 2 for item in items]


def _together(count: int, work: object) -> list[object]:
    """Call ``work(i)`` from ``count`` threads released at once; results or exceptions."""
    go = threading.Barrier(count)
    out: list[object] = [None] * count

    def run(i: int) -> None:
        go.wait(timeout=30)
        try:
            out[i] = work(i)  # type: ignore[operator]
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return out


def test_each_caller_gets_its_own_result() -> None:
    write = Recorder()
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions())
    assert group.submit(21) == 42
    with pytest.raises(ValueError, match="-3"):
        group.submit(-3)


def test_concurrent_callers_share_batches_of_at_most_batch_size() -> None:
    write = Recorder(pause=0.02)
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions(batch_size=4))
    results = _together(16, group.submit)
    assert results == [i * 2 for i in range(16)]
    assert sorted(i for batch in write.batches for i in batch) == list(range(16))
    assert max(len(batch) for batch in write.batches) <= 4
    assert len(write.batches) < 16  # the callers that waited went in together


def test_one_bad_item_fails_alone_but_a_failed_write_fails_its_whole_batch() -> None:
    write = Recorder(pause=0.02)
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions())
    results = _together(6, lambda i: group.submit(-1 if i == 0 else i))
    assert isinstance(results[0], ValueError)
    assert results[1:] == [2, 4, 6, 8, 10]
    write.failures.append(BackendUnavailable("disk full"))
    write.gate.clear()
    waiting = threading.Thread(target=lambda: results.append(_caught(group.submit, 1)))
    waiting.start()
    time.sleep(0.05)  # the first caller leads and stalls; the others queue behind it
    late = [threading.Thread(target=lambda: results.append(_caught(group.submit, 2)))]
    late[0].start()
    write.gate.set()
    waiting.join(timeout=30)
    late[0].join(timeout=30)
    assert isinstance(results[6], BackendUnavailable)  # the batch that failed
    assert results[7] == 4  # the next batch is written as usual


def _caught(call: object, item: int) -> object:
    try:
        return call(item)  # type: ignore[operator]
    except Exception as exc:
        return exc


def test_a_durable_leader_may_gather_for_batch_ms() -> None:
    write = Recorder()
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions(batch_ms=200, batch_size=4))
    results = _together(4, group.submit)
    assert results == [0, 2, 4, 6]
    assert [sorted(batch) for batch in write.batches] == [[0, 1, 2, 3]]  # one batch


def _rounds(group: GroupCommit[int, int], threads: int, rounds: int) -> None:
    """``threads`` callers, each submitting ``rounds`` items with some work between."""

    def run(i: int) -> None:
        for n in range(rounds):
            sum(range(3000))  # a request's own work, holding the GIL
            assert group.submit(i * 1000 + n) == 2 * (i * 1000 + n)

    _together(threads, run)


def test_callers_back_from_one_batch_share_the_next_instead_of_one_committing_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # gunicorn gthread: 8 threads released by one commit all come back; without waiting
    # for company the first back commits alone, and batches alternate 1, 7, 1, 7…
    monkeypatch.setattr(batching, "COMPANY_WAIT", 0.0)
    alone = Recorder(pause=0.003)
    _rounds(GroupCommit(alone, BatchOptions()), 8, 20)
    monkeypatch.setattr(batching, "COMPANY_WAIT", 0.2)  # long: the machine may be busy
    together = Recorder(pause=0.003)
    _rounds(GroupCommit(together, BatchOptions()), 8, 20)
    assert sorted(i for b in together.batches for i in b) == sorted(
        i for b in alone.batches for i in b
    )
    assert len(together.batches) < 0.75 * len(alone.batches)
    singles = [len(b) for b in together.batches].count(1)
    assert singles <= 3, [len(b) for b in together.batches]


def test_a_lone_caller_waits_for_company_once_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "COMPANY_WAIT", 0.3)
    write = Recorder(pause=0.02)
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions())
    _together(6, group.submit)  # batches of several: the next leader expects as many
    started = time.monotonic()
    assert group.submit(100) == 200
    first = time.monotonic() - started
    started = time.monotonic()
    assert group.submit(101) == 202
    second = time.monotonic() - started
    assert 0.25 < first < 5  # waited for company that did not come, then wrote
    assert second < 0.25  # its last batch held one: no wait
    with_ms: GroupCommit[int, int] = GroupCommit(Recorder(), BatchOptions(batch_ms=1))
    assert with_ms._company == 0.0  # batch_ms given: it alone says how long to gather
    background = GroupCommit(Recorder(), BatchOptions(mode="background"))
    assert background._company == 0.0
    background.close()


def test_background_items_return_at_once_and_close_writes_them() -> None:
    write = Recorder()
    write.gate.clear()  # the flusher stalls: nothing can be written yet
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions(mode="background"))
    for i in range(100):
        group.submit_later(i)  # returns although nothing is written
    assert group.pending > 0
    write.gate.set()
    group.close()
    assert sorted(i for batch in write.batches for i in batch) == list(range(100))
    assert group.pending == 0
    with pytest.raises(BackendUnavailable):
        group.submit_later(1)
    with pytest.raises(BackendUnavailable):
        group.submit(1)


def test_background_retries_while_the_store_says_not_now() -> None:
    write = Recorder()
    write.failures += [BackendUnavailable("busy"), BackendUnavailable("busy")]
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions(mode="background"))
    group.submit_later(5)
    group.flush()
    assert write.batches == [[5]]
    assert group.lost == 0
    write.failures.append(RuntimeError("broken for good"))
    group.submit_later(6)
    group.close()
    assert group.lost == 1


@settings(max_examples=25, deadline=None)
@given(
    items=st.lists(st.integers(min_value=-5, max_value=1000), min_size=1, max_size=40),
    size=st.integers(min_value=1, max_value=8),
)
def test_whatever_the_batching_every_caller_gets_the_answer_to_its_own_item(
    items: list[int], size: int
) -> None:
    group: GroupCommit[int, int] = GroupCommit(Recorder(), BatchOptions(batch_size=size))
    results = _together(len(items), lambda i: group.submit(items[i]))
    for item, result in zip(items, results, strict=True):
        if item < 0:
            assert isinstance(result, ValueError)
        else:
            assert result == item * 2
    group.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("visits", "sometimes"),
        ("batch_ms", "-1"),
        ("batch_ms", "nan"),
        ("batch_ms", "1e9"),
        ("batch_size", "0"),
        ("batch_size", "many"),
        ("batch_size", "100000"),
        ("batch_colour", "red"),
    ],
)
def test_bad_options_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_batch_option(BatchOptions(), name, value)


def test_options_and_their_defaults() -> None:
    assert BatchOptions().delay == 0.0  # durable: no timer, batches form under load
    assert BatchOptions(mode="background").delay == 0.002
    options = BatchOptions().with_option("visits", "background").with_option("batch_ms", "7")
    assert options == BatchOptions(mode="background", batch_ms=7.0)
    assert options.with_option("batch_size", "9").batch_size == 9


def test_storage_urls_take_the_batching_options(tmp_path: Path) -> None:
    store = open_storage(f"sqlite:///{tmp_path}/x.db?visits=background&batch_ms=3&batch_size=8")
    try:
        batches = store._visit_batches  # type: ignore[attr-defined]
        assert batches.options == BatchOptions("background", 3.0, 8)
    finally:
        store.close()
    with pytest.raises(ConfigurationError, match="batch_size"):
        open_storage(f"sqlite:///{tmp_path}/y.db?batch_size=0")
    with pytest.raises(ConfigurationError, match="visits"):
        open_storage("redis://localhost/0?visits=later")


def test_in_background_mode_a_waiting_caller_is_not_held_for_the_period() -> None:
    options = BatchOptions(mode="background", batch_ms=10_000)
    assert options.delay == 10.0  # the flusher's period
    assert options.leader_delay == 0.0  # a max_visits visit is written at once
    group: GroupCommit[int, int] = GroupCommit(Recorder(), options)
    done = threading.Event()
    threading.Thread(target=lambda: (group.submit(1), done.set())).start()
    assert done.wait(timeout=5)  # not held for the 10 s period
    group.close()


EXITS_WITHOUT_CLOSE = """
import sys
from datetime import UTC, datetime
from suolink.backends import open_storage
from suolink.models import Link, Visit

store = open_storage(sys.argv[1] + "?visits=background&batch_ms=10000")
store.create(Link(code="x", url="https://example.com/"))
for n in range(50):
    store.record_visit(Visit(code="x", at=datetime.now(UTC), user_agent=f"u{n}"))
# no close(): the atexit hook writes the queue (the flusher would wait 10 s)
"""


def test_a_process_that_exits_without_closing_writes_its_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", EXITS_WITHOUT_CLOSE, url], check=True, env=env)
    store = open_storage(url)
    try:
        assert len(list(store.visits("x"))) == 50
    finally:
        store.close()


# -- deferred durable writes: an event loop's callers await a future, never a lock ----------


def test_deferred_items_share_a_batch_and_each_future_gets_its_own_outcome() -> None:
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder, BatchOptions())

    async def main() -> list[object]:
        with deferring() as deferred:
            recorder.gate.clear()  # the flusher stalls until all are queued
            for item in (1, 2, -3):
                deferred.pending.append(group.submit_deferred(item, deferred.loop))
            recorder.gate.set()
        return await asyncio.gather(*deferred.pending, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert outcomes[:2] == [2, 4]
    assert isinstance(outcomes[2], ValueError)
    assert sorted(item for batch in recorder.batches for item in batch) == [-3, 1, 2]
    assert len(recorder.batches) <= 2  # one wake-up of the flusher took what was queued
    group.close()


def test_a_failed_deferred_write_is_every_future_s_error_and_close_writes_the_rest() -> None:
    recorder = Recorder()
    recorder.failures.append(BackendUnavailable("down"))
    group: GroupCommit[int, int] = GroupCommit(recorder, BatchOptions())

    async def main() -> object:
        with deferring() as deferred:
            future = group.submit_deferred(5, deferred.loop)
        try:
            return await future
        except BackendUnavailable as exc:
            return exc

    assert isinstance(asyncio.run(main()), BackendUnavailable)
    group.close()
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(BackendUnavailable):
            group.submit_deferred(1, loop)
    finally:
        loop.close()


def test_the_deferred_items_of_one_turn_of_the_loop_reach_the_flusher_together() -> None:
    # Staged on the loop and handed over once at the end of the turn: one batch, one
    # wake-up of the flusher, not a lock round (and maybe a wake-up) per item.
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder, BatchOptions())
    notified = 0
    real = group._cond.notify_all

    def counting() -> None:
        nonlocal notified
        if threading.current_thread() is threading.main_thread():  # not the flusher's own
            notified += 1
        real()

    group._cond.notify_all = counting  # type: ignore[method-assign]

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        futures = [group.submit_deferred(item, loop) for item in range(1, 6)]
        assert group.pending == 5  # staged: counted, not yet queued
        return list(await asyncio.gather(*futures))

    try:
        assert asyncio.run(main()) == [2, 4, 6, 8, 10]
        assert recorder.batches == [[1, 2, 3, 4, 5]]
        assert notified == 1
    finally:
        group.close()


def test_a_deferred_batch_waits_for_as_many_as_the_last_one_answered() -> None:
    # Four answered together come back a few per turn: the flusher waits (COMPANY_WAIT at
    # most, here made long) for the four rather than commit the first two alone.
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder, BatchOptions())
    group._company = 30.0

    async def main() -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        await group.submit_deferred(0, loop)  # the first expects one: written at once
        assert time.monotonic() - started < 10
        await asyncio.gather(*[group.submit_deferred(item, loop) for item in range(1, 5)])
        first = [group.submit_deferred(item, loop) for item in (10, 11)]
        for _ in range(3):
            await asyncio.sleep(0)  # later turns: the flusher has the first two
        second = [group.submit_deferred(item, loop) for item in (12, 13)]
        await asyncio.gather(*first, *second)

    try:
        asyncio.run(main())
        assert recorder.batches == [[0], [1, 2, 3, 4], [10, 11, 12, 13]]
    finally:
        group.close()


def test_deferred_items_staged_when_the_store_closes_get_its_error() -> None:
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder, BatchOptions())

    async def main() -> object:
        future = group.submit_deferred(1, asyncio.get_running_loop())
        group.close()  # before the turn ends: nothing of it was written
        try:
            return await future
        except BackendUnavailable as exc:
            return exc

    assert isinstance(asyncio.run(main()), BackendUnavailable)
    assert recorder.batches == []


def test_deferring_is_only_in_force_inside_its_block() -> None:
    async def main() -> None:
        assert deferred_commits() is None
        with deferring() as deferred:
            assert deferred_commits() is deferred
        assert deferred_commits() is None

    asyncio.run(main())


def _written(write: Recorder, count: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while sum(len(batch) for batch in write.batches) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_background_item_after_an_idle_spell_is_written_within_the_period() -> None:
    # The flusher idle on an empty queue is woken by the first item, not only by a full
    # batch: a lone visit is written after batch_ms, without a flush.
    write = Recorder()
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions("background", 1.0, 256))
    try:
        for n in range(1, 4):
            group.submit_later(n)
            assert _written(write, n)
            time.sleep(0.05)  # the flusher goes idle again
        assert write.batches == [[1], [2], [3]]
    finally:
        group.close()


def test_callers_nudge_the_flusher_once_per_look_at_the_queue() -> None:
    # Each notify wakes the flusher (and costs the caller a Condition round); items queued
    # while it has not looked at the queue again (here: it is writing) need none.
    write = Recorder()
    write.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions("background", 1000.0, 4))
    try:
        for i in range(4):
            group.submit_later(i)  # a full batch: taken, its write stalls at the gate
        deadline = time.monotonic() + 10
        while not group._flushing and time.monotonic() < deadline:
            time.sleep(0.005)
        notified = 0
        real = group._cond.notify_all

        def counting() -> None:
            nonlocal notified
            notified += 1
            real()

        group._cond.notify_all = counting  # type: ignore[method-assign]
        for i in range(4, 12):
            group.submit_later(i)
        assert notified == 1
        write.gate.set()
        group.flush()
        assert sorted(i for batch in write.batches for i in batch) == list(range(12))
    finally:
        write.gate.set()
        group.close()


def test_a_flusher_behind_on_background_items_writes_its_whole_queue_at_once() -> None:
    # The queue's bound (QUEUED_BATCHES * batch_size) is the loss window already; one
    # larger batch shares the store's pages among more visits.
    write = Recorder()
    write.gate.clear()
    group: GroupCommit[int, int] = GroupCommit(write, BatchOptions("background", 1000.0, 4))
    try:
        for i in range(4):
            group.submit_later(i)  # a full batch, taken: its write stalls at the gate
        deadline = time.monotonic() + 10
        while not group._flushing and time.monotonic() < deadline:
            time.sleep(0.005)
        for i in range(4, 20):
            group.submit_later(i)  # 16 queued while it writes (room for QUEUED_BATCHES * 4)
        write.gate.set()
        group.flush()
        assert write.batches == [[0, 1, 2, 3], list(range(4, 20))]
    finally:
        write.gate.set()
        group.close()
