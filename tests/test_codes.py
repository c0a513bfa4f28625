"""Codes: hashids round trips and canonical decoding, random codes, aliases, blocklist."""

from __future__ import annotations

import itertools
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink.codes import (
    CODE_CHARSET,
    DEFAULT_ALPHABET,
    DEFAULT_BLOCKLIST,
    DEFAULT_RESERVED,
    MAX_NUMBER,
    CodeFactory,
    CodeStrategy,
    HashidsCodec,
    derive_salt,
)
from suolink.errors import (
    ConfigurationError,
    InvalidCode,
    InvalidOption,
    SuolinkError,
)

CODEC = HashidsCodec(derive_salt("test secret"))
FACTORY = CodeFactory(secret="test secret")


def counter(start: int = 1):
    """A stand-in for Storage.next_id: a plain increasing counter."""
    return itertools.count(start).__next__


# -- defaults -----------------------------------------------------------------------


def test_default_alphabet_has_no_look_alikes() -> None:
    assert not set("0Oo1lI") & set(DEFAULT_ALPHABET)
    assert len(set(DEFAULT_ALPHABET)) == len(DEFAULT_ALPHABET) == 56
    assert set(DEFAULT_ALPHABET) <= CODE_CHARSET


def test_default_reserved_words_are_lower_case_code_words() -> None:
    for word in DEFAULT_RESERVED:
        assert word == word.lower()
        assert set(word) <= CODE_CHARSET
    assert {"api", "static", "admin", "login", "qr", "stats", "docs", "s", "u"} <= DEFAULT_RESERVED


def test_default_blocklist_covers_english_and_pinyin() -> None:
    assert {"fuck", "shit", "sb", "cnm", "nmsl", "tmd"} <= DEFAULT_BLOCKLIST
    assert all(w == w.lower() for w in DEFAULT_BLOCKLIST)


# -- salt ---------------------------------------------------------------------------


def test_salt_is_stable_and_depends_on_the_secret() -> None:
    # Pinned: changing the derivation would silently change every future code.
    assert derive_salt("s3cret") == derive_salt("s3cret") == derive_salt(b"s3cret")
    assert derive_salt("s3cret") != derive_salt("s3cret ")
    assert derive_salt(None) != derive_salt("s3cret")
    assert "s3cret" not in derive_salt("s3cret")
    assert re.fullmatch(r"[0-9a-f]{64}", derive_salt("s3cret"))
    assert derive_salt(None) == derive_salt(None)


def test_salt_and_codes_are_pinned() -> None:
    # Links already handed out depend on these: a change here breaks every stored code.
    assert derive_salt("suolink") == (
        "de2083faa0ea3ce9e3581d892c23f2728e267d60658cc24469e35a599ad9ac01"
    )
    codec = CodeFactory(secret="suolink").codec
    assert [codec.encode(n) for n in (1, 2, 1000)] == ["b6x46", "rQANn", "6qBBD"]
    assert CodeFactory().codec.encode(1) == "rY7a2"


@pytest.mark.parametrize("secret", ["", b"", 123, ["x"]])
def test_bad_secret_is_a_configuration_error(secret: object) -> None:
    with pytest.raises(ConfigurationError):
        derive_salt(secret)  # type: ignore[arg-type]


def test_different_secrets_give_different_codes() -> None:
    a = CodeFactory(secret="one").codec
    b = CodeFactory(secret="two").codec
    assert [a.encode(n) for n in range(1, 20)] != [b.encode(n) for n in range(1, 20)]


def test_no_secret_uses_a_fixed_public_salt() -> None:
    assert CodeFactory().codec.encode(42) == CodeFactory(secret=None).codec.encode(42)


# -- hashids codec --------------------------------------------------------------------


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=2**63))
def test_decode_inverts_encode(n: int) -> None:
    code = CODEC.encode(n)
    assert CODEC.decode(code) == n
    assert len(code) >= 5
    assert set(code) <= set(DEFAULT_ALPHABET)
    assert len(code) <= CODEC.max_length


@pytest.mark.parametrize("n", [0, 1, 2**64, MAX_NUMBER])
def test_decode_inverts_encode_at_the_edges(n: int) -> None:
    assert CODEC.decode(CODEC.encode(n)) == n
    assert len(CODEC.encode(n)) <= CODEC.max_length


