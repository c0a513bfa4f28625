"""Emptied MariaDB databases, handed to the next test instead of newly migrated ones.

The MariaDB twin of :mod:`tests.backends.pg_recycle`. A fresh ``mysql://`` store of the
backends table was a new database made by every migration (about 40 DDL statements,
0.15-0.3 s), paid by each of the 200-odd tests on the ``mariadb`` row and by each of a
state machine's examples. A store's database, once the test that made it has closed it,
is instead made like a pristine *template* database: every row deleted, the template's
rows (the schema version, the counters) copied in, each table's next auto-increment
value set to the template's.

Its tables are then moved to a database of a new name and the old one dropped: a store
the test left open (a leak) still names the old database and fails loudly instead of
writing into the next test's store. A database whose tables, columns or indexes differ
from the template's (a test that altered it), or that a connection still uses, is left
alone, never recycled.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.backends.pg_recycle import _NAME, NamePool

#: What a database's tables, columns and indexes are, as one text each.
_COLUMNS = """
SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,
                              IFNULL(COLUMN_DEFAULT, '-'), EXTRA, COLLATION_NAME)
                    ORDER BY TABLE_NAME, ORDINAL_POSITION SEPARATOR ',')
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s
"""
_INDEXES = """
SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX,
                              COLUMN_NAME, IFNULL(SUB_PART, '-'))
                    ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX SEPARATOR ',')
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s
"""
_TABLES = """
SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME
"""
_OTHERS = """
SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s)
     + (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s)
     + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s)
"""
_IN_USE = (
    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()"
)


def _q(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a generated name: {name!r}")
    return f"`{name}`"


class DatabasePool(NamePool):
    """Closed stores' MariaDB databases, emptied and renamed, to hand out again."""

    #: name, fingerprint, tables, and per table (has rows, next auto-increment)
    _template: tuple[str, object, list[tuple[str, bool, int | None]]] | None = None

    def _connect(self, server_url: str) -> Any:
        return connect(server_url)

    def _is_open(self, conn: Any) -> bool:
        return bool(conn.open)

    def _driver_errors(self) -> type[Exception]:
        import pymysql

        return pymysql.MySQLError

    def _recycle(self, old: str, new: str) -> bool:
        template, expected, tables = self._template
        if self._fingerprint(old) != expected or self._query(_IN_USE, old):
            return False
        statements = [f"DELETE FROM {_q(old)}.`{table}`" for table, _, _ in tables]
        for table, has_rows, next_id in tables:
            if has_rows:
                statements.append(
                    f"INSERT INTO {_q(old)}.`{table}` SELECT * FROM {_q(template)}.`{table}`"
                )
            if next_id is not None:
                statements.append(
                    f"ALTER TABLE {_q(old)}.`{table}` AUTO_INCREMENT = {int(next_id)}"
                )
        statements += [
            f"CREATE DATABASE {_q(new)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            "RENAME TABLE "
            + ", ".join(f"{_q(old)}.`{table}` TO {_q(new)}.`{table}`" for table, _, _ in tables),
            f"DROP DATABASE {_q(old)}",
        ]
        with self._conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        return True

    def _query(self, sql: str, *args: object) -> Any:
        with self._conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchone()[0]

    def _fingerprint(self, database: str) -> object:
        others = self._query(_OTHERS, database, database, database)
        return (self._query(_COLUMNS, database), self._query(_INDEXES, database), others)

    def _describe(self, template: str) -> tuple[str, object, list[tuple[str, bool, int | None]]]:
        """The template's fingerprint, its tables, which have rows, and their next ids."""
        with self._conn.cursor() as cursor:
            cursor.execute(_TABLES, (template,))
            found = list(cursor.fetchall())
            tables = []
            for table, next_id in found:
                cursor.execute(f"SELECT 1 FROM {_q(template)}.`{table}` LIMIT 1")
                tables.append((str(table), cursor.fetchone() is not None, next_id))
        return template, self._fingerprint(template), tables


def connect(server_url: str, *, autocommit: bool = True) -> Any:
    """A PyMySQL connection to the server of ``server_url`` (its database left out)."""
    import pymysql

    parts = urlsplit(server_url)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        ssl_disabled=True,
        autocommit=autocommit,
    )
    with conn.cursor() as cursor:
        cursor.execute("SET SESSION group_concat_max_len = 1048576")
    return conn
