"""The whole HTTP surface never raises and never answers 5xx on a healthy backend.

Any route, method, path parameter, query, headers and body — including deep JSON, lone
surrogates, huge numbers, hostile headers — gets a 2xx, 3xx or 4xx ``Decision``. The
same over ``Shortener.resolve`` for any ``Visitor``.

``SUOLINK_NEVER_5XX_EXAMPLES`` raises the example count; ``scripts/never_5xx_shards.py``
splits a large count (the one-off run of 1,000,000 examples per property reported in the
notes) into seeded shards.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import passwords
from suolink.api import ROUTES, HttpApi, HttpRequest
from suolink.models import StreamedDecision, Visitor
from suolink.options import SETTING_NAMES
from suolink.shortener import Shortener

EXAMPLES = int(os.environ.get("SUOLINK_NEVER_5XX_EXAMPLES", "400"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing to replay: a failure is printed with its seed and shrunk example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# scrypt at its real cost (~40 ms) was most of an example's time whenever the "pw" link
# was tried; the same code path runs at n=2**4, and the property is about never raising.
CHEAP_SCRYPT_N = 2**4


@pytest.fixture(autouse=True, scope="module")
def _cheap_password_hashes() -> Iterator[None]:
    """Links created inside the examples hash their passwords cheaply too."""
    with mock.patch.object(passwords, "_N", CHEAP_SCRYPT_N):
        yield


SHORTENER = Shortener("memory://", secret="p", base_url="https://s.example")
with mock.patch.object(passwords, "_N", CHEAP_SCRYPT_N):
    LINKS = {
        "open": SHORTENER.shorten("https://example.com/", code="open"),
        "pw": SHORTENER.shorten("https://example.com/pw", code="pw", password="right"),
        "once": SHORTENER.shorten("https://example.com/1", code="once", max_visits=1),
        "wx": SHORTENER.shorten("https://example.com/wx", code="wx", allow=["wechat"]),
    }
APIS = {
    "token": HttpApi(SHORTENER, api_token="t"),
    "anonymous": HttpApi(SHORTENER, allow_anonymous=True, rate_limit=None),
    "closed": HttpApi(SHORTENER),
}

# Text with the characters that broke things before: brackets, NUL, lone surrogates,
# control characters, full-width digits and superscripts that str.isdigit() accepts.
nasty = st.text(
    alphabet=st.sampled_from(
        [*string.printable, "[", "]", "\x00", "\ud800", "\udc00", "²", "٣", "\u2028", "微"]
    ),
    max_size=40,
) | st.text(max_size=40)
numbers = st.integers().map(str) | st.just("9" * 5000) | st.just("²") | st.just("-1")
times = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2030-01-01T00:00:00Z",
        "2030-01-01",
        "x",
    ]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | nasty
    | times,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty, inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(sorted(SETTING_NAMES | {"url", "code", "strategy", "bogus"}))


def _deep(depth: int) -> bytes:
    return ('{"url":"https://example.com/","tags":' + "[" * depth + "]" * depth + "}").encode()


bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(keys, json_values, max_size=6)
    .map(lambda d: {"url": "https://example.com/", **d})
    .map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass"))
    | st.sampled_from([2_000, 30_000]).map(_deep)
)
header_names = st.sampled_from(
    [
        "authorization",
        "content-type",
        "accept-language",
        "user-agent",
        "referer",
        "sec-ch-ua",
        "sec-ch-ua-platform",
        "sec-ch-ua-mobile",
        "sec-ch-ua-model",
        "x-requested-with",
        "host",
        "cookie",
    ]
)
headers = st.lists(
    st.tuples(header_names, nasty | st.sampled_from(["http://[", "Bearer t", "application/json"])),
    max_size=6,
)
query_names = st.sampled_from(
    [
        "limit",
        "cursor",
        "tag",
        "since",
        "until",
        "size",
        "scale",
        "fg",
        "bg",
        "ec",
        "shorten",
        "q",
        "format",
        "bogus",
    ]
)
routes = st.sampled_from(ROUTES)


@SETTINGS
@given(
    route=routes,
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"]),
    api=st.sampled_from(sorted(APIS)),
    code=st.sampled_from(sorted(LINKS)) | nasty,
    query=st.lists(st.tuples(query_names, nasty | numbers | times), max_size=4),
    header_list=headers,
    content_type=st.sampled_from(["application/json", "", "text/plain", "multipart/form-data"]),
    body=bodies,
    form=st.lists(st.tuples(st.sampled_from(["password", "token", "x"]), nasty), max_size=2),
    image=st.none() | st.binary(max_size=300),
)
def test_http_surface_never_raises_nor_answers_5xx(
    route: object,
    method: str,
    api: str,
    code: str,
    query: list[tuple[str, str]],
    header_list: list[tuple[str, str]],
    content_type: str,
    body: bytes,
    form: list[tuple[str, str]],
    image: bytes | None,
) -> None:
    name = route.name  # type: ignore[attr-defined]
    pattern: str = route.pattern  # type: ignore[attr-defined]
    request = HttpRequest(
        method=method,
        path=re.sub(r"<(?:\w+:)?\w+>", lambda _: code, pattern),  # code is text, not a template
        query=tuple(query),
        headers=(("content-type", content_type), *header_list),
        body=body,
        remote_addr="203.0.113.9",
        form=tuple(form),
        files=() if image is None else (("image", image),),
        base_url="https://s.example",
    )
    params = dict.fromkeys(re.findall(r"<(?:\w+:)?(\w+)>", pattern), code)
    decision = APIS[api].handle(name, request, **params)
    assert 100 <= decision.status < 500, (decision.status, decision.body[:300])
    if isinstance(decision, StreamedDecision):  # an export: making it must not raise either
        decision.collect()


visitor_headers = st.lists(st.tuples(header_names, nasty), max_size=5)


@SETTINGS
@given(
    code=st.sampled_from(sorted(LINKS)) | nasty,
    agent=nasty | st.sampled_from(["", " ", "Googlebot/2.1", "MicroMessenger/8.0"]),
    referer=st.none() | nasty | st.sampled_from(["http://[", "http://]x", "//[::1"]),
    ip=st.none() | nasty,
    language=nasty,
    password=st.none() | nasty,
    hints=visitor_headers,
)
def test_resolve_never_raises_for_any_visitor(
    code: str,
    agent: str,
    referer: str | None,
    ip: str | None,
    language: str,
    password: str | None,
    hints: list[tuple[str, str]],
) -> None:
    visitor = Visitor(
        user_agent=agent,
        ip=ip,
        headers=tuple(hints),
        accept_language=language,
        referer=referer,
        password=password,
    )
    decision = SHORTENER.resolve(code, visitor)
    assert decision.status in (200, 301, 302, 303, 307, 308, 401, 403, 404, 410, 429)
