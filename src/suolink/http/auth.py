"""Who may call a route: bearer token, the host's ``authorize``, anonymous throttles.

A route row declares what it needs with :func:`requires` (or :func:`page_login` for an
HTML page that asks for the token itself); :func:`check` applies that before the handler
runs, so no handler writes an access check of its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..backends.base import SharesRateLimits
from ..errors import ConfigurationError, MissingDependencyError
from ..models import Decision
from .request import HttpRequest
from .responses import no_token_configured, rate_limited, unauthorized

if TYPE_CHECKING:
    from limits import RateLimitItem

__all__ = [
    "ANONYMOUS_ACTIONS",
    "DEFAULT_MAX_LIMIT_ENTRIES",
    "PUBLIC",
    "Access",
    "Authorize",
    "Gatekeeper",
    "RateLimiter",
    "WrongTryLimiter",
    "address_of",
    "bearer_token",
    "check",
    "limits_storage_url",
    "page_login",
    "password_retry_after",
    "password_tried",
    "privileged",
    "qr_render_retry_after",
    "requires",
    "token_ok",
]

log = logging.getLogger("suolink.api")

#: What anyone may do when ``allow_anonymous`` is on (each rate-limited per IP).
ANONYMOUS_ACTIONS: Final = frozenset({"create", "decode"})

Authorize = Callable[[HttpRequest, str], bool]
"""``authorize(request, action) -> bool``.

Actions: create, read, list, update, delete, stats, decode, webhooks; domains (list short
domains) and manage_domains (add, change, remove and mark them).
"""

#: The action a request asks for (None: public), decided from the request alone.
ActionOf = Callable[[HttpRequest], str | None]
#: A page's own refusal: ``(request, params, wrong_token) -> Decision``.
Refusal = Callable[[HttpRequest, Mapping[str, str], bool], Decision]


@dataclass(frozen=True, slots=True)
class Access:
    """What a route row requires before its handler runs.

    ``action_of`` names the action a request needs (None: anyone). API routes refuse
    with a JSON 401/403; a route with ``login`` set (an HTML page) also accepts the token
    POSTed in a ``token`` form field and refuses with its own page instead.
    """

    action_of: ActionOf
    login: Refusal | None = None

    def action(self, request: HttpRequest) -> str | None:
        return self.action_of(request)


#: Anyone may call the route (redirects, QR codes, the web page, health, OpenAPI).
PUBLIC: Final = Access(lambda request: None)


def requires(action: str | Mapping[str, str] | ActionOf) -> Access:
    """The access a row requires: one action, one per method, or one chosen per request.

    ``requires({"GET": "list", "POST": "create"})``: a method the mapping does not name
    needs the (unknown) action ``""``, which only ``authorize`` or the token grants. A
    HEAD needs what a GET needs.
    """
    if isinstance(action, str):
        name = action
        return Access(lambda request: name)
    if isinstance(action, Mapping):
        by_method = dict(action)
        return Access(lambda request: by_method.get(request.action_method, ""))
    return Access(action)


def page_login(action: str, refusal: Refusal) -> Access:
    """Access for an HTML page: privileged requests, or the token POSTed in its form."""
    return Access(lambda request: action, login=refusal)


class Gatekeeper(Protocol):
    """What :func:`check` reads from the :class:`~suolink.http.HttpApi` it guards."""

    api_token: str | None
    authorize: Authorize | None
    allow_anonymous: bool
    rate_limiter: RateLimiter | None
    token_limiter: WrongTryLimiter | None

    def client_key(self, request: HttpRequest) -> str:
        """The request's address as rate limits count it (a keyed hash, never the IP)."""
        ...


def token_ok(expected: str | None, given: str) -> bool:
    """Constant-time comparison of ``given`` with the configured token (None: never)."""
    if expected is None:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), expected.encode())


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def address_of(remote_addr: str | None) -> str:
    """The address rate limits count: an IPv6 client by its /64 (one host's share).

    An IPv6 host is usually handed a whole /64, so counting single addresses would give
    it 2**64 budgets.
    """
    if not remote_addr:
        return "unknown"
    try:
        ip = ipaddress.ip_address(remote_addr)
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.IPv6Network((ip.packed, 64), strict=False))
    except ValueError:
        return remote_addr[:64]
    return str(ip)


def _token_check(gate: Gatekeeper, request: HttpRequest, token: str) -> bool | Decision:
    """Whether ``token`` is right; a 429 instead while this address fails too often.

    Only wrong tokens are counted; an address over the limit is refused before its token
    is compared, so the limit also bounds guessing.
    """
    limiter = gate.token_limiter
    if limiter is None or gate.api_token is None:
        return token_ok(gate.api_token, token)
    key = gate.client_key(request)
    wait = limiter.admit("token", key)
    if wait is not None:
        return rate_limited(wait, limiter.limit_text)
    if token_ok(gate.api_token, token):
        return True
    limiter.failed("token", key)
    return False


