"""Every labelled real user agent in ua_corpus.csv, checked field by field.

Rows list the fields we knowingly get wrong in ``known_miss`` (mostly device classes a
fixture source knows from its device database, not from the UA); those must stay
wrong-for-a-reason, every other labelled field must match.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from suolink.detect import APP_IDS, Detector, available_resolvers

CORPUS = Path(__file__).with_name("ua_corpus.csv")
FIELDS = ("app", "os", "device", "is_bot", "is_preview", "in_app")
ROWS = list(csv.DictReader(CORPUS.open(encoding="utf-8")))


def _got(detector: Detector, row: dict[str, str]) -> dict[str, str]:
    headers = json.loads(row["headers"]) if row["headers"] else None
    c = detector.detect(row["user_agent"], headers)
    return {
        "app": c.app or "",
        "os": c.os,
        "device": c.device,
        "is_bot": str(c.is_bot).lower(),
        "is_preview": str(c.is_preview).lower(),
        "in_app": str(c.in_app).lower(),
    }


def test_corpus_shape() -> None:
    assert len(ROWS) >= 400
    assert all(row["source"] for row in ROWS)
    apps = {row["app"] for row in ROWS}
    # every app of the vocabulary, WhatsApp's in-app browser (WA4A/WAiOS) included
    assert apps >= APP_IDS
    assert sum(row["is_preview"] == "true" for row in ROWS) >= 20
    assert sum(row["is_bot"] == "true" and row["is_preview"] == "false" for row in ROWS) >= 50


@pytest.fixture(scope="module", params=available_resolvers())
def detector(request: pytest.FixtureRequest) -> Detector:
    return Detector(resolver=request.param, cache_size=0)


def test_every_row(detector: Detector) -> None:
    wrong: list[str] = []
    for row in ROWS:
        got = _got(detector, row)
        allowed = set(row["known_miss"].split())
        for field in FIELDS:
            want = row[field]
            if want and field not in allowed and got[field] != want:
                wrong.append(f"{field}: want {want!r} got {got[field]!r} for {row['user_agent']!r}")
    assert not wrong, "\n".join(wrong[:30])


def test_app_accuracy_is_total_on_labelled_apps(detector: Detector) -> None:
    per_app: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for row in ROWS:
        if row["app"]:
            per_app[row["app"]] += 1
            hits[row["app"]] += _got(detector, row)["app"] == row["app"]
    assert per_app == hits


def test_no_labelled_human_is_called_a_bot(detector: Detector) -> None:
    humans = [r for r in ROWS if r["is_bot"] == "false" and "is_bot" not in r["known_miss"]]
    assert humans
    assert not [r["user_agent"] for r in humans if _got(detector, r)["is_bot"] == "true"]
