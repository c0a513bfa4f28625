"""``postgresql://``: the SQL store on PostgreSQL through psycopg 3, a redirect in one trip.

A visit, its counts and its person are written by **one statement**: writing ``WITH``
queries behind a *gate* that counts the visit (``UPDATE links SET visits = visits + 1
WHERE … AND (max_visits IS NULL OR visits < max_visits) RETURNING visits``) or, for
uncounted visits, locks the link's row. Everything after the gate reads from it, so
nothing is written when it lets nothing through. One statement is atomic by itself, so
it runs without a transaction around it: one round trip.

``get_and_record`` (``RecordsInOneTrip``) adds to the gate the link settings that could
refuse a visitor, and returns the link's row in the same reply. That condition is the
second copy of the policy's "could refuse" rules, as the Redis link hash's ``o`` flag
is; ``tests/backends/test_one_trip_policy.py`` ties both to :func:`suolink.policy.decide`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, TextClause, text

from ...errors import LinkNotFound
from ...fields import FIELD_BY_NAME
from ...models import AntiBlockMode, Link, Visit, VisitResult
from .._common import code_ok, normalise_visit
from ..relational import ALL_TIME, PEOPLE, PLAIN_VISIT_FIELDS, count_cells, visit_row
from . import EMPTY_KEY, SQLStorage
from . import schema as s

__all__ = ["PostgreSQLStorage"]

_VISIT_COLUMNS = (
    "code",
    "at",
    "at_us",
    "ua_id",
    *(c for c in PLAIN_VISIT_FIELDS if c != "user_agent"),
)
_CASTS = {"at_us": "bigint", "ua_id": "bigint", "is_bot": "integer"}

_RECORD = """
WITH gate AS ({gate}),
visit AS (
    INSERT INTO visits ({columns})
    SELECT {values} FROM gate
),
cells AS (
    INSERT INTO visit_counts (code, dimension, day, value_key, value, n)
    SELECT CAST(:code AS text), c->>0, c->>1, decode(c->>2, 'hex'), c->>3, 1
    FROM gate, json_array_elements(CAST(:cells AS json)) AS c
    ON CONFLICT (code, dimension, day, value_key) DO UPDATE SET n = visit_counts.n + 1
),
person AS (
    INSERT INTO visitor_counts (code, visitor_key, visitor, n)
    SELECT CAST(:code AS text), CAST(:who_key AS bytea), CAST(:who AS text), 1
    FROM gate WHERE CAST(:who AS text) IS NOT NULL
    ON CONFLICT (code, visitor_key) DO UPDATE SET n = visitor_counts.n + 1
    RETURNING n
),
people AS (
    INSERT INTO visit_counts (code, dimension, day, value_key, value, n)
    SELECT CAST(:code AS text), :people, :all_time, CAST(:empty_key AS bytea), '', 1
    FROM person WHERE n = 1
    ON CONFLICT (code, dimension, day, value_key) DO UPDATE SET n = visit_counts.n + 1
)
{final}
"""

_CODE = "code = CAST(:code AS text)"
_UNDER_LIMIT = "(max_visits IS NULL OR visits < max_visits)"
#: No setting of the link could refuse a visitor the one trip is tried for (see
#: :func:`suolink.visits.takes_one_trip`): not disabled, no password, no allow list, an
#: empty deny list, no anti-block apps of its own unless anti-block is off, not expired
#: at the visit's time. The literals come from the fields' own codecs.
_OPEN = (
    "disabled = :not_disabled AND password_hash IS NULL AND allow IS NULL "
    "AND deny = :no_deny AND (anti_block IS NULL OR anti_block_mode = :mode_off) "
    "AND (expires_at IS NULL OR CAST(expires_at AS timestamptz) > CAST(:at_tz AS timestamptz))"
    # Settings kept in ``extra`` that the policy must judge (a split's arm, countries,
    # an abuse mark): the link is open only while each is unset or empty.
    + "".join(
        f" AND COALESCE(CAST(extra AS jsonb) -> '{name}', 'null') IN ('null', '[]', '{{}}')"
        for name in ("split", "deny_countries")
    )
    + "".join(
        f" AND COALESCE(CAST(extra AS jsonb) -> '{name}', 'null') = 'null'"
        for name in ("allow_countries", "warning", "abuse_status", "domain", "pool")
    )
)
_OPEN_PARAMS = {
    "not_disabled": FIELD_BY_NAME["disabled"].codec.to_sql(False),
    "no_deny": FIELD_BY_NAME["deny"].codec.to_sql(frozenset()),
    "mode_off": FIELD_BY_NAME["anti_block_mode"].codec.to_sql(AntiBlockMode.OFF),
}
# Constant SQL text (no value is ever formatted into a statement: they are bound).
_COUNT = f"UPDATE links SET visits = visits + 1 WHERE {_CODE} AND {{only}} RETURNING visits"  # noqa: S608
_LOCK = f"SELECT visits FROM links WHERE {_CODE} AND {{only}} FOR UPDATE"  # noqa: S608


def _statement(gate: str, final: str) -> TextClause:
    columns = ", ".join(_VISIT_COLUMNS)
    values = ", ".join(f"CAST(:v_{c} AS {_CASTS.get(c, 'text')})" for c in _VISIT_COLUMNS)
    return text(_RECORD.format(gate=gate, columns=columns, values=values, final=final))


class PostgreSQLStorage(SQLStorage):
    """A ``Storage`` on PostgreSQL: ``PostgreSQLStorage("postgresql://user:pw@host/suolink")``.

    Claims ``RecordsInOneTrip``: a redirect is one round trip.
    """

    family = "postgresql"
    _claim_lock = " FOR UPDATE SKIP LOCKED"  # concurrent workers pass over held heads

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # The link's row as one JSON text: three result columns, not twenty (reading
        # each column's description costs the client more than json.loads).
        one_trip_final = (
            "SELECT CAST(row_to_json(links) AS text), (SELECT visits FROM gate), "  # noqa: S608
            f"({_OPEN}) FROM links WHERE {_CODE}"
        )
        self._record = {
            True: _statement(_COUNT.format(only=_UNDER_LIMIT), "SELECT visits FROM gate"),
            False: _statement(_LOCK.format(only="TRUE"), "SELECT visits FROM gate"),
        }
        self._one_trip = {
            True: _statement(_COUNT.format(only=f"{_UNDER_LIMIT} AND {_OPEN}"), one_trip_final),
            False: _statement(_LOCK.format(only=_OPEN), one_trip_final),
        }
        #: Inside a transaction that already holds the link's row (the base's path).
        self._add_visit = _statement(
            f"SELECT visits FROM links WHERE {_CODE}",  # noqa: S608 - constant text
            "SELECT visits FROM gate",
        )

    def record_visit(self, visit: Visit, *, count: bool = True) -> VisitResult:
        """Count and record ``visit`` in one statement, unless ``max_visits`` is reached."""
        visit = normalise_visit(visit)
        return self._retrying(lambda: self._record_visit(visit, count))

    def _record_visit(self, visit: Visit, count: bool) -> VisitResult:
        self._drop_old_visits(visit.at)
        with self._read("record a visit") as conn:
            counted = conn.execute(self._record[count], self._params(conn, visit)).scalar()
            if counted is not None:
                return VisitResult(allowed=True, visits=int(counted))
            current = self._visit_count(conn, visit.code, lock=False)
        if current is None:
            raise LinkNotFound(visit.code)
        return VisitResult(allowed=False, visits=current)

    def get_and_record(
        self, visit: Visit, *, count: bool = True
    ) -> tuple[Link | None, VisitResult | None]:
        """A redirect in one round trip: read the link and record ``visit`` if it is open.

        The three answers are those of :class:`~suolink.backends.base.RecordsInOneTrip`.
        """
        visit = normalise_visit(visit)
        if not code_ok(visit.code):
            return None, None
        return self._retrying(lambda: self._get_and_record(visit, count))

    def _get_and_record(self, visit: Visit, count: bool) -> tuple[Link | None, VisitResult | None]:
        self._drop_old_visits(visit.at)
        with self._read("record a visit") as conn:
            params = self._params(conn, visit)
            params.update(_OPEN_PARAMS, at_tz=visit.at.isoformat())
            row = conn.execute(self._one_trip[count], params).first()
        if row is None:
            return None, None
        row_json, counted, is_open = row
        link = self._table.link(json.loads(row_json))
        if counted is not None:
            if not count:
                return link, VisitResult(allowed=True, visits=link.visits)
            return replace(link, visits=int(counted)), VisitResult(True, int(counted))
        limit = link.max_visits
        if count and is_open and limit is not None and link.visits >= limit:
            return link, VisitResult(allowed=False, visits=link.visits)  # open, at its limit
        return link, None  # a setting could refuse (or it changed meanwhile): ask the policy

    def _insert_visit(self, tx: Connection, visit: Visit) -> None:
        """Record the visit and its counts inside the caller's transaction."""
        tx.execute(self._add_visit, self._params(tx, visit, committed=False))

    def _params(self, conn: Connection, visit: Visit, *, committed: bool = True) -> dict[str, Any]:
        """The statement's parameters; ``committed``: ``conn`` commits each statement."""
        ua_id = self._user_agent_id(conn, visit.user_agent, committed=committed)
        row = visit_row(visit, ua_id)
        cells, who = count_cells(visit)
        params: dict[str, Any] = {f"v_{c}": row[c] for c in _VISIT_COLUMNS}
        params["v_is_bot"] = int(visit.is_bot)
        params.update(
            code=visit.code,
            # One JSON text, not four arrays: dumping arrays costs the client more.
            cells=json.dumps(
                [[dim, day, s.key_hash(value).hex(), value] for _, dim, day, value in cells],
                ensure_ascii=False,
            ),
            who=who,
            who_key=None if who is None else s.key_hash(who),
            people=PEOPLE,
            all_time=ALL_TIME,
            empty_key=EMPTY_KEY,
        )
        return params
