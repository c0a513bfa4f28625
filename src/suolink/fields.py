"""One declaration per link field: how it is stored, shown, checked and given.

Everything that lists the fields of a :class:`~suolink.models.Link` (backends' columns
and JSON, ``Link.to_dict``/``from_dict``, the storage checks, the settings an owner may
give and their rules, the API schemas) is derived from :data:`LINK_FIELDS`, so a new
setting is one row here plus its rule in :mod:`suolink.rules` (and its attribute on
``Link``, which static typing needs; an import-time check ties the two).

A field's ``inputs`` say what an owner may give for it (usually one input of the same
name; ``password`` fills ``password_hash``, ``expires_at`` and ``expires_in`` both fill
``expires_at``), the rule each follows, and whether ``shorten`` and ``update`` take it.

A field's ``codec`` says how its value travels: as JSON (the API, Redis hashes, the
``extra`` JSON object of SQL stores) and as a SQL scalar (a column of its own). Fields
with ``column=False`` live in the SQL stores' ``extra`` JSON object, so adding one
needs no schema migration.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Final, Literal

from . import rules
from .errors import InvalidOption
from .models import AntiBlockMode, Link
from .rules import Rule

__all__ = [
    "BOOL",
    "COLUMN_FIELDS",
    "EXTRA_FIELDS",
    "FIELD_BY_NAME",
    "INT",
    "LINK_FIELDS",
    "MODE",
    "PAIRS",
    "SPLIT",
    "STRING_SET",
    "STRING_TUPLE",
    "TEXT",
    "TIME",
    "UPDATABLE",
    "Action",
    "Codec",
    "Input",
    "LinkField",
    "check_aware",
    "check_text",
    "dumps",
    "extra_from_json",
    "extra_to_json",
    "inputs",
    "link_from_json",
    "link_schema",
    "link_to_json",
    "setting_names",
    "settings_schema",
    "updatable",
]

_INT64_MAX: Final = 2**63 - 1


#: One encoder for every call: ``json.dumps`` with options builds a new one each time.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is (what every store writes)."""
    return _ENCODER.encode(value)


# -- checks: any value -> exactly the type Link declares, or InvalidOption ---------------


