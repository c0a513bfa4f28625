"""Is a user agent software rather than a person, and what does it call itself?

The signatures live in :mod:`.signatures` (named bots, bot words, automation markers,
browser products); this module only applies them. Everything here reads the user agent
alone, so a bot is known before ua-parser is asked anything, and every scan is linear.
"""

from __future__ import annotations

import re
from typing import Final

from .signatures import (
    AUTOMATION_MARKERS,
    BOT_SIGNATURES,
    BOT_WORDS,
    BROWSER_EVIDENCE,
    BROWSER_PRODUCTS,
    NOT_BOT_WORDS,
    WORD_ENDING_BOT_WORDS,
)
from .tokens import TokenIndex

__all__ = ["bot_name", "has_browser_evidence", "match_bot"]

_BOT_INDEX: Final = TokenIndex((sig.token, i) for i, sig in enumerate(BOT_SIGNATURES))
_EVIDENCE_INDEX: Final = TokenIndex((token, 0) for token in BROWSER_EVIDENCE)
_MARKER_INDEX: Final = TokenIndex((token, 0) for token in AUTOMATION_MARKERS)
# Bot words; the word-ending ones not followed by a letter (``bots``, ``bot_``, ``bot2``).
_BOT_WORD: Final = re.compile(
    "|".join(
        [f"{re.escape(w)}(?![a-rt-z])" for w in WORD_ENDING_BOT_WORDS]
        + [re.escape(w) for w in BOT_WORDS]
    )
)
_EMAIL: Final = re.compile(r"[a-z0-9]@[a-z0-9-]{1,40}\.[a-z]")
# Product tokens and comment items: runs of anything but blanks, brackets and separators.
_PIECE: Final = re.compile(r"[^\s;()\[\],]{1,80}")
_MAX_NAME: Final = 40
# A bot word standing alone names nobody; the word before it does.
_BARE_WORDS: Final = frozenset({"bot", "bots", "robot", "crawler", "spider", "webcrawler"})


def _platform_comment(low: str) -> tuple[int, int]:
    """Where the first comment of an Android browser UA is (the phone model is in it)."""
    if not low.startswith("mozilla/"):
        return 0, 0
    start = low.find("(")
    end = low.find(")", start + 1) if start >= 0 else -1
    if start < 0 or end < 0 or "android" not in low[start:end]:
        return 0, 0
    return start, end


def _late_compatible(low: str) -> bool:
    """A ``(compatible; …)`` comment after a browser's tokens (``Safari/537.36 (compatible;``).

    Not the one right after ``Mozilla/x.y`` (old IE and set-top boxes put their whole
    description there), nor a second one naming MSIE (IE Mobile does).
    """
    i = low.find("(compatible", 1)
    while i >= 0:
        before = low[max(0, i - 16) : i].rstrip().rsplit(" ", 1)[-1]
        if not before.startswith("mozilla/") and not low.startswith(" msie", i + 12):
            return True
        i = low.find("(compatible", i + 1)
    return False


def _model_item(low: str, start: int, end: int, at: int) -> bool:
    """True if position ``at`` of the Android comment is in an item with no ``name/version``.

    The phone's model is such an item (``; M bot 60 Build/NRD90M;``: ``Build/`` is not
    the model's); a crawler's product token is not (``; Storebot-Google/1.0)``).
    """
    left = low.rfind(";", start, at) + 1 or start + 1
    right = low.find(";", at, end)
    item = low[left : right if right >= 0 else end]
    return "/" not in item.split(" build/", 1)[0]


def _bot_word(low: str) -> str | None:
    """The whole word holding a bot word, unless it names a phone or sits in its model."""
    skip_start, skip_end = _platform_comment(low)
    for m in _BOT_WORD.finditer(low):
        if skip_start <= m.start() < skip_end and _model_item(low, skip_start, skip_end, m.start()):
            continue
        start = m.start()
        while start > 0 and m.start() - start < _MAX_NAME and low[start - 1].isalnum():
            start -= 1
        word = low[start : m.end()]
        if word not in NOT_BOT_WORDS:
            return word
    return None


