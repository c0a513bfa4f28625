"""The option spec: tied to the constructors' signatures, read the same from text and code."""

from __future__ import annotations

import importlib.util
import inspect
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink.api import HttpApi
from suolink.config import (
    ADAPTERS,
    CODE_ONLY,
    OPTIONS,
    KeyStyle,
    ServerOptions,
    app_options,
    closest,
    from_environ,
    options_for,
    resolve_options,
)
from suolink.domain_checks import HttpChecker
from suolink.errors import ConfigurationError, InvalidSetting
from suolink.shortener import Shortener


def allow_all(request: Any, action: str) -> bool:
    """An ``authorize`` callable the text cases import by path."""
    return True


def _keywords(function: Any, skip: set[str]) -> dict[str, Any]:
    params = inspect.signature(function).parameters
    return {name: p.default for name, p in params.items() if name not in skip}


@pytest.mark.parametrize(
    ("target", "function", "skip"),
    [
        ("shortener", Shortener.__init__, {"self", *CODE_ONLY}),
        ("api", HttpApi.__init__, {"self", "shortener"}),
    ],
)
def test_spec_matches_the_constructor_both_ways(target: str, function: Any, skip: set[str]) -> None:
    """A new keyword without an option (or an option without a keyword) fails here."""
    keywords = _keywords(function, skip)
    spec = {o.name: o.default for o in OPTIONS.values() if o.target == target}
    assert set(spec) == set(keywords)
    for name, default in keywords.items():
        assert spec[name] == default, name
        assert OPTIONS[name].adapters == ADAPTERS, name


def test_code_only_keywords_exist() -> None:
    assert set(inspect.signature(Shortener.__init__).parameters) >= CODE_ONLY


def test_every_option_has_env_name_doc_and_a_target() -> None:
    for name, option in OPTIONS.items():
        assert option.name == name
        assert option.env == "SUOLINK_" + name.upper()
        assert option.setting == name.upper()
        assert option.doc
        assert "\n" not in option.doc
        assert option.target in ("shortener", "api", "adapter")
        assert option.adapters <= ADAPTERS
        assert option.adapters
    assert {o.name for o in OPTIONS.values() if o.secret} == {"secret", "api_token"}


# -- reading from text -------------------------------------------------------------------

#: For every option: text that reads well, what it reads as, and text that is refused
#: (None where the spec leaves the deeper checks to the constructor).
TEXT_CASES: dict[str, tuple[str, Any, str | None]] = {
    "storage": ("memory://", "memory://", "suolink.db"),
    "secret": ("s3cret", "s3cret", None),
    "base_url": ("https://s.example", "https://s.example", "s.example"),
    "code_strategy": ("random", "random", "sequential"),
    "min_length": ("6", 6, "six"),
    "random_length": (" 8 ", 8, "0"),
    "alphabet": ("abcdefghijkmnpqrstuvwxyz", "abcdefghijkmnpqrstuvwxyz", None),
    "reserved": ("admin, login,,", ("admin", "login"), None),
    "allowed_schemes": ("https,weixin", ("https", "weixin"), None),
    "max_url_length": ("4096", 4096, "4k"),
    "redirect_status": ("301", 301, "200"),
    "default_language": ("en", "en", "fr"),
    "bot_action": ("deny", "deny", "block"),
    "store_ip": ("yes", True, "maybe"),
    "reuse_deleted_codes": ("true", True, "sometimes"),
    "track_people": ("on", True, "perhaps"),
    "people_cookie": ("sl_member", "sl_member", "a b"),
    "people_cookie_days": ("30", 30, "0"),
    "forward_query": ("yes", True, "sometimes"),
    "forward_click_id": ("on", True, "maybe"),
    "click_id_ttl": ("86400", 86400, "0"),
    "templates_dir": ("/srv/templates", "/srv/templates", None),
    "blocklist": ("/srv/blocklist.txt", "/srv/blocklist.txt", None),
    "check_url": ("tests.test_config:allow_all", allow_all, "tests.nowhere:allow_all"),
    "check_on_resolve": ("yes", True, "perhaps"),
    "domains": ("s1.example=main, s2.example", "s1.example=main, s2.example", "bad host"),
    "unknown_host_redirect": ("https://home.example/", "https://home.example/", "home"),
    "geoip_db": ("/srv/geo/City.mmdb", "/srv/geo/City.mmdb", None),
    "api_token": ("tok", "tok", None),
    "authorize": ("tests.test_config:allow_all", allow_all, "tests.nowhere:allow_all"),
    "allow_anonymous": ("on", True, "2"),
    "max_body_bytes": ("1024", 1024, "1e3"),
    "max_upload_bytes": ("2000000", 2_000_000, "lots"),
    "rate_limit": ("5/second", "5/second", "fast"),
    "rate_limit_storage": ("memory://", "memory://", "localhost"),
    "password_rate_limit": ("3/minute;30/day", "3/minute;30/day", "three/minute"),
    "token_rate_limit": ("5/minute;50/day", "5/minute;50/day", "many"),
    "allowed_hosts": ("s.example, .example.org", ("s.example", ".example.org"), None),
    "qr_render_rate_limit": ("5/minute", "5/minute", "five/minute"),
    "url_prefix": ("/s/", "/s", "s"),
    "link_prefix": ("/l", "/l", "links"),
    "web_page": ("no", False, "hidden"),
    "check_domains_every": ("60", 60, "-1"),
    "domain_checker": ("suolink.domain_checks:HttpChecker", HttpChecker, "tests.nowhere:x"),
    "use_permissions": ("false", False, "nope"),
    "request_attribute": ("client", "client", "not-an-attr"),
}


