"""The web page and visitor pages in a real Chromium: create, upload, guide, redirect, refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suolink.qr import encode
from tests.adapters.test_flask_web import ANDROID_WECHAT
from tests.browser.conftest import LANDING, Server
from tests.http_scenarios import BROWSER, TOKEN, WECHAT

IOS_WECHAT = WECHAT


def _page(browser: Any, *, user_agent: str = BROWSER, lang: str = "zh-CN", **options: Any) -> Any:
    context = browser.new_context(
        user_agent=user_agent, locale=lang, extra_http_headers={"Accept-Language": lang}, **options
    )
    return context.new_page()


def test_create_a_link_through_the_page_with_platforms_ticked(
    browser: Any, server: Server, artifacts: Path
) -> None:
    page = _page(browser, viewport={"width": 390, "height": 844})  # a phone's screen
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    assert page.get_by_label("长链接").is_visible()
    page.get_by_label("长链接").fill(server.url + "/landing")
    page.get_by_label("自定义短码（可选）").fill("from-page")
    page.locator("input[name=anti_block][value=dingtalk]").check()
    page.locator("input[name=anti_block][value=weibo]").uncheck()
    page.locator("input[name=allow][value=mobile]").check()
    assert not page.locator("#allow-all").is_checked()
    page.get_by_label("API 令牌").fill(TOKEN)
    page.get_by_role("button", name="生成短链接").click()
    short = page.locator("#short")
    short.wait_for(state="visible")
    assert short.text_content() == server.url + "/from-page"
    page.wait_for_function("() => document.getElementById('qr').naturalWidth > 0")
    assert page.locator("#png").get_attribute("href") == "/from-page.png?scale=10"
    page.screenshot(path=str(artifacts / "index-created.png"), full_page=True)
    reply = server.app.test_client().get(
        "/api/links/from-page", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    link = reply.get_json()
    assert set(link["anti_block"]) == {
        "wechat",
        "wecom",
        "qq",
        "tim",
        "douyin",
        "alipay",
        "dingtalk",
    }
    assert link["allow"] == ["mobile"]
    assert errors == []


def test_field_errors_show_next_to_their_field(browser: Any, server: Server) -> None:
    page = _page(browser, lang="en")
    page.goto(server.url + "/")
    page.get_by_label("Long URL").fill("javascript:alert(1)")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Shorten").click()
    page.locator("#url-error").wait_for(state="visible")
    assert page.locator("#url-error").text_content()
    page.get_by_label("Long URL").fill("https://example.com/")
    page.get_by_label("API token").fill("wrong")
    page.get_by_role("button", name="Shorten").click()
    page.locator("#token-error").wait_for(state="visible")
    assert "token" in (page.locator("#token-error").text_content() or "")


def test_upload_a_qr_image_fills_the_url(browser: Any, server: Server, tmp_path: Path) -> None:
    picture = tmp_path / "code.png"
    picture.write_bytes(encode("https://example.org/from-a-qr-code", scale=8))
    page = _page(browser, lang="en")
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(TOKEN)
    page.locator("#upload").set_input_files(str(picture))
    page.wait_for_function("() => document.getElementById('url').value !== ''")
    assert page.get_by_label("Long URL").input_value() == "https://example.org/from-a-qr-code"
    blank = tmp_path / "blank.png"
    blank.write_bytes(encode("x", scale=1)[:60])  # a broken PNG
    page.locator("#upload").set_input_files(str(blank))
    page.locator("#upload-error").wait_for(state="visible")


def test_wechat_visitors_get_the_guide_and_browsers_the_target(
    browser: Any, server: Server, artifacts: Path
) -> None:
    status, link = server.create(url=server.url + "/landing", code="guided")
    assert status == 201, link
    ios = _page(browser, user_agent=IOS_WECHAT, viewport={"width": 390, "height": 844})
    ios.goto(link["short_url"])
    assert "点击右上角「···」，选择「在 Safari 中打开」" in ios.locator(".step").text_content()
    assert ios.locator("img.qr").evaluate("img => img.naturalWidth") > 0
    ios.screenshot(path=str(artifacts / "guide-wechat-ios.png"), full_page=True)
    android = _page(browser, user_agent=ANDROID_WECHAT, viewport={"width": 412, "height": 915})
    android.goto(link["short_url"])
    assert "选择「在浏览器中打开」" in android.locator(".step").text_content()
    android.screenshot(path=str(artifacts / "guide-wechat-android.png"), full_page=True)
    desktop = _page(browser)
    desktop.goto(link["short_url"])
    assert desktop.url == server.url + "/landing"
    assert desktop.locator("h1").text_content() == LANDING


def test_mobile_only_link_refuses_a_desktop(browser: Any, server: Server, artifacts: Path) -> None:
    status, link = server.create(url=server.url + "/landing", allow=["mobile"])
    assert status == 201, link
    page = _page(browser, lang="en")
    reply = page.goto(link["short_url"])
    assert reply is not None
    assert reply.status == 403
    assert "Please open this link on a phone." in page.locator("main").text_content()
    page.screenshot(path=str(artifacts / "denied-desktop.png"))
    phone = _page(browser, user_agent=IOS_WECHAT.replace(" MicroMessenger/8.0.42(0x18002a2f)", ""))
    phone.goto(link["short_url"])
    assert phone.url == server.url + "/landing"


def test_stats_page_with_the_server_drawn_chart(
    browser: Any, server: Server, artifacts: Path
) -> None:
    status, link = server.create(url=server.url + "/landing", title="Stats in a browser")
    assert status == 201, link
    for agent in (BROWSER, IOS_WECHAT, ANDROID_WECHAT):
        _page(browser, user_agent=agent).goto(link["short_url"])
    page = _page(browser, lang="en")
    page.goto(f"{server.url}/stats/{link['code']}")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Show").click()
    page.locator("svg.chart").wait_for()
    assert page.locator("#total").text_content() == "3"
    assert page.locator("svg.chart rect").count() >= 1
    page.screenshot(path=str(artifacts / "stats.png"), full_page=True)
