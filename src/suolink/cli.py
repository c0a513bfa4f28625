"""The ``suolink`` command: serve the web app, make and manage links, QR codes, stats.

Exit codes: 0 success, 1 the operation failed (bad URL, taken code, storage down), 2 the
command line itself was wrong, 3 ``domains check`` found a blocked domain. Errors are one
readable line on stderr, never a traceback; everything printed goes through
:mod:`suolink.terminal`, which escapes control characters.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import itertools
import os
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import domain_checks_cli, domains_cli, webhook_cli
from ._version import __version__
from .codes import CodeStrategy
from .config import OPTIONS, Option, ServerOptions, from_environ, options_for, warn_if_no_secret
from .domain_checks import periodic_checks
from .errors import InvalidOption, MissingDependencyError, SuolinkError
from .exports import archive_csv, archive_json
from .imports import IMPORT_FORMATS, import_records, read_file
from .models import Link, Visit
from .people import row_to_json, totals_to_json
from .terminal import Progress, is_terminal, progress, safe_text, to_json, write_line

if TYPE_CHECKING:
    from .shortener import Shortener

__all__ = ["main"]

DEFAULT_STORAGE = OPTIONS["storage"].default
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: The options ``suolink serve`` passes on to the web app.
_SERVE_ADAPTER = "asgi"
#: The apps ``suolink serve --app`` runs: the ASGI app under uvicorn, or Flask's own server.
_SERVE_APPS = ("asgi", "flask")
#: Seconds in-flight requests get to finish after SIGTERM before uvicorn stops waiting.
_GRACEFUL_SECONDS = 30
#: Seconds a worker may take to answer uvicorn's health ping, starting up included.
_WORKER_PING_SECONDS = 30
_HELP_WIDTH = 88
#: How the command's users set the secret, for the "no secret" warning.
_SECRET_SETTING = f"--secret (or ${OPTIONS['secret'].env})"
_BASE_URL_HINT = f"no base URL is configured: give --base-url or set {OPTIONS['base_url'].env}"


def _makes_urls(shortener: Any) -> bool:
    """Whether short URLs can be made without a request: a base URL, or short domains."""
    return bool(shortener.base_url or shortener.domain_book.all())


class CommandError(Exception):
    """A refusal of the command itself (not the library's): one error line, exit 1."""


#: Flags whose value other users of the machine can read in ``ps``: their variable.
_SECRET_FLAGS = {"token": "api_token", "secret": "secret"}


def _warn_secret_flags(args: argparse.Namespace) -> None:
    """One warning line per secret given to ``serve`` as a flag: ``ps`` shows it to all.

    Only for the server: it runs for weeks, where a one-off command is gone in a second.
    """
    if args.command != "serve":
        return
    for flag, name in _SECRET_FLAGS.items():
        if getattr(args, flag, None):
            write_line(
                f"suolink: warning: --{flag} is visible to other users of this machine "
                f"(ps, /proc); set {OPTIONS[name].env} in the environment instead",
                stream=sys.stderr,
            )


def _env_epilog(options: tuple[Option, ...]) -> str:
    """The ``--help`` list of environment variables, from the option spec (never values)."""
    width = max(len(option.env) for option in options) + 4
    lines = ["environment variables (a flag beats its variable; unset ones take the default):"]
    for option in options:
        lines.append(
            textwrap.fill(
                f"{option.doc} [default: {option.default_text()}]",
                width=_HELP_WIDTH,
                initial_indent=f"  {option.env}".ljust(width),
                subsequent_indent=" " * width,
            )
        )
    return "\n".join(lines)


def _clearable() -> tuple[str, ...]:
    """Settings ``update --clear`` can reset (those whose rule takes "none"), as flag names."""
    from datetime import UTC, datetime

    from .options import SETTING_NAMES, validate_settings

    now = datetime.now(UTC)
    names = []
    for name in sorted(SETTING_NAMES):
        try:
            if validate_settings({name: None}, now=now, validate_url=str, action="update"):
                names.append(name.replace("_", "-"))
        except SuolinkError:
            continue  # e.g. disabled: true or false, never "none"
    return tuple(names)


def _shortener_options() -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS.values() if o.target == "shortener")


# -- the command line --------------------------------------------------------------------


