"""A PostgreSQL server for the ``django-postgres`` row of the backend table.

``SUOLINK_TEST_POSTGRES_URL`` (``postgresql://user:pass@host:port/db``) names a server to
use. With ``SUOLINK_TEST_POSTGRES=start`` instead (``make test`` sets it), a throwaway
server is started when the PostgreSQL binaries are installed (``initdb``, ``pg_ctl``; as
the ``postgres`` user when running as root), once per test process, with durability
off; it is stopped at exit. Otherwise the PostgreSQL tests skip, saying why.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

_lock = threading.Lock()
_started: str | None = None
_failed: str | None = None


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start() -> str:
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) installed")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    data = Path(tempfile.mkdtemp(prefix="suolink-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    # A small, fixed environment: tests may have grown this process's environment past
    # what exec accepts (E2BIG), and PostgreSQL needs none of it.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    run = {"check": True, "capture_output": True, "timeout": 60, "env": env}
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres"],
        **run,  # type: ignore[arg-type]
    )
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", options, "-w", "start",
         "-l", str(data / "log")],
        **run,  # type: ignore[arg-type]
    )  # fmt: skip
    pid = os.getpid()

    def stop() -> None:
        if os.getpid() != pid:
            return
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            env=env,
        )
        shutil.rmtree(data, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def server_url() -> str:
    """The URL of a PostgreSQL server for tests; skips the test if there is none."""
    global _started, _failed
    given = os.environ.get("SUOLINK_TEST_POSTGRES_URL")
    if given:
        return given
    if os.environ.get("SUOLINK_TEST_POSTGRES") != "start":
        pytest.skip(
            "PostgreSQL: set SUOLINK_TEST_POSTGRES_URL, or SUOLINK_TEST_POSTGRES=start to "
            "start a throwaway server (make test-postgres)"
        )
    with _lock:
        if _started is None and _failed is None:
            try:
                _started = _start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                _failed = f"no PostgreSQL server: {exc}"
        if _started is None:
            pytest.skip(_failed or "no PostgreSQL server")
        return _started
