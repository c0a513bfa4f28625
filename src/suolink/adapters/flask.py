"""Flask adapter: ``Suolink(app)`` routes the HTTP surface of :mod:`suolink.api` into Flask.

Follows Flask's extension guide: ``Suolink(app=None)`` + ``init_app(app)``; per-app
state in ``app.extensions["suolink"]``; settings from constructor arguments, then
``SUOLINK_*`` config keys, then defaults. Views only translate requests and Decisions.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..errors import BodyTooLarge, ConfigurationError, MissingDependencyError

try:
    import flask
    from werkzeug.exceptions import RequestEntityTooLarge
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Flask adapter", "flask", module="flask") from exc

from ..api import LINK_ROUTES, ROUTES, HttpApi, HttpRequest, error_response
from ..detect.platforms import normalize_platforms
from ..models import Decision
from ..shortener import Shortener

if TYPE_CHECKING:
    from ..backends.base import Storage

__all__ = ["Suolink", "create_app", "get_shortener", "protect_request"]

EXTENSION_KEY: Final = "suolink"
#: Shortener arguments read from ``SUOLINK_<NAME>`` config keys.
SHORTENER_SETTINGS: Final = (
    "storage",
    "secret",
    "base_url",
    "code_strategy",
    "min_length",
    "random_length",
    "redirect_status",
    "default_language",
    "max_url_length",
    "allowed_schemes",
    "bot_action",
    "store_ip",
)
#: HttpApi arguments read from ``SUOLINK_<NAME>`` config keys.
API_SETTINGS: Final = (
    "api_token",
    "authorize",
    "allow_anonymous",
    "max_body_bytes",
    "max_upload_bytes",
    "rate_limit",
    "rate_limit_storage",
    "password_rate_limit",
)
_BOOL_SETTINGS: Final = frozenset({"allow_anonymous", "store_ip"})
_INT_SETTINGS: Final = frozenset(
    {
        "min_length",
        "random_length",
        "redirect_status",
        "max_url_length",
        "max_body_bytes",
        "max_upload_bytes",
    }
)
DEFAULTS: Final[Mapping[str, Any]] = {"storage": "sqlite:///suolink.db", "url_prefix": ""}


@dataclass(frozen=True, slots=True)
class _State:
    shortener: Shortener
    api: HttpApi
    url_prefix: str
    #: Where short links and their QR images live (default: ``url_prefix``).
    link_prefix: str = ""


class Suolink:
    """The Flask extension; one instance may serve several apps (state lives per app)."""

    def __init__(
        self, app: flask.Flask | None = None, *, shortener: Shortener | None = None, **options: Any
    ) -> None:
        self._shortener = shortener
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask, **options: Any) -> None:
        """Build this app's Shortener and API from arguments, config and defaults."""
        settings = _settings(app.config, {**self._options, **options})
        shortener = self._shortener or Shortener(
            **{k: settings[k] for k in SHORTENER_SETTINGS if k in settings}
        )
        api = HttpApi(shortener, **{k: settings[k] for k in API_SETTINGS if k in settings})
        prefix = _prefix(settings.get("url_prefix"))
        link_prefix = (
            prefix if settings.get("link_prefix") is None else _prefix(settings["link_prefix"])
        )
        app.extensions[EXTENSION_KEY] = _State(shortener, api, prefix, link_prefix)
        app.register_blueprint(_blueprint(prefix, link_prefix))

    @staticmethod
    def state(app: flask.Flask | None = None) -> _State:
        target = app or flask.current_app
        try:
            state: _State = target.extensions[EXTENSION_KEY]
        except KeyError:
            raise ConfigurationError("Suolink.init_app(app) was not called on this app") from None
        return state

    @property
    def shortener(self) -> Shortener:
        """The current app's Shortener (needs an app context)."""
        return self.state().shortener

    def protect(
        self,
        *,
        anti_block: Iterable[str] | None = None,
        anti_block_mode: str | None = None,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
    ) -> Callable[[_View], _View]:
        """Decorate a host view so it gets a link's anti-block and access rules.

        Visitors inside a blocking app see the guide page; visitors ``allow``/``deny``
        refuse see the refusal page; everyone else gets the view as usual.
        """
        rules: dict[str, Any] = {
            "anti_block": None if anti_block is None else normalize_platforms(list(anti_block)),
            "anti_block_mode": anti_block_mode,
            "allow": None if allow is None else normalize_platforms(list(allow)),
            "deny": None if deny is None else normalize_platforms(list(deny)),
        }  # unknown platform names fail here, when the view is decorated

        def decorate(view: _View) -> _View:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                answer = protect_request(**rules)
                return answer if answer is not None else view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate

    @staticmethod
    def protect_request(**rules: Any) -> flask.Response | None:
        """For ``before_request`` hooks: the guide/refusal response, or None to go on."""
        return protect_request(**rules)


