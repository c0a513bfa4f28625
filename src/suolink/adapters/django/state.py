"""The app's one Shortener and HttpApi per process, built from settings on first use.

Rebuilt when ``settings.SUOLINK`` changes (``override_settings`` in tests), so a host's
test suite can swap the storage without restarting. The HttpApi is shared (its rate
limiter counts across requests); the Django request it authorises is the current one,
handed over in a context variable by the view (safe under threads and asyncio).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

from ...api import HttpApi, HttpRequest
from ...shortener import Shortener
from .conf import suolink_options

__all__ = ["PERMISSIONS", "current_request", "get_api", "get_shortener", "reset"]

#: The Django permission that allows each API action.
PERMISSIONS: Final[Mapping[str, str]] = {
    "create": "suolink.add_link",
    "read": "suolink.view_link",
    "list": "suolink.view_link",
    "stats": "suolink.view_link",
    "update": "suolink.change_link",
    "delete": "suolink.delete_link",
    "decode": "suolink.view_link",
}

_lock = threading.RLock()
_shortener: Shortener | None = None
_api: HttpApi | None = None
_request: ContextVar[Any] = ContextVar("suolink_django_request", default=None)


@contextmanager
def current_request(request: Any) -> Iterator[None]:
    """Make ``request`` the Django request the API authorises while the block runs."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def get_shortener() -> Shortener:
    """The Shortener configured by ``settings.SUOLINK``; one per process, thread-safe."""
    global _shortener
    current = _shortener
    if current is not None:
        return current
    with _lock:
        if _shortener is None:
            _shortener = Shortener(**suolink_options().shortener_kwargs())
        return _shortener


def get_api() -> HttpApi:
    """The HttpApi serving the app's views (API token, Django permissions, rate limits)."""
    global _api
    current = _api
    if current is not None:
        return current
    with _lock:
        if _api is None:
            options = suolink_options()
            kwargs = options.api_kwargs()
            host = kwargs.pop("authorize", None)
            _api = HttpApi(
                get_shortener(),
                authorize=_authorizer(host, use_permissions=options.get("use_permissions")),
                **kwargs,
            )
        return _api


def _authorizer(
    host: Callable[[Any, str], bool] | None, *, use_permissions: bool
) -> Callable[[HttpRequest, str], bool] | None:
    """``authorize`` for the HttpApi: the host's callable, then Django permissions."""
    if host is None and not use_permissions:
        return None

    def authorize(_: HttpRequest, action: str) -> bool:
        request = _request.get()
        if request is None:
            return False
        if host is not None and host(request, action):
            return True
        user = getattr(request, "user", None)
        permission = PERMISSIONS.get(action)
        return bool(
            use_permissions
            and permission
            and user is not None
            and user.is_authenticated
            and user.has_perm(permission)
        )

    return authorize


def reset(*args: Any, setting: str | None = None, **kwargs: Any) -> None:
    """Forget the Shortener (closing it) and the API so the next use reads settings again."""
    global _shortener, _api
    if setting is not None and setting != "SUOLINK":
        return
    with _lock:
        old, _shortener, _api = _shortener, None, None
    if old is not None:
        old.close()