def privileged(gate: Gatekeeper, request: HttpRequest, action: str) -> bool | Decision:
    """Authorised by the host's callable or the bearer token (not merely anonymous).

    A Decision (429) when this address sent too many wrong tokens.
    """
    if gate.authorize is not None and gate.authorize(request, action):
        return True
    token = bearer_token(request)
    return False if token is None else _token_check(gate, request, token)


def _holds_token(gate: Gatekeeper, request: HttpRequest) -> bool:
    token = bearer_token(request)
    return token is not None and token_ok(gate.api_token, token)


def check(
    gate: Gatekeeper, access: Access, request: HttpRequest, params: Mapping[str, str]
) -> Decision | None:
    """None if ``request`` may go on to the handler, else the refusal to send."""
    action = access.action(request)
    if action is None:
        return None
    if access.login is not None:
        return _page_check(gate, access.login, action, request, params)
    granted = privileged(gate, request, action)
    if isinstance(granted, Decision):
        return granted
    if granted:
        return None
    if action in ANONYMOUS_ACTIONS and gate.allow_anonymous:
        return _throttle(gate, request, action)
    if gate.api_token is None and gate.authorize is None:
        return no_token_configured()
    return unauthorized()


def _page_check(
    gate: Gatekeeper, login: Refusal, action: str, request: HttpRequest, params: Mapping[str, str]
) -> Decision | None:
    granted = privileged(gate, request, action)
    if isinstance(granted, Decision):
        return granted
    if granted:
        return None
    token = request.form_value("token") if request.method == "POST" else None
    if token:
        right = _token_check(gate, request, token)
        if isinstance(right, Decision):
            return right
        if right:
            return None
    return login(request, params, token is not None)


def _throttle(gate: Gatekeeper, request: HttpRequest, action: str) -> Decision | None:
    """None if this anonymous request is within the per-address limit, else a 429."""
    limiter = gate.rate_limiter
    if limiter is None:
        return None
    retry_after = limiter.hit(action, gate.client_key(request))
    return None if retry_after is None else rate_limited(retry_after, limiter.limit_text)


def password_retry_after(limiter: WrongTryLimiter | None, store_url: str, key: str) -> int | None:
    """Before a password on an existing password link is checked: None, or seconds to wait.

    ``key`` names the link and the hashed address. Keyed by the store too, so apps
    sharing one Redis never share counts.
    """
    if limiter is None:
        return None
    return limiter.admit(f"password:{store_url}", key)


def password_tried(limiter: WrongTryLimiter | None, store_url: str, key: str) -> None:
    """Count a wrong password (after it was checked; a right one is never counted)."""
    if limiter is not None:
        limiter.failed(f"password:{store_url}", key)


def qr_render_retry_after(
    limiter: RateLimiter | None,
    gate: Gatekeeper,
    store_url: str,
    request: HttpRequest,
    client_key: str,
) -> int | None:
    """Count one QR image drawn afresh for this address: None, or seconds to wait.

    Holders of the API token are never limited; a public route never asks ``authorize``.
    ``client_key`` is the address as every limit counts it (``HttpApi.client_key``).
    Keyed by the store too, so apps sharing one Redis never share counts.
    """
    if limiter is None or _holds_token(gate, request):
        return None
    return limiter.hit(f"qr-render:{store_url}", client_key)  # a keyed hash, never the IP


# -- rate limiting -------------------------------------------------------------------------

#: Most moving-window entries (one per counted request and window) the in-process
#: (``memory://``) limit storage holds, about 100 bytes each; the oldest keys go first.
DEFAULT_MAX_LIMIT_ENTRIES: Final = 500_000


def limits_storage_url(storage: object) -> str:
    """The ``limits`` storage URL sharing the link store, if the backend offers one.

    Backends that do not share (SQLite, memory, …) get ``limits``' in-process
    ``memory://``: each worker process then counts on its own.
    """
    if isinstance(storage, SharesRateLimits):
        return storage.rate_limit_url
    return "memory://"


