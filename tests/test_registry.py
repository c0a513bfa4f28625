"""Choosing a backend by URL, lazy drivers, entry points, and missing extras."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint

import pytest

from suolink import ConfigurationError, MissingDependencyError
from suolink.backends import open_storage, redact_url
from suolink.backends.memory import MemoryStorage


def test_scheme_picks_the_backend(tmp_path) -> None:
    assert isinstance(open_storage("memory://"), MemoryStorage)
    sqlite = open_storage(f"sqlite:///{tmp_path / 'a.db'}")
    assert type(sqlite).__name__ == "SQLiteStorage"
    sqlite.close()


def test_instance_passes_through() -> None:
    storage = MemoryStorage("memory://")
    assert open_storage(storage) is storage


@pytest.mark.parametrize("url", ["", "suolink.db", "://x", "nosuch://host"])
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_storage(url)


def test_non_url_non_storage_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not int"):
        open_storage(42)  # type: ignore[arg-type]


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError) as info:
        open_storage("redis://localhost:6379/0")
    assert info.value.extra == "redis"
    assert "pip install 'suolink[redis]'" in str(info.value)


def test_flask_adapter_without_flask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)
    monkeypatch.delitem(sys.modules, "suolink.adapters.flask", raising=False)
    with pytest.raises(MissingDependencyError, match=r"suolink\[flask\]"):
        importlib.import_module("suolink.adapters.flask")


def test_asgi_adapter_without_starlette_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "starlette" or m.startswith("starlette.")]:
        monkeypatch.setitem(sys.modules, name, None)  # imported already by other tests
    monkeypatch.setitem(sys.modules, "starlette", None)
    monkeypatch.delitem(sys.modules, "suolink.adapters.asgi", raising=False)
    with pytest.raises(MissingDependencyError, match=r"suolink\[asgi\]"):
        importlib.import_module("suolink.adapters.asgi")


def test_third_party_backend_from_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def factory(url: str) -> MemoryStorage:
        made.append(url)
        return MemoryStorage("memory://")

    monkeypatch.setattr(sys.modules[__name__], "plugin_factory", factory, raising=False)
    ep = EntryPoint(name="acme", value=f"{__name__}:plugin_factory", group="suolink.backends")
    monkeypatch.setattr(
        "suolink.backends.entry_points", lambda group: [ep] if group == ep.group else []
    )
    assert isinstance(open_storage("acme://bucket"), MemoryStorage)
    assert made == ["acme://bucket"]


def test_redact_url_hides_passwords() -> None:
    assert redact_url("redis://:hunter2@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("redis://user:pw@host/0") == "redis://user:***@host/0"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
