"""Settings of the Django app: one ``SUOLINK`` dict in the host's settings, read when needed.

Keys are the upper-case names of :class:`~suolink.shortener.Shortener` and
:class:`~suolink.api.HttpApi` keyword arguments (``STORAGE``, ``SECRET``, ``API_TOKEN``,
…, so a new option of either is a setting at once) plus a few of the app's own
(``USE_PERMISSIONS``, ``REQUEST_ATTRIBUTE``). Nothing is ever written back to settings.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings
from django.utils.module_loading import import_string

from ...errors import ConfigurationError

__all__ = ["DEFAULTS", "SETTINGS_NAME", "api_keys", "shortener_keys", "suolink_settings"]

#: The name of the one dict in the host's settings.
SETTINGS_NAME: Final = "SUOLINK"


def _parameters(target: Any, skip: frozenset[str]) -> tuple[str, ...]:
    params = inspect.signature(target).parameters
    return tuple(name.upper() for name in params if name not in skip)


def shortener_keys() -> tuple[str, ...]:
    """Keys passed on to the Shortener (every keyword it takes, upper-cased)."""
    from ...shortener import Shortener

    return _parameters(Shortener.__init__, frozenset({"self", "clock"}))


def api_keys() -> tuple[str, ...]:
    """Keys passed on to the HttpApi (every keyword it takes, upper-cased)."""
    from ...api import HttpApi

    return _parameters(HttpApi.__init__, frozenset({"self", "shortener"}))


#: What an unset key means.
DEFAULTS: Final[Mapping[str, Any]] = {
    # Links live in the project's own database (the ``default`` alias).
    "STORAGE": "django://",
    # Django users with suolink.add_link / view_link / … may manage links over the API.
    "USE_PERMISSIONS": True,
    "ALLOW_ANONYMOUS": False,
    # The request attribute the middleware sets to the detected client.
    "REQUEST_ATTRIBUTE": "suolink_client",
}


def suolink_settings() -> dict[str, Any]:
    """The effective settings: the host's ``SUOLINK`` dict over :data:`DEFAULTS`.

    Raises ``ConfigurationError`` for a key suolink does not know (a typo would otherwise
    be silently ignored).
    """
    given = getattr(settings, SETTINGS_NAME, None) or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"settings.{SETTINGS_NAME} must be a dict")
    known = {*shortener_keys(), *api_keys(), *DEFAULTS}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown key(s) in settings.{SETTINGS_NAME}: {', '.join(map(str, unknown))}"
        )
    out = dict(DEFAULTS)
    out.update({k: v for k, v in given.items() if v is not None})
    authorize = out.get("AUTHORIZE")
    if isinstance(authorize, str):
        try:
            out["AUTHORIZE"] = import_string(authorize)
        except ImportError as exc:
            raise ConfigurationError(
                f"{SETTINGS_NAME}['AUTHORIZE'] = {authorize!r} cannot be imported"
            ) from exc
    return out
