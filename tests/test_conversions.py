"""Conversions: the report's checks, the funnel, and ``Shortener.record_conversion``."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Shortener, Visitor
from suolink.clicks import ClickIds
from suolink.conversions import Funnel, check_amount, check_kind, fold_funnel
from suolink.errors import (
    CapabilityMissing,
    ClickExpired,
    InvalidClickId,
    InvalidOption,
    LinkNotFound,
    SuolinkError,
)
from suolink.forwarding import CLICK_PARAM
from suolink.models import Conversion, Decision
from tests.clients import ALL
from tests.conftest import FakeClock

CHROME = Visitor(user_agent=ALL["chrome_android"], ip="198.51.100.1")


# -- the report's checks ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lead", "sale", "signup", "trial-start", "a_1"])
def test_kinds(kind: str) -> None:
    assert check_kind(kind) == kind


@pytest.mark.parametrize("kind", ["", "Sale", "1st", "a b", "x" * 33, None, 5, "<b>", "clicks"])
def test_bad_kinds(kind: object) -> None:
    with pytest.raises(InvalidOption) as caught:
        check_kind(kind)
    assert caught.value.option == "kind"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (None, None, (None, None)),
        ("19.99", "cny", (Decimal("19.99"), "CNY")),
        (19.99, "USD", (Decimal("19.99"), "USD")),
        (5, "JPY", (Decimal(5), "JPY")),
        (Decimal("1.500000000"), "EUR", (Decimal("1.5"), "EUR")),
        ("1E+3", "EUR", (Decimal(1000), "EUR")),
        ("0.00", "EUR", (Decimal(0), "EUR")),
    ],
)
def test_amounts(value: object, currency: object, expected: tuple[object, object]) -> None:
    assert check_amount(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "field"),
    [
        ("1", None, "currency"),
        (None, "CNY", "value"),
        ("1", "yuan", "currency"),
        ("1", "C1Y", "currency"),
        ("1", 5, "currency"),
        ("-1", "CNY", "value"),
        ("NaN", "CNY", "value"),
        ("sNaN", "CNY", "value"),
        ("Infinity", "CNY", "value"),
        ("1e15", "CNY", "value"),
        ("0.0000001", "CNY", "value"),
        ("abc", "CNY", "value"),
        ("", "CNY", "value"),
        ("1" * 41, "CNY", "value"),
        (True, "CNY", "value"),
        ([1], "CNY", "value"),
        (float("nan"), "CNY", "value"),
    ],
)
def test_bad_amounts(value: object, currency: object, field: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        check_amount(value, currency)
    assert caught.value.option == field


def test_the_funnel_orders_stages_and_sums_per_currency() -> None:
    t = FakeClock().now

    def made(kind: str, value: str | None = None, currency: str | None = None) -> Conversion:
        amount = None if value is None else Decimal(value)
        return Conversion(
            click_id="c", code="x", kind=kind, at=t, clicked_at=t, value=amount, currency=currency
        )

    funnel = fold_funnel(
        10,
        [
            made("sale", "1.10", "CNY"),
            made("lead"),
            made("sale", "2.20", "CNY"),
            made("sale", "3", "USD"),
            made("signup"),
        ],
    )
    assert funnel.leads == 1
    assert funnel.sales == 3
    assert funnel.values == {"sale": {"CNY": Decimal("3.30"), "USD": Decimal(3)}}
    assert [name for name, _, _ in funnel.stages()] == ["clicks", "lead", "sale", "signup"]
    assert funnel.rate("sale") == 0.3
    assert Funnel().rate("sale") is None
    assert funnel.to_dict()["values"] == {"sale": {"CNY": "3.30", "USD": "3"}}


# -- through the Shortener ----------------------------------------------------------------


def _shortener(clock: FakeClock, storage: str = "memory://", **options: Any) -> Shortener:
    options.setdefault("secret", "s")
    return Shortener(storage, base_url="https://s.example", clock=clock, **options)


def _location(decision: Decision) -> str:
    return dict(decision.headers)["Location"]


def _click_id(decision: Decision) -> str | None:
    found = parse_qs(urlsplit(_location(decision)).query).get(CLICK_PARAM)
    return found[0] if found else None


def test_a_counted_redirect_carries_a_click_id_and_conversions_make_a_funnel() -> None:
    clock = FakeClock()
    s = _shortener(clock)
    code = s.shorten("https://shop.example/p?item=7", forward_click_id=True).code
    click_id = _click_id(s.resolve(code, CHROME))
    assert click_id is not None
    clock.advance(minutes=3)
    lead = s.record_conversion(click_id)  # kind defaults to lead
    sale = s.record_conversion(click_id, "sale", value="99.50", currency="cny")
    assert (lead.kind, sale.kind, sale.value, sale.currency) == (
        "lead",
        "sale",
        Decimal("99.50"),
        "CNY",
    )
    assert sale.code == code
    assert sale.clicked_at < sale.at
    assert sale.visitor_id == s.visitor_id(CHROME)
    again, new = s.report_conversion(click_id, "sale", value="1", currency="USD")
    assert (again, new) == (sale, False)  # idempotent: the first one, nothing counted twice
    funnel = s.stats(code).funnel
    assert funnel is not None
    assert (funnel.clicks, funnel.leads, funnel.sales) == (1, 1, 1)
    assert funnel.values == {"sale": {"CNY": Decimal("99.50")}}
    assert list(s.conversions(code)) == [lead, sale]
    assert s.funnel(code) == funnel


def test_heads_bots_and_previews_get_no_click_id() -> None:
    s = _shortener(FakeClock())
    code = s.shorten("https://shop.example/", forward_click_id=True).code
    assert _click_id(s.resolve(code, CHROME, record=False)) is None
    bot = s.resolve(code, Visitor(user_agent=ALL["googlebot"]))
    assert bot.status == 302
    assert _click_id(bot) is None
    assert s.resolve(code, Visitor(user_agent=ALL["slack_preview"])).status == 200
    assert s.get(code).visits == 0


def test_the_shortener_default_and_the_link_setting() -> None:
    s = _shortener(FakeClock(), forward_click_id=True, forward_query=True)
    on = s.shorten("https://e.com/?a=1").code
    off = s.shorten("https://e.com/?a=1", forward_click_id=False, forward_query=False).code
    visitor = Visitor(user_agent=CHROME.user_agent, query=(("a", "2"), ("b", "3")))
    assert _click_id(s.resolve(on, visitor)) is not None
    assert "b=3" in _location(s.resolve(on, visitor))
    assert _location(s.resolve(off, visitor)) == "https://e.com/?a=1"


def test_forged_expired_and_orphaned_click_ids_are_typed_4xx() -> None:
    clock = FakeClock()
    s = _shortener(clock, click_id_ttl=3600)
    code = s.shorten("https://e.com/", forward_click_id=True).code
    click_id = _click_id(s.resolve(code, CHROME))
    assert click_id is not None
    with pytest.raises(InvalidClickId) as bad:
        _shortener(clock, secret="other").record_conversion(click_id)
    assert bad.value.http_status == 400
    with pytest.raises(InvalidClickId):
        s.record_conversion(click_id[:-2] + "AA")
    clock.advance(seconds=3601)
    with pytest.raises(ClickExpired) as old:
        s.record_conversion(click_id)
    assert old.value.http_status == 410
    # a click on a deleted link, or on an earlier link of a reused code
    fresh = _shortener(clock, reuse_deleted_codes=True)
    code = fresh.shorten("https://e.com/", forward_click_id=True).code
    click_id = _click_id(fresh.resolve(code, CHROME))
    assert click_id is not None
    fresh.delete(code)
    with pytest.raises(LinkNotFound):
        fresh.record_conversion(click_id)
    clock.advance(hours=1)
    fresh.shorten("https://e.com/", code=code)
    with pytest.raises(LinkNotFound):
        fresh.record_conversion(click_id)


def test_a_store_without_conversions_says_so() -> None:
    class Plain:
        """A memory store with only the base protocol's methods."""

        def __init__(self) -> None:
            from suolink.backends.memory import MemoryStorage

            self._inner = MemoryStorage()
            self.url = "plain://"

        def __getattr__(self, name: str) -> Any:
            if name in ("record_conversion", "conversions", "peek", "append_visit", "counts"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    s = Shortener(Plain(), secret="s")  # type: ignore[arg-type]
    with pytest.raises(CapabilityMissing) as caught:
        s.record_conversion("x")
    assert caught.value.http_status == 501
    assert "records_conversions" in str(caught.value)
    code = s.shorten("https://e.com/").code
    assert s.stats(code).funnel is None


def test_a_window_counts_the_conversions_of_its_clicks() -> None:
    clock = FakeClock()
    s = _shortener(clock)
    code = s.shorten("https://e.com/", forward_click_id=True).code
    first = _click_id(s.resolve(code, CHROME))
    clock.advance(days=2)
    second = _click_id(s.resolve(code, Visitor(user_agent=CHROME.user_agent, ip="192.0.2.9")))
    assert first
    assert second
    s.record_conversion(first, "sale", "10", "CNY")
    s.record_conversion(second, "sale", "20", "CNY")
    later = s.stats(code, since=clock.now - timedelta(days=1)).funnel
    assert later is not None
    assert (later.clicks, later.sales, later.values) == (1, 1, {"sale": {"CNY": Decimal(20)}})


REPORTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=60),
    st.decimals(allow_nan=True),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    click_id=st.one_of(REPORTS, st.just("genuine")),
    kind=st.one_of(REPORTS, st.sampled_from(["lead", "sale"])),
    value=REPORTS,
    currency=st.one_of(REPORTS, st.sampled_from(["CNY", "usd"])),
)
def test_record_conversion_raises_only_suolink_errors(
    click_id: object, kind: object, value: object, currency: object
) -> None:
    clock = FakeClock()
    s = _shortener(clock)
    code = s.shorten("https://e.com/", forward_click_id=True).code
    if click_id == "genuine":
        click_id = ClickIds(s._click_ids._key).mint(code, clock.now, None)
    with contextlib.suppress(SuolinkError):
        s.record_conversion(click_id, kind, value, currency)  # type: ignore[arg-type]


