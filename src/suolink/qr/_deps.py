"""Lazy imports of the ``qr`` extra, so ``import suolink.qr`` works without it installed.

Each helper imports its module on first use and turns an ``ImportError`` into
:class:`~suolink.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Final

from ..errors import MissingDependencyError

__all__ = ["can_draw", "missing_modules", "optional", "require"]

_FEATURE = "QR code support"  # "… needs the optional dependency": one subject
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


#: What the ``qr`` extra brings: drawing needs all of the first two, reading one of the last.
_DRAW: Final = ("qrcode", "PIL")
_READ: Final = ("zxingcpp", "pyzbar")


def _importable(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None  # None: import blocked (as if not installed)
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_modules() -> tuple[str, ...]:
    """The modules of the ``qr`` extra that are not installed, without importing any."""
    missing = [name for name in _DRAW if not _importable(name)]
    if not any(_importable(name) for name in _READ):
        missing.append(_READ[0])
    return tuple(missing)


def can_draw() -> bool:
    """True if the modules drawing needs can be imported: imported on the first call (a
    search of the path each time would cost more than a page), a dict lookup after."""
    return all(optional(name) is not None for name in _DRAW)
