"""Target URL validation and normalisation: the only door through which a URL is stored.

A short link sends people somewhere, so what it may point to is narrow on purpose:
``http`` and ``https`` by default (app schemes such as ``weixin`` only when allow-listed),
a real host, no user name or password, no control characters or whitespace, and never a
scheme that runs code or reads local data (``javascript:``, ``data:``, ``file:`` …).
International host names are turned into punycode with the ``idna`` package (IDNA 2008
with UTS #46 mapping, non-transitional, as browsers do); non-ASCII characters in the
path, query and fragment are percent-encoded as UTF-8.

Every refusal is ``InvalidURL`` with a reason a person understands.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final
from urllib.parse import unquote

import idna

from .errors import ConfigurationError, InvalidURL

__all__ = [
    "ALWAYS_REFUSED_SCHEMES",
    "DEFAULT_ALLOWED_SCHEMES",
    "DEFAULT_MAX_URL_LENGTH",
    "HOST_REQUIRED_SCHEMES",
    "OWN_LINK_REASON",
    "ShortBase",
    "URLRules",
    "validate_url",
]

DEFAULT_MAX_URL_LENGTH: Final = 2048
DEFAULT_ALLOWED_SCHEMES: Final = frozenset({"http", "https"})

ALWAYS_REFUSED_SCHEMES: Final = frozenset(
    {
        "about",
        "blob",
        "chrome",
        "chrome-extension",
        "data",
        "file",
        "filesystem",
        "javascript",
        "jar",
        "livescript",
        "moz-extension",
        "resource",
        "vbscript",
        "view-source",
    }
)
"""Schemes that run code, read local data or reach browser internals: never allowed."""

HOST_REQUIRED_SCHEMES: Final = frozenset({"http", "https", "ws", "wss", "ftp"})
"""Schemes whose URLs mean nothing without a host; other allow-listed schemes may omit it."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}

_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SCHEME_CONFIG_RE: Final = re.compile(r"[a-z][a-z0-9+.-]*")
_HOST_ASCII_RE: Final = re.compile(r"[a-z0-9_-]+")
_NUMERIC_LABEL_RE: Final = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_PORT_AFTER_HOST_RE: Final = re.compile(r"[0-9]+(?:[/?#]|$)")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
# ASCII characters percent-encoded in path, query and fragment (RFC 3986 never allows
# them; browsers encode them too). ``%`` is handled apart: kept before two hex digits.
_ENCODE_ASCII: Final = frozenset('"<>\\^`{|}')
_REFUSED_CATEGORIES: Final = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "an unpaired surrogate character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Zs": "a space",
}
_MAX_HOST_LENGTH: Final = 253
#: Why a target under the shortener's own links is refused.
OWN_LINK_REASON: Final = "the target is this shortener's own short link"
#: Schemes a browser follows back to the shortener (and so can loop through it).
_LOOPING_SCHEMES: Final = frozenset({"http", "https"})


def _describe(char: str) -> str:
    """A reason fragment naming a refused character so a person can find it."""
    if char in "\r\n":
        return "a line break"
    if char == "\t":
        return "a tab"
    if char == " ":
        return "a space"
    kind = _REFUSED_CATEGORIES.get(unicodedata.category(char), "a forbidden character")
    return f"{kind} (U+{ord(char):04X})"