@functools.cache
def _global_options(*, storage: bool = True, json: bool = True) -> argparse.ArgumentParser:
    """Options taken before or after the command (``default=SUPPRESS``: the later one wins)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options (also before the command)")
    if storage:
        group.add_argument(
            "--storage",
            default=argparse.SUPPRESS,
            help=f"storage URL (default: ${OPTIONS['storage'].env}, else {DEFAULT_STORAGE})",
        )
        group.add_argument(
            "--secret",
            default=argparse.SUPPRESS,
            help=f"secret that salts generated codes (default: ${OPTIONS['secret'].env})",
        )
    if json:
        group.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    return parent


def _subparser(
    commands: Any,
    name: str,
    help: str,
    options: tuple[Option, ...] = (),
    *,
    storage: bool = True,
    json: bool = True,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[:1].upper() + help[1:] + ".",
        epilog=_env_epilog(options) if options else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options(storage=storage, json=json)],
    )
    return parser


def _base_url_option(parser: argparse.ArgumentParser, default: str, what: str = "") -> None:
    parser.add_argument(
        "--base-url",
        help=f"public URL of short links{what} (default: ${OPTIONS['base_url'].env}"
        + (f", else {default})" if default else ")"),
    )


def _setting_options(parser: argparse.ArgumentParser, *, update: bool = False) -> None:
    """The link-setting flags ``shorten`` and ``update`` share."""
    if update:
        parser.add_argument("--url", help="a new target URL")
    parser.add_argument("--expires-in", type=float, metavar="SECONDS", help="lifetime")
    parser.add_argument("--expires-at", metavar="ISO8601", help="expiry time with timezone")
    parser.add_argument("--max-visits", type=int, help="visits allowed before the link ends")
    parser.add_argument("--password", help="password visitors must type")
    parser.add_argument("--title", help="a title shown on pages")
    parser.add_argument("--og-title", help="title of the preview card chat apps draw")
    parser.add_argument("--og-description", help="text of the preview card")
    parser.add_argument("--og-image", metavar="URL", help="picture of the preview card")
    parser.add_argument("--domain", help="the short domain the link lives on (its pool too)")
    parser.add_argument("--pool", help="the pool of short domains the link rotates through")
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="WEIGHT=URL",
        help="a weighted arm of an A/B split (repeatable; arms are named a, b, c …)"
        + ("; replaces the link's split" if update else ""),
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        help="tag (repeatable)" + ("; replaces the link's tags" if update else ""),
    )
    parser.add_argument(
        "--anti-block",
        metavar="PLATFORMS",
        help="platforms that get the open-in-browser guide (comma-separated; "
        "default: the apps that block links)",
    )
    parser.add_argument(
        "--anti-block-mode", choices=("guide", "auto", "off"), help="guide, auto (default) or off"
    )
    parser.add_argument("--allow", metavar="PLATFORMS", help="only these platforms may open it")
    parser.add_argument("--deny", metavar="PLATFORMS", help="these platforms may not open it")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PLATFORM=URL",
        help="destination for one platform, e.g. ios=https://apps.apple.com/… (repeatable)"
        + ("; replaces the link's targets" if update else ""),
    )
    if update:
        clearable = _clearable()
        parser.add_argument(
            "--clear",
            action="append",
            default=[],
            choices=clearable,
            metavar="SETTING",
            help=f"reset a setting to none or its default (repeatable): {', '.join(clearable)}",
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suolink",
        description="Short links that still open inside WeChat, QQ and other in-app browsers.",
        epilog=_env_epilog(options_for(_SERVE_ADAPTER)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options()],
    )
    parser.set_defaults(storage=None, secret=None, json=False)
    parser.add_argument("--version", action="version", version=f"suolink {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shortener_options = _shortener_options()

    serve = _subparser(
        commands,
        "serve",
        "run the web app (redirects, API, web page)",
        options_for(_SERVE_ADAPTER),
        json=False,
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    _base_url_option(serve, "http://HOST:PORT")
    serve.add_argument(
        "--token",
        help=f"API token required to manage links (default: ${OPTIONS['api_token'].env})",
    )
    serve.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="let anyone create links without a token (public shortener)",
    )
    serve.add_argument(
        "--app",
        choices=_SERVE_APPS,
        help="asgi: the Starlette app under uvicorn (the default when suolink[asgi] is "
        "installed); flask: the Flask app on Flask's own threaded server (one process)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="worker processes of the ASGI server (default: the number of CPUs)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (default: off)")
    serve.add_argument(
        "--no-webhooks",
        action="store_true",
        help="do not deliver webhooks from this process (run `suolink webhooks run` elsewhere)",
    )
    serve.add_argument(
        "--check-domains-every",
        type=_non_negative,
        metavar="SECONDS",
        help="check every short domain this often and mark blocked ones (default: "
        f"${OPTIONS['check_domains_every'].env}, else 0: off)",
    )

    shorten = _subparser(commands, "shorten", "make a short link and print it", shortener_options)
    shorten.add_argument("url", help="the long URL")
    shorten.add_argument("--code", help="custom alias instead of a generated code")
    shorten.add_argument("--random", action="store_true", help="random code, not hashids")
    _setting_options(shorten)
    shorten.add_argument("--recipient", help="your opaque id of the person it is for")
    shorten.add_argument("--campaign", help="the campaign it belongs to (docs/people.md)")
    _base_url_option(shorten, "", "; without one the code is printed")

    links = _subparser(commands, "list", "list links, newest first", shortener_options)
    links.add_argument("--tag", help="only links with this tag")
    links.add_argument("--search", metavar="TEXT", help="only links whose code, URL, title or "
                       "a tag holds TEXT (any case)")  # fmt: skip
    links.add_argument("--expired", action="store_true", help="only links past their expiry")
    links.add_argument("--limit", type=_positive, metavar="N", help="at most N links")
    links.add_argument(
        "--json-lines", action="store_true", help="print one JSON link per line (streamed)"
    )
    _base_url_option(links, "", ", for short_url in JSON")

    update = _subparser(commands, "update", "change a link's settings", shortener_options)
    update.add_argument("code", help="the short code")
    _setting_options(update, update=True)
    _base_url_option(update, "", ", for short_url in JSON")

    delete = _subparser(commands, "delete", "delete a link and its visits", shortener_options)
    delete.add_argument("code", help="the short code")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    for name, what in (("disable", "make a link answer 404"), ("enable", "undo disable")):
        toggle = _subparser(commands, name, what, shortener_options)
        toggle.add_argument("code", help="the short code")
        _base_url_option(toggle, "", ", for short_url in JSON")

    qr = _subparser(
        commands,
        "qr",
        "draw the QR code of a URL or of a short link's code",
        shortener_options,
        json=False,
    )
    qr.add_argument("target", metavar="URL_OR_CODE", help="a URL, or the code of a stored link")
    qr.add_argument(
        "-o",
        "--output",
        help="write PNG or SVG here (by extension), or to standard output with '-'; "
        "else print to the terminal",
    )
    qr.add_argument("--format", choices=("png", "svg"), help="image format (default: by -o)")
    qr.add_argument("--scale", type=int, help="pixels per module")
    qr.add_argument("--size", type=int, help="exact width in pixels (PNG)")
    qr.add_argument("--border", type=int, default=4, help="quiet zone in modules (default 4)")
    qr.add_argument("--ec", choices="LMQH", default="M", help="error correction (default M)")
    qr.add_argument("--fg", default="#000000", help="dark colour (default #000000)")
    qr.add_argument("--bg", default="#ffffff", help="light colour or 'transparent'")
    qr.add_argument("--logo", help="image file to put in the middle (forces level H)")
    _base_url_option(qr, "", ", needed for codes")

    decode = _subparser(
        commands, "decode", "print the text of every QR code in images", storage=False
    )
    decode.add_argument(
        "images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP, WebP…; '-' reads stdin"
    )

    people = _subparser(
        commands, "people", "show who clicks most in a campaign (docs/people.md)", shortener_options
    )
    people.add_argument("--campaign", help="the campaign (default: every campaign)")
    people.add_argument(
        "--visitors", action="store_true", help="rank visitors instead of recipients"
    )
    people.add_argument(
        "--min-clicks",
        type=int,
        metavar="N",
        help="only people with N clicks or more (default: 0, or 1 with --csv)",
    )
    people.add_argument("--limit", type=_positive, default=20, metavar="N", help="default 20")
    people.add_argument(
        "--csv", action="store_true", help="print the segment as CSV (everyone with N clicks)"
    )

    stats = _subparser(commands, "stats", "show a link's visit statistics", shortener_options)
    stats.add_argument("code", nargs="?", help="the short code")
    stats.add_argument(
        "--all", action="store_true", help="one summary line (or JSON line) per link, streamed"
    )

    _subparser(
        commands,
        "migrate",
        "bring the storage's schema up to date (serving does this too)",
        options_for(_SERVE_ADAPTER),
    )
    imports = _subparser(
        commands,
        "import",
        "import links from a file (suolink, Shlink, YOURLS, Kutt)",
        shortener_options,
    )
    imports.add_argument("file", help="the export to read (CSV or JSON)")
    imports.add_argument(
        "--format",
        choices=IMPORT_FORMATS,
        default="auto",
        help="the file's format (default: told from its content)",
    )

    export = _subparser(
        commands,
        "export",
        "write every link and its visits (CSV or JSON)",
        shortener_options,
        json=False,
    )
    export.add_argument("--format", choices=("json", "csv"), default="json", help="default json")
    export.add_argument("-o", "--output", help="write here (default: standard output)")
    export.add_argument("--no-visits", action="store_true", help="links only")
    webhook_cli.add_commands(commands, _subparser, _global_options())

    domains = _subparser(
        commands, "domains", "short domains: list (the default), add, remove, mark, check"
    )
    domains.set_defaults(domains_command="list")
    domain_commands = domains.add_subparsers(
        dest="domains_command", required=False, metavar="ACTION"
    )
    domains_cli.add_parsers(
        lambda name, help: _subparser(domain_commands, name, help, shortener_options)
    )
    check = _subparser(
        domain_commands,
        "check",
        "probe every domain once, mark blocked ones, print a table (exit 3 if any is blocked)",
        shortener_options,
    )
    domain_checks_cli.add_arguments(check)
    return parser


def _non_negative(text: str) -> int:
    """argparse type: a whole number of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def _positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# -- shared helpers ----------------------------------------------------------------------