@settings(max_examples=300)
@given(st.text())
def test_decode_of_any_text_is_none_or_canonical(text: str) -> None:
    n = CODEC.decode(text)
    assert n is None or CODEC.encode(n) == text


@settings(max_examples=300)
@given(st.text(alphabet=DEFAULT_ALPHABET, min_size=1, max_size=12))
def test_decode_of_alphabet_text_is_none_or_canonical(text: str) -> None:
    n = CODEC.decode(text)
    assert n is None or CODEC.encode(n) == text


def test_non_canonical_codes_do_not_decode() -> None:
    code = CODEC.encode(12345)
    assert CODEC.decode(code) == 12345
    # Other casing, extra characters and padding variants are different codes.
    assert CODEC.decode(code.swapcase()) is None
    assert CODEC.decode(code + code[0]) is None
    assert CODEC.decode(code[1:]) is None
    assert CODEC.decode(" " + code) is None
    # Two numbers encoded together are a valid hashid but not a code we hand out.
    multi = CODEC._hashids.encode(1, 2)
    assert CODEC._hashids.decode(multi) == (1, 2)
    assert CODEC.decode(multi) is None


@pytest.mark.parametrize("value", [None, b"abcde", 12345, "", "x" * 10_000, "\x00", "é" * 6])
def test_decode_never_raises(value: object) -> None:
    assert CODEC.decode(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, MAX_NUMBER + 1, 1.0, "1", True, None])
def test_encode_refuses_what_is_not_a_counter_value(value: object) -> None:
    with pytest.raises(InvalidCode):
        CODEC.encode(value)  # type: ignore[arg-type]


def test_min_length_is_respected() -> None:
    for min_length in (0, 1, 8, 20):
        codec = HashidsCodec("salt", min_length=min_length)
        for n in (0, 1, 99, 10**9):
            code = codec.encode(n)
            assert len(code) >= max(min_length, 1)
            assert codec.decode(code) == n


def test_smallest_alphabet_still_round_trips() -> None:
    # 14 of the 16 characters are hashids separators: the number alphabet is binary.
    codec = HashidsCodec("salt", min_length=0, alphabet="cfhistuCFHISTUab")
    for n in [*range(50), 2**40]:
        assert codec.decode(codec.encode(n)) == n


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alphabet": "abc"}, "at least 16"),
        ({"alphabet": "abcdefghijklmnopp"}, "repeated"),
        ({"alphabet": "abcdefghijklmnop!"}, "may only use"),
        ({"alphabet": "abcdefghijklmnop "}, "may only use"),
        ({"alphabet": 12}, "must be a str"),
        ({"min_length": -1}, "between"),
        ({"min_length": 65}, "between"),
        ({"min_length": "5"}, "must be an int"),
        ({"min_length": True}, "must be an int"),
    ],
)
def test_codec_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HashidsCodec("salt", **kwargs)  # type: ignore[arg-type]


def test_codec_refuses_non_str_salt() -> None:
    with pytest.raises(ConfigurationError):
        HashidsCodec(b"salt")  # type: ignore[arg-type]


# -- generation ---------------------------------------------------------------------


def test_hashids_codes_follow_the_counter() -> None:
    next_id = counter()
    codes = [FACTORY.hashids_code(next_id) for _ in range(200)]
    assert len(set(codes)) == 200
    decoded = [FACTORY.codec.decode(c) for c in codes]
    assert decoded == sorted(decoded)
    assert all(d is not None for d in decoded)


def test_hashids_skips_blocklisted_codes() -> None:
    # Block a word that the first counter value produces: the factory must move on.
    first = FACTORY.codec.encode(1)
    factory = CodeFactory(secret="test secret", blocklist={first[1:4].upper()})
    calls: list[int] = []

    def next_id() -> int:
        calls.append(len(calls) + 1)
        return calls[-1]

    code = factory.hashids_code(next_id)
    assert code != first
    assert first[1:4].lower() not in code.lower()
    assert len(calls) >= 2
    assert code == factory.codec.encode(calls[-1])


def test_hashids_skips_reserved_codes() -> None:
    factory = CodeFactory(secret="x", min_length=0)
    first = factory.codec.encode(7)
    factory = CodeFactory(secret="x", min_length=0, reserved={first.upper()})
    ids = iter([7, 8])
    assert factory.hashids_code(lambda: next(ids)) == factory.codec.encode(8)


