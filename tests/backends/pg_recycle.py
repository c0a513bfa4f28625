"""Emptied PostgreSQL schemas, handed to the next test instead of newly migrated ones.

A fresh ``postgresql://`` or Django-on-PostgreSQL store is a new schema made by every
migration: about 70 DDL statements, 0.2-0.5 s on the test machine, paid by each of the
hundreds of tests on those rows (and by each of a state machine's examples). A store's
schema, once the test that made it has closed it, is instead made like a pristine
*template* schema of the same kind: every row deleted, the template's rows (the schema
version, the counters) copied in, the sequences set where the template's are (triggers
off, so deleting is not itself recorded), in one round trip of about 10 ms.

It is then renamed: a store the test left open (a leak) still names the old schema and
fails loudly instead of writing into the next test's store. A schema whose tables,
columns, indexes or triggers differ from the template's (a test that altered it, or a
lock still held) is left alone, never recycled.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

_NAME = re.compile(r"^[a-z0-9_]+$")

#: One text per schema that says what its tables, columns, indexes, sequences and
#: triggers are (from the catalog: information_schema's views take ten times longer).
_FINGERPRINT = """
SELECT
  (SELECT string_agg(c.relkind::text || c.relname || '.' || a.attname || ':'
                     || format_type(a.atttypid, a.atttypmod),
                     ',' ORDER BY c.relname, a.attnum)
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(c.relname || '.' || t.tgname, ',' ORDER BY c.relname, t.tgname)
   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND NOT t.tgisinternal)
"""
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename"
_SEQUENCES = "SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = %s"


def _q(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a generated schema name: {name!r}")
    return f'"{name}"'


class NamePool:
    """Closed stores' schemas (or databases) of one kind, to hand out again: ``give``
    has a subclass empty one like its template and rename it before it is free."""

    #: What the subclass's ``_recycle`` needs of the template (made once, by ``_describe``).
    _template: Any = None

    def __init__(self, make_template: Callable[[], str], unique: Callable[[], str]) -> None:
        self._make_template = make_template  # creates and migrates one; its name
        self._unique = unique
        self._free: list[str] = []
        self._lock = threading.Lock()
        self._conn: Any = None

    def take(self) -> str | None:
        """An emptied one's name, or None (make a new one)."""
        with self._lock:
            return self._free.pop() if self._free else None

    def give(self, server_url: str, name: str) -> None:
        """Recycle ``name``, whose stores are all closed; leave it be if it cannot be (a
        driver error also drops the pool's connection: the next ``give`` opens another)."""
        new = self._unique()
        with self._lock:
            try:
                if self._conn is None or not self._is_open(self._conn):
                    self._conn = self._connect(server_url)
                if self._template is None:
                    self._template = self._describe(self._make_template())
                if not self._recycle(name, new):
                    return
            except self._driver_errors():
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return
            self._free.append(new)

    # -- what a subclass provides ---------------------------------------------------------

    def _connect(self, server_url: str) -> Any:
        raise NotImplementedError

    def _is_open(self, conn: Any) -> bool:
        raise NotImplementedError

    def _driver_errors(self) -> type[Exception]:
        raise NotImplementedError

    def _describe(self, template: str) -> Any:
        raise NotImplementedError

    def _recycle(self, old: str, new: str) -> bool:
        """Empty ``old`` like the template and rename it ``new``; False if it may not be."""
        raise NotImplementedError


class SchemaPool(NamePool):
    """Closed stores' PostgreSQL schemas of one kind, emptied and renamed."""

    _template: tuple[str, object, str] | None = None  # name, fingerprint, SQL

    def _connect(self, server_url: str) -> Any:
        import psycopg

        conninfo = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
        return psycopg.connect(conninfo, autocommit=True)

    def _is_open(self, conn: Any) -> bool:
        return not conn.closed

    def _driver_errors(self) -> type[Exception]:
        import psycopg

        return psycopg.Error

    def _recycle(self, old: str, new: str) -> bool:
        _, expected, empty_sql = self._template
        found = self._conn.execute(_FINGERPRINT, {"schema": old}).fetchone()
        if found != expected:
            return False
        sql = empty_sql.replace("{schema}", _q(old)) + (
            f"ALTER SCHEMA {_q(old)} RENAME TO {_q(new)};\nCOMMIT;"
        )
        self._conn.execute(sql.encode())
        return True

    def _describe(self, template: str) -> tuple[str, object, str]:
        """The template's fingerprint, and the SQL that makes a schema as it is: every
        table emptied, the template's rows copied in, its sequences' places taken."""
        conn = self._conn
        fingerprint = conn.execute(_FINGERPRINT, {"schema": template}).fetchone()
        tables = [row[0] for row in conn.execute(_TABLES, (template,))]
        lines = [
            "BEGIN;",
            "SET LOCAL lock_timeout = '2s';",
            "SET LOCAL session_replication_role = replica;",  # no triggers, no FK checks
        ]
        lines += [f'DELETE FROM {{schema}}."{table}";' for table in tables]
        for table in tables:
            if conn.execute(f'SELECT 1 FROM {_q(template)}."{table}" LIMIT 1').fetchone():
                lines.append(
                    f'INSERT INTO {{schema}}."{table}" OVERRIDING SYSTEM VALUE '
                    f'SELECT * FROM {_q(template)}."{table}";'
                )
        for name, start, last in conn.execute(_SEQUENCES, (template,)):
            value, called = (start, "false") if last is None else (last, "true")
            lines.append(f"SELECT setval('{{schema}}.\"{name}\"', {value}, {called});")
        return template, fingerprint, "\n".join(lines) + "\n"