def test_every_option_has_a_text_case() -> None:
    assert set(TEXT_CASES) == set(OPTIONS)


@pytest.mark.parametrize("name", list(TEXT_CASES))
def test_text_reads_the_same_in_every_spelling(name: str) -> None:
    text, expected, _ = TEXT_CASES[name]
    option = OPTIONS[name]
    adapter = next(iter(sorted(option.adapters)))
    read = [
        resolve_options({name: text}, source="test", adapter=adapter),
        resolve_options({option.env: text}, source="test", style=KeyStyle.ENVIRON),
        resolve_options({option.setting: text}, source="test", style=KeyStyle.SETTING),
        from_environ({option.env: text}),
    ]
    for options in read:
        assert options.values == {name: expected}


@pytest.mark.parametrize("name", [n for n, case in TEXT_CASES.items() if case[2] is not None])
def test_bad_text_is_refused_naming_the_key(name: str) -> None:
    bad = TEXT_CASES[name][2]
    option = OPTIONS[name]
    with pytest.raises(InvalidSetting) as refused:
        from_environ({option.env: bad})
    assert refused.value.option == name
    assert refused.value.key == option.env
    assert str(refused.value).startswith(f"{option.env}: ")
    assert "environment" in str(refused.value)
    with pytest.raises(ConfigurationError, match=f"^{option.setting}: .*settings.SUOLINK"):
        resolve_options({option.setting: bad}, source="settings.SUOLINK", style=KeyStyle.SETTING)


@pytest.mark.parametrize(
    ("word", "value"),
    [(w, True) for w in ("1", "true", "TRUE", "yes", "on", " Yes ")]
    + [(w, False) for w in ("0", "false", "no", "off", "Off")],
)
def test_boolean_words(word: str, value: bool) -> None:
    assert from_environ({"SUOLINK_STORE_IP": word}).get("store_ip") is value


def test_blank_text_means_unset_except_where_blank_means_none() -> None:
    read = from_environ(
        {
            "SUOLINK_SECRET": "",
            "SUOLINK_MIN_LENGTH": "  ",
            "SUOLINK_RATE_LIMIT": "",
            "SUOLINK_LINK_PREFIX": "",
        }
    )
    assert read.values == {"rate_limit": "", "link_prefix": ""}
    assert read.get("secret") is None
    assert read.get("min_length") == 5


