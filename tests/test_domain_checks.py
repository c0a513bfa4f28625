"""Domain checks against local servers that play healthy, dead, slow and blocked domains."""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.detect import detect
from suolink.domain_checks import (
    DEFAULT_BLOCK_PATTERNS,
    USER_AGENTS,
    CheckResult,
    DomainChecker,
    DomainRegistry,
    HttpChecker,
    PeriodicChecks,
    check_domains,
    worst,
)
from suolink.errors import ConfigurationError

from .domain_servers import WECHAT_BLOCK_PAGE, FakeRegistry, Servers, running_servers

ROLES = ("healthy", "blocked", "dead", "slow", "error")


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with running_servers(delay=3.0) as found:
        yield found


def checker_for(servers: Servers, **options: object) -> HttpChecker:
    """An HttpChecker that reaches ``<role>.test`` on the local server playing the role."""
    connect_to = {f"{role}.test": servers.address(role) for role in ROLES}
    defaults: dict[str, object] = {"scheme": "http", "timeout": 1.0, "connect_to": connect_to}
    return HttpChecker(**{**defaults, **options})  # type: ignore[arg-type]


# -- the user agents and patterns shipped ----------------------------------------------------


@pytest.mark.parametrize("platform", sorted(USER_AGENTS))
def test_each_user_agent_is_detected_as_its_platform(platform: str) -> None:
    assert detect(USER_AGENTS[platform]).app == platform


def test_default_patterns_recognise_the_wechat_block_page() -> None:
    assert any(p in WECHAT_BLOCK_PAGE for p in DEFAULT_BLOCK_PATTERNS["wechat"])
    assert "当前网页可能存在风险" in DEFAULT_BLOCK_PATTERNS["qq"]


def test_an_http_checker_is_a_domain_checker_and_a_fake_registry_a_registry() -> None:
    assert isinstance(HttpChecker(), DomainChecker)
    assert isinstance(FakeRegistry([]), DomainRegistry)


@pytest.mark.parametrize(
    "options",
    [
        {"platforms": ("nosuchapp",)},
        {"scheme": "ftp"},
        {"path": "health"},
        {"timeout": 0},
        {"max_body_bytes": 0},
        {"unreachable": "gone"},
        {"retries": -1},
        {"retries": 6},
    ],
)
def test_bad_checker_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        HttpChecker(**options)  # type: ignore[arg-type]


def test_worst_verdict() -> None:
    assert worst([]) == "ok"
    assert worst(["ok", "suspect"]) == "suspect"
    assert worst(["suspect", "blocked", "ok"]) == "blocked"


# -- the HTTP checker, one kind of domain at a time ------------------------------------------


def test_healthy_domain_is_ok_for_every_platform(servers: Servers) -> None:
    result = checker_for(servers).check("healthy.test")
    assert result.verdicts == {"wechat": "ok", "qq": "ok"}
    assert result.error is None
    assert not result.blocked
    assert 0 <= result.elapsed < 1


def test_probe_sends_each_platforms_user_agent_to_the_path(servers: Servers) -> None:
    server = servers.servers["healthy"]
    before = len(server.hits)
    checker_for(servers, path="/probe?x=1").check("healthy.test")
    hits = server.hits[before:]
    assert [path for path, _ in hits] == ["/probe?x=1", "/probe?x=1"]
    assert [detect(agent).app for _, agent in hits] == ["wechat", "qq"]


def test_blocked_page_blocks_only_its_platform(servers: Servers) -> None:
    result = checker_for(servers).check("blocked.test")
    assert result.verdicts == {"wechat": "blocked", "qq": "ok"}
    assert result.blocked
    assert "已停止访问该网页" in result.reason
    assert result.error is None


def test_without_user_agents_one_plain_probe_is_made(servers: Servers) -> None:
    server = servers.servers["blocked"]
    before = len(server.hits)
    result = checker_for(servers, send_user_agent=False).check("blocked.test")
    # the local "blocked" server shows its block page only to WeChat's user agent
    assert result.verdicts == {"wechat": "ok", "qq": "ok"}
    assert len(server.hits) == before + 1
    assert server.hits[-1][1].startswith("suolink-domain-check/")


def test_custom_patterns_replace_the_defaults(servers: Servers) -> None:
    checker = checker_for(servers, block_patterns={"qq": ("ok</body>",)})
    result = checker.check("healthy.test")
    assert result.verdicts == {"wechat": "ok", "qq": "blocked"}


def test_a_redirect_to_a_block_interstitial_is_recognised(servers: Servers) -> None:
    checker = checker_for(servers)
    fetched = type("F", (), {"location": "https://weixin110.qq.com/cgi-bin/x", "body": b""})
    assert checker._block_text("wechat", fetched) == "weixin110.qq.com"  # type: ignore[arg-type]
    gbk = type("F", (), {"location": "", "body": "当前网页可能存在风险".encode("gb18030")})
    assert checker._block_text("qq", gbk) == "当前网页可能存在风险"  # type: ignore[arg-type]


