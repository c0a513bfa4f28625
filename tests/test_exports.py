"""Exports are made a chunk at a time and read back whole: CSV and JSON, any size."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from suolink.exports import VISIT_COLUMNS, links_csv, visits_csv, visits_json
from suolink.models import Link, Visit

START = datetime(2026, 1, 1, tzinfo=UTC)
texts = st.text(max_size=40)


def _visits(agents: list[str]) -> list[Visit]:
    return [
        Visit(code="abc", at=START + timedelta(seconds=i), user_agent=agent, referer=agent or None)
        for i, agent in enumerate(agents)
    ]


@given(st.lists(texts, max_size=30), st.integers(min_value=1, max_value=7))
def test_visits_json_round_trips_in_any_chunking(agents: list[str], rows: int) -> None:
    chunks = list(visits_json("abc", _visits(agents), rows=rows))
    assert len(chunks) >= 2 + len(agents) // rows - 1  # made a piece at a time
    data = json.loads(b"".join(chunks))
    assert data["code"] == "abc"
    assert data["total"] == len(agents)
    assert [v["user_agent"] for v in data["visits"]] == agents


@given(st.lists(texts, max_size=30), st.integers(min_value=1, max_value=7))
def test_visits_csv_round_trips_and_never_starts_a_formula(agents: list[str], rows: int) -> None:
    body = b"".join(visits_csv(_visits(agents), rows=rows)).decode()
    table = list(csv.reader(io.StringIO(body, newline="")))
    assert tuple(table[0]) == VISIT_COLUMNS
    assert len(table) == len(agents) + 1
    column = VISIT_COLUMNS.index("user_agent")
    for agent, row in zip(agents, table[1:], strict=True):
        cell = row[column]
        assert not cell.startswith(("=", "+", "-", "@"))
        assert cell in (agent, "'" + agent)


def test_links_csv_columns() -> None:
    link = Link(code="abc", url="https://example.com/", title="@cmd", tags=("a", "b"))
    body = b"".join(links_csv([link], lambda item: f"https://s.example/{item.code}")).decode()
    header, row = list(csv.reader(io.StringIO(body)))
    values = dict(zip(header, row, strict=True))
    assert values["short_url"] == "https://s.example/abc"
    assert values["title"] == "'@cmd"
    assert values["tags"] == "a b"
    assert values["has_password"] == "false"
