"""Worker processes for the concurrency tests: forked from one preloaded server.

A spawned process is a fresh interpreter that imports suolink and the test module again,
about 0.75 s of CPU before it does anything, and the concurrency tests start well over a
hundred. A "forkserver" imports them once per test process; each worker process is a
fork of it, made in milliseconds: still a process of its own that opens its own store
and its own connections, as a spawned one did. (The server is a fresh, single-threaded
interpreter: forking pytest itself, with its threads and open stores, would not be safe.)

The server keeps the environment it started with, so each process is handed the
environment of the test that starts it (the Django rows name their databases there).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

CTX = multiprocessing.get_context("forkserver")
# What the workers import, loaded once in the server (a module that fails to import is
# skipped by the server and imported by the worker that needs it, as with spawn).
CTX.set_forkserver_preload(
    [
        "tests.processes",
        "tests.backends.test_concurrency",
        "tests.backends.test_redis_concurrency",
        "tests.backends.test_sql_counts",
        "tests.test_acceptance_concurrency",
        "suolink.backends.sqlite",
        "suolink.backends.redis",
        "suolink.backends.sql",
    ]
)


def use_environment(env: dict[str, str]) -> None:
    """Replace this process's environment with ``env`` (a Pool's ``initializer``)."""
    os.environ.clear()
    os.environ.update(env)


def _in_environment(env: dict[str, str], target: Callable[..., Any], *args: Any) -> Any:
    use_environment(env)
    return target(*args)


def Process(target: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``CTX.Process(target=target, args=args)`` run in the caller's current environment."""
    return CTX.Process(target=_in_environment, args=(dict(os.environ), target, *args))


def Pool(processes: int) -> Any:
    """``CTX.Pool(processes)`` whose processes have the caller's current environment."""
    return CTX.Pool(processes, initializer=use_environment, initargs=(dict(os.environ),))