_View = TypeVar("_View", bound=Callable[..., Any])


def protect_request(
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> flask.Response | None:
    """The current request under a link's rules: a response to send instead, or None."""
    req = flask.request
    visitor = HttpApi.visitor(
        HttpRequest(
            method="GET",  # the page's own form fields are never taken for a link password
            headers=tuple((k.lower(), v) for k, v in req.headers.items()),
            remote_addr=req.remote_addr,
        )
    )
    decision = Suolink.state().shortener.protect(
        visitor,
        url=req.url,
        anti_block=anti_block,
        anti_block_mode=anti_block_mode,
        allow=allow,
        deny=deny,
    )
    return None if decision is None else _response(decision)


def get_shortener(app: flask.Flask | None = None) -> Shortener:
    """The Shortener configured for ``app`` (default: the current app)."""
    return Suolink.state(app).shortener


def _parse_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _BOOL_SETTINGS:
        return value.strip().lower() in ("1", "true", "yes", "on")
    if name in _INT_SETTINGS:
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(f"SUOLINK_{name.upper()} must be a number") from None
    if name == "allowed_schemes":
        return tuple(s.strip() for s in value.split(",") if s.strip())
    return value


def _settings(config: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    names = (*SHORTENER_SETTINGS, *API_SETTINGS, "url_prefix", "link_prefix")
    unknown = set(given) - set(names)
    if unknown:
        raise ConfigurationError(f"unknown Suolink option(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = dict(DEFAULTS)
    for name in names:
        key = f"SUOLINK_{name.upper()}"
        if key in config and config[key] is not None:
            out[name] = _parse_value(name, config[key])
        if given.get(name) is not None:
            out[name] = given[name]
    return out


def _prefix(value: Any) -> str:
    """``"/s/"`` -> ``"/s"``; ``""`` or None -> ``""`` (the root)."""
    text = str(value or "").strip().rstrip("/")
    if text and not text.startswith("/"):
        raise ConfigurationError(f"a URL prefix must start with '/', not {text!r}")
    return text


def _blueprint(prefix: str, link_prefix: str) -> flask.Blueprint:
    bp = flask.Blueprint("suolink", __name__)
    for route in ROUTES:
        mount = link_prefix if route.name in LINK_ROUTES else prefix
        rule = (mount + route.pattern.replace("<code>", "<string:code>")).replace("//", "/")
        bp.add_url_rule(
            rule, endpoint=route.name, view_func=_view(route.name), methods=list(route.methods)
        )
    return bp


def _view(route: str) -> Any:
    def view(**params: str) -> flask.Response:
        state = Suolink.state()
        request = _http_request(state, state.api.body_limit(route))
        if isinstance(request, Decision):
            return _response(request)
        return _response(state.api.handle(route, request, **params))

    view.__name__ = f"suolink_{route}"
    return view


def _http_request(state: _State, limit: int) -> HttpRequest | Decision:
    req = flask.request
    if req.content_length is not None and req.content_length > limit:
        return error_response(BodyTooLarge(f"the request body is larger than {limit:,} bytes"))
    req.max_content_length = limit  # bounds chunked bodies and form parsing too
    form: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    body = b""
    try:
        if req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = tuple(req.form.items(multi=True))
            files = tuple((name, f.read(limit + 1)) for name, f in req.files.items(multi=True))
        else:
            body = req.stream.read(limit + 1)
    except RequestEntityTooLarge:
        return error_response(BodyTooLarge(f"the request body is larger than {limit:,} bytes"))
    return HttpRequest(
        method=req.method,
        path=req.path,
        query=tuple(req.args.items(multi=True)),
        headers=tuple((k.lower(), v) for k, v in req.headers.items()),
        body=body,
        remote_addr=req.remote_addr,
        form=form,
        files=files,
        base_url=req.host_url.rstrip("/") + state.link_prefix,
    )


def _response(decision: Decision) -> flask.Response:
    return flask.Response(decision.body, status=decision.status, headers=list(decision.headers))


def create_app(storage: str | Storage | None = None, **options: Any) -> flask.Flask:
    """The ready-made suolink web app that ``suolink serve`` and gunicorn run.

    Settings come from arguments, then ``SUOLINK_*`` environment variables.
    """
    app = flask.Flask("suolink")
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("SUOLINK_")})
    if storage is not None:
        options["storage"] = storage
    Suolink(app, **options)
    return app