def _environ() -> ServerOptions:
    """The options ``SUOLINK_*`` environment variables set (checked: bad values fail here)."""
    return from_environ(os.environ)


def _shortener(args: argparse.Namespace) -> Any:
    """The Shortener of a command: flags, then environment variables, then defaults."""
    from .shortener import Shortener

    flags = {
        "storage": args.storage,
        "secret": args.secret,
        "base_url": getattr(args, "base_url", None),
    }
    options = {**_environ().shortener_kwargs(), **{k: v for k, v in flags.items() if v}}
    return Shortener(**options)


def _link_json(shortener: Any, link: Link) -> dict[str, Any]:
    """A link in the API's shape (openapi ``Link``): no password hash, its short URL.

    Without a configured base URL ``short_url`` is the path ``/CODE``, relative to wherever
    the app is served, rather than a made-up host.
    """
    data = link.to_dict()
    data.pop("password_hash")
    data["has_password"] = link.has_password
    data["short_url"] = shortener.short_url(link) if _makes_urls(shortener) else f"/{link.code}"
    return data


def _print_json(value: Any, *, indent: int | None = 2) -> None:
    print(to_json(value, indent=indent))


def _targets(pairs: list[str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for pair in pairs:
        platform, sep, url = pair.partition("=")
        if not sep or not platform or not url:
            raise InvalidOption("targets", f"{pair!r}: write PLATFORM=URL")
        targets[platform.strip()] = url.strip()
    return targets


def _split(arms: list[str]) -> list[tuple[str, int]]:
    """``--split WEIGHT=URL`` flags as ``(url, weight)`` arms."""
    out: list[tuple[str, int]] = []
    for arm in arms:
        weight, sep, url = arm.partition("=")
        if not sep or not weight.strip().isdigit() or not url.strip():
            raise InvalidOption("split", f"{arm[:60]!r}: write WEIGHT=URL, e.g. 3=https://…")
        out.append((url.strip(), int(weight)))
    return out


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The link settings the flags give (only those given, for ``update``)."""
    given = {
        "expires_in": args.expires_in,
        "expires_at": args.expires_at,
        "max_visits": args.max_visits,
        "password": args.password,
        "title": args.title,
        "tags": args.tag or None,
        "anti_block": args.anti_block,
        "anti_block_mode": args.anti_block_mode,
        "allow": args.allow,
        "deny": args.deny,
        "targets": _targets(args.target) or None,
        "og_title": args.og_title,
        "og_description": args.og_description,
        "og_image": args.og_image,
        "split": _split(args.split) or None,
        "domain": args.domain,
        "pool": args.pool,
    }
    if getattr(args, "url", None) is not None and args.command == "update":
        given["url"] = args.url
    if args.command == "shorten":
        given["recipient"] = args.recipient
        given["campaign"] = args.campaign
    return {name: value for name, value in given.items() if value is not None}


def _state(link: Link, now: Any) -> str:
    """What a visitor would meet now, in one word for ``list``."""
    if link.disabled:
        return "disabled"
    if link.is_expired(now):
        return "expired"
    if link.is_exhausted:
        return "used up"
    return "active"


# -- commands ----------------------------------------------------------------------------


def _cmd_migrate(args: argparse.Namespace) -> int:
    """Opening a store applies its missing migrations; then it must answer ``check()``."""
    from .backends import open_storage

    url = args.storage or _environ().get("storage") or DEFAULT_STORAGE
    storage = open_storage(url)
    try:
        storage.check()
    finally:
        storage.close()
    if args.json:
        _print_json({"storage": storage.url, "migrated": True})
    else:
        write_line(f"{storage.url}: schema up to date")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    base_url = str(args.base_url or _environ().get("base_url") or f"http://{args.host}:{args.port}")
    given = {
        "storage": args.storage,  # the app reads the SUOLINK_* environment for the rest
        "secret": args.secret,
        "base_url": base_url,
        "api_token": args.token,
        "allow_anonymous": args.allow_anonymous or None,
    }
    kind = args.app or _default_app()
    if kind == "asgi":  # the ASGI app runs the checks itself (in one process of the machine)
        given["check_domains_every"] = args.check_domains_every
    if kind == "flask":
        return _serve_flask(args, given)
    return _serve_asgi(args, {k: v for k, v in given.items() if v is not None})


def _default_app() -> str:
    """``asgi`` when its extra is installed; else ``flask`` if that one is (older installs)."""
    if all(importlib.util.find_spec(m) for m in ("starlette", "uvicorn")):
        return "asgi"
    return "flask" if importlib.util.find_spec("flask") else "asgi"


def _banner(base_url: str, storage: object, how: str) -> None:
    write_line(
        f"suolink {__version__} serving on {base_url}/ "
        f"(storage {OPTIONS['storage'].show(storage)}, {how})"
    )
    sys.stdout.flush()


def _serve_flask(args: argparse.Namespace, given: dict[str, Any]) -> int:
    from .adapters.flask import Suolink, create_app

    if args.workers not in (None, 1):
        raise CommandError(
            "--workers needs the ASGI app (--app asgi); run the Flask app under a WSGI "
            "server such as gunicorn for more processes"
        )
    import logging

    app = create_app(given.pop("storage"), **given)
    _banner(given["base_url"], Suolink.state(app).options.get("storage"), "Flask server")
    if not args.access_log:  # werkzeug logs each request at INFO
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    shortener = Suolink.state(app).shortener
    environ = _environ()
    every = args.check_domains_every
    checks = periodic_checks(
        shortener,
        environ.get("check_domains_every") if every is None else every,
        checker=environ.get("domain_checker"),
        storage_url=shortener.storage.url,
    )
    stop_webhooks = _webhook_worker(args, given, shortener.storage)
    try:
        with _stopped_by_sigterm():
            if checks is not None:  # started once SIGTERM is ours, stopped before the store
                checks.start()
            app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    finally:
        stop_webhooks()
        if checks is not None:
            checks.stop()
    shortener.close()
    return 0


def _webhook_worker(args: argparse.Namespace, given: dict[str, Any], storage: Any) -> Any:
    """``serve``'s webhook delivery worker, on a store of its own (the app's closes first);
    the function that stops it. Leases keep several servers from sending a message twice."""
    from .backends import open_storage
    from .backends.memory import MemoryStorage

    if args.no_webhooks:
        return lambda: None
    if isinstance(storage, MemoryStorage):  # one process: the app's own store
        return webhook_cli.serve_worker(storage, enabled=True)
    url = given.get("storage") or _environ().get("storage") or DEFAULT_STORAGE
    own = open_storage(str(url))
    stop = webhook_cli.serve_worker(own, enabled=True)

    def done() -> None:
        stop()
        own.close()

    return done


class _Stop(Exception):
    """SIGTERM arrived: leave the server loop and close the store."""


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM ends the block quietly (and the command exits 0)."""
    import signal

    def stop(*_: object) -> None:
        raise _Stop

    if threading.current_thread() is not threading.main_thread():  # no signals there
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve_asgi(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """The ASGI app under uvicorn: N workers, graceful SIGTERM, the store closed at exit.

    The app is built here once, so a bad setting fails before any worker starts and
    warnings are said once; workers build their own from the same settings, which reach
    them as ``SUOLINK_*`` variables (never as arguments other users could read in ``ps``).
    """
    if importlib.util.find_spec("uvicorn") is None:
        raise MissingDependencyError("suolink serve", "asgi", module="uvicorn")
    from .adapters.asgi import create_app, get_shortener
    from .backends.memory import MemoryStorage

    app = create_app(**given)
    storage = get_shortener(app).storage
    workers = args.workers or (1 if isinstance(storage, MemoryStorage) else _cpu_count())
    if workers > 1 and isinstance(storage, MemoryStorage):
        get_shortener(app).close()
        raise CommandError(
            "memory:// is not shared between worker processes (each would have its own "
            "links): use --workers 1, or a shared store such as sqlite:///path or redis://"
        )
    # what the workers' create_app() reads, on top of the environment it inherits
    environ = {OPTIONS[name].env: _env_text(value) for name, value in given.items()}
    environ[OPTIONS["storage"].env] = storage.url
    options: dict[str, Any] = {
        "factory": workers > 1,
        "host": args.host,
        "port": args.port,
        "workers": workers,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": _GRACEFUL_SECONDS,
        "proxy_headers": False,  # the client is the peer unless a proxy is trusted
        "server_header": False,
        "lifespan": "on",
    }
    if workers > 1 and _takes_option("timeout_worker_healthcheck"):
        # uvicorn kills a worker that does not answer its ping within this many seconds
        # (5 by default), starting it is included: on a busy host a worker still importing
        # was killed and started again, over and over.
        options["timeout_worker_healthcheck"] = _WORKER_PING_SECONDS
    if workers > 1:
        get_shortener(app).close()  # the parent only supervises
    plural = "s" if workers > 1 else ""
    _banner(given["base_url"], storage.url, f"uvicorn, {workers} worker{plural}")
    stop_webhooks = _webhook_worker(args, given, storage)
    try:
        _run_uvicorn(app if workers == 1 else f"{__name__}:_asgi_worker", environ, **options)
    finally:
        stop_webhooks()
    return 0


def _env_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cpu_count() -> int:
    """CPUs this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _takes_option(name: str) -> bool:
    """Whether this uvicorn's ``Config`` has the option ``name`` (newer ones add some)."""
    import inspect

    import uvicorn

    return name in inspect.signature(uvicorn.Config).parameters


def _run_uvicorn(app: Any, environ: dict[str, str], **options: Any) -> None:
    """Serve until SIGTERM or SIGINT; in-flight requests finish and lifespan closes stores.

    ``environ`` is set first, for the workers uvicorn starts. uvicorn raises the signal
    again once it has shut down gracefully; a SIGTERM handler of our own turns that into
    a normal return, so a stopped server exits 0.
    """
    import signal

    import uvicorn

    os.environ.update(environ)
    if threading.current_thread() is not threading.main_thread():  # no signals there
        uvicorn.run(app, **options)
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(app, **options)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _asgi_worker() -> Any:
    """A worker's app (``uvicorn --factory``): the parent already said every warning."""
    import logging

    from .adapters.asgi import create_app

    startup = logging.getLogger("suolink.asgi")
    level = startup.level
    startup.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return create_app()
    finally:
        startup.setLevel(level)


def _cmd_shorten(args: argparse.Namespace) -> int:
    with _shortener(args) as shortener:
        link = shortener.shorten(
            args.url,
            code=args.code,
            strategy="random" if args.random else None,
            **_settings(args),
        )
        if (
            args.code is None
            and shortener.codes.strategy is CodeStrategy.HASHIDS
            and not args.random
        ):
            warn_if_no_secret(shortener.secret, setting=_SECRET_SETTING)  # guessable codes
        if args.json:
            _print_json(_link_json(shortener, link))
        elif _makes_urls(shortener):
            write_line(shortener.short_url(link))
        else:
            write_line(link.code)
            write_line(f"suolink: hint: {_BASE_URL_HINT} to print the short URL", stream=sys.stderr)
    return 0


def _matches(link: Link, needle: str) -> bool:
    """``--search``: ``needle`` (casefolded) in the code, URL, title or a tag."""
    haystack = (link.code, link.url, link.title or "", *link.tags)
    return any(needle in text.casefold() for text in haystack)


def _selected(shortener: Any, args: argparse.Namespace) -> Iterator[Link]:
    """The links ``list`` shows: filtered in the CLI over ``iter_links`` (tag in the backend)."""
    links: Iterable[Link] = shortener.iter_links(tag=args.tag)
    if args.search:
        needle = args.search.casefold()
        links = (link for link in links if _matches(link, needle))
    if args.expired:
        now = shortener.clock()
        links = (link for link in links if link.is_expired(now))
    return itertools.islice(links, args.limit)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...], width: int) -> Iterator[str]:
    """Aligned columns; the last one (the URL) cut with … to fit ``width``."""
    rows = [tuple(safe_text(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        room = max(width - len(head) - 2, 10)
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        yield f"{head}  {last}".rstrip()


def _cmd_list(args: argparse.Namespace) -> int:
    with _shortener(args) as shortener:
        links = _selected(shortener, args)
        if args.json_lines:
            for link in links:
                _print_json(_link_json(shortener, link), indent=None)
        elif args.json:
            # A JSON array written a link at a time, so a long list streams.
            first = True
            for link in links:
                print("[" if first else ",", to_json(_link_json(shortener, link)), sep="\n")
                first = False
            print("[]" if first else "\n]")
        else:
            now = shortener.clock()

            def row(link: Link) -> tuple[str, ...]:
                expires = link.expires_at.isoformat(timespec="seconds") if link.expires_at else "-"
                tags = ",".join(link.tags) or "-"
                return (link.code, _state(link, now), str(link.visits), expires, tags, link.url)

            if is_terminal(sys.stdout):
                header = ("CODE", "STATE", "VISITS", "EXPIRES", "TAGS", "URL")
                import shutil

                width = shutil.get_terminal_size().columns
                for line in _table([row(link) for link in links], header, width):
                    print(line)
            else:
                for link in links:  # plain tab-separated lines for scripts
                    print("\t".join(safe_text(cell) for cell in row(link)))
    return 0


def _cmd_update(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for flag in args.clear:
        name = flag.replace("-", "_")
        if name in settings:
            raise InvalidOption(name, f"give --{flag} or --clear {flag}, not both")
        settings[name] = None
    if not settings:
        raise CommandError("nothing to change: give a setting (see suolink update --help)")
    with _shortener(args) as shortener:
        link = shortener.update(args.code, **settings)
        _print_changed(args, shortener, link, f"updated {link.code}: {', '.join(sorted(settings))}")
    return 0


def _confirm(question: str) -> bool:
    """Ask on the terminal; only an explicit yes counts."""
    sys.stderr.write(f"{safe_text(question)} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _cmd_delete(args: argparse.Namespace) -> int:
    with _shortener(args) as shortener:
        link = shortener.get(args.code)
        if not args.yes:
            if not (is_terminal(sys.stdin) and is_terminal(sys.stderr)):
                raise CommandError(f"not deleting {link.code} without --yes (no terminal to ask)")
            if not _confirm(f"delete {link.code} -> {link.url} and its {link.visits} visits?"):
                raise CommandError(f"{link.code} was not deleted")
        deleted = shortener.delete(link.code)
    if args.json:
        _print_json({"code": link.code, "deleted": deleted})
    else:
        write_line(f"deleted {link.code}" if deleted else f"{link.code} was already gone")
    return 0


def _cmd_toggle(args: argparse.Namespace) -> int:
    disabled = args.command == "disable"
    with _shortener(args) as shortener:
        link = shortener.update(args.code, disabled=disabled)
        _print_changed(
            args, shortener, link, f"{link.code} {'disabled' if disabled else 'enabled'}"
        )
    return 0


def _print_changed(args: argparse.Namespace, shortener: Shortener, link: Link, line: str) -> None:
    """A changed link: its JSON (the API's shape) with ``--json``, else one line."""
    if args.json:
        _print_json(_link_json(shortener, link))
    else:
        write_line(line)


def _print_stats(stats: Any) -> None:
    from .render.i18n import count_phrase  # pages' plural rules, loaded only for this command

    visits = count_phrase(stats.total, "visit", "visits")
    people = count_phrase(stats.humans, "person", "people")
    bots = count_phrase(stats.bots, "bot", "bots")
    unique = count_phrase(stats.unique_visitors, "unique visitor", "unique visitors")
    write_line(f"{stats.code}: {visits} ({people}, {bots}), {unique}")


def _cmd_people(args: argparse.Namespace) -> int:
    """``suolink people``: a campaign's leaderboard, or its segment as CSV."""
    recipients = not args.visitors
    with _shortener(args) as shortener:
        if args.csv:
            least = 1 if args.min_clicks is None else args.min_clicks
            out = sys.stdout.buffer
            for chunk in shortener.people_csv(
                args.campaign, recipients=recipients, min_clicks=least
            ):
                out.write(chunk)
            out.flush()
            return 0
        if recipients:
            rows = shortener.top_recipients(
                args.campaign, limit=args.limit, min_clicks=args.min_clicks or 0
            )
            totals = shortener.people_totals(args.campaign)
        else:
            rows = shortener.top_visitors(
                args.campaign, limit=args.limit, min_clicks=args.min_clicks or 0
            )
    if args.json:
        body: dict[str, Any] = {
            "campaign": args.campaign,
            "recipients" if recipients else "visitors": [
                row_to_json(row, recipients=recipients) for row in rows
            ],
        }
        if recipients:
            body["totals"] = totals_to_json(totals)
        _print_json(body)
        return 0
    if recipients:
        from .render.i18n import count_phrase

        write_line(
            f"{args.campaign or 'every campaign'}: "
            f"{count_phrase(totals.recipients, 'recipient', 'recipients')}, "
            f"{count_phrase(totals.clicks, 'click', 'clicks')}, reach {totals.reach}, "
            f"average reach {totals.average_reach:.2f}"
        )
        write_line(f"  {'recipient':<24} {'clicks':>7} {'reach':>6} {'links':>6}")
        for row in rows:
            write_line(f"  {row.id:<24} {row.clicks:>7} {row.reach:>6} {row.links:>6}")
    else:
        write_line(f"  {'visitor':<24} {'clicks':>7} {'links':>6}  last seen")
        for row in rows:
            last = row.last_seen.isoformat(timespec="seconds") if row.last_seen else ""
            write_line(f"  {row.id:<24} {row.clicks:>7} {row.links:>6}  {last}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    if args.all == bool(args.code):
        raise CommandError("give a CODE or --all")
    if args.all:
        return _stats_all(args)
    with _shortener(args) as shortener:
        stats = shortener.stats(args.code)
    if args.json:
        _print_json(stats.to_dict())
        return 0
    _print_stats(stats)
    for title, counts in (
        ("by outcome", stats.by_outcome),
        ("by app", stats.by_app),
        ("by OS", stats.by_os),
        ("by device", stats.by_device),
        ("by browser", stats.by_browser),
        ("by referer", dict(stats.top_referers)),
        ("by country", stats.by_country),
        ("by split arm", stats.by_arm),
        ("by short domain", stats.by_domain),
        ("bots", stats.by_bot),
        ("by day", stats.by_day),
    ):
        if counts:
            write_line(f"{title}:")
            for key, value in counts.items():
                write_line(f"  {key:<20} {value:>8}")
    if stats.top_visitors:
        write_line("top visitors:")
        for visitor, count in stats.top_visitors:
            write_line(f"  {visitor:<20} {count:>8}")
    return 0


def _stats_all(args: argparse.Namespace) -> int:
    """Every link's stats, a line each as it is computed; a progress bar on a terminal."""
    with _shortener(args) as shortener:
        # Counting first costs one listing pass; only worth it when a bar is drawn.
        total = sum(1 for _ in shortener.iter_links()) if is_terminal(sys.stderr) else None
        for link in progress(shortener.iter_links(), "stats", total):
            stats = shortener.stats(link.code)
            if args.json:
                _print_json(stats.to_dict(), indent=None)
            else:
                _print_stats(stats)
            sys.stdout.flush()
    return 0


def _qr_format(args: argparse.Namespace) -> Literal["png", "svg"]:
    from pathlib import Path

    if args.output in (None, "-"):
        return "svg" if args.format == "svg" else "png"
    suffix = Path(args.output).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InvalidOption("output", "the file name must end in .png or .svg")
    by_name: Literal["png", "svg"] = "svg" if suffix == ".svg" else "png"
    if args.format and args.format != by_name:
        raise InvalidOption("format", f"{args.format} does not match the file name {args.output}")
    return by_name


def _cmd_qr(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .qr import encode, render_terminal

    fmt = _qr_format(args)
    if args.output == "-" and is_terminal(sys.stdout):
        raise CommandError(f"not writing a {fmt.upper()} image to a terminal: redirect it")
    if "://" in args.target:
        text = args.target
    else:
        with _shortener(args) as shortener:
            link = shortener.get(args.target)
            if not _makes_urls(shortener):
                raise CommandError(f"{_BASE_URL_HINT} to draw the short URL of a code")
            text = shortener.short_url(link)
    if not args.output:
        write_line(render_terminal(text, error_correction=args.ec))
        write_line(text)
        return 0
    image = encode(
        text,
        format=fmt,
        scale=args.scale,
        size=args.size,
        border=args.border,
        error_correction=args.ec,
        fg=args.fg,
        bg=args.bg,
        logo=args.logo,
    )
    if args.output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(image)
        sys.stdout.buffer.flush()
        return 0
    try:
        Path(args.output).write_bytes(image)
    except OSError as exc:
        raise InvalidOption("output", f"cannot write {args.output}: {exc.strerror}") from None
    write_line(args.output)
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    from .qr import decode

    status = 0
    for path in args.images:
        if path == "-" and is_terminal(sys.stdin):
            raise CommandError("no image on standard input: pipe one in (… | suolink decode -)")
        try:
            payloads = decode(sys.stdin.buffer if path == "-" else path)
        except SuolinkError as exc:
            _error(f"{path}: {exc}")
            status = 1
            continue
        if not payloads:
            write_line(f"suolink: no QR code found in {path}", stream=sys.stderr)
            status = 1
            continue
        if args.json:  # the API's {"payloads": [...]}, and the picture's name
            _print_json({"image": path, "payloads": payloads}, indent=None)
            continue
        for payload in payloads:
            # A multi-line payload keeps its lines; each is escaped on its own.
            for line in payload.split("\n"):
                write_line(f"{path}: {line}" if len(args.images) > 1 else line)
    return status


def _cmd_import(args: argparse.Namespace) -> int:
    records = list(read_file(args.file, args.format))
    with _shortener(args) as shortener, Progress("importing", len(records)) as bar:
        report = import_records(shortener, records, on_record=bar.advance)
    for code, reason in report.skipped:
        write_line(f"skipped {code}: {reason}", stream=sys.stderr)
    summary = {"created": report.created, "visits": report.visits, "skipped": len(report.skipped)}
    if args.json:
        _print_json(summary)
    else:
        write_line(
            f"imported {report.created} links ({report.visits} visits); "
            f"skipped {len(report.skipped)}"
        )
    return 0 if not report.skipped else 1


def _cmd_export(args: argparse.Namespace) -> int:
    with _shortener(args) as shortener:

        def items() -> Iterator[tuple[Link, Iterable[Visit]]]:
            for link in shortener.iter_links():
                yield link, () if args.no_visits else shortener.visits(link.code)

        chunks = archive_csv(items()) if args.format == "csv" else archive_json(items())
        if args.output in (None, "-"):
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
        else:
            with open(args.output, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
    return 0


def _cmd_domains(args: argparse.Namespace) -> int:
    """``suolink domains [list|add|remove|mark|check]``."""
    with _shortener(args) as shortener:
        if args.domains_command != "check":
            return domains_cli.run(shortener, args)
        checker = _environ().get("domain_checker")
        return domain_checks_cli.run(shortener, args, checker=checker)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _cmd_serve,
    "shorten": _cmd_shorten,
    "list": _cmd_list,
    "update": _cmd_update,
    "delete": _cmd_delete,
    "disable": _cmd_toggle,
    "enable": _cmd_toggle,
    "qr": _cmd_qr,
    "decode": _cmd_decode,
    "stats": _cmd_stats,
    "people": _cmd_people,
    "migrate": _cmd_migrate,
    "import": _cmd_import,
    "export": _cmd_export,
    "webhooks": lambda args: webhook_cli.run(args, _shortener),
    "domains": _cmd_domains,
}


def _error(message: str) -> None:
    write_line(f"suolink: error: {message}", stream=sys.stderr)


def _warning_printer() -> Callable[..., None]:
    """``warnings.showwarning`` for the command: one plain line per distinct warning."""
    said: set[str] = set()

    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        if str(message) not in said:
            said.add(str(message))
            write_line(f"suolink: warning: {message}", stream=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 or 2)."""
    args = _parser().parse_args(argv)
    _warn_secret_flags(args)
    handler = _COMMANDS[args.command]
    try:
        with warnings.catch_warnings():
            # A misspelt SUOLINK_* variable: one "suolink: warning:" line, said once.
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _warning_printer()
            return handler(args)
    except (SuolinkError, CommandError) as exc:
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `suolink list | head`); nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        _error(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        return 1
    except Exception as exc:  # a bug: still one line, naming it, never a traceback
        _error(f"unexpected {type(exc).__name__}: {exc} (please report this)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
