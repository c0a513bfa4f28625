"""Domain checks: is each short domain still reachable, and not blocked inside an app?

A :class:`DomainChecker` looks at one domain and answers a :class:`CheckResult`: a
verdict per platform (``ok``, ``blocked``, ``suspect``), a reason, how long it took and
the error if any. :func:`check_domains` runs checkers over every domain of a registry
(the ``Shortener``) and applies the verdicts with ``mark_ok``/``mark_blocked``/
``mark_suspect``; :class:`PeriodicChecks` does that every N seconds in a daemon thread
(``suolink serve --check-domains-every``). The built-in :class:`HttpChecker` fetches a
probe URL on the domain and recognises each platform's block page by its text.

Three rules hold whatever a checker does: at most one check of a domain runs at a
time (across threads; across processes the periodic loop takes a file lock), every
check has a deadline, and the periodic loop never raises (it logs and goes on).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ipaddress
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ._version import __version__
from .detect.platforms import APP_IDS
from .errors import CapabilityMissing, ConfigurationError

__all__ = [
    "BLOCKED",
    "DEFAULT_BLOCK_PATTERNS",
    "OK",
    "REASON_PREFIX",
    "SUSPECT",
    "USER_AGENTS",
    "CheckResult",
    "DomainChecker",
    "DomainRegistry",
    "HttpChecker",
    "PeriodicChecks",
    "RecordsChecks",
    "check_domains",
    "make_checkers",
    "periodic_checks",
    "worst",
]

log = logging.getLogger("suolink.domain_checks")

Verdict = Literal["ok", "blocked", "suspect"]
OK: Final = "ok"
BLOCKED: Final = "blocked"
SUSPECT: Final = "suspect"
#: Verdicts from best to worst; several checkers' verdicts on a platform combine to the worst.
_RANK: Final[Mapping[str, int]] = {OK: 0, SUSPECT: 1, BLOCKED: 2}

#: How the reasons of the states checks set begin: an ``ok`` verdict clears only those.
REASON_PREFIX: Final = "check: "
#: Longest reason passed to ``mark_*`` (the registry keeps one line of up to 500).
_MAX_REASON: Final = 300
_SCHEMES: Final = frozenset({"http", "https"})
#: Seconds between a failed probe and its retry.
_RETRY_PAUSE: Final = 0.2
#: What a domain may be once IDNA-encoded: a host name or address, maybe with a port.
_NAME: Final = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\])(?::\d{1,5})?"
)
#: Seconds one checker may spend on one domain before the runner gives up on it.
DEFAULT_TIMEOUT: Final = 30.0

#: Text by which each platform's block page is recognised, as shipped. These are
#: starting points seen on real block pages and interstitials (WeChat's "已停止访问该网页"
#: page and its weixin110.qq.com redirect, QQ's risk warning); platforms change their
#: wording, so operators should tune them (``HttpChecker(block_patterns=...)``).
DEFAULT_BLOCK_PATTERNS: Final[Mapping[str, tuple[str, ...]]] = {
    "wechat": (
        "已停止访问该网页",
        "如需浏览，请长按网址复制后使用浏览器访问",
        "weixin110.qq.com",
    ),
    "qq": ("当前网页可能存在风险",),
}

#: A real user agent of each platform's in-app browser; ``tests/test_domain_checks.py``
#: checks that :func:`suolink.detect.detect` names the platform for each.
USER_AGENTS: Final[Mapping[str, str]] = {
    "wechat": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
        "NetType/WIFI Language/zh_CN"
    ),
    "qq": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 QQ/9.0.17.638 V1_IPH_SQ_9.0.17_1_APP_A "
        "Pixel/1179 Core/WKWebView Device/Apple(iPhone X) NetType/WIFI QBWebViewType/1"
    ),
}
_PLAIN_USER_AGENT: Final = f"suolink-domain-check/{__version__}"


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found out about one domain.

    ``verdicts`` maps platform ids to ``ok``, ``blocked`` or ``suspect``; a platform
    not in it was not judged. ``error`` names a failure (``dns``, ``tls``, ``refused``,
    ``timeout``, ``status``, …) with its detail; ``None`` when the probe answered.
    """

    domain: str
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    reason: str = ""
    elapsed: float = 0.0
    error: str | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: True when the domain was not checked (a check of it was already running).
    skipped: bool = False

    def platforms(self, verdict: str) -> tuple[str, ...]:
        """The platforms given ``verdict``, sorted."""
        return tuple(sorted(p for p, v in self.verdicts.items() if v == verdict))

    @property
    def blocked(self) -> bool:
        """True if any platform is blocked."""
        return BLOCKED in self.verdicts.values()


