"""Webhooks: endpoints, events turned into signed messages in the durable outbox.

``Shortener.webhooks`` (a :class:`Webhooks`, on a backend that ``KeepsOutbox``) adds,
lists and removes endpoints and puts every event an endpoint wants in the outbox, one
:class:`~suolink.outbox.Message` per endpoint, its body the exact JSON text later signed
and sent by :mod:`suolink.webhook_worker`. ``link.clicked`` comes in batches: clicks are
collected off the request path (the hooks' worker, :mod:`suolink.events`) and one
message per endpoint is queued per ``click_batch`` clicks or ``click_wait`` seconds.

Signing is `Standard Webhooks <https://www.standardwebhooks.com/>`_ (the
``standardwebhooks`` package, the ``webhooks`` extra): secrets are ``whsec_`` + base64.

Endpoint URLs: ``http`` or ``https``, a host, no more than 2,048 characters. Delivering
to an address the operator does not control is server-side request forgery territory:
with ``refuse_private`` (off by default, so loopback receivers work in development) the
worker refuses hosts resolving to private, loopback, link-local or reserved addresses,
when the endpoint is added and again before each delivery.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from .backends.base import KeepsOutbox
from .errors import InvalidOption, MissingDependencyError
from .events import ANY, EVENT_TYPES, Event, EventBus, check_event_name
from .outbox import Endpoint, Message, new_id

__all__ = [
    "MAX_URL_LENGTH",
    "Webhooks",
    "check_endpoint_url",
    "check_public_host",
    "new_secret",
    "signer",
]

log = logging.getLogger("suolink.webhooks")

MAX_URL_LENGTH: Final = 2048
#: How long the list of endpoints is trusted before it is read again (seconds).
ENDPOINTS_TTL: Final = 5.0
#: ``link.clicked``: one message per this many clicks …
DEFAULT_CLICK_BATCH: Final = 100
#: … or once the oldest waiting click is this old (seconds).
DEFAULT_CLICK_WAIT: Final = 10.0
#: Most clicks held in memory for one batch (more are dropped and counted).
MAX_CLICK_BACKLOG: Final = 10_000


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signer(secret: str) -> Any:
    """The ``standardwebhooks.Webhook`` for ``secret`` (``MissingDependencyError``
    without the ``webhooks`` extra, ``InvalidOption`` for a malformed secret)."""
    try:
        from standardwebhooks import Webhook
    except ImportError as exc:  # pragma: no cover - the dev environment has it
        raise MissingDependencyError("webhooks", "webhooks", module="standardwebhooks") from exc
    if not isinstance(secret, str) or not secret.startswith("whsec_") or len(secret) > 200:
        raise InvalidOption("secret", "must be whsec_ followed by base64 (at least 24 bytes)")
    try:
        text = secret[len("whsec_") :].rstrip("=")
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise InvalidOption("secret", "must be whsec_ followed by base64") from None
    if len(raw) < 24:
        raise InvalidOption("secret", "must hold at least 24 random bytes")
    return Webhook(secret)


def check_endpoint_url(url: object) -> str:
    """``url`` if it can receive webhooks (``http``/``https``, a host); else ``InvalidOption``."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidOption("url", f"must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidOption("url", "must not hold spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidOption("url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidOption("url", "must start with http:// or https://")
    if not parts.hostname:
        raise InvalidOption("url", "must name a host")
    if port == 0:
        raise InvalidOption("url", "port 0 cannot be reached")
    return url


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_public_host(url: str) -> None:
    """``InvalidOption`` unless every address ``url``'s host resolves to is public.

    A DNS answer can change between this check and the connection (DNS rebinding): the
    check narrows server-side request forgery, a firewall rule closes it.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidOption("url", f"the host {host!r} does not resolve") from None
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_is_public(str(a)) for a in addresses):
        raise InvalidOption("url", f"the host {host!r} has a private or reserved address")


class _Clicks:
    """``link.clicked`` batching: runs in the hooks' worker thread only."""

    def __init__(self, owner: Webhooks) -> None:
        self.owner = owner
        self.clicks: list[Mapping[str, Any]] = []
        self.since = 0.0
        self.dropped = 0
        self.lock = threading.Lock()

    def add(self, event: Event) -> None:
        with self.lock:
            if not self.clicks:
                self.since = time.monotonic()
            if len(self.clicks) >= MAX_CLICK_BACKLOG:
                self.dropped += 1
                return
            self.clicks.append(event.payload)
            full = len(self.clicks) >= self.owner.click_batch
        if full:
            self.flush()

    def tick(self) -> None:
        with self.lock:
            due = bool(self.clicks) and time.monotonic() - self.since >= self.owner.click_wait
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            clicks, self.clicks = self.clicks, []
        while clicks:
            size = self.owner.click_batch
            part, clicks = clicks[:size], clicks[size:]
            payload = {"count": len(part), "clicks": part}
            if not self.owner.queue(Event("link.clicked", payload, timestamp=self.owner.clock())):
                with self.lock:  # the outbox failed: keep them for the next try
                    self.clicks[:0] = part + clicks
                    self.since = time.monotonic()
                return


class Webhooks:
    """A Shortener's webhook endpoints and its side of the outbox (see the module)."""

    def __init__(
        self,
        storage: KeepsOutbox,
        bus: EventBus,
        clock: Callable[[], datetime],
        *,
        refuse_private: bool = False,
        click_batch: int = DEFAULT_CLICK_BATCH,
        click_wait: float = DEFAULT_CLICK_WAIT,
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.clock = clock
        self.refuse_private = bool(refuse_private)
        self._cache: tuple[float, tuple[Endpoint, ...]] | None = None
        self._cache_lock = threading.Lock()
        #: ``link.clicked``: one message per this many clicks, or once the oldest waiting
        #: click is ``click_wait`` seconds old.
        self.click_batch = click_batch
        self.click_wait = click_wait
        self._clicks = _Clicks(self)
        self._listening = False
        #: Events that could not be put in the outbox (the storage failed); each logged.
        self.failed = 0

    # -- endpoints --------------------------------------------------------------------

    def add(
        self,
        url: str,
        *,
        events: Iterable[str] = (ANY,),
        secret: str | None = None,
        description: str = "",
    ) -> Endpoint:
        """Register an endpoint for ``events`` (names of ``EVENT_TYPES``; ``*``: all).

        ``secret`` (``whsec_…``) is made when not given; :meth:`Endpoint.to_dict` shows
        it only with ``with_secret=True``, so keep the returned endpoint's.
        """
        url = check_endpoint_url(url)
        if self.refuse_private:
            check_public_host(url)
        if isinstance(events, str):
            events = (events,)
        names = tuple(dict.fromkeys(check_event_name(e, allow_any=True) for e in events))
        if not names:
            raise InvalidOption("events", "name at least one event (or *)")
        secret = new_secret() if secret is None else secret
        signer(secret)  # refuses a malformed one now, not at the first delivery
        if not isinstance(description, str) or len(description) > 200:
            raise InvalidOption("description", "must be text of at most 200 characters")
        endpoint = Endpoint(
            id=new_id("ep"),
            url=url,
            events=names,
            secret=secret,
            created_at=self.clock(),
            description=description,
        )
        self.storage.add_endpoint(endpoint)
        self.refresh()
        return endpoint

    def list(self) -> list[Endpoint]:
        """Every endpoint, oldest first (read from the storage)."""
        return self.storage.endpoints()

    def remove(self, endpoint_id: str) -> bool:
        """Remove an endpoint and whatever waits for it; False if there was none."""
        if not isinstance(endpoint_id, str) or not 0 < len(endpoint_id) <= 64:
            return False
        removed = self.storage.remove_endpoint(endpoint_id)
        self.refresh()
        return removed

    def endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints as last read (at most ``ENDPOINTS_TTL`` seconds old)."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached[0] < ENDPOINTS_TTL:
            return cached[1]
        return self.refresh()

    def wants(self, name: str) -> bool:
        """True if an endpoint wants event ``name`` (False, logged, if the store fails)."""
        try:
            return any(endpoint.wants(name) for endpoint in self.endpoints())
        except Exception:
            log.exception("suolink could not read the webhook endpoints")
            return False

    def refresh(self) -> tuple[Endpoint, ...]:
        """Read the endpoints again; start or stop collecting clicks to match."""
        with self._cache_lock:
            found = tuple(self.storage.endpoints())
            self._cache = (time.monotonic(), found)
            wants_clicks = any(e.wants("link.clicked") for e in found)
            if wants_clicks and not self._listening:
                self.bus.on("link.clicked", self._clicks.add)
                self.bus.every(self._clicks.tick)
                self._listening = True
            elif not wants_clicks and self._listening:
                self.bus.off("link.clicked", self._clicks.add)
                self._listening = False
            return found

    # -- events -----------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue ``event`` for the endpoints that want it (clicks go to the batcher)."""
        if event.name == "link.clicked":
            return  # the bus hands visits to the batcher
        self.queue(event)

    def queue(self, event: Event) -> bool:
        """One outbox message per endpoint wanting ``event``; False if the storage failed
        (logged and counted, never raised: the event's own write already happened)."""
        try:
            targets = [e for e in self.endpoints() if e.wants(event.name)]
            if not targets:
                return True
            body = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))
            now = self.clock()
            self.storage.enqueue(
                [
                    Message(
                        id=new_id("msg"),
                        endpoint_id=endpoint.id,
                        event=event.name,
                        body=body,
                        created_at=now,
                    )
                    for endpoint in targets
                ]
            )
        except Exception:
            self.failed += 1
            log.exception("suolink could not queue webhook event %s %s", event.name, event.id)
            return False
        return True

    def flush(self) -> None:
        """Queue the clicks collected so far now (tests; ``close``)."""
        self._clicks.flush()

    @property
    def dropped_clicks(self) -> int:
        """Clicks dropped because the batch backlog was full."""
        return self._clicks.dropped


assert "link.clicked" in EVENT_TYPES
