"""The Storage contract, run against every row of the backend table in conftest.py."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink.backends import Storage, open_storage
from suolink.backends._common import encode_cursor, to_micros
from suolink.backends.base import MAX_PAGE_SIZE
from suolink.errors import (
    BackendUnavailable,
    CodeTaken,
    InvalidCode,
    InvalidOption,
    LinkNotFound,
    SuolinkError,
)
from suolink.models import AntiBlockMode, Link, Visit

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def rich_link(code: str = "Rich1") -> Link:
    """A link with every field set to something unusual."""
    return Link(
        code=code,
        url="https://例子.测试/路径?q=短链&x=1#frag",
        created_at=datetime(2029, 5, 6, 7, 8, 9, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
        expires_at=datetime(
            2031, 2, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-3, minutes=-30))
        ),
        max_visits=12,
        password_hash="pbkdf2_sha256$1$salt$hash",
        anti_block=frozenset({"wechat", "qq", "微博"}),
        anti_block_mode=AntiBlockMode.GUIDE,
        allow=frozenset({"ios", "android"}),
        deny=frozenset({"bot"}),
        targets=(("ios", "https://apps.apple.com/x"), ("android", "https://play.example/x")),
        title="标题 \U0001f600 \"quoted\" 'single' <b>",
        tags=("季度", "b", "a", "b"),
        disabled=True,
        language="zh-CN",
        og_title="卡片 <b>",
        og_description="说明 \U0001f600",
        og_image="https://cdn.example/card.png",
        split=(("a", "https://a.example/", 3), ("实验-b", "https://b.example/?q=1", 0)),
        allow_countries=frozenset({"CN", "HK"}),
        deny_countries=frozenset({"KP"}),
        geo_targets=(("HK", "https://example.hk/"), ("CN", "https://例子.cn/")),
        warning="当心 <b>",
        abuse_status=451,
        abuse_message="Removed after a report \U0001f6ab",
    )


def make(code: str, at: datetime = T0, **kw: object) -> Link:
    return Link(code=code, url=f"https://example.com/{code}", created_at=at, **kw)  # type: ignore[arg-type]


def every_page(storage: Storage, *, limit: int, tag: str | None = None) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = storage.list(cursor=cursor, limit=limit, tag=tag)
        pages.append([link.code for link in page.links])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


# ------------------------------------------------------------------ create and get


def test_round_trip_is_exact(storage: Storage) -> None:
    link = rich_link()
    assert storage.create(link) == link
    got = storage.get(link.code)
    assert got == link
    assert got is not None
    assert got.created_at.utcoffset() == timedelta(hours=8)
    assert got.expires_at is not None
    assert got.expires_at.utcoffset() == timedelta(hours=-3, minutes=-30)
    assert got.tags == ("季度", "b", "a", "b")
    assert got.targets == link.targets
    assert isinstance(got.anti_block, frozenset)
    assert isinstance(got.anti_block_mode, AntiBlockMode)


def test_defaults_round_trip(storage: Storage) -> None:
    link = Link(code="plain", url="https://example.com/")
    storage.create(link)
    assert storage.get("plain") == link


def test_a_new_link_starts_with_no_visits(storage: Storage) -> None:
    stored = storage.create(Link(code="v", url="https://e.com", visits=99))
    assert stored.visits == 0
    got = storage.get("v")
    assert got is not None
    assert got.visits == 0


def test_create_refuses_a_taken_code_and_keeps_the_first(storage: Storage) -> None:
    first = storage.create(make("same"))
    with pytest.raises(CodeTaken) as caught:
        storage.create(Link(code="same", url="https://other.example/"))
    assert caught.value.code == "same"
    assert storage.get("same") == first


def test_codes_are_case_sensitive(storage: Storage) -> None:
    storage.create(make("abc"))
    storage.create(make("ABC"))
    assert storage.get("aBc") is None
    got = storage.get("ABC")
    assert got is not None
    assert got.url.endswith("/ABC")


@pytest.mark.parametrize("code", ["missing", "", "\ud800", 42, None, ["x"]])
def test_get_of_an_absent_or_odd_code_is_none(storage: Storage, code: object) -> None:
    assert storage.get(code) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("link", "error"),
    [
        ("not a link", InvalidOption),
        (Link(code="", url="https://e.com"), InvalidCode),
        (Link(code="\udc80x", url="https://e.com"), InvalidCode),
        (Link(code="naive", url="https://e.com", created_at=datetime(2030, 1, 1)), InvalidOption),
        (Link(code="exp", url="https://e.com", expires_at=datetime(2030, 1, 1)), InvalidOption),
        (Link(code="tags", url="https://e.com", tags="abc"), InvalidOption),  # type: ignore[arg-type]
        (Link(code="mv", url="https://e.com", max_visits=True), InvalidOption),  # type: ignore[arg-type]
        (Link(code="big", url="https://e.com", max_visits=2**64), InvalidOption),
        (Link(code="url", url=None), InvalidOption),  # type: ignore[arg-type]
        (Link(code="sur", url="https://e.com", title="\ud83d"), InvalidOption),
        (Link(code="nul", url="https://e.com", title="a\x00b"), InvalidOption),
        (Link(code="nul2", url="https://e.com/\x00"), InvalidOption),
        (Link(code="mode", url="https://e.com", anti_block_mode="sideways"), InvalidOption),  # type: ignore[arg-type]
        (Link(code="tg", url="https://e.com", targets=(("ios",),)), InvalidOption),  # type: ignore[arg-type]
    ],
)
def test_create_refuses_what_it_cannot_store(
    storage: Storage, link: object, error: type[SuolinkError]
) -> None:
    with pytest.raises(error):
        storage.create(link)  # type: ignore[arg-type]
    assert storage.list().links == ()


def test_create_normalises_collections(storage: Storage) -> None:
    link = Link(
        code="n",
        url="https://e.com",
        tags=["x", "y"],  # type: ignore[arg-type]
        anti_block={"wechat"},  # type: ignore[arg-type]
        targets={"ios": "https://i"},  # type: ignore[arg-type]
        anti_block_mode="guide",  # type: ignore[arg-type]
    )
    stored = storage.create(link)
    assert stored.tags == ("x", "y")
    assert stored.anti_block == frozenset({"wechat"})
    assert stored.targets == (("ios", "https://i"),)
    assert stored.anti_block_mode is AntiBlockMode.GUIDE
    assert storage.get("n") == stored


# ------------------------------------------------------------------ update


def test_update_changes_fields_and_nothing_else(storage: Storage) -> None:
    storage.create(rich_link("u"))
    storage.record_visit(Visit(code="u", at=T0))
    new_expiry = datetime(2040, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))
    updated = storage.update(
        "u",
        {"url": "https://new.example/", "expires_at": new_expiry, "tags": ("z",), "title": None},
    )
    expected = replace(rich_link("u"), visits=1).with_changes(
        {"url": "https://new.example/", "expires_at": new_expiry, "tags": ("z",), "title": None}
    )
    assert updated == expected
    assert storage.get("u") == expected


def test_update_of_a_missing_link_raises(storage: Storage) -> None:
    with pytest.raises(LinkNotFound) as caught:
        storage.update("nope", {"title": "x"})
    assert caught.value.code == "nope"


@pytest.mark.parametrize(
    "changes",
    [
        {"visits": 5},
        {"code": "other"},
        {"created_at": T0},
        {"no_such_field": 1},
        {"max_visits": "10"},
        {"disabled": "yes"},
        {"expires_at": datetime(2030, 1, 1)},
        {"tags": "single-string"},
        {"anti_block_mode": "nope"},
        {"targets": 5},
        {"url": "x", "title": 7},
        {"title": "\x00"},
        "not a mapping",
    ],
)
def test_update_refuses_bad_changes_and_changes_nothing(storage: Storage, changes: object) -> None:
    before = storage.create(make("bad"))
    with pytest.raises(InvalidOption):
        storage.update("bad", changes)  # type: ignore[arg-type]
    assert storage.get("bad") == before


def test_update_with_no_changes_returns_the_link(storage: Storage) -> None:
    stored = storage.create(make("same"))
    assert storage.update("same", {}) == stored


def test_update_keeps_the_visit_count(storage: Storage) -> None:
    storage.create(make("keep", max_visits=10))
    for _ in range(3):
        storage.record_visit(Visit(code="keep", at=T0))
    assert storage.update("keep", {"max_visits": 2}).visits == 3
    result = storage.record_visit(Visit(code="keep", at=T0))
    assert not result.allowed
    assert result.visits == 3


# ------------------------------------------------------------------ delete


def test_delete_removes_the_link_and_its_visits(storage: Storage) -> None:
    storage.create(make("gone", tags=("t",)))
    storage.record_visit(Visit(code="gone", at=T0))
    assert storage.delete("gone") is True
    assert storage.get("gone") is None
    assert list(storage.visits("gone")) == []
    assert storage.list(tag="t").links == ()
    assert storage.delete("gone") is False


def test_a_deleted_code_cannot_be_claimed_again(storage: Storage) -> None:
    # Issue 12: a deleted code could be claimed by anyone, so old posters led elsewhere.
    storage.create(make("poster", tags=("t",)))
    storage.record_visit(Visit(code="poster", at=T0))
    assert storage.delete("poster") is True
    with pytest.raises(CodeTaken):
        storage.create(make("poster"))
    assert storage.get("poster") is None
    assert storage.list().links == ()
    assert storage.list(tag="t").links == ()
    assert list(storage.visits("poster")) == []
    assert storage.delete("poster") is False
    with pytest.raises(CodeTaken):  # a second delete leaves the tombstone where it was
        storage.create(make("poster"))


def test_a_tombstone_retires_only_its_own_code(storage: Storage) -> None:
    storage.create(make("Tomb"))
    storage.delete("Tomb")
    assert storage.create(make("tomb")).code == "tomb"  # codes are case-sensitive
    assert storage.create(make("Tomb2")).code == "Tomb2"


def test_deleting_an_absent_code_leaves_no_tombstone(storage: Storage) -> None:
    assert storage.delete("never") is False
    assert storage.create(make("never")).code == "never"


def test_a_deleted_code_without_tombstone_can_be_used_again_from_scratch(
    storage: Storage,
) -> None:
    storage.create(make("again", tags=("old",)))
    storage.record_visit(Visit(code="again", at=T0))
    assert storage.delete("again", tombstone=False) is True
    fresh = storage.create(make("again", tags=("new",)))
    assert fresh.visits == 0
    assert list(storage.visits("again")) == []
    assert [link.code for link in storage.list(tag="new").links] == ["again"]
    assert storage.list(tag="old").links == ()


def test_a_tombstone_outlives_reopening_the_store(shared_url: str) -> None:
    first = open_storage(shared_url)
    try:
        first.create(make("kept"))
        first.delete("kept")
    finally:
        first.close()
    second = open_storage(shared_url)
    try:
        with pytest.raises(CodeTaken):
            second.create(make("kept"))
    finally:
        second.close()


@pytest.mark.parametrize("code", ["a\x00b", "a\x00", "\x00"])
def test_a_code_holding_nul_is_refused_and_never_found(storage: Storage, code: str) -> None:
    # PostgreSQL text cannot hold NUL and C strings end at it, so no backend stores one;
    # "a" is what a C string would read "a\x00b" as.
    with pytest.raises(InvalidCode):
        storage.create(make(code))
    assert storage.list().links == ()
    first = storage.create(make("a"))
    assert storage.get(code) is None
    assert storage.delete(code) is False
    with pytest.raises(LinkNotFound):
        storage.update(code, {"title": "x"})
    with pytest.raises(LinkNotFound):
        storage.record_visit(Visit(code=code, at=T0))
    with pytest.raises(LinkNotFound):
        storage.record_visit(Visit(code=code, at=T0), count=False)
    assert list(storage.visits(code)) == []
    assert storage.get("a") == first
    assert list(storage.visits("a")) == []


@pytest.mark.parametrize("code", ["", "\ud800", 3, None])
def test_delete_of_odd_codes_is_false(storage: Storage, code: object) -> None:
    assert storage.delete(code) is False  # type: ignore[arg-type]


# ------------------------------------------------------------------ list


def test_list_is_newest_first_and_pages_cover_everything_once(storage: Storage) -> None:
    for i in range(23):
        storage.create(make(f"c{i:02d}", T0 + timedelta(seconds=i)))
    pages = every_page(storage, limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    flat = [code for page in pages for code in page]
    assert flat == [f"c{i:02d}" for i in reversed(range(23))]


def test_a_full_last_page_has_no_next_cursor(storage: Storage) -> None:
    for i in range(4):
        storage.create(make(f"c{i}", T0 + timedelta(seconds=i)))
    page = storage.list(limit=4)
    assert len(page.links) == 4
    assert page.next_cursor is None
    assert storage.list().next_cursor is None


def test_list_of_an_empty_store(storage: Storage) -> None:
    page = storage.list()
    assert page.links == ()
    assert page.next_cursor is None


def test_ties_in_creation_time_are_ordered_by_code(storage: Storage) -> None:
    for code in ["b", "a", "C", "é", "aa"]:
        storage.create(make(code, T0))
    flat = [c for page in every_page(storage, limit=2) for c in page]
    assert flat == sorted(["b", "a", "C", "é", "aa"], reverse=True)


def test_order_is_by_instant_not_by_local_time(storage: Storage) -> None:
    # 12:00 in Shanghai is 04:00 UTC, earlier than 05:00 UTC.
    storage.create(make("shanghai", datetime(2030, 1, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))))
    storage.create(make("utc", datetime(2030, 1, 1, 5, tzinfo=UTC)))
    assert [link.code for link in storage.list().links] == ["utc", "shanghai"]


def test_links_created_while_paging_never_repeat_on_a_page(storage: Storage) -> None:
    for i in range(10):
        storage.create(make(f"old{i}", T0 + timedelta(seconds=i)))
    first = storage.list(limit=4)
    for i in range(10):
        storage.create(make(f"new{i}", T0 + timedelta(hours=1, seconds=i)))
    storage.delete("old9")  # on the page already seen
    storage.delete("old3")  # on a page still to come
    seen = [link.code for link in first.links]
    cursor = first.next_cursor
    while cursor is not None:
        page = storage.list(cursor=cursor, limit=4)
        seen += [link.code for link in page.links]
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert seen == ["old9", "old8", "old7", "old6", "old5", "old4", "old2", "old1", "old0"]


def test_tag_filter(storage: Storage) -> None:
    for i in range(12):
        tags = ("even",) if i % 2 == 0 else ("odd", "odd")
        storage.create(make(f"t{i:02d}", T0 + timedelta(minutes=i), tags=(*tags, "all")))
    even = [c for page in every_page(storage, limit=4, tag="even") for c in page]
    odd = [c for page in every_page(storage, limit=4, tag="odd") for c in page]
    assert even == [f"t{i:02d}" for i in (10, 8, 6, 4, 2, 0)]
    assert odd == [f"t{i:02d}" for i in (11, 9, 7, 5, 3, 1)]
    assert len([c for p in every_page(storage, limit=5, tag="all") for c in p]) == 12
    assert storage.list(tag="none").links == ()
    assert storage.list(tag="").links == ()
    storage.update("t00", {"tags": ("odd",)})
    assert "t00" in [link.code for link in storage.list(tag="odd", limit=100).links]
    assert "t00" not in [link.code for link in storage.list(tag="even", limit=100).links]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, True, 2.5, "5", None])
def test_bad_limits_are_refused(storage: Storage, limit: object) -> None:
    with pytest.raises(InvalidOption) as caught:
        storage.list(limit=limit)  # type: ignore[arg-type]
    assert caught.value.option == "limit"


def test_the_largest_limit_is_allowed(storage: Storage) -> None:
    storage.create(make("one"))
    assert len(storage.list(limit=MAX_PAGE_SIZE).links) == 1


@pytest.mark.parametrize("cursor", ["", "!!!", "WzFd", "bm90IGpzb24", "W1tdLCJ4Il0", 5, "é" * 9])
def test_malformed_cursors_are_refused(storage: Storage, cursor: object) -> None:
    with pytest.raises(InvalidOption) as caught:
        storage.list(cursor=cursor)  # type: ignore[arg-type]
    assert caught.value.option == "cursor"


def test_a_cursor_naming_a_code_with_nul_is_refused(storage: Storage) -> None:
    storage.create(make("a"))
    with pytest.raises(InvalidOption) as caught:
        storage.list(cursor=encode_cursor((to_micros(T0) + 1, "a\x00")))
    assert caught.value.option == "cursor"


@fuzz
@given(cursor=st.text(max_size=80) | st.from_regex(r"\A[A-Za-z0-9_-]{0,60}\Z"))
def test_any_cursor_gives_a_page_or_invalid_option(storage: Storage, cursor: str) -> None:
    options: list[str] = []
    try:
        storage.list(cursor=cursor, limit=3)
    except InvalidOption as exc:
        options.append(exc.option)
    assert options in ([], ["cursor"])


@pytest.mark.parametrize("tag", [5, b"bytes", ["x"], "\ud800"])
def test_bad_tags_are_refused(storage: Storage, tag: object) -> None:
    with pytest.raises(InvalidOption):
        storage.list(tag=tag)  # type: ignore[arg-type]


# ------------------------------------------------------------------ next_id


def test_next_id_starts_at_one_and_never_repeats(storage: Storage) -> None:
    assert [storage.next_id() for _ in range(5)] == [1, 2, 3, 4, 5]


def test_next_id_is_unique_across_threads(storage: Storage) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [storage.next_id() for _ in range(50)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 301))


# ------------------------------------------------------------------ visits


def test_record_visit_counts(storage: Storage) -> None:
    storage.create(make("hit"))
    results = [storage.record_visit(Visit(code="hit", at=T0)) for _ in range(3)]
    assert [(r.allowed, r.visits) for r in results] == [(True, 1), (True, 2), (True, 3)]
    got = storage.get("hit")
    assert got is not None
    assert got.visits == 3


def test_max_visits_is_enforced_and_refused_visits_are_not_recorded(storage: Storage) -> None:
    storage.create(make("limited", max_visits=2))
    results = [storage.record_visit(Visit(code="limited", at=T0)) for _ in range(4)]
    assert [(r.allowed, r.visits) for r in results] == [
        (True, 1),
        (True, 2),
        (False, 2),
        (False, 2),
    ]
    assert len(list(storage.visits("limited"))) == 2


def test_max_visits_zero_allows_nobody(storage: Storage) -> None:
    storage.create(make("zero", max_visits=0))
    result = storage.record_visit(Visit(code="zero", at=T0))
    assert (result.allowed, result.visits) == (False, 0)


def test_uncounted_visits_are_recorded_but_not_counted_or_limited(storage: Storage) -> None:
    storage.create(make("bots", max_visits=1))
    assert storage.record_visit(Visit(code="bots", at=T0)).allowed
    bot = Visit(code="bots", at=T0 + timedelta(seconds=1), is_bot=True, user_agent="Googlebot")
    result = storage.record_visit(bot, count=False)
    assert (result.allowed, result.visits) == (True, 1)
    assert list(storage.visits("bots"))[-1] == bot
    got = storage.get("bots")
    assert got is not None
    assert got.visits == 1


def test_record_visit_on_a_missing_link_raises(storage: Storage) -> None:
    with pytest.raises(LinkNotFound):
        storage.record_visit(Visit(code="nope", at=T0))
    with pytest.raises(LinkNotFound):
        storage.record_visit(Visit(code="nope", at=T0), count=False)


@pytest.mark.parametrize(
    "visit",
    [
        "not a visit",
        Visit(code="v", at=datetime(2030, 1, 1)),
        Visit(code="v", at=T0, ip=5),  # type: ignore[arg-type]
        Visit(code="v", at=T0, user_agent="\ud800"),
        Visit(code="v", at=T0, is_bot="no"),  # type: ignore[arg-type]
    ],
)
def test_record_visit_refuses_bad_visits(storage: Storage, visit: object) -> None:
    storage.create(make("v"))
    with pytest.raises(InvalidOption):
        storage.record_visit(visit)  # type: ignore[arg-type]
    got = storage.get("v")
    assert got is not None
    assert got.visits == 0
    assert list(storage.visits("v")) == []


def test_visits_round_trip_and_come_oldest_first(storage: Storage) -> None:
    storage.create(make("seen"))
    shanghai = ZoneInfo("Asia/Shanghai")
    recorded = [
        Visit(
            code="seen",
            at=T0 + timedelta(minutes=m),
            ip="2001:db8::1",
            user_agent="Mozilla/5.0 MicroMessenger/8.0",
            referer="https://例子.cn/",
            app="wechat",
            os="ios",
            device="mobile",
            language="zh-CN",
        )
        for m in (5, 1, 3)
    ]
    recorded.append(Visit(code="seen", at=datetime(2030, 1, 1, 20, 2, tzinfo=shanghai)))  # 12:02Z
    recorded.append(Visit(code="seen", at=T0 + timedelta(minutes=1)))  # a tie: after the first
    for visit in recorded:
        storage.record_visit(visit)
    got = list(storage.visits("seen"))
    assert got == [recorded[1], recorded[4], recorded[3], recorded[2], recorded[0]]
    assert got[2].at.utcoffset() == timedelta(hours=8)


def test_visits_window_and_limit(storage: Storage) -> None:
    storage.create(make("w"))
    for minute in range(10):
        storage.record_visit(Visit(code="w", at=T0 + timedelta(minutes=minute)))
    minutes = [
        int((v.at - T0).total_seconds() // 60)
        for v in storage.visits(
            "w", since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=7)
        )
    ]
    assert minutes == [2, 3, 4, 5, 6]
    assert len(list(storage.visits("w", limit=4))) == 4
    assert len(list(storage.visits("w", since=T0 + timedelta(minutes=8), limit=4))) == 2
    assert list(storage.visits("w", since=T0, until=T0)) == []


def test_visits_of_unknown_links_are_empty(storage: Storage) -> None:
    assert list(storage.visits("nobody")) == []
    assert list(storage.visits("\ud800")) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": datetime(2030, 1, 1)},
        {"until": "2030-01-01"},
        {"limit": 0},
        {"limit": -5},
        {"limit": "3"},
    ],
)
def test_visits_refuses_bad_options(storage: Storage, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOption):
        storage.visits("x", **kwargs)  # type: ignore[arg-type]


def test_many_visits_stream_in_order(storage: Storage) -> None:
    storage.create(make("many"))
    for i in range(1203):
        storage.record_visit(Visit(code="many", at=T0 + timedelta(seconds=i % 600)))
    got = list(storage.visits("many"))
    assert len(got) == 1203
    assert [v.at for v in got] == sorted(v.at for v in got)
    assert len(list(storage.visits("many", limit=1001))) == 1001


# ------------------------------------------------------------------ check, close, url


def test_check_passes_on_a_working_store(storage: Storage) -> None:
    storage.check()


def test_url_is_a_string_with_the_scheme(storage: Storage) -> None:
    assert isinstance(storage.url, str)
    assert "://" in storage.url


def test_after_close_every_call_raises_backend_unavailable(
    storage_factory: Callable[[], Storage],
) -> None:
    store = storage_factory()
    store.create(make("x"))
    store.close()
    store.close()  # twice is fine
    calls: list[Callable[[], object]] = [
        store.check,
        lambda: store.get("x"),
        lambda: store.create(make("y")),
        store.next_id,
        lambda: store.list(),
        lambda: list(store.visits("x")),
        lambda: store.record_visit(Visit(code="x", at=T0)),
        lambda: store.update("x", {"title": "t"}),
        lambda: store.delete("x"),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable):
            call()


def test_threads_share_one_store_exactly(storage: Storage) -> None:
    storage.create(make("shared", max_visits=150))
    allowed: list[bool] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(25):
            storage.create(make(f"w{n}-{i}"))
        results = [storage.record_visit(Visit(code="shared", at=T0)).allowed for _ in range(40)]
        with lock:
            allowed.extend(results)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 150
    got = storage.get("shared")
    assert got is not None
    assert got.visits == 150
    assert len(list(storage.visits("shared"))) == 150
    assert sum(len(p) for p in every_page(storage, limit=MAX_PAGE_SIZE)) == 126


# ------------------------------------------------------------------ fuzz: only SuolinkError


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
)


@fuzz
@given(code=junk, field=st.sampled_from([*sorted(Link.UPDATABLE), "code", "x"]), value=junk)
def test_untrusted_arguments_raise_only_suolink_errors(
    storage: Storage, code: object, field: str, value: object
) -> None:
    if storage.get("fz") is None:
        storage.create(make("fz"))
    before = storage.get("fz")
    calls: list[Callable[[], object]] = [
        lambda: storage.get(code),  # type: ignore[arg-type]
        lambda: storage.update(code, {field: value}),  # type: ignore[arg-type]
        lambda: storage.update("fz", {field: value}),
        lambda: list(storage.visits(code)),  # type: ignore[arg-type]
        lambda: list(storage.visits("fz", since=value, limit=code)),  # type: ignore[arg-type]
        lambda: storage.list(cursor=code, tag=value, limit=3),  # type: ignore[arg-type]
        lambda: storage.record_visit(Visit(code=code, at=value)),  # type: ignore[arg-type]
    ]
    for call in calls:
        with contextlib.suppress(SuolinkError):
            call()
    after = storage.get("fz")
    assert after is not None
    if field not in Link.UPDATABLE:
        assert after == before