def _show(text: str) -> str:
    """``text`` quoted for a reason, cut short so a message stays one readable line."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _check_characters(url: str, original: object) -> None:
    for char in url:
        if char.isascii() and " " < char < "\x7f":
            continue
        if char.isspace() or unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidURL(original, f"the URL contains {_describe(char)}")


def _encode_part(text: str) -> str:
    """Percent-encode non-ASCII and unsafe ASCII; keep valid ``%XX``, escape a stray ``%``."""
    if text.isascii() and not _ENCODE_ASCII.intersection(text) and "%" not in text:
        return text
    out: list[str] = []
    n = len(text)
    for i, char in enumerate(text):
        if char == "%":
            valid = i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX
            out.append("%" if valid else "%25")
        elif char.isascii() and char not in _ENCODE_ASCII:
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8"))
    return "".join(out)


def _normalise_host(host: str, original: object) -> str:
    """Lower-case, map and punycode a host name, or check an IP literal; refuse the rest."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidURL(original, "the host has an unclosed '[' (IPv6 addresses need ']')")
        inner = host[1:-1]
        if "%" in inner:
            raise InvalidURL(original, "IPv6 zone identifiers ('%') are not allowed in links")
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidURL(original, f"{_show(inner)} is not a valid IPv6 address") from None
        return f"[{address.compressed}]"
    if "[" in host or "]" in host:
        raise InvalidURL(original, "the host has '[' or ']' outside an IPv6 address")
    if "%" in host:
        raise InvalidURL(original, "the host contains '%'; write the host name as plain text")

    if not host.isascii():
        try:
            host = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except (idna.IDNAError, ValueError):
            raise InvalidURL(original, "the host name contains characters not allowed") from None
    host = host.lower()

    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:  # a fully qualified name may end with "."
        labels = labels[:-1]
    if not host or any(not label for label in labels):
        raise InvalidURL(original, "the host name has an empty part (two dots in a row?)")

    # A host ending in a number is an IPv4 address to a browser, even "0x7f.1" or
    # "2130706433"; only the plain dotted form is accepted, so no address is disguised.
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(host.rstrip(".")))
        except ValueError:
            raise InvalidURL(
                original, f"{_show(host)} looks like an IP address but is not a valid one"
            ) from None

    encoded: list[str] = []
    for label in labels:
        if label.isascii():
            if not _HOST_ASCII_RE.fullmatch(label):
                bad = next(c for c in label if not _HOST_ASCII_RE.fullmatch(c))
                raise InvalidURL(original, f"the host name contains {bad!r}")
            if label.startswith("xn--"):
                try:
                    idna.ulabel(label)
                except (idna.IDNAError, ValueError):
                    raise InvalidURL(
                        original, f"{_show(label)} is not a valid internationalised host name"
                    ) from None
            if len(label) > 63:
                raise InvalidURL(original, "a part of the host name is longer than 63 characters")
            encoded.append(label)
        else:
            try:
                encoded.append(idna.alabel(label).decode("ascii"))
            except (idna.IDNAError, ValueError):
                raise InvalidURL(
                    original, f"{_show(label)} is not a valid internationalised host name"
                ) from None
    result = ".".join(encoded) + ("." if host.endswith(".") else "")
    if len(result) > _MAX_HOST_LENGTH + host.endswith("."):
        raise InvalidURL(original, f"the host name is longer than {_MAX_HOST_LENGTH} characters")
    return result


def _normalise_port(port: str, scheme: str, original: object) -> str:
    if not port:  # "http://host:/" means the default port
        return ""
    if not _PORT_RE.fullmatch(port):
        raise InvalidURL(original, f"the port {port[:12]!r} is not a number from 1 to 65535")
    number = int(port)
    if not 1 <= number <= 65535:
        raise InvalidURL(original, f"the port {number} is not a number from 1 to 65535")
    return "" if _DEFAULT_PORTS.get(scheme) == number else str(number)


def _normalise_authority(authority: str, scheme: str, original: object) -> str:
    if "@" in authority:
        raise InvalidURL(
            original,
            "the URL contains a user name or password before '@', a common phishing trick",
        )
    if "\\" in authority:
        raise InvalidURL(original, "the host part of the URL contains a backslash")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise InvalidURL(original, "the host has an unclosed '[' (IPv6 addresses need ']')")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidURL(original, "unexpected text after the IPv6 address in the host")
        port = rest[1:]
    else:
        host, _, port = authority.partition(":")
        if ":" in port:
            raise InvalidURL(
                original, "the host contains ':'; IPv6 addresses must be written in [brackets]"
            )
    if not host:
        if scheme in HOST_REQUIRED_SCHEMES:
            raise InvalidURL(original, "the URL has no host")
        if port:
            raise InvalidURL(original, "the URL has a port but no host")
        return ""
    host = _normalise_host(host, original)
    port = _normalise_port(port, scheme, original)
    return f"{host}:{port}" if port else host


