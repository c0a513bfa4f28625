"""``mysql://`` and ``mariadb://``: the SQL store on MySQL or MariaDB, through PyMySQL.

MySQL has no ``UPDATE … RETURNING`` and no writing ``WITH`` queries, so a visit is one
transaction of a few statements: the counting ``UPDATE`` sets ``LAST_INSERT_ID(visits +
1)``, whose value comes back in the same reply (no second query); the raw visit; its row
in ``count_queue``, whose counts a later fold adds with many others' (as on PostgreSQL,
see :mod:`suolink.backends.sql`). Tables are InnoDB, ``utf8mb4``; keys compare bytes.
"""

from __future__ import annotations

from sqlalchemy import Connection

from ...errors import InvalidCode
from ...models import Link, Visit
from ..relational import visit_row
from . import SQLStorage
from . import schema as s

__all__ = ["MySQLStorage"]


class MySQLStorage(SQLStorage):
    """A ``Storage`` on MySQL or MariaDB: ``MySQLStorage("mysql://user:pw@host/suolink")``."""

    family = "mysql"
    _queued_counts = True
    _claim_lock = " FOR UPDATE SKIP LOCKED"  # MariaDB 10.6+ and MySQL 8: pass over held heads

    def create(self, link: Link) -> Link:
        """Insert ``link`` if its code is free; codes longer than the column are refused."""
        code = link.code if isinstance(link, Link) else None
        if isinstance(code, str):
            self._check_code(code)
        return super().create(link)

    def _check_code(self, code: str) -> None:
        if len(code) > s.MAX_CODE_CHARS:
            raise InvalidCode(code, f"must be at most {s.MAX_CODE_CHARS} characters here")

    def _insert_visit(self, tx: Connection, visit: Visit) -> None:
        """Insert the raw visit and queue its counts, in the caller's transaction."""
        row = visit_row(visit, self._user_agent_id(tx, visit.user_agent))
        visit_id = tx.execute(_INSERT_VISIT, row).lastrowid
        tx.execute(_QUEUE, {"code": visit.code, "visit_id": visit_id})
        self._count_people(tx, visit)


_INSERT_VISIT = s.visits.insert()
_QUEUE = s.count_queue.insert()
