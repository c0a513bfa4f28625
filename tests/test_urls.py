"""URL validation: one table per rule, then properties over arbitrary input."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from suolink.errors import ConfigurationError, InvalidURL, SuolinkError
from suolink.urls import (
    ALWAYS_REFUSED_SCHEMES,
    DEFAULT_MAX_URL_LENGTH,
    URLRules,
    validate_url,
)

APP_RULES = URLRules(frozenset({"http", "https", "weixin", "alipays", "itms-apps", "mailto"}))


def refused(url: object, **kwargs: object) -> str:
    """The reason ``validate_url`` gives for refusing ``url`` (fails if it accepts it)."""
    with pytest.raises(InvalidURL) as info:
        validate_url(url, **kwargs)  # type: ignore[arg-type]
    assert info.value.http_status == 400
    assert info.value.url == (url if isinstance(url, str) else repr(url))
    return info.value.reason


# -- what is accepted, and its normal form -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://example.com/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("http://example.com/a/b?x=1&y=2#top", "http://example.com/a/b?x=1&y=2#top"),
        # scheme and host are lower-cased; path, query and fragment keep their case
        ("HTTPS://Example.COM/Path?Q=A#F", "https://example.com/Path?Q=A#F"),
        # surrounding whitespace (pasted from chat) is stripped
        ("  https://example.com/ \n", "https://example.com/"),
        ("\u3000https://example.com/\t", "https://example.com/"),
        # default ports dropped, others kept, an empty port means the default
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com:08443/x", "https://example.com:8443/x"),
        ("https://example.com:/x", "https://example.com/x"),
        ("https://example.com:65535", "https://example.com:65535/"),
        # hosts
        ("https://localhost:8000/", "https://localhost:8000/"),
        ("https://sub_domain.example.com/", "https://sub_domain.example.com/"),
        ("https://example.com./", "https://example.com./"),
        ("http://192.168.1.10/", "http://192.168.1.10/"),
        ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://[::ffff:1.2.3.4]/", "http://[::ffff:102:304]/"),
        # IDN hosts become punycode (UTS #46 mapping, non-transitional like browsers)
        ("https://例子.中国/", "https://xn--fsqu00a.xn--fiqs8s/"),
        ("https://例子。中国/", "https://xn--fsqu00a.xn--fiqs8s/"),  # ideographic full stop
        ("https://Bücher.de/", "https://xn--bcher-kva.de/"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://ｅｘａｍｐｌｅ.com/", "https://example.com/"),  # full-width letters
        ("https://xn--fsqu00a.xn--fiqs8s/", "https://xn--fsqu00a.xn--fiqs8s/"),
        ("https://a\u0300b.cn/", "https://xn--b-rfa.cn/"),  # NFC: a + U+0300 is à
        # non-ASCII in path, query and fragment is percent-encoded as UTF-8
        (
            "https://a.cn/路径?q=值#片段",
            "https://a.cn/%E8%B7%AF%E5%BE%84?q=%E5%80%BC#%E7%89%87%E6%AE%B5",
        ),
        ("https://a.cn/%E8%B7%AF", "https://a.cn/%E8%B7%AF"),  # already encoded: kept
        ("https://a.cn/%e8%b7%af", "https://a.cn/%e8%b7%af"),  # hex case kept
        ("https://a.cn/100%", "https://a.cn/100%25"),  # a stray % is escaped
        ("https://a.cn/%zz?p=%4", "https://a.cn/%25zz?p=%254"),
        ('https://a.cn/?q="<x>"&a=`{|}^`', "https://a.cn/?q=%22%3Cx%3E%22&a=%60%7B%7C%7D%5E%60"),
        ("https://a.cn/?q=a\\b", "https://a.cn/?q=a%5Cb"),
        ("https://a.cn/?a[]=1&b[]=2", "https://a.cn/?a[]=1&b[]=2"),
        ("https://a.cn/#a#b", "https://a.cn/#a%23b"),
        ("https://a.cn/?", "https://a.cn/?"),
        ("https://a.cn/#", "https://a.cn/#"),
        ("https://a.cn/a/../b/./c", "https://a.cn/a/../b/./c"),
        ("https://a.cn/😀", "https://a.cn/%F0%9F%98%80"),
    ],
)
def test_accepted_urls_are_normalised(url: str, normal: str) -> None:
    assert validate_url(url) == normal
    assert validate_url(normal) == normal


# -- refusals, one table per rule ------------------------------------------------------


@pytest.mark.parametrize("value", [None, 42, b"https://example.com/", ["https://a.cn"], object()])
def test_non_text_is_refused(value: object) -> None:
    assert refused(value) == "the URL must be text"


@pytest.mark.parametrize("url", ["", "   ", "\n\t"])
def test_empty_is_refused(url: str) -> None:
    assert refused(url) == "the URL is empty"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://a.cn/a b", "the URL contains a space"),
        ("https://a.cn/a\tb", "the URL contains a tab"),
        ("https://a.cn/a\nb", "the URL contains a line break"),
        ("https://a.cn/\r\nSet-Cookie: x=1", "the URL contains a line break"),
        ("https://a.cn/a\x00b", "the URL contains a control character (U+0000)"),
        ("https://a.cn/a\x7fb", "the URL contains a control character (U+007F)"),
        ("https://a.cn/a\x85b", "the URL contains a control character (U+0085)"),
        ("https://a.cn/a\u00a0b", "the URL contains a space (U+00A0)"),
        ("https://a.cn/a\u3000b", "the URL contains a space (U+3000)"),
        ("https://a.cn/a\u2028b", "the URL contains a line separator (U+2028)"),
        (
            "https://a.cn/\u202egpj.exe",
            "the URL contains an invisible formatting character (U+202E)",
        ),
        ("https://a.cn/a\u200bb", "the URL contains an invisible formatting character (U+200B)"),
        ("\ufeffhttps://a.cn/", "the URL contains an invisible formatting character (U+FEFF)"),
        ("https://a.cn/\ud800", "the URL contains an unpaired surrogate character (U+D800)"),
        ("https://exa mple.com/", "the URL contains a space"),
        ("java\tscript:alert(1)", "the URL contains a tab"),
    ],
)
def test_whitespace_and_control_characters_are_refused(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "javascript://example.com/%0Aalert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "FILE://server/share",
        "about:blank",
        "blob:https://a.cn/uuid",
        "view-source:https://a.cn/",
    ],
)
def test_dangerous_schemes_are_always_refused(url: str) -> None:
    scheme = url.strip().split(":", 1)[0].lower()
    assert refused(url) == f"{scheme}: links are not allowed"
    # ... even when every other scheme a person could think of is allowed.
    with pytest.raises(InvalidURL, match="links are not allowed"):
        APP_RULES.validate(url)


@pytest.mark.parametrize("scheme", sorted(ALWAYS_REFUSED_SCHEMES))
def test_dangerous_schemes_cannot_be_allow_listed(scheme: str) -> None:
    with pytest.raises(ConfigurationError, match="can never be allowed"):
        URLRules(frozenset({"https", scheme}))
    with pytest.raises(ConfigurationError, match="can never be allowed"):
        validate_url("https://a.cn/", allowed_schemes=["https", scheme.upper()])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://a.cn/file", "ftp: links are not allowed; only http and https links are"),
        ("weixin://dl/scan", "weixin: links are not allowed; only http and https links are"),
        ("mailto:a@b.cn", "mailto: links are not allowed; only http and https links are"),
        ("tel:10086", "tel: links are not allowed; only http and https links are"),
        ("example.com", "the URL has no scheme; start it with https:// or http://"),
        ("www.example.com/path", "the URL has no scheme; start it with https:// or http://"),
        ("//example.com/", "the URL has no scheme; start it with https:// or http://"),
        ("/relative/path", "the URL has no scheme; start it with https:// or http://"),
        ("localhost:8080", "the URL has no scheme; start it with https:// or http://"),
        ("example.com:8080/x", "the URL has no scheme; start it with https:// or http://"),
        ("1http://a.cn/", "the URL has no scheme; start it with https:// or http://"),
        (":a.cn", "the URL has no scheme; start it with https:// or http://"),
        ("\u212attp://a.cn/", "the URL has no scheme; start it with https:// or http://"),
    ],
)
def test_scheme_rules(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://", "the URL has no host"),
        ("https:///path", "the URL has no host"),
        ("https://:443/", "the URL has no host"),
        ("https:example.com", "the URL has no host; write https:// with two slashes"),
        ("http:/example.com", "the URL has no host; write http:// with two slashes"),
        ("http:\\\\example.com", "the URL has no host; write http:// with two slashes"),
        ("https://?q=1", "the URL has no host"),
    ],
)
def test_http_needs_a_host(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://@example.com/",
        "https://google.com@evil.example/",
        "https://evil.example\\@google.com/",
    ],
)
def test_user_info_is_refused(url: str) -> None:
    assert "user name or password" in refused(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://a.cn:0/", "the port 0 is not a number from 1 to 65535"),
        ("https://a.cn:65536/", "the port 65536 is not a number from 1 to 65535"),
        ("https://a.cn:99999999999/", "the port '99999999999' is not a number from 1 to 65535"),
        ("https://a.cn:http/", "the port 'http' is not a number from 1 to 65535"),
        ("https://a.cn:-1/", "the port '-1' is not a number from 1 to 65535"),
        ("https://a.cn:+80/", "the port '+80' is not a number from 1 to 65535"),
        ("https://a.cn:８０/", "the port '８０' is not a number from 1 to 65535"),
        (
            "https://a.cn:1:2/",
            "the host contains ':'; IPv6 addresses must be written in [brackets]",
        ),
        (
            "https://2001:db8::1/",
            "the host contains ':'; IPv6 addresses must be written in [brackets]",
        ),
    ],
)
def test_port_rules(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://[::1/", "the host has an unclosed '[' (IPv6 addresses need ']')"),
        ("https://[::1", "the host has an unclosed '[' (IPv6 addresses need ']')"),
        ("https://[::1]x/", "unexpected text after the IPv6 address in the host"),
        ("https://[::1]]/", "unexpected text after the IPv6 address in the host"),
        ("https://[1.2.3.4]/", "'1.2.3.4' is not a valid IPv6 address"),
        ("https://[::g]/", "'::g' is not a valid IPv6 address"),
        ("https://[]/", "'' is not a valid IPv6 address"),
        ("https://[v1.abc]/", "'v1.abc' is not a valid IPv6 address"),
        ("https://[fe80::1%25eth0]/", "IPv6 zone identifiers ('%') are not allowed in links"),
        ("https://a]b.cn/", "the host has '[' or ']' outside an IPv6 address"),
        ("https://a[b.cn/", "the host has '[' or ']' outside an IPv6 address"),
    ],
)
def test_ipv6_bracket_rules(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://a..cn/", "the host name has an empty part (two dots in a row?)"),
        ("https://.a.cn/", "the host name has an empty part (two dots in a row?)"),
        ("https://./", "the host name has an empty part (two dots in a row?)"),
        ("https://a.cn../", "the host name has an empty part (two dots in a row?)"),
        ("https://a!b.cn/", "the host name contains '!'"),
        ("https://a$b.cn/", "the host name contains '$'"),
        ("https://a*.cn/", "the host name contains '*'"),
        ("https://%65xample.com/", "the host contains '%'; write the host name as plain text"),
        # a full-width solidus maps to '/': the host-splitting trick is refused
        ("https://evil.com\uff0fgood.cn/", "the host name contains '/'"),
        ("https://evil.com\uff03good.cn/", "the host name contains '#'"),
        ("https://" + "a" * 64 + ".cn/", "a part of the host name is longer than 63 characters"),
        ("https://" + "a." * 127 + "cn/", "the host name is longer than 253 characters"),
        ("https://xn--zz.cn/", "'xn--zz' is not a valid internationalised host name"),
        ("https://xn--abc.cn/", "'xn--abc' is not a valid internationalised host name"),
        (
            "https://" + "例" * 70 + ".cn/",
            f"{'例' * 40 + '…'!r} is not a valid internationalised host name",
        ),
        ("https://\u0300.cn/", "'\u0300' is not a valid internationalised host name"),
    ],
)
def test_host_name_rules(url: str, reason: str) -> None:
    assert refused(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://0x7f.0.0.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://256.1.1.1/",
        "http://1.2.3.4.5/",
        "http://example.123/",
        "http://１２７.0.0.1.1/",
    ],
)
def test_disguised_ip_addresses_are_refused(url: str) -> None:
    assert "looks like an IP address but is not a valid one" in refused(url)


def test_full_width_digits_map_to_a_plain_ip() -> None:
    assert validate_url("http://１２７.0.0.1/") == "http://127.0.0.1/"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://a.cn/a\\b", "the path of the URL contains a backslash"),
        ("https://a.cn\\path", "the host part of the URL contains a backslash"),
    ],
)
def test_backslashes_before_the_query_are_refused(url: str, reason: str) -> None:
    # Browsers read '\\' as '/' in http(s) paths; servers do not: refuse the mismatch.
    assert refused(url) == reason


# -- length ----------------------------------------------------------------------------


def test_length_cap_is_2048_by_default() -> None:
    base = "https://a.cn/"
    ok = base + "x" * (DEFAULT_MAX_URL_LENGTH - len(base))
    assert validate_url(ok) == ok
    assert refused(ok + "x") == "the URL is longer than 2048 characters"


def test_length_cap_counts_the_normalised_form() -> None:
    url = "https://a.cn/" + "路" * 100  # 114 characters, 913 once percent-encoded
    assert len(validate_url(url, max_length=913)) == 913
    reason = refused(url, max_length=912)
    assert reason == "the URL is longer than 912 characters once normalised"


def test_length_cap_is_configurable() -> None:
    assert validate_url("https://a.cn/x", max_length=16) == "https://a.cn/x"
    assert refused("https://a.cn/xyz1", max_length=16) == "the URL is longer than 16 characters"


def test_surrounding_whitespace_does_not_count() -> None:
    url = "https://a.cn/" + "x" * (DEFAULT_MAX_URL_LENGTH - 13)
    assert validate_url("   " + url + "\n") == url


# -- app schemes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("weixin://dl/scan", "weixin://dl/scan"),
        ("WEIXIN://DL/scan", "weixin://dl/scan"),
        ("weixin://", "weixin://"),
        (
            "alipays://platformapi/startapp?appId=20000067&url=https%3A%2F%2Fa.cn",
            "alipays://platformapi/startapp?appId=20000067&url=https%3A%2F%2Fa.cn",
        ),
        (
            "itms-apps://apps.apple.com/app/id414478124",
            "itms-apps://apps.apple.com/app/id414478124",
        ),
        ("weixin:///path", "weixin:///path"),
        ("weixin:dl/chat", "weixin:dl/chat"),
        (
            "mailto:someone@example.com?subject=你好",
            "mailto:someone@example.com?subject=%E4%BD%A0%E5%A5%BD",
        ),
        ("https://a.cn/", "https://a.cn/"),
    ],
)
def test_allow_listed_app_schemes(url: str, normal: str) -> None:
    assert APP_RULES.validate(url) == normal
    assert APP_RULES.validate(normal) == normal


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("weixin:", "the URL has nothing after 'weixin:'"),
        (
            "weixin://user@dl/scan",
            "the URL contains a user name or password before '@', a common phishing trick",
        ),
        ("weixin://:80/", "the URL has a port but no host"),
        ("weixin://dl/a b", "the URL contains a space"),
        (
            "tel:+123",
            "tel: links are not allowed; only alipays, http, https, itms-apps, mailto and weixin links are",
        ),
        ("https:example.com", "the URL has no host; write https:// with two slashes"),
    ],
)
def test_app_scheme_refusals(url: str, reason: str) -> None:
    with pytest.raises(InvalidURL) as info:
        APP_RULES.validate(url)
    assert info.value.reason == reason


def test_allowed_schemes_can_exclude_http() -> None:
    rules = URLRules(frozenset({"https"}))
    assert rules.validate("https://a.cn") == "https://a.cn/"
    with pytest.raises(InvalidURL, match="only https links are"):
        rules.validate("http://a.cn/")
    assert validate_url("HTTPS://a.cn", allowed_schemes={"HTTPS"}) == "https://a.cn/"


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowed_schemes": "https"}, "collection of scheme names"),
        ({"allowed_schemes": frozenset()}, "at least one scheme"),
        ({"allowed_schemes": frozenset({"https:"})}, "is not a scheme name"),
        ({"allowed_schemes": frozenset({"https://"})}, "is not a scheme name"),
        ({"allowed_schemes": frozenset({""})}, "is not a scheme name"),
        ({"allowed_schemes": frozenset({1})}, "is not a scheme name"),
        ({"allowed_schemes": 5}, "collection of scheme names"),
        ({"max_length": 0}, "max_length"),
        ({"max_length": 15}, "max_length"),
        ({"max_length": 2048.0}, "max_length"),
        ({"max_length": True}, "max_length"),
        ({"max_length": "2048"}, "max_length"),
    ],
)
def test_rules_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        URLRules(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"allowed_schemes": "https"},
        {"allowed_schemes": [["https"]]},
        {"allowed_schemes": 3},
        {"max_length": [1]},
        {"max_length": 2048.0},
        {"max_length": -5},
    ],
)
def test_validate_url_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        validate_url("https://a.cn/", **kwargs)  # type: ignore[arg-type]


def test_rules_normalise_their_schemes() -> None:
    rules = URLRules(["HTTPS", "Weixin"])  # type: ignore[arg-type]
    assert rules.allowed_schemes == frozenset({"https", "weixin"})
    assert URLRules() == URLRules(frozenset({"https", "http"}))


# -- properties ---------------------------------------------------------------------------

label = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
unicode_label = st.text(
    alphabet=st.characters(categories=["Ll", "Lu", "Lo", "Nd", "Mn"]), min_size=1, max_size=8
)
host = st.one_of(
    st.lists(st.one_of(label, unicode_label), min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.text(max_size=20),
)
url_like = st.builds(
    lambda scheme, h, port, path, query, fragment: f"{scheme}://{h}{port}{path}{query}{fragment}",
    st.sampled_from(["http", "https", "HTTP", "weixin", "javascript", "ftp"]),
    host,
    st.one_of(st.just(""), st.integers(min_value=-1, max_value=70000).map(lambda p: f":{p}")),
    st.text(max_size=30).map(lambda p: "/" + p),
    st.one_of(st.just(""), st.text(max_size=20).map(lambda q: "?" + q)),
    st.one_of(st.just(""), st.text(max_size=20).map(lambda f: "#" + f)),
)
# Text a valid URL may carry: no control, formatting, surrogate or space characters.
url_text = st.text(
    alphabet=st.characters(exclude_categories=["Cc", "Cf", "Cs", "Zs", "Zl", "Zp"]), max_size=30
)
plausible_url = st.builds(
    lambda scheme, h, port, path, query, fragment: f"{scheme}://{h}{port}/{path}{query}{fragment}",
    st.sampled_from(["http", "https", "HTTPS", "weixin", "alipays"]),
    st.one_of(
        st.lists(st.one_of(label, unicode_label), min_size=1, max_size=4).map(".".join),
        st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    ),
    st.one_of(st.just(""), st.integers(min_value=1, max_value=65535).map(lambda p: f":{p}")),
    url_text.map(lambda p: p.replace("\\", "/")),
    st.one_of(st.just(""), url_text.map(lambda q: "?" + q)),
    st.one_of(st.just(""), url_text.map(lambda f: "#" + f)),
)
any_url = st.one_of(url_like, plausible_url, st.text(max_size=200))
anything = st.one_of(
    any_url, st.binary(), st.integers(), st.none(), st.lists(st.text(), max_size=2)
)


def check_normal_form(result: str, rules: URLRules) -> None:
    """What every accepted URL looks like, whatever it came from."""
    assert result.isascii()
    assert all(" " < c < "\x7f" for c in result)
    assert len(result) <= rules.max_length
    scheme, _, rest = result.partition(":")
    assert scheme in rules.allowed_schemes
    assert scheme not in ALWAYS_REFUSED_SCHEMES
    if rest.startswith("//"):
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        assert "@" not in authority
        assert "\\" not in authority


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything)
def test_validate_url_raises_only_suolink_errors(value: object) -> None:
    for rules in (URLRules(), APP_RULES):
        error: SuolinkError | None = None
        try:
            result = rules.validate(value)
        except SuolinkError as exc:
            error = exc
        if error is not None:
            assert isinstance(error, InvalidURL)
            assert error.reason
        else:
            check_normal_form(result, rules)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_url)
def test_validate_url_is_idempotent(url: str) -> None:
    for rules in (URLRules(), APP_RULES):
        try:
            once = rules.validate(url)
        except InvalidURL:
            continue
        assert rules.validate(once) == once


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(label, unicode_label), min_size=1, max_size=3), st.text(max_size=30))
def test_accepted_hosts_are_ascii_and_lower_case(labels: list[str], path: str) -> None:
    url = "https://" + ".".join(labels) + "/" + path
    try:
        result = validate_url(url)
    except InvalidURL:
        assume(False)
        return
    netloc = result[len("https://") :].split("/")[0]
    assert netloc == netloc.lower()
    assert netloc.isascii()
    check_normal_form(result, URLRules())
