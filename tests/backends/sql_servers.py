"""Throwaway PostgreSQL and MariaDB servers for the ``postgresql`` and ``mariadb`` rows.

PostgreSQL is the server the Django rows already use (:mod:`tests.adapters.django.postgres`:
``SUOLINK_TEST_POSTGRES_URL`` or ``SUOLINK_TEST_POSTGRES=start``); each store gets a new
schema on it. MariaDB: ``SUOLINK_TEST_MYSQL_URL`` (``mysql://user:pass@host:port/db``,
a user who may create databases) names a server to use; with ``SUOLINK_TEST_MARIADB=start``
(``make test`` sets it) a server is started from Debian's ``mariadb-server`` binaries
once per test process, on a free port with its data in a temporary folder and
durability off, and stopped at exit. Each store gets a new database on it. Otherwise
these rows skip, saying why.

:class:`MariaDB` and :class:`Postgres` are also used alone by the outage tests, which
stop and restart a private server of their own.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.adapters.django.postgres import _binaries as postgres_binaries
from tests.adapters.django.postgres import server_url as postgres_server_url
from tests.backends import mariadb_recycle
from tests.backends.mariadb_recycle import DatabasePool
from tests.backends.pg_recycle import SchemaPool

_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no server on port {port} after {timeout} s")


class MariaDB:
    """A ``mariadbd`` on a private port and data folder; ``start()``, ``stop()``, again."""

    def __init__(self) -> None:
        self.mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        install = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
        if not Path(self.mariadbd).exists() or not Path(install).exists():
            raise RuntimeError("no MariaDB binaries (apt-get install mariadb-server)")
        # On tmpfs when there is one: every DDL statement syncs files, 30-70 ms on a disk.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.folder = Path(tempfile.mkdtemp(prefix="suolink-mariadb-", dir=shm))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # A private tmpdir: servers bootstrapping at once in the shared /tmp clash on
        # their temporary tables' names ("Unknown table 'mysql.tmp_user_sys'").
        (self.folder / "tmp").mkdir()
        try:
            subprocess.run(
                [install, "--no-defaults", f"--datadir={self.folder / 'data'}", "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db",
                 f"--tmpdir={self.folder / 'tmp'}"],
                check=True, capture_output=True, timeout=120, env=_ENV,
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        # No TLS on this server: PyMySQL would build a TLS context (40 ms) per connection.
        return f"mysql://root@127.0.0.1:{self.port}/mysql?ssl_disabled=true"

    def database(self, name: str) -> str:
        """Create the database ``name``; the URL of a store in it."""
        return create_database(self.url, name)

    def start(self) -> None:
        log = open(self.folder / "log", "ab")  # noqa: SIM115 - the server writes it
        self.process = subprocess.Popen(
            [self.mariadbd, "--no-defaults", f"--datadir={self.folder / 'data'}",
             f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.folder / 'sock'}", f"--pid-file={self.folder / 'pid'}",
             f"--tmpdir={self.folder / 'tmp'}",
             "--user=root", "--skip-grant-tables", "--skip-name-resolve", "--skip-log-bin",
             "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0",
             "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=32M",
             "--max-connections=500", "--character-set-server=utf8mb4",
             "--innodb-file-per-table=0", "--innodb-flush-method=O_DIRECT_NO_FSYNC"],
            stdout=log, stderr=log, env=_ENV,
        )  # fmt: skip
        log.close()
        _wait_for_port(self.port, 60, self.process)

    def stop(self) -> None:
        """Kill the server at once, as a crash or a lost network would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Postgres:
    """A private PostgreSQL server, stopped and restarted by the outage test."""

    def __init__(self) -> None:
        bin_dir = postgres_binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) installed")
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="suolink-pg-outage-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        subprocess.run(
            [*self.prefix, str(self.bin / "initdb"), "-D", str(self.folder / "db"), "-A",
             "trust", "-U", "postgres"],
            check=True, capture_output=True, timeout=120, env=_ENV,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.folder / "db"), *args],
            check=True, capture_output=True, timeout=120, env=_ENV,
        )  # fmt: skip

    def start(self, *, durable: bool = False, async_commit: bool = False) -> None:
        """Start the server: fsync off (every commit still written, so a killed server
        keeps what it answered), or with ``durable`` PostgreSQL's own defaults; with
        ``async_commit`` fsync stays on but a commit does not wait for its WAL flush (as
        SQLite's WAL with ``synchronous=normal``: an OS crash loses the last commits only)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if async_commit:
            options += " -c synchronous_commit=off"
        elif not durable:
            options += " -c fsync=off"
        self._ctl("-o", options, "-w", "-l", str(self.folder / "log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


_lock = threading.Lock()
_mariadb: str | None = None
_mariadb_failed: str | None = None


def mariadb_server_url() -> str:
    """The URL of a MariaDB/MySQL server for tests; skips the test if there is none."""
    global _mariadb, _mariadb_failed
    given = os.environ.get("SUOLINK_TEST_MYSQL_URL")
    if given:
        return given
    if os.environ.get("SUOLINK_TEST_MARIADB") != "start":
        pytest.skip(
            "MariaDB: set SUOLINK_TEST_MYSQL_URL, or SUOLINK_TEST_MARIADB=start to start a "
            "throwaway server (make test does)"
        )
    with _lock:
        if _mariadb is None and _mariadb_failed is None:
            try:
                server = MariaDB()
                server.start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                _mariadb_failed = f"no MariaDB server: {exc}"
            else:
                pid = os.getpid()
                atexit.register(lambda: os.getpid() == pid and server.remove())
                _mariadb = server.url
        if _mariadb is None:
            pytest.skip(_mariadb_failed or "no MariaDB server")
        return _mariadb


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"


def postgres_store_url() -> str:
    """A fresh, empty ``postgresql://`` store: a new schema on the test server (not
    there yet: its first open migrates it, which tests of migrations rely on)."""
    return f"{postgres_server_url()}?schema={_unique('s')}"


def recycled_postgres_store_url() -> str:
    """An empty ``postgresql://`` store, already migrated: a schema a finished test gave
    back (see :mod:`tests.backends.pg_recycle`), else a new one. For the backends table."""
    schema = _pool.take()
    return postgres_store_url() if schema is None else f"{postgres_server_url()}?schema={schema}"


def _sql_template() -> str:
    schema = _unique("template")
    from suolink.backends import open_storage

    open_storage(f"{postgres_server_url()}?schema={schema}").close()  # migrated
    return schema


_pool = SchemaPool(_sql_template, lambda: _unique("s"))


def recycle_postgres_store(url: str) -> None:
    """Give the schema of a closed ``postgresql://`` store back for the next test."""
    base, _, schema = url.partition("?schema=")
    _pool.give(base, schema)


