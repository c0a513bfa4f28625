"""An ``HttpApi`` over a memory store, and a request builder, for the ``tests/http`` suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from suolink.http import HttpApi, HttpRequest
from suolink.shortener import Shortener

TOKEN = "t0ken"
BASE = "https://s.example"


@pytest.fixture
def shortener() -> Iterator[Shortener]:
    with Shortener("memory://", secret="s", base_url=BASE) as s:
        yield s


@pytest.fixture
def make_api(shortener: Shortener) -> Callable[..., HttpApi]:
    def make(**options: Any) -> HttpApi:
        return HttpApi(shortener, **options)

    return make


def request(method: str = "GET", *, token: str | None = None, **fields: Any) -> HttpRequest:
    """A request; ``token`` adds a bearer Authorization header."""
    headers = tuple(fields.pop("headers", ()))
    if token is not None:
        headers = (("authorization", f"Bearer {token}"), *headers)
    return HttpRequest(method=method, headers=headers, base_url=BASE, **fields)


def json_request(method: str, payload: bytes, *, token: str | None = TOKEN) -> HttpRequest:
    return request(
        method, token=token, headers=(("content-type", "application/json"),), body=payload
    )
