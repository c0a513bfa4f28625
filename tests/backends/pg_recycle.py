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

_NAME = re.compile(r"^[a-z0-9_]+$")

#: One text per schema that says what its tables are, the schema's own name left out.
_FINGERPRINT = """
SELECT
  (SELECT string_agg(
      table_name || '.' || column_name || ':' || data_type || ':'
        || replace(coalesce(column_default, ''), %(schema)s, ''),
      ',' ORDER BY table_name, ordinal_position)
   FROM information_schema.columns WHERE table_schema = %(schema)s),
  (SELECT string_agg(replace(indexdef, %(schema)s, ''), ',' ORDER BY indexname)
   FROM pg_indexes WHERE schemaname = %(schema)s),
  (SELECT string_agg(c.relname || '.' || t.tgname, ',' ORDER BY c.relname, t.tgname)
   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND NOT t.tgisinternal)
"""

_EMPTY_AS = """
DO $$
DECLARE
  t record;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  PERFORM set_config('session_replication_role', 'replica', true);
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' LOOP
    EXECUTE format('DELETE FROM %I.%I', '{schema}', t.tablename);
    EXECUTE format('INSERT INTO %I.%I OVERRIDING SYSTEM VALUE SELECT * FROM %I.%I',
                   '{schema}', t.tablename, '{template}', t.tablename);
  END LOOP;
  FOR t IN SELECT sequencename, start_value, last_value FROM pg_sequences
           WHERE schemaname = '{template}' LOOP
    PERFORM setval(format('%I.%I', '{schema}', t.sequencename),
                   coalesce(t.last_value, t.start_value), t.last_value IS NOT NULL);
  END LOOP;
  EXECUTE format('ALTER SCHEMA %I RENAME TO %I', '{schema}', '{new}');
END $$
"""


def _conninfo(server_url: str) -> str:
    return server_url.replace("postgresql+psycopg://", "postgresql://", 1)


def empty_as(server_url: str, schema: str, template: str, new: str) -> bool:
    """Make ``schema`` as ``template`` and rename it ``new``; False (nothing changed) if
    the two are not built alike or the schema is still in use."""
    import psycopg

    for name in (schema, template, new):
        if not _NAME.match(name):
            raise ValueError(f"not a generated schema name: {name!r}")
    try:
        with psycopg.connect(_conninfo(server_url), autocommit=True) as conn:
            prints = [
                conn.execute(_FINGERPRINT, {"schema": name}).fetchone()
                for name in (schema, template)
            ]
            if prints[0] != prints[1] or prints[0] is None or prints[0][0] is None:
                return False
            conn.execute(_EMPTY_AS.format(schema=schema, template=template, new=new).encode())
    except psycopg.Error:
        return False
    return True


class SchemaPool:
    """Closed stores' schemas of one kind, emptied and renamed, to hand out again."""

    def __init__(self, make_template: Callable[[], str], unique: Callable[[], str]) -> None:
        self._make_template = make_template
        self._unique = unique
        self._template: str | None = None
        self._free: list[str] = []
        self._lock = threading.Lock()

    def take(self) -> str | None:
        """An emptied schema's name, or None (make a new one)."""
        with self._lock:
            return self._free.pop() if self._free else None

    def give(self, server_url: str, schema: str) -> None:
        """Recycle ``schema``, whose stores are all closed; leave it be if it cannot be."""
        with self._lock:
            if self._template is None:
                self._template = self._make_template()
            template = self._template
        new = self._unique()
        if empty_as(server_url, schema, template, new):
            with self._lock:
                self._free.append(new)