def worst(verdicts: Iterable[str]) -> Verdict:
    """The worst of ``verdicts`` (``blocked`` > ``suspect`` > ``ok``); ``ok`` when empty."""
    found: Verdict = OK
    for verdict in verdicts:
        if _RANK[verdict] > _RANK[found]:
            found = BLOCKED if verdict == BLOCKED else SUSPECT
    return found


def _combine(domain: str, results: Sequence[CheckResult]) -> CheckResult:
    """Several checkers' results on one domain as one: the worst verdict per platform."""
    if len(results) == 1:
        return results[0]
    platforms = {p for r in results for p in r.verdicts}
    verdicts = {p: worst(r.verdicts[p] for r in results if p in r.verdicts) for p in platforms}
    return CheckResult(
        domain,
        verdicts,
        reason="; ".join(r.reason for r in results if r.reason),
        elapsed=sum(r.elapsed for r in results),
        error="; ".join(r.error for r in results if r.error) or None,
        checked_at=results[0].checked_at,
    )


# -- what a checker and a registry are ------------------------------------------------------


@runtime_checkable
class DomainChecker(Protocol):
    """Anything that judges one domain: ``check("s1.example") -> CheckResult``.

    A checker may block (it runs in a worker thread under a deadline) and should not
    raise: an exception is turned into a ``suspect`` result naming it.
    """

    def check(self, domain: str) -> CheckResult: ...


class _Domain(Protocol):
    @property
    def name(self) -> str: ...


@runtime_checkable
class DomainRegistry(Protocol):
    """The part of a ``Shortener`` the checks use: its domains and the ``mark_*`` calls."""

    def domains(self) -> Sequence[_Domain]: ...

    def mark_blocked(self, domain: str, platforms: Iterable[str], *, reason: str = ...) -> Any: ...

    def mark_suspect(self, domain: str, platforms: Iterable[str], *, reason: str = ...) -> Any: ...

    def mark_ok(self, domain: str, platforms: Iterable[str] | None = ...) -> Any: ...


@runtime_checkable
class RecordsChecks(Protocol):
    """A registry that keeps each domain's last check (``suolink domains`` shows it)."""

    def mark_checked(self, domain: str) -> Any: ...


# -- one check per domain at a time ---------------------------------------------------------

_IN_FLIGHT: set[str] = set()
_IN_FLIGHT_LOCK: Final = threading.Lock()


def _claim(domain: str) -> bool:
    """Claim ``domain`` for one check; False if a check of it is running (any thread)."""
    with _IN_FLIGHT_LOCK:
        if domain in _IN_FLIGHT:
            return False
        _IN_FLIGHT.add(domain)
        return True


def _release(domain: str) -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.discard(domain)


