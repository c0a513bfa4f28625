"""render/i18n.py: the visitor's language from Accept-Language, and the words of each page."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suolink.languages import DEFAULT_LANGUAGE, LANGUAGES
from suolink.render.i18n import INSTRUCTIONS, MESSAGES, instruction, pick_language


@pytest.mark.parametrize(
    ("accept", "override", "expected"),
    [
        ("zh-TW,zh;q=0.9", None, "zh-CN"),
        ("en-GB,en;q=0.8", None, "en"),
        ("fr-FR, en;q=0.1, zh;q=0.5", None, "zh-CN"),  # by quality, not by order
        ("fr, de", None, "en"),  # nothing supported: the default
        ("zh;q=0, en", None, "en"),  # q=0 means "not this one"
        ("", None, "en"),
        (None, "zh-CN", "zh-CN"),
        ("zh-CN", "en", "en"),  # a link's own language wins
        ("zh-CN", "klingon", "zh-CN"),  # an unknown override is ignored
        ("en;q=abc, zh", None, "zh-CN"),  # a broken quality never raises
    ],
)
def test_pick_language(accept: str | None, override: str | None, expected: str) -> None:
    assert pick_language(accept, override) == expected


@settings(deadline=None)  # timing under a loaded CI machine is not the property
@given(st.text(max_size=2000), st.one_of(st.none(), st.text(max_size=10)))
def test_pick_language_always_answers_a_supported_language(
    accept: str, override: str | None
) -> None:
    assert pick_language(accept, override) in LANGUAGES


def test_every_language_has_the_same_words_and_placeholders() -> None:
    assert set(MESSAGES) == set(LANGUAGES) == set(INSTRUCTIONS)
    keys = {lang: set(words) for lang, words in MESSAGES.items()}
    assert keys["en"] == keys["zh-CN"]
    for key in keys["en"]:
        found = {lang: set(re.findall(r"\{(\w+)\}", MESSAGES[lang][key])) for lang in LANGUAGES}
        assert found["en"] == found["zh-CN"], key
    assert DEFAULT_LANGUAGE in LANGUAGES


@pytest.mark.parametrize(
    ("app", "os_name", "expected"),
    [
        ("wechat", "ios", ("wechat", "ios")),
        ("wechat", "ipados", ("wechat", "ios")),  # iPad counts as iOS
        ("wechat", "android", ("wechat", "*")),
        ("kuaishou", "ios", ("*", "ios")),  # no words for the app: the OS's
        (None, "windows", ("*", "*")),
    ],
)
def test_instruction_takes_the_most_specific_words(
    app: str | None, os_name: str, expected: tuple[str, str]
) -> None:
    for lang in LANGUAGES:
        assert instruction(lang, app, os_name) == INSTRUCTIONS[lang][expected]


def test_instruction_in_an_unknown_language_uses_the_default() -> None:
    assert instruction("xx", "wechat", "ios") == INSTRUCTIONS[DEFAULT_LANGUAGE][("wechat", "ios")]
