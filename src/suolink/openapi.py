"""Moved to :mod:`suolink.http.openapi`; this path is kept for one release."""

from .http.openapi import SCHEMAS, openapi_document

__all__ = ["SCHEMAS", "openapi_document"]
