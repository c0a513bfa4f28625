"""The ``django://`` backend's kept counts: migrations 0004–0006, retention, interning.

The counts themselves are contract-tested with every backend claiming
``keeps_aggregates`` (``tests/backends/test_capabilities.py``); here are the parts only
Django has: the backfill of visits recorded before the count tables existed (on SQLite
and PostgreSQL, through the real migrations, forwards and back), ``retention_days`` in
the URL, and user agents stored once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from suolink.adapters.django.storage import DjangoStorage
from suolink.backends.base import KeepsAggregates
from suolink.errors import ConfigurationError
from suolink.models import Link, Visit
from suolink.stats import aggregate, from_counts, link_stats
from tests.adapters.django import project

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
BEFORE = ("suolink", "0003_tombstones")
LONG_AGENT = "Mozilla/5.0 (iPhone) " + "微" * 1500  # ~4.5 KB: longer than a b-tree entry


def _executor(alias: str) -> Any:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connections[alias])


def _migrate(alias: str, target: tuple[str, str] | None = None) -> None:
    executor = _executor(alias)
    executor.loader.build_graph()
    executor.migrate([target or executor.loader.graph.leaf_nodes("suolink")[0]])


def _sqlite_alias(folder: Path) -> str:
    from tests.adapters.django.settings import sqlite_database

    alias = f"agg_{os.getpid()}_{next(project._counter)}"
    project.add_alias(alias, sqlite_database(folder / "old.sqlite3"))
    return alias


def _postgres_alias() -> str:
    from django.db import connections

    from tests.adapters.django.postgres import server_url
    from tests.adapters.django.settings import postgres_database

    url = server_url()  # skips without a server
    schema = f"suolink_agg_{os.getpid()}_{next(project._counter)}"
    admin = f"pg_admin_{os.getpid()}"
    if admin not in connections.settings:
        project.add_alias(admin, postgres_database(url))
    with connections[admin].cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    alias = f"pg_{schema}"
    project.add_alias(alias, postgres_database(url, schema))
    return alias


@pytest.fixture(params=["sqlite", "postgres"])
def old_alias(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated only up to 0003: visits with their user agent text."""
    from django.db import connections

    alias = _sqlite_alias(tmp_path) if request.param == "sqlite" else _postgres_alias()
    _migrate(alias, BEFORE)
    yield alias
    connections[alias].close()


def _old_visits() -> list[Visit]:
    agents = ["UA one", LONG_AGENT, "", "UA one"]
    visits = []
    for i in range(24):
        visits.append(
            Visit(
                code="old" if i % 4 else "other",
                at=(T0 + timedelta(hours=7 * i)).astimezone(UTC if i % 2 else BEIJING),
                ip=f"10.0.0.{i % 5}",
                user_agent=agents[i % 4],
                referer="ref.example" if i % 3 else None,
                app="wechat" if i % 5 == 0 else None,
                os="ios",
                is_bot=i % 7 == 0,
                visitor_id=f"v{i % 6}" if i % 2 else None,
                outcome="redirect" if i % 7 else "bot",
            )
        )
    return visits


def _insert_old_rows(alias: str, visits: list[Visit]) -> None:
    """Rows as 0003's schema held them, written through its historical models."""
    from suolink.backends._common import to_micros

    apps = _executor(alias).loader.project_state(BEFORE).apps
    links = apps.get_model("suolink", "Link").objects.using(alias)
    rows = apps.get_model("suolink", "Visit").objects.using(alias)
    for code in ("old", "other"):
        links.create(code=code, url="https://e.com", created_at=T0, created_us=to_micros(T0))
    for visit in visits:
        offset = visit.at.utcoffset()
        rows.create(
            link_id=visit.code,
            at=visit.at,
            at_us=to_micros(visit.at),
            at_offset=0 if offset is None else int(offset.total_seconds()),
            ip=visit.ip,
            user_agent=visit.user_agent,
            referer=visit.referer,
            app=visit.app,
            os=visit.os,
            device=visit.device,
            is_bot=visit.is_bot,
            language=visit.language,
            visitor_id=visit.visitor_id,
            browser=visit.browser,
            outcome=visit.outcome,
        )


def test_visits_recorded_before_0004_are_counted_and_keep_their_user_agents(
    old_alias: str,
) -> None:
    visits = _old_visits()
    _insert_old_rows(old_alias, visits)
    _migrate(old_alias)
    store = DjangoStorage(f"django://{old_alias}")
    try:
        assert isinstance(store, KeepsAggregates)
        for code in ("old", "other"):
            raw = aggregate(code, store.visits(code))
            assert raw.total == sum(v.code == code for v in visits)
            counts = store.counts(code)
            assert counts is not None
            assert from_counts(code, counts) == raw
            day = T0.date() + timedelta(days=2)
            window = store.counts(code, since=day, until=day + timedelta(days=3))
            assert window is not None
            since = datetime(day.year, day.month, day.day, tzinfo=UTC)
            in_window = aggregate(code, store.visits(code, since=since, until=since + timedelta(3)))
            assert from_counts(code, window) == in_window
        assert [v.user_agent for v in store.visits("old")] == [
            v.user_agent for v in sorted(visits, key=lambda v: v.at) if v.code == "old"
        ]
        with store._read("look") as tables:
            assert tables.user_agents.count() == 3
        # New visits add to the backfilled counts.
        store.record_visit(Visit(code="old", at=T0, user_agent=LONG_AGENT, visitor_id="v1"))
        counts = store.counts("old")
        assert counts is not None
        assert from_counts("old", counts) == aggregate("old", store.visits("old"))
    finally:
        store.close()