def match_bot(ua: str, low: str) -> tuple[str | None, bool]:
    """``(bot name, is a link preview)`` if the UA calls itself a bot, else ``(None, False)``.

    Decides on the UA alone: the named table first, then bot words outside the
    phone's model, then markers no browser sends (a URL, an e-mail address, a note
    in the engine's comment, a second ``(compatible; …)``).
    """
    if not low:
        return None, False
    if "facebookexternalhit" in low and "twitterbot" in low:
        return "iMessage", True  # Apple Messages fetches previews with this composite UA
    if low.startswith("whatsapp/"):
        return "WhatsApp", True  # the sender's app fetching the link card
    found = _BOT_INDEX.find(low)
    if found:
        sig = BOT_SIGNATURES[min(found)]
        return sig.name, sig.preview
    if _bot_word(low) is not None:
        return bot_name(ua), False
    if (_MARKER_INDEX.find(low) or _EMAIL.search(low) or _late_compatible(low)) and not (
        has_browser_evidence(low)
    ):
        return bot_name(ua), False
    return None, False


def has_browser_evidence(low: str) -> bool:
    """True if the UA shows a real browser or device that the OS tokens do not name."""
    return bool(_EVIDENCE_INDEX.find(low))


def _is_name(piece: str) -> bool:
    low = piece.lower()
    return (
        piece[0].isalnum()
        and low not in BROWSER_PRODUCTS
        and not piece.endswith(":")
        and not low.startswith("www.")
        and not piece.replace(".", "").replace("_", "").isdigit()
    )


def bot_name(ua: str) -> str:
    """The name a bot gives itself: its own product token, not ``Mozilla`` or ``Chrome``.

    In order: the token holding a bot word (``Googlebot/2.1`` -> ``Googlebot``), the
    first ``name/version`` token that is no browser's, the last word after the
    browser's tokens (``… Safari/537.36 DareBoost``), the first item of a comment
    (``(StatusCake)``), else the first word. Case is kept; at most 40 characters.
    """
    low = ua.lower()
    skip_start, skip_end = _platform_comment(low)
    versioned: str | None = None
    trailing: str | None = None
    in_comment: str | None = None
    comment_named = False
    previous: str | None = None
    previous_versioned = False
    depth = 0
    pos = 0
    for m in _PIECE.finditer(ua):
        opened = ua.count("(", pos, m.start())
        depth = max(0, depth + opened - ua.count(")", pos, m.start()))
        pos = m.start()
        if opened:
            comment_named = False  # a new comment: its first name is the candidate
        if skip_start <= m.start() < skip_end and _model_item(low, skip_start, skip_end, pos):
            continue  # the phone's model and the platform, not a product
        piece = m.group().lstrip("+")
        if not piece or "://" in piece or "@" in piece:
            continue  # a URL or a contact, not a name
        name = piece.split("/", 1)[0]
        if not name or not _is_name(name):
            continue
        if _BOT_WORD.search(name.lower()) and name.lower() not in NOT_BOT_WORDS:
            if name.lower() in _BARE_WORDS and previous is not None:
                # "SISTRIX Crawler", "Linguee Bot": the word before says whose
                name = previous if previous_versioned else f"{previous} {name}"
            return name[:_MAX_NAME]
        previous, previous_versioned = name, "/" in piece
        if "/" in piece:
            versioned = versioned or name
        elif depth > 0:
            if not comment_named:
                in_comment, comment_named = name, True
        else:
            trailing = name
    chosen = versioned or trailing or in_comment
    if chosen is None:
        head = ua.split("(", 1)[0].strip() or ua.strip()
        first = head.split("/", 1)[0].split(" ", 1)[0]
        chosen = first if first and first.lower() not in BROWSER_PRODUCTS else "bot"
    return chosen[:_MAX_NAME]
