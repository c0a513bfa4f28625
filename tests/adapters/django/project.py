"""Sets up the test project and opens fresh ``django://`` stores for the backend table.

Each fresh store is a new database alias: a SQLite file copied from a template the
app's migrations built once per process, or, with ``SUOLINK_TEST_POSTGRES_URL``, a new
schema on that server migrated the same way. Aliases are also written to a JSON file
named by ``SUOLINK_TEST_DJANGO_DATABASES_FILE`` so processes spawned later find them in
settings (a file, not the variable itself: thousands of aliases outgrow what an
environment may hold, and every subprocess then fails with E2BIG).
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.backends.pg_recycle import SchemaPool

SETTINGS_MODULE = "tests.adapters.django.settings"
ROOT = str(Path(__file__).resolve().parents[3])
_lock = threading.Lock()
_counter = itertools.count()
_template: Path | None = None


def setup() -> None:
    """Configure Django from the test project's settings and set it up, once per process.

    ``DJANGO_SETTINGS_MODULE`` is not exported here: xdist workers would inherit it and
    make pytest-django import the settings before the repository root is importable.
    :func:`export` does that for the processes tests start themselves.
    """
    import django
    from django.apps import apps
    from django.conf import settings

    if not settings.configured:
        module = importlib.import_module(SETTINGS_MODULE)
        settings.configure(
            **{name: getattr(module, name) for name in dir(module) if name.isupper()}
        )
    if not apps.ready:
        django.setup()


def export() -> None:
    """Let processes started from now on (multiprocessing spawn) load the same settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if ROOT not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([ROOT, *paths])


ALIASES_FILE = "SUOLINK_TEST_DJANGO_DATABASES_FILE"


def known_aliases() -> dict[str, Any]:
    """The aliases this process (or the one that spawned it) has added, by name."""
    path = os.environ.get(ALIASES_FILE)
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}


def add_alias(alias: str, config: dict[str, Any]) -> None:
    """Make ``alias`` a database of this process and of the processes it spawns later."""
    from django.conf import settings
    from django.db import connections

    known = known_aliases()
    known[alias] = json.loads(json.dumps(config))
    # One file per process: a spawned child adding aliases never rewrites its parent's.
    mine = Path(tempfile.gettempdir()) / f"suolink-django-aliases-{os.getpid()}.json"
    partial = mine.with_suffix(".tmp")
    partial.write_text(json.dumps(known), encoding="utf-8")
    partial.replace(mine)
    os.environ[ALIASES_FILE] = str(mine)
    connections.configure_settings({"default": settings.DATABASES["default"], alias: config})
    settings.DATABASES[alias] = config
    connections.settings[alias] = config


def migrate(alias: str) -> None:
    """Apply the suolink app's migrations (only those) to ``alias``."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    executor.migrate(executor.loader.graph.leaf_nodes("suolink"))
    connections[alias].close()


def template_file() -> Path:
    global _template
    from .settings import BASE, sqlite_database

    with _lock:
        if _template is None:
            path = BASE / f"template-{os.getpid()}.sqlite3"
            alias = f"template_{os.getpid()}"
            add_alias(alias, sqlite_database(path))
            migrate(alias)
            _template = path
        return _template


def store_url(folder: Path) -> str:
    """The URL of a fresh, empty ``django://`` store on SQLite, its file in ``folder``."""
    setup()
    export()
    from .settings import sqlite_database

    path = folder / "django.sqlite3"
    shutil.copyfile(template_file(), path)
    alias = f"store_{os.getpid()}_{next(_counter)}"
    add_alias(alias, sqlite_database(path))
    return f"django://{alias}"


def postgres_store_url(*, recycled: bool = False) -> str:
    """The URL of a fresh, empty ``django://`` store in a new schema on PostgreSQL, or
    with ``recycled`` one a finished test gave back (see :mod:`tests.backends.pg_recycle`).

    Skips the test when no server can be had (see :mod:`tests.adapters.django.postgres`).
    """
    from .postgres import server_url as find_server

    server_url = find_server()
    setup()
    export()
    from django.db import connections

    from .settings import postgres_database

    schema = _pool.take() if recycled else None
    if schema is None:
        schema = _new_postgres_schema(server_url)
    alias = f"pg_{schema}"
    if alias not in connections.settings:
        add_alias(alias, postgres_database(server_url, schema))
    return f"django://{alias}"


def _new_postgres_schema(server_url: str) -> str:
    """A new schema with the app's tables, its name."""
    from django.db import connections

    from .settings import postgres_database

    schema = f"suolink_{os.getpid()}_{next(_counter)}"
    admin_alias = f"pg_admin_{os.getpid()}"
    if admin_alias not in connections.settings:
        add_alias(admin_alias, postgres_database(server_url))
    with connections[admin_alias].cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    alias = f"pg_{schema}"
    add_alias(alias, postgres_database(server_url, schema))
    create_tables(alias)
    return schema


def _postgres_template() -> str:
    from .postgres import server_url as find_server

    return _new_postgres_schema(find_server())


_pool = SchemaPool(_postgres_template, lambda: f"suolink_{os.getpid()}_{next(_counter)}")


def recycle_postgres_store(url: str) -> None:
    """Give the schema of a closed Django-on-PostgreSQL store back for the next test."""
    from django.db import connections

    from .postgres import server_url as find_server

    alias = url.removeprefix("django://")
    connections[alias].close()
    _pool.give(find_server(), alias.removeprefix("pg_"))


def create_tables(alias: str) -> None:
    """The app's tables on ``alias``, straight from the models (what the migrations make,
    as ``test_migrations_are_complete`` proves), without loading every app's migrations."""
    from django.apps import apps
    from django.db import connections

    with connections[alias].schema_editor() as editor:
        for model in apps.get_app_config("suolink").get_models():
            editor.create_model(model)
    connections[alias].close()
