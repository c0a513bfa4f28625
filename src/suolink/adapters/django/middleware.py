"""``ClientMiddleware``: sets ``request.suolink_client`` to the visitor's detected client.

Detection runs only if a view reads the attribute (a lazy object; results are cached by
:func:`suolink.detect.detect` too). The middleware works under WSGI and ASGI alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from ...api import VISITOR_HEADERS
from ...detect import Client, detect
from .conf import suolink_settings

__all__ = ["ClientMiddleware", "client_for"]


def client_for(request: HttpRequest) -> Client:
    """The detected :class:`~suolink.detect.Client` of ``request``; never raises."""
    headers = [
        (name.lower(), value)
        for name, value in request.headers.items()
        if name.lower() in VISITOR_HEADERS and isinstance(value, str)
    ]
    return detect(request.headers.get("User-Agent") or "", headers)


class ClientMiddleware:
    """Attach the detected client to each request (sync and async capable)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.attribute = str(suolink_settings()["REQUEST_ATTRIBUTE"])
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _attach(self, request: HttpRequest) -> None:
        setattr(request, self.attribute, SimpleLazyObject(lambda: client_for(request)))

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        self._attach(request)
        response: HttpResponse = self.get_response(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self._attach(request)
        response: HttpResponse = await self.get_response(request)
        return response
