"""Every error suolink raises, in one tree, so callers can catch exactly what they mean.

::

    SuolinkError
    ├── ConfigurationError              bad option or setting (programming error)
    │   ├── InvalidSetting              a server setting unknown or refused (.key, .option)
    │   ├── CodeSpaceExhausted          every generated code tried was taken
    │   ├── MissingDependencyError      an optional extra is not installed
    │   └── CapabilityMissing           the storage lacks an optional capability; HTTP 501
    │       └── DomainsUnsupported      the storage keeps no domains
    ├── InvalidInput                    bad input from a user; answers HTTP 400
    │   ├── InvalidURL                  target URL refused (.url, .reason)
    │   │   └── BlockedURL              refused by the blocklist or check_url; HTTP 403
    │   ├── InvalidCode                 code or alias refused (.code, .reason)
    │   ├── InvalidOption               a link setting refused (.option, .reason)
    │   ├── InvalidDomain               a domain name or its settings refused (.domain)
    │   ├── QRDecodeError               image unreadable as an image (.reason)
    │   ├── QREncodeError               QR code cannot be drawn as asked (.reason)
    │   ├── ImageTooLarge               upload over the byte or pixel cap (.reason)
    │   ├── BodyTooLarge                request body over the size cap; HTTP 413
    │   └── InvalidClickId              not a click id of this Shortener (forged, malformed)
    │       └── ClickExpired            a click id older than click_id_ttl; HTTP 410
    ├── CodeTaken                       alias in use or retired (.code); HTTP 409
    ├── DomainError                     a short domain cannot be used (.domain)
    │   ├── DomainNotFound              no such domain; HTTP 404
    │   └── DomainTaken                 the domain is already added; HTTP 409
    ├── EndpointNotFound                no such webhook endpoint (.endpoint_id); HTTP 404
    ├── LinkError                       a link cannot be served (.code)
    │   ├── LinkNotFound                no such link, or disabled; HTTP 404
    │   └── LinkExpired                 past expiry or out of visits; HTTP 410
    └── BackendError                    storage failed (.original)
        └── BackendUnavailable          storage unreachable right now; HTTP 503

Each class carries ``http_status`` so adapters map errors to responses without a table
of their own.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "BlockedURL",
    "BodyTooLarge",
    "CapabilityMissing",
    "ClickExpired",
    "CodeSpaceExhausted",
    "CodeTaken",
    "ConfigurationError",
    "DomainError",
    "DomainNotFound",
    "DomainTaken",
    "DomainsUnsupported",
    "EndpointNotFound",
    "ImageTooLarge",
    "InvalidClickId",
    "InvalidCode",
    "InvalidDomain",
    "InvalidInput",
    "InvalidOption",
    "InvalidSetting",
    "InvalidURL",
    "LinkError",
    "LinkExpired",
    "LinkNotFound",
    "MissingDependencyError",
    "QRDecodeError",
    "QREncodeError",
    "SuolinkError",
]


class SuolinkError(Exception):
    """Root of every error suolink raises on purpose."""

    http_status: int = 500

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(SuolinkError):
    """A setting or constructor argument is wrong: fix the code, not the input."""


class CodeSpaceExhausted(ConfigurationError):
    """Every code ``shorten`` generated in a row was taken: raise the length or the counter."""


class InvalidSetting(ConfigurationError):
    """A server setting is unknown or its value is wrong.

    ``.key`` is the setting as the user wrote it (``SUOLINK_MIN_LENGTH``, ``MIN_LENGTH``,
    ``min_length``), ``.option`` its name in the option spec (None if unknown), ``.source``
    where it came from, ``.suggestion`` the closest valid key for a misspelling.
    """

    def __init__(
        self,
        key: str,
        reason: str,
        *,
        option: str | None = None,
        source: str = "",
        suggestion: str | None = None,
    ) -> None:
        self.key = key
        self.option = option
        self.source = source
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        where = f" (from {source})" if source else ""
        super().__init__(f"{key}: {reason}{hint}{where}", reason=reason)

    @property
    def hint(self) -> str | None:
        """``"Did you mean SUOLINK_API_TOKEN?"`` for a misspelt key, else None."""
        return f"Did you mean {self.suggestion}?" if self.suggestion else None


class MissingDependencyError(ConfigurationError):
    """An optional part was used without its extra installed; ``.extra`` says which."""

    def __init__(self, feature: str, extra: str, *, module: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        self.module = module
        super().__init__(
            f"{feature} needs the optional dependency {module or extra!r}: "
            f"pip install 'suolink[{extra}]'"
        )


class EndpointNotFound(SuolinkError):
    """No webhook endpoint has this id."""

    http_status = 404

    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id
        super().__init__(f"no webhook endpoint {endpoint_id[:80]!r}")


class CapabilityMissing(ConfigurationError):
    """The storage backend cannot do what was asked (people stats on a backend without
    ``tracks_people``); ``.capability`` names what it lacks. Choose another backend."""

    http_status = 501

    def __init__(self, feature: str, capability: str, storage: str) -> None:
        self.feature = feature
        self.capability = capability
        super().__init__(
            f"{feature} needs a storage backend with the {capability!r} capability; "
            f"{storage} does not have it"
        )


class DomainsUnsupported(CapabilityMissing):
    """The storage backend keeps no domains (it lacks the ``keeps_domains`` capability)."""

    def __init__(self, storage: str) -> None:
        super().__init__("short domains", "keeps_domains", storage)


class InvalidInput(SuolinkError):
    """Input from a user was refused; nothing was stored."""

    http_status = 400


class InvalidURL(InvalidInput):
    """The target URL was refused; ``.reason`` says why in plain words."""

    def __init__(self, url: object, reason: str) -> None:
        self.url = url if isinstance(url, str) else repr(url)
        super().__init__(f"invalid URL: {reason}", reason=reason)


class BlockedURL(InvalidURL):
    """The target is refused by the operator's abuse rules (blocklist or ``check_url``)."""

    http_status = 403


