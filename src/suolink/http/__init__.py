"""The framework-neutral HTTP surface: every adapter routes requests here.

=====================  ==============================================================
:mod:`.routes`         the route table; each row holds its handler and required access
:mod:`.request`        :class:`HttpRequest`, and the one request -> ``Visitor`` mapping
:mod:`.responses`      every kind of answer (JSON, errors, pages, redirects, QR, OpenAPI)
:mod:`.auth`           token, ``authorize``, anonymous throttles, the route guard
:mod:`.handlers`       one function per route
:mod:`.openapi`        the OpenAPI document, built from the routes it is handed
:mod:`.api`            :class:`HttpApi`, which ties a request to its row and handler
=====================  ==============================================================

Only :mod:`.request` and :mod:`.responses` load with this package: pages build their
answers with :mod:`.responses` while :mod:`.handlers` renders pages, so the table and
:class:`HttpApi` load on first use to keep imports free of cycles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .request import HttpRequest, visitor_from
from .responses import error_response, json_response

if TYPE_CHECKING:
    from .api import HttpApi
    from .auth import RateLimiter, limits_storage_url
    from .routes import LINK_ROUTES, ROUTES, Route

__all__ = [
    "LINK_ROUTES",
    "ROUTES",
    "HttpApi",
    "HttpRequest",
    "RateLimiter",
    "Route",
    "error_response",
    "json_response",
    "limits_storage_url",
    "visitor_from",
]

_LAZY = {
    "HttpApi": ".api",
    "RateLimiter": ".auth",
    "limits_storage_url": ".auth",
    "LINK_ROUTES": ".routes",
    "ROUTES": ".routes",
    "Route": ".routes",
}


def __getattr__(name: str) -> Any:
    """Load the route table and :class:`HttpApi` on first use (see the module docstring)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
