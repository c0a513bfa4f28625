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
from urllib.parse import parse_qsl

from ..errors import ConfigurationError, MissingDependencyError

try:
    import flask
    from flask import signals as flask_signals
    from flask.sessions import SecureCookieSessionInterface
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
    from werkzeug.routing import Map, MapAdapter
    from werkzeug.wrappers import Request
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the Flask adapter", "flask", module="flask") from exc

from ..api import HttpApi, HttpRequest
from ..config import OPTIONS, KeyStyle, ServerOptions, from_environ, resolve_options
from ..http.mounting import Mounted, body_too_large, mount, page_visitor
from ..http.request import visitor_from_environ
from ..models import Decision, StreamedDecision
from ..options import protect_rules
from ..shortener import Shortener

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..backends.base import Storage

__all__ = [
    "Suolink",
    "SuolinkFlask",
    "create_app",
    "get_shortener",
    "protect_request",
    "shadowed_routes",
]

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
        req = flask.request
        if quick and req.method in _NO_BODY and state.api.resolves_quickly():
            environ = req.environ
            if _bodiless(environ):
                base_url = _base_url(environ, state, req)
                return _response(_resolve(state, params["code"], environ, base_url))
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
#: Base URLs by (scheme, Host, server name, port, link prefix): ``host_url`` is costly.
_BASE_URLS: dict[tuple[Any, ...], str] = {}
_BASE_URLS_MAX: Final = 256


def _bodiless(environ: WSGIEnvironment) -> bool:
    """No body is announced (else the usual path reads it, within its limit)."""
    return not (environ.get("CONTENT_LENGTH") or environ.get("CONTENT_TYPE"))


def _resolve(state: _State, code: str, environ: WSGIEnvironment, base_url: str) -> Decision:
    """``handle("resolve", …)`` of a bodiless GET or HEAD, its Visitor read from the WSGI
    environ (:func:`~suolink.http.request.visitor_from_environ`), no HttpRequest made."""
    head = environ["REQUEST_METHOD"] == "HEAD"
    visitor = visitor_from_environ(environ, _query(environ))
    return state.api.resolve_visit(code, visitor, base_url, head)


def _query(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    """``request.args.items(multi=True)``, parsed as Werkzeug parses them (invalid bytes
    stay percent-encoded), without the request."""
    text: str = environ.get("QUERY_STRING", "")
    if not text:
        return ()
    decoded = text.encode("latin-1").decode()
    return tuple(parse_qsl(decoded, keep_blank_values=True, errors="werkzeug.url_quote"))


def _base_url(environ: WSGIEnvironment, state: _State, req: flask.Request | None) -> str:
    """``request.host_url`` without its slash, then where short links live: worked out by
    Werkzeug once per origin (``req``, or a plain Werkzeug request), then remembered."""
    origin = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        state.link_prefix,
    )
    base_url = _BASE_URLS.get(origin)
    if base_url is None:
        host_url = (req or Request(environ)).host_url
        base_url = host_url.rstrip("/") + state.link_prefix
        if len(_BASE_URLS) >= _BASE_URLS_MAX:
            _BASE_URLS.clear()
        _BASE_URLS[origin] = base_url
    return base_url


def _response(decision: Decision) -> flask.Response:
    body = decision.chunks if isinstance(decision, StreamedDecision) else decision.body
    return flask.Response(body, status=decision.status, headers=list(decision.headers))


#: Encoded status and headers of the bodiless Decisions answered again and again (a
#: planned redirect is one object per link and kind of client), by ``id``; the Decision
#: is kept, so its id is not reused while the entry lives.
_ENCODED: dict[int, tuple[Decision, str, list[tuple[str, str]]]] = {}
_ENCODED_MAX: Final = 4096