def _key(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


# -- the runner -----------------------------------------------------------------------------


def check_domains(
    registry: DomainRegistry,
    checkers: Sequence[DomainChecker],
    *,
    only: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = 4,
    apply: bool = True,
    stop: threading.Event | None = None,
) -> list[CheckResult]:
    """Check every domain of ``registry`` (or those in ``only``) and apply the verdicts.

    Domains are checked ``concurrency`` at a time, each by every checker in turn, each
    checker within ``timeout`` seconds (one that runs over is a ``suspect`` result; its
    thread is left to finish, and the domain stays claimed until it does). A domain
    already being checked elsewhere in the process is skipped. With ``apply`` the
    verdicts go to ``mark_ok``/``mark_suspect``/``mark_blocked`` and, if the registry
    keeps it, ``mark_checked``. Once ``stop`` is set (the server is stopping) domains
    not yet checked are skipped and no verdict is applied. Returns the results in the
    registry's order.
    """
    if not checkers:
        raise ConfigurationError("check_domains needs at least one checker")
    domains = registry.domains()
    names = [d.name for d in domains]
    by_name = {d.name: d for d in domains}
    checkers = _knowing_schemes(checkers, domains)
    if only is not None:
        wanted = {_key(n) for n in only}
        names = [n for n in names if _key(n) in wanted]
    if not names:
        return []
    return _run_all(
        names,
        lambda name: _check_one(
            registry, name, checkers, timeout, apply, _states(by_name.get(name)), stop
        ),
        concurrency,
    )


def _run_all(
    names: Sequence[str], work: Callable[[str], CheckResult], concurrency: int
) -> list[CheckResult]:
    """``work(name)`` for every name, ``concurrency`` at a time, in daemon threads.

    Not a ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so a round
    still running when the process stops (a store slow to refuse) would hold the exit.
    """
    results: dict[int, CheckResult] = {}
    queue = list(enumerate(names))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, name = queue.pop(0)
            try:
                results[index] = work(name)
            except Exception as exc:  # pragma: no cover - work() catches what it can
                results[index] = CheckResult(name, error=f"runner: {type(exc).__name__}: {exc}")

    threads = [
        threading.Thread(target=worker, name="suolink-check", daemon=True)
        for _ in range(max(1, min(concurrency, len(names))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[i] for i in range(len(names))]


def _knowing_schemes(
    checkers: Sequence[DomainChecker], domains: Sequence[_Domain]
) -> Sequence[DomainChecker]:
    """HttpCheckers left to pick the scheme, told each domain's own (``Domain.scheme``)."""
    schemes = {d.name: s for d in domains if (s := getattr(d, "scheme", None)) in _SCHEMES}
    if not schemes:
        return checkers
    return [
        replace(c, schemes={**schemes, **c.schemes})
        if isinstance(c, HttpChecker) and c.scheme is None
        else c
        for c in checkers
    ]


def _check_one(
    registry: DomainRegistry,
    name: str,
    checkers: Sequence[DomainChecker],
    timeout: float,
    apply: bool,
    states: Mapping[str, tuple[str, str]] | None = None,
    stop: threading.Event | None = None,
) -> CheckResult:
    key = _key(name)
    if stop is not None and stop.is_set():
        return CheckResult(name, reason="the checks are stopping", skipped=True)
    if not _claim(key):
        log.info("domain check of %s skipped: one is already running", name)
        return CheckResult(name, reason="a check of this domain is already running", skipped=True)
    done = threading.Event()
    results: list[CheckResult] = []

    def run() -> None:  # in its own daemon thread, so a hung check never blocks exit
        try:
            for checker in checkers:
                results.append(_safe_check(checker, name))
        finally:
            _release(key)
            done.set()

    started = time.monotonic()
    threading.Thread(target=run, name=f"suolink-check-{key}", daemon=True).start()
    if done.wait(timeout * len(checkers)):
        result = _combine(name, results)
    else:
        waited = time.monotonic() - started
        result = CheckResult(
            name,
            dict.fromkeys(_judged(results) | _declared(checkers), SUSPECT),
            reason=f"the check took longer than {timeout * len(checkers):g}s",
            elapsed=waited,
            error="timeout: the check did not finish",
        )
    if not apply or (stop is not None and stop.is_set()):
        return result
    return _apply(registry, result, states)


def _judged(results: Sequence[CheckResult]) -> set[str]:
    return {p for r in results for p in r.verdicts}


def _declared(checkers: Sequence[DomainChecker]) -> set[str]:
    """The platforms checkers say they judge (``HttpChecker.platforms``), if they say."""
    found: set[str] = set()
    for checker in checkers:
        platforms = getattr(checker, "platforms", ())
        if isinstance(platforms, tuple | list | frozenset | set):
            found.update(p for p in platforms if isinstance(p, str))
    return found


def _safe_check(checker: DomainChecker, name: str) -> CheckResult:
    started = time.monotonic()
    try:
        return checker.check(name)
    except Exception as exc:  # a checker's bug must not stop the others
        log.exception("domain checker %r failed on %s", checker, name)
        return CheckResult(
            name,
            reason=f"the checker failed: {type(exc).__name__}",
            elapsed=time.monotonic() - started,
            error=f"checker: {type(exc).__name__}: {exc}",
        )


def _states(domain: object) -> dict[str, tuple[str, str]] | None:
    """A domain's current ``{platform: (state, reason)}`` (``Domain.states``), if it says."""
    states = getattr(domain, "states", None)
    if not isinstance(states, Mapping):
        return None
    found: dict[str, tuple[str, str]] = {}
    for platform, entry in states.items():
        state, reason = getattr(entry, "state", None), getattr(entry, "reason", "")
        if isinstance(platform, str) and state is not None:
            found[platform] = (str(state), str(reason or ""))
    return found


def _apply(
    registry: DomainRegistry,
    result: CheckResult,
    states: Mapping[str, tuple[str, str]] | None = None,
) -> CheckResult:
    """Verdicts to ``mark_*`` calls (one per verdict), then ``mark_checked``.

    A check never undoes a mark made by hand (``states`` is what the domain holds now):
    ``ok`` clears only states a check set (their reason starts with :data:`REASON_PREFIX`),
    and ``suspect`` never replaces ``blocked``. A registry that refuses (the domain was
    removed meanwhile, the store is down) makes the result carry an ``apply`` error
    instead of stopping the other domains' checks.
    """
    if result.skipped:
        return result
    now = states or {}
    reason = _one_line(REASON_PREFIX + (result.reason or result.error or "domain check"))
    blocked = result.platforms(BLOCKED)
    suspect = [p for p in result.platforms(SUSPECT) if now.get(p, (OK, ""))[0] != BLOCKED]
    ok = [
        p
        for p in result.platforms(OK)
        if states is None or p not in now or now[p][1].startswith(REASON_PREFIX)
    ]
    try:
        if blocked:
            registry.mark_blocked(result.domain, blocked, reason=reason)
        if suspect:
            registry.mark_suspect(result.domain, suspect, reason=reason)
        if ok:
            registry.mark_ok(result.domain, ok)
        if isinstance(registry, RecordsChecks):
            registry.mark_checked(result.domain)
    except Exception as exc:
        log.warning("domain check of %s: could not record the verdicts: %s", result.domain, exc)
        error = f"apply: {type(exc).__name__}: {exc}"
        return replace(result, error=f"{result.error}; {error}" if result.error else error)
    return result


def _one_line(text: str, limit: int = _MAX_REASON) -> str:
    """``text`` as one line of at most ``limit`` characters (what a registry keeps)."""
    flat = "".join(" " if ord(ch) < 32 or ch == "\x7f" else ch for ch in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- the periodic loop ---------------------------------------------------------------------


class _FileLock:
    """A lock on a file in the temporary folder, held by one process of a machine at a time.

    Keeps ``suolink serve --workers N`` from running the periodic checks N times: every
    worker tries it each round, the one that holds it checks (and when it dies, another
    takes over at its next round). The file is the user's own (uid in its name, opened
    without following links); where it cannot be had (no ``fcntl`` on Windows, a
    read-only temporary folder) every process holds the lock, as without one.
    """

    def __init__(self, name: str) -> None:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        user = getattr(os, "getuid", lambda: "")()
        self.path = os.path.join(
            tempfile.gettempdir(), f"suolink-domain-checks-{user}-{digest}.lock"
        )
        self._fd: int | None = None
        self._unavailable = False

    def acquire(self) -> bool:
        """True if this process holds the lock (now or already)."""
        if self._fd is not None or self._unavailable:
            return True
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            self._unavailable = True
            return True
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            log.warning("domain checks: no lock file (%s); every process will check", exc)
            self._unavailable = True
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class PeriodicChecks:
    """Run :func:`check_domains` now and then every ``every`` seconds, in a daemon thread.

    ``lock_name`` (the storage URL) names a machine-wide file lock: of the processes
    sharing it, one checks. The loop never raises: a failed round is logged and the next
    one comes. ``stop()`` ends it (within a round's deadline at most).
    """

    def __init__(
        self,
        registry: DomainRegistry,
        checkers: Sequence[DomainChecker],
        every: float,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        lock_name: str | None = None,
        on_round: Callable[[list[CheckResult]], None] | None = None,
    ) -> None:
        if every <= 0:
            raise ConfigurationError("the domain check interval must be more than 0 seconds")
        if not checkers:
            raise ConfigurationError("periodic domain checks need at least one checker")
        self.registry = registry
        self.checkers = tuple(checkers)
        self.every = float(every)
        self.timeout = float(min(timeout, every))
        self.on_round = on_round
        self.rounds = 0
        self.last_results: list[CheckResult] = []
        self._lock = _FileLock(lock_name) if lock_name else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="suolink-domain-checks", daemon=True
            )
            self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Ask the loop to end and wait up to ``wait`` seconds for it; drop the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
        if self._lock is not None:
            self._lock.release()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> list[CheckResult] | None:
        """One round now; None when another process holds the lock or the round failed."""
        try:
            if self._lock is not None and not self._lock.acquire():
                return None
            results = check_domains(
                self.registry, self.checkers, timeout=self.timeout, stop=self._stop
            )
        except Exception:
            log.exception("domain checks: the round failed; trying again in %gs", self.every)
            return None
        self.rounds += 1
        self.last_results = results
        for result in results:
            if result.blocked or result.error:
                log.warning(
                    "domain check: %s %s (%s)",
                    result.domain,
                    _summary(result),
                    result.error or result.reason,
                )
        if self.on_round is not None:
            try:
                self.on_round(results)
            except Exception:
                log.exception("domain checks: on_round failed")
        return results

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeriodicChecks:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def make_checkers(
    factory: Callable[[], DomainChecker | Iterable[DomainChecker]] | None,
) -> list[DomainChecker]:
    """The checkers the ``domain_checker`` option makes (default: one :class:`HttpChecker`)."""
    made: object = (factory or HttpChecker)()
    checkers = [made] if isinstance(made, DomainChecker) else made
    if not isinstance(checkers, Iterable) or isinstance(checkers, str | bytes):
        checkers = [checkers]
    found = list(checkers)
    if not found or not all(isinstance(c, DomainChecker) for c in found):
        raise ConfigurationError(
            "domain_checker must return a DomainChecker (an object with check(domain)) "
            "or a list of them"
        )
    return found


def periodic_checks(
    registry: object,
    every: float | None,
    *,
    checker: Callable[[], DomainChecker | Iterable[DomainChecker]] | None = None,
    storage_url: str | None = None,
) -> PeriodicChecks | None:
    """The periodic checks an app runs (``check_domains_every``), not started; None if off.

    ``checker`` is the ``domain_checker`` option: a callable returning a checker or a
    list of them (default: :class:`HttpChecker`). ``storage_url`` names the file lock
    that keeps one process of a machine checking a shared store (``memory://`` stores
    are each process's own, so they take none). Off, with a warning, when ``registry``
    has no domains, or its store keeps none (``CapabilityMissing``).
    """
    if not every:
        return None
    if not isinstance(registry, DomainRegistry):
        log.warning("domain checks are off: %r keeps no domains", type(registry).__name__)
        return None
    try:
        registry.domains()
    except CapabilityMissing as exc:  # a store without domains: say so once, not every round
        log.warning("domain checks are off: %s", exc)
        return None
    except Exception:  # anything else may pass: the rounds will say
        log.debug("domain checks: the first look at the domains failed", exc_info=True)
    checkers = make_checkers(checker)
    shared = storage_url is not None and not storage_url.startswith("memory:")
    return PeriodicChecks(registry, checkers, every, lock_name=storage_url if shared else None)


def _summary(result: CheckResult) -> str:
    if result.skipped:
        return "skipped"
    parts = [f"{p}={v}" for p, v in sorted(result.verdicts.items())]
    return " ".join(parts) or "-"


# -- the built-in HTTP checker ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fetched:
    status: int
    location: str
    body: bytes


class _Failed(Exception):
    """The probe failed; ``kind`` is ``dns``, ``tls``, ``refused``, ``timeout``, …"""

    def __init__(self, kind: str, detail: str, *, retry: bool = True) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.retry = retry


@dataclass(frozen=True, slots=True)
class HttpChecker:
    """Fetch ``scheme://domain/path`` and judge the answer, platform by platform.

    - DNS failure, TLS failure, connection refused, a timeout, a status outside
      200-399 or a broken answer: every platform gets ``unreachable`` (``suspect`` by
      default; a probe from your server that fails may be your network, not the domain).
    - A block page: the body (at most ``max_body_bytes``, UTF-8 or GB18030) or the
      redirect's ``Location`` holds one of the platform's ``block_patterns``:
      ``blocked`` for that platform.
    - Otherwise ``ok``.

    With ``send_user_agent`` each platform is probed with its own user agent
    (``user_agents``, default :data:`USER_AGENTS`); otherwise one plain request is
    judged against every platform's patterns. ``scheme`` None means the domain's own
    (``Domain.scheme``, which :func:`check_domains` passes in ``schemes``), else
    ``https``, but ``http`` for loopback names such as ``127.0.0.1:8000``. ``url`` may
    replace the probe URL with a template (``{scheme}``, ``{domain}``, ``{path}``), e.g.
    a check service's API. ``connect_to`` sends a domain's requests to another
    ``(host, port)`` (like curl's ``--resolve``); the Host header, SNI and certificate
    check keep the domain's name. Redirects are not followed.
    """

    platforms: tuple[str, ...] = ("wechat", "qq")
    path: str = "/api/health"
    scheme: Literal["http", "https"] | None = None
    timeout: float = 10.0
    block_patterns: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_BLOCK_PATTERNS)
    )
    send_user_agent: bool = True
    user_agents: Mapping[str, str] = field(default_factory=lambda: dict(USER_AGENTS))
    unreachable: Verdict = SUSPECT
    max_body_bytes: int = 256 * 1024
    url: str = "{scheme}://{domain}{path}"
    connect_to: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: Further tries of a failed probe before its failure is the verdict.
    retries: int = 1
    #: Each domain's scheme, when ``scheme`` is None (the runner fills it from the registry).
    schemes: Mapping[str, str] = field(default_factory=dict)
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.platforms) - APP_IDS)
        if unknown:
            raise ConfigurationError(f"HttpChecker: unknown platforms {', '.join(unknown)}")
        if self.scheme not in ("http", "https", None):
            raise ConfigurationError(f"HttpChecker: scheme must be http or https: {self.scheme}")
        if not self.path.startswith("/"):
            raise ConfigurationError(f"HttpChecker: path must start with '/': {self.path}")
        if self.timeout <= 0 or self.max_body_bytes <= 0:
            raise ConfigurationError("HttpChecker: timeout and max_body_bytes must be positive")
        if not 0 <= self.retries <= 5:
            raise ConfigurationError("HttpChecker: retries must be from 0 to 5")
        if self.unreachable not in _RANK:
            raise ConfigurationError(f"HttpChecker: unknown verdict {self.unreachable!r}")

    def check(self, domain: str) -> CheckResult:
        """Probe ``domain`` (once per platform with ``send_user_agent``)."""
        started = time.monotonic()
        verdicts: dict[str, Verdict] = {}
        reasons: list[str] = []
        try:
            probes = self._probes()
            for agent, platforms in probes:
                fetched = self._fetch_again(domain, agent)
                for platform in platforms:
                    found = self._block_text(platform, fetched)
                    verdicts[platform] = BLOCKED if found else OK
                    if found:
                        reasons.append(f"{platform}: block page ({found!r})")
        except _Failed as failed:
            return CheckResult(
                domain,
                dict.fromkeys(self.platforms, self.unreachable),
                reason=str(failed),
                elapsed=time.monotonic() - started,
                error=str(failed),
            )
        return CheckResult(
            domain,
            verdicts,
            reason="; ".join(reasons) or "the probe answered",
            elapsed=time.monotonic() - started,
        )

    def _probes(self) -> list[tuple[str, tuple[str, ...]]]:
        """(user agent, platforms judged on its answer) per request to make."""
        if not self.send_user_agent:
            return [(_PLAIN_USER_AGENT, self.platforms)]
        return [(self.user_agents.get(p, _PLAIN_USER_AGENT), (p,)) for p in self.platforms]

    def _block_text(self, platform: str, fetched: _Fetched) -> str | None:
        location = fetched.location.encode("utf-8", "replace")
        for pattern in self.block_patterns.get(platform, ()):
            for encoding in ("utf-8", "gb18030"):
                needle = pattern.encode(encoding, "ignore")
                if needle and (needle in fetched.body or needle in location):
                    return pattern
        return None

    def probe_url(self, domain: str) -> str:
        """The URL probed for ``domain``."""
        name = _ascii(domain)
        scheme = self.scheme or self.schemes.get(domain) or ("http" if _loopback(name) else "https")
        return self.url.format(scheme=scheme, domain=name, path=self.path)

    def _fetch_again(self, domain: str, user_agent: str) -> _Fetched:
        """``_fetch``, tried ``retries`` more times after a failure (a blip is not a verdict)."""
        for attempt in range(self.retries + 1):
            try:
                return self._fetch(domain, user_agent)
            except _Failed as failed:
                if attempt == self.retries or not failed.retry:
                    raise
                time.sleep(_RETRY_PAUSE)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, domain: str, user_agent: str) -> _Fetched:
        url = urlsplit(self.probe_url(domain))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise _Failed("url", f"not an http(s) URL: {url.geturl()!r}", retry=False)
        https = url.scheme == "https"
        host = url.hostname
        port = url.port or (443 if https else 80)
        address = self.connect_to.get(host, self.connect_to.get(domain, (host, port)))
        deadline = time.monotonic() + self.timeout
        with _failures(), contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection(address, timeout=self.timeout))
            if https:
                context = self.ssl_context or ssl.create_default_context()
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname=host))
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
            connection.sock = sock
            default_port = 443 if https else 80
            shown = f"[{host}]" if ":" in host else host  # an IPv6 address
            headers = {
                "Host": shown if port == default_port else f"{shown}:{port}",
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5",
                "Connection": "close",
            }
            target = url.path or "/"
            if url.query:
                target += "?" + url.query
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            body = _read_capped(response, self.max_body_bytes, deadline)
            status = response.status
            location = response.getheader("Location") or ""
        if not 200 <= status < 400:
            raise _Failed("status", f"HTTP {status}")
        return _Fetched(status, location, body)


