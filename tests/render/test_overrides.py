"""Template overrides: a host's folder first, the built-in pages reachable as ``suolink/…``
to extend, the CSP nonce kept, autoescaping kept, per Shortener (two apps, two looks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from suolink import Shortener
from suolink.adapters.flask import create_app, get_shortener
from suolink.errors import ConfigurationError
from suolink.models import PageDecision, Visitor
from suolink.render import render_page

WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host's folder: guide and base extended block by block, denied replaced whole."""
    (tmp_path / "guide.html").write_text(
        '{% extends "suolink/guide.html" %}\n'
        "{% block lead %}<h1>Open ACME in your browser</h1>{% endblock %}\n",
        encoding="utf-8",
    )
    (tmp_path / "base.html").write_text(
        '{% extends "suolink/base.html" %}\n'
        "{% block footer %}<footer>ACME links</footer>{% endblock %}\n",
        encoding="utf-8",
    )
    (tmp_path / "denied.html").write_text(
        "<!doctype html><title>no</title><p class=acme>{{ message }}</p>\n",
        encoding="utf-8",
    )
    (tmp_path / "not_found.html").write_text(
        '{% extends "suolink/not_found.html" %}{% block text %}<p>ACME: gone.</p>{% endblock %}',
        encoding="utf-8",
    )
    (tmp_path / "index.html").write_text(
        '{% extends "suolink/index.html" %}{% block title %}ACME shortener{% endblock %}',
        encoding="utf-8",
    )
    return tmp_path


def page(decision: object) -> PageDecision:
    assert isinstance(decision, PageDecision)
    return decision


def csp_nonce(decision: PageDecision) -> str:
    found = re.search(r"'nonce-([^']+)'", dict(decision.headers)["Content-Security-Policy"])
    assert found is not None
    return found.group(1)


def test_an_extended_guide_keeps_the_builtin_rest_and_its_nonce(host: Path) -> None:
    shortener = Shortener("memory://", templates_dir=host, base_url="https://s.example")
    link = shortener.shorten("https://example.com/")
    guide = page(shortener.resolve(link.code, Visitor(user_agent=WECHAT)))
    assert guide.reason == "guide"
    assert "Open ACME in your browser" in guide.html
    assert 'id="copy"' in guide.html  # the blocks not overridden stay
    assert f'<script nonce="{csp_nonce(guide)}">' in guide.html
    assert "<footer>ACME links</footer>" in guide.html  # the host's base, under the builtin


def test_a_replaced_page_and_the_base_reach_every_page(host: Path) -> None:
    shortener = Shortener("memory://", templates_dir=str(host))
    link = shortener.shorten("https://example.com/", deny=["desktop"])
    denied = page(shortener.resolve(link.code, Visitor(user_agent=CHROME)))
    assert denied.status == 403
    assert "<p class=acme>This link cannot be opened" in denied.html
    missing = page(shortener.resolve("nope1", Visitor(user_agent=CHROME)))
    assert missing.status == 404
    assert "ACME: gone." in missing.html
    assert "<footer>ACME links</footer>" in missing.html
    assert "script-src 'none'" in dict(missing.headers)["Content-Security-Policy"]


def test_host_templates_are_autoescaped(host: Path) -> None:
    html = render_page(
        "denied", lang="en", template_dirs=(str(host),), message="<script>alert(1)</script>"
    )
    assert html.startswith("<!doctype html><title>no</title>")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_pages_without_an_override_are_the_builtin_ones(host: Path) -> None:
    plain = Shortener("memory://")
    themed = Shortener("memory://", templates_dir=host)
    for shortener in (plain, themed):
        link = shortener.shorten("https://example.com/", password="pw")
        asked = page(shortener.resolve(link.code, Visitor(user_agent=CHROME)))
        assert asked.status == 401
        assert 'name="password"' in asked.html
        assert ("ACME links" in asked.html) is (shortener is themed)


def test_two_shorteners_in_one_process_keep_their_own_look(host: Path) -> None:
    themed = Shortener("memory://", templates_dir=host)
    plain = Shortener("memory://")
    assert "ACME: gone." in page(themed.resolve("zzzzz", Visitor())).html
    assert "ACME: gone." not in page(plain.resolve("zzzzz", Visitor())).html


def test_the_index_page_is_overridden_through_the_app(host: Path) -> None:
    app = create_app("memory://", templates_dir=str(host), allow_anonymous=True)
    try:
        response = app.test_client().get("/")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<title>ACME shortener</title>" in html
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        assert nonce is not None
        assert f'<script nonce="{nonce.group(1)}">' in html
    finally:
        get_shortener(app).close()


@pytest.mark.parametrize("bad", ["/no/such/folder", 42])
def test_a_missing_folder_is_a_configuration_error(bad: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="templates_dir"):
        Shortener("memory://", templates_dir=bad)  # type: ignore[arg-type]
    afile = tmp_path / "x.html"
    afile.write_text("x")
    with pytest.raises(ConfigurationError, match="not a folder"):
        Shortener("memory://", templates_dir=afile)


def test_several_folders_are_searched_in_order(
    host: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = tmp_path_factory.mktemp("first")
    (first / "not_found.html").write_text("first wins")
    shortener = Shortener("memory://", templates_dir=[first, host])
    assert page(shortener.resolve("zzzzz", Visitor())).html == "first wins"
    assert shortener.template_dirs == (str(first), str(host))