def test_dead_domain_is_refused_and_suspect(servers: Servers) -> None:
    result = checker_for(servers).check("dead.test")
    assert result.verdicts == {"wechat": "suspect", "qq": "suspect"}
    assert result.error is not None
    assert result.error.startswith("refused")


def test_unreachable_verdict_is_configurable(servers: Servers) -> None:
    result = checker_for(servers, unreachable="blocked").check("dead.test")
    assert result.verdicts == {"wechat": "blocked", "qq": "blocked"}


def test_slow_domain_times_out(servers: Servers) -> None:
    started = time.monotonic()
    result = checker_for(servers, timeout=0.3, platforms=("wechat",)).check("slow.test")
    assert result.error is not None
    assert result.error.startswith("timeout")
    assert result.verdicts == {"wechat": "suspect"}
    assert time.monotonic() - started < 2


def test_a_failed_probe_is_tried_again_once(servers: Servers) -> None:
    server = servers.servers["error"]
    before = len(server.hits)
    checker_for(servers).check("error.test")
    assert len(server.hits) == before + 2  # the WeChat probe and its retry; QQ not tried
    checker_for(servers, retries=0).check("error.test")
    assert len(server.hits) == before + 3


def test_error_status_is_suspect(servers: Servers) -> None:
    result = checker_for(servers).check("error.test")
    assert result.error == "status: HTTP 503"
    assert result.verdicts == {"wechat": "suspect", "qq": "suspect"}


def test_unknown_name_is_a_dns_failure() -> None:
    result = HttpChecker(timeout=2).check("no-such-domain.invalid")
    assert result.error is not None
    assert result.error.startswith("dns")
    bad = HttpChecker().check("a..b")
    assert bad.error is not None
    assert bad.error.startswith("dns")


@pytest.mark.parametrize(
    "hostile", ["a@evil.example", "a/b", "evil.example?x", "a b", "x\ny", "", ":80", "[zz]"]
)
def test_names_that_would_move_the_probe_are_refused(hostile: str) -> None:
    result = HttpChecker().check(hostile)
    assert result.error is not None
    assert result.error.startswith("dns: not a valid domain name")


@given(st.text(max_size=80))
@settings(max_examples=150, deadline=None)
def test_check_never_raises_whatever_the_name(text: str) -> None:
    dead = "http://127.0.0.1:9/?d={domain}"  # port 9 (discard): refused at once, no DNS
    result = HttpChecker(url=dead, timeout=1, retries=0).check(text)
    assert result.error is not None
    assert result.error.split(":")[0] in {"dns", "refused", "timeout", "network"}
    assert set(result.verdicts.values()) == {"suspect"}


def test_body_read_is_capped(servers: Servers) -> None:
    # the block text lies past the first 20 bytes, so a 20-byte cap cannot see it
    result = checker_for(servers, max_body_bytes=20).check("blocked.test")
    assert result.verdicts["wechat"] == "ok"


def test_scheme_defaults_to_https_but_http_on_loopback(servers: Servers) -> None:
    checker = HttpChecker()
    assert checker.probe_url("s1.example") == "https://s1.example/api/health"
    assert checker.probe_url("例子.example.") == "https://xn--fsqu00a.example/api/health"
    assert checker.probe_url("localhost:8000") == "http://localhost:8000/api/health"
    assert checker.probe_url("[::1]:8000") == "http://[::1]:8000/api/health"
    port = servers.address("healthy")[1]
    assert HttpChecker(timeout=1).check(f"127.0.0.1:{port}").verdicts == {
        "wechat": "ok",
        "qq": "ok",
    }


def test_the_runner_tells_the_checker_each_domains_scheme(servers: Servers) -> None:
    class _Http(FakeRegistry):
        def domains(self):  # type: ignore[no-untyped-def]
            return [type("D", (), {"name": n, "scheme": "http"})() for n in self.names]

    registry = _Http(["healthy.test"])
    connect_to = {"healthy.test": servers.address("healthy")}
    (result,) = check_domains(registry, [HttpChecker(timeout=1, connect_to=connect_to)])
    assert result.error is None  # probed over http, as the domain says, not https
    assert HttpChecker(schemes={"a.test": "http"}).probe_url("a.test").startswith("http://")


