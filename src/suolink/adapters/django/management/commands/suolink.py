"""``manage.py suolink shorten URL`` and ``manage.py suolink stats CODE``.

Both use the app's configured Shortener (:func:`suolink.adapters.django.get_shortener`),
so they see the same links as the web views. Output is JSON on stdout; ``short_url`` is
included when ``SUOLINK['BASE_URL']`` or ``--base-url`` says where links live.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....errors import SuolinkError
from ... import get_shortener


class Command(BaseCommand):
    """Create a short link, or print a link's stats."""

    help = "Create a short link (shorten URL) or print a link's stats (stats CODE)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        shorten = sub.add_parser("shorten", help="create a short link")
        shorten.add_argument("url")
        shorten.add_argument("--code", help="a custom code (alias)")
        shorten.add_argument("--title")
        shorten.add_argument("--tag", action="append", default=[], dest="tags")
        shorten.add_argument("--max-visits", type=int)
        shorten.add_argument(
            "--base-url", help="where short links live (default: SUOLINK['BASE_URL'])"
        )
        stats = sub.add_parser("stats", help="print a link's visit statistics")
        stats.add_argument("code")

    def handle(self, *args: Any, **options: Any) -> None:
        shortener = get_shortener()
        try:
            if options["action"] == "shorten":
                link = shortener.shorten(
                    options["url"],
                    code=options.get("code"),
                    title=options.get("title"),
                    tags=tuple(options.get("tags") or ()),
                    max_visits=options.get("max_visits"),
                )
                data = link.to_dict()
                data.pop("password_hash", None)
                data["has_password"] = link.has_password  # the API's link shape
                base_url = options.get("base_url")
                if base_url or shortener.base_url:
                    data["short_url"] = shortener.short_url(link, base_url=base_url)
                else:  # the path the project's URLconf serves it at, and how to say more
                    data["short_url"] = _link_path(link.code)
                    self.stderr.write(
                        "no base URL is configured: give --base-url or set "
                        "SUOLINK['BASE_URL'] to print the full short URL"
                    )
            else:
                data = shortener.stats(options["code"]).to_dict()
        except SuolinkError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))


def _link_path(code: str) -> str:
    """The short link's path under the prefix the project included suolink's URLs at."""
    from django.urls import NoReverseMatch, reverse

    try:
        return str(reverse("suolink:resolve", kwargs={"code": code}))
    except NoReverseMatch:
        return f"/{code}"
