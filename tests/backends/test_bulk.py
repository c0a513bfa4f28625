"""Bulk on every backend: ``POST /api/links/bulk`` makes each item whole or not at all,
and the import round-trips its own export exactly: export → import into a fresh store →
export gives the same bytes (JSON and CSV), with every field of every link (geo rules,
split arms, abuse marks, preview cards, password hash) and every visit (place and arm
included), and the same stats."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Shortener
from suolink.backends import Storage
from suolink.exports import archive_csv, archive_json
from suolink.http import HttpApi, HttpRequest
from suolink.imports import import_records, read_text
from suolink.models import Link, Visit
from tests.test_bulk_import import archive, populated

T0 = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


def source() -> Shortener:
    """Every feature that stores data, on one memory store."""
    shortener = populated("memory://")
    shortener.update("rich", warning="careful: <b>", abuse_status=451, abuse_message="报告")
    for i, (country, arm) in enumerate([("CN", "a"), ("US", "b"), (None, "a"), ("DE", None)]):
        shortener.storage.record_visit(
            Visit(
                code="rich",
                at=T0 + timedelta(hours=i),
                country=country,
                region="Guangdong" if country == "CN" else None,
                city="深圳" if country == "CN" else None,
                arm=arm,
                visitor_id=f"p{i % 2}",
                os="ios",
            )
        )
    shortener.shorten(
        "https://example.com/geo",
        code="geo",
        allow_countries=["CN", "HK"],
        geo_targets={"HK": "https://example.hk/"},
        tags=["geo"],
    )
    return shortener


def test_bulk_endpoint_makes_each_item_whole_or_not_at_all(
    storage_factory: Callable[[], Storage],
) -> None:
    shortener = Shortener(storage_factory(), secret="s", base_url="https://s.example")
    api = HttpApi(shortener, api_token="t")
    items = [
        {
            "url": "https://example.com/1",
            "code": "b-one",
            "tags": ["x"],
            "split": [{"url": "https://a.example/"}],
        },
        {"url": "javascript:alert(1)", "code": "b-bad"},
        {"url": "https://example.com/2", "code": "b-one"},
        {
            "url": "https://example.com/3",
            "og_title": "卡片",
            "deny_countries": ["KP"],
            "warning": "w",
        },
    ]
    request = HttpRequest(
        method="POST",
        path="/api/links/bulk",
        headers=(("authorization", "Bearer t"), ("content-type", "application/json")),
        body=json.dumps({"links": items}).encode(),
    )
    answer = api.handle("links_bulk", request)
    data = json.loads(answer.body)
    assert (answer.status, data["created"], data["failed"]) == (200, 2, 2)
    assert [r["ok"] for r in data["results"]] == [True, False, False, True]

    assert shortener.get("b-one").url == "https://example.com/1"  # the second b-one left it
    assert shortener.storage.get("b-bad") is None
    made = shortener.get(data["results"][3]["link"]["code"])
    assert (made.og_title, made.deny_countries, made.warning) == ("卡片", frozenset({"KP"}), "w")
    assert len(list(shortener.iter_links())) == 2


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_import_export_is_exact(fmt: str, storage_factory: Callable[[], Storage]) -> None:
    original = source()
    first = archive(original, fmt)
    copy = Shortener(storage_factory(), secret="s", base_url="https://s.example")
    report = import_records(copy, read_text(first.decode()))
    assert report.skipped == []
    assert report.created == len(list(original.iter_links()))
    assert archive(copy, fmt) == first
    for link in original.iter_links():
        assert copy.get(link.code) == link
        # The funnel exists only where the backend records conversions (none here).
        assert replace(copy.stats(link.code), funnel=None) == replace(
            original.stats(link.code), funnel=None
        )
    again = import_records(copy, read_text(first.decode()))  # nothing twice
    assert (again.created, len(again.skipped)) == (0, report.created)
    assert archive(copy, fmt) == first


# -- any link, any visits: a property on the stores kept in this process ----------------

texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
)
maybe = st.none() | texts


@st.composite
def archived(draw: st.DrawFn) -> list[tuple[Link, list[Visit]]]:
    out: list[tuple[Link, list[Visit]]] = []
    for i in range(draw(st.integers(1, 3))):
        code = f"c{i}"
        limit = draw(st.none() | st.integers(0, 3))
        visits = [
            Visit(
                code=code,
                at=T0 + timedelta(seconds=draw(st.integers(0, 10**6))),
                user_agent=draw(texts),
                referer=draw(maybe),
                app=draw(maybe),
                outcome=draw(st.sampled_from(["redirect", "guide", "denied", "bot"])),
                is_bot=draw(st.booleans()),
                visitor_id=draw(maybe),
                country=draw(st.none() | st.sampled_from(["CN", "US"])),
                city=draw(maybe),
                arm=draw(maybe),
            )
            for _ in range(draw(st.integers(0, 4)))
        ]
        visits.sort(key=lambda visit: visit.at)  # an export lists them oldest first
        counted = sum(v.outcome == "redirect" for v in visits)
        link = Link(
            code=code,
            url=f"https://example.com/{i}",
            created_at=T0 - timedelta(days=i),
            title=draw(maybe),
            tags=tuple(draw(st.lists(texts.filter(bool), max_size=3))),
            max_visits=None if limit is None else max(limit, counted),
            og_description=draw(maybe),
            warning=draw(maybe),
            deny_countries=frozenset(draw(st.lists(st.sampled_from(["KP", "IR"]), max_size=2))),
            visits=counted,
        )
        out.append((link, visits))
    return out


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("target", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=archived())
def test_any_archive_round_trips(
    fmt: str,
    target: str,
    items: list[tuple[Link, list[Visit]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    write = archive_csv if fmt == "csv" else archive_json
    first = b"".join(write(items))
    url = (
        "memory://" if target == "memory" else f"sqlite:///{tmp_path_factory.mktemp('rt') / 'a.db'}"
    )
    with Shortener(url) as copy:
        report = import_records(copy, read_text(first.decode()))
        assert (report.created, report.skipped) == (len(items), [])
        assert archive(copy, fmt) == first
