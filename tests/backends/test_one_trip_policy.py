"""The one-trip redirect never lets in anyone the policy would not redirect and count.

A backend that ``RecordsInOneTrip`` holds a second copy of the policy's "could refuse"
rules (the Redis link hash's ``o`` flag, kept by ``refresh_open`` in ``lib.lua``). This
ties it to :func:`suolink.policy.decide`: for generated links and real visitors from the
detection corpus, whenever the one-trip path records a visit, the policy says
redirect-and-count; whenever the backend answers "a setting could refuse", one does.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from suolink.backends import Storage
from suolink.backends.base import RecordsInOneTrip
from suolink.detect import Client, detect
from suolink.geoip import NOWHERE, Place
from suolink.models import AntiBlockMode, Link, Visit, Visitor
from suolink.passwords import hash_password
from suolink.policy import Ruling, Verdict, decide
from suolink.visits import build_visit, record_in_one_trip, takes_one_trip

from .conftest import claiming

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
PASSWORD = "open sesame"
PASSWORD_HASH = hash_password(PASSWORD)  # scrypt is slow: once per session

# ------------------------------------------------------------------ real visitors

CORPUS = Path(__file__).parent.parent / "detect" / "ua_corpus.csv"
PER_KIND = 3


def _kinds() -> dict[str, Callable[[str, Client], bool]]:
    """Kinds of visitor, each a test on (user agent, detected client)."""

    def app(name: str, os: str | None = None) -> Callable[[str, Client], bool]:
        return lambda ua, c: c.app == name and (os is None or c.os == os)

    return {
        "wechat-ios": app("wechat", "ios"),
        "wechat-android": app("wechat", "android"),
        "wechat-mini-program": lambda ua, c: c.mini_program,
        "wecom": app("wecom"),
        "qq-ios": app("qq", "ios"),
        "qq-android": app("qq", "android"),
        "qqbrowser": app("qqbrowser"),
        "weibo": app("weibo"),
        "douyin": app("douyin"),
        "alipay": app("alipay"),
        "dingtalk": app("dingtalk"),
        "telegram": app("telegram"),
        "line": app("line"),
        "facebook": app("facebook"),
        "instagram": app("instagram"),
        "unknown-webview": lambda ua, c: c.webview and c.app is None,
        "desktop-chrome": lambda ua, c: (
            c.device == "desktop" and not c.in_app and "Chrome/" in ua and "Edg" not in ua
        ),
        "desktop-other": lambda ua, c: (
            c.device == "desktop" and not c.in_app and "Chrome/" not in ua
        ),
        "safari-iphone": lambda ua, c: (
            c.os == "ios" and not c.in_app and c.app is None and "Safari/" in ua
        ),
        "android-chrome": lambda ua, c: c.os == "android" and not c.in_app and c.app is None,
        "ipad": lambda ua, c: c.os == "ipados",
        "harmonyos": lambda ua, c: c.os == "harmonyos",
        "bot": lambda ua, c: c.is_bot and not c.is_preview,
        "preview": lambda ua, c: c.is_preview,
    }


def _pick_visitors() -> list[tuple[str, str, dict[str, str]]]:
    """A varied set of (kind, user agent, headers) rows from the detection corpus."""
    rows = list(csv.DictReader(CORPUS.open(encoding="utf-8")))
    picked: list[tuple[str, str, dict[str, str]]] = []
    for kind, test in _kinds().items():
        found = 0
        for row in rows:
            headers = json.loads(row["headers"]) if row["headers"] else {}
            if test(row["user_agent"], detect(row["user_agent"], headers)):
                picked.append((kind, row["user_agent"], headers))
                found += 1
                if found == PER_KIND:
                    break
        assert found, f"the corpus has no {kind} visitor"
    return [*picked, ("empty", "", {})]


VISITORS = _pick_visitors()

HINTS = st.fixed_dictionaries(
    {},
    optional={
        "X-Requested-With": st.sampled_from(
            [
                "com.tencent.mm",
                "com.tencent.mobileqq",
                "com.android.chrome",
                "org.telegram.messenger",
            ]
        ),
        "Sec-CH-UA-Platform": st.sampled_from(['"Android"', '"Windows"', '"macOS"', '"iOS"']),
        "Sec-CH-UA-Mobile": st.sampled_from(["?0", "?1"]),
        "Sec-CH-UA-Model": st.sampled_from(['"Pixel 7"', '""']),
    },
)


def sometimes(strategy: st.SearchStrategy[Any], default: Any = None) -> st.SearchStrategy[Any]:
    """``strategy`` about one time in six, else ``default``.

    Settings drawn so are mostly absent, so many links differ from an open one by a
    single setting: the cases where a forgotten rule in the backend would show.
    """
    return st.integers(0, 5).flatmap(lambda n: strategy if n == 0 else st.just(default))


@st.composite
def visitors(draw: st.DrawFn) -> Visitor:
    _kind, user_agent, headers = draw(st.sampled_from(VISITORS))
    hints = draw(HINTS)
    typed = draw(sometimes(st.sampled_from([PASSWORD, "wrong"])))
    return Visitor(user_agent=user_agent, headers={**headers, **hints}, password=typed)


# ------------------------------------------------------------------ links

PLATFORMS = [
    "wechat", "qq", "weibo", "telegram", "line", "qqbrowser", "ios", "ipados", "android",
    "harmonyos", "windows", "macos", "mobile", "desktop", "bot", "in_app", "browser",
    "webview", "miniprogram", "blocking_apps", "china_apps", "preview", "crawler", "human",
    "apple",
]  # fmt: skip
PLATFORM_SETS = st.frozensets(st.sampled_from(PLATFORMS), max_size=3)
#: Expiry around NOW, with the boundary (exactly NOW, a microsecond either side) likely.
EXPIRY = st.one_of(
    st.sampled_from([-1, 0, 1]).map(lambda us: NOW + timedelta(microseconds=us)),
    st.integers(-3_000_000, 3_000_000).map(lambda us: NOW + timedelta(microseconds=us)),
)


@st.composite
def settings_(draw: st.DrawFn) -> dict[str, Any]:
    """Every setting the policy reads, as ``Link`` fields."""
    return {
        "disabled": draw(sometimes(st.just(True), False)),
        "expires_at": draw(sometimes(EXPIRY)),
        "max_visits": draw(st.none() | st.integers(1, 3)),
        "password_hash": draw(sometimes(st.just(PASSWORD_HASH))),
        "allow": draw(sometimes(PLATFORM_SETS)),
        "deny": draw(sometimes(PLATFORM_SETS, frozenset())),
        "anti_block": draw(sometimes(PLATFORM_SETS)),
        "anti_block_mode": draw(st.sampled_from(AntiBlockMode)),
        "targets": tuple(
            (platform, f"https://t.example/{platform}")
            for platform in draw(st.lists(st.sampled_from(PLATFORMS), max_size=3, unique=True))
        ),
        "allow_countries": draw(sometimes(st.just(frozenset({"CN", "US"})))),
        "deny_countries": draw(sometimes(st.just(frozenset({"CN"})), frozenset())),
        "warning": draw(sometimes(st.just("careful"))),
        "abuse_status": draw(sometimes(st.sampled_from([451, 410]))),
        "geo_targets": draw(sometimes(st.just((("CN", "https://t.example/cn"),)), ())),
        "split": draw(
            sometimes(
                st.just((("a", "https://t.example/a", 1), ("b", "https://t.example/b", 2))), ()
            )
        ),
        "domain": draw(sometimes(st.just("s1.example"))),
        "pool": draw(sometimes(st.just("main"))),
    }


@dataclass(frozen=True)
class Case:
    """One generated example: how the link is stored, then who opens it."""

    settings: dict[str, Any]
    #: Settings the link was created with, then updated to ``settings`` (None: created so).
    created_with: dict[str, Any] | None
    visits_before: int
    visitor: Visitor
    #: Where the GeoIP lookup placed the visitor.
    place: Place = NOWHERE


CASES = st.builds(
    Case,
    settings=settings_(),
    created_with=st.none() | settings_(),
    visits_before=st.integers(0, 3),
    visitor=visitors(),
    place=st.sampled_from([NOWHERE, Place("CN"), Place("US", "California", "San Jose")]),
)


def could_refuse(link: Link, at: datetime) -> bool:
    """True if a setting of ``link`` could turn some visitor away at ``at``.

    Each is a step of :func:`suolink.policy.decide` that depends on more than the count:
    disabled (1), expired (2), allow and deny lists (3), anti-block apps other than the
    preset's, whose visitors never take the one trip (5), and a password (6). A weighted
    split refuses no one, but its arm (recorded with the visit) is the policy's to choose.
    """
    return (
        link.disabled
        or link.is_expired(at)
        or link.password_hash is not None
        or link.allow is not None
        or bool(link.deny)
        or (link.anti_block is not None and link.anti_block_mode is not AntiBlockMode.OFF)
        or bool(link.split)
        or link.allow_countries is not None
        or bool(link.deny_countries)
        or link.warning is not None
        or link.abuse_status is not None
        or link.domain is not None  # bound to a domain or pool: the host decides
        or link.pool is not None
    )


# ------------------------------------------------------------------ the property

_codes = itertools.count()
fuzz = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _store(storage: Storage, case: Case) -> Link:
    """The link of ``case`` in ``storage``, opened ``visits_before`` times (as counted)."""
    code = f"p{next(_codes)}"
    link = Link(code=code, url="https://example.com/", created_at=NOW - timedelta(days=1))
    if case.created_with is None:
        storage.create(replace(link, **case.settings))
    else:
        storage.create(replace(link, **case.created_with))
        storage.update(code, case.settings)
    for i in range(case.visits_before):  # up to max_visits: the rest are refused
        storage.record_visit(Visit(code=code, at=NOW - timedelta(minutes=i + 1)))
    stored = storage.get(code)
    assert stored is not None
    return stored


def _check(storage: Storage, case: Case) -> None:
    assert isinstance(storage, RecordsInOneTrip)
    before = _store(storage, case)
    visitor = case.visitor
    client = detect(visitor.user_agent, visitor.headers)
    logged = len(list(storage.visits(before.code)))
    note(f"link={before!r}\nclient={client!r}")
    visit = build_visit(
        before.code,
        visitor,
        client,
        at=NOW,
        outcome="redirect",
        key=b"k",
        store_ip=False,
        place=case.place,
    )
    if takes_one_trip(client, visitor):
        ruling = record_in_one_trip(storage, visit, client)  # exactly the Shortener's path
        policy = decide(
            before, client, now=visit.at, password=visitor.password, country=visit.country
        )
        note(f"one trip: {ruling!r}\npolicy: {policy!r}")
        left_alone = ruling is None
        counted = ruling is not None and ruling.verdict is Verdict.REDIRECT
        if ruling is not None and ruling.verdict is Verdict.REDIRECT:
            assert (policy.verdict, policy.location, policy.outcome, policy.count) == (
                Verdict.REDIRECT,
                ruling.location,
                "redirect",
                True,
            )
        elif ruling is not None:
            assert ruling == Ruling(Verdict.EXHAUSTED, before)
            assert policy.verdict is Verdict.EXHAUSTED
        recorded = counted
    else:
        # The Shortener asks the policy first for these visitors; the backend's own half
        # of the rule (which links it leaves alone) holds whoever visits.
        _, result = storage.get_and_record(visit, count=False)
        left_alone = result is None
        recorded, counted = not left_alone, False
    # The backend leaves exactly the links a setting could refuse: never an open one it
    # should have served in one trip, never one the policy might have turned away.
    assert left_alone == could_refuse(before, visit.at)
    after = storage.get(before.code)
    assert after is not None
    assert after.visits == before.visits + counted
    assert len(list(storage.visits(before.code))) == logged + recorded


CHROME = next(ua for kind, ua, _ in VISITORS if kind == "desktop-chrome")
WECHAT = next(ua for kind, ua, _ in VISITORS if kind == "wechat-android")
QQ = next(ua for kind, ua, _ in VISITORS if kind == "qq-ios")


def _case(visitor: Visitor, visits_before: int = 0, **settings: Any) -> Case:
    return Case(settings=settings, created_with=None, visits_before=visits_before, visitor=visitor)


@claiming("records_in_one_trip")
@fuzz
@given(case=CASES)
@example(case=_case(Visitor(user_agent=CHROME), expires_at=NOW))  # expired at the visit
@example(case=_case(Visitor(user_agent=CHROME), 2, max_visits=2))  # used up
@example(case=_case(Visitor(user_agent=CHROME), anti_block=frozenset({"qq"})))
@example(case=_case(Visitor(user_agent=QQ)))  # the preset's app: the policy's guide page
@example(case=_case(Visitor(user_agent=WECHAT), anti_block=frozenset(), anti_block_mode="off"))
def test_the_one_trip_is_never_more_permissive_than_the_policy(
    storage: Storage, case: Case
) -> None:
    _check(storage, case)
