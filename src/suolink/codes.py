"""Short codes: hashids over a counter, random codes, custom aliases, and their checks.

Three ways to get a code, chosen per ``CodeFactory`` and overridable per call:

* ``hashids``: the backend's atomic counter encoded with the `hashids` algorithm (the
  ``hashids`` package from PyPI does the arithmetic) under a salt derived from the
  secret. Only *canonical* codes decode (``encode(decode(c)) == c``), so one link is
  never reachable through two codes.
* ``random``: ``secrets``-based codes; collisions are settled by the backend's atomic
  insert-if-absent and a retry in the ``Shortener``, never here.
* a custom alias chosen by a person, checked by ``CodeFactory.validate_alias``.

Generated codes never contain a blocklisted word and are never a reserved word.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Final

from hashids import Hashids

from .errors import ConfigurationError, InvalidCode, InvalidOption

__all__ = [
    "CODE_CHARSET",
    "DEFAULT_ALPHABET",
    "DEFAULT_BLOCKLIST",
    "DEFAULT_RESERVED",
    "MAX_NUMBER",
    "CodeFactory",
    "CodeStrategy",
    "HashidsCodec",
    "derive_salt",
]

DEFAULT_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Letters and digits without the look-alikes ``0 O o 1 l I`` (56 characters)."""

CODE_CHARSET: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
"""Every character a code or alias may contain; safe in a URL path without escaping."""

MAX_NUMBER: Final = 2**128 - 1
"""The largest number ``HashidsCodec.encode`` accepts; far beyond any counter."""

DEFAULT_RESERVED: Final = frozenset(
    {
        "about",
        "account",
        "accounts",
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "dashboard",
        "decode",
        "docs",
        "favicon",
        "health",
        "healthz",
        "help",
        "index",
        "link",
        "links",
        "login",
        "logout",
        "media",
        "metrics",
        "new",
        "oauth",
        "openapi",
        "password",
        "privacy",
        "qr",
        "readyz",
        "register",
        "robots",
        "s",
        "settings",
        "shorten",
        "signin",
        "signup",
        "sitemap",
        "static",
        "stats",
        "status",
        "swagger",
        "terms",
        "u",
        "user",
        "users",
        "www",
    }
)
"""Path words the HTTP surface uses or may use; refused as aliases, skipped when generated."""

DEFAULT_BLOCKLIST: Final = frozenset(
    {
        # English
        "anal",
        "anus",
        "arse",
        "bitch",
        "boob",
        "cock",
        "cum",
        "cunt",
        "dick",
        "dildo",
        "fag",
        "fck",
        "fuck",
        "fuk",
        "hitler",
        "jizz",
        "kkk",
        "nazi",
        "nigga",
        "nigger",
        "penis",
        "piss",
        "porn",
        "pussy",
        "rape",
        "sex",
        "shit",
        "slut",
        "tits",
        "twat",
        "wank",
        "whore",
        "wtf",
        # pinyin and number slang
        "2b",
        "250",
        "caoni",
        "cnm",
        "cnmb",
        "diao",
        "gun",
        "jiba",
        "jb",
        "mlgb",
        "nima",
        "nmb",
        "nmsl",
        "qnmd",
        "rnm",
        "sb",
        "shabi",
        "sima",
        "tmd",
        "wcnm",
        "xjb",
    }
)
"""Words (English and common pinyin abuse) that generated codes never contain."""

_SALT_CONTEXT: Final = b"suolink/codes/hashids-salt/v1"
_MAX_MIN_LENGTH: Final = 64
_MAX_ATTEMPTS: Final = 1000
_MIN_ALPHABET: Final = 16


class CodeStrategy(StrEnum):
    """How a new code is made when no alias is given."""

    HASHIDS = "hashids"  #: the backend counter, encoded with hashids
    RANDOM = "random"  #: ``secrets``-based random characters


def derive_salt(secret: str | bytes | None) -> str:
    """The hashids salt for ``secret``: HMAC-SHA256 so the secret itself never shows.

    Stable across runs and versions (changing it would change every future code).
    With no secret a fixed, public salt is used: codes are then predictable.
    """
    if secret is None:
        key = b""
    elif isinstance(secret, str):
        if not secret:
            raise ConfigurationError("secret must not be empty; pass None for no secret")
        key = secret.encode("utf-8", "surrogatepass")
    elif isinstance(secret, bytes):
        if not secret:
            raise ConfigurationError("secret must not be empty; pass None for no secret")
        key = secret
    else:
        raise ConfigurationError(f"secret must be str or bytes, not {type(secret).__name__}")
    return hmac.new(key, _SALT_CONTEXT, hashlib.sha256).hexdigest()


