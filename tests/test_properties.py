"""Properties over arbitrary input: settings, HTTP bodies, languages, link serialisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Link
from suolink.api import HttpApi, HttpRequest
from suolink.models import AntiBlockMode, Visitor
from suolink.options import SETTING_NAMES
from suolink.render import LANGUAGES, pick_language
from suolink.shortener import Shortener

NOW = datetime(2030, 1, 1, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
setting_names = st.sampled_from(sorted(SETTING_NAMES | {"url", "bogus"}))


@given(st.text(max_size=600))
def test_pick_language_always_answers_a_supported_language(header: str) -> None:
    assert pick_language(header) in LANGUAGES


SHORTENER = Shortener("memory://", secret="p", base_url="https://s.example")
API = HttpApi(SHORTENER, api_token="t")


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    route=st.sampled_from(["links", "link", "link_stats", "resolve", "index", "health"]),
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    body=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(
        setting_names | st.sampled_from(["code", "strategy"]), json_values, max_size=5
    )
    .map(lambda d: {"url": "https://example.com/", **d})
    .map(lambda v: json.dumps(v).encode()),
    code=st.text(max_size=30),
    query=st.lists(
        st.tuples(st.sampled_from(["limit", "cursor", "tag", "since"]), st.text(max_size=20)),
        max_size=3,
    ),
    ctype=st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=utf-8"]
    ),
)
def test_api_never_answers_5xx_to_bad_input(
    route: str, method: str, body: bytes, code: str, query: list[tuple[str, str]], ctype: str
) -> None:
    request = HttpRequest(
        method=method,
        query=tuple(query),
        headers=(("authorization", "Bearer t"), ("content-type", ctype)),
        body=body,
        base_url="https://s.example",
    )
    params = {"code": code} if route in ("link", "link_stats", "resolve") else {}
    decision = API.handle(route, request, **params)
    assert 200 <= decision.status < 500, decision.body


platform = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
links = st.builds(
    Link,
    code=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
    url=st.text(min_size=1, max_size=50),
    created_at=st.datetimes(timezones=st.just(UTC)),
    expires_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    max_visits=st.none() | st.integers(1, 10**9),
    password_hash=st.none() | st.text(max_size=20),
    anti_block=st.none() | st.frozensets(platform, max_size=4),
    anti_block_mode=st.sampled_from(AntiBlockMode),
    allow=st.none() | st.frozensets(platform, max_size=4),
    deny=st.frozensets(platform, max_size=3),
    targets=st.lists(
        st.tuples(platform, st.text(max_size=20)), max_size=3, unique_by=lambda t: t[0]
    ).map(tuple),
    title=st.none() | st.text(max_size=30),
    tags=st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True).map(tuple),
    disabled=st.booleans(),
    visits=st.integers(0, 10**9),
    language=st.sampled_from([None, "zh-CN", "en"]),
)


@given(links)
def test_link_json_round_trip(link: Link) -> None:
    assert Link.from_json(link.to_json()) == link


@given(st.text(max_size=200), st.text(max_size=200))
@settings(deadline=None)  # the process's first resolve loads detection and templates
def test_resolve_never_raises_for_any_code_or_agent(code: str, agent: str) -> None:
    decision = SHORTENER.resolve(code, Visitor(user_agent=agent, accept_language=agent))
    assert decision.status in (200, 302, 401, 403, 404, 410)


@given(agent=st.text(max_size=80), referer=st.text(max_size=80), ip=st.text(max_size=20))
@settings(max_examples=150)
def test_any_visitor_text_is_recorded_on_a_real_link(agent: str, referer: str, ip: str) -> None:
    """NUL bytes and lone surrogates from a client never turn a visit into an error."""
    with Shortener("memory://", secret="p", base_url="https://s.example", store_ip=True) as s:
        code = s.shorten("https://example.com/").code
        visitor = Visitor(user_agent=agent + "\x00\ud800", referer=referer + "\x00", ip=ip)
        assert s.resolve(code, visitor).status in (200, 302, 403)
        assert len(list(s.storage.visits(code))) == 1


_pairs = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4)


@given(
    headers=st.one_of(st.none(), _pairs, _pairs.map(tuple), _pairs.map(dict)),
    query=st.one_of(st.none(), _pairs, _pairs.map(tuple), _pairs.map(dict)),
)
def test_a_visitor_holds_its_pairs_frozen_whatever_it_was_given(headers: Any, query: Any) -> None:
    """Empty tuples skip the freezing (the common request); every other shape is frozen
    as before: tuples of text pairs, header names lower-cased."""
    visitor = Visitor(headers=headers, query=query)
    given_headers = list((headers or {}).items()) if isinstance(headers, dict) else headers or []
    given_query = list((query or {}).items()) if isinstance(query, dict) else query or []
    assert visitor.headers == tuple((k.lower(), v) for k, v in given_headers)
    assert visitor.query == tuple((k, v) for k, v in given_query)
    assert type(visitor.headers) is tuple
    assert type(visitor.query) is tuple
    assert all(type(pair) is tuple for pair in visitor.headers + visitor.query)
