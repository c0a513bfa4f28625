"""Flask settings through the option spec: arguments, ``app.config`` and the environment agree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest

from suolink.adapters.flask import Suolink, create_app, get_shortener
from suolink.config import OPTIONS, options_for
from suolink.errors import InvalidOption, InvalidSetting
from tests import geodb
from tests.test_config import allow_all

State = Any

#: How each option shows on the app's state; a new option of the spec must be added here.
OBSERVE: dict[str, Callable[[State], Any]] = {
    "storage": lambda s: type(s.shortener.storage).__name__,
    "secret": lambda s: s.shortener.secret,
    "base_url": lambda s: s.shortener.base_url,
    "code_strategy": lambda s: s.shortener.codes.strategy,
    "min_length": lambda s: s.shortener.codes.codec.min_length,
    "random_length": lambda s: s.shortener.codes.random_length,
    "alphabet": lambda s: s.shortener.codes.alphabet,
    "reserved": lambda s: s.shortener.codes.reserved,
    "allowed_schemes": lambda s: s.shortener.url_rules.allowed_schemes,
    "max_url_length": lambda s: s.shortener.url_rules.max_length,
    "redirect_status": lambda s: s.shortener.redirect_status,
    "default_language": lambda s: s.shortener.default_language,
    "bot_action": lambda s: s.shortener.bot_action,
    "store_ip": lambda s: s.shortener.store_ip,
    "reuse_deleted_codes": lambda s: s.shortener.reuse_deleted_codes,
    "track_people": lambda s: s.shortener.track_people,
    "people_cookie": lambda s: s.shortener.people_ids.cookie_name,
    "people_cookie_days": lambda s: s.shortener.people_ids.max_age // 86_400,
    "forward_query": lambda s: s.shortener.forward_query,
    "forward_click_id": lambda s: s.shortener.forward_click_id,
    "click_id_ttl": lambda s: s.shortener._click_ids.ttl,
    "templates_dir": lambda s: s.shortener.template_dirs,
    "blocklist": lambda s: s.shortener.abuse.blocklist and s.shortener.abuse.blocklist.path,
    "check_url": lambda s: s.shortener.abuse.check_url,
    "check_on_resolve": lambda s: s.shortener.abuse.check_on_resolve,
    "domains": lambda s: [(d.name, d.pool) for d in s.shortener._domain_specs],
    "unknown_host_redirect": lambda s: s.shortener.unknown_host_redirect,
    "geoip_db": lambda s: s.shortener.geoip and s.shortener.geoip.lookup("1.2.3.4").country,
    "api_token": lambda s: s.api.api_token,
    "authorize": lambda s: s.api.authorize,
    "allow_anonymous": lambda s: s.api.allow_anonymous,
    "max_body_bytes": lambda s: s.api.max_body_bytes,
    "max_upload_bytes": lambda s: s.api.max_upload_bytes,
    "rate_limit": lambda s: s.api.rate_limiter and s.api.rate_limiter.limit_text,
    "rate_limit_storage": lambda s: s.api.password_limiter.storage_url,
    "password_rate_limit": lambda s: s.api.password_limiter.limit_text,
    "token_rate_limit": lambda s: s.api.token_limiter.limit_text,
    "allowed_hosts": lambda s: s.api.allowed_hosts and s.api.allowed_hosts.patterns,
    "qr_render_rate_limit": lambda s: s.api.qr_render_limiter.limit_text,
    "url_prefix": lambda s: s.url_prefix,
    "link_prefix": lambda s: s.link_prefix,
    "web_page": lambda s: any(r.name == "index" for r in s.api.routes),
}

#: A value other than the default for each option: (as code gives it, as text gives it).
VALUES: dict[str, tuple[Any, str]] = {
    "storage": ("sqlite:///{tmp}/links.db", "sqlite:///{tmp}/links.db"),
    "secret": ("s3cret", "s3cret"),
    "base_url": ("https://s.example", "https://s.example"),
    "code_strategy": ("random", "random"),
    "min_length": (8, "8"),
    "random_length": (9, "9"),
    "alphabet": ("abcdefghijkmnpqrstuvwxyz", "abcdefghijkmnpqrstuvwxyz"),
    "reserved": (["shop", "cart"], "shop,cart"),
    "allowed_schemes": (("https", "weixin"), "https, weixin"),
    "max_url_length": (4096, "4096"),
    "redirect_status": (308, "308"),
    "default_language": ("en", "en"),
    "bot_action": ("deny", "deny"),
    "store_ip": (True, "yes"),
    "reuse_deleted_codes": (True, "yes"),
    "track_people": (True, "yes"),
    "people_cookie": ("sl_member", "sl_member"),
    "people_cookie_days": (30, "30"),
    "forward_query": (True, "yes"),
    "forward_click_id": (True, "on"),
    "click_id_ttl": (3600, "3600"),
    "templates_dir": ("{tmp}", "{tmp}"),
    "blocklist": ("{tmp}/blocklist.txt", "{tmp}/blocklist.txt"),
    "check_url": (allow_all, "tests.test_config:allow_all"),
    "check_on_resolve": (True, "yes"),
    "domains": (["localhost", "s2.example=promo"], "localhost, s2.example=promo"),
    "unknown_host_redirect": ("https://home.example/", "https://home.example/"),
    "geoip_db": ("{tmp}/city.mmdb", "{tmp}/city.mmdb"),
    "api_token": ("tok", "tok"),
    "authorize": (allow_all, "tests.test_config:allow_all"),
    "allow_anonymous": (False, "0"),
    "max_body_bytes": (1024, "1024"),
    "max_upload_bytes": (2_000_000, "2000000"),
    "rate_limit": ("5/second", "5/second"),
    "rate_limit_storage": ("memory://", "memory://"),
    "password_rate_limit": ("3/minute", "3/minute"),
    "token_rate_limit": ("4/minute", "4/minute"),
    "allowed_hosts": (("s.example", "localhost"), "s.example, localhost"),
    "qr_render_rate_limit": ("5/minute", "5/minute"),
    "url_prefix": ("/s/", "/s/"),
    "link_prefix": ("/l", "/l"),
    "web_page": (False, "false"),
}
#: Options every app of these tests gets (so nothing lands in ./suolink.db).
BASE: dict[str, str] = {"storage": "memory://", "allow_anonymous": "1"}


def test_every_flask_option_is_observed() -> None:
    assert set(OBSERVE) == set(VALUES) == {o.name for o in options_for("flask")}


@pytest.fixture
def apps() -> Iterator[list[flask.Flask]]:
    made: list[flask.Flask] = []
    yield made
    for app in made:
        get_shortener(app).close()


@pytest.mark.parametrize("name", list(VALUES))
def test_argument_config_and_environment_agree(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apps: list[flask.Flask]
) -> None:
    code, text = VALUES[name]
    if isinstance(code, str):
        code, text = code.format(tmp=tmp_path), text.format(tmp=tmp_path)
    if name == "geoip_db":
        geodb.build(tmp_path / "city.mmdb")
    if name == "blocklist":
        (tmp_path / "blocklist.txt").write_text("bad.example\n")
    option = OPTIONS[name]

    plain = flask.Flask("plain")
    Suolink(plain, **BASE)
    by_argument = flask.Flask("argument")
    Suolink(by_argument, **{**BASE, name: code})
    by_config = flask.Flask("config")
    by_config.config.update({OPTIONS[k].env: v for k, v in BASE.items()})
    by_config.config[option.env] = text
    Suolink(by_config)
    for key, value in BASE.items():
        monkeypatch.setenv(OPTIONS[key].env, value)
    monkeypatch.setenv(option.env, text)
    by_environment = create_app()
    apps.extend([plain, by_argument, by_config, by_environment])

    seen = [OBSERVE[name](Suolink.state(app)) for app in apps[1:]]
    assert seen[0] == seen[1] == seen[2]
    if name != "rate_limit_storage":  # memory:// is also what a memory store defaults to
        assert seen[0] != OBSERVE[name](Suolink.state(plain))


def test_constructor_beats_config_beats_environment(
    monkeypatch: pytest.MonkeyPatch, apps: list[flask.Flask]
) -> None:
    monkeypatch.setenv("SUOLINK_STORAGE", "memory://")
    monkeypatch.setenv("SUOLINK_ALPHABET", "abcdefghijkmnpqrstuvwxyzABC")
    monkeypatch.setenv("SUOLINK_MIN_LENGTH", "7")
    app = create_app(alphabet="abcdefghijkmnpqrstuvwxyz")
    apps.append(app)
    codes = get_shortener(app).codes
    assert codes.alphabet == "abcdefghijkmnpqrstuvwxyz"
    assert codes.codec.min_length == 7
    assert app.config["SUOLINK_MIN_LENGTH"] == 7  # the environment, checked, in app.config


def test_misspelt_config_key_warns_with_the_closest_key(apps: list[flask.Flask]) -> None:
    app = flask.Flask("typo")
    app.config.update(SUOLINK_STORAGE="memory://", SUOLINK_API_TOKN="t")
    with pytest.warns(
        UserWarning,
        match=r"^SUOLINK_API_TOKN: unknown suolink setting; did you mean SUOLINK_API_TOKEN\?",
    ):
        Suolink(app)
    apps.append(app)
    assert Suolink.state(app).api.api_token is None


def test_misspelt_argument_and_bad_value_are_errors() -> None:
    with pytest.raises(InvalidSetting, match="did you mean alphabet"):
        Suolink(flask.Flask("x"), storage="memory://", alphabt="abc")
    app = flask.Flask("y")
    app.config.update(SUOLINK_STORAGE="memory://", SUOLINK_STORE_IP="maybe")
    with pytest.raises(InvalidSetting, match=r"^SUOLINK_STORE_IP: .* \(from app.config\)"):
        Suolink(app)
    with pytest.raises(InvalidSetting, match="only of: django"):
        Suolink(flask.Flask("z"), storage="memory://", use_permissions=True)


def test_bad_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUOLINK_MAX_BODY_BYTES", "lots")
    with pytest.raises(InvalidSetting, match=r"^SUOLINK_MAX_BODY_BYTES: .*environment"):
        create_app("memory://")


def test_protect_checks_rules_when_decorating(apps: list[flask.Flask]) -> None:
    app = flask.Flask("protect")
    ext = Suolink(app, storage="memory://")
    apps.append(app)
    with pytest.raises(InvalidOption, match="invalid deny: 'wechatt'"):
        ext.protect(deny=["wechatt"])
    with pytest.raises(InvalidOption, match="anti_block_mode"):
        ext.protect(anti_block_mode="sometimes")
