"""The route table: same rows, in the same order; each row holds its handler and access."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest

from suolink import api as old_api
from suolink.http import HttpApi, routes
from suolink.http.auth import PUBLIC
from suolink.http.routes import LINK_ROUTES, ROUTES, UPLOAD_ROUTES
from tests.http.conftest import TOKEN, json_request, request

#: The table as adapters have registered it since before the split: name, path, methods.
EXPECTED = [
    ("index", "/", ("GET",)),
    ("health", "/api/health", ("GET",)),
    ("openapi", "/api/openapi.json", ("GET",)),
    ("links", "/api/links", ("GET", "POST")),
    ("links_bulk", "/api/links/bulk", ("POST",)),
    ("link", "/api/links/<code>", ("GET", "PATCH", "DELETE")),
    ("link_stats", "/api/links/<code>/stats", ("GET",)),
    ("link_visits", "/api/links/<code>/visits", ("GET",)),
    ("conversions", "/api/conversions", ("POST",)),
    ("funnels", "/api/funnels", ("GET",)),
    ("decode", "/api/decode", ("POST",)),
    ("domains", "/api/domains", ("GET", "POST")),
    ("domain", "/api/domains/<name>", ("GET", "PATCH", "DELETE")),
    ("domain_mark", "/api/domains/<name>/mark", ("POST",)),
    ("stats_page", "/stats/<code>", ("GET", "POST")),
    ("campaigns", "/api/campaigns", ("GET",)),
    ("campaign_recipients", "/api/campaigns/<campaign>/recipients", ("GET",)),
    ("campaign_visitors", "/api/campaigns/<campaign>/visitors", ("GET",)),
    ("people_forget", "/api/people/forget", ("POST",)),
    ("campaign_page", "/campaigns/<campaign>", ("GET", "POST")),
    ("webhooks", "/api/webhooks", ("GET", "POST")),
    ("webhook", "/api/webhooks/<code>", ("DELETE",)),
    ("webhook_deliveries", "/api/webhooks/<code>/deliveries", ("GET",)),
    ("api_fallback", "/api/<path:rest>", ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")),
    ("qr_png", "/<code>.png", ("GET",)),
    ("qr_svg", "/<code>.svg", ("GET",)),
    ("resolve", "/<code>", ("GET", "POST")),
]
#: Per route and method, the action ``authorize`` is asked about (None: public).
ACTIONS = {
    ("links", "GET"): "list",
    ("links", "POST"): "create",
    ("links_bulk", "POST"): "create",
    ("link", "GET"): "read",
    ("link", "PATCH"): "update",
    ("link", "DELETE"): "delete",
    ("link_stats", "GET"): "stats",
    ("link_visits", "GET"): "stats",
    ("conversions", "POST"): "convert",
    ("funnels", "GET"): "stats",
    ("decode", "POST"): "decode",
    ("domains", "GET"): "domains",
    ("domains", "POST"): "manage_domains",
    ("domain", "GET"): "domains",
    ("domain", "PATCH"): "manage_domains",
    ("domain", "DELETE"): "manage_domains",
    ("domain_mark", "POST"): "manage_domains",
    ("stats_page", "GET"): "stats",
    ("stats_page", "POST"): "stats",
    ("campaigns", "GET"): "stats",
    ("campaign_recipients", "GET"): "stats",
    ("campaign_visitors", "GET"): "stats",
    ("people_forget", "POST"): "delete",
    ("campaign_page", "GET"): "stats",
    ("campaign_page", "POST"): "stats",
    ("webhooks", "GET"): "webhooks",
    ("webhooks", "POST"): "webhooks",
    ("webhook", "DELETE"): "webhooks",
    ("webhook_deliveries", "GET"): "webhooks",
}


def test_rows_names_patterns_methods_and_order_are_unchanged() -> None:
    assert [(r.name, r.pattern, r.methods) for r in ROUTES] == EXPECTED
    assert old_api.ROUTES is ROUTES


def test_link_routes_and_upload_routes_come_from_the_rows() -> None:
    assert frozenset({"resolve", "qr_png", "qr_svg"}) == LINK_ROUTES
    assert {r.name for r in ROUTES if r.group == "link"} == LINK_ROUTES
    assert {r.group for r in ROUTES} == {"link", "api"}
    assert frozenset({"decode"}) == UPLOAD_ROUTES
    assert old_api.LINK_ROUTES == LINK_ROUTES
    assert old_api.UPLOAD_ROUTES == UPLOAD_ROUTES


def test_the_catch_all_comes_last() -> None:
    assert ROUTES[-1].pattern == "/<code>"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_row_has_a_handler_taking_its_path_parameters(route: routes.Route) -> None:
    assert callable(route.handler)
    params = list(inspect.signature(route.handler).parameters)
    expected = ["api", "request", *re.findall(r"<(?:\w+:)?(\w+)>", route.pattern)]
    assert params == expected
    assert route.access is not None


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_each_method_asks_for_the_action_the_row_declares(route: routes.Route) -> None:
    for method in route.methods:
        expected = ACTIONS.get((route.name, method))
        assert route.access.action(request(method)) == expected, (route.name, method)
        assert (route.access is PUBLIC) == (expected is None)


def test_decode_asks_for_create_when_it_shortens() -> None:
    row = next(r for r in ROUTES if r.name == "decode")
    shorten = request("POST", query=(("shorten", "1"),))
    assert row.access.action(shorten) == "create"
    assert row.access.action(request("POST", query=(("shorten", "no"),))) == "decode"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_the_guard_runs_before_every_protected_handler(
    route: routes.Route, make_api: Callable[..., HttpApi]
) -> None:
    """With ``authorize`` refusing everything: protected rows refuse before their handler
    runs, public rows never ask, and ``authorize`` hears exactly the row's action."""
    asked: list[str] = []

    def authorize(req: object, action: str) -> bool:
        asked.append(action)
        return False

    api = make_api(api_token=TOKEN, authorize=authorize)
    for method in route.methods:
        asked.clear()
        params = dict.fromkeys(re.findall(r"<(?:\w+:)?(\w+)>", route.pattern), "nosuch")
        decision = api.handle(route.name, json_request(method, b"{}", token=None), **params)
        expected = ACTIONS.get((route.name, method))
        if expected is None:
            assert asked == []
            assert decision.status != 401
        elif route.access.login is not None:  # a page: its own login form instead
            assert asked == [expected]
            assert (decision.status, decision.reason) == (200, "login")
        else:
            assert asked == [expected]
            assert decision.status == 401, (route.name, method, decision.body)


def test_an_unknown_route_name_is_a_json_404(make_api: Callable[..., HttpApi]) -> None:
    decision = make_api().handle("nope", request())
    assert decision.status == 404
    assert decision.body == b'{"error":{"type":"not_found","message":"no route"}}'


def test_body_limit_follows_the_upload_flag(make_api: Callable[..., HttpApi]) -> None:
    api = make_api(max_body_bytes=10, max_upload_bytes=1000)
    assert {r.name: api.body_limit(r.name) for r in ROUTES if r.upload} == {"decode": 1000}
    assert api.body_limit("links") == 10
    assert api.body_limit("unknown") == 10


def test_handlers_do_not_check_access_themselves() -> None:
    from_auth = [
        name
        for name, value in vars(routes.handlers).items()
        if getattr(value, "__module__", None) == "suolink.http.auth"
    ]
    # page throttles, not access checks
    assert sorted(from_auth) == ["password_retry_after", "password_tried", "qr_render_retry_after"]
    assert "authorization" not in inspect.getsource(routes.handlers)
