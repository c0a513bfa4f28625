"""The Django test project for this folder: settings module ``tests.adapters.django.settings``.

Django is set up here, when this folder is collected, not for the whole suite: other
tests neither import Django nor pay for it. Tests that use pytest-django's ``db``
fixtures get the test database of the ``default`` alias; stores on other aliases
(``tests.adapters.django.project.store_url``) are their own files and need no unblocking.
"""

from __future__ import annotations

import pytest

from tests.adapters.django.project import setup, template_file

setup()
template_file()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Undo pytest-django's global database block when this folder is collected first.

    The block only exists then (Django set up before ``pytest_configure``); it would
    refuse the per-test stores of the backend table, which are not Django test databases.
    """
    try:
        from pytest_django.plugin import blocking_manager_key
    except ImportError:  # pragma: no cover - pytest-django not installed
        return
    blocker = session.config.stash.get(blocking_manager_key, None)
    if blocker is not None and blocker.is_active:
        blocker.unblock()
