"""The OpenAPI document is built from the routes it is handed, and loads without the table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import suolink
from suolink import openapi as old_openapi
from suolink.http import HttpApi
from suolink.http.openapi import openapi_document
from suolink.http.routes import ROUTES, Route
from tests.http.conftest import request


def _path(pattern: str, prefix: str = "") -> str:
    return (prefix + re.sub(r"<(\w+)>", r"{\1}", pattern)) or "/"


DOCUMENTED = [r for r in ROUTES if r.documented]


def test_the_document_lists_every_route_and_method() -> None:
    doc = openapi_document(ROUTES)
    assert list(doc["paths"]) == [_path(r.pattern) for r in DOCUMENTED]
    for route in DOCUMENTED:
        item = doc["paths"][_path(route.pattern)]
        assert set(item) == {m.lower() for m in route.methods}, route.name
        for method, op in item.items():
            assert op["operationId"] == f"{route.name}_{method}"
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert names == re.findall(r"<(\w+)>", route.pattern.replace("<path:rest>", ""))


def test_the_api_fallback_is_not_documented() -> None:
    assert [r.name for r in ROUTES if not r.documented] == ["api_fallback"]
    assert not any("path:" in path for path in openapi_document(ROUTES)["paths"])


@pytest.mark.parametrize(
    "route", [r for r in DOCUMENTED if r.query is not None], ids=lambda r: r.name
)
def test_documented_query_parameters_are_the_ones_the_route_reads(route: Route) -> None:
    """The row's ``query`` (what is not refused) is what the document lists, per method."""
    item = openapi_document([route])["paths"][_path(route.pattern)]
    documented: set[str] = set()
    for op in item.values():
        documented |= {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    assert documented == route.query


def test_only_the_routes_handed_over_are_documented() -> None:
    some = [r for r in ROUTES if r.name in ("health", "resolve")]
    assert list(openapi_document(some)["paths"]) == ["/api/health", "/{code}"]
    assert openapi_document(())["paths"] == {}


def test_link_routes_take_the_link_prefix_and_the_rest_the_api_prefix() -> None:
    doc = openapi_document(
        ROUTES, server_url="https://x.example", api_prefix="/a", link_prefix="/s/"
    )
    expected = [_path(r.pattern, "/s" if r.group == "link" else "/a") for r in DOCUMENTED]
    assert list(doc["paths"]) == expected
    assert doc["servers"] == [{"url": "https://x.example"}]


def test_the_served_document_is_the_one_for_the_apis_routes(
    make_api: Callable[..., HttpApi],
) -> None:
    served = make_api().handle("openapi", request("GET", path="/api/openapi.json"))
    assert served.status == 200
    doc = json.loads(served.body)
    assert doc["paths"] == openapi_document(ROUTES, link_prefix="")["paths"]
    assert doc["servers"] == [{"url": "https://s.example"}]


def test_the_old_path_still_documents_every_route() -> None:
    assert old_openapi.openapi_document() == openapi_document(ROUTES)
    assert old_openapi.openapi_document(api_prefix="/p") == openapi_document(
        ROUTES, api_prefix="/p"
    )


def test_the_document_module_does_not_load_the_route_table() -> None:
    """No cycle: the table imports the handlers, which import this module, not the reverse."""
    code = (
        "import sys, suolink.http.openapi\n"
        "assert 'suolink.http.routes' not in sys.modules, 'routes loaded'\n"
        "assert 'suolink.http.handlers' not in sys.modules, 'handlers loaded'\n"
    )
    src = str(Path(suolink.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