def _send(
    decision: Decision, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """``_response(decision)(environ, start_response)``; a bodiless answer's status and
    headers as Werkzeug makes them (``Location`` as a URI, ``Content-Length``…), made
    once per Decision object."""
    if decision.body or isinstance(decision, StreamedDecision):
        return _response(decision)(environ, start_response)
    known = _ENCODED.get(id(decision))
    if known is None or known[0] is not decision:
        response = _response(decision)
        headers = response.get_wsgi_headers(environ).to_wsgi_list()
        known = (decision, response.status, headers)
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[id(decision)] = known
    start_response(known[1], list(known[2]))
    return []


#: Flask's per-request signals: a receiver may expect every request to send them.
_SIGNALS: Final = (
    flask_signals.request_started,
    flask_signals.request_finished,
    flask_signals.request_tearing_down,
    flask_signals.got_request_exception,
    flask_signals.appcontext_pushed,
    flask_signals.appcontext_popped,
    flask_signals.appcontext_tearing_down,
)


class SuolinkFlask(flask.Flask):
    """The Flask app :func:`create_app` makes; a visit to a short link skips Flask.

    A bodiless ``GET``/``HEAD`` of ``<link prefix>/<code>`` (one path segment, ASCII, no
    dot) is answered from the WSGI environ, without a request context, the router and a
    ``Response`` object: the same answer the ``resolve`` view gives (its Visitor, base URL
    and headers are worked out as Werkzeug works them out). Only while nothing Flask runs
    per request could change that answer: no request hooks or signal receivers, no
    ``SERVER_NAME``/``TRUSTED_HOSTS``, no session cookie to refresh, Flask's own request,
    response and session classes, and only suolink's routes (and ``static``), the short
    link's path routed to ``resolve``. Anything else goes through Flask as usual.
    """

    #: ``(rules key, short links' path prefix, exact paths other routes own)`` or
    #: ``(rules key, None, …)`` when the routes rule the shortcut out.
    _short_links: tuple[tuple[int, int, int], str | None, frozenset[str]] | None = None

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        if environ.get("REQUEST_METHOD") in _NO_BODY and _bodiless(environ):
            state = self.extensions.get(EXTENSION_KEY)
            if isinstance(state, _State):
                code = self._short_code(environ, state)
                if code is not None:
                    return self._answer(state, code, environ, start_response)
        return super().wsgi_app(environ, start_response)

    def _short_code(self, environ: WSGIEnvironment, state: _State) -> str | None:
        """The code a request for a short link names, if Flask may be skipped; else None."""
        path: str = environ.get("PATH_INFO", "")
        prefix = self._prefix(state)
        if prefix is None or not path.startswith(prefix[0]) or path in prefix[1]:
            return None
        code = path[len(prefix[0]) :]
        if not code or "/" in code or "." in code or not code.isascii():
            return None
        config = self.config
        if config["SERVER_NAME"] or config["TRUSTED_HOSTS"] is not None:
            return None
        if self.secret_key and config["SESSION_COOKIE_NAME"] in environ.get("HTTP_COOKIE", ""):
            return None  # a permanent session's cookie may be sent again
        if (
            any(self.before_request_funcs.values())
            or any(self.after_request_funcs.values())
            or any(self.teardown_request_funcs.values())
            or any(self.url_value_preprocessors.values())
            or self.teardown_appcontext_funcs
            or any(signal.receivers for signal in _SIGNALS)
            or self.request_class is not flask.Request
            or self.response_class is not flask.Response
            or type(self.session_interface) is not SecureCookieSessionInterface
        ):
            return None
        return code

    def _prefix(self, state: _State) -> tuple[str, frozenset[str]] | None:
        """The short links' path prefix and the exact paths other routes own, worked out
        again whenever routes are added; None if a route other than ``resolve`` (or not
        suolink's) could answer a short link's path."""
        # Flask adds routes through add_url_rule (which forgets this); a rule added to
        # url_map directly shows in its endpoints (Map's rule list is rebuilt per read)
        endpoints = getattr(self.url_map, "_rules_by_endpoint", None)
        count = len(endpoints) if endpoints is not None else len(list(self.url_map.iter_rules()))
        key = (id(state), id(self.url_map), count)
        known = self._short_links
        if known is None or known[0] != key:
            known = (key, *_short_link_routes(self, state))
            self._short_links = known
        return None if known[1] is None else (known[1], known[2])

    def add_url_rule(self, *args: Any, **kwargs: Any) -> None:
        self._short_links = None  # the routes change: work the shortcut out again
        super().add_url_rule(*args, **kwargs)

    def _answer(
        self, state: _State, code: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        self._got_first_request = True  # as Flask's dispatch sets it: setup is over
        try:
            decision = _resolve(state, code, environ, _base_url(environ, state, None))
        except Exception as exc:  # a bug: answered as Flask answers a view's exception
            with self.request_context(environ):
                response = self.handle_exception(exc)
            return response(environ, start_response)
        return _send(decision, environ, start_response)


def _short_link_routes(app: flask.Flask, state: _State) -> tuple[str | None, frozenset[str]]:
    """For :meth:`SuolinkFlask._prefix`: ``(prefix, paths other routes own)``, or
    ``(None, …)`` when the shortcut could answer for another route."""
    taken: set[str] = set()
    if not state.api.resolves_quickly() or app.url_map.host_matching:
        return None, frozenset()
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.endpoint.startswith(EXTENSION_KEY + "."):
            return None, frozenset()  # a host route: Werkzeug's ordering decides
        if not rule.arguments:
            taken.update(path for path in (rule.rule, rule.rule.rstrip("/")) if path)
    prefix = state.link_prefix.rstrip("/") + "/"
    router = app.url_map.bind("localhost")
    for method in _NO_BODY:
        try:
            endpoint, args = router.match(prefix + _PROBE_CODE, method=method)
        except Exception:  # not found, a redirect: not the resolve route
            return None, frozenset()
        if endpoint != f"{EXTENSION_KEY}.resolve" or args != {"code": _PROBE_CODE}:
            return None, frozenset()
    return prefix, frozenset(taken)


def create_app(storage: str | Storage | None = None, **options: Any) -> flask.Flask:
    """The ready-made suolink web app that ``suolink serve`` and gunicorn run.

    Settings come from arguments, then ``SUOLINK_*`` environment variables (checked
    and copied into ``app.config``), then defaults.
    """
    app = SuolinkFlask("suolink")
    app.config.update(from_environ(os.environ, adapter=ADAPTER).as_keys(KeyStyle.ENVIRON))
    if storage is not None:
        options["storage"] = storage
    Suolink(app, **options)
    return app
