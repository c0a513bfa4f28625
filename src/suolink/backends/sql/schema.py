"""The tables of the PostgreSQL and MySQL/MariaDB backends, and their migrations.

The layout is SQLite's (schema version 7 there, visits with their GeoIP place and split
arm): ``links`` with a column per field of :data:`suolink.fields.COLUMN_FIELDS` plus
``extra``; ``link_tags``; ``tombstones``;
``counters``; ``visits`` holding a user agent by its id in ``user_agents``; the
write-time counts ``visit_counts`` and ``visitor_counts``; and (migration 2, SQLite's 11)
the webhook outbox ``webhook_endpoints``, ``webhook_outbox``, ``webhook_deliveries``.
Migration 4 (SQLite's 8) adds the people tables (``people_links`` and the rest, see
``docs/people.md``); migration 6 the ``count_queue`` of visits whose counts are folded
into ``visit_counts`` in batches (see ``docs/storage.md``); migration 7, on PostgreSQL,
``links.version`` (moved by every change of a link, so processes may hold links).
Two differences, both for the engines' index size limits: text that is part of a key
beyond the code (a tag, a counted value, a visitor) is keyed by a 16-byte BLAKE2 hash of
it (:func:`key_hash`), the text itself kept beside; and the code, every key and every
sort by text compare bytes, never a locale (``COLLATE "C"`` on PostgreSQL, ``VARBINARY``
on MySQL), so code ``a`` is never ``A`` or ``a ``, and listings sort by code point as in
every backend.

Migrations are suolink's own, not Alembic: the ``schema_version`` table and its story
are SQLite's (each applied version listed, a newer database refused), so one
``suolink migrate`` works the same everywhere, and no migration environment ships.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from ...errors import BackendError

__all__ = [
    "MIGRATIONS",
    "PEOPLE_TABLES",
    "SCHEMA_VERSION",
    "Key",
    "conversion_key",
    "conversions",
    "count_queue",
    "counters",
    "domains",
    "key_hash",
    "link_tags",
    "links",
    "metadata",
    "migrate",
    "schema_version",
    "tombstones",
    "user_agents",
    "visit_counts",
    "visit_cubes",
    "visitor_counts",
    "visits",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_outbox",
]

#: The longest code the MySQL column holds, in characters (PostgreSQL has no limit).
MAX_CODE_CHARS = 255


class Key(TypeDecorator[str]):
    """Text compared and sorted by code point: ``COLLATE "C"`` text, or UTF-8 bytes in MySQL.

    MySQL's text collations ignore trailing spaces (``'a' = 'a '``) or case; its
    ``VARBINARY`` compares bytes, and UTF-8 byte order is code point order.
    """

    impl = Text
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            if self.length is None:
                return dialect.type_descriptor(mysql.MEDIUMBLOB())
            return dialect.type_descriptor(mysql.VARBINARY(self.length * 4))
        return dialect.type_descriptor(Text(collation="C"))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name in ("mysql", "mariadb"):
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8")
        return value  # type: ignore[no-any-return]


def _long_text() -> TypeEngine[str]:
    """Text of any length: ``text`` on PostgreSQL, ``MEDIUMTEXT`` (16 MiB) on MySQL."""
    return Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _hash() -> TypeEngine[bytes]:
    return LargeBinary().with_variant(mysql.BINARY(16), "mysql", "mariadb")


@lru_cache(maxsize=8192)  # a visit hashes ~20 values, mostly the same few (days, apps)
def key_hash(value: str) -> bytes:
    """The 16-byte key of a text in ``link_tags``, ``visit_counts`` and ``visitor_counts``."""
    return hashlib.blake2b(value.encode("utf-8"), digest_size=16).digest()


def _code() -> Column[str]:
    return Column("code", Key(MAX_CODE_CHARS), nullable=False)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", String(40), nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

links = Table(
    "links",
    metadata,
    Column("code", Key(MAX_CODE_CHARS), primary_key=True),
    Column("url", _long_text(), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_at", String(40)),
    Column("max_visits", BigInteger),
    Column("password_hash", _long_text()),
    Column("anti_block", _long_text()),
    Column("anti_block_mode", String(40), nullable=False),
    Column("allow", _long_text()),
    Column("deny", _long_text(), nullable=False),
    Column("targets", _long_text(), nullable=False),
    Column("title", _long_text()),
    Column("tags", _long_text(), nullable=False),
    Column("disabled", Integer, nullable=False),
    Column("visits", BigInteger, nullable=False),
    Column("language", _long_text()),
    Column("extra", _long_text(), nullable=False),
    Index("links_by_created", "created_us", "code"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

link_tags = Table(
    "link_tags",
    metadata,
    _code(),
    Column("tag_key", _hash(), nullable=False),
    Column("tag", _long_text(), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("code", "tag_key"),
    Index("link_tags_by_tag", "tag_key", "created_us", "code"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("code", Key(MAX_CODE_CHARS), primary_key=True),
    Column("deleted_at", String(40), nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

user_agents = Table(
    "user_agents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("hash", _hash(), nullable=False, unique=True),
    Column("text", _long_text(), nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

visits = Table(
    "visits",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _code(),
    Column("at", String(40), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("ip", _long_text()),
    Column("ua_id", BigInteger, nullable=False),
    Column("referer", _long_text()),
    Column("app", _long_text()),
    Column("os", _long_text()),
    Column("device", _long_text()),
    Column("is_bot", Integer, nullable=False),
    Column("language", _long_text()),
    Column("visitor_id", _long_text()),
    Column("browser", _long_text()),
    Column("outcome", _long_text(), nullable=False),
    Column("country", _long_text()),
    Column("region", _long_text()),
    Column("city", _long_text()),
    Column("arm", _long_text()),
    Column("domain", _long_text()),  # added by migration 2
    Index("visits_by_code", "code", "at_us"),
    Index("visits_by_time", "at_us"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

domains = Table(
    "domains",
    metadata,
    Column("name", Key(MAX_CODE_CHARS), primary_key=True),
    Column("added_us", BigInteger, nullable=False),
    Column("data", _long_text(), nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

visit_counts = Table(
    "visit_counts",
    metadata,
    _code(),
    Column("dimension", String(16), nullable=False),
    Column("day", String(10), nullable=False),
    Column("value_key", _hash(), nullable=False),
    Column("value", _long_text(), nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("code", "dimension", "day", "value_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

visitor_counts = Table(
    "visitor_counts",
    metadata,
    _code(),
    Column("visitor_key", _hash(), nullable=False),
    Column("visitor", Key(), nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("code", "visitor_key"),
    Index("visitor_counts_by_n", "code", "n"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)


#: Visits recorded but not yet added to ``visit_counts`` / ``visitor_counts`` (migration
#: 6): one small row per visit, written by the visit's own statement, claimed and deleted
#: by the fold that adds it (``SQLStorage._fold``), so each visit is counted once.
count_queue = Table(
    "count_queue",
    metadata,
    _code(),
    Column("visit_id", BigInteger, nullable=False, autoincrement=False),
    PrimaryKeyConstraint("code", "visit_id"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

#: Visits per (link, UTC day, combination of dimension values) (migration 6): what a
#: fold adds instead of a ``visit_counts`` cell per dimension, so a visit costs two
#: rows (its day and all time, ``day = ''``) instead of a dozen. ``combo`` is the JSON
#: list of the visit's ``[dimension, value]`` pairs, ``combo_key`` its hash. A day's
#: total and each dimension's counts are sums over a link's rows; ``visit_counts``
#: keeps the counts of visits counted before (and the visitors per day).
visit_cubes = Table(
    "visit_cubes",
    metadata,
    _code(),
    Column("day", String(10), nullable=False),
    Column("combo_key", _hash(), nullable=False),
    Column("combo", _long_text(), nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("code", "day", "combo_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

# The webhook outbox (see suolink.backends.sql_outbox): made by migration 2.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_us", BigInteger, nullable=False),
    Column("data", _long_text(), nullable=False),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(64), nullable=False, unique=True),
    Column("endpoint_id", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("body", _long_text(), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_us", BigInteger, nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_until", BigInteger),
    Column("state", Integer, nullable=False, default=0),
    Index("webhook_outbox_line", "endpoint_id", "state", "seq"),
    Index("webhook_outbox_due", "state", "next_us"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("message_id", String(64), nullable=False),
    Column("endpoint_id", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("webhook_deliveries_by_time", "at_us"),
    Index("webhook_deliveries_by_endpoint", "endpoint_id", "seq"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

#: Conversions (``RecordsConversions``, migration 4): one per (link, kind, click id), the
#: pair keyed by its hash (``conv_key``) as tags are; times as given, amounts as text.
conversions = Table(
    "conversions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _code(),
    Column("conv_key", _hash(), nullable=False),
    Column("click_id", _long_text(), nullable=False),
    Column("kind", _long_text(), nullable=False),
    Column("at", String(40), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("clicked_at", String(40), nullable=False),
    Column("visitor_id", _long_text()),
    Column("value", _long_text()),
    Column("currency", _long_text()),
    UniqueConstraint("code", "conv_key", name="conversions_once"),
    Index("conversions_by_code", "code", "at_us"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)


def conversion_key(kind: str, click_id: str) -> bytes:
    """The 16-byte key of a (kind, click id) pair: what the unique constraint compares."""
    return key_hash(f"{kind}\n{click_id}")


# People across links (TracksPeople, SQLite's migration 8): made by migration 4. Scopes
# (a campaign, or '' for every link), visitors and recipients are keyed by their hash.
def _key(name: str) -> Column[bytes]:
    return Column(name, _hash(), nullable=False)


def _person_columns() -> list[Column[Any]]:
    return [
        Column("clicks", BigInteger, nullable=False),
        Column("links", BigInteger, nullable=False),
        Column("first_us", BigInteger),
        Column("last_us", BigInteger),
    ]


people_links = Table(
    "people_links",
    metadata,
    Column("code", Key(MAX_CODE_CHARS), primary_key=True),
    Column("campaign", Key(64)),
    Column("recipient", Key(128)),
    Column("recipient_key", _hash()),
    Index("people_links_by_recipient", "recipient_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

people_visitors = Table(
    "people_visitors",
    metadata,
    _key("scope_key"),
    _key("visitor_key"),
    Column("scope", Key(64), nullable=False),
    Column("visitor", Key(), nullable=False),
    *_person_columns(),
    PrimaryKeyConstraint("scope_key", "visitor_key"),
    Index("people_visitors_by_clicks", "scope_key", "clicks"),
    Index("people_visitors_by_visitor", "visitor_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

people_visitor_links = Table(
    "people_visitor_links",
    metadata,
    _key("scope_key"),
    _key("visitor_key"),
    _code(),
    PrimaryKeyConstraint("scope_key", "visitor_key", "code"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

people_recipients = Table(
    "people_recipients",
    metadata,
    _key("scope_key"),
    _key("recipient_key"),
    Column("scope", Key(64), nullable=False),
    Column("recipient", Key(128), nullable=False),
    *_person_columns(),
    Column("own", Key()),
    Column("reach", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope_key", "recipient_key"),
    Index("people_recipients_by_clicks", "scope_key", "clicks"),
    Index("people_recipients_by_recipient", "recipient_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

people_recipient_links = Table(
    "people_recipient_links",
    metadata,
    _key("scope_key"),
    _key("recipient_key"),
    _code(),
    PrimaryKeyConstraint("scope_key", "recipient_key", "code"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

people_recipient_visitors = Table(
    "people_recipient_visitors",
    metadata,
    _key("scope_key"),
    _key("recipient_key"),
    _key("visitor_key"),
    PrimaryKeyConstraint("scope_key", "recipient_key", "visitor_key"),
    Index("people_recipient_visitors_by_visitor", "visitor_key"),
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
)

PEOPLE_TABLES = (
    people_links,
    people_visitors,
    people_visitor_links,
    people_recipients,
    people_recipient_links,
    people_recipient_visitors,
)


# -------------------------------------------------------------------------- migrations

Migration = Callable[[Connection], None]


def _v1(conn: Connection) -> None:
    """Every table as SQLite's schema version 7 has it (see the module docstring)."""
    tables = [links, counters, link_tags, tombstones, user_agents, visits]
    metadata.create_all(conn, tables=[*tables, visit_counts, visitor_counts])
    conn.execute(counters.insert().values(name="links", value=0))