def _check_alphabet(alphabet: object) -> str:
    if not isinstance(alphabet, str):
        raise ConfigurationError(f"alphabet must be a str, not {type(alphabet).__name__}")
    bad = sorted(set(alphabet) - CODE_CHARSET)
    if bad:
        raise ConfigurationError(
            f"alphabet may only use A-Z, a-z, 0-9, '_' and '-'; found {''.join(bad)!r}"
        )
    if len(set(alphabet)) != len(alphabet):
        raise ConfigurationError("alphabet has repeated characters")
    if len(alphabet) < _MIN_ALPHABET:
        raise ConfigurationError(f"alphabet needs at least {_MIN_ALPHABET} characters")
    return alphabet


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _word_set(name: str, words: Iterable[str]) -> frozenset[str]:
    if isinstance(words, str | bytes):
        raise ConfigurationError(f"{name} must be a collection of words, not one string")
    try:
        items = list(words)
    except TypeError:
        raise ConfigurationError(f"{name} must be a collection of words") from None
    out = set()
    for word in items:
        if not isinstance(word, str) or not word:
            raise ConfigurationError(f"{name} holds {word!r}; every entry must be a non-empty str")
        out.add(word.lower())
    return frozenset(out)


class HashidsCodec:
    """Numbers to short codes and back with hashids; decode accepts canonical codes only."""

    __slots__ = ("_alphabet_set", "_hashids", "alphabet", "max_length", "min_length")

    def __init__(self, salt: str, *, min_length: int = 5, alphabet: str = DEFAULT_ALPHABET) -> None:
        if not isinstance(salt, str):
            raise ConfigurationError(f"salt must be a str, not {type(salt).__name__}")
        self.alphabet = _check_alphabet(alphabet)
        self.min_length = _check_int("min_length", min_length, 0, _MAX_MIN_LENGTH)
        self._alphabet_set = frozenset(alphabet)
        self._hashids = Hashids(salt=salt, min_length=min_length, alphabet=alphabet)
        # Codes of numbers with the same number of digits have the same length, so the
        # code of MAX_NUMBER is the longest one this codec can produce.
        self.max_length: int = max(min_length, len(self._hashids.encode(MAX_NUMBER)))

    def __repr__(self) -> str:
        return f"HashidsCodec(min_length={self.min_length}, alphabet={self.alphabet!r})"

    def encode(self, number: int) -> str:
        """The code of ``number`` (0 to ``MAX_NUMBER``); ``InvalidCode`` otherwise."""
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidCode(number, "only whole numbers can be encoded")
        if not 0 <= number <= MAX_NUMBER:
            raise InvalidCode(number, "only numbers from 0 to 2**128-1 can be encoded")
        code: str = self._hashids.encode(number)
        return code

    def decode(self, code: str) -> int | None:
        """The number behind ``code``, or None unless ``code`` is exactly ``encode(n)``."""
        if not isinstance(code, str) or not code or len(code) > self.max_length:
            return None
        if not self._alphabet_set.issuperset(code):
            return None
        try:
            numbers = self._hashids.decode(code)
        except (ValueError, IndexError):  # pragma: no cover - the package catches these
            return None
        if len(numbers) != 1:
            return None
        number = numbers[0]
        if not isinstance(number, int) or not 0 <= number <= MAX_NUMBER:
            return None
        # The package already compares with a re-encoding; check again, it is the contract.
        return number if self._hashids.encode(number) == code else None