def test_values_given_in_code_are_checked_too() -> None:
    options = resolve_options(
        {"min_length": 6, "store_ip": True, "reserved": {"shop"}, "authorize": allow_all},
        source="code",
    )
    assert options.values == {
        "min_length": 6,
        "store_ip": True,
        "reserved": ("shop",),
        "authorize": allow_all,
    }
    for bad in ({"min_length": 6.5}, {"store_ip": "maybe"}, {"authorize": "x"}, {"storage": 3}):
        with pytest.raises(InvalidSetting, match=next(iter(bad))):
            resolve_options(bad, source="code")
    assert resolve_options({"store_ip": 1, "storage": None}, source="json").values == {
        "store_ip": True
    }


# -- unknown keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "style", "expected"),
    [
        ("SUOLINK_API_TOKN", KeyStyle.ENVIRON, "SUOLINK_API_TOKEN"),
        ("SUOLINK_TOKEN", KeyStyle.ENVIRON, "SUOLINK_API_TOKEN"),
        ("SUOLINK_SECRT", KeyStyle.ENVIRON, "SUOLINK_SECRET"),
        ("ALPHABT", KeyStyle.SETTING, "ALPHABET"),
        ("api_token", KeyStyle.SETTING, "API_TOKEN"),
        ("alowed_schemes", KeyStyle.ARGUMENT, "allowed_schemes"),
        ("colour", KeyStyle.ARGUMENT, None),
        ("SUOLINK_TEST_REDIS_URL", KeyStyle.ENVIRON, None),
        ("SUOLINK_CHROMIUM", KeyStyle.ENVIRON, None),
    ],
)
def test_closest_names_the_likely_key(key: str, style: KeyStyle, expected: str | None) -> None:
    assert closest(key, style=style) == expected


@given(st.sampled_from(list(OPTIONS)), st.sampled_from(list(KeyStyle)))
def test_every_key_is_its_own_closest(name: str, style: KeyStyle) -> None:
    assert closest(style.key(name), style=style) == style.key(name)


@given(st.sampled_from([n for n in OPTIONS if len(n) >= 8]), st.data())
def test_one_letter_dropped_is_still_recognised(name: str, data: st.DataObject) -> None:
    where = data.draw(st.integers(0, len(name) - 1))
    typo = name[:where] + name[where + 1 :]
    suggestion = closest(typo)
    assert suggestion is not None
    assert typo in {suggestion[:i] + suggestion[i + 1 :] for i in range(len(suggestion))} or (
        suggestion == name
    )


def test_unknown_key_is_an_error_naming_the_closest() -> None:
    with pytest.raises(InvalidSetting) as refused:
        resolve_options({"API_TOKN": "x"}, source="settings.SUOLINK", style=KeyStyle.SETTING)
    assert refused.value.suggestion == "API_TOKEN"
    assert refused.value.hint == "Did you mean API_TOKEN?"
    assert str(refused.value) == (
        "API_TOKN: unknown suolink setting; did you mean API_TOKEN? (from settings.SUOLINK)"
    )


def test_unknown_key_may_only_warn_and_foreign_keys_are_ignored() -> None:
    config = {"DEBUG": True, "SECRET_KEY": "flask's", "SUOLINK_API_TOKN": "t"}
    with pytest.warns(UserWarning, match="^SUOLINK_API_TOKN: unknown suolink setting; did you "):
        read = resolve_options(config, source="app.config", style=KeyStyle.ENVIRON, unknown="warn")
    assert read.values == {}


def test_adapter_options_belong_to_their_adapter() -> None:
    with pytest.raises(InvalidSetting, match="only of: asgi, flask"):
        resolve_options({"URL_PREFIX": "/s"}, source="s", style=KeyStyle.SETTING, adapter="django")
    with pytest.raises(InvalidSetting, match="only of: django"):
        resolve_options({"use_permissions": True}, source="s", adapter="flask")
    assert {o.name for o in options_for("django")} >= {"use_permissions", "request_attribute"}
    assert "url_prefix" not in {o.name for o in options_for("django")}


