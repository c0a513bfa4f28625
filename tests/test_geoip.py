"""geoip.py and the GeoIP settings: places from a real .mmdb (IPv4 and IPv6), country
rules in the policy, country targets, stats by country; nothing changes without one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import Shortener
from suolink.errors import ConfigurationError, InvalidOption
from suolink.geoip import NOWHERE, GeoIP, Place, PlaceFinder, place_of
from suolink.models import PageDecision, Visitor
from tests import geodb
from tests.geodb import CN_V4, CN_V6, DE_V6, FR_V4, UNKNOWN_V4, UNKNOWN_V6, US_V4

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return geodb.build(tmp_path_factory.mktemp("geo") / "city.mmdb")


@pytest.fixture
def geo(db_path: Path) -> GeoIP:
    return GeoIP(db_path)


@pytest.fixture
def shortener(db_path: Path) -> Shortener:
    return Shortener("memory://", secret="s", geoip_db=str(db_path))


def person(ip: str | None, lang: str = "en") -> Visitor:
    return Visitor(user_agent=CHROME, ip=ip, accept_language=lang)


# -- lookups ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        (CN_V4, Place("CN", "Guangdong", "Shenzhen")),
        (US_V4, Place("US")),
        (FR_V4, Place("FR")),  # only the registered country
        (DE_V6, Place("DE", "Land Berlin", "Berlin")),
        (CN_V6, Place("CN")),
        ("::ffff:1.2.3.4", Place("CN", "Guangdong", "Shenzhen")),  # IPv4-mapped
        (UNKNOWN_V4, NOWHERE),
        (UNKNOWN_V6, NOWHERE),
        ("not an address", NOWHERE),
        ("", NOWHERE),
        (None, NOWHERE),
        ("1.2.3.4\x00", NOWHERE),
        ("1" * 1000, NOWHERE),
    ],
)
def test_lookup(geo: GeoIP, ip: str | None, place: Place) -> None:
    assert geo.lookup(ip) == place
    assert geo.lookup(ip) == place  # the cached answer is the same


def test_a_geoip_is_a_place_finder(geo: GeoIP) -> None:
    assert isinstance(geo, PlaceFinder)
    assert geo.database_type == "GeoIP2-City"
    assert "city.mmdb" in repr(geo)


def test_lookups_are_cached(geo: GeoIP) -> None:
    geo.lookup(CN_V4)
    geo.lookup(CN_V4)
    info = geo._cached.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_a_missing_or_foreign_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        GeoIP(tmp_path / "nowhere.mmdb")
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigurationError, match="cannot read"):
        Shortener("memory://", geoip_db=str(junk))
    with pytest.raises(ConfigurationError):
        Shortener("memory://", geoip_db=42)  # type: ignore[arg-type]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "country",
                        "registered_country",
                        "country_code",
                        "iso_code",
                        "names",
                        "en",
                        "subdivisions",
                        "city",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_record_shape_gives_a_place_or_nowhere(record: Any) -> None:
    place = place_of(record)
    assert place.country is None or re.fullmatch(r"[A-Z]{2}", place.country)
    for name in (place.region, place.city):
        assert name is None or (0 < len(name) <= 100 and "\n" not in name)


def test_flat_records_of_other_publishers() -> None:
    assert place_of({"country_code": "jp"}) == Place("JP")
    assert place_of({"country": "KR"}) == Place("KR")
    assert place_of({"country": {"iso_code": "Germany"}}) == NOWHERE


# -- visits and stats -------------------------------------------------------------------


def test_visits_gain_the_place_and_stats_count_countries(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/")
    for ip in (CN_V4, CN_V6, DE_V6, UNKNOWN_V4, None):
        assert shortener.resolve(link.code, person(ip)).status == 302
    recorded = [(v.country, v.region, v.city) for v in shortener.visits(link.code)]
    assert recorded == [
        ("CN", "Guangdong", "Shenzhen"),
        ("CN", None, None),
        ("DE", "Land Berlin", "Berlin"),
        (None, None, None),
        (None, None, None),
    ]
    assert shortener.stats(link.code).by_country == {"CN": 2, "DE": 1}


def test_a_database_keeps_the_planned_redirect_and_records_the_place(
    shortener: Shortener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a database, a link no country decides still takes the in-process plan (the
    redirect costs a cached look-up, not the policy's path); the place is recorded."""
    plain = shortener.shorten("https://example.com/plain")
    ruled = shortener.shorten("https://example.com/ruled", geo_targets={"CN": "https://e.cn/"})
    shortener.resolve(plain.code, person(US_V4))  # makes the plan

    def no_policy(*args: object, **kwargs: object) -> object:
        raise AssertionError("the policy's path was taken")

    monkeypatch.setattr("suolink.shortener.decide", no_policy)
    assert dict(shortener.resolve(plain.code, person(CN_V4)).headers)["Location"] == (
        "https://example.com/plain"
    )
    with pytest.raises(AssertionError, match="policy"):
        shortener.resolve(ruled.code, person(CN_V4))  # the country decides: no plan
    monkeypatch.undo()
    assert [v.country for v in shortener.visits(plain.code)] == ["US", "CN"]
    assert dict(shortener.resolve(ruled.code, person(CN_V4)).headers)["Location"] == (
        "https://e.cn/"
    )


