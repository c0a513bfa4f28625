"""Flask adapter: ``Suolink(app)`` routes the HTTP surface of :mod:`suolink.api` into Flask.

Follows Flask's extension guide: ``Suolink(app=None)`` + ``init_app(app)``; per-app
state in ``app.extensions["suolink"]``; settings from constructor arguments, then
``SUOLINK_*`` config keys, then defaults, all read through the one option spec of
:mod:`suolink.config`. Views only translate requests and Decisions.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..errors import ConfigurationError, MissingDependencyError

try:
    import flask
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
    from werkzeug.routing import Map, MapAdapter
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Flask adapter", "flask", module="flask") from exc

from ..api import HttpApi, HttpRequest
from ..config import OPTIONS, KeyStyle, ServerOptions, from_environ, resolve_options
from ..http.mounting import Mounted, body_too_large, mount, page_visitor
from ..models import Decision, StreamedDecision
from ..options import protect_rules
from ..shortener import Shortener

if TYPE_CHECKING:
    from ..backends.base import Storage

__all__ = ["Suolink", "create_app", "get_shortener", "protect_request", "shadowed_routes"]

log = logging.getLogger("suolink.flask")

EXTENSION_KEY: Final = "suolink"
#: This adapter's name in the option spec (:mod:`suolink.config`).
ADAPTER: Final = "flask"
#: Options passed on to the Shortener and to the HttpApi (derived from the spec).
SHORTENER_SETTINGS: Final = tuple(o.name for o in OPTIONS.values() if o.target == "shortener")
API_SETTINGS: Final = tuple(o.name for o in OPTIONS.values() if o.target == "api")


@dataclass(frozen=True, slots=True)
class _State:
    shortener: Shortener
    api: HttpApi
    url_prefix: str
    #: Where short links and their QR images live (default: ``url_prefix``).
    link_prefix: str = ""
    #: The options this app was built from (arguments over ``app.config``).
    options: ServerOptions = field(default_factory=ServerOptions)


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
        """Build this app's Shortener and API from arguments, then config, then defaults.

        An unknown argument is an ``InvalidSetting``; an unknown ``SUOLINK_*`` config key
        a ``UserWarning`` naming the closest valid key. No secret: a ``NoSecretWarning``
        (codes would be guessable).
        """
        given = resolve_options({**self._options, **options}, source="Suolink()", adapter=ADAPTER)
        config = resolve_options(
            app.config,
            source="app.config",
            style=KeyStyle.ENVIRON,
            adapter=ADAPTER,
            unknown="warn",
        )
        parts = mount(given.over(config), shortener=self._shortener, log=log)
        app.extensions[EXTENSION_KEY] = _State(
            parts.shortener, parts.api, parts.url_prefix, parts.link_prefix, parts.options
        )
        app.register_blueprint(_blueprint(parts))
        for message in shadowed_routes(app):
            warnings.warn(message, UserWarning, stacklevel=2)

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
        # unknown platform names fail here, when the view is decorated
        rules = protect_rules(
            anti_block=anti_block, anti_block_mode=anti_block_mode, allow=allow, deny=deny
        )

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
    visitor = page_visitor(req.headers.items(), req.remote_addr)
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


#: A code no one would choose, to probe which rule a short link's path reaches.
_PROBE_CODE: Final = "Zq9xProbe"


def shadowed_routes(app: flask.Flask) -> list[str]:
    """Host routes and suolink routes that answer the same path, so one hides the other.

    Each host rule is probed with its own path (static rules) or with a short link's
    path (rules with placeholders); when suolink also answers it, the rule Werkzeug
    picks hides the other. ``Suolink(app)`` warns with these; call it again after
    registering more routes.
    """
    state = Suolink.state(app)
    ours = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(EXTENSION_KEY + ".")]
    if not ours:
        return []
    suolink_only = Map([r.empty() for r in ours]).bind("localhost")
    everything = app.url_map.bind("localhost")
    short_link = f"{state.link_prefix.rstrip('/')}/{_PROBE_CODE}"
    found: list[str] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(EXTENSION_KEY + ".") or rule.endpoint == "static":
            continue
        path = short_link if rule.arguments else rule.rule
        method = "GET" if rule.methods is None or "GET" in rule.methods else min(rule.methods)
        theirs = _match(Map([rule.empty()]).bind("localhost"), path, method)
        mine = _match(suolink_only, path, method)
        if theirs is None or mine is None:
            continue
        winner = _match(everything, path, method)
        mine = mine.removeprefix(EXTENSION_KEY + ".")
        if winner == rule.endpoint:
            found.append(
                f"the route {rule.rule} ({rule.endpoint}) hides suolink's {mine!r} route at "
                f"{path}; "
                "mount suolink under a prefix (url_prefix, link_prefix)"
                + ("" if rule.arguments else " or reserve that code")
            )
        else:
            found.append(
                f"suolink's {mine!r} route answers {path}, so the route {rule.rule} "
                f"({rule.endpoint}) is never reached; mount suolink under a prefix "
                "(url_prefix, link_prefix)"
            )
    return found


def _match(adapter: MapAdapter, path: str, method: str) -> str | None:
    """The endpoint ``adapter`` routes ``path`` to, or None if it routes it nowhere."""
    try:
        endpoint, _ = adapter.match(path, method=method)
    except HTTPException:
        return None
    except Exception:  # a redirect for a missing slash, a converter refusing
        return None
    return str(endpoint)


def _blueprint(parts: Mounted) -> flask.Blueprint:
    bp = flask.Blueprint("suolink", __name__)
    for route in parts.routes:
        rule = parts.path(route).replace("<code>", "<string:code>")
        bp.add_url_rule(
            rule,
            endpoint=route.name,
            view_func=_view(route.name),
            methods=list(route.methods),
            # OPTIONS on an API path is the core's (api_fallback), so Allow is the table's
            provide_automatic_options=not route.pattern.startswith("/api/"),
        )
    return bp


def _view(route: str) -> Any:
    quick = route == "resolve"

    def view(**params: str) -> flask.Response:
        state = Suolink.state()
        if quick and flask.request.method in _NO_BODY:
            link_request = _link_request(state)
            if link_request is not None:
                return _response(state.api.handle(route, link_request, **params))
        request = _http_request(state, state.api.body_limit(route))
        if isinstance(request, Decision):
            return _response(request)
        return _response(state.api.handle(route, request, **params))

    view.__name__ = f"suolink_{route}"
    return view


def _http_request(state: _State, limit: int) -> HttpRequest | Decision:
    req = flask.request
    if req.content_length is not None and req.content_length > limit:
        return body_too_large(limit)
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
        return body_too_large(limit)
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


_NO_BODY: Final = frozenset({"GET", "HEAD"})
#: WSGI ``HTTP_*`` keys and the header names they stand for (as ``EnvironHeaders`` and
#: then ``_http_request`` name them), worked out once per key.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX: Final = 1024
#: Base URLs by (scheme, Host, server name, port, script root): ``host_url`` is costly.
_BASE_URLS: dict[tuple[Any, ...], str] = {}
_BASE_URLS_MAX: Final = 256


def _link_request(state: _State) -> HttpRequest | None:
    """``_http_request`` of a GET or HEAD of a short link, made from the WSGI environ at
    less cost: the same headers (in environ order, named as Werkzeug names them, lower
    case) and query, no body read (the route reads none), the base URL remembered per
    origin. None: a body is announced, so take the usual path (and its limit)."""
    req = flask.request
    environ = req.environ
    if environ.get("CONTENT_LENGTH") or environ.get("CONTENT_TYPE"):
        return None
    names = _HEADER_NAMES
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _SKIPPED:
            name = names.get(key)
            if name is None:
                name = key[5:].replace("_", "-").title().lower()
                if len(names) < _HEADER_NAMES_MAX:
                    names[key] = name
            headers.append((name, value))
    origin = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        req.root_path,
        state.link_prefix,
        id(flask.current_app),
    )
    base_url = _BASE_URLS.get(origin)
    if base_url is None:
        base_url = req.host_url.rstrip("/") + state.link_prefix
        if len(_BASE_URLS) >= _BASE_URLS_MAX:
            _BASE_URLS.clear()
        _BASE_URLS[origin] = base_url
    return HttpRequest(
        method=req.method,
        path=req.path,
        query=tuple(req.args.items(multi=True)) if environ.get("QUERY_STRING") else (),
        headers=tuple(headers),
        remote_addr=req.remote_addr,
        base_url=base_url,
    )


_SKIPPED: Final = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


def _response(decision: Decision) -> flask.Response:
    body = decision.chunks if isinstance(decision, StreamedDecision) else decision.body
    return flask.Response(body, status=decision.status, headers=list(decision.headers))


def create_app(storage: str | Storage | None = None, **options: Any) -> flask.Flask:
    """The ready-made suolink web app that ``suolink serve`` and gunicorn run.

    Settings come from arguments, then ``SUOLINK_*`` environment variables (checked
    and copied into ``app.config``), then defaults.
    """
    app = flask.Flask("suolink")
    app.config.update(from_environ(os.environ, adapter=ADAPTER).as_keys(KeyStyle.ENVIRON))
    if storage is not None:
        options["storage"] = storage
    Suolink(app, **options)
    return app