def _v2(conn: Connection) -> None:
    """Short domains: the ``domains`` table and the domain a visit came in on."""
    metadata.create_all(conn, tables=[domains])
    present = {column["name"] for column in inspect(conn).get_columns("visits")}
    if "domain" not in present:  # a database made by version 1 (v1 makes today's table)
        column = "domain TEXT" if conn.dialect.name == "postgresql" else "domain MEDIUMTEXT"
        conn.execute(text(f"ALTER TABLE visits ADD COLUMN {column}"))


def _v3(conn: Connection) -> None:
    """The webhook outbox's tables (SQLite's migration 11)."""
    metadata.create_all(conn, tables=[webhook_endpoints, webhook_outbox, webhook_deliveries])


def _v4(conn: Connection) -> None:
    """People across links (SQLite's migration 8); links made before are listed."""
    metadata.create_all(conn, tables=list(PEOPLE_TABLES))
    rows = conn.execute(
        select(links.c.code, links.c.extra).where(
            links.c.extra.like('%"campaign"%') | links.c.extra.like('%"recipient"%')
        )
    )
    found = []
    for code, extra in rows:
        values = json.loads(extra or "{}")
        campaign, recipient = values.get("campaign"), values.get("recipient")
        if campaign is not None or recipient is not None:
            found.append(
                {
                    "code": code,
                    "campaign": campaign,
                    "recipient": recipient,
                    "recipient_key": None if recipient is None else key_hash(recipient),
                }
            )
    if found:
        conn.execute(people_links.insert(), found)


