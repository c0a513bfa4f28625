"""Moved to :mod:`suolink.http.openapi`; this path is kept for one release.

:func:`openapi_document` here still documents :data:`~suolink.http.routes.ROUTES` when
called without routes, as it did before the move.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .http.openapi import SCHEMAS
from .http.openapi import openapi_document as _document
from .http.routes import ROUTES, Route

__all__ = ["SCHEMAS", "openapi_document"]


def openapi_document(
    routes: Iterable[Route] = ROUTES,
    *,
    server_url: str | None = None,
    api_prefix: str = "",
    link_prefix: str = "",
) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (default: every route); see the new module."""
    return _document(routes, server_url=server_url, api_prefix=api_prefix, link_prefix=link_prefix)
