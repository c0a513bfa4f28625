"""The Django admin in a real Chromium: log in, create, edit and view a link; a
``javascript:`` URL refused with a form error and nothing stored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import suolink
from tests.browser.django_server import PASSWORD, USERNAME
from tests.http_scenarios import BROWSER

ROOT = Path(__file__).resolve().parents[2]
#: The sources this test process imports suolink from; the server process uses the same.
SOURCES = Path(suolink.__file__).resolve().parents[1]
LINKS = "/admin/suolink/link/"


@dataclass
class DjangoServer:
    url: str
    database: Path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the server's database directly (plain sqlite3: no Django in this thread)."""
        with sqlite3.connect(self.database) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def django_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DjangoServer]:
    """The Django test project in its own process, on its own SQLite file."""
    folder = tmp_path_factory.mktemp("django-admin")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(SOURCES)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.django_server", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), f"the Django server did not start: {line!r}"
        yield DjangoServer(line.split()[1], folder / "default.sqlite3")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def page(browser: Any, django_server: DjangoServer) -> Iterator[Any]:
    """A logged-in admin page; fails the test on any script error in the page."""
    context = browser.new_context(user_agent=BROWSER, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(django_server.url + "/admin/login/?next=" + LINKS)
    tab.fill("#id_username", USERNAME)
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_url("**" + LINKS)
    yield tab
    context.close()
    assert errors == []


def success(page: Any) -> str:
    messages = page.locator("ul.messagelist li.success")
    return "" if messages.count() == 0 else str(messages.first.text_content())


def test_create_edit_and_view_a_link(
    page: Any, django_server: DjangoServer, artifacts: Path
) -> None:
    page.goto(django_server.url + LINKS + "add/")
    for app in ("wechat", "qq", "weibo"):  # the blocking apps come pre-ticked
        assert page.locator(f"input[name=anti_block][value={app}]").is_checked()
    assert not page.locator("input[name=anti_block][value=dingtalk]").is_checked()
    page.fill("#id_url", "https://example.com/landing")
    page.fill("#id_title", "Launch <b>day</b>")
    page.fill("#id_tags", "news, launch")
    page.locator("input[name=anti_block][value=dingtalk]").check()
    page.locator("input[name=deny][value=bot]").check()
    page.fill("#id_targets", "ios https://apps.apple.com/app/id1")
    page.fill("#id_password", "open-sesame")
    page.screenshot(path=str(artifacts / "django-admin-add.png"), full_page=True)
    page.click("input[name=_continue]")
    page.wait_for_url("**/change/")
    assert "was added successfully" in success(page)

    # The change page: the generated code's short URL, its QR code, stats, the settings.
    short = page.locator("#suolink-short-url")
    short_url = str(short.text_content()).strip()
    code = short_url.rsplit("/", 1)[1]
    assert short_url == f"{django_server.url}/{code}"
    assert code
    page.wait_for_function("() => document.getElementById('suolink-qr').naturalWidth > 0")
    assert "0 in all" in str(page.locator("#suolink-stats").text_content())
    assert page.input_value("#id_title") == "Launch <b>day</b>"
    assert page.input_value("#id_tags") == "news, launch"
    assert page.input_value("#id_password") == ""  # never shown
    assert page.locator("input[name=anti_block][value=dingtalk]").is_checked()
    assert page.locator("input[name=deny][value=bot]").is_checked()
    assert page.input_value("#id_targets") == "ios https://apps.apple.com/app/id1"
    assert django_server.rows("SELECT url, title FROM suolink_link WHERE code = ?", code) == [
        ("https://example.com/landing", "Launch <b>day</b>")
    ]

    # Edit: a new URL and title, the password removed; saved through Shortener.update.
    page.fill("#id_url", "https://example.com/landing-v2")
    page.fill("#id_title", "Launch day")
    page.check("#id_clear_password")
    page.click("input[name=_save]")
    page.wait_for_url("**" + LINKS)
    assert "was changed successfully" in success(page)
    assert django_server.rows(
        "SELECT url, title, password_hash FROM suolink_link WHERE code = ?", code
    ) == [("https://example.com/landing-v2", "Launch day", None)]

    # The list filters by tag; a visit through the short URL shows in the stats.
    page.goto(django_server.url + LINKS + "?tag=launch")
    assert page.locator("#result_list").get_by_text(code, exact=True).count() == 1
    page.screenshot(path=str(artifacts / "django-admin-list.png"), full_page=True)
    visit = page.request.get(short_url, max_redirects=0)
    assert visit.status == 302
    assert visit.headers["location"] == "https://example.com/landing-v2"
    page.goto(f"{django_server.url}{LINKS}{code}/change/")
    assert "1 in all" in str(page.locator("#suolink-stats").text_content())
    page.screenshot(path=str(artifacts / "django-admin-change.png"), full_page=True)


def test_a_javascript_url_is_refused_with_a_form_error(
    page: Any, django_server: DjangoServer, artifacts: Path
) -> None:
    page.goto(django_server.url + LINKS + "add/")
    page.fill("#id_url", "javascript:alert(1)")
    page.fill("#id_code", "evil")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    error = page.locator(".field-url .errorlist")
    assert "javascript: links are not allowed" in str(error.text_content())
    assert success(page) == ""
    assert page.input_value("#id_url") == "javascript:alert(1)"  # kept for correction
    page.screenshot(path=str(artifacts / "django-admin-javascript-refused.png"), full_page=True)
    assert django_server.rows("SELECT code FROM suolink_link WHERE url LIKE 'javascript:%'") == []
    assert page.request.get(django_server.url + "/evil", max_redirects=0).status == 404
