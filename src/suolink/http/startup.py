"""What an adapter should say when it starts: settings that leave a part unusable.

Framework-neutral, so every adapter logs the same words: no way to manage links (no
token, no ``authorize``, no anonymous creation), and the ``qr`` extra missing (QR and
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
    missing = missing_modules()
    if missing:
        found.append(
            f"the qr extra is not installed (missing {', '.join(missing)}): QR images and "
            "decoding answer 501 missing_dependency; pip install 'suolink[qr]'"
        )
    return found
