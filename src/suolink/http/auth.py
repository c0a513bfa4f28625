"""Who may call a route: bearer token, the host's ``authorize``, anonymous throttles.

A route row declares what it needs with :func:`requires` (or :func:`page_login` for an
HTML page that asks for the token itself); :func:`check` applies that before the handler
runs, so no handler writes an access check of its own.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..backends.base import SharesRateLimits
from ..errors import ConfigurationError, MissingDependencyError
from ..models import Decision
from .request import HttpRequest
from .responses import no_token_configured, rate_limited, unauthorized

__all__ = [
    "ANONYMOUS_ACTIONS",
    "PUBLIC",
    "Access",
    "Authorize",
    "Gatekeeper",
    "RateLimiter",
    "check",
    "limits_storage_url",
    "page_login",
    "password_retry_after",
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

Actions: create, read, list, update, delete, stats, decode.
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


def token_ok(expected: str | None, given: str) -> bool:
    """Constant-time comparison of ``given`` with the configured token (None: never)."""
    if expected is None:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), expected.encode())


def privileged(gate: Gatekeeper, request: HttpRequest, action: str) -> bool:
    """Authorised by the host's callable or the bearer token (not merely anonymous)."""
    if gate.authorize is not None and gate.authorize(request, action):
        return True
    return _holds_token(gate, request)


def _holds_token(gate: Gatekeeper, request: HttpRequest) -> bool:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and token_ok(gate.api_token, token)


def check(
    gate: Gatekeeper, access: Access, request: HttpRequest, params: Mapping[str, str]
) -> Decision | None:
    """None if ``request`` may go on to the handler, else the refusal to send."""
    action = access.action(request)
    if action is None:
        return None
    if access.login is not None:
        return _page_check(gate, access.login, action, request, params)
    if privileged(gate, request, action):
        return None
    if action in ANONYMOUS_ACTIONS and gate.allow_anonymous:
        return _throttle(gate.rate_limiter, request, action)
    if gate.api_token is None and gate.authorize is None:
        return no_token_configured()
    return unauthorized()


def _page_check(
    gate: Gatekeeper, login: Refusal, action: str, request: HttpRequest, params: Mapping[str, str]
) -> Decision | None:
    if privileged(gate, request, action):
        return None
    token = request.form_value("token") if request.method == "POST" else None
    if token and token_ok(gate.api_token, token):
        return None
    return login(request, params, token is not None)


def _throttle(limiter: RateLimiter | None, request: HttpRequest, action: str) -> Decision | None:
    """None if this anonymous request is within the per-IP limit, else a 429."""
    if limiter is None:
        return None
    retry_after = limiter.hit(action, request.remote_addr or "unknown")
    return None if retry_after is None else rate_limited(retry_after, limiter.limit_text)


def password_retry_after(
    limiter: RateLimiter | None, store_url: str, code: str, remote_addr: str | None
) -> int | None:
    """Count one password try on ``code`` from this address: None, or seconds to wait.

    Keyed by the store too, so apps sharing one Redis never share counts.
    """
    if limiter is None:
        return None
    return limiter.hit(f"password:{store_url}", f"{code[:64]}|{remote_addr or 'unknown'}")


def qr_render_retry_after(
    limiter: RateLimiter | None, gate: Gatekeeper, store_url: str, request: HttpRequest
) -> int | None:
    """Count one QR image drawn afresh for this address: None, or seconds to wait.

    Holders of the API token are never limited; a public route never asks ``authorize``.
    Keyed by the store too, so apps sharing one Redis never share counts.
    """
    if limiter is None or _holds_token(gate, request):
        return None
    return limiter.hit(f"qr-render:{store_url}", request.remote_addr or "unknown")


# -- rate limiting -------------------------------------------------------------------------


def limits_storage_url(storage: object) -> str:
    """The ``limits`` storage URL sharing the link store, if the backend offers one.

    Backends that do not share (SQLite, memory, …) get ``limits``' in-process
    ``memory://``: each worker process then counts on its own.
    """
    if isinstance(storage, SharesRateLimits):
        return storage.rate_limit_url
    return "memory://"


class RateLimiter:
    """Per-key moving-window limits over a ``limits`` storage (``"10/minute;200/day"``)."""

    def __init__(self, limit: str, storage_url: str = "memory://") -> None:
        try:
            import limits
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as exc:  # pragma: no cover - limits comes with the web extras
            raise MissingDependencyError("rate limiting", "flask", module="limits") from exc
        try:
            self.items = limits.parse_many(limit)
        except ValueError:
            raise ConfigurationError(
                f"rate_limit {limit!r} is not a limit like '10/minute' or '10/minute;100/day'"
            ) from None
        self.limit_text = "; ".join(str(item) for item in self.items)
        options: dict[str, Any] = {}
        if storage_url.startswith("redis"):
            options["key_prefix"] = "suolink-limits"
        try:
            storage = storage_from_string(storage_url, **options)
        except Exception as exc:  # a limits ConfigurationError or a missing driver
            raise ConfigurationError(
                f"the rate-limit storage cannot be used: {type(exc).__name__}: {exc}"
            ) from exc
        self.storage_url = storage_url.split("@")[-1]
        self.limiter = MovingWindowRateLimiter(storage)

    def hit(self, namespace: str, key: str) -> int | None:
        """Count one request; None if allowed, else the seconds until one is allowed again.

        If the limit's storage fails, the request is let through (logged): a rate limit
        must not take creation down with it.
        """
        try:
            refused = [item for item in self.items if not self.limiter.hit(item, namespace, key)]
            if not refused:
                return None
            reset = max(
                self.limiter.get_window_stats(i, namespace, key).reset_time for i in refused
            )
        except Exception as exc:  # storage errors of any driver
            log.warning("rate-limit storage failed, request allowed: %r", exc)
            return None
        return max(1, math.ceil(reset - time.time()))
