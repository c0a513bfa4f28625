"""People across links at the Shortener: per-recipient links, the leaderboards, the
segment export, forgetting, and the typed error on a backend without the capability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.backends.base import PeopleTotals, PersonRow
from suolink.errors import BackendUnavailable, CapabilityMissing, InvalidOption
from suolink.models import Visit
from suolink.people import PeopleTally, check_recipients, rank

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def shortener() -> Shortener:
    return Shortener("memory://", base_url="https://s.example", secret="test")


def _click(s: Shortener, code: str, who: str, minutes: int = 0) -> None:
    s.storage.record_visit(Visit(code=code, at=T0 + timedelta(minutes=minutes), visitor_id=who))


def test_shorten_takes_recipient_and_campaign(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", recipient="m-1042", campaign="spring")
    assert (link.recipient, link.campaign) == ("m-1042", "spring")
    assert shortener.get(link.code).to_dict()["recipient"] == "m-1042"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("recipient", "13812345678"),  # a raw mainland mobile number
        ("recipient", "+447911123456"),  # E.164
        ("recipient", "Zhang San"),  # a name with a space
        ("recipient", "m\x00"),
        ("recipient", "m\u202e1"),  # bidi control
        ("recipient", "x" * 129),
        ("recipient", ""),
        ("recipient", 1042),
        ("campaign", "spring sale"),
        ("campaign", "c" * 65),
        ("campaign", "a/b"),
        ("campaign", ""),
    ],
)
def test_bad_recipient_or_campaign_is_refused(
    shortener: Shortener, name: str, value: object
) -> None:
    with pytest.raises(InvalidOption) as raised:
        shortener.shorten("https://example.com/", **{name: value})  # type: ignore[arg-type]
    assert raised.value.option == name


def test_recipient_and_campaign_are_fixed_once_made(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", recipient="m-1")
    with pytest.raises(InvalidOption):
        shortener.update(link.code, recipient="m-2")  # type: ignore[call-arg]


def test_chinese_campaign_names_and_hashed_ids_are_fine(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/", recipient="sha256:9f86d081884c7d65", campaign="春季_2030"
    )
    assert link.campaign == "春季_2030"


def test_shorten_for_makes_one_link_each(shortener: Shortener) -> None:
    links = shortener.shorten_for(
        "https://example.com/", ["m-1", "m-2", "m-3"], campaign="spring", title="Spring"
    )
    assert [link.recipient for link in links] == ["m-1", "m-2", "m-3"]
    assert {link.campaign for link in links} == {"spring"}
    assert {link.title for link in links} == {"Spring"}
    assert len({link.code for link in links}) == 3
    assert shortener.people_totals("spring") == PeopleTotals(recipients=3)


@pytest.mark.parametrize(
    "recipients", [[], ["m-1", "m-1"], "m-1", ["ok", "13812345678"], [None], ["x"] * 10_002]
)
def test_shorten_for_checks_every_recipient_first(shortener: Shortener, recipients: object) -> None:
    with pytest.raises(InvalidOption):
        shortener.shorten_for("https://example.com/", recipients)  # type: ignore[arg-type]
    assert shortener.list().links == ()


def test_shorten_for_is_all_or_nothing(
    shortener: Shortener, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = 0
    real = shortener.storage.create

    def flaky(link):  # type: ignore[no-untyped-def]
        nonlocal made
        made += 1
        if made == 3:
            raise BackendUnavailable("down")
        return real(link)

    monkeypatch.setattr(shortener.storage, "create", flaky)
    with pytest.raises(BackendUnavailable):
        shortener.shorten_for("https://example.com/", ["m-1", "m-2", "m-3"])
    assert shortener.list().links == ()


def test_leaderboards_and_segment_export(shortener: Shortener) -> None:
    a, b = shortener.shorten_for("https://example.com/", ["m-1", "m-2"], campaign="spring")
    for i, who in enumerate(["A", "A", "X", "Y"]):
        _click(shortener, a.code, who, i)
    _click(shortener, b.code, "B", 10)
    _click(shortener, b.code, "X", 11)
    top = shortener.top_recipients("spring")
    assert [(r.id, r.clicks, r.reach, r.visitor) for r in top] == [
        ("m-1", 4, 2, "A"),
        ("m-2", 2, 1, "B"),
    ]
    assert shortener.people_totals("spring").average_reach == 1.5
    visitors = shortener.top_visitors("spring", limit=2)
    assert [(r.id, r.clicks, r.links) for r in visitors] == [("A", 2, 1), ("X", 2, 2)]
    csv = b"".join(shortener.people_csv("spring", min_clicks=3)).decode()
    assert csv.splitlines() == [
        "recipient,clicks,links,reach,visitor,first_seen,last_seen",
        "m-1,4,1,2,A,2030-01-01T00:00:00+00:00,2030-01-01T00:03:00+00:00",
    ]
    csv = b"".join(shortener.people_csv("spring", recipients=False, min_clicks=2)).decode()
    assert [line.split(",")[0] for line in csv.splitlines()] == ["visitor", "A", "X"]
    assert shortener.campaigns() == {"spring": PeopleTotals(recipients=2, clicks=6, reach=3)}


def test_top_visitors_with_a_window_or_tag_folds_raw_visits(shortener: Shortener) -> None:
    a = shortener.shorten("https://example.com/", campaign="spring", tags=["promo"])
    plain = shortener.shorten("https://example.com/", tags=["promo"])  # not a people link
    _click(shortener, a.code, "A", 0)
    _click(shortener, a.code, "B", 60)
    _click(shortener, plain.code, "B", 61)
    since = T0 + timedelta(minutes=30)
    assert [r.id for r in shortener.top_visitors(since=since)] == ["B"]
    rows = shortener.top_visitors(tag="promo")
    assert [(r.id, r.clicks, r.links) for r in rows] == [("B", 2, 2), ("A", 1, 1)]
    assert shortener.top_visitors("autumn", tag="promo") == []


def test_csv_cells_cannot_be_formulas(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", recipient="=cmd", campaign="c")
    _click(shortener, link.code, "-2+3")
    text = b"".join(shortener.people_csv("c")).decode()
    assert "'=cmd" in text
    assert "'-2+3" in text


def test_forget(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", recipient="m-1", campaign="c")
    _click(shortener, link.code, "A")
    assert shortener.forget_visitor("A") is True
    assert shortener.top_visitors("c") == []
    assert shortener.forget_recipient("m-1") is True
    assert shortener.get(link.code).recipient is None
    with pytest.raises(InvalidOption):
        shortener.forget_visitor("")


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("top_recipients", {"limit": 0}),
        ("top_recipients", {"limit": 10_001}),
        ("top_recipients", {"limit": True}),
        ("top_visitors", {"min_clicks": -1}),
        ("top_visitors", {"campaign": "bad name"}),
        ("people_totals", {"campaign": "x" * 65}),
    ],
)
def test_query_arguments_are_checked(shortener: Shortener, call: str, kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidOption):
        getattr(shortener, call)(**kwargs)


def test_a_backend_without_the_capability_raises_a_typed_error(shortener: Shortener) -> None:
    class Plain:  # a store with none of TracksPeople's methods
        url = "plain://"

    bare = Shortener(shortener.storage, base_url="https://s.example")
    bare.storage = Plain()  # type: ignore[assignment]
    with pytest.raises(CapabilityMissing) as raised:
        bare.top_recipients("spring")
    assert raised.value.capability == "tracks_people"
    assert raised.value.http_status == 501


def test_check_recipients_keeps_order() -> None:
    assert check_recipients(("b", "a", "c")) == ["b", "a", "c"]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5)), max_size=30))
def test_rank_orders_by_clicks_then_id(items: list[tuple[str, int]]) -> None:
    rows = [PersonRow(who, n, 1, None, None) for who, n in dict(items).items()]
    ranked = rank(rows, limit=None, min_clicks=1)
    assert [r.id for r in ranked] == [
        r.id for r in sorted(rows, key=lambda r: (-r.clicks, r.id)) if r.clicks >= 1
    ]


def test_tally_reach_excludes_the_recipients_own_visitor() -> None:
    from suolink.models import Link

    tally = PeopleTally()
    tally.add_link(Link(code="a", url="https://e.com/", recipient="m-1"))
    for who in ["own", "own", "x", "y", "x"]:
        tally.add(Visit(code="a", at=T0, visitor_id=who), None, "m-1")
    row = tally.top_recipients(None, limit=None)[0]
    assert (row.clicks, row.reach, row.visitor, row.links) == (5, 2, "own", 1)