def _v5(conn: Connection) -> None:
    """Conversions: leads, sales … reported on click ids (SQLite's migration 9)."""
    metadata.create_all(conn, tables=[conversions])


#: PostgreSQL: true while no setting kept in ``links.extra`` could refuse a visitor (a
#: split's arm, countries, a warning, an abuse mark, a domain or pool): each is unset or
#: empty. Kept in ``links.extra_open`` by a trigger on writes of ``extra`` (migration
#: 6), so the one-trip redirect reads a boolean instead of parsing the JSON on every
#: visit. (Not a generated column: PostgreSQL computes those again on every
#: ``UPDATE``, the redirect's ``visits + 1`` too.)
EXTRA_OPEN = " AND ".join(
    [
        f"COALESCE(CAST({{extra}} AS jsonb) -> '{name}', 'null') IN ('null', '[]', '{{{{}}}}')"
        for name in ("split", "deny_countries")
    ]
    + [
        f"COALESCE(CAST({{extra}} AS jsonb) -> '{name}', 'null') = 'null'"
        for name in ("allow_countries", "warning", "abuse_status", "domain", "pool")
    ]
)


def _v6(conn: Connection) -> None:
    """Counts folded in batches (the queue of visits not yet counted, the counts by
    combination of values); on PostgreSQL, ``links.extra_open`` and its trigger.

    The counts already kept stay as they are (every visit recorded before is in them);
    a process of the previous version still adding its visits' counts directly agrees
    with the fold, so processes may be upgraded one at a time. The generated column is
    computed for the existing links by the ``ALTER TABLE``.
    """
    metadata.create_all(conn, tables=[count_queue, visit_cubes])
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE links ADD COLUMN extra_open boolean NOT NULL DEFAULT false"))
        fill = f"UPDATE links SET extra_open = ({EXTRA_OPEN.format(extra='extra')})"  # noqa: S608
        conn.execute(text(fill))
        conn.execute(
            text(
                "CREATE FUNCTION suolink_extra_open() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN NEW.extra_open := ({EXTRA_OPEN.format(extra='NEW.extra')}); "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER links_extra_open BEFORE INSERT OR UPDATE OF extra ON links "
                "FOR EACH ROW EXECUTE FUNCTION suolink_extra_open()"
            )
        )


