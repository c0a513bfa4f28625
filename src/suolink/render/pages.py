"""Turn a policy ``Ruling`` into the ``Decision`` a visitor receives (page or redirect).

Everything a page shows is escaped by the templates; what goes into the guide page's
script travels as JSON through ``tojson``, which escapes ``<``, ``>``, ``&`` and quotes.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

from ..detect import Client
from ..escapes import escape_url
from ..http.responses import html_page, redirect
from ..models import Decision, Link, PageDecision
from ..policy import Ruling, Verdict, is_allowed
from ..qr._deps import can_draw
from . import render_page
from .i18n import MESSAGES, instruction
from .phrases import place, places

__all__ = ["GUIDE_QR", "PageContext", "decision_for", "guide_qr_src", "password_throttled"]

#: How the guide page's QR code is drawn (168 px, a 2-module quiet zone).
GUIDE_QR: Final[dict[str, Any]] = {"size": 168, "border": 2}
#: Longest short URL (UTF-8 bytes) the guide page shows as a QR code: at 168 px, every
#: code up to version 22 (1,000 bytes at level M) has a pixel per module at least.
GUIDE_QR_MAX_BYTES: Final = 1000


def guide_qr_src(code: str, short_url: str, *, platform: str | None = None) -> str | None:
    """The guide page's QR image: the link's own ``<code>.png`` route, relative to the
    page (so it works under any mount prefix); None if it could not be drawn. With
    ``platform`` the image holds the URL for that platform's visitors (short domains)."""
    if not can_draw() or len(short_url.encode("utf-8", "replace")) > GUIDE_QR_MAX_BYTES:
        return None
    query = urlencode({**GUIDE_QR, **({"platform": platform} if platform else {})})
    return f"./{quote(code, safe='')}.png?{query}"


@dataclass(frozen=True, slots=True)
class PageContext:
    """What pages need besides the ruling: language, the visitor's client, the short URL."""

    lang: str
    client: Client
    code: str
    short_url: str
    redirect_status: int = 302
    qr_png: bytes | None = None  #: drawn inline, as a data: URI
    qr_src: str | None = None  #: or an image URL on this site (wins over ``qr_png``)
    #: The host's template folders, searched before the built-in ones.
    template_dirs: tuple[str, ...] = ()
    #: ``short_url`` with the visitor's hop token (``track_people``): what the guide's
    #: link, copy button and escape open, so the browser is the same person.
    hop_url: str | None = None


def _guide(ruling: Ruling, ctx: PageContext) -> PageDecision:
    words = MESSAGES[ctx.lang]
    app_name = ctx.client.app_name(ctx.lang)
    lead = words["guide.lead"].format(app=app_name) if app_name else words["guide.lead_generic"]
    nonce = secrets.token_urlsafe(16)
    qr = ctx.qr_src
    if qr is None and ctx.qr_png is not None:
        qr = "data:image/png;base64," + base64.b64encode(ctx.qr_png).decode()
    opened = ctx.hop_url or ctx.short_url
    script_config = {
        "shortUrl": opened,
        "escapeKey": ctx.short_url,
        "escapeUrl": escape_url(ruling.escape, opened),
        "copied": words["guide.copied"],
        "copyFailed": words["guide.copy_failed"],
        "trying": words["guide.trying"],
    }
    html = render_page(
        "guide",
        lang=ctx.lang,
        template_dirs=ctx.template_dirs,
        lead=lead,
        step=instruction(ctx.lang, ctx.client.app, ctx.client.os),
        short_url=ctx.short_url,
        link_url=opened,
        qr_data_uri=qr,
        script_config=script_config,
        nonce=nonce,
    )
    return html_page(200, html, reason=ruling.verdict.value, nonce=nonce)


