"""``suolink domains`` (list) and ``domains add/remove/mark``: short domains from a shell.

Kept out of ``cli.py`` (as ``domains check`` is, in :mod:`suolink.domain_checks_cli`):
the flags (:func:`add_parsers`) and the run (:func:`run`). The list shows each domain's
pool, state per platform, the links bound to it, its last visit and its last check.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from .domains import DEFAULT_POOL, Domain
from .errors import InvalidOption
from .terminal import safe_text, to_json, write_line

__all__ = ["ACTIONS", "RECENT_DAYS", "add_parsers", "domain_rows", "run"]

#: The actions this module runs (``check`` is :mod:`suolink.domain_checks_cli`'s).
ACTIONS: Final = ("list", "add", "remove", "mark")
#: How far back the list looks for each domain's last visit.
RECENT_DAYS: Final = 30

MakeParser = Callable[[str, str], argparse.ArgumentParser]


def add_parsers(make: MakeParser) -> None:
    """``list``, ``add``, ``remove`` and ``mark`` under ``suolink domains``."""
    make("list", "every short domain: pool, state per platform, links, last visit and check")
    add = make("add", "add a short domain to a pool")
    add.add_argument("name", help="host (s1.example) or origin (http://127.0.0.1:8000)")
    add.add_argument("--pool", default=DEFAULT_POOL, help="its pool (default %(default)s)")
    add.add_argument("--default", action="store_true", help="the domain of links bound to none")
    add.add_argument(
        "--not-found-url", help="where an unknown code on this domain redirects (default: 404)"
    )
    remove = make("remove", "remove a short domain (its links resolve on the rest of the pool)")
    remove.add_argument("name")
    mark = make("mark", "mark a domain ok, suspect or blocked inside some platforms")
    mark.add_argument("name")
    mark.add_argument("state", choices=("ok", "suspect", "blocked"))
    mark.add_argument(
        "--platform",
        action="append",
        metavar="NAME",
        help="repeatable (default: wechat; with ok: every platform)",
    )
    mark.add_argument("--reason", default="", help="why (shown in the list and the events)")


def run(shortener: Any, args: argparse.Namespace) -> int:
    """Run ``args.domains_command`` (one of :data:`ACTIONS`); the exit status."""
    action = args.domains_command
    as_json = bool(getattr(args, "json", False))
    if action == "add":
        settings = {"not_found_url": args.not_found_url} if args.not_found_url else None
        made = shortener.add_domain(
            args.name, pool=args.pool, default=args.default, settings=settings
        )
        _show([made], shortener, as_json)
        return 0
    if action == "remove":
        if not shortener.remove_domain(args.name):
            raise InvalidOption("name", f"no domain {args.name!r}")
        write_line(f"removed {safe_text(args.name)}")
        return 0
    if action == "mark":
        platforms = args.platform
        reason = args.reason
        if args.state == "ok":
            marked = shortener.mark_ok(args.name, platforms, reason=reason)
        elif args.state == "blocked":
            marked = shortener.mark_blocked(args.name, platforms or ["wechat"], reason=reason)
        else:
            marked = shortener.mark_suspect(args.name, platforms or ["wechat"], reason=reason)
        _show([marked], shortener, as_json)
        return 0
    _show(shortener.domains(), shortener, as_json)
    return 0


def domain_rows(shortener: Any, domains: list[Domain]) -> list[dict[str, Any]]:
    """Each domain as JSON with its ``links`` (bound to it, or to its pool only) and
    ``last_visit`` (the newest visit that came in on it in the last :data:`RECENT_DAYS`
    days). Reads every link: a command for operators, not for the request path."""
    bound: Counter[str] = Counter()
    pooled: Counter[str] = Counter()
    last: dict[str, datetime] = {}
    names = {d.name for d in domains}
    for link in shortener.iter_links():
        if link.domain is not None:
            bound[link.domain] += 1
        elif link.pool is not None:
            pooled[link.pool] += 1
        for visit in _recent_visits(shortener, link.code):
            if visit.domain in names and (
                visit.domain not in last or visit.at > last[visit.domain]
            ):
                last[visit.domain] = visit.at
    rows = []
    for domain in domains:
        data = domain.to_dict()
        data["links"] = bound[domain.name]
        data["pool_links"] = pooled[domain.pool]
        seen = last.get(domain.name)
        data["last_visit"] = seen.isoformat(timespec="seconds") if seen else None
        rows.append(data)
    return rows


def _recent_visits(shortener: Any, code: str) -> list[Any]:
    """The link's visits of the last :data:`RECENT_DAYS` days (the list's "last visit")."""
    since = shortener.clock() - timedelta(days=RECENT_DAYS)
    return list(shortener.storage.visits(code, since=since))


def _show(domains: list[Domain], shortener: Any, as_json: bool) -> None:
    rows = domain_rows(shortener, domains)
    if as_json:
        print(to_json(rows, indent=2))
        return
    header = ("DOMAIN", "POOL", "DEFAULT", "STATE", "LINKS", "LAST VISIT", "LAST CHECK")
    table = [header]
    for row in rows:
        states = row["states"]
        state = ", ".join(f"{p} {s['state']}" for p, s in states.items()) or "ok"
        table.append(
            (
                row["name"],
                row["pool"],
                "yes" if row["default"] else "",
                state,
                f"{row['links']} (+{row['pool_links']} pool)",
                row["last_visit"] or "-",
                (row["last_check"] or "never")[:19],
            )
        )
    safe = [tuple(safe_text(str(cell)) for cell in line) for line in table]
    widths = [max(len(line[i]) for line in safe) for i in range(len(header))]
    for line in safe:
        write_line("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
