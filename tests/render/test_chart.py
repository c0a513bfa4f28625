"""render/chart.py: the per-day SVG bar chart, its day series, and its escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.render.chart import MAX_DAYS, day_series, visits_chart

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f"{SVG}rect")


def test_gaps_between_days_are_zero_and_days_are_in_order() -> None:
    series = day_series({"2026-03-03": 2, "2026-03-01": 5})
    assert series == [("2026-03-01", 5), ("2026-03-02", 0), ("2026-03-03", 2)]


def test_unreadable_days_and_counts_are_skipped() -> None:
    assert day_series({"yesterday": 3, "2026-03-01": "x", "": 1}) == []  # type: ignore[dict-item]
    assert day_series({}) == []


def test_only_the_latest_days_are_kept() -> None:
    series = day_series({"2025-01-01": 9, "2026-03-01": 1}, max_days=10)
    assert len(series) == 10
    assert series[0] == ("2026-02-20", 0)
    assert series[-1] == ("2026-03-01", 1)
    assert len(day_series({"2020-01-01": 1, "2026-01-01": 1})) == MAX_DAYS


def test_one_bar_per_day_the_peak_bar_full_height() -> None:
    svg = visits_chart({"2026-03-01": 4, "2026-03-02": 0, "2026-03-03": 2}, title="Visits")
    rects = bars(svg)
    assert len(rects) == 3
    heights = [float(r.get("height", "")) for r in rects]
    assert heights[0] == max(heights) > heights[2] > heights[1] == 0
    assert heights[2] == heights[0] / 2
    assert [r.findtext(f"{SVG}title") for r in rects] == [
        "2026-03-01: 4",
        "2026-03-02: 0",
        "2026-03-03: 2",
    ]


def test_an_empty_chart_is_still_a_valid_accessible_svg() -> None:
    root = ET.fromstring(visits_chart({}, title="Visits"))
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "Visits"
    assert root.findall(f"{SVG}rect") == []


def test_the_title_is_escaped() -> None:
    svg = visits_chart({"2026-03-01": 1}, title="</title><script>alert(1)</script>")
    assert "<script>" not in svg
    assert ET.fromstring(svg).findtext(f"{SVG}title") == "</title><script>alert(1)</script>"


@settings(deadline=None)  # timing under a loaded CI machine is not the property
@given(st.dictionaries(st.dates().map(str), st.integers(0, 10**6), max_size=30), st.text())
def test_any_counts_and_title_make_well_formed_svg(by_day: dict[str, int], title: str) -> None:
    svg = str(visits_chart(by_day, title=title))
    title_ok = not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", title)
    if title_ok:  # XML cannot carry control characters at all; the browser shows them raw
        ET.fromstring(svg)
    assert "<script" not in svg.replace("&lt;script", "")
