"""abuse.py and the abuse settings: the blocklist (suffix match, reloaded on change), the
check_url hook (sync and async; refuse, warn, allow) on create, update and resolve, the
interstitial, and links disabled for abuse (451/410 with the operator's words)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from suolink import Shortener
from suolink.abuse import AbuseGuard, Action, DomainBlocklist, UrlCheck
from suolink.adapters.flask import create_app, get_shortener
from suolink.errors import BlockedURL, ConfigurationError, InvalidOption
from suolink.models import PageDecision, Visitor

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
PERSON = Visitor(user_agent=CHROME, accept_language="en")
CONFIRMED = Visitor(user_agent=CHROME, accept_language="en", query=(("continue", "1"),))


def page(decision: object) -> PageDecision:
    assert isinstance(decision, PageDecision)
    return decision


# -- the blocklist ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://bad.example/x", "bad.example"),
        ("https://a.b.bad.example/", "bad.example"),
        ("https://BAD.example./", "bad.example"),
        ("https://notbad.example/", None),
        ("https://bad.example.org/", None),
        ("https://xn--fiqs8s.example/", "xn--fiqs8s.example"),  # 中国.example, listed in Unicode
        ("https://good.example/?next=https://bad.example/", None),
        ("not a url", None),
    ],
)
def test_suffix_match(url: str, blocked: str | None) -> None:
    blocklist = DomainBlocklist(["bad.example", "# a comment", "", "*.中国.example  # idn"])
    assert blocklist.blocked_by(url) == blocked


def test_a_file_is_read_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "blocklist.txt"
    path.write_text("one.example\n")
    blocklist = DomainBlocklist(path)
    assert blocklist.blocked_by("https://one.example/")
    clock = [time.monotonic()]
    monkeypatch.setattr("suolink.abuse.time.monotonic", lambda: clock[0])
    path.write_text("two.example\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert blocklist.blocked_by("https://one.example/")  # looked less than a second ago
    clock[0] += 2
    assert blocklist.blocked_by("https://two.example/") == "two.example"
    assert blocklist.blocked_by("https://one.example/") is None
    path.unlink()  # a vanished file keeps the last list
    clock[0] += 2
    assert blocklist.blocked_by("https://two.example/") == "two.example"


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="blocklist"):
        Shortener("memory://", blocklist=tmp_path / "none.txt")
    with pytest.raises(ConfigurationError):
        DomainBlocklist(42)  # type: ignore[arg-type]


# -- the hook -------------------------------------------------------------------------------


def judge(url: str) -> UrlCheck | Action | bool | str | None:
    if "phish" in url:
        return UrlCheck(Action.REFUSE, "reported as phishing")
    if "casino" in url:
        return UrlCheck(Action.WARN, "gambling site")
    if "nope" in url:
        return False
    if "why" in url:
        return "not today"
    if "fine" in url:
        return True
    return None


async def judge_later(url: str) -> UrlCheck | Action | bool | str | None:
    await asyncio.sleep(0)
    return judge(url)


@pytest.mark.parametrize("hook", [judge, judge_later], ids=["sync", "async"])
def test_check_url_refuses_warns_and_allows_on_create(hook: object) -> None:
    shortener = Shortener("memory://", check_url=hook, blocklist=["bad.example"])  # type: ignore[arg-type]
    with pytest.raises(BlockedURL, match="reported as phishing") as caught:
        shortener.shorten("https://phish.example/login")
    assert caught.value.http_status == 403
    with pytest.raises(BlockedURL, match="not today"):
        shortener.shorten("https://why.example/")
    with pytest.raises(BlockedURL, match="refused by the operator"):
        shortener.shorten("https://nope.example/")
    with pytest.raises(BlockedURL, match=r"bad\.example"):
        shortener.shorten("https://www.bad.example/")
    assert shortener.list().links == ()
    warned = shortener.shorten("https://casino.example/")
    assert warned.warning == "gambling site"
    assert shortener.shorten("https://fine.example/").warning is None


def test_every_url_a_link_holds_is_judged_also_on_update() -> None:
    shortener = Shortener("memory://", check_url=judge)
    with pytest.raises(BlockedURL):
        shortener.shorten("https://ok.example/", targets={"ios": "https://phish.example/"})
    with pytest.raises(BlockedURL):
        shortener.shorten("https://ok.example/", split=[{"url": "https://phish.example/"}])
    with pytest.raises(BlockedURL):
        shortener.shorten("https://ok.example/", geo_targets={"CN": "https://phish.example/"})
    link = shortener.shorten("https://ok.example/")
    with pytest.raises(BlockedURL):
        shortener.update(link.code, url="https://phish.example/")
    assert shortener.get(link.code).url == "https://ok.example/"


def test_a_hook_inside_a_running_event_loop() -> None:
    shortener = Shortener("memory://", check_url=judge_later)

    async def inside() -> None:
        with pytest.raises(BlockedURL):
            shortener.shorten("https://phish.example/")

    asyncio.run(inside())


def test_a_hook_answering_nonsense_is_a_configuration_error() -> None:
    guard = AbuseGuard(check_url=lambda url: 42)
    with pytest.raises(ConfigurationError, match="int"):
        guard.check("https://e.com/")
    with pytest.raises(ConfigurationError, match="check_url"):
        AbuseGuard(check_url="no.such.module:nothing")


# -- visitors: the interstitial, links disabled for abuse ----------------------------------


def test_a_warned_link_shows_the_interstitial_until_the_visitor_continues() -> None:
    shortener = Shortener("memory://", check_url=judge)
    link = shortener.shorten("https://casino.example/spin")
    warning = page(shortener.resolve(link.code, PERSON))
    assert (warning.status, warning.reason) == (200, "warning")
    assert "This link leads to casino.example." in warning.html
    assert "gambling site" in warning.html
    assert f'href="./{link.code}?continue=1"' in warning.html
    assert "<script" not in warning.html
    onward = shortener.resolve(link.code, CONFIRMED)
    assert dict(onward.headers)["Location"] == "https://casino.example/spin"
    assert shortener.stats(link.code).by_outcome == {"redirect": 1, "warning": 1}
    assert shortener.get(link.code).visits == 1  # only the redirect counts


def test_an_owner_may_set_and_clear_a_warning() -> None:
    shortener = Shortener("memory://")
    link = shortener.shorten("https://example.com/", warning="Adults only <b>")
    warning = page(shortener.resolve(link.code, PERSON))
    assert "Adults only &lt;b&gt;" in warning.html
    shortener.update(link.code, warning=None)
    assert shortener.resolve(link.code, PERSON).status == 302


def test_a_warned_password_link_asks_once() -> None:
    shortener = Shortener("memory://")
    link = shortener.shorten("https://example.com/", warning="careful", password="pw")
    asked = page(shortener.resolve(link.code, CONFIRMED))
    assert asked.status == 401
    assert f'action="./{link.code}?continue=1"' in asked.html
    typed = Visitor(user_agent=CHROME, password="pw", query=(("continue", "1"),))
    assert shortener.resolve(link.code, typed).status == 302


@pytest.mark.parametrize("status", [451, 410])
def test_a_link_disabled_for_abuse_answers_with_the_operators_words(status: int) -> None:
    shortener = Shortener("memory://")
    link = shortener.shorten("https://example.com/")
    shortener.update(link.code, abuse_status=status, abuse_message="Removed after a report.")
    blocked = page(shortener.resolve(link.code, PERSON))
    assert (blocked.status, blocked.reason) == (status, "blocked")
    assert "Removed after a report." in blocked.html
    zh = page(shortener.resolve(link.code, Visitor(user_agent=CHROME, accept_language="zh-CN")))
    assert "此链接已被停用" in zh.html
    shortener.update(link.code, abuse_message=None)
    assert "breaking the rules" in page(shortener.resolve(link.code, PERSON)).html
    with pytest.raises(InvalidOption):
        shortener.update(link.code, abuse_status=403)


def test_check_on_resolve_catches_a_target_that_turned_bad() -> None:
    bad: set[str] = set()

    def hook(url: str) -> UrlCheck:
        return UrlCheck(Action.REFUSE, "now malware") if url in bad else UrlCheck()

    shortener = Shortener("memory://", check_url=hook, check_on_resolve=True)
    link = shortener.shorten("https://turned.example/")
    assert shortener.resolve(link.code, PERSON).status == 302
    bad.add("https://turned.example/")
    refused = page(shortener.resolve(link.code, PERSON))
    assert (refused.status, refused.reason) == (451, "blocked")
    assert "now malware" in refused.html
    assert shortener.get(link.code).visits == 1  # the refusal is not counted


def test_over_http_a_blocked_target_is_a_403_with_the_reason(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("bad.example\n")
    app = create_app("memory://", api_token="t", secret="s", blocklist=str(blocklist))
    try:
        reply = app.test_client().post(
            "/api/links",
            json={"url": "https://x.bad.example/"},
            headers={"Authorization": "Bearer t"},
        )
        assert reply.status_code == 403
        error = reply.get_json()["error"]
        assert (error["type"], error["field"]) == ("blocked_url", "url")
        assert "bad.example" in error["message"]
    finally:
        get_shortener(app).close()


def test_a_running_shortener_follows_the_blocklist_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file changes under a running Shortener: creates, updates and (with
    check_on_resolve) visits follow the new list without a restart."""
    path = tmp_path / "blocklist.txt"
    path.write_text("old.example\n")
    clock = [time.monotonic()]
    monkeypatch.setattr("suolink.abuse.time.monotonic", lambda: clock[0])
    shortener = Shortener("memory://", blocklist=path, check_on_resolve=True)
    link = shortener.shorten("https://new.example/")
    with pytest.raises(BlockedURL):
        shortener.shorten("https://old.example/")
    path.write_text("# moved on\nnew.example\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    clock[0] += 2
    assert shortener.shorten("https://old.example/").url == "https://old.example/"
    with pytest.raises(BlockedURL, match=r"new\.example"):
        shortener.update(link.code, url="https://sub.new.example/")
    assert page(shortener.resolve(link.code, PERSON)).status == 451