def test_going_back_before_0004_gives_visits_their_user_agent_text(old_alias: str) -> None:
    visits = _old_visits()
    _insert_old_rows(old_alias, visits)
    _migrate(old_alias)
    _migrate(old_alias, BEFORE)
    apps = _executor(old_alias).loader.project_state(BEFORE).apps
    rows = apps.get_model("suolink", "Visit").objects.using(old_alias).order_by("id")
    assert list(rows.values_list("user_agent", flat=True)) == [v.user_agent for v in visits]


# -- retention and interning on a fresh store -------------------------------------------------


@pytest.fixture
def fresh_url(tmp_path: Path) -> str:
    return project.store_url(tmp_path)


def test_user_agents_are_stored_once_whatever_their_length(fresh_url: str) -> None:
    store = DjangoStorage(fresh_url)
    try:
        store.create(Link(code="ua", url="https://e.com"))
        agents = [LONG_AGENT, LONG_AGENT, "other", ""]
        for i, agent in enumerate(agents):
            store.record_visit(Visit(code="ua", at=T0 + timedelta(seconds=i), user_agent=agent))
        assert [v.user_agent for v in store.visits("ua")] == agents
        with store._read("look") as tables:
            assert tables.user_agents.count() == 3
    finally:
        store.close()


def test_retention_drops_old_raw_visits_a_batch_at_a_time_and_keeps_the_counts(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("suolink.adapters.django.storage.RETENTION_BATCH", 3)
    monkeypatch.setattr("suolink.adapters.django.storage._RETENTION_PAUSE", 0.0)
    store = DjangoStorage(f"{fresh_url}?retention_days=2")
    try:
        assert store.retention_days == 2
        store.create(Link(code="old", url="https://e.com"))
        store.create(Link(code="new", url="https://e.com"))
        for i in range(8):  # a backlog of 8 raw visits 10 days old
            store.record_visit(
                Visit(code="old", at=T0 + timedelta(minutes=i), visitor_id=f"v{i % 3}")
            )
        before = link_stats(store, "old")
        assert before.total == 8
        later = T0 + timedelta(days=10)
        store.record_visit(Visit(code="new", at=later))  # a batch of at most 3 goes
        assert len(list(store.visits("old"))) == 5
        for i in range(3):
            store.record_visit(Visit(code="new", at=later + timedelta(seconds=i)))
        assert list(store.visits("old")) == []
        assert len(list(store.visits("new"))) == 4  # within the retention: all kept
        assert link_stats(store, "old") == before  # the counts stay
        assert store.get("old") is not None
    finally:
        store.close()


def test_without_retention_every_raw_visit_stays(fresh_url: str) -> None:
    store = DjangoStorage(fresh_url)
    try:
        assert store.retention_days == 0
        store.create(Link(code="k", url="https://e.com"))
        store.record_visit(Visit(code="k", at=T0))
        store.record_visit(Visit(code="k", at=T0 + timedelta(days=10_000)))
        assert len(list(store.visits("k"))) == 2
    finally:
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        "retention_days=-1",
        "retention_days=36501",
        "retention_days=1.5",
        "retention_days=",
        "retention_days=٣",
        "retention=3",
    ],
)
def test_bad_retention_options_are_configuration_errors(query: str) -> None:
    with pytest.raises(ConfigurationError):
        DjangoStorage(f"django://?{query}")


def test_the_deleted_link_s_counts_go_with_it(fresh_url: str) -> None:
    store = DjangoStorage(fresh_url)
    try:
        store.create(Link(code="gone", url="https://e.com"))
        store.record_visit(Visit(code="gone", at=T0, visitor_id="v"))
        assert store.delete("gone")
        with store._read("look") as tables:
            assert tables.visit_counts.filter(link_id="gone").count() == 0
            assert tables.visitor_counts.filter(link_id="gone").count() == 0
    finally:
        store.close()


def test_links_made_before_0013_count_people_after_it(old_alias: str) -> None:
    """0013_people lists earlier links that have a campaign or a recipient, so their
    next clicks count for people; links without either stay out."""
    from suolink.backends._common import to_micros

    before = ("suolink", "0012_conversions")
    _migrate(old_alias, before)
    apps = _executor(old_alias).loader.project_state(before).apps
    links = apps.get_model("suolink", "Link").objects.using(old_alias)
    extras = {
        "p1": {"campaign": "spring", "recipient": "r1"},
        "p2": {"campaign": "spring"},
        "plain": {},
    }
    for code, extra in extras.items():
        links.create(
            code=code, url="https://e.com", created_at=T0, created_us=to_micros(T0), extra=extra
        )
    _migrate(old_alias)
    store = DjangoStorage(f"django://{old_alias}")
    try:
        with store._read("look") as tables:
            listed = dict(tables.people_links.values_list("code", "recipient"))
        assert listed == {"p1": "r1", "p2": None}
        for code in ("p1", "p2", "plain"):
            store.record_visit(Visit(code=code, at=T0, visitor_id="v1"))
        [visitor] = store.top_visitors("spring", limit=None)
        assert (visitor.id, visitor.clicks, visitor.links) == ("v1", 2, 2)
        [recipient] = store.top_recipients("spring", limit=None)
        assert (recipient.id, recipient.clicks, recipient.visitor) == ("r1", 1, "v1")
        assert store.people_totals(None).clicks == 1
    finally:
        store.close()