class InvalidCode(InvalidInput):
    """A short code or custom alias was refused; ``.reason`` says why."""

    def __init__(self, code: object, reason: str) -> None:
        self.code = code if isinstance(code, str) else repr(code)
        super().__init__(f"invalid code: {reason}", reason=reason)


class InvalidOption(InvalidInput):
    """A link setting (expiry, visit limit, password, platforms, …) was refused."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        super().__init__(f"invalid {option}: {reason}", reason=reason)


class InvalidDomain(InvalidInput):
    """A short domain's name, pool, state or settings was refused; ``.domain`` names it."""

    def __init__(self, domain: object, reason: str) -> None:
        self.domain = domain
        super().__init__(f"domain {str(domain)[:80]!r}: {reason}", reason=reason)


class QRDecodeError(InvalidInput):
    """The uploaded data could not be read as an image."""


class QREncodeError(InvalidInput):
    """A QR code could not be drawn with the options given (or would not scan)."""


class ImageTooLarge(InvalidInput):
    """An image is over the byte or pixel cap; refused before it is decoded."""

    http_status = 413


class BodyTooLarge(InvalidInput):
    """A request body is over the size cap; refused before it is parsed."""

    http_status = 413


class InvalidClickId(InvalidInput):
    """A click id this Shortener did not make (malformed, or its signature is wrong).

    Forged and garbled ids look the same: nothing about a link is revealed.
    """

    def __init__(self, reason: str = "not a click id of this site") -> None:
        super().__init__(f"invalid click id: {reason}", reason=reason)


class ClickExpired(InvalidClickId):
    """A genuine click id past ``click_id_ttl``: too old to report a conversion on."""

    http_status = 410

    def __init__(self, clicked_at: datetime) -> None:
        self.clicked_at = clicked_at
        InvalidInput.__init__(
            self,
            f"the click id has expired (clicked at {clicked_at.isoformat(timespec='seconds')})",
            reason="expired",
        )


class CodeTaken(SuolinkError):
    """The requested alias is in use by another link, or was deleted and stays retired."""

    http_status = 409

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"the code {code!r} is already taken", reason="code taken")


class DomainError(SuolinkError):
    """A short domain cannot be used as asked; ``.domain`` names it."""

    def __init__(self, domain: str, message: str, *, reason: str | None = None) -> None:
        self.domain = domain
        super().__init__(message, reason=reason)


class DomainNotFound(DomainError):
    """No short domain has this name."""

    http_status = 404

    def __init__(self, domain: str) -> None:
        super().__init__(domain, f"no domain {domain!r}", reason="domain not found")


class DomainTaken(DomainError):
    """The short domain is already added (remove it first to add it again)."""

    http_status = 409

    def __init__(self, domain: str) -> None:
        super().__init__(domain, f"the domain {domain!r} is already added", reason="domain taken")


class LinkError(SuolinkError):
    """A link exists in the request but cannot be served; ``.code`` names it."""

    def __init__(self, code: str, message: str, *, reason: str | None = None) -> None:
        self.code = code
        super().__init__(message, reason=reason)


class LinkNotFound(LinkError):
    """No link has this code (or it is disabled, which looks the same to visitors)."""

    http_status = 404

    def __init__(self, code: str) -> None:
        super().__init__(code, f"no link with code {code!r}", reason="not found")


class LinkExpired(LinkError):
    """The link is past its expiry time or has used up its visits."""

    http_status = 410

    def __init__(
        self, code: str, *, expired_at: datetime | None = None, exhausted: bool = False
    ) -> None:
        self.expired_at = expired_at
        self.exhausted = exhausted
        why = "has used up its visits" if exhausted else "has expired"
        super().__init__(code, f"the link {code!r} {why}", reason=why)


class BackendError(SuolinkError):
    """The storage backend failed; ``.original`` is the driver's exception."""

    def __init__(self, message: str, *, original: BaseException | None = None) -> None:
        self.original = original
        super().__init__(message)


class BackendUnavailable(BackendError):
    """The storage cannot be reached now; retrying later may succeed."""

    http_status = 503