def test_without_a_database_everything_works_and_country_is_empty() -> None:
    shortener = Shortener("memory://")
    assert shortener.geoip is None
    link = shortener.shorten("https://example.com/", deny_countries=["CN"])
    assert shortener.resolve(link.code, person(CN_V4)).status == 302
    (visit,) = shortener.visits(link.code)
    assert visit.country is None
    assert shortener.stats(link.code).by_country == {}


def test_a_host_may_place_visitors_itself() -> None:
    """Any PlaceFinder will do: a CDN's country header, a lookup service of the host's."""

    class Everyone:
        def lookup(self, ip: str | None) -> Place:
            return Place("NZ")

    shortener = Shortener("memory://", geoip_db=Everyone())
    link = shortener.shorten("https://example.com/", geo_targets={"nz": "https://nz.example/"})
    decision = shortener.resolve(link.code, person("192.0.2.1"))
    assert dict(decision.headers)["Location"] == "https://nz.example/"
    shortener.close()  # the host's finder is the host's to close


# -- country rules ----------------------------------------------------------------------


def test_allow_countries_lets_only_those_in(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", allow_countries="cn, de")
    assert link.allow_countries == {"CN", "DE"}
    assert shortener.resolve(link.code, person(CN_V4)).status == 302
    assert shortener.resolve(link.code, person(DE_V6)).status == 302
    refused = shortener.resolve(link.code, person(US_V4))
    assert refused.status == 403
    assert isinstance(refused, PageDecision)
    assert "not available in your country" in refused.html
    # An unknown place is not in the list: refused too (the owner asked for those only).
    assert shortener.resolve(link.code, person(UNKNOWN_V6)).status == 403
    assert shortener.stats(link.code).by_outcome == {"redirect": 2, "denied": 2}


def test_deny_countries_turns_those_away_in_their_language(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", deny_countries=["CN"])
    refused = shortener.resolve(link.code, person(CN_V6, lang="zh-CN"))
    assert refused.status == 403
    assert isinstance(refused, PageDecision)
    assert "此链接在您所在的国家或地区不可用" in refused.html
    assert shortener.resolve(link.code, person(DE_V6)).status == 302
    assert shortener.resolve(link.code, person(UNKNOWN_V4)).status == 302


def test_platform_refusals_keep_their_own_words(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", allow=["ios"], deny_countries=["US"])
    refused = shortener.resolve(link.code, person(US_V4))
    assert isinstance(refused, PageDecision)
    assert "country" not in refused.html


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("allow_countries", ["China"]),
        ("allow_countries", ["C1"]),
        ("deny_countries", 5),
        ("geo_targets", ["CN"]),
        ("geo_targets", {"CHN": "https://e.com/"}),
        ("geo_targets", {"cn": "https://e.com/", "CN": "https://f.com/"}),
    ],
)
def test_bad_country_settings_are_refused(shortener: Shortener, name: str, value: object) -> None:
    with pytest.raises(InvalidOption) as caught:
        shortener.shorten("https://example.com/", **{name: value})  # type: ignore[arg-type]
    assert caught.value.option == name


# -- country targets --------------------------------------------------------------------


def test_geo_targets_after_platform_targets_before_the_split(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/",
        targets={"ios": "https://apps.apple.com/x"},
        geo_targets={"cn": "https://example.cn/"},
        split=[{"url": "https://a.example/"}, {"url": "https://b.example/"}],
    )
    iphone = Visitor(
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ip=CN_V4,
    )
    assert (
        dict(shortener.resolve(link.code, iphone).headers)["Location"] == "https://apps.apple.com/x"
    )
    assert (
        dict(shortener.resolve(link.code, person(CN_V4)).headers)["Location"]
        == "https://example.cn/"
    )
    other = dict(shortener.resolve(link.code, person(DE_V6)).headers)["Location"]
    assert other in {"https://a.example/", "https://b.example/"}
    arms = [v.arm for v in shortener.visits(link.code)]
    assert arms[:2] == [None, None]
    assert arms[2] in {"a", "b"}
