"""HTML pages shown to visitors (password, not found, expired, …), escaped by Jinja2.

Templates live beside this module and are rendered with autoescaping on, so nothing a
link owner or visitor typed can become markup. A host application may override any of
them from folders of its own (``Shortener(templates_dir=...)``): those folders are
searched first, and the built-in templates stay reachable as ``suolink/<name>.html`` so
an override can extend the original and replace only its blocks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final

import jinja2

from ..errors import ConfigurationError
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, MESSAGES, language_hint, pick_language

__all__ = [
    "BUILTIN_PREFIX",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGES",
    "language_hint",
    "pick_language",
    "render_page",
    "template_dirs",
]

#: The name under which the built-in templates stay reachable from a host's overrides:
#: ``{% extends "suolink/guide.html" %}``.
BUILTIN_PREFIX: Final = "suolink"


def template_dirs(
    given: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None,
) -> tuple[str, ...]:
    """The host's template folders, checked: each must be an existing directory."""
    if given is None:
        return ()
    if isinstance(given, str | os.PathLike):
        items: list[object] = [given]
    elif isinstance(given, Iterable):
        items = list(given)
    else:
        raise ConfigurationError("templates_dir must be a folder path (or a list of them)")
    dirs: list[str] = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigurationError("templates_dir must be a folder path (or a list of them)")
        path = os.path.abspath(os.fspath(item))
        if not os.path.isdir(path):
            raise ConfigurationError(f"templates_dir: {path!r} is not a folder")
        dirs.append(path)
    return tuple(dirs)


@lru_cache(maxsize=16)
def _environment(dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """One environment per set of host folders: theirs first, then the built-in ones."""
    builtin = jinja2.PackageLoader("suolink.render", "templates")
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(dirs))] if dirs else []
    loaders += [jinja2.PrefixLoader({BUILTIN_PREFIX: builtin}), builtin]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    template: str, *, lang: str, template_dirs: tuple[str, ...] = (), **context: Any
) -> str:
    """Render ``<template>.html`` in ``lang`` with ``context`` (all escaped).

    ``template_dirs`` are the host's folders, searched before the built-in templates.
    """
    if lang not in MESSAGES:
        lang = DEFAULT_LANGUAGE
    words = MESSAGES[lang]
    return (
        _environment(template_dirs)
        .get_template(f"{template}.html")
        .render(lang=lang, t=words.__getitem__, **context)
    )
