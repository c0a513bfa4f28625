"""Lazy imports of the ``qr`` extra, so ``import suolink.qr`` works without it installed.

Each helper imports its module on first use and turns an ``ImportError`` into
:class:`~suolink.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError

__all__ = ["optional", "require"]

_FEATURE = "QR codes"
_EXTRA = "qr"


def require(module: str) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError naming the ``qr`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(_FEATURE, _EXTRA, module=module.split(".")[0]) from exc


def optional(module: str) -> ModuleType | None:
    """Import ``module`` if it (and any system library it loads) is usable, else ``None``."""
    try:
        return importlib.import_module(module)
    except (ImportError, OSError):
        # pyzbar raises ImportError when libzbar is missing, ctypes may raise OSError.
        return None