def _denied_message(link: Link, ctx: PageContext) -> str:
    words = MESSAGES[ctx.lang]
    if is_allowed(link, ctx.client):  # the platform rules let them in: their country did not
        return words["denied.country"]
    if link.allow is not None and not ctx.client.matches(link.allow):
        return words["denied.only"].format(places=places(link.allow, ctx.lang))
    blocked = sorted(link.deny & ctx.client.platforms)
    return words["denied.not_here"].format(place=place(blocked[0], ctx.lang) if blocked else "")


def _preview(link: Link, ctx: PageContext) -> PageDecision:
    """Open Graph for link-preview fetchers: the owner's card (``og_*``) where set, else
    the title and, on open public links only, the target's host."""
    title = link.og_title or link.title or MESSAGES[ctx.lang]["preview.title"]
    public = link.allow is None and link.password_hash is None and not link.deny
    description = link.og_description or (urlsplit(link.url).hostname if public else None)
    html = render_page(
        "preview",
        lang=ctx.lang,
        template_dirs=ctx.template_dirs,
        title=title,
        description=description,
        image=link.og_image,
        short_url=ctx.short_url,
    )
    return html_page(200, html, reason=Verdict.PREVIEW.value)


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def decision_for(ruling: Ruling, ctx: PageContext) -> Decision:
    """The response for ``ruling``: a redirect, or one of the visitor pages."""
    link, verdict, lang = ruling.link, ruling.verdict, ctx.lang
    dirs = ctx.template_dirs
    if verdict is Verdict.REDIRECT and ruling.location is not None:
        return redirect(ruling.location, ctx.redirect_status)
    if link is None or verdict is Verdict.NOT_FOUND:
        return html_page(
            404, render_page("not_found", lang=lang, template_dirs=dirs), reason="not_found"
        )
    if verdict in (Verdict.EXPIRED, Verdict.EXHAUSTED):
        html = render_page(
            "expired", lang=lang, template_dirs=dirs, exhausted=verdict is Verdict.EXHAUSTED
        )
        return html_page(410, html, reason=verdict.value)
    if verdict is Verdict.BLOCKED:
        message = ruling.message or link.abuse_message or MESSAGES[lang]["blocked.text"]
        html = render_page("blocked", lang=lang, template_dirs=dirs, message=message)
        return html_page(link.abuse_status or 451, html, reason=verdict.value)
    if verdict is Verdict.WARNING:
        target = ruling.location or link.url
        html = render_page(
            "warning",
            lang=lang,
            template_dirs=dirs,
            host=_host(target),
            target=target,
            message=ruling.message or link.warning,
            action=f"./{ctx.code}?continue=1",
        )
        return html_page(200, html, reason=verdict.value)
    if verdict is Verdict.GUIDE:
        return _guide(ruling, ctx)
    if verdict is Verdict.PREVIEW:
        return _preview(link, ctx)
    if verdict in (Verdict.DENIED, Verdict.BOT_DENIED):
        message = (
            MESSAGES[lang]["denied.bot"]
            if verdict is Verdict.BOT_DENIED
            else _denied_message(link, ctx)
        )
        html = render_page("denied", lang=lang, template_dirs=dirs, message=message)
        return html_page(403, html, reason=verdict.value)
    html = render_page(
        "password",
        lang=lang,
        template_dirs=dirs,
        title=link.title,
        # a warned link's visitor said "continue" before being asked for the password
        action=f"./{ctx.code}?continue=1" if link.warning is not None else f"./{ctx.code}",
        wrong=verdict is Verdict.PASSWORD_WRONG,
        retry_after=None,
    )
    return html_page(401, html, reason=verdict.value)


def password_throttled(
    code: str, lang: str, retry_after: int, *, template_dirs: tuple[str, ...] = ()
) -> PageDecision:
    """The password page again, 429, saying when the visitor may try once more."""
    html = render_page(
        "password",
        lang=lang,
        template_dirs=template_dirs,
        title=None,
        action=f"./{code}",
        wrong=False,
        retry_after=retry_after,
    )
    return html_page(
        429, html, reason="password_throttled", extra_headers=(("Retry-After", str(retry_after)),)
    )
