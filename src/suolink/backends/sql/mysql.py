"""``mysql://`` and ``mariadb://``: the SQL store on MySQL or MariaDB, through PyMySQL.

MySQL has no ``UPDATE … RETURNING`` and no writing ``WITH`` queries, so a visit is one
transaction of a few statements: the counting ``UPDATE`` sets ``LAST_INSERT_ID(visits +
1)``, whose value comes back in the same reply (no second query); the counts are one
multi-row ``INSERT … ON DUPLICATE KEY UPDATE``; a person's first visit is told by the
affected-row count of theirs. Tables are InnoDB, ``utf8mb4``; keys compare bytes.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import mysql

from ...errors import InvalidCode
from ...models import Link, Visit
from ..relational import ALL_TIME, PEOPLE, count_cells, visit_row
from . import EMPTY_KEY, SQLStorage
from . import schema as s

__all__ = ["MySQLStorage"]


class MySQLStorage(SQLStorage):
    """A ``Storage`` on MySQL or MariaDB: ``MySQLStorage("mysql://user:pw@host/suolink")``."""

    family = "mysql"
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
        """Insert the raw visit and add it to the counts, in the caller's transaction.

        The statements are built once and take their rows as parameters: the counts go
        as one ``executemany``, which PyMySQL sends as one multi-row ``INSERT`` (a
        statement built with the rows in it would be compiled again on every visit).
        """
        tx.execute(_INSERT_VISIT, visit_row(visit, self._user_agent_id(tx, visit.user_agent)))
        cells, who = count_cells(visit)
        rows = [
            {"code": code, "dimension": dim, "day": day, "value_key": s.key_hash(value),
             "value": value, "n": 1}
            for code, dim, day, value in cells
        ]  # fmt: skip
        tx.execute(_ADD_CELLS, rows)
        if who is not None:
            person = {"code": visit.code, "visitor_key": s.key_hash(who), "visitor": who, "n": 1}
            if tx.execute(_ADD_PERSON, person).rowcount == 1:  # inserted (2: an existing row)
                people = {"code": visit.code, "dimension": PEOPLE, "day": ALL_TIME,
                          "value_key": EMPTY_KEY, "value": "", "n": 1}  # fmt: skip
                tx.execute(_ADD_CELLS, people)
        self._count_people(tx, visit)


_INSERT_VISIT = s.visits.insert()
_cells = mysql.insert(s.visit_counts)
#: Adds ``n`` to a count cell, inserting it if new (``n + VALUES(n)``: no extra parameter).
_ADD_CELLS = _cells.on_duplicate_key_update(n=s.visit_counts.c.n + _cells.inserted.n)
_person = mysql.insert(s.visitor_counts)
_ADD_PERSON = _person.on_duplicate_key_update(n=s.visitor_counts.c.n + _person.inserted.n)
