"""The field rows: one per Link attribute, codecs that round-trip, schemas from the rules.

Everything that lists link settings is derived from ``suolink.fields.LINK_FIELDS``; these
tests hold the rows to ``Link``, the codecs to their inverses, the API schemas to the
constants the rules enforce, and show that a row added at run time reaches every
derived list.
"""

from __future__ import annotations

import json
import typing
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suolink import fields, options, rules
from suolink.detect.platforms import normalize_platforms
from suolink.errors import InvalidOption, InvalidURL
from suolink.fields import (
    EXTRA_FIELDS,
    LINK_FIELDS,
    PAIRS,
    TEXT,
    Input,
    LinkField,
    extra_from_json,
    extra_to_json,
    link_from_json,
    link_to_json,
)
from suolink.languages import LANGUAGES
from suolink.models import AntiBlockMode, Link
from suolink.openapi import SCHEMAS
from suolink.urls import validate_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)

platform = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
#: Any text a store must keep as given (NUL and lone surrogates are refused before storing).
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
links = st.builds(
    Link,
    code=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
    url=text,
    created_at=st.datetimes(timezones=st.just(UTC)),
    expires_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    max_visits=st.none() | st.integers(-(2**63) + 1, 2**63 - 1),
    password_hash=st.none() | text,
    anti_block=st.none() | st.frozensets(text, max_size=4),
    anti_block_mode=st.sampled_from(AntiBlockMode),
    allow=st.none() | st.frozensets(text, max_size=4),
    deny=st.frozensets(text, max_size=3),
    targets=st.lists(st.tuples(platform, text), max_size=3, unique_by=lambda t: t[0]).map(tuple),
    title=st.none() | text,
    tags=st.lists(text, max_size=3).map(tuple),
    disabled=st.booleans(),
    visits=st.integers(0, 2**63 - 1),
    language=st.none() | text,
    og_title=st.none() | text,
    og_image=st.none() | text,
    split=st.lists(
        st.tuples(text, text, st.integers(0, 2**63 - 1)), max_size=3, unique_by=lambda t: t[0]
    ).map(tuple),
    # UTM tags are a mapping by name, as targets are by platform.
    utm=st.lists(st.tuples(platform, text), max_size=3, unique_by=lambda t: t[0]).map(tuple),
)


# -- rows and Link agree -------------------------------------------------------------


def test_every_link_attribute_has_one_row_in_order() -> None:
    assert [f.name for f in LINK_FIELDS] == [f.name for f in dataclass_fields(Link)]


def test_updatable_is_every_field_the_backend_does_not_keep() -> None:
    kept = {f.name for f in dataclass_fields(Link) if f.metadata.get("kept")}
    assert kept == {"code", "created_at", "visits"}
    assert {f.name for f in LINK_FIELDS if f.kept} == kept
    assert Link.UPDATABLE == fields.UPDATABLE == fields.updatable()
    assert {f.name for f in LINK_FIELDS} - kept == fields.UPDATABLE


def test_every_updatable_field_takes_an_owner_input_and_kept_ones_none() -> None:
    for f in LINK_FIELDS:
        assert bool(f.inputs) != f.kept, f.name


def test_inputs_fill_their_fields() -> None:
    filled = {name: f.name for name, (f, _) in fields.inputs().items()}
    assert filled["password"] == "password_hash"
    assert filled["expires_at"] == filled["expires_in"] == "expires_at"
    assert {name for name, (_, i) in fields.inputs().items() if i.required} == {"url"}
    assert set(filled) - {"url"} == options.SETTING_NAMES


def test_link_settings_typed_dicts_follow_the_rows() -> None:
    """The one allowed second copy of the setting names: the keyword types of shorten."""
    assert set(typing.get_type_hints(options.LinkSettings)) == fields.setting_names("create")
    assert set(typing.get_type_hints(options.LinkChanges)) == fields.setting_names("update") | {
        "url"
    }


# -- codecs round-trip ---------------------------------------------------------------


@given(links)
def test_json_codecs_round_trip_through_json_text(link: Link) -> None:
    text_form = json.dumps(link_to_json(link), ensure_ascii=False)
    assert link_from_json(json.loads(text_form)) == link
    assert Link.from_dict(link.to_dict()) == link


@given(links)
def test_sql_codecs_round_trip_as_scalars(link: Link) -> None:
    for f in LINK_FIELDS:
        value = getattr(link, f.name)
        stored = f.codec.to_sql(value)
        assert stored is None or type(stored) in (str, int), f.name
        assert f.codec.from_sql(stored) == value, f.name
    assert extra_from_json(extra_to_json(link)) == {
        f.name: getattr(link, f.name) for f in EXTRA_FIELDS
    }


@given(links)
def test_checks_keep_a_storable_link_as_it_is(link: Link) -> None:
    for f in LINK_FIELDS:
        assert f.codec.check(f.name, getattr(link, f.name)) == getattr(link, f.name)


def test_a_record_older_than_a_field_reads_its_default() -> None:
    old = {"code": "c", "url": "https://e.com/", "created_at": NOW.isoformat()}
    link = link_from_json(old)
    assert link == Link(code="c", url="https://e.com/", created_at=NOW)