def _any_code(code: str) -> bool:
    """Without a store to ask, every code under a shortener's base counts as a link."""
    return True


def _scheme_list(schemes: frozenset[str]) -> str:
    names = sorted(schemes)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


@dataclass(frozen=True)
class URLRules:
    """Which URLs may be shortened; ``validate`` checks one and returns its normal form."""

    allowed_schemes: frozenset[str] = field(default=DEFAULT_ALLOWED_SCHEMES)
    max_length: int = DEFAULT_MAX_URL_LENGTH

    def __post_init__(self) -> None:
        schemes: object = self.allowed_schemes
        if isinstance(schemes, str | bytes) or not isinstance(schemes, Iterable):
            raise ConfigurationError(
                "allowed_schemes must be a collection of scheme names, like {'http', 'https'}"
            )
        normal: set[str] = set()
        for scheme in schemes:
            if not isinstance(scheme, str) or not _SCHEME_CONFIG_RE.fullmatch(scheme.lower()):
                raise ConfigurationError(
                    f"{scheme!r} is not a scheme name; write it without ':' or '//', like 'https'"
                )
            low = scheme.lower()
            if low in ALWAYS_REFUSED_SCHEMES:
                raise ConfigurationError(f"{low}: links can never be allowed (unsafe scheme)")
            normal.add(low)
        if not normal:
            raise ConfigurationError("allowed_schemes must name at least one scheme")
        object.__setattr__(self, "allowed_schemes", frozenset(normal))
        length = self.max_length
        if isinstance(length, bool) or not isinstance(length, int) or not 16 <= length <= 1 << 20:
            raise ConfigurationError(
                f"max_length must be an int from 16 to 1048576, got {length!r}"
            )

    def validate(
        self,
        url: object,
        *,
        own: Iterable[ShortBase] = (),
        is_link: Callable[[str], bool] = _any_code,
    ) -> str:
        """Return ``url`` normalised, or raise ``InvalidURL`` saying why it is refused.

        ``own`` are where the shortener's own links live: a target that opens one of its
        links (``is_link(code)``; by default any code) is refused, since ``curl -L`` would
        follow it round and round, counting every lap. The host's other pages stay fine.
        """
        result = self._normalise(url)
        for base in own:
            code = base.code_in(result)
            if code is not None and is_link(code):
                raise InvalidURL(url, OWN_LINK_REASON)
        return result

    def _normalise(self, url: object) -> str:
        if not isinstance(url, str):
            raise InvalidURL(url, "the URL must be text")
        text = url.strip()
        if not text:
            raise InvalidURL(url, "the URL is empty")
        limit = self.max_length
        if len(text) > limit:
            raise InvalidURL(url, f"the URL is longer than {limit} characters")
        _check_characters(text, url)

        colon = text.find(":")
        scheme = text[:colon] if colon > 0 else ""
        rest = text[colon + 1 :]
        no_scheme = "the URL has no scheme; start it with https:// or http://"
        if not _SCHEME_RE.fullmatch(scheme):  # before lower(): "\u212a".lower() == "k"
            raise InvalidURL(url, no_scheme)
        scheme = scheme.lower()
        if scheme in ALWAYS_REFUSED_SCHEMES:
            raise InvalidURL(url, f"{scheme}: links are not allowed")
        if scheme not in self.allowed_schemes:
            looks_like_host = "." in scheme or scheme == "localhost"
            if looks_like_host and _PORT_AFTER_HOST_RE.match(rest):  # "example.com:8080/x"
                raise InvalidURL(url, no_scheme)
            raise InvalidURL(
                url,
                f"{scheme}: links are not allowed; "
                f"only {_scheme_list(self.allowed_schemes)} links are",
            )

        rest, hash_sign, fragment = rest.partition("#")
        rest, question, query = rest.partition("?")
        if rest.startswith("//"):
            authority, slash, path = rest[2:].partition("/")
            path = slash + path
            netloc: str | None = _normalise_authority(authority, scheme, url)
        else:
            if scheme in HOST_REQUIRED_SCHEMES:
                raise InvalidURL(url, f"the URL has no host; write {scheme}:// with two slashes")
            netloc, path = None, rest
            if not path and not question and not hash_sign:
                raise InvalidURL(url, f"the URL has nothing after '{scheme}:'")
        if "\\" in path:
            raise InvalidURL(url, "the path of the URL contains a backslash")
        if not path and scheme in HOST_REQUIRED_SCHEMES:
            path = "/"

        parts = [scheme, ":"]
        if netloc is not None:
            parts += ["//", netloc]
        parts.append(_encode_part(path))
        if question:
            parts += ["?", _encode_part(query)]
        if hash_sign:
            parts += ["#", _encode_part(fragment).replace("#", "%23")]
        result = "".join(parts)
        if len(result) > limit:
            raise InvalidURL(url, f"the URL is longer than {limit} characters once normalised")
        return result


