"""What the SQL backends (sqlite, django, django-postgres) share: rows by field name and
the ``extra`` JSON object that holds every field without a column of its own."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from suolink import fields
from suolink.backends import Storage
from suolink.backends._common import to_micros
from suolink.backends.relational import wrap_errors
from suolink.backends.sqlite import SQLiteStorage
from suolink.errors import BackendError, BackendUnavailable, LinkNotFound
from suolink.models import Link
from tests.backends.conftest import BACKEND_PARAMS, BACKENDS
from tests.backends.test_contract import T0, rich_link

SQL = {"sqlite", "django", "django-postgres"}
SQL_PARAMS = [p for p, b in zip(BACKEND_PARAMS, BACKENDS, strict=True) if b.name in SQL]
sql_backends = pytest.mark.parametrize("backend", SQL_PARAMS, indirect=True)

#: Nullable columns in both schemas, so rows without them are still valid.
MOVED = {"title", "language", "anti_block"}


def raw_row(store: Storage, code: str) -> dict[str, Any]:
    """The stored row of ``code``, read around the backend: column name -> value."""
    if isinstance(store, SQLiteStorage):
        conn = sqlite3.connect(store.path)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM links WHERE code = ?", (code,)).fetchone()
        finally:
            conn.close()
        return {**dict(row), "extra": json.loads(row["extra"])}
    from suolink.adapters.django.models import Link as LinkRow

    values: dict[str, Any] = LinkRow.objects.using(store.alias).filter(code=code).values().get()  # type: ignore[attr-defined]
    return values


@pytest.fixture
def fields_moved_to_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if ``MOVED`` had been declared ``column=False``: kept in ``extra`` from now on."""
    monkeypatch.setattr(
        fields, "COLUMN_FIELDS", tuple(f for f in fields.COLUMN_FIELDS if f.name not in MOVED)
    )
    monkeypatch.setattr(
        fields,
        "EXTRA_FIELDS",
        tuple(
            replace(f, column=False) if f.name in MOVED else f
            for f in fields.LINK_FIELDS
            if f.name in MOVED or not f.column
        ),
    )


@sql_backends
def test_every_field_has_a_column_of_its_name_and_extra_holds_the_rest(storage: Storage) -> None:
    link = storage.create(rich_link("cols"))
    row = raw_row(storage, "cols")
    assert set(row["extra"]) == {f.name for f in fields.EXTRA_FIELDS}
    assert row["created_us"] == to_micros(link.created_at)
    for field in fields.COLUMN_FIELDS:
        assert field.name in row
    assert (row["title"], row["language"], row["max_visits"]) == (
        link.title,
        link.language,
        link.max_visits,
    )


@sql_backends
@pytest.mark.usefixtures("fields_moved_to_extra")
def test_a_field_without_a_column_lives_in_extra(storage_factory: Callable[[], Storage]) -> None:
    store = storage_factory()
    link = rich_link("moved")
    stored = store.create(link)
    assert store.get("moved") == stored == link
    row = raw_row(store, "moved")
    assert (row["title"], row["language"], row["anti_block"]) == (None, None, None)
    assert {name: row["extra"][name] for name in MOVED} == {
        "title": link.title,
        "language": link.language,
        "anti_block": sorted(link.anti_block or ()),
    }

    changes = {"title": None, "language": "en", "anti_block": ["qq"], "url": "https://n.example"}
    updated = store.update("moved", changes)
    assert updated == link.with_changes({**changes, "anti_block": frozenset({"qq"})})
    assert store.get("moved") == updated
    assert store.list().links == (updated,)
    row = raw_row(store, "moved")
    assert {name: row["extra"][name] for name in MOVED} == {
        "title": None,
        "language": "en",
        "anti_block": ["qq"],
    }
    assert row["url"] == "https://n.example"


@sql_backends
def test_a_row_whose_extra_lacks_a_field_reads_its_default(
    storage_factory: Callable[[], Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a new column=False field meets in rows written before it existed.
    store = storage_factory()
    store.create(Link(code="old", url="https://e.com", created_at=T0, title="in its column"))
    monkeypatch.setattr(
        fields, "COLUMN_FIELDS", tuple(f for f in fields.COLUMN_FIELDS if f.name not in MOVED)
    )
    monkeypatch.setattr(
        fields,
        "EXTRA_FIELDS",
        tuple(
            replace(f, column=False) if f.name in MOVED else f
            for f in fields.LINK_FIELDS
            if f.name in MOVED or not f.column
        ),
    )
    reopened = type(store)(store.url)  # type: ignore[call-arg]
    try:
        assert reopened.get("old") == Link(code="old", url="https://e.com", created_at=T0)
    finally:
        reopened.close()


class DriverError(Exception):
    pass


def classify(exc: Exception) -> type[BackendError] | None:
    if isinstance(exc, DriverError):
        return BackendUnavailable if "busy" in str(exc) else BackendError
    return None


@pytest.mark.parametrize(
    ("raised", "kind"),
    [(DriverError("busy"), BackendUnavailable), (DriverError("bad"), BackendError)],
)
def test_wrap_errors_turns_driver_errors_into_the_kind_classify_names(
    raised: Exception, kind: type[BackendError]
) -> None:
    with (
        pytest.raises(BackendError) as caught,
        wrap_errors(classify, "X could not {} (x://)".format, "do it"),
    ):
        raise raised
    assert type(caught.value) is kind
    assert caught.value.original is raised
    assert str(caught.value).startswith(f"X could not do it (x://): {raised}")


@pytest.mark.parametrize("raised", [LinkNotFound("c"), BackendUnavailable("closed"), KeyError("k")])
def test_wrap_errors_lets_everything_else_through(raised: Exception) -> None:
    with pytest.raises(type(raised)) as caught, wrap_errors(classify, str, "X"):
        raise raised
    assert caught.value is raised