def test_from_environ_reads_only_its_own_variables() -> None:
    environ = {"SUOLINK_STORAGE": "memory://", "SUOLINK_TEST_REDIS_URL": "redis://x", "HOME": "/"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert from_environ(environ).values == {"storage": "memory://"}
    with pytest.warns(UserWarning, match="did you mean SUOLINK_API_TOKEN"):
        from_environ({"SUOLINK_API_TOKN": "t"})
    # another adapter's option is not read
    assert from_environ({"SUOLINK_USE_PERMISSIONS": "0"}, adapter="flask").values == {}


# -- layers and printing ---------------------------------------------------------------------


def test_layers_and_constructor_keywords() -> None:
    env = ServerOptions({"storage": "memory://", "secret": "env", "api_token": "t"})
    args = ServerOptions({"secret": "arg", "url_prefix": "/s"})
    merged = args.over(env)
    assert merged.values == {
        "storage": "memory://",
        "secret": "arg",
        "api_token": "t",
        "url_prefix": "/s",
    }
    assert merged.shortener_kwargs() == {"storage": "memory://", "secret": "arg"}
    assert merged.api_kwargs() == {"api_token": "t"}
    assert merged.get("min_length") == 5
    assert merged.as_keys(KeyStyle.SETTING)["SECRET"] == "arg"


def test_app_options_are_arguments_over_environment() -> None:
    environ = {"SUOLINK_STORAGE": "memory://", "SUOLINK_SECRET": "env", "SUOLINK_URL_PREFIX": "/e"}
    options = app_options({"secret": "arg", "storage": None}, environ, adapter="asgi")
    assert options.values == {"storage": "memory://", "secret": "arg", "url_prefix": "/e"}
    with pytest.raises(
        InvalidSetting, match=r"^secrt: .*did you mean secret\? \(from create_app\(\)\)"
    ):
        app_options({"secrt": "x"}, {}, adapter="asgi")


def test_printable_hides_secrets_and_passwords() -> None:
    options = ServerOptions(
        {"storage": "redis://:hunter2@db:6379/0", "secret": "salt", "api_token": "tok"}
    )
    shown = options.printable()
    assert shown == {"storage": "redis://:***@db:6379/0", "secret": "***", "api_token": "***"}
    assert "hunter2" not in str(shown)


def test_refused_storage_url_does_not_echo_a_password() -> None:
    with pytest.raises(InvalidSetting) as refused:
        from_environ({"SUOLINK_RATE_LIMIT_STORAGE": "user:hunter2@db"})
    assert "SUOLINK_RATE_LIMIT_STORAGE" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    with pytest.raises(InvalidSetting) as refused:
        from_environ({"SUOLINK_STORAGE": "user:hunter2@db"})
    assert "hunter2" not in str(refused.value)


# -- docs ------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _options_table_script() -> Any:
    path = DOCS.parent / "scripts" / "options_table.py"
    spec = importlib.util.spec_from_file_location("options_table", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_settings_table_is_the_spec() -> None:
    """docs/configuration.md shows every option; rewrite with scripts/options_table.py --write."""
    script = _options_table_script()
    written = script.written()
    assert written == script.render(), "run: python scripts/options_table.py --write"
    rows = [line for line in written.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(OPTIONS)
    for row, option in zip(rows, OPTIONS.values(), strict=True):
        if "flask" in option.adapters:
            assert f"`{option.env}`" in row
        if "django" in option.adapters:
            assert f"`{option.setting}`" in row


@pytest.mark.parametrize("page", ["flask.md", "cli.md", "configuration.md", "http-api.md"])
def test_docs_name_only_real_environment_variables(page: str) -> None:
    named = set(re.findall(r"SUOLINK_[A-Z_]+[A-Z]", (DOCS / page).read_text(encoding="utf-8")))
    typos = {"SUOLINK_API_TOKN"}  # the misspelling the docs show on purpose
    assert named - typos <= {o.env for o in OPTIONS.values()}


def test_django_docs_name_only_django_settings() -> None:
    text = (DOCS / "django.md").read_text(encoding="utf-8")
    settings_section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `([A-Z_]+)` \|", settings_section, flags=re.MULTILINE)
    assert keys
    assert set(keys) <= {o.setting for o in options_for("django")}
