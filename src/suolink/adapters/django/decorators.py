"""``@protect(...)``: a link's anti-block and access rules in front of a host's own view.

Visitors inside an app the rules name get the "open in your browser" guide page, those
``allow``/``deny`` refuse get the refusal page, everyone else the view. The decision is
:meth:`Shortener.protect <suolink.shortener.Shortener.protect>`'s; this only translates.
Works on sync and async views.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from ...models import Decision
from ...options import protect_rules
from .state import get_shortener
from .views import response, visitor_for

__all__ = ["protect", "protect_request"]

_View = TypeVar("_View", bound=Callable[..., Any])


def protect_request(
    request: HttpRequest,
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> HttpResponse | None:
    """The response to send instead of the page at ``request``, or None to serve it."""
    decision: Decision | None = get_shortener().protect(
        visitor_for(request),
        url=request.build_absolute_uri(),
        anti_block=anti_block,
        anti_block_mode=anti_block_mode,
        allow=allow,
        deny=deny,
    )
    return None if decision is None else response(decision)


def protect(
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> Callable[[_View], _View]:
    """Decorate a view (function-based, sync or async) with these link rules.

    The rules are checked here, when the view is decorated: an unknown platform name is
    an ``InvalidOption`` at import time, as with Flask's ``protect``.
    """
    rules = protect_rules(
        anti_block=anti_block, anti_block_mode=anti_block_mode, allow=allow, deny=deny
    )

    def decorate(view: _View) -> _View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                answer = await sync_to_async(protect_request)(request, **rules)
                return answer if answer is not None else await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            answer = protect_request(request, **rules)
            return answer if answer is not None else view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
