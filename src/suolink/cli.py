"""The ``suolink`` command: serve the web app, shorten a URL, draw and read QR codes, stats.

Exit codes: 0 success, 1 the operation failed (bad URL, taken code, storage down), 2 the
command line itself was wrong. Errors are one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ._version import __version__
from .config import OPTIONS, Option, ServerOptions, from_environ, options_for
from .errors import InvalidOption, SuolinkError

__all__ = ["main"]

DEFAULT_STORAGE = OPTIONS["storage"].default
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BASE_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
#: The options ``suolink serve`` passes on to the web app.
_SERVE_ADAPTER = "flask"
_HELP_WIDTH = 88


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


def _shortener_options() -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS.values() if o.target == "shortener")


def _subparser(
    commands: Any, name: str, help: str, options: tuple[Option, ...] = ()
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[:1].upper() + help[1:] + ".",
        epilog=_env_epilog(options) if options else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        help=f"storage URL (default: ${OPTIONS['storage'].env}, else {DEFAULT_STORAGE})",
    )
    parser.add_argument(
        "--secret",
        help=f"secret that salts generated codes (default: ${OPTIONS['secret'].env})",
    )


def _base_url_option(parser: argparse.ArgumentParser, default: str, what: str = "") -> None:
    parser.add_argument(
        "--base-url",
        help=f"public URL of short links{what} (default: ${OPTIONS['base_url'].env}, "
        f"else {default})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suolink",
        description="Short links that still open inside WeChat, QQ and other in-app browsers.",
        epilog=_env_epilog(options_for(_SERVE_ADAPTER)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"suolink {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _subparser(
        commands,
        "serve",
        "run the web app (redirects, API, web page)",
        options_for(_SERVE_ADAPTER),
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
    _storage_option(serve)

    shorten = _subparser(
        commands, "shorten", "make a short link and print it", _shortener_options()
    )
    shorten.add_argument("url", help="the long URL")
    shorten.add_argument("--code", help="custom alias instead of a generated code")
    shorten.add_argument("--random", action="store_true", help="random code, not hashids")
    shorten.add_argument("--expires-in", type=float, metavar="SECONDS", help="lifetime")
    shorten.add_argument("--expires-at", metavar="ISO8601", help="expiry time with timezone")
    shorten.add_argument("--max-visits", type=int, help="visits allowed before the link ends")
    shorten.add_argument("--password", help="password visitors must type")
    shorten.add_argument("--title", help="a title shown on pages")
    shorten.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    shorten.add_argument(
        "--anti-block",
        metavar="PLATFORMS",
        help="platforms that get the open-in-browser guide (comma-separated; "
        "default: the apps that block links)",
    )
    shorten.add_argument(
        "--anti-block-mode", choices=("guide", "auto", "off"), help="guide, auto (default) or off"
    )
    shorten.add_argument("--allow", metavar="PLATFORMS", help="only these platforms may open it")
    shorten.add_argument("--deny", metavar="PLATFORMS", help="these platforms may not open it")
    shorten.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PLATFORM=URL",
        help="destination for one platform, e.g. ios=https://apps.apple.com/… (repeatable)",
    )
    _base_url_option(shorten, DEFAULT_BASE_URL)
    shorten.add_argument("--json", action="store_true", help="print the whole link as JSON")
    _storage_option(shorten)

    qr = _subparser(
        commands,
        "qr",
        "draw the QR code of a URL or of a short link's code",
        _shortener_options(),
    )
    qr.add_argument("target", metavar="URL_OR_CODE", help="a URL, or the code of a stored link")
    qr.add_argument("-o", "--output", help="write PNG or SVG here (by extension); else print")
    qr.add_argument("--scale", type=int, help="pixels per module")
    qr.add_argument("--size", type=int, help="exact width in pixels (PNG)")
    qr.add_argument("--border", type=int, default=4, help="quiet zone in modules (default 4)")
    qr.add_argument("--ec", choices="LMQH", default="M", help="error correction (default M)")
    qr.add_argument("--fg", default="#000000", help="dark colour (default #000000)")
    qr.add_argument("--bg", default="#ffffff", help="light colour or 'transparent'")
    qr.add_argument("--logo", help="image file to put in the middle (forces level H)")
    _base_url_option(qr, DEFAULT_BASE_URL, ", for codes")
    _storage_option(qr)

    decode = _subparser(commands, "decode", "print the text of every QR code in images")
    decode.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP, WebP…")

    stats = _subparser(commands, "stats", "show a link's visit statistics", _shortener_options())
    stats.add_argument("code", help="the short code")
    stats.add_argument("--json", action="store_true", help="print JSON")
    _storage_option(stats)
    return parser


def _environ() -> ServerOptions:
    """The options ``SUOLINK_*`` environment variables set (checked: bad values fail here)."""
    return from_environ(os.environ)


def _shortener(args: argparse.Namespace, *, base_url: str | None = None) -> Any:
    """The Shortener of a command: flags, then environment variables, then defaults."""
    from .shortener import Shortener

    flags = {"storage": args.storage, "secret": args.secret, "base_url": base_url}
    options = {**_environ().shortener_kwargs(), **{k: v for k, v in flags.items() if v}}
    return Shortener(**options)


def _link_base_url(args: argparse.Namespace, fallback: str) -> str:
    """``--base-url``, else ``$SUOLINK_BASE_URL``, else ``fallback``."""
    return str(args.base_url or _environ().get("base_url") or fallback)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .adapters.flask import Suolink, create_app

    base_url = _link_base_url(args, f"http://{args.host}:{args.port}")
    app = create_app(
        args.storage,  # create_app reads the SUOLINK_* environment for anything not given
        secret=args.secret,
        base_url=base_url,
        api_token=args.token,
        allow_anonymous=args.allow_anonymous or None,
    )
    storage = OPTIONS["storage"].show(Suolink.state(app).options.get("storage"))
    print(f"suolink {__version__} serving on {base_url}/ (storage {storage})", flush=True)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    return 0


def _targets(pairs: list[str]) -> dict[str, str]:
    targets: dict[str, str] = {}
    for pair in pairs:
        platform, sep, url = pair.partition("=")
        if not sep or not platform or not url:
            raise InvalidOption("targets", f"{pair!r}: write PLATFORM=URL")
        targets[platform.strip()] = url.strip()
    return targets


def _cmd_shorten(args: argparse.Namespace) -> int:
    with _shortener(args, base_url=_link_base_url(args, DEFAULT_BASE_URL)) as shortener:
        link = shortener.shorten(
            args.url,
            code=args.code,
            strategy="random" if args.random else None,
            expires_in=args.expires_in,
            expires_at=args.expires_at,
            max_visits=args.max_visits,
            password=args.password,
            title=args.title,
            tags=args.tag,
            anti_block=args.anti_block,
            anti_block_mode=args.anti_block_mode,
            allow=args.allow,
            deny=args.deny,
            targets=_targets(args.target) or None,
        )
        if args.json:
            data = link.to_dict()
            data.pop("password_hash")
            data["has_password"] = link.has_password  # the API's link shape (openapi "Link")
            data["short_url"] = shortener.short_url(link)
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            print(shortener.short_url(link))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    with _shortener(args) as shortener:
        stats = shortener.stats(args.code)
    if args.json:
        print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2))
        return 0
    from .render.i18n import count_phrase  # pages' plural rules, loaded only for this command

    visits = count_phrase(stats.total, "visit", "visits")
    people = count_phrase(stats.humans, "person", "people")
    bots = count_phrase(stats.bots, "bot", "bots")
    unique = count_phrase(stats.unique_visitors, "unique visitor", "unique visitors")
    print(f"{stats.code}: {visits} ({people}, {bots}), {unique}")
    for title, counts in (
        ("by outcome", stats.by_outcome),
        ("by app", stats.by_app),
        ("by OS", stats.by_os),
        ("by device", stats.by_device),
        ("by browser", stats.by_browser),
        ("by referer", dict(stats.top_referers)),
        ("bots", stats.by_bot),
        ("by day", stats.by_day),
    ):
        if counts:
            print(f"{title}:")
            for key, value in counts.items():
                print(f"  {key:<20} {value:>8}")
    if stats.top_visitors:
        print("top visitors:")
        for visitor, count in stats.top_visitors:
            print(f"  {visitor:<20} {count:>8}")
    return 0


def _cmd_qr(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .qr import encode, render_terminal

    fmt: Literal["png", "svg"] = "png"
    if args.output:
        suffix = Path(args.output).suffix.lower()
        if suffix not in (".png", ".svg"):
            raise InvalidOption("output", "the file name must end in .png or .svg")
        fmt = "svg" if suffix == ".svg" else "png"
    if "://" in args.target:
        text = args.target
    else:
        with _shortener(args, base_url=_link_base_url(args, DEFAULT_BASE_URL)) as shortener:
            text = shortener.short_url(shortener.get(args.target))
    if not args.output:
        print(render_terminal(text, error_correction=args.ec))
        print(text)
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
    try:
        Path(args.output).write_bytes(image)
    except OSError as exc:
        raise InvalidOption("output", f"cannot write {args.output}: {exc.strerror}") from None
    print(args.output)
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    from .qr import decode

    status = 0
    for path in args.images:
        try:
            payloads = decode(path)
        except SuolinkError as exc:
            print(f"suolink: error: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        if not payloads:
            print(f"suolink: no QR code found in {path}", file=sys.stderr)
            status = 1
        for payload in payloads:
            print(f"{path}: {payload}" if len(args.images) > 1 else payload)
    return status


def _warning_printer() -> Callable[..., None]:
    """``warnings.showwarning`` for the command: one plain line per distinct warning."""
    said: set[str] = set()

    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        if str(message) not in said:
            said.add(str(message))
            print(f"suolink: warning: {message}", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 or 2)."""
    args = _parser().parse_args(argv)
    handler = {
        "serve": _cmd_serve,
        "shorten": _cmd_shorten,
        "qr": _cmd_qr,
        "decode": _cmd_decode,
        "stats": _cmd_stats,
    }[args.command]
    try:
        with warnings.catch_warnings():
            # A misspelt SUOLINK_* variable: one "suolink: warning:" line, said once.
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _warning_printer()
            return handler(args)
    except SuolinkError as exc:
        print(f"suolink: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `suolink qr URL | head`); nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