def test_targets_read_from_a_mapping_or_the_old_list_of_pairs() -> None:
    pairs = (("ios", "https://i"), ("android", "https://a"))
    assert PAIRS.from_json({"ios": "https://i", "android": "https://a"}) == pairs
    assert PAIRS.from_json([["ios", "https://i"], ["android", "https://a"]]) == pairs
    assert PAIRS.to_json(pairs) == {"ios": "https://i", "android": "https://a"}


def test_targets_naming_one_platform_twice_are_refused() -> None:
    """A mapping cannot hold both, so a store would lose one: refused before storing."""
    with pytest.raises(InvalidOption, match="twice"):
        PAIRS.check("targets", (("ios", "https://a"), ("ios", "https://b")))


def test_redis_reads_hashes_written_before_targets_were_a_mapping() -> None:
    pytest.importorskip("redis")
    from suolink.backends.redis import _field_values, _to_link

    link = Link(
        code="old",
        url="https://e.com/",
        created_at=NOW,
        targets=(("ios", "https://i"), ("android", "https://a")),
        tags=("x",),
        visits=0,
    )
    new = {k.encode(): v.encode() for k, v in _field_values(link).items()}
    assert json.loads(new[b"targets"]) == {"ios": "https://i", "android": "https://a"}
    old = dict(new, targets=b'[["ios","https://i"],["android","https://a"]]', v=b"3")
    assert _to_link(old) == Link(**{**vars_of(link), "visits": 3})
    assert _to_link(new) == link


def vars_of(link: Link) -> dict[str, Any]:
    return {f.name: getattr(link, f.name) for f in dataclass_fields(link)}


# -- the API schemas come from the rules' constants ------------------------------------


def test_openapi_settings_carry_the_rules_limits() -> None:
    new = SCHEMAS["NewLink"]["properties"]
    assert new["title"]["maxLength"] == rules.MAX_TITLE_LENGTH == options.MAX_TITLE_LENGTH
    assert new["tags"]["maxItems"] == rules.MAX_TAGS
    assert new["tags"]["items"]["pattern"] == f"^{rules.TAG_PATTERN}$"
    assert new["max_visits"]["maximum"] == rules.MAX_MAX_VISITS
    assert new["password"]["maxLength"] == rules.MAX_PASSWORD_LENGTH
    assert new["expires_in"]["maximum"] == rules.MAX_EXPIRES_IN
    for name in ("anti_block", "allow", "deny"):
        assert new[name]["maxItems"] == rules.MAX_PLATFORMS
        assert new[name]["items"]["pattern"] == f"^{rules.PLATFORM_PATTERN}$"
    assert new["targets"]["maxProperties"] == rules.MAX_PLATFORMS
    assert new["language"]["enum"] == [*LANGUAGES, None]
    assert new["anti_block_mode"]["enum"] == [*(m.value for m in AntiBlockMode), None]
    settings = set(new) - {"url", "code", "strategy"}
    assert settings == options.SETTING_NAMES
    assert set(SCHEMAS["LinkChanges"]["properties"]) == fields.setting_names("update") | {"url"}


def test_openapi_link_shows_every_public_field_and_hides_the_hash() -> None:
    link = SCHEMAS["Link"]
    public = {f.name for f in LINK_FIELDS if f.public}
    assert set(link["properties"]) == public | {"short_url", "has_password"}
    assert "password_hash" not in link["properties"]
    assert set(link["required"]) == set(link["properties"])


# -- a new row reaches every derived list ----------------------------------------------


def _note(value: object, ctx: rules.Context) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise InvalidOption(ctx.name, "expected text of at most 100 characters")
    return value


NOTE_RULE = rules.Rule(_note, {"type": ["string", "null"], "maxLength": 100})


@pytest.fixture
def with_note(monkeypatch: pytest.MonkeyPatch) -> LinkField:
    row = LinkField(
        "note",
        TEXT.optional(),
        doc="A private note.",
        inputs=(Input(NOTE_RULE), Input(NOTE_RULE, name="first_note", update=False)),
    )
    monkeypatch.setattr(fields, "LINK_FIELDS", (*LINK_FIELDS, row))
    return row


@pytest.mark.usefixtures("with_note")
def test_a_new_row_reaches_names_updatable_and_schemas() -> None:
    assert {"note", "first_note"} <= fields.setting_names()
    assert "first_note" not in fields.setting_names("update")
    assert "note" in fields.updatable()
    create = fields.settings_schema("create")
    assert create["note"] == {
        "type": ["string", "null"],
        "maxLength": 100,
        "description": "A private note.",
    }
    assert "first_note" in create
    assert "first_note" not in fields.settings_schema("update")
    assert fields.link_schema()["properties"]["note"]["type"] == ["string", "null"]


