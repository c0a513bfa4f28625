"""render/phrases.py: where a link may be opened, as words in each language."""

from __future__ import annotations

import pytest

from suolink.render.phrases import place, places


@pytest.mark.parametrize(
    ("name", "en", "zh"),
    [
        ("wechat", "in WeChat", "在微信中"),  # an app
        ("mobile", "on a phone", "在手机上"),  # a device
        ("ios", "on iOS", "在 iOS 设备上"),  # an operating system
        ("in_app", "in an in-app browser", "在应用内浏览器中"),  # a group
    ],
)
def test_each_kind_of_platform_has_its_phrase(name: str, en: str, zh: str) -> None:
    assert place(name, "en") == en
    assert place(name, "zh-CN") == zh


def test_places_are_sorted_and_joined_with_or() -> None:
    assert places({"wechat", "ios"}, "en") == "on iOS or in WeChat"
    assert places(["wechat", "ios"], "zh-CN") == places(["ios", "wechat"], "zh-CN")
    assert places(["ios", "wechat"], "zh-CN") == "在 iOS 设备上或在微信中"
