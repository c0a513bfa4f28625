"""``suolink domains check``: one round of domain checks, printed as a table.

Kept out of ``cli.py`` so the command stays one small, tested unit: its flags
(:func:`add_arguments`) and its run (:func:`run`). Exit status 0 when nothing is
blocked, :data:`EXIT_BLOCKED` when a domain is blocked for some platform (so cron and
monitoring can alert on it), 1 when the check itself could not run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any, Final

from .domain_checks import (
    DEFAULT_TIMEOUT,
    CheckResult,
    DomainChecker,
    DomainRegistry,
    HttpChecker,
    check_domains,
    make_checkers,
)
from .errors import ConfigurationError
from .terminal import safe_text, to_json, write_line

__all__ = ["EXIT_BLOCKED", "add_arguments", "result_json", "run"]

#: The exit status when at least one domain is blocked for at least one platform.
EXIT_BLOCKED: Final = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``suolink domains check``."""
    parser.add_argument(
        "domains", nargs="*", metavar="DOMAIN", help="check only these (default: every domain)"
    )
    parser.add_argument("--path", default="/api/health", help="probe path (default %(default)s)")
    parser.add_argument(
        "--scheme",
        choices=("http", "https"),
        help="probe scheme (default: the domain's own, which is https unless it was added "
        "as http://…)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        metavar="NAME",
        help="platform to judge, repeatable (default: wechat and qq)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds each probe may take (default %(default)s)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the verdicts without marking any domain"
    )


def run(
    registry: object,
    args: argparse.Namespace,
    *,
    checker: Callable[[], DomainChecker | Iterable[DomainChecker]] | None = None,
) -> int:
    """Check, mark (unless ``--dry-run``) and print; the exit status.

    ``checker`` is the ``domain_checker`` option; when given, the probe flags do not apply.
    """
    if not isinstance(registry, DomainRegistry):
        raise ConfigurationError("this Shortener keeps no domains: add some first")
    if checker is not None:
        checkers = make_checkers(checker)
    else:
        options: dict[str, Any] = {"path": args.path, "scheme": args.scheme}
        if args.platform:
            options["platforms"] = tuple(args.platform)
        checkers = [HttpChecker(timeout=args.timeout, **options)]
    results = check_domains(
        registry,
        checkers,
        only=args.domains or None,
        timeout=max(DEFAULT_TIMEOUT, args.timeout * 4),
        apply=not args.dry_run,
    )
    if args.domains and not results:
        raise ConfigurationError(f"no such domain: {', '.join(args.domains)}")
    if not results and not getattr(args, "json", False):
        write_line("no domains to check: add some first")
        return 0
    if getattr(args, "json", False):
        print(to_json([result_json(r) for r in results], indent=2))
    else:
        for line in _table(results):
            write_line(line)
    return EXIT_BLOCKED if any(r.blocked for r in results) else 0


def result_json(result: CheckResult) -> dict[str, Any]:
    """A result as JSON: domain, verdicts, reason, elapsed seconds, error, when, skipped."""
    return {
        "domain": result.domain,
        "verdicts": dict(sorted(result.verdicts.items())),
        "reason": result.reason,
        "elapsed": round(result.elapsed, 3),
        "error": result.error,
        "checked_at": result.checked_at.isoformat(timespec="seconds"),
        "skipped": result.skipped,
    }


def _table(results: list[CheckResult]) -> list[str]:
    """``DOMAIN  WECHAT  QQ  TIME  REASON``, one line per domain, columns aligned."""
    platforms = sorted({p for r in results for p in r.verdicts})
    header = ("DOMAIN", *(p.upper() for p in platforms), "TIME", "REASON")
    rows = [header]
    for r in results:
        verdicts = tuple("skipped" if r.skipped else r.verdicts.get(p, "-") for p in platforms)
        reason = r.error or r.reason
        rows.append((r.domain, *verdicts, f"{r.elapsed:.2f}s", reason))
    rows = [tuple(safe_text(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    ]
