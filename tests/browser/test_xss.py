"""XSS payloads as target URL, title and alias on every page that shows them, in Chromium.

No dialog may open and no payload may run (``window.__xss`` stays unset); the pages'
CSP must not have had to block anything either, which proves the escaping, not only
the CSP, kept the payloads inert.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import Server
from tests.browser.xss_payloads import PAYLOADS
from tests.http_scenarios import BROWSER, TOKEN, WECHAT

PREVIEW = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""
INJECTED = """() => {
  const scripts = [...document.querySelectorAll("script")].filter(s => !s.nonce);
  const handlers = [...document.querySelectorAll("*")].flatMap(
    el => [...el.attributes].filter(a => a.name.startsWith("on")).map(a => el.tagName + " " + a.name));
  const active = [...document.querySelectorAll("iframe, object, embed, base, meta[http-equiv]")];
  return { xss: window.__xss === undefined ? null : String(window.__xss), csp: window.__csp,
           scripts: scripts.length, handlers, active: active.map(e => e.tagName) };
}"""


class Watcher:
    """One browser context per visitor kind, remembering every dialog that opened."""

    def __init__(self, browser: Any, user_agent: str, headers: dict[str, str] | None = None):
        self.context = browser.new_context(
            user_agent=user_agent, extra_http_headers={"Accept-Language": "en", **(headers or {})}
        )
        self.context.add_init_script(WATCH)
        self.dialogs: list[str] = []
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self, url: str, where: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        found = self.page.evaluate(INJECTED)
        assert self.dialogs == [], (where, self.dialogs)
        assert found == {"xss": None, "csp": [], "scripts": 0, "handlers": [], "active": []}, (
            where,
            found,
        )


@pytest.fixture(scope="module")
def links(server: Server) -> list[tuple[str, dict[str, Any]]]:
    """Links whose target URL and title carry each payload (where the API accepts them)."""
    made: list[tuple[str, dict[str, Any]]] = []
    for payload in PAYLOADS:
        urls = (payload, f"https://example.com/?q={payload}", f"https://example.com/#{payload}")
        for url in urls:  # the target URL (most are refused; what is kept is shown)
            status, body = server.create(url=url)
            if status == 201:
                made.append((payload, body))
            else:
                assert status == 400, body
                assert body["error"]["field"] == "url"
        for extra in ({}, {"password": "pw"}):  # the title, on pages with and without password
            status, body = server.create(url="https://example.com/t", title=payload, **extra)
            if status == 201:
                made.append((payload, body))
            else:
                assert status == 400, body
                assert body["error"]["field"] == "title"
    return made


def test_payloads_reach_the_pages(links: list[tuple[str, dict[str, Any]]]) -> None:
    titled = {payload for payload, link in links if link["title"]}
    assert len(titled) >= 50, "most payloads must be stored as titles, or the test proves little"


# The sweep runs in parts that xdist spreads over both workers (as one test it took 77 s
# on one worker): each page kind on each half of the links, so that together the parts
# check every stored payload on every page that shows it (half: every other payload).
VISITORS: dict[str, tuple[str, dict[str, str] | None]] = {
    "stats": (BROWSER, {"Authorization": f"Bearer {TOKEN}"}),  # the owner
    "preview": (PREVIEW, None),
    "guide": (WECHAT, None),
    "password": (BROWSER, None),  # a person, on the password page and unknown codes
}
HALVES = 2


@pytest.mark.parametrize("half", range(HALVES), ids=[f"half{n + 1}" for n in range(HALVES)])
@pytest.mark.parametrize("kind", VISITORS)
def test_no_payload_runs_on_any_page(
    browser: Any, server: Server, links: list[tuple[str, dict[str, Any]]], kind: str, half: int
) -> None:
    watcher = Watcher(browser, *VISITORS[kind])
    for payload, link in links:
        if PAYLOADS.index(payload) % HALVES != half:
            continue
        # The stats page shows a title the same way with or without a password: it is
        # checked with the links made without one.
        if kind == "password" and link["has_password"]:
            watcher.check(link["short_url"], f"password page, {payload!r}")
        elif kind == "stats" and not link["has_password"]:
            watcher.check(f"{server.url}/stats/{link['code']}", f"stats page, {payload!r}")
        elif kind in ("preview", "guide") and not link["has_password"]:
            watcher.check(link["short_url"], f"{kind} page, {payload!r}")
    if kind == "password":
        # the visitor pages of a code that does not exist echo nothing back
        for payload in PAYLOADS[half:10:HALVES]:
            watcher.check(f"{server.url}/{quote(payload, safe='')}", f"not found, {payload!r}")


def test_payloads_typed_into_the_web_page_stay_text(browser: Any, server: Server) -> None:
    person = Watcher(browser, BROWSER)
    page = person.page
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(TOKEN)
    page.locator("details summary").click()
    for payload in PAYLOADS:
        page.get_by_label("Long URL").fill(payload)
        page.get_by_label("Custom code (optional)").fill(payload)
        page.get_by_label("Title (optional)").fill(payload)
        page.get_by_role("button", name="Shorten").click()
        page.locator(".error:not([hidden])").first.wait_for()
        found = page.evaluate(INJECTED)
        assert person.dialogs == [], (payload, person.dialogs)
        assert found["xss"] is None, payload
        assert found["csp"] == [], (payload, found)
        assert found["handlers"] == [], (payload, found)
    # alias payloads never become codes: every one is refused with a readable reason
    for payload in PAYLOADS:
        status, body = server.create(url="https://example.com/", code=payload)
        assert status == 400, (payload, body)
