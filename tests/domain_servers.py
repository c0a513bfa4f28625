"""Local servers on 127.0.0.1 that play short domains for the domain checker's tests.

``healthy`` answers 200; ``blocked`` serves WeChat's block page to WeChat's user agent
(and a normal page to everyone else); ``slow`` waits longer than any test timeout;
``dead`` is a port nobody listens on; ``tls`` is ``healthy`` over HTTPS with a
certificate from a throwaway ``trustme`` CA. :class:`FakeRegistry` stands for the
Shortener's domain registry.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WECHAT_BLOCK_PAGE = (
    "<html><body><h2>已停止访问该网页</h2><p>据用户投诉及腾讯安全网址安全中心检测，"
    "该网页包含不安全内容。</p><p>如需浏览，请长按网址复制后使用浏览器访问</p></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        role = self.server.role
        self.server.hits.append((self.path, self.headers.get("User-Agent", "")))
        if role == "slow":
            time.sleep(self.server.delay)
        if role == "error":
            self._send(503, "down for maintenance")
            return
        agent = self.headers.get("User-Agent", "")
        if role == "blocked" and "MicroMessenger" in agent:
            self._send(200, WECHAT_BLOCK_PAGE)
            return
        self._send(200, "<html><body>ok</body></html>")

    def _send(self, status: int, text: str) -> None:
        body = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the checker gave up first
            pass

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, role: str, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.role = role
        self.delay = delay
        self.hits: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@dataclass
class Servers:
    """The running servers, by role, and the port of a dead one."""

    servers: dict[str, _Server] = field(default_factory=dict)
    dead_port: int = 0

    def address(self, role: str) -> tuple[str, int]:
        if role == "dead":
            return ("127.0.0.1", self.dead_port)
        return ("127.0.0.1", self.servers[role].port)


@contextlib.contextmanager
def running_servers(
    roles: Iterable[str] = ("healthy", "blocked", "slow", "error"),
    *,
    delay: float = 3.0,
    tls_context: ssl.SSLContext | None = None,
) -> Iterator[Servers]:
    """Start one server per role (plus ``tls`` when given a server context); stop them after."""
    found = Servers()
    for role in roles:
        found.servers[role] = _Server(role, delay)
    if tls_context is not None:
        server = _Server("healthy")
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
        found.servers["tls"] = server
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        found.dead_port = probe.getsockname()[1]
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in found.servers.values()
    ]
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        for server in found.servers.values():
            server.shutdown()
            server.server_close()


def _one_line(reason: str) -> None:
    """What the real registry requires of a reason (``domains.check_reason``)."""
    assert reason
    assert "\n" not in reason
    assert len(reason) <= 500


@dataclass(frozen=True)
class FakeDomain:
    name: str
    pool: str = "main"


class FakeRegistry:
    """The domain methods of a Shortener, in a dict: states per domain and platform."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        self.states: dict[str, dict[str, str]] = {n: {} for n in self.names}
        self.calls: list[tuple[str, str, tuple[str, ...] | None]] = []
        self.checks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def domains(self) -> list[FakeDomain]:
        return [FakeDomain(n) for n in self.names]

    def _mark(self, state: str, domain: str, platforms: Iterable[str] | None) -> None:
        chosen = tuple(platforms) if platforms is not None else None
        with self.lock:
            self.calls.append((state, domain, chosen))
            for platform in chosen or ("wechat", "qq"):
                self.states[domain][platform] = state

    def mark_blocked(self, domain: str, platforms: Iterable[str], *, reason: str = "") -> None:
        _one_line(reason)
        self._mark("blocked", domain, platforms)

    def mark_suspect(self, domain: str, platforms: Iterable[str], *, reason: str = "") -> None:
        _one_line(reason)
        self._mark("suspect", domain, platforms)

    def mark_ok(self, domain: str, platforms: Iterable[str] | None = None) -> None:
        self._mark("ok", domain, platforms)

    def mark_checked(self, domain: str) -> None:
        with self.lock:
            self.checks[domain] = self.checks.get(domain, 0) + 1
