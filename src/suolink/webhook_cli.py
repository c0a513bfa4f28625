"""``suolink webhooks add|list|remove|log|run``: endpoints and the delivery worker.

Kept out of ``cli.py`` so the command line's table stays short; ``cli.py`` adds these
subcommands and hands them the Shortener its flags and environment describe.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .backends.base import Storage
from .events import EVENT_TYPES
from .terminal import to_json, write_line

__all__ = ["add_commands", "run", "serve_worker"]


def add_commands(
    commands: Any,
    subparser: Callable[..., argparse.ArgumentParser],
    global_options: argparse.ArgumentParser,
) -> None:
    """The ``webhooks`` command and its actions, on ``cli.py``'s subparsers; every action
    takes the global options (``--storage``, ``--json`` …) too."""
    parser = subparser(commands, "webhooks", "manage webhook endpoints and deliver webhooks")
    actions = parser.add_subparsers(dest="webhooks_action", required=True, metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = actions.add_parser(
            name, help=help, description=help[:1].upper() + help[1:] + ".", parents=[global_options]
        )
        return made

    add = action("add", "send events to a URL (prints the signing secret)")
    add.add_argument("url", help="the receiver's http(s) URL")
    add.add_argument(
        "--event",
        action="append",
        default=[],
        choices=(*EVENT_TYPES, "*"),
        help="an event to send (repeatable; default: every event)",
    )
    add.add_argument("--signing-secret", help="whsec_… secret to sign with (default: a new one)")
    add.add_argument("--description", default="", help="a note for people")
    action("list", "list endpoints (secrets not shown)")
    remove = action("remove", "remove an endpoint and its waiting messages")
    remove.add_argument("endpoint_id")
    log = action("log", "show the delivery log, newest first")
    log.add_argument("--endpoint", help="only this endpoint's deliveries")
    log.add_argument("--limit", type=int, default=50, help="rows (default %(default)s)")
    log.add_argument("--dead", action="store_true", help="show dead-lettered messages instead")
    work = action("run", "deliver the outbox until SIGTERM or Ctrl-C")
    work.add_argument("--concurrency", type=int, default=4, help="parallel deliveries")
    work.add_argument("--timeout", type=float, default=10.0, help="seconds per network step")
    work.add_argument("--poll", type=float, default=1.0, help="seconds between empty polls")
    work.add_argument(
        "--retention-days", type=float, default=7.0, help="keep the log this long (days)"
    )
    work.add_argument(
        "--refuse-private",
        action="store_true",
        help="never deliver to private, loopback or reserved addresses (SSRF guard)",
    )


def run(args: argparse.Namespace, shortener_for: Callable[[argparse.Namespace], Any]) -> int:
    """Run one ``webhooks`` action; the exit code."""
    with shortener_for(args) as shortener:
        action = args.webhooks_action
        if action == "add":
            endpoint = shortener.add_webhook(
                args.url, args.event or ["*"], args.signing_secret, description=args.description
            )
            data = endpoint.to_dict(with_secret=True)
            if args.json:
                print(to_json(data, indent=2))
            else:
                write_line(f"added {endpoint.id} -> {endpoint.url}")
                write_line(f"events: {', '.join(endpoint.events)}")
                write_line(f"secret: {endpoint.secret}  (shown once; receivers verify with it)")
            return 0
        if action == "list":
            endpoints = [e.to_dict() for e in shortener.list_webhooks()]
            if args.json:
                print(to_json(endpoints, indent=2))
            for e in [] if args.json else endpoints:
                write_line(f"{e['id']}  {e['url']}  {','.join(e['events'])}  {e['description']}")
            return 0
        if action == "remove":
            shortener.remove_webhook(args.endpoint_id)
            write_line(f"removed {args.endpoint_id}")
            return 0
        if action == "log":
            return _log(shortener, args)
        return _run_worker(shortener, args)


def _log(shortener: Any, args: argparse.Namespace) -> int:
    limit = max(1, min(int(args.limit), 1000))
    if args.dead:
        dead = shortener.webhook_dead_letters(args.endpoint, limit=limit)
        rows = [
            {"id": m.id, "endpoint_id": m.endpoint_id, "event": m.event, "attempts": m.attempts}
            for m in dead
        ]
    else:
        rows = [d.to_dict() for d in shortener.webhook_deliveries(args.endpoint, limit=limit)]
    if args.json:
        print(to_json(rows, indent=2))
        return 0
    for row in rows:
        if args.dead:
            write_line(f"{row['id']}  {row['endpoint_id']}  {row['event']}  {row['attempts']}")
        else:
            status = row["status"] if row["status"] is not None else "-"
            write_line(
                f"{row['at']}  {row['outcome']:<9}  {status}  #{row['attempt']}  "
                f"{row['event']}  {row['message_id']}  {row['error'] or ''}"
            )
    return 0


def _run_worker(shortener: Any, args: argparse.Namespace) -> int:
    from .webhook_worker import WebhookWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = WebhookWorker(
        shortener.storage,
        concurrency=args.concurrency,
        timeout=args.timeout,
        lease=max(60.0, args.timeout * 4),
        poll=args.poll,
        retention=timedelta(days=args.retention_days),
        refuse_private=args.refuse_private,
    )
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    write_line(f"suolink webhooks worker {worker.name} on {shortener.storage.url}")
    sys.stdout.flush()
    worker.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        worker.stop()  # in-flight deliveries finish and are settled first
    write_line(f"stopped: {to_json(worker.status())}")
    return 0


def serve_worker(storage: Storage, *, enabled: bool) -> Callable[[], None]:
    """For ``suolink serve``: a delivery worker in a thread if the storage keeps an outbox;
    the function that stops it (after in-flight deliveries)."""
    from .backends.base import KeepsOutbox
    from .webhook_worker import WebhookWorker

    if not enabled or not isinstance(storage, KeepsOutbox):
        return lambda: None
    worker = WebhookWorker(storage)
    worker.start()
    return worker.stop