def check_text(name: str, value: object) -> str:
    """Text every backend can store: valid Unicode, no NUL (PostgreSQL refuses NUL)."""
    if not isinstance(value, str):
        raise InvalidOption(name, f"must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidOption(name, "is not valid Unicode text") from exc
    if "\x00" in value:
        raise InvalidOption(name, "must not contain NUL characters")
    return value


def check_aware(name: str, value: object) -> datetime:
    """A timezone-aware datetime (suolink stores instants)."""
    if not isinstance(value, datetime):
        raise InvalidOption(name, f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidOption(name, "must be timezone-aware (suolink stores UTC instants)")
    return value


def _check_int64(name: str, value: object) -> int:
    if type(value) is not int:
        raise InvalidOption(name, f"must be an integer, not {type(value).__name__}")
    if not -_INT64_MAX <= value <= _INT64_MAX:
        raise InvalidOption(name, "is out of range")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidOption(name, f"must be true or false, not {type(value).__name__}")
    return value


def _strings(name: str, value: object) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidOption(name, "must be a collection of strings")
    return [check_text(name, item) for item in value]


def _check_mode(name: str, value: object) -> AntiBlockMode:
    if type(value) is AntiBlockMode:  # the common case, checked per stored link
        return value
    choices = ", ".join(m.value for m in AntiBlockMode)
    if not isinstance(value, str):
        raise InvalidOption(name, f"must be one of {choices}")
    try:
        return AntiBlockMode(value)
    except ValueError as exc:
        raise InvalidOption(name, f"must be one of {choices}") from exc


def _check_pairs(name: str, value: object) -> tuple[tuple[str, str], ...]:
    items: object = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InvalidOption(name, "must map platforms to URLs")
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidOption(name, "must map platforms to URLs")
        platform = check_text(name, item[0])
        if platform in out:
            # JSON shows targets as a mapping: a second URL for one platform would be lost.
            raise InvalidOption(name, f"names the platform {platform[:40]!r} twice")
        out[platform] = check_text(name, item[1])
    return tuple(out.items())


def _check_split(name: str, value: object) -> tuple[tuple[str, str, int], ...]:
    """Arms as ``(name, url, weight)`` triples, names unique (stats are kept per name)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidOption(name, "must be a list of (arm, URL, weight) triples")
    out: list[tuple[str, str, int]] = []
    for item in value:
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise InvalidOption(name, "must be a list of (arm, URL, weight) triples")
        arm, url = check_text(name, item[0]), check_text(name, item[1])
        if any(arm == seen for seen, _, _ in out):
            raise InvalidOption(name, f"names the arm {arm[:40]!r} twice")
        out.append((arm, url, _check_int64(name, item[2])))
    return tuple(out)


# -- codecs ----------------------------------------------------------------------------


def _same(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str:
    return dumps(value)


def _from_json_text(text: Any) -> Any:
    return json.loads(text)


def _pairs_from_json(value: Any) -> tuple[tuple[str, str], ...]:
    """Pairs from a JSON mapping, or from a list of pairs (what Redis hashes once held)."""
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(key), str(url)) for key, url in items)


@dataclass(frozen=True, slots=True)
class Codec:
    """How one kind of value is checked, written as JSON, and held in a SQL column."""

    name: str
    #: ``check(field_name, value)``: the value as the exact type ``Link`` declares, or
    #: ``InvalidOption``; run before anything is stored.
    check: Callable[[str, object], Any]
    to_json: Callable[[Any], Any] = _same
    from_json: Callable[[Any], Any] = _same
    #: A str/int/None a SQL column holds; collections become JSON text.
    to_sql: Callable[[Any], Any] = _same
    from_sql: Callable[[Any], Any] = _same
    #: JSON schema of the value as the API shows it.
    schema: Mapping[str, Any] | None = None

    def optional(self) -> Codec:
        """The same codec, with None allowed (and kept as None everywhere)."""

        def wrap(func: Callable[[Any], Any]) -> Callable[[Any], Any]:
            return lambda value: None if value is None else func(value)

        def check(name: str, value: object) -> Any:
            return None if value is None else self.check(name, value)

        schema = None
        if self.schema is not None:
            kind = self.schema.get("type")
            schema = {**self.schema, "type": [kind, "null"]} if isinstance(kind, str) else None
        return Codec(
            name=f"{self.name}?",
            check=check,
            to_json=wrap(self.to_json),
            from_json=wrap(self.from_json),
            to_sql=wrap(self.to_sql),
            from_sql=wrap(self.from_sql),
            schema=schema,
        )


TEXT: Final = Codec("text", check_text, schema={"type": "string"})
INT: Final = Codec("int", _check_int64, schema={"type": "integer"})
BOOL: Final = Codec(
    "bool", _check_bool, to_sql=int, from_sql=bool, from_json=bool, schema={"type": "boolean"}
)
TIME: Final = Codec(
    "time",
    check_aware,
    to_json=datetime.isoformat,
    from_json=datetime.fromisoformat,
    to_sql=datetime.isoformat,
    from_sql=datetime.fromisoformat,
    schema={"type": "string", "format": "date-time"},
)
MODE: Final = Codec(
    "mode",
    _check_mode,
    to_json=lambda mode: mode.value,
    from_json=AntiBlockMode,
    to_sql=lambda mode: mode.value,
    from_sql=AntiBlockMode,
    schema={"type": "string", "enum": [m.value for m in AntiBlockMode]},
)
STRING_SET: Final = Codec(
    "string-set",
    lambda name, value: frozenset(_strings(name, value)),
    to_json=sorted,
    from_json=frozenset,
    to_sql=lambda values: dumps(sorted(values)),
    from_sql=lambda text: frozenset(json.loads(text)),
    schema={"type": "array", "items": {"type": "string"}},
)
STRING_TUPLE: Final = Codec(
    "string-tuple",
    lambda name, value: tuple(_strings(name, value)),
    to_json=list,
    from_json=tuple,
    to_sql=lambda values: dumps(list(values)),
    from_sql=lambda text: tuple(json.loads(text)),
    schema={"type": "array", "items": {"type": "string"}},
)
PAIRS: Final = Codec(
    "pairs",
    _check_pairs,
    # JSON shows a mapping (platform names are unique); SQL columns keep ordered pairs.
    to_json=dict,
    from_json=_pairs_from_json,
    to_sql=lambda pairs: dumps([list(pair) for pair in pairs]),
    from_sql=lambda text: tuple((k, v) for k, v in json.loads(text)),
    schema={"type": "object", "additionalProperties": {"type": "string"}},
)


def _split_to_json(arms: tuple[tuple[str, str, int], ...]) -> list[dict[str, Any]]:
    return [{"name": arm, "url": url, "weight": weight} for arm, url, weight in arms]


def _split_from_json(value: Any) -> tuple[tuple[str, str, int], ...]:
    return tuple((str(d["name"]), str(d["url"]), int(d["weight"])) for d in value)


SPLIT: Final = Codec(
    "split",
    _check_split,
    to_json=_split_to_json,
    from_json=_split_from_json,
    to_sql=lambda arms: dumps(_split_to_json(arms)),
    from_sql=lambda text: _split_from_json(json.loads(text)),
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "url", "weight"],
            "properties": {
                "name": {"type": "string"},
                "url": {"type": "string"},
                "weight": {"type": "integer"},
            },
        },
    },
)


#: UTM tags: ordered ``(name, value)`` pairs, shown as an object like ``targets``.
UTM_TAGS: Final = replace(
    PAIRS,
    name="utm",
    schema={"type": "object", "additionalProperties": {"type": "string"}},
)


# -- the fields ------------------------------------------------------------------------


#: Which call an owner's input is given to.
Action = Literal["create", "update"]


@dataclass(frozen=True, slots=True)
class Input:
    """Something a link owner may give for a field, and the rule it must pass."""

    rule: Rule
    #: The name the owner uses; empty means the field's own name.
    name: str = ""
    #: ``shorten`` (and ``POST /api/links``) takes it.
    create: bool = True
    #: ``update`` (and ``PATCH /api/links/<code>``) takes it.
    update: bool = True
    #: ``shorten`` needs it (the URL): not one of the optional settings.
    required: bool = False
    #: What it means, for the API schema (the field's ``doc`` if empty).
    doc: str = ""


@dataclass(frozen=True, slots=True)
class LinkField:
    """One field of a stored link."""

    name: str
    codec: Codec
    #: The value when a stored record lacks the field (records older than the field).
    default: Any = None
    #: A column of its own in SQL stores (queried, indexed or counted atomically);
    #: otherwise kept in their ``extra`` JSON object, so adding it needs no migration.
    column: bool = False
    #: The backend's to keep (identity and counters): never in an update.
    kept: bool = False
    #: Shown in API answers (``password_hash`` is not: answers say ``has_password``).
    public: bool = True
    #: What the field means, for the API schema and the docs.
    doc: str = ""
    #: What an owner may give for it (none: only the backend sets it).
    inputs: tuple[Input, ...] = ()

    def __post_init__(self) -> None:
        named = tuple(i if i.name else replace(i, name=self.name) for i in self.inputs)
        object.__setattr__(self, "inputs", named)


#: Every field of ``Link``, in its declaration order.
LINK_FIELDS: Final[tuple[LinkField, ...]] = (
    LinkField("code", TEXT, column=True, kept=True, doc="The short code."),
    LinkField(
        "url", TEXT, column=True, doc="The target URL.", inputs=(Input(rules.URL, required=True),)
    ),
    LinkField("created_at", TIME, column=True, kept=True, doc="When the link was made."),
    LinkField(
        "expires_at",
        TIME.optional(),
        column=True,
        doc="When the link stops working.",
        inputs=(Input(rules.EXPIRES_AT), Input(rules.EXPIRES_IN, name="expires_in")),
    ),
    LinkField(
        "max_visits",
        INT.optional(),
        column=True,
        doc="Redirects allowed in all.",
        inputs=(Input(rules.MAX_VISITS),),
    ),
    LinkField(
        "password_hash",
        TEXT.optional(),
        column=True,
        public=False,
        inputs=(Input(rules.PASSWORD, name="password"),),
    ),
    LinkField(
        "anti_block",
        STRING_SET.optional(),
        column=True,
        doc="Platforms shown the open-in-browser guide (null: the default preset).",
        inputs=(Input(rules.OPTIONAL_PLATFORMS),),
    ),
    LinkField(
        "anti_block_mode",
        MODE,
        default=AntiBlockMode.AUTO,
        column=True,
        doc="What the guide does: guide, auto (try an escape first) or off.",
        inputs=(Input(rules.ANTI_BLOCK_MODE),),
    ),
    LinkField(
        "allow",
        STRING_SET.optional(),
        column=True,
        doc="Platforms allowed (null: every one).",
        inputs=(Input(rules.OPTIONAL_PLATFORMS),),
    ),
    LinkField(
        "deny",
        STRING_SET,
        default=frozenset(),
        column=True,
        doc="Platforms refused.",
        inputs=(Input(rules.PLATFORMS),),
    ),
    LinkField(
        "targets",
        PAIRS,
        default=(),
        column=True,
        doc="Platform -> URL for its visitors.",
        inputs=(Input(rules.TARGETS),),
    ),
    LinkField(
        "title",
        TEXT.optional(),
        column=True,
        doc="Shown on the link's pages.",
        inputs=(Input(rules.TITLE),),
    ),
    LinkField(
        "tags",
        STRING_TUPLE,
        default=(),
        column=True,
        doc="Labels to list links by.",
        inputs=(Input(rules.TAGS),),
    ),
    LinkField(
        "disabled",
        BOOL,
        default=False,
        column=True,
        doc="Answer 404 as if the link did not exist.",
        inputs=(Input(rules.FLAG),),
    ),
    LinkField("visits", INT, default=0, column=True, kept=True, doc="Redirects counted."),
    LinkField(
        "language",
        TEXT.optional(),
        column=True,
        doc="Language of the link's pages (null: the visitor's).",
        inputs=(Input(rules.LANGUAGE),),
    ),
    # -- integrations: preview cards (Open Graph for link-preview fetchers) ------------
    LinkField(
        "og_title",
        TEXT.optional(),
        doc="Title of the preview card chat apps draw (null: the link's title).",
        inputs=(Input(rules.OG_TITLE),),
    ),
    LinkField(
        "og_description",
        TEXT.optional(),
        doc="Text of the preview card (null: the target's host on open links).",
        inputs=(Input(rules.OG_DESCRIPTION),),
    ),
    LinkField(
        "og_image",
        TEXT.optional(),
        doc="Picture of the preview card, an http(s) URL.",
        inputs=(Input(rules.OG_IMAGE),),
    ),
    # -- integrations: weighted targets ----------------------------------------------
    LinkField(
        "split",
        SPLIT,
        default=(),
        doc="Weighted arms (A/B split): each visitor is sent to one, always the same.",
        inputs=(Input(rules.SPLIT),),
    ),
    # -- integrations: GeoIP rules -------------------------------------------------------
    LinkField(
        "allow_countries",
        STRING_SET.optional(),
        doc="Countries allowed, ISO 3166-1 alpha-2 (null: every one; needs a GeoIP database).",
        inputs=(Input(rules.OPTIONAL_COUNTRIES),),
    ),
    LinkField(
        "deny_countries",
        STRING_SET,
        default=frozenset(),
        doc="Countries refused, ISO 3166-1 alpha-2.",
        inputs=(Input(rules.COUNTRIES),),
    ),
    LinkField(
        "geo_targets",
        PAIRS,
        default=(),
        doc="Country -> URL for its visitors (after per-platform targets).",
        inputs=(Input(rules.GEO_TARGETS),),
    ),
    # -- integrations: abuse ---------------------------------------------------------------
    LinkField(
        "warning",
        TEXT.optional(),
        doc="Shown on an interstitial before the redirect ('this link leads to …, continue?').",
        inputs=(Input(rules.MESSAGE),),
    ),
    LinkField(
        "abuse_status",
        INT.optional(),
        doc="Disabled for abuse: 451 or 410 with abuse_message (null: not disabled).",
        inputs=(Input(rules.ABUSE_STATUS),),
    ),
    LinkField(
        "abuse_message",
        TEXT.optional(),
        doc="The operator's words on the page of a link disabled for abuse.",
        inputs=(Input(rules.MESSAGE),),
    ),
    # -- people: who a link was made for, and the campaign it belongs to --------------------
    LinkField(
        "recipient",
        TEXT.optional(),
        doc="The host's opaque id of the person the link was made for (never a raw phone "
        "number or a name); fixed when the link is made.",
        inputs=(Input(rules.RECIPIENT, update=False),),
    ),
    LinkField(
        "campaign",
        TEXT.optional(),
        doc="The campaign the link belongs to (people stats are kept per campaign); fixed "
        "when the link is made.",
        inputs=(Input(rules.CAMPAIGN, update=False),),
    ),
    # -- domains ------------------------------------------------------------------------------
    LinkField(
        "domain",
        TEXT.optional(),
        doc="The short domain the link lives on (null: any; see docs/domains.md).",
        inputs=(Input(rules.DOMAIN),),
    ),
    LinkField(
        "pool",
        TEXT.optional(),
        doc="The pool of short domains the link resolves on and rotates through.",
        inputs=(Input(rules.POOL),),
    ),
    # -- conversions: query forwarding, click ids, UTM tags --------------------------------
    LinkField(
        "forward_query",
        BOOL.optional(),
        doc="Add the short URL's query to the target; the target's own parameters win "
        "(null: the Shortener's default).",
        inputs=(Input(rules.OPTIONAL_FLAG),),
    ),
    LinkField(
        "forward_click_id",
        BOOL.optional(),
        doc="Add a signed click id (sl_click) to the target of counted redirects, for "
        "record_conversion (null: the Shortener's default).",
        inputs=(Input(rules.OPTIONAL_FLAG),),
    ),
    LinkField(
        "utm",
        UTM_TAGS,
        default=(),
        doc="UTM tags set on the target of every redirect (over the target's own).",
        inputs=(Input(rules.UTM),),
    ),
)


def inputs() -> dict[str, tuple[LinkField, Input]]:
    """Every input an owner may give, by name, with the field it fills.

    Read from :data:`LINK_FIELDS` when called, so a row added at run time (a test's
    monkeypatch) takes part at once.
    """
    return {i.name: (f, i) for f in LINK_FIELDS for i in f.inputs}


def setting_names(action: Action | None = None) -> frozenset[str]:
    """The optional settings ``shorten``/``update`` take (every input but the URL).

    With ``action``, only those that call takes.
    """
    return frozenset(
        name
        for name, (_, i) in inputs().items()
        if not i.required and (action is None or getattr(i, action))
    )


def updatable() -> frozenset[str]:
    """Fields an update may change: every one the backend does not keep."""
    return frozenset(f.name for f in LINK_FIELDS if not f.kept)


def settings_schema(action: Action = "create") -> dict[str, Any]:
    """JSON schema of each optional setting ``action`` takes, by name (API bodies)."""
    out: dict[str, Any] = {}
    for name, (f, i) in inputs().items():
        if i.required or not getattr(i, action):
            continue
        # The field's words fit an input of its own name better than the rule's
        # general ones; an input of another name (``expires_in``) keeps its rule's.
        doc = i.doc or (f.doc if name == f.name else "")
        schema = copy.deepcopy(dict(i.rule.schema))  # a document may be changed by its reader
        out[name] = {**schema, "description": doc} if doc else schema
    return out


def link_schema() -> dict[str, Any]:
    """JSON schema of a link as API answers show it (every public field, always present)."""
    properties: dict[str, Any] = {}
    for f in LINK_FIELDS:
        if not f.public or f.codec.schema is None:
            continue
        schema = copy.deepcopy(dict(f.codec.schema))
        if f.doc:
            schema["description"] = f.doc
        properties[f.name] = schema
    return {"type": "object", "required": list(properties), "properties": properties}


FIELD_BY_NAME: Final = {f.name: f for f in LINK_FIELDS}
#: Fields an update may change.
UPDATABLE: Final = updatable()
#: Fields with a SQL column of their own, and fields kept in the ``extra`` JSON object.
COLUMN_FIELDS: Final = tuple(f for f in LINK_FIELDS if f.column)
EXTRA_FIELDS: Final = tuple(f for f in LINK_FIELDS if not f.column)

if tuple(FIELD_BY_NAME) != tuple(f.name for f in fields(Link)):  # pragma: no cover
    raise RuntimeError("suolink.fields.LINK_FIELDS and the attributes of Link differ")
if UPDATABLE != Link.UPDATABLE:  # pragma: no cover
    raise RuntimeError("suolink.fields.UPDATABLE and Link.UPDATABLE differ")
if any(f.kept and f.inputs for f in LINK_FIELDS):  # pragma: no cover
    raise RuntimeError("a field the backend keeps cannot take an owner's input")
if len(inputs()) != sum(len(f.inputs) for f in LINK_FIELDS):  # pragma: no cover
    raise RuntimeError("two fields take an owner's input of the same name")


def link_to_json(link: Link) -> dict[str, Any]:
    """Every field of ``link`` as JSON-ready values, by name."""
    return {f.name: f.codec.to_json(getattr(link, f.name)) for f in LINK_FIELDS}


def link_from_json(data: Mapping[str, Any]) -> Link:
    """The inverse of :func:`link_to_json`; a missing field takes its default."""
    values: dict[str, Any] = {}
    for f in LINK_FIELDS:
        raw = data.get(f.name)
        if raw is not None:
            values[f.name] = f.codec.from_json(raw)
        elif f.name in data or f.default is not None:
            values[f.name] = f.default
    return Link(**values)


def extra_to_json(link: Link) -> str:
    """The ``extra`` JSON object of a SQL row: every field without a column of its own."""
    return dumps({f.name: _extra_value(f, getattr(link, f.name)) for f in EXTRA_FIELDS})


def _extra_value(f: LinkField, value: Any) -> Any:
    """A field's JSON in ``extra``: pairs as a list, not an object, since a ``jsonb``
    column (Django on PostgreSQL) keeps no key order; ``from_json`` reads both."""
    if f.codec is PAIRS:
        return [list(pair) for pair in value]
    return f.codec.to_json(value)


def extra_from_json(text: str | None) -> dict[str, Any]:
    """``Link`` keyword values from an ``extra`` JSON object (defaults for absent keys)."""
    data = json.loads(text) if text else {}
    out: dict[str, Any] = {}
    for f in EXTRA_FIELDS:
        raw = data.get(f.name)
        out[f.name] = f.default if raw is None else f.codec.from_json(raw)
    return out
