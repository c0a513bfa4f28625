"""Settings of the Django app: one ``SUOLINK`` dict in the host's settings, read when needed.

Keys are the upper-case names of the option spec (:mod:`suolink.config`): every keyword
of :class:`~suolink.shortener.Shortener` and :class:`~suolink.api.HttpApi` (``STORAGE``,
``SECRET``, ``API_TOKEN``, ``ALPHABET``, …) plus the app's own (``USE_PERMISSIONS``,
``REQUEST_ATTRIBUTE``). Values may be text, as from the environment (``"true"``,
``"5"``, ``"http,https"``, ``"myapp.auth:can_manage"``). Nothing is written back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings

from ...config import OPTIONS, KeyStyle, ServerOptions, options_for, resolve_options
from ...errors import ConfigurationError

__all__ = [
    "ADAPTER",
    "DEFAULTS",
    "SETTINGS_NAME",
    "api_keys",
    "shortener_keys",
    "suolink_options",
    "suolink_settings",
]

#: The name of the one dict in the host's settings.
SETTINGS_NAME: Final = "SUOLINK"
#: This adapter's name in the option spec.
ADAPTER: Final = "django"


def shortener_keys() -> tuple[str, ...]:
    """Keys passed on to the Shortener (every keyword it takes, upper-cased)."""
    return tuple(o.setting for o in OPTIONS.values() if o.target == "shortener")


def api_keys() -> tuple[str, ...]:
    """Keys passed on to the HttpApi (every keyword it takes, upper-cased)."""
    return tuple(o.setting for o in OPTIONS.values() if o.target == "api")


_OWN_DEFAULTS: Final = ServerOptions(
    {
        # Links live in the project's own database (the ``default`` alias).
        "storage": "django://",
        # The app's own options, and the one checks read, at the spec's defaults.
        **{o.name: o.default for o in options_for(ADAPTER) if o.target == "adapter"},
        "allow_anonymous": OPTIONS["allow_anonymous"].default,
    }
)
#: What an unset key means where the app says more than the constructors' defaults.
DEFAULTS: Final[Mapping[str, Any]] = _OWN_DEFAULTS.as_keys(KeyStyle.SETTING)


def suolink_options() -> ServerOptions:
    """The effective options: the host's ``SUOLINK`` dict, checked, over :data:`DEFAULTS`.

    A key suolink does not know is an ``InvalidSetting`` naming the closest valid key (a
    typo would otherwise be silently ignored); a bad value one naming the key.
    """
    given = getattr(settings, SETTINGS_NAME, None) or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"settings.{SETTINGS_NAME} must be a dict")
    return resolve_options(
        given, source=f"settings.{SETTINGS_NAME}", style=KeyStyle.SETTING, adapter=ADAPTER
    ).over(_OWN_DEFAULTS)


def suolink_settings() -> dict[str, Any]:
    """The effective settings by upper-case key (:func:`suolink_options`, as Django spells it)."""
    return suolink_options().as_keys(KeyStyle.SETTING)
