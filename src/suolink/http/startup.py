"""What an adapter should say when it starts: settings that leave a part unusable.

Framework-neutral, so every adapter logs the same words: no way to manage links (no
token, no ``authorize``, no anonymous creation), short URLs that follow the request's
``Host`` (no ``base_url``, no ``allowed_hosts``), and the ``qr`` extra missing (QR and
decode routes then answer ``501 missing_dependency``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..qr._deps import missing_modules

if TYPE_CHECKING:
    from .api import HttpApi

__all__ = ["startup_warnings"]


def startup_warnings(api: HttpApi) -> list[str]:
    """Plain sentences, one per problem; empty when the server is fully usable."""
    found: list[str] = []
    if api.api_token is None and api.authorize is None and not api.allow_anonymous:
        found.append(
            "no API token is set (SUOLINK_API_TOKEN), nor authorize nor anonymous "
            "creation: every request to manage links is refused with 403"
        )
    if api.shortener.base_url is None and api.allowed_hosts is None:
        found.append(
            "no base_url and no allowed_hosts: short URLs, Location headers and QR codes "
            "follow each request's Host header; set SUOLINK_BASE_URL or "
            "SUOLINK_ALLOWED_HOSTS in production"
        )
    missing = missing_modules()
    if missing:
        found.append(
            f"the qr extra is not installed (missing {', '.join(missing)}): QR images and "
            "decoding answer 501 missing_dependency; pip install 'suolink[qr]'"
        )
    return found