def test_a_new_conversion_is_an_event_and_a_repeat_is_not() -> None:
    clock = FakeClock()
    s = _shortener(clock)
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def hook(event: Any) -> None:
        seen.append(event.payload)
        done.set()

    s.on("conversion.recorded", hook)
    code = s.shorten("https://e.com/", forward_click_id=True).code
    click_id = _click_id(s.resolve(code, CHROME))
    assert click_id is not None
    s.record_conversion(click_id, "sale", "5", "USD")
    s.record_conversion(click_id, "sale", "5", "USD")
    assert done.wait(5)
    s.close()
    assert [(p["code"], p["kind"], p["value"]) for p in seen] == [(code, "sale", "5")]


def test_funnels_by_recipient_and_campaign_add_up_their_links() -> None:
    clock = FakeClock()
    s = _shortener(clock)
    made = {
        (who, campaign): s.shorten(
            "https://e.com/", recipient=who, campaign=campaign, forward_click_id=True
        ).code
        for who, campaign in [("m-1", "spring"), ("m-2", "spring"), ("m-1", "autumn")]
    }
    s.shorten("https://e.com/", forward_click_id=True)  # no recipient, no campaign
    sales = {("m-1", "spring"): "10", ("m-2", "spring"): "20", ("m-1", "autumn"): "5"}
    for n, (key, code) in enumerate(made.items()):
        visitor = Visitor(user_agent=CHROME.user_agent, ip=f"192.0.2.{n + 1}")
        click_id = _click_id(s.resolve(code, visitor))
        assert click_id is not None
        s.record_conversion(click_id, "sale", sales[key], "CNY")
        s.resolve(code, Visitor(user_agent=CHROME.user_agent, ip=f"198.51.100.{n + 1}"))
    by_recipient = s.funnels(by="recipient")
    assert list(by_recipient) == ["m-1", "m-2"]
    assert (by_recipient["m-1"].clicks, by_recipient["m-1"].sales) == (4, 2)
    assert by_recipient["m-1"].values == {"sale": {"CNY": Decimal(15)}}
    spring = s.funnels(by="recipient", campaign="spring")
    assert {k: f.values["sale"]["CNY"] for k, f in spring.items()} == {
        "m-1": Decimal(10),
        "m-2": Decimal(20),
    }
    by_campaign = s.funnels(by="campaign")
    assert {k: (f.clicks, f.sales) for k, f in by_campaign.items()} == {
        "autumn": (2, 1),
        "spring": (4, 2),
    }
    window = s.funnels(by="campaign", since=clock.now + timedelta(seconds=1))
    assert all(f.clicks == 0 and f.sales == 0 for f in window.values())
    with pytest.raises(InvalidOption):
        s.funnels(by="visitor")
