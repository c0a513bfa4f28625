"""Django adapter: add ``"suolink.adapters.django"`` to ``INSTALLED_APPS``, include its urls.

Settings come from one ``SUOLINK`` dict (see :mod:`suolink.adapters.django.conf`);
:func:`get_shortener` gives the configured :class:`~suolink.shortener.Shortener` to the
host's own code. Links live in the project's database by default (``django://``).
"""

from __future__ import annotations

from ...errors import MissingDependencyError

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Django adapter", "django", module="django") from exc

from .state import get_shortener

__all__ = ["get_shortener"]
