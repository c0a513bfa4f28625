"""Keeping abusive targets out: a domain blocklist and the host's own ``check_url`` hook.

An :class:`AbuseGuard` judges a target URL: ``allow``, ``warn`` (visitors first see an
interstitial "this link leads to …, continue?") or ``refuse`` (the link is not made:
:class:`~suolink.errors.BlockedURL`, a 403 over HTTP, with the reason). The Shortener
asks it on every ``shorten``/``update`` for each URL a link holds, and, with
``check_on_resolve``, again when a visitor opens the link (a target that turned bad
since: 451 with the reason).

The blocklist matches a host and every host under it (``example.com`` blocks
``a.example.com``); a file is read again when it changes (checked at most once a second),
so an operator edits it without a restart. ``check_url`` may be a plain function or a
coroutine function; it gets the normalised URL and answers an :class:`UrlCheck`, a
bare :class:`Action`, ``True``/``None`` (allow), ``False`` (refuse) or a string (refuse,
with that reason).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = [
    "RELOAD_EVERY",
    "AbuseGuard",
    "Action",
    "DomainBlocklist",
    "UrlCheck",
    "UrlChecker",
]

#: Seconds between two looks at a blocklist file's modification time.
RELOAD_EVERY: Final = 1.0


class Action(StrEnum):
    """What to do with a target URL."""

    ALLOW = "allow"
    WARN = "warn"  #: make the link, show visitors an interstitial first
    REFUSE = "refuse"  #: do not make the link (and at resolve: answer 451)


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """A judgement on a URL, with the reason shown to the owner or the visitor."""

    action: Action = Action.ALLOW
    reason: str = ""


ALLOWED: Final = UrlCheck()

#: ``check_url(url)``: see the module's docstring for what it may answer.
UrlChecker = Callable[[str], Any]


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def _domains(lines: Iterable[str]) -> frozenset[str]:
    """Domains of a blocklist: one per line, ``#`` comments, ``*.``/``.`` prefixes allowed."""
    out: set[str] = set()
    for line in lines:
        entry = line.split("#", 1)[0].strip().lower()
        entry = entry.removeprefix("*.").lstrip(".").rstrip(".")
        if entry:
            try:
                out.add(entry.encode("idna").decode("ascii"))
            except UnicodeError:
                out.add(entry)
    return frozenset(out)


class DomainBlocklist:
    """Hosts refused as targets: a list, or a file read again when it changes."""

    def __init__(self, source: str | os.PathLike[str] | Iterable[str]) -> None:
        self._lock = threading.Lock()
        self.path: str | None = None
        self._mtime: float | None = None
        self._looked = 0.0
        if isinstance(source, str | os.PathLike):
            self.path = os.fspath(source)
            self._domains = self._read()
        elif isinstance(source, Iterable):
            self._domains = _domains(source)
        else:
            raise ConfigurationError("blocklist must be a file path or a list of domains")

    def _read(self) -> frozenset[str]:
        assert self.path is not None
        try:
            self._mtime = os.stat(self.path).st_mtime
            with open(self.path, encoding="utf-8") as file:
                return _domains(file)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"blocklist: cannot read {self.path!r}: {exc}") from None

    def domains(self) -> frozenset[str]:
        """The blocked domains now (a changed file is read again; a vanished one kept)."""
        if self.path is not None:
            now = time.monotonic()
            if now - self._looked >= RELOAD_EVERY:
                with self._lock:
                    self._looked = now
                    try:
                        changed = os.stat(self.path).st_mtime != self._mtime
                    except OSError:
                        changed = False  # deleted or moved for a moment: keep the last list
                    if changed:
                        # half-written: keep the last good list, try again later
                        with contextlib.suppress(ConfigurationError):
                            self._domains = self._read()
        return self._domains

    def blocked_by(self, url: str) -> str | None:
        """The listed domain ``url``'s host is (or is under), or None."""
        host = _host(url)
        if not host:
            return None
        domains = self.domains()
        labels = host.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            if suffix in domains:
                return suffix
        return None


def _as_check(result: Any) -> UrlCheck:
    if isinstance(result, UrlCheck):
        return result
    if result is None or result is True:
        return ALLOWED
    if result is False:
        return UrlCheck(Action.REFUSE, "refused by the operator's check")
    if isinstance(result, Action):
        return UrlCheck(result)
    if isinstance(result, str):
        return UrlCheck(Action.REFUSE, result)
    raise ConfigurationError(
        f"check_url answered {type(result).__name__}: expected UrlCheck, Action, bool, str or None"
    )


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


def _settle(result: Any) -> Any:
    """The value of a coroutine function's answer, run to completion here."""
    if not inspect.isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(result))
    # Inside an event loop (an ASGI app calling the sync core): finish it on a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _awaited(result)).result()


class AbuseGuard:
    """The blocklist and the ``check_url`` hook, asked in that order."""

    def __init__(
        self,
        *,
        blocklist: DomainBlocklist | str | os.PathLike[str] | Iterable[str] | None = None,
        check_url: UrlChecker | str | None = None,
        check_on_resolve: bool = False,
    ) -> None:
        if blocklist is not None and not isinstance(blocklist, DomainBlocklist):
            blocklist = DomainBlocklist(blocklist)
        if isinstance(check_url, str):
            from .config import import_object

            try:
                check_url = import_object(check_url)
            except ValueError as exc:
                raise ConfigurationError(f"check_url: {exc}") from None
        if check_url is not None and not callable(check_url):
            raise ConfigurationError("check_url must be a callable or its import path")
        self.blocklist = blocklist
        self.check_url = check_url
        self.check_on_resolve = bool(check_on_resolve)

    @property
    def active(self) -> bool:
        """Whether there is anything to ask."""
        return self.blocklist is not None or self.check_url is not None

    def check(self, url: str) -> UrlCheck:
        """The judgement on ``url``: a blocklisted host is refused without asking the hook."""
        if self.blocklist is not None:
            domain = self.blocklist.blocked_by(url)
            if domain is not None:
                return UrlCheck(Action.REFUSE, f"links to {domain} are not allowed here")
        if self.check_url is None:
            return ALLOWED
        return _as_check(_settle(self.check_url(url)))
