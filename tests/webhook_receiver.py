"""A webhook receiver on 127.0.0.1 for the tests: it fails the first tries on purpose,
and checks every signature with the receiver's own library call,
``standardwebhooks.Webhook(secret).verify(body, headers)``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    verified: bool

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server does and saw. ``fail_first``: answer ``fail_status`` to that many
    requests first; ``status_for``: a fixed answer per path; ``delay``: seconds per answer."""

    secret: str | None = None
    fail_first: int = 0
    fail_status: int = 503
    delay: float = 0.0
    status_for: dict[str, int] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` distinct webhook ids were delivered; those deliveries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len({r.id for r in self.delivered()}) >= count:
                return self.delivered()
            time.sleep(0.02)
        raise AssertionError(f"only {len({r.id for r in self.delivered()})} of {count} arrived")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = False
            if receiver.secret is not None:
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except Exception:
                    verified = False
            with receiver.lock:
                failing = len(receiver.requests) < receiver.fail_first
                status = receiver.status_for.get(
                    self.path, receiver.fail_status if failing else 204
                )
                if receiver.secret is not None and not verified:
                    status = 401
                receiver.requests.append(Received(self.path, headers, body, status, verified))
            if receiver.delay:
                time.sleep(receiver.delay)
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no")
            except OSError:  # the sender gave up (timeout) or was killed
                self.close_connection = True

    return Handler


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on a free loopback port while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
