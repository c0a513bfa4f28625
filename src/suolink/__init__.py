"""suolink: short links that still open inside WeChat, QQ and other in-app browsers."""

from ._version import __version__
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names
from .models import *  # noqa: F403
from .models import __all__ as _model_names

__all__ = ["__version__", *_error_names, *_model_names]