def _v7(conn: Connection) -> None:
    """PostgreSQL: ``links.version``, a number from the ``link_versions`` sequence, new
    on every change of a link but its count (a trigger, skipped while ``visits`` moves).

    A process holding a link (``HoldsLinksInProcess``) appends a visit only while the
    row still has the version it read; a number is never given twice, so a link deleted
    and made again is a new version too. MySQL/MariaDB do not hold links: nothing there.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text("CREATE SEQUENCE link_versions"))
    conn.execute(
        text(
            "ALTER TABLE links ADD COLUMN version bigint NOT NULL DEFAULT nextval('link_versions')"
        )
    )
    conn.execute(
        text(
            "CREATE FUNCTION suolink_link_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN NEW.version := nextval('link_versions'); RETURN NEW; END $$"
        )
    )
    # ``WHEN`` is tested without calling the function: a redirect's ``visits + 1``
    # costs a comparison, not a PL/pgSQL call.
    conn.execute(
        text(
            "CREATE TRIGGER links_version BEFORE UPDATE ON links FOR EACH ROW "
            "WHEN (OLD.visits = NEW.visits) EXECUTE FUNCTION suolink_link_version()"
        )
    )


#: (version, what it does, step): applied in order, each recorded in ``schema_version``.
#: Add new ones at the end and never edit a released one.
MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "links, tags, tombstones, counters, visits, user agents and visit counts", _v1),
    (2, "domains: short domains, their pools and states; visits: the domain", _v2),
    (3, "webhooks: endpoints, the outbox and the delivery log", _v3),
    (4, "people across links: campaigns and recipients, visitors, reach", _v4),
    (5, "conversions: one per (link, kind, click id)", _v5),
    (6, "counts folded in batches: the queue of visits not yet counted, visit cubes", _v6),
    (7, "links: a version moved by every change (PostgreSQL: links held in process)", _v7),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    """The newest applied migration, 0 for an empty database."""
    if not conn.dialect.has_table(conn, "schema_version"):
        return 0
    found = conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar()
    return int(found or 0)


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise BackendError(
            f"the database has schema version {version}, newer than this suolink knows "
            f"({SCHEMA_VERSION}); upgrade suolink"
        )


def migrate(
    conn: Connection,
    *,
    lock_name: str,
    schema: str | None = None,
    target: int = SCHEMA_VERSION,
) -> int:
    """Bring the database on ``conn`` forward to ``target``; the version it is at.

    Processes starting together take turns on a server lock named ``lock_name`` (a
    transaction advisory lock on PostgreSQL, ``GET_LOCK`` on MySQL), so each migration
    is applied once. PostgreSQL applies them in one transaction (creating ``schema``
    first if one is named); MySQL commits each DDL statement on its own, so there a
    migration is recorded right after it ran.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock_name})
        if schema is not None:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    else:
        got = conn.execute(text("SELECT GET_LOCK(:name, 60)"), {"name": lock_name}).scalar()
        if got != 1:
            raise BackendError(f"could not take the migration lock {lock_name!r} in 60 s")
    try:
        current = current_version(conn)
        _refuse_newer(current)
        if current < target and current == 0:
            metadata.create_all(conn, tables=[schema_version])
        for version, description, step in MIGRATIONS:
            if current < version <= target:
                step(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=version,
                        description=description,
                        applied_at=datetime.now(UTC).isoformat(),
                    )
                )
                if not postgres:
                    conn.commit()
                current = version
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if not postgres:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": lock_name})
            conn.commit()
    return current
