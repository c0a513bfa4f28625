"""Request -> Visitor, written once: which headers are kept, what is cut, the password."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink import api as old_api
from suolink.detect import HINT_HEADERS
from suolink.errors import BodyTooLarge, InvalidOption
from suolink.http import HttpApi, HttpRequest, visitor_from
from suolink.http.request import VISITOR_HEADERS, json_body, query_time

header_names = st.sampled_from(
    [*HINT_HEADERS, "cookie", "authorization", "user-agent", "x-forwarded-for", "sec-ch-ua"]
)


def test_visitor_headers_are_the_detection_hints() -> None:
    assert frozenset(HINT_HEADERS) == VISITOR_HEADERS
    assert old_api.VISITOR_HEADERS is VISITOR_HEADERS


@settings(deadline=None)  # a loaded shared machine must not fail it
@given(st.lists(st.tuples(header_names, st.text(max_size=20)), max_size=8))
def test_a_visitor_keeps_only_the_headers_detection_reads(headers: list[tuple[str, str]]) -> None:
    visitor = visitor_from(HttpRequest(method="GET", headers=tuple(headers)))
    assert visitor.headers == tuple((k, v) for k, v in headers if k in VISITOR_HEADERS)
    assert HttpApi.visitor(HttpRequest(method="GET", headers=tuple(headers))) == visitor


def test_a_visitor_carries_agent_address_language_and_referer_within_bounds() -> None:
    request = HttpRequest(
        method="GET",
        headers=(
            ("user-agent", "u" * 5000),
            ("accept-language", "zh-CN," * 100),
            ("referer", "https://r.example/"),
            ("x-requested-with", "com.tencent.mm"),
        ),
        remote_addr="203.0.113.9",
    )
    visitor = visitor_from(request)
    assert visitor.user_agent == "u" * 1024
    assert len(visitor.accept_language) == 256
    assert visitor.referer == "https://r.example/"
    assert visitor.ip == "203.0.113.9"
    assert visitor.header("X-Requested-With") == "com.tencent.mm"
    assert visitor.password is None


def test_the_password_comes_from_a_posted_form_only() -> None:
    form = (("password", "open sesame"),)
    assert visitor_from(HttpRequest(method="POST", form=form)).password == "open sesame"
    assert visitor_from(HttpRequest(method="GET", form=form)).password is None
    assert visitor_from(HttpRequest(method="POST")).password is None


def _json(body: bytes, ctype: str = "application/json") -> HttpRequest:
    return HttpRequest(method="POST", headers=(("content-type", ctype),), body=body)


def test_json_body_accepts_an_object_and_refuses_the_rest() -> None:
    assert json_body(_json(b'{"url": "x"}', "application/json; charset=utf-8"), 100) == {"url": "x"}
    with pytest.raises(BodyTooLarge):
        json_body(_json(b'{"url": "xxxxxxxx"}'), 5)
    for body, ctype in [(b"{}", "text/plain"), (b"{", "application/json"), (b"[]", "")]:
        with pytest.raises(InvalidOption) as caught:
            json_body(_json(body, ctype), 100)
        assert caught.value.option == "body"
    with pytest.raises(InvalidOption, match="JSON object"):
        json_body(_json(b"[1]"), 100)
    with pytest.raises(InvalidOption, match="not valid JSON"):
        json_body(_json(b"\xff"), 100)


def test_query_time_needs_an_aware_iso_time() -> None:
    def at(text: str) -> HttpRequest:
        return HttpRequest(method="GET", query=(("since", text),))

    assert query_time(at("2030-01-01T00:00:00Z"), "since") == datetime(2030, 1, 1, tzinfo=UTC)
    assert query_time(HttpRequest(method="GET"), "since") is None
    with pytest.raises(InvalidOption, match="timezone"):
        query_time(at("2030-01-01T00:00:00"), "since")
    with pytest.raises(InvalidOption, match="ISO 8601"):
        query_time(at("yesterday"), "since")


_NAMES = st.sampled_from(
    [*HINT_HEADERS, "user-agent", "accept-language", "referer", "cookie", "host", "accept", "x-a"]
)
_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=1500)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(_NAMES, _TEXT), max_size=12),
    query=st.lists(st.tuples(st.text(max_size=300), st.text(max_size=300)), max_size=40),
    address=st.none() | st.just("203.0.113.7"),
)
def test_the_raw_visitor_of_a_get_is_the_one_visitor_from_makes(
    headers: list[tuple[str, str]], query: list[tuple[str, str]], address: str | None
) -> None:
    """The ASGI app's short path reads raw headers; the visitor must not differ."""
    from urllib.parse import parse_qsl, urlencode

    from suolink.http.request import visitor_from_raw

    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    query_string = urlencode(query).encode("latin-1", "replace") if query else b""
    text = query_string.decode("latin-1")
    request = HttpRequest(
        method="GET",
        headers=tuple(headers),
        remote_addr=address,
        query=tuple(parse_qsl(text, keep_blank_values=True)) if text else (),
    )
    visitor, host = visitor_from_raw(raw, address, query_string)
    assert visitor == visitor_from(request)
    assert host == request.header("host")