def test_an_ipv6_host_header_keeps_its_brackets() -> None:
    import socket as socket_module

    try:
        server = socket_module.create_server(("::1", 0), family=socket_module.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = server.getsockname()[1]
    seen: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with server:
        result = HttpChecker(timeout=2, platforms=("wechat",)).check(f"[::1]:{port}")
        thread.join(5)
    assert result.error is None
    assert f"Host: [::1]:{port}\r\n".encode() in seen[0]


def test_url_template_points_at_a_check_service(servers: Servers) -> None:
    checker = checker_for(servers, url="http://healthy.test/check?d={domain}")
    assert checker.probe_url("例子.test") == "http://healthy.test/check?d=xn--fsqu00a.test"
    server = servers.servers["healthy"]
    checker.check("s1.example")
    assert server.hits[-1][0] == "/check?d=s1.example"


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[Servers, ssl.SSLContext]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("tls.test").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with running_servers((), tls_context=server_context) as found:
        yield found, client_context


def test_tls_domain_with_a_trusted_certificate_is_ok(
    tls: tuple[Servers, ssl.SSLContext],
) -> None:
    found, context = tls
    checker = HttpChecker(
        timeout=2, connect_to={"tls.test": found.address("tls")}, ssl_context=context
    )
    result = checker.check("tls.test")
    assert result.error is None
    assert result.verdicts == {"wechat": "ok", "qq": "ok"}


def test_tls_failure_is_reported(tls: tuple[Servers, ssl.SSLContext]) -> None:
    found, context = tls
    untrusted = HttpChecker(timeout=2, connect_to={"tls.test": found.address("tls")})
    result = untrusted.check("tls.test")
    assert result.error is not None
    assert result.error.startswith("tls")
    wrong_name = HttpChecker(
        timeout=2, connect_to={"other.test": found.address("tls")}, ssl_context=context
    )
    result = wrong_name.check("other.test")
    assert result.error is not None
    assert result.error.startswith("tls")
    assert result.verdicts == {"wechat": "suspect", "qq": "suspect"}


# -- the runner ----------------------------------------------------------------------------------


def test_check_domains_applies_verdicts(servers: Servers) -> None:
    registry = FakeRegistry(["healthy.test", "blocked.test", "dead.test"])
    results = check_domains(registry, [checker_for(servers)])
    assert [r.domain for r in results] == registry.names
    assert registry.states == {
        "healthy.test": {"wechat": "ok", "qq": "ok"},
        "blocked.test": {"wechat": "blocked", "qq": "ok"},
        "dead.test": {"wechat": "suspect", "qq": "suspect"},
    }
    assert ("blocked", "blocked.test", ("wechat",)) in registry.calls
    assert set(registry.checks) == set(registry.names)


def test_check_domains_only_and_without_applying(servers: Servers) -> None:
    registry = FakeRegistry(["healthy.test", "blocked.test"])
    results = check_domains(registry, [checker_for(servers)], only=["BLOCKED.test"], apply=False)
    assert [r.domain for r in results] == ["blocked.test"]
    assert registry.calls == []


def test_check_domains_needs_a_checker() -> None:
    with pytest.raises(ConfigurationError):
        check_domains(FakeRegistry(["a.test"]), [])


class _Verdicts:
    def __init__(self, verdicts: dict[str, str], reason: str = "fixed") -> None:
        self.verdicts = verdicts
        self.reason = reason

    def check(self, domain: str) -> CheckResult:
        return CheckResult(domain, self.verdicts, reason=self.reason)  # type: ignore[arg-type]


def test_several_checkers_combine_to_the_worst_verdict() -> None:
    registry = FakeRegistry(["a.test"])
    checkers = [_Verdicts({"wechat": "ok", "qq": "suspect"}), _Verdicts({"wechat": "blocked"})]
    (result,) = check_domains(registry, checkers)
    assert result.verdicts == {"wechat": "blocked", "qq": "suspect"}
    assert registry.states["a.test"] == {"wechat": "blocked", "qq": "suspect"}


class _Refusing(FakeRegistry):
    def mark_ok(self, domain: str, platforms: object = None) -> None:
        raise ValueError("no such domain")


def test_a_registry_refusing_a_verdict_stops_only_that_domain() -> None:
    registry = _Refusing(["a.test", "b.test"])
    results = check_domains(registry, [_Verdicts({"wechat": "ok"})])
    assert [r.error for r in results] == ["apply: ValueError: no such domain"] * 2


def test_reasons_reach_the_registry_as_one_short_line() -> None:
    registry = FakeRegistry(["a.test"])
    check_domains(registry, [_Verdicts({"wechat": "blocked"}, reason="x\ny" * 400)])
    assert registry.states["a.test"] == {"wechat": "blocked"}


class _Raising:
    def check(self, domain: str) -> CheckResult:
        raise RuntimeError("bug in a checker")


def test_a_raising_checker_is_a_result_not_an_exception() -> None:
    registry = FakeRegistry(["a.test"])
    (result,) = check_domains(registry, [_Raising()])
    assert result.error == "checker: RuntimeError: bug in a checker"
    assert registry.calls == []  # nothing was judged, nothing is marked


class _Slow:
    """A checker that blocks until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def check(self, domain: str) -> CheckResult:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(5)
            return CheckResult(domain, {"wechat": "ok"})
        finally:
            with self.lock:
                self.running -= 1


def test_one_check_per_domain_at_a_time_across_threads() -> None:
    registry = FakeRegistry(["a.test"])
    slow = _Slow()
    results: list[list[CheckResult]] = []
    threads = [
        threading.Thread(target=lambda: results.append(check_domains(registry, [slow])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    slow.release.set()
    for thread in threads:
        thread.join(5)
    assert slow.most == 1
    flat = [r for batch in results for r in batch]
    assert sum(not r.skipped for r in flat) == 1
    assert sum(r.skipped for r in flat) == 3


def test_a_check_over_its_deadline_is_suspect_and_keeps_the_domain_claimed() -> None:
    registry = FakeRegistry(["a.test"])
    slow = _Slow()
    slow.platforms = ("wechat", "qq")  # type: ignore[attr-defined]
    (result,) = check_domains(registry, [slow], timeout=0.2)
    assert result.error == "timeout: the check did not finish"
    assert result.verdicts == {"wechat": "suspect", "qq": "suspect"}
    assert registry.states["a.test"] == {"wechat": "suspect", "qq": "suspect"}
    # the hung check still runs: a second round skips the domain rather than doubling up
    (again,) = check_domains(registry, [slow], timeout=0.2)
    assert again.skipped
    slow.release.set()
    deadline = time.monotonic() + 5
    while slow.running and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    (third,) = check_domains(registry, [_Verdicts({"wechat": "ok"})])
    assert not third.skipped


# -- the periodic loop: the acceptance test ---------------------------------------------------


def test_periodic_checks_mark_the_blocked_domain_within_one_interval(servers: Servers) -> None:
    registry = FakeRegistry(["healthy.test", "blocked.test"])
    interval = 1.5
    with PeriodicChecks(registry, [checker_for(servers)], every=interval) as periodic:
        deadline = time.monotonic() + interval
        while registry.states["blocked.test"].get("wechat") != "blocked":
            assert time.monotonic() < deadline, "not marked within one interval"
            time.sleep(0.02)
        while periodic.rounds < 2:  # a second round, to see it keeps going
            assert time.monotonic() < deadline + 3 * interval
            time.sleep(0.02)
    assert not periodic.running
    assert registry.states["healthy.test"] == {"wechat": "ok", "qq": "ok"}
    assert all(
        state != "blocked" for state, domain, _ in registry.calls if domain == "healthy.test"
    )
    assert all(
        state != "suspect" for state, domain, _ in registry.calls if domain == "healthy.test"
    )


class _BrokenRegistry(FakeRegistry):
    def __init__(self) -> None:
        super().__init__(["a.test"])
        self.failures = 0

    def domains(self):  # type: ignore[no-untyped-def]
        self.failures += 1
        if self.failures <= 2:
            raise OSError("storage down")
        return super().domains()


def test_periodic_loop_survives_failed_rounds(caplog: pytest.LogCaptureFixture) -> None:
    registry = _BrokenRegistry()
    with PeriodicChecks(registry, [_Verdicts({"wechat": "ok"})], every=0.05) as periodic:
        deadline = time.monotonic() + 5
        while periodic.rounds < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert registry.failures >= 3
    assert "the round failed" in caplog.text
    assert registry.states["a.test"] == {"wechat": "ok"}


def test_periodic_lock_lets_one_loop_of_a_machine_check(tmp_path: object) -> None:
    registry = FakeRegistry(["a.test"])
    name = f"test-lock-{time.monotonic_ns()}"
    first = PeriodicChecks(registry, [_Verdicts({"wechat": "ok"})], every=10, lock_name=name)
    second = PeriodicChecks(registry, [_Verdicts({"wechat": "ok"})], every=10, lock_name=name)
    try:
        assert first.run_once() is not None
        assert second.run_once() is None  # flock is per open file: the same process is refused
        first.stop()
        assert second.run_once() is not None  # the first let go: the second takes over
    finally:
        first.stop()
        second.stop()


def test_without_a_lock_file_every_process_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    registry = FakeRegistry(["a.test"])
    periodic = PeriodicChecks(registry, [_Verdicts({"wechat": "ok"})], every=10, lock_name="x")
    assert periodic.run_once() is not None
    assert periodic.run_once() is not None
    assert caplog.text.count("no lock file") == 1
    periodic.stop()


def test_periodic_options_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        PeriodicChecks(FakeRegistry([]), [_Verdicts({})], every=0)
    with pytest.raises(ConfigurationError):
        PeriodicChecks(FakeRegistry([]), [], every=1)