def mariadb_store_url() -> str:
    """A fresh, empty ``mysql://`` store: a new database on the test server (not
    migrated yet: its first open migrates it, which tests of migrations rely on)."""
    return create_database(mariadb_server_url(), _unique("suolink"))


def _mariadb_template() -> str:
    from suolink.backends import open_storage

    url = mariadb_store_url()
    open_storage(url).close()  # migrated
    return urlsplit(url).path.lstrip("/")


_mariadb_pool = DatabasePool(_mariadb_template, lambda: _unique("suolink"))


def recycled_mariadb_store_url() -> str:
    """An empty ``mysql://`` store, already migrated: a database a finished test gave
    back (see :mod:`tests.backends.mariadb_recycle`), else a new one. For the backends
    table."""
    database = _mariadb_pool.take()
    if database is None:
        return mariadb_store_url()
    return urlsplit(mariadb_server_url())._replace(path=f"/{database}").geturl()


def recycle_mariadb_store(url: str) -> None:
    """Give the database of a closed ``mysql://`` store back for the next test."""
    _mariadb_pool.give(mariadb_server_url(), urlsplit(url).path.lstrip("/"))


def create_database(server_url: str, name: str) -> str:
    """Create the database ``name`` on the MySQL server of ``server_url``; its URL."""
    parts = urlsplit(server_url)
    conn = mariadb_recycle.connect(server_url, autocommit=False)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    finally:
        conn.close()
    return parts._replace(path=f"/{name}").geturl()
