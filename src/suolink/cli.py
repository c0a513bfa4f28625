"""The ``suolink`` command: serve the web app, shorten a URL, draw and read QR codes, stats.

Exit codes: 0 success, 1 the operation failed (bad URL, taken code, storage down), 2 the
command line itself was wrong. Errors are one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Literal

from ._version import __version__
from .errors import InvalidOption, SuolinkError

__all__ = ["main"]

DEFAULT_STORAGE = "sqlite:///suolink.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=os.environ.get("SUOLINK_STORAGE", DEFAULT_STORAGE),
        help="storage URL (default: $SUOLINK_STORAGE or %(default)s)",
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("SUOLINK_SECRET"),
        help="secret that salts generated codes (default: $SUOLINK_SECRET)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suolink",
        description="Short links that still open inside WeChat, QQ and other in-app browsers.",
    )
    parser.add_argument("--version", action="version", version=f"suolink {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app (redirects, API, web page)")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    serve.add_argument("--base-url", help="public URL of short links (default http://HOST:PORT)")
    serve.add_argument(
        "--token",
        default=os.environ.get("SUOLINK_API_TOKEN"),
        help="API token required to manage links (default: $SUOLINK_API_TOKEN)",
    )
    serve.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="let anyone create links without a token (public shortener)",
    )
    _storage_option(serve)

    shorten = commands.add_parser("shorten", help="make a short link and print it")
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
    shorten.add_argument(
        "--base-url",
        default=os.environ.get("SUOLINK_BASE_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"),
        help="public URL of short links (default: $SUOLINK_BASE_URL or %(default)s)",
    )
    shorten.add_argument("--json", action="store_true", help="print the whole link as JSON")
    _storage_option(shorten)

    qr = commands.add_parser("qr", help="draw the QR code of a URL or of a short link's code")
    qr.add_argument("target", metavar="URL_OR_CODE", help="a URL, or the code of a stored link")
    qr.add_argument("-o", "--output", help="write PNG or SVG here (by extension); else print")
    qr.add_argument("--scale", type=int, help="pixels per module")
    qr.add_argument("--size", type=int, help="exact width in pixels (PNG)")
    qr.add_argument("--border", type=int, default=4, help="quiet zone in modules (default 4)")
    qr.add_argument("--ec", choices="LMQH", default="M", help="error correction (default M)")
    qr.add_argument("--fg", default="#000000", help="dark colour (default #000000)")
    qr.add_argument("--bg", default="#ffffff", help="light colour or 'transparent'")
    qr.add_argument("--logo", help="image file to put in the middle (forces level H)")
    qr.add_argument(
        "--base-url",
        default=os.environ.get("SUOLINK_BASE_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"),
        help="public URL of short links, for codes (default: $SUOLINK_BASE_URL or %(default)s)",
    )
    _storage_option(qr)

    decode = commands.add_parser("decode", help="print the text of every QR code in images")
    decode.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP, WebP…")

    stats = commands.add_parser("stats", help="show a link's visit statistics")
    stats.add_argument("code", help="the short code")
    stats.add_argument("--json", action="store_true", help="print JSON")
    _storage_option(stats)
    return parser


def _shortener(args: argparse.Namespace, **options: Any) -> Any:
    from .shortener import Shortener

    return Shortener(args.storage, secret=args.secret, **options)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .adapters.flask import create_app

    base_url = args.base_url or f"http://{args.host}:{args.port}"
    app = create_app(
        args.storage,
        secret=args.secret,
        base_url=base_url,
        api_token=args.token,
        allow_anonymous=args.allow_anonymous or None,
    )
    print(f"suolink {__version__} serving on {base_url}/ (storage {args.storage})", flush=True)
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
    with _shortener(args, base_url=args.base_url) as shortener:
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
    print(
        f"{stats.code}: {stats.total} visits ({stats.humans} people, {stats.bots} bots), "
        f"{stats.unique_visitors} unique visitors"
    )
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
        with _shortener(args, base_url=args.base_url) as shortener:
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
