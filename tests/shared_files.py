"""Files built once per test run and shared by every xdist worker.

Each worker used to build its own copy of the QR corpus and the hostile images (about
13 s and 27 s of CPU each); the first worker to ask builds into a directory beside the
workers' temporary roots, under a lock, and the others read it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def shared_directory(factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """``(directory, ready)``, held under an exclusive lock; write ``.ready`` when built."""
    root = factory.getbasetemp()
    if root.name.startswith("popen-gw"):  # an xdist worker: share with its siblings
        root = root.parent
    directory = root / f"shared-{name}"
    directory.mkdir(exist_ok=True)
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ready = (directory / ".ready").exists()
            yield directory, ready
            if not ready:
                (directory / ".ready").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