def test_generation_gives_up_when_the_blocklist_blocks_everything() -> None:
    factory = CodeFactory(blocklist=set(DEFAULT_ALPHABET))
    with pytest.raises(ConfigurationError, match="blocklist"):
        factory.random_code()
    with pytest.raises(ConfigurationError, match="blocklist"):
        factory.hashids_code(counter())


def test_random_codes_use_the_alphabet_and_length() -> None:
    factory = CodeFactory(random_length=9, alphabet=string.ascii_lowercase)
    for _ in range(200):
        code = factory.random_code()
        assert len(code) == 9
        assert set(code) <= set(string.ascii_lowercase)


def test_random_codes_are_unique_over_many_draws() -> None:
    # 56**7 ≈ 1.7e12 codes: 10,000 draws collide with probability about 3e-5.
    codes = [FACTORY.random_code() for _ in range(10_000)]
    assert len(set(codes)) == len(codes)


def test_random_codes_are_not_predictable_from_each_other() -> None:
    # Every position takes many values: not a counter, not a constant.
    codes = [FACTORY.random_code() for _ in range(500)]
    for position in range(7):
        assert len({c[position] for c in codes}) > 30


def test_generated_codes_never_contain_blocklisted_words() -> None:
    # A small alphabet made of blocklist letters makes hits frequent, so skipping is exercised.
    factory = CodeFactory(
        alphabet="sbcnmtdfukhigaSBCNMT", random_length=6, min_length=4, secret="k"
    )
    words = sorted(factory.blocklist)
    next_id = counter()
    for _ in range(1500):
        for code in (factory.random_code(), factory.hashids_code(next_id)):
            low = code.lower()
            assert not any(w in low for w in words), code
            assert low not in factory.reserved


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=2**63))
def test_hashids_codes_from_any_counter_value_are_clean(start: int) -> None:
    code = FACTORY.hashids_code(counter(start))
    low = code.lower()
    assert not any(w in low for w in DEFAULT_BLOCKLIST)
    assert low not in DEFAULT_RESERVED
    FACTORY.check_code(code)


def test_generate_dispatches_on_strategy() -> None:
    hashids_factory = CodeFactory(secret="k")
    random_factory = CodeFactory(secret="k", strategy="random", random_length=11)
    assert hashids_factory.strategy is CodeStrategy.HASHIDS
    assert random_factory.strategy is CodeStrategy.RANDOM

    assert hashids_factory.generate(lambda: 5) == hashids_factory.codec.encode(5)
    assert len(random_factory.generate(counter())) == 11
    # Per-call override in both directions.
    assert len(hashids_factory.generate(counter(), "random")) == 7
    assert random_factory.generate(lambda: 5, CodeStrategy.HASHIDS) == hashids_factory.codec.encode(
        5
    )


def test_random_strategy_does_not_touch_the_counter() -> None:
    def next_id() -> int:
        raise AssertionError("random codes must not use the counter")

    CodeFactory(strategy="random").generate(next_id)


@pytest.mark.parametrize("strategy", ["sequential", "", "HASHIDS ", 3, object()])
def test_generate_refuses_unknown_strategies(strategy: object) -> None:
    with pytest.raises(InvalidOption) as info:
        FACTORY.generate(counter(), strategy)  # type: ignore[arg-type]
    assert info.value.option == "strategy"


# -- aliases --------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["a", "go", "my-link", "Summer_Sale-2025", "x" * 64, "API2"])
def test_valid_aliases_come_back_unchanged(alias: str) -> None:
    assert FACTORY.validate_alias(alias) == alias


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        (None, "must be text"),
        (123, "must be text"),
        (b"abc", "must be text"),
        ("", "is empty"),
        ("x" * 65, "longer than 64"),
        ("has space", "found ' '"),
        ("slash/y", "found '/'"),
        ("dot.png", "found '.'"),
        ("中文", "found '中'"),
        ("ｆｕｌｌ", "found 'ｆ'"),
        ("new\nline", "found '\\n'"),
        ("-lead", "start or end"),
        ("trail_", "start or end"),
        ("_", "start or end"),
        ("api", "reserved"),
        ("API", "reserved"),
        ("Static", "reserved"),
        ("s", "reserved"),
    ],
)
def test_invalid_aliases_say_why(alias: object, reason: str) -> None:
    with pytest.raises(InvalidCode) as info:
        FACTORY.validate_alias(alias)
    assert reason in info.value.reason
    assert info.value.http_status == 400


