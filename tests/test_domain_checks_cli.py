"""``suolink domains check``, ``serve --check-domains-every`` and the ASGI app's periodic checks."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from suolink import cli
from suolink.domain_checks import CheckResult, HttpChecker, periodic_checks
from suolink.domain_checks_cli import EXIT_BLOCKED
from suolink.errors import ConfigurationError, DomainsUnsupported
from suolink.shortener import Shortener

from .domain_servers import FakeRegistry, Servers, running_servers


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with running_servers(("healthy", "blocked"), delay=0) as found:
        yield found


def names(servers: Servers) -> dict[str, str]:
    """Loopback domain names (probed over plain HTTP) of each role."""
    return {role: f"127.0.0.1:{servers.address(role)[1]}" for role in ("healthy", "blocked")}


class _Registry(FakeRegistry):
    """A registry that is also the command's ``with _shortener(args) as shortener``."""

    def __enter__(self) -> _Registry:
        return self

    def __exit__(self, *_: object) -> None:
        pass


@pytest.fixture
def registry(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> _Registry:
    made = _Registry([names(servers)["healthy"], names(servers)["blocked"]])
    monkeypatch.setattr(cli, "_shortener", lambda args: made)
    return made


# -- suolink domains check ------------------------------------------------------------------


def test_check_prints_a_table_marks_and_exits_3_when_blocked(
    registry: _Registry, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy, blocked = names(servers).values()
    assert cli.main(["domains", "check", "--timeout", "2"]) == EXIT_BLOCKED
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["DOMAIN", "QQ", "WECHAT", "TIME", "REASON"]
    assert lines[1].split()[:3] == [healthy, "ok", "ok"]
    assert lines[2].split()[:3] == [blocked, "ok", "blocked"]
    assert "已停止访问该网页" in lines[2]
    assert registry.states[blocked] == {"wechat": "blocked", "qq": "ok"}
    assert registry.checks == {healthy: 1, blocked: 1}


def test_check_of_healthy_domains_exits_0(
    registry: _Registry, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy = names(servers)["healthy"]
    assert cli.main(["domains", "check", healthy, "--platform", "wechat"]) == 0
    out = capsys.readouterr().out
    assert healthy in out
    assert "QQ" not in out


def test_check_json_and_dry_run(
    registry: _Registry, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["domains", "check", "--dry-run", "--json"]) == EXIT_BLOCKED
    data = json.loads(capsys.readouterr().out)
    assert [d["verdicts"]["wechat"] for d in data] == ["ok", "blocked"]
    assert data[0]["error"] is None
    assert set(data[0]) == {
        "domain",
        "verdicts",
        "reason",
        "elapsed",
        "error",
        "checked_at",
        "skipped",
    }
    assert registry.calls == []  # --dry-run marks nothing


def test_check_of_an_unknown_domain_fails(
    registry: _Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["domains", "check", "nowhere.example"]) == 1
    assert "no such domain: nowhere.example" in capsys.readouterr().err


def test_check_uses_the_configured_checker(
    registry: _Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_DOMAIN_CHECKER", "tests.test_domain_checks_cli:all_suspect")
    assert cli.main(["domains", "check"]) == 0
    assert registry.states == {name: {"wechat": "suspect"} for name in registry.names}


class _AllSuspect:
    def check(self, domain: str) -> CheckResult:
        return CheckResult(domain, {"wechat": "suspect"}, reason="told so")


def all_suspect() -> list[_AllSuspect]:
    return [_AllSuspect()]


def test_check_needs_a_shortener_with_domains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_shortener", lambda args: contextlib.nullcontext(object()))
    assert cli.main(["domains", "check"]) == 1
    assert "keeps no domains" in capsys.readouterr().err


def test_check_without_domains_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUOLINK_STORAGE", "memory://")
    assert cli.main(["domains", "check"]) == 0
    assert capsys.readouterr().out == "no domains to check: add some first\n"
    assert cli.main(["domains", "check", "--json"]) == 0
    assert capsys.readouterr().out == "[]\n"


def test_check_on_a_store_without_domains_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class _NoDomains(FakeRegistry):
        def domains(self):  # type: ignore[no-untyped-def]
            raise DomainsUnsupported("redis://x")

        def __enter__(self) -> _NoDomains:
            return self

        def __exit__(self, *_: object) -> None:
            pass

    monkeypatch.setattr(cli, "_shortener", lambda args: _NoDomains([]))
    assert cli.main(["domains", "check"]) == 1
    assert "'keeps_domains' capability" in capsys.readouterr().err


def test_serve_flag_is_a_whole_number_of_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--check-domains-every", "-1"])
    assert "must be at least 0" in capsys.readouterr().err


# -- periodic_checks: what an app runs --------------------------------------------------------


def test_periodic_checks_off_unless_asked(caplog: pytest.LogCaptureFixture) -> None:
    assert periodic_checks(FakeRegistry([]), 0) is None
    assert periodic_checks(FakeRegistry([]), None) is None
    with caplog.at_level(logging.WARNING, "suolink.domain_checks"):
        assert periodic_checks(object(), 60) is None
    assert "domain checks are off" in caplog.text
    caplog.clear()

    class _NoDomains(FakeRegistry):
        def domains(self):  # type: ignore[no-untyped-def]
            raise DomainsUnsupported("redis://x")

    class _Down(FakeRegistry):
        def domains(self):  # type: ignore[no-untyped-def]
            raise OSError("down for now")

    with caplog.at_level(logging.WARNING, "suolink.domain_checks"):
        assert periodic_checks(_NoDomains([]), 60) is None
        assert periodic_checks(_Down([]), 60) is not None  # may come back: the rounds retry
    assert "domain checks are off: short domains needs" in caplog.text


def test_periodic_checks_take_the_configured_checkers() -> None:
    default = periodic_checks(FakeRegistry([]), 60, storage_url="sqlite:///x.db")
    assert default is not None
    assert [type(c) for c in default.checkers] == [HttpChecker]
    assert default._lock is not None
    listed = periodic_checks(FakeRegistry([]), 60, checker=all_suspect, storage_url="memory://")
    assert listed is not None
    assert [type(c) for c in listed.checkers] == [_AllSuspect]
    assert listed._lock is None  # a memory:// store is the process's own
    with pytest.raises(ConfigurationError):
        periodic_checks(FakeRegistry([]), 60, checker=lambda: 42)  # type: ignore[arg-type,return-value]


# -- the ASGI app runs them in its lifespan -----------------------------------------------------


class _DomainShortener(Shortener):
    """A Shortener whose domains are a FakeRegistry (until domains are in every store)."""

    def __init__(self, registry: FakeRegistry, **options: Any) -> None:
        super().__init__("memory://", secret="s", **options)
        self.registry = registry

    def domains(self) -> list[Any]:  # type: ignore[override]
        return self.registry.domains()

    def mark_blocked(self, domain: str, platforms: Any = ("wechat",), *, reason: str = "") -> Any:  # type: ignore[override]
        return self.registry.mark_blocked(domain, platforms, reason=reason)

    def mark_suspect(self, domain: str, platforms: Any = ("wechat",), *, reason: str = "") -> Any:  # type: ignore[override]
        return self.registry.mark_suspect(domain, platforms, reason=reason)

    def mark_ok(self, domain: str, platforms: Any = None, *, reason: str = "") -> Any:  # type: ignore[override]
        return self.registry.mark_ok(domain, platforms)


def test_the_asgi_app_checks_while_it_runs(servers: Servers) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from suolink.adapters.asgi import create_app

    healthy, blocked = names(servers).values()
    registry = FakeRegistry([healthy, blocked])
    shortener = _DomainShortener(registry)
    app = create_app(shortener=shortener, check_domains_every=1, api_token="t")
    assert registry.calls == []  # nothing before the app starts
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        deadline = time.monotonic() + 1
        while registry.states[blocked].get("wechat") != "blocked":
            assert time.monotonic() < deadline, "not marked within one interval"
            time.sleep(0.02)
    marked = len(registry.calls)
    time.sleep(1.2)
    assert len(registry.calls) == marked  # stopped with the app
    assert registry.states[healthy] == {"wechat": "ok", "qq": "ok"}
    shortener.close()
