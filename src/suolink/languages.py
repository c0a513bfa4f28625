"""The languages suolink's pages speak: a fact low enough for settings and pages to share.

``suolink.options`` checks a link's ``language`` against it and ``suolink.render`` picks
words by it, so it lives below both.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES"]

#: Every language a page can be shown in (a link's ``language`` is one of these).
LANGUAGES: Final = ("zh-CN", "en")
#: The language of a page when neither the link nor the visitor names a supported one.
DEFAULT_LANGUAGE: Final = "en"