@pytest.mark.usefixtures("with_note")
def test_a_new_row_is_validated_by_its_rule() -> None:
    check: dict[str, Any] = {"now": NOW, "validate_url": validate_url}
    assert options.validate_settings({"note": "hi"}, **check) == {"note": "hi"}
    with pytest.raises(InvalidOption) as caught:
        options.validate_settings({"note": "x" * 101}, **check)
    assert caught.value.option == "note"
    with pytest.raises(InvalidOption, match="made") as caught:
        options.validate_settings({"first_note": "a"}, action="update", **check)
    assert caught.value.option == "first_note"
    with pytest.raises(InvalidOption, match="not both"):
        options.validate_settings({"note": "a", "first_note": "b"}, **check)


# -- every input refuses bad values, naming itself -----------------------------------

BAD_VALUES: dict[str, list[object]] = {
    "url": ["ftp://example.com/", 5, ""],
    "expires_at": ["tomorrow", datetime(2031, 1, 1), datetime(2029, 1, 1, tzinfo=UTC), 5],
    "expires_in": [0, -1, "60", True, 10**12],
    "max_visits": [0, True, 1.5, rules.MAX_MAX_VISITS + 1, "3"],
    "password": ["", "x" * (rules.MAX_PASSWORD_LENGTH + 1), 5, "a\x00b"],
    "anti_block": [5, ["Not Valid"], ["wechat"] * (rules.MAX_PLATFORMS + 1), ["nosuchapp"]],
    "allow": [5, {"ios": 1}, ["nosuchapp"]],
    "deny": [5, [1, 2], ["nosuchapp"]],
    "anti_block_mode": ["sideways", 1],
    "targets": [["ios"], {"nosuchapp": "https://e.com/"}, {1: "x"}, {"x y": "https://e.com/"}],
    "title": [5, "x" * (rules.MAX_TITLE_LENGTH + 1), "a\nb"],
    "tags": [5, ["a b"], [str(i) for i in range(rules.MAX_TAGS + 1)]],
    "disabled": [None, "yes", 1],
    "language": ["fr", 5],
    "og_title": [5, "x" * (rules.MAX_TITLE_LENGTH + 1), "a\nb"],
    "og_description": [5, "x" * (rules.MAX_OG_DESCRIPTION_LENGTH + 1), "a\x00b"],
    "og_image": [
        5,
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "ftp://example.com/a.png",
        "https://user:pw@example.com/a.png",
        "https://",
    ],
    "allow_countries": [5, ["China"], ["C1"], [str(i) for i in range(rules.MAX_COUNTRIES + 1)]],
    "deny_countries": [5, [1], ["cnn"]],
    "geo_targets": [["CN"], {"CHN": "https://e.com/"}, {1: "https://e.com/"}],
    "warning": [5, "x" * (rules.MAX_OG_DESCRIPTION_LENGTH + 1), "a\nb"],
    "abuse_status": [404, "451", True, 451.0],
    "abuse_message": [5, "a\x00b"],
    "recipient": ["", "a b", "13812345678", "x" * 129, 5, "m\x00"],
    "campaign": ["", "a b", "c" * 65, 5, "a/b"],
    "domain": [5, "not a host", "s1.example:8000", "ftp://s1.example"],
    "pool": [5, "", "a b", "x" * 33],
    "split": [
        "https://e.com/",
        {"https://e.com/": 1},
        [{"url": "https://e.com/", "weight": -1}],
        [{"url": "https://e.com/", "weight": 1.5}],
        [{"url": "https://e.com/", "weight": True}],
        [{"url": "https://e.com/", "weight": 0}],
        [{"url": "https://e.com/", "name": "a b"}],
        [{"url": "https://e.com/", "name": "x"}, {"url": "https://f.com/", "name": "x"}],
        [{"url": "https://e.com/", "colour": "red"}],
        [("https://e.com/", 1, 2)],
        [{"url": "https://e.com/"}] * (rules.MAX_ARMS + 1),
    ],
    "forward_query": ["yes", 1],
    "forward_click_id": ["no", 0],
    "utm": [
        "source=x",
        ["source", "x"],
        {"source": 5},
        {"place": "x"},
        {1: "x"},
        {"source": "a", "utm_source": "b"},
        {"campaign": "x" * 201},
        {"medium": "a\nb"},
    ],
}


def test_the_bad_value_table_covers_every_input() -> None:
    assert set(BAD_VALUES) == set(fields.inputs())


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in BAD_VALUES.items() for value in values],
    ids=lambda v: repr(v)[:30],
)
def test_validate_settings_refuses_a_bad_value_naming_the_input(name: str, value: object) -> None:
    """``InvalidOption`` naming the input; the URL has its own error, ``InvalidURL``."""
    with pytest.raises(InvalidOption if name != "url" else InvalidURL) as caught:
        options.validate_settings(
            {name: value},
            now=NOW,
            validate_url=validate_url,
            check_platforms=normalize_platforms,
        )
    assert getattr(caught.value, "option", "url") == name


def test_a_bad_target_url_is_refused_as_a_url() -> None:
    with pytest.raises(InvalidURL):
        options.validate_settings(
            {"targets": {"ios": "ftp://example.com/"}}, now=NOW, validate_url=validate_url
        )