def _ascii(domain: str) -> str:
    """The domain as DNS spells it (IDNA); a name that cannot be is a ``dns`` failure.

    Only host names, IPv4 and bracketed IPv6 addresses, each with an optional port, get
    through: nothing that could move the probe URL's host (``a@b``, ``a/b``, ``a?b``).
    """
    try:
        name = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        name = ""
    if not _NAME.fullmatch(name):
        raise _Failed("dns", f"not a valid domain name: {domain[:100]!r}", retry=False)
    return name


def _loopback(name: str) -> bool:
    """True for ``localhost``, ``127.0.0.1:8000``, ``[::1]`` (test domains speak plain HTTP)."""
    host = urlsplit(f"//{name}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_capped(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """At most ``limit`` bytes of the body, read before ``deadline`` (a trickle times out)."""
    chunks: list[bytes] = []
    seen = 0
    while seen < limit:
        if time.monotonic() > deadline:
            raise _Failed("timeout", "the body was too slow to arrive")
        chunk = response.read1(min(65536, limit - seen))
        if not chunk:
            break
        chunks.append(chunk)
        seen += len(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """Network exceptions as :class:`_Failed`, named by kind."""
    try:
        yield
    except _Failed:
        raise
    except socket.gaierror as exc:
        raise _Failed("dns", exc.strerror or str(exc)) from None
    except ssl.SSLCertVerificationError as exc:  # a certificate does not change in 0.2 s
        raise _Failed("tls", exc.verify_message or str(exc), retry=False) from None
    except ssl.SSLError as exc:
        raise _Failed("tls", exc.reason or str(exc)) from None
    except ConnectionRefusedError:
        raise _Failed("refused", "connection refused") from None
    except TimeoutError:
        raise _Failed("timeout", "no answer in time") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise _Failed("protocol", f"{type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise _Failed("network", exc.strerror or str(exc)) from None
