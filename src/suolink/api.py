"""Moved to :mod:`suolink.http`; this module re-exports its old names for one release.

The HTTP surface now lives in a package: the route table (:mod:`suolink.http.routes`),
requests (:mod:`~suolink.http.request`), responses (:mod:`~suolink.http.responses`),
access (:mod:`~suolink.http.auth`), handlers and :class:`~suolink.http.api.HttpApi`.
Import from there; this path goes away in the release after next.
"""

from __future__ import annotations

from .http.api import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_PASSWORD_RATE_LIMIT,
    DEFAULT_RATE_LIMIT,
    HttpApi,
)
from .http.auth import ANONYMOUS_ACTIONS, Authorize, RateLimiter, limits_storage_url
from .http.request import VISITOR_HEADERS, HttpRequest
from .http.responses import error_response, json_response
from .http.routes import LINK_ROUTES, ROUTES, UPLOAD_ROUTES, Route

__all__ = [
    "ANONYMOUS_ACTIONS",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_UPLOAD",
    "DEFAULT_PASSWORD_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "LINK_ROUTES",
    "ROUTES",
    "UPLOAD_ROUTES",
    "VISITOR_HEADERS",
    "Authorize",
    "HttpApi",
    "HttpRequest",
    "RateLimiter",
    "Route",
    "error_response",
    "json_response",
    "limits_storage_url",
]
