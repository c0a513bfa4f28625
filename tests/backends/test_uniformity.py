"""Every backend implements every method of the Storage protocol, with the same signature."""

from __future__ import annotations

import inspect

import pytest

from suolink.backends import Storage
from suolink.backends.base import Storage as BaseStorage

PROTOCOL_METHODS = sorted(
    name
    for name, member in vars(BaseStorage).items()
    if callable(member) and not name.startswith("_")
)


def test_the_protocol_has_the_methods_we_expect() -> None:
    assert PROTOCOL_METHODS == [
        "check",
        "close",
        "create",
        "delete",
        "get",
        "list",
        "next_id",
        "record_visit",
        "update",
        "visits",
    ]


def test_the_backend_is_a_storage(storage: Storage) -> None:
    assert isinstance(storage, Storage)
    assert isinstance(storage.url, str)


@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_every_method_has_the_protocol_signature(storage: Storage, method: str) -> None:
    expected = inspect.signature(getattr(BaseStorage, method))
    implementation = getattr(type(storage), method, None)
    assert implementation is not None, f"{type(storage).__name__} lacks {method}()"
    actual = inspect.signature(implementation)
    assert [(p.name, p.kind, p.default, str(p.annotation)) for p in actual.parameters.values()] == [
        (p.name, p.kind, p.default, str(p.annotation)) for p in expected.parameters.values()
    ]
    assert str(actual.return_annotation) == str(expected.return_annotation)


@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_every_method_says_why_in_a_docstring(storage: Storage, method: str) -> None:
    assert inspect.getdoc(getattr(type(storage), method))


def test_the_class_is_built_from_a_url_alone(storage: Storage) -> None:
    parameters = list(inspect.signature(type(storage)).parameters.values())
    assert parameters[0].name == "url"
    assert all(p.default is not inspect.Parameter.empty for p in parameters[1:])