def _bounded_memory_storage(max_entries: int) -> Any:
    """``limits``' memory storage holding at most about ``max_entries`` window entries.

    Unbounded, a client rotating addresses grows the process by a kilobyte or more a key
    for a day. Past the cap (or a tenth of it in keys) the oldest keys are forgotten
    until a tenth is free again: their counts start over, so a store shared by many
    workers or exposed to many addresses belongs in Redis (``rate_limit_storage``).
    """
    import threading

    from limits.storage import MemoryStorage

    class BoundedMemoryStorage(MemoryStorage):
        def __init__(self) -> None:
            super().__init__()
            self.max_entries = max_entries
            self.max_keys = max(1, max_entries // 10)
            self.entries = 0
            self.bound_lock = threading.Lock()

        def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
            acquired = bool(super().acquire_entry(key, limit, expiry, amount))
            with self.bound_lock:
                self.entries += amount if acquired else 0
                if self.entries > self.max_entries or len(self.events) > self.max_keys:
                    self.shrink()
            return acquired

        def shrink(self) -> None:
            """Forget the oldest keys until nine tenths of both caps are left."""
            events = self.events
            total = sum(len(entries) for entries in list(events.values()))
            entry_goal, key_goal = self.max_entries * 9 // 10, self.max_keys * 9 // 10
            for key in list(events):
                if total <= entry_goal and len(events) <= key_goal:
                    break
                total -= len(events.get(key, ()))
                self.clear(key)
            self.entries = total

    return BoundedMemoryStorage()


class RateLimiter:
    """Per-key moving-window limits over a ``limits`` storage (``"10/minute;200/day"``).

    Over ``memory://`` the counts are bounded (:data:`DEFAULT_MAX_LIMIT_ENTRIES`).
    """

    def __init__(
        self,
        limit: str,
        storage_url: str = "memory://",
        *,
        max_entries: int = DEFAULT_MAX_LIMIT_ENTRIES,
    ) -> None:
        try:
            import limits
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as exc:  # pragma: no cover - limits comes with the web extras
            raise MissingDependencyError("rate limiting", "flask", module="limits") from exc
        try:
            self.items: list[RateLimitItem] = limits.parse_many(limit)
        except ValueError:
            raise ConfigurationError(
                f"rate_limit {limit!r} is not a limit like '10/minute' or '10/minute;100/day'"
            ) from None
        self.limit_text = "; ".join(str(item) for item in self.items)
        options: dict[str, Any] = {}
        if storage_url.startswith("redis"):
            options["key_prefix"] = "suolink-limits"
        try:
            if storage_url == "memory://":
                storage = _bounded_memory_storage(max_entries)
            else:
                storage = storage_from_string(storage_url, **options)
        except Exception as exc:  # a limits ConfigurationError or a missing driver
            raise ConfigurationError(
                f"the rate-limit storage cannot be used: {type(exc).__name__}: {exc}"
            ) from exc
        self.storage = storage
        self.storage_url = storage_url.split("@")[-1]
        self.limiter = MovingWindowRateLimiter(storage)

    def hit(self, namespace: str, key: str) -> int | None:
        """Count one request; None if allowed, else the seconds until one is allowed again.

        If the limit's storage fails, the request is let through (logged): a rate limit
        must not take creation down with it.
        """
        try:
            refused = [item for item in self.items if not self.limiter.hit(item, namespace, key)]
            return self._wait(refused, namespace, key) if refused else None
        except Exception as exc:  # storage errors of any driver
            log.warning("rate-limit storage failed, request allowed: %r", exc)
            return None

    def _wait(self, refused: list[RateLimitItem], namespace: str, key: str) -> int:
        """Seconds until every window in ``refused`` has room again (at least 1)."""
        reset = max(self.limiter.get_window_stats(i, namespace, key).reset_time for i in refused)
        return max(1, math.ceil(reset - time.time()))


class WrongTryLimiter(RateLimiter):
    """Limits on wrong tries of a secret (a link password, the API token) per key.

    The shortest window of ``limit`` (``10/minute`` of ``"10/minute;100/day"``) is the
    burst: once used up, nothing more is checked until it frees up. The longer windows
    count wrong tries only; once one is full the key is slowed to one checked try per
    burst window. So guessing stays slow, but a flood of wrong tries from a shared address
    keeps the right secret out for a burst window, never for a day.

    With ``count_checks`` the burst counts every checked try, right or wrong, reserved
    before the check so concurrent requests cannot slip past it (link passwords: a right
    one is checked once). Without, the burst counts wrong tries only and is tested before
    the check (the API token: a client with the right token is never slowed).
    """

    def __init__(
        self,
        limit: str,
        storage_url: str = "memory://",
        *,
        count_checks: bool,
        max_entries: int = DEFAULT_MAX_LIMIT_ENTRIES,
    ) -> None:
        super().__init__(limit, storage_url, max_entries=max_entries)
        from limits import RateLimitItemPerSecond

        shortest = min(item.get_expiry() for item in self.items)
        self.burst = [item for item in self.items if item.get_expiry() == shortest]
        self.long = [item for item in self.items if item.get_expiry() != shortest]
        self.slow: RateLimitItem = RateLimitItemPerSecond(1, shortest)
        self.count_checks = count_checks

    def admit(self, namespace: str, key: str) -> int | None:
        """Before a secret is checked: None to go on, else the seconds to wait."""
        try:
            if not all(self.limiter.test(item, namespace, key) for item in self.long):
                slow = f"{namespace}:slow"
                return (
                    None
                    if self.limiter.hit(self.slow, slow, key)
                    else self._wait([self.slow], slow, key)
                )
            if self.count_checks:
                checks = f"{namespace}:checks"
                refused = [i for i in self.burst if not self.limiter.hit(i, checks, key)]
                return self._wait(refused, checks, key) if refused else None
            refused = [i for i in self.burst if not self.limiter.test(i, namespace, key)]
            return self._wait(refused, namespace, key) if refused else None
        except Exception as exc:  # storage errors of any driver
            log.warning("rate-limit storage failed, try allowed: %r", exc)
            return None

    def failed(self, namespace: str, key: str) -> None:
        """Count one wrong try (after it was checked)."""
        counted = self.long if self.count_checks else self.items
        try:
            for item in counted:
                self.limiter.hit(item, namespace, key)
        except Exception as exc:  # storage errors of any driver
            log.warning("rate-limit storage failed, wrong try not counted: %r", exc)
