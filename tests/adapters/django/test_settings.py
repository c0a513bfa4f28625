"""``settings.SUOLINK`` through the option spec: misspelt keys, text values, ``@protect``."""

from __future__ import annotations

import pytest
from django.test import override_settings

from suolink.adapters.django import get_shortener
from suolink.adapters.django.checks import check_settings
from suolink.adapters.django.conf import DEFAULTS, suolink_options, suolink_settings
from suolink.adapters.django.decorators import protect
from suolink.adapters.django.state import get_api
from suolink.config import OPTIONS, options_for
from suolink.errors import InvalidOption, InvalidSetting
from tests.test_config import allow_all


def test_misspelt_key_is_an_error_naming_the_closest_key() -> None:
    with override_settings(SUOLINK={"STORAGE": "memory://", "ALPHABT": "abcdefghijk"}):
        with pytest.raises(InvalidSetting) as refused:
            suolink_settings()
        assert refused.value.suggestion == "ALPHABET"
        assert "settings.SUOLINK" in str(refused.value)
        with pytest.raises(InvalidSetting, match="did you mean ALPHABET"):
            get_shortener()


def test_check_reports_the_misspelling_with_a_hint() -> None:
    with override_settings(SUOLINK={"STORAGE": "memory://", "SECRET": "x", "API_TOKN": "t"}):
        (error,) = check_settings()
    assert error.id == "suolink.E002"
    assert "API_TOKN: unknown suolink setting" in error.msg
    assert error.hint == "Did you mean API_TOKEN?"


def test_web_adapter_options_are_not_django_settings() -> None:
    with override_settings(SUOLINK={"STORAGE": "memory://", "URL_PREFIX": "/s"}):
        (error,) = check_settings()
    assert error.id == "suolink.E002"
    assert "only of: asgi, flask" in error.msg


def test_every_option_of_the_spec_is_a_setting_and_text_is_read() -> None:
    config = {
        "STORAGE": "memory://",
        "ALPHABET": "abcdefghijkmnpqrstuvwxyz",
        "RESERVED": "shop,cart",
        "MIN_LENGTH": "8",
        "STORE_IP": "yes",
        "USE_PERMISSIONS": "false",
        "AUTHORIZE": "tests.test_config:allow_all",
        "MAX_BODY_BYTES": "1024",
    }
    with override_settings(SUOLINK=config):
        shortener = get_shortener()
        assert shortener.codes.alphabet == "abcdefghijkmnpqrstuvwxyz"
        assert shortener.codes.reserved == {"shop", "cart"}
        assert shortener.codes.codec.min_length == 8
        assert shortener.store_ip is True
        assert get_api().max_body_bytes == 1024
        assert suolink_options().get("authorize") is allow_all
        assert suolink_settings()["USE_PERMISSIONS"] is False
    assert {o.setting for o in options_for("django")} >= set(DEFAULTS)
    assert DEFAULTS["STORAGE"] == "django://"
    assert "URL_PREFIX" not in {o.setting for o in options_for("django")}
    # Not Django's: where Flask/ASGI mount things, and the periodic domain checks that
    # `suolink serve` runs (a Django site runs `suolink domains check` from its scheduler).
    not_django = {"url_prefix", "link_prefix", "web_page", "check_domains_every", "domain_checker"}
    assert {o.name for o in options_for("django")} == set(OPTIONS) - not_django


def test_bad_value_names_the_key() -> None:
    with override_settings(SUOLINK={"STORAGE": "memory://", "MIN_LENGTH": "five"}):
        (error,) = check_settings()
    assert error.id == "suolink.E002"
    assert error.msg.startswith("MIN_LENGTH: expected a whole number")


def test_protect_checks_platform_names_when_decorating() -> None:
    with pytest.raises(InvalidOption, match="invalid allow: 'wechatt'"):
        protect(allow=["wechatt"])
    with pytest.raises(InvalidOption, match="anti_block_mode"):
        protect(anti_block_mode="sometimes")
    assert callable(protect(anti_block=["weixin"], deny="desktop"))
