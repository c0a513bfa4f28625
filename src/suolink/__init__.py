"""suolink: short links that still open inside WeChat, QQ and other in-app browsers."""

from ._version import __version__
from .backends import open_storage
from .backends.base import Storage
from .codes import CodeFactory, CodeStrategy, HashidsCodec
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .models import *  # noqa: F403
from .models import __all__ as _model_names
from .shortener import Shortener
from .stats import LinkStats
from .urls import URLRules, validate_url

__all__ = [
    "CodeFactory",
    "CodeStrategy",
    "HashidsCodec",
    "LinkStats",
    "Shortener",
    "Storage",
    "URLRules",
    "__version__",
    "open_storage",
    "validate_url",
    *_error_names,
    *_model_names,
]