class CodeFactory:
    """Makes and checks codes for a Shortener: strategies, aliases, reserved words, blocklist."""

    def __init__(
        self,
        *,
        secret: str | bytes | None = None,
        strategy: CodeStrategy | str = CodeStrategy.HASHIDS,
        min_length: int = 5,
        random_length: int = 7,
        alphabet: str = DEFAULT_ALPHABET,
        alias_min_length: int = 1,
        alias_max_length: int = 64,
        reserved: Iterable[str] = DEFAULT_RESERVED,
        blocklist: Iterable[str] = DEFAULT_BLOCKLIST,
    ) -> None:
        try:
            self.strategy = CodeStrategy(strategy)
        except ValueError:
            raise ConfigurationError(
                f"unknown code strategy {strategy!r}; choose 'hashids' or 'random'"
            ) from None
        self.alphabet = _check_alphabet(alphabet)
        self.random_length = _check_int("random_length", random_length, 4, 64)
        self.alias_max_length = _check_int("alias_max_length", alias_max_length, 1, 256)
        self.alias_min_length = _check_int(
            "alias_min_length", alias_min_length, 1, self.alias_max_length
        )
        self.reserved = _word_set("reserved", reserved)
        self.blocklist = _word_set("blocklist", blocklist)
        self._blocked = (
            re.compile("|".join(re.escape(w) for w in sorted(self.blocklist, key=len)))
            if self.blocklist
            else None
        )
        self.codec = HashidsCodec(derive_salt(secret), min_length=min_length, alphabet=alphabet)
        #: Longest code ``check_code`` lets through: any alias or generated code fits.
        self.code_max_length = max(self.alias_max_length, self.random_length, self.codec.max_length)

    def __repr__(self) -> str:
        return (
            f"CodeFactory(strategy={self.strategy.value!r}, min_length={self.codec.min_length}, "
            f"random_length={self.random_length}, alphabet={self.alphabet!r})"
        )

    # -- generated codes ------------------------------------------------------------

    def is_reserved(self, code: str) -> bool:
        """True if ``code`` is a reserved word, ignoring case."""
        return code.lower() in self.reserved

    def is_clean(self, code: str) -> bool:
        """True if a generated ``code`` may be handed out: not reserved, nothing blocklisted."""
        low = code.lower()
        if low in self.reserved:
            return False
        return self._blocked is None or self._blocked.search(low) is None

    def hashids_code(self, next_id: Callable[[], int]) -> str:
        """Encode counter values from ``next_id()`` until one gives a clean code."""
        for _ in range(_MAX_ATTEMPTS):
            code = self.codec.encode(next_id())
            if self.is_clean(code):
                return code
        raise ConfigurationError(
            f"no clean code in {_MAX_ATTEMPTS} counter values; the blocklist is too broad"
        )

    def random_code(self) -> str:
        """``random_length`` characters from the alphabet, drawn with ``secrets``; clean."""
        alphabet, length = self.alphabet, self.random_length
        for _ in range(_MAX_ATTEMPTS):
            code = "".join(secrets.choice(alphabet) for _ in range(length))
            if self.is_clean(code):
                return code
        raise ConfigurationError(
            f"no clean random code in {_MAX_ATTEMPTS} draws; the blocklist is too broad"
        )

    def generate(
        self, next_id: Callable[[], int], strategy: CodeStrategy | str | None = None
    ) -> str:
        """A new code by ``strategy`` (the factory's own if None); ``InvalidOption`` if unknown."""
        if strategy is None:
            chosen = self.strategy
        else:
            try:
                chosen = CodeStrategy(strategy)
            except ValueError:
                raise InvalidOption(
                    "strategy", f"unknown code strategy {strategy!r}; choose hashids or random"
                ) from None
        if chosen is CodeStrategy.RANDOM:
            return self.random_code()
        return self.hashids_code(next_id)

    # -- codes from people ------------------------------------------------------------

    def _check_syntax(self, code: object, what: str, max_length: int) -> str:
        if not isinstance(code, str):
            raise InvalidCode(code, f"the {what} must be text")
        if not code:
            raise InvalidCode(code, f"the {what} is empty")
        if len(code) > max_length:
            raise InvalidCode(code, f"the {what} is longer than {max_length} characters")
        if not CODE_CHARSET.issuperset(code):
            bad = next(c for c in code if c not in CODE_CHARSET)
            raise InvalidCode(
                code,
                f"the {what} may only contain letters a-z and A-Z, digits, '-' and '_' "
                f"(found {bad!r})",
            )
        return code

    def validate_alias(self, alias: object) -> str:
        """Check a custom alias a person chose and return it unchanged; ``InvalidCode`` if not."""
        code = self._check_syntax(alias, "alias", self.alias_max_length)
        if len(code) < self.alias_min_length:
            raise InvalidCode(
                code, f"the alias must be at least {self.alias_min_length} characters long"
            )
        if code[0] in "-_" or code[-1] in "-_":
            raise InvalidCode(code, "the alias may not start or end with '-' or '_'")
        if self.is_reserved(code):
            raise InvalidCode(code, f"the alias {code!r} is reserved; choose another")
        return code

    def check_code(self, code: object) -> str:
        """Cheap syntax check of a code from an incoming URL; ``InvalidCode`` if malformed."""
        return self._check_syntax(code, "code", self.code_max_length)