def _host_and_path(normal: str) -> tuple[str, str, str]:
    """Scheme, host (no port, no final dot) and path of a URL in :meth:`URLRules.validate` form."""
    scheme, sep, rest = normal.partition("://")
    if not sep:
        return scheme, "", ""
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found >= 0:
            end = min(end, found)
    netloc, tail = rest[:end], rest[end:]
    host = netloc[: netloc.find("]") + 1] if netloc.startswith("[") else netloc.partition(":")[0]
    path = tail
    for mark in "?#":
        path = path.partition(mark)[0]
    return scheme, host.rstrip("."), path


@dataclass(frozen=True, slots=True)
class ShortBase:
    """Where a shortener's links live: a host, and the path prefix they sit under.

    A target opens one of its links if it has that host (any port, http or https: one
    redirects to the other) and its path is one segment under the prefix.
    """

    host: str
    path: str = ""

    @classmethod
    def parse(cls, base_url: str | None) -> ShortBase | None:
        """The base of a ``base_url`` such as ``https://s.example/l``; None if it has none."""
        if not base_url:
            return None
        try:
            normal = _BASE_RULES.validate(base_url)
        except InvalidURL:  # a request's odd Host header must not break creation
            return None
        _, host, path = _host_and_path(normal)
        return cls(host, path.rstrip("/")) if host else None

    def code_in(self, normal_url: str) -> str | None:
        """The code a (normalised) URL opens here (``<base>/<code>``), or None if none."""
        scheme, host, path = _host_and_path(normal_url)
        if scheme not in _LOOPING_SCHEMES or host != self.host:
            return None
        if not path.startswith(self.path + "/"):
            return None
        code = unquote(path[len(self.path) + 1 :])
        return code if code and "/" not in code else None


@lru_cache(maxsize=32, typed=True)
def _rules(schemes: frozenset[str], max_length: int) -> URLRules:
    return URLRules(schemes, max_length)


def validate_url(
    url: object,
    *,
    allowed_schemes: Iterable[str] = DEFAULT_ALLOWED_SCHEMES,
    max_length: int = DEFAULT_MAX_URL_LENGTH,
) -> str:
    """Check ``url`` against the rules and return its normal form; ``InvalidURL`` if refused."""
    if isinstance(allowed_schemes, str | bytes) or not isinstance(allowed_schemes, Iterable):
        raise ConfigurationError("allowed_schemes must be a collection of scheme names")
    schemes = tuple(allowed_schemes)
    try:
        rules = _rules(frozenset(schemes), max_length)
    except TypeError:  # unhashable settings: let URLRules say what is wrong
        rules = URLRules(schemes, max_length)  # type: ignore[arg-type]
    return rules.validate(url)


_BASE_RULES: Final = URLRules()