def test_alias_length_bounds_are_configurable() -> None:
    factory = CodeFactory(alias_min_length=4, alias_max_length=8)
    assert factory.validate_alias("abcd") == "abcd"
    with pytest.raises(InvalidCode, match="at least 4"):
        factory.validate_alias("abc")
    with pytest.raises(InvalidCode, match="longer than 8"):
        factory.validate_alias("abcdefghi")


def test_reserved_words_are_configurable() -> None:
    factory = CodeFactory(reserved={"Promo"})
    assert factory.validate_alias("api") == "api"
    with pytest.raises(InvalidCode, match="reserved"):
        factory.validate_alias("PROMO")


def test_aliases_are_not_blocklist_filtered() -> None:
    # The blocklist cleans *generated* codes; a person's own alias is their choice.
    assert FACTORY.validate_alias("sbc") == "sbc"


# -- incoming codes --------------------------------------------------------------------


def test_check_code_accepts_every_generated_code() -> None:
    next_id = counter(2**60)
    for _ in range(50):
        for code in (FACTORY.random_code(), FACTORY.hashids_code(next_id)):
            assert FACTORY.check_code(code) == code
    big = FACTORY.codec.encode(MAX_NUMBER)
    assert FACTORY.check_code(big) == big


def test_check_code_allows_reserved_and_edge_dashes() -> None:
    # It is a syntax check only: routing and lookup decide the rest.
    assert FACTORY.check_code("api") == "api"
    assert FACTORY.check_code("-x_") == "-x_"


@pytest.mark.parametrize(
    "code", [None, 5, "", "a.b", "a b", "<script>", "%41", "x" * 65, "é", "a\x00"]
)
def test_check_code_refuses_malformed(code: object) -> None:
    with pytest.raises(InvalidCode):
        FACTORY.check_code(code)


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "nope"}, "unknown code strategy"),
        ({"random_length": 3}, "random_length"),
        ({"random_length": 65}, "random_length"),
        ({"alias_max_length": 0}, "alias_max_length"),
        ({"alias_min_length": 0}, "alias_min_length"),
        ({"alias_min_length": 10, "alias_max_length": 5}, "alias_min_length"),
        ({"reserved": "api"}, "not one string"),
        ({"reserved": [""]}, "non-empty str"),
        ({"blocklist": [None]}, "non-empty str"),
        ({"blocklist": 5}, "collection"),
        ({"alphabet": "aaaaaaaaaaaaaaaaaaaa"}, "repeated"),
        ({"min_length": 100}, "min_length"),
        ({"secret": ""}, "secret"),
    ],
)
def test_factory_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CodeFactory(**kwargs)  # type: ignore[arg-type]


def test_empty_blocklist_allows_everything() -> None:
    factory = CodeFactory(blocklist=())
    assert factory.is_clean("sbfuck")
    assert not factory.is_clean("API")


def test_repr_does_not_leak_the_secret() -> None:
    assert "hunter2" not in repr(CodeFactory(secret="hunter2"))
    assert derive_salt("hunter2") not in repr(CodeFactory(secret="hunter2"))


# -- untrusted input raises only SuolinkError -----------------------------------------------

anything = st.one_of(
    st.text(),
    st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=80),
    st.binary(),
    st.integers(),
    st.none(),
    st.floats(),
    st.lists(st.text(), max_size=3),
)


@settings(max_examples=400)
@given(anything)
def test_alias_and_code_checks_raise_only_suolink_errors(value: object) -> None:
    for check in (FACTORY.validate_alias, FACTORY.check_code):
        error: SuolinkError | None = None
        try:
            result = check(value)
        except SuolinkError as exc:
            error = exc
        if error is not None:
            assert isinstance(error, InvalidCode)
            assert error.reason
        else:
            assert result == value
            assert isinstance(result, str)
            assert set(result) <= CODE_CHARSET


@settings(max_examples=200)
@given(anything)
def test_generate_with_any_strategy_raises_only_suolink_errors(value: object) -> None:
    error: SuolinkError | None = None
    try:
        code = FACTORY.generate(counter(), value)  # type: ignore[arg-type]
    except SuolinkError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, InvalidOption)
    else:
        assert value in (None, "hashids", "random")
        FACTORY.check_code(code)
