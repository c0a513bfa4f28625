"""Preview cards: ``og_title``, ``og_description`` and ``og_image`` on the page link-preview
fetchers get, escaped for an attribute, and only there."""

from __future__ import annotations

import html
import re

import pytest

from suolink import Shortener
from suolink.errors import InvalidOption
from suolink.models import PageDecision, Visitor

SLACK = Visitor(user_agent="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
PERSON = Visitor(
    user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)
HOSTILE = '"><script>alert(1)</script>'


@pytest.fixture
def shortener() -> Shortener:
    return Shortener("memory://", base_url="https://s.example")


def metas(page: str) -> dict[str, str]:
    """``<meta property|name=... content=...>`` pairs, unescaped as a browser would."""
    found = re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', page)
    return {key: html.unescape(value) for key, value in found}


def preview(shortener: Shortener, code: str) -> str:
    decision = shortener.resolve(code, SLACK)
    assert isinstance(decision, PageDecision)
    assert decision.status == 200
    assert decision.reason == "preview"
    return decision.html


def test_the_card_carries_the_owners_title_text_and_picture(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/launch",
        title="internal title",
        og_title="Spring launch",
        og_description="Everything new this spring.",
        og_image="https://cdn.example.com/card.png",
    )
    tags = metas(preview(shortener, link.code))
    assert tags["og:title"] == tags["twitter:title"] == "Spring launch"
    assert tags["og:description"] == "Everything new this spring."
    assert tags["og:image"] == tags["twitter:image"] == "https://cdn.example.com/card.png"
    assert tags["twitter:card"] == "summary_large_image"


def test_without_a_card_the_page_is_as_before(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/launch", title="Launch")
    tags = metas(preview(shortener, link.code))
    assert tags["og:title"] == "Launch"
    assert tags["og:description"] == "example.com"
    assert "og:image" not in tags
    assert tags["twitter:card"] == "summary"


def test_the_owners_description_shows_even_on_guarded_links(shortener: Shortener) -> None:
    """The owner wrote it for the card; the target's host stays hidden on guarded links."""
    link = shortener.shorten(
        "https://secret.example/a", password="pw", og_description="Members only"
    )
    page = preview(shortener, link.code)
    assert metas(page)["og:description"] == "Members only"
    assert "secret.example" not in page


def test_card_texts_are_escaped(shortener: Shortener) -> None:
    link = shortener.shorten(
        "https://example.com/",
        og_title=HOSTILE,
        og_description=HOSTILE,
        og_image='https://example.com/a.png?x="><script>',
    )
    page = preview(shortener, link.code)
    assert "<script>" not in page
    tags = metas(page)
    assert tags["og:title"] == HOSTILE
    assert tags["og:image"].startswith("https://example.com/a.png?x=")
    assert "<" not in tags["og:image"]  # percent-encoded by the URL rules


def test_people_are_redirected_whatever_the_card(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", og_title="Card")
    assert shortener.resolve(link.code, PERSON).status == 302


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "ftp://example.com/a", "/card.png"])
def test_og_image_must_be_an_http_url(shortener: Shortener, bad: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        shortener.shorten("https://example.com/", og_image=bad)
    assert caught.value.option == "og_image"


def test_og_image_may_be_the_links_own_qr_picture(shortener: Shortener) -> None:
    """Unlike a target, a picture on this Shortener's host is no loop."""
    link = shortener.shorten("https://example.com/")
    updated = shortener.update(link.code, og_image=f"https://s.example/{link.code}.png")
    assert updated.og_image == f"https://s.example/{link.code}.png"


def test_the_card_is_kept_and_cleared_through_updates(shortener: Shortener) -> None:
    link = shortener.shorten("https://example.com/", og_title="One")
    assert shortener.update(link.code, og_title="Two").og_title == "Two"
    assert shortener.update(link.code, og_title=None).og_title is None
    assert shortener.get(link.code).to_dict()["og_title"] is None


def test_the_cli_sets_the_card(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from suolink.cli import main

    db = f"sqlite:///{Path(str(tmp_path)) / 'c.db'}"
    code = main(
        [
            "shorten",
            "https://example.com/",
            "--storage",
            db,
            "--og-title",
            "Card",
            "--og-image",
            "https://cdn.example/c.png",
            "--code",
            "card1",
        ]
    )
    assert code == 0
    with Shortener(db) as shortener:
        link = shortener.get("card1")
    assert (link.og_title, link.og_image) == ("Card", "https://cdn.example/c.png")
