"""HTML pages shown to visitors (password, not found, expired, …), escaped by Jinja2.

Templates live beside this module and are rendered with autoescaping on, so nothing a
link owner or visitor typed can become markup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from .i18n import DEFAULT_LANGUAGE, LANGUAGES, MESSAGES, language_hint, pick_language

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "language_hint",
    "pick_language",
    "render_page",
]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("suolink.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, *, lang: str, **context: Any) -> str:
    """Render ``templates/<template>.html`` in ``lang`` with ``context`` (all escaped)."""
    if lang not in MESSAGES:
        lang = DEFAULT_LANGUAGE
    words = MESSAGES[lang]
    return (
        _environment()
        .get_template(f"{template}.html")
        .render(lang=lang, t=words.__getitem__, **context)
    )
