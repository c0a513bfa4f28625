"""Every module of ``src/suolink`` imports on its own, in a fresh interpreter: no cycles.

An import cycle shows only when the cycle's modules are imported in one particular
order (``render.pages`` before ``http``, say), which a test suite that imports
everything up front never does; importing each module first and alone does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import suolink

SRC = Path(suolink.__file__).parent
#: The Django adapter's models need Django's app registry before they can be imported.
DJANGO_SETUP = (
    "import django\n"
    "from django.conf import settings\n"
    "settings.configure(INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes',"
    " 'django.contrib.admin', 'django.contrib.sessions', 'django.contrib.messages',"
    " 'suolink.adapters.django'])\n"
    "django.setup()\n"
)

#: Module prefix -> the third-party packages its extra installs. A module may be skipped
#: for lacking one of these only; any other missing import (the ``redis`` package from the
#: Flask adapter, say) is a failure, since that extra does not install it.
OPTIONAL = {
    "suolink.adapters.flask": {"flask", "werkzeug", "limits"},
    "suolink.adapters.django": {"django", "asgiref", "limits"},
    "suolink.adapters.asgi": {"starlette", "anyio", "multipart", "python_multipart", "limits"},
    "suolink.backends.redis": {"redis"},
}
_MISSING = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


def _modules() -> list[str]:
    names = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__main__":  # runs the CLI when imported
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return sorted(names)


MODULES = _modules()


def test_every_module_is_listed() -> None:
    assert {"suolink", "suolink.api", "suolink.http", "suolink.http.routes"} <= set(MODULES)
    assert len(MODULES) > 50


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first_and_alone(module: str) -> None:
    prelude = DJANGO_SETUP if module.startswith("suolink.adapters.django.") else ""
    code = f"{prelude}import importlib\nimportlib.import_module({module!r})\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC.parent), *sys.path])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    missing = _MISSING.search(done.stderr)
    if done.returncode and missing:
        top = missing.group(1).split(".")[0]
        if any(module.startswith(p) and top in deps for p, deps in OPTIONAL.items()):
            pytest.skip(f"{module} needs the optional {top!r}, not installed here")
    assert done.returncode == 0, done.stderr[-2000:]
