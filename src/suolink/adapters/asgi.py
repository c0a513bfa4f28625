"""ASGI adapter: a Starlette app serving the HTTP surface of :mod:`suolink.http`.

``create_app()`` reads its settings from arguments, then ``SUOLINK_*`` environment
variables, then defaults (the one option spec of :mod:`suolink.config`), so
``uvicorn --factory suolink.adapters.asgi:create_app`` serves it. Mount it in FastAPI or
Starlette under a prefix; short URLs and QR codes then carry the mount's ``root_path``.
Endpoints only translate an ASGI scope into an :class:`~suolink.http.HttpRequest` and a
:class:`~suolink.models.Decision` back into ASGI messages. The core is synchronous, so
the work of a network store (Redis, PostgreSQL, …) runs in a worker thread: the event
loop never waits for a network round trip (and concurrent visits can share a commit).

A short link on a store that reads links in this process (``memory://``, SQLite with
its link cache, and Redis with the links it read and checks by version in the visit's
script: :class:`~suolink.backends.base.HoldsLinksInProcess`) is resolved on
the event loop itself: a thread hop and a thread waiting for its commit cost far more
than the redirect (measured: ``benchmarks/README.md``). Its visit's durable write is
deferred (:func:`~suolink.backends.batching.deferring`) and awaited before the answer
is sent, so an answered redirect's visit is still written; a visit the store must
check first (a ``max_visits`` count) sends the request to a worker thread instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl

from ..errors import ConfigurationError, InvalidOption, MissingDependencyError

try:
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.datastructures import URL, Headers, UploadFile
    from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
    from starlette.routing import Route as StarletteRoute
    from starlette.types import Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingDependencyError("the ASGI adapter", "asgi", module="starlette") from exc

from ..backends.base import HoldsLinksInProcess
from ..backends.batching import CommitWouldWait, deferring
from ..backends.memory import MemoryStorage
from ..config import app_options
from ..domain_checks import periodic_checks
from ..errors import LinkNotFound, SuolinkError
from ..http.mounting import Mounted, body_too_large, mount, page_visitor
from ..http.request import HttpRequest, visitor_from_raw
from ..http.responses import error_response
from ..models import Decision, StreamedDecision, VisitResult
from ..options import protect_rules
from ..shortener import Shortener

if TYPE_CHECKING:
    from ..backends.base import Storage

__all__ = [
    "ProtectedPage",
    "SuolinkApp",
    "create_app",
    "get_shortener",
    "protect",
    "protect_request",
    "protected_page_handler",
]

log = logging.getLogger("suolink.asgi")

#: This adapter's name in the option spec (:mod:`suolink.config`).
ADAPTER: Final = "asgi"
_Result = TypeVar("_Result")
_FORMS: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_NO_BODY: Final = frozenset({"GET", "HEAD"})


#: Worker threads per app for the core's storage work: enough for a commit group's worth
#: of redirects waiting at once, few enough that the GIL is not fought over.
THREADS: Final = 32
#: Distinct (scheme, Host, root_path) base URLs remembered per app (then forgotten at once).
_BASE_URLS: Final = 256


@dataclass(frozen=True, slots=True)
class _State:
    """One app's parts, in ``app.state.suolink``; two apps in one process keep their own."""

    parts: Mounted
    #: Run the core on the event loop (an in-process store never waits) or in a thread.
    inline: bool
    #: Resolve short links on the event loop, visits' writes deferred (see the module).
    links_on_loop: bool
    #: Close the Shortener at lifespan shutdown (it was built here, not handed in).
    owns_shortener: bool
    #: Where the core runs when not inline; its threads start on first use.
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(THREADS, thread_name_prefix="suolink")
    )
    #: Base URLs already worked out, by (scheme, Host header, server, root_path).
    base_urls: dict[tuple[Any, ...], str] = field(default_factory=dict)

    async def run(self, call: Callable[..., _Result], *args: Any) -> _Result:
        """``call(*args)``, off the event loop unless the store is in-process.

        A plain executor, not ``anyio.to_thread``: measured 4-7x cheaper per call when
        requests overlap (``benchmarks/README.md``), which is the redirect's whole budget.
        """
        if self.inline:
            return call(*args)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call, *args)


def create_app(
    storage: str | Storage | None = None,
    *,
    shortener: Shortener | None = None,
    **options: Any,
) -> Starlette:
    """The suolink web app as a Starlette application (``uvicorn --factory`` runs it).

    Settings come from arguments, then ``SUOLINK_*`` environment variables, then
    defaults; an unknown argument is an ``InvalidSetting``. Pass ``shortener`` to serve
    one the host built (the app then leaves closing it to the host). At lifespan
    shutdown the app closes the Shortener it built (pending visits are written first).
    """
    if storage is not None:
        options["storage"] = storage
    settings = app_options(options, os.environ, adapter=ADAPTER)
    parts = mount(settings, shortener=shortener, log=log)
    storage_now = parts.shortener.storage
    inline = isinstance(storage_now, MemoryStorage)
    abuse = parts.shortener.abuse
    state = _State(
        parts,
        inline=inline,
        # a host's check_url hook may wait on the network: then links go to threads too
        links_on_loop=not inline
        and isinstance(storage_now, HoldsLinksInProcess)
        and not (abuse.check_on_resolve and abuse.active),
        owns_shortener=shortener is None,
    )
    checks = periodic_checks(
        parts.shortener,
        settings.get("check_domains_every"),
        checker=settings.get("domain_checker"),
        storage_url=parts.shortener.storage.url,
    )
    endpoints = {route.name: _Endpoint(state, route.name) for route in parts.routes}
    routes = [
        StarletteRoute(
            _starlette_path(parts.path(route)),
            endpoint=endpoints[route.name],
            methods=list(route.methods),
            name=f"suolink:{route.name}",
        )
        for route in parts.routes
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if checks is not None:  # check_domains_every: a daemon thread, stopped first
            checks.start()
        yield
        if checks is not None:
            await anyio.to_thread.run_sync(checks.stop)
        if state.owns_shortener:
            await anyio.to_thread.run_sync(state.parts.shortener.close)
        # the executor stays: a host may serve an app it handed a Shortener to again

    app = SuolinkApp(routes=routes, lifespan=lifespan)
    app.state.suolink = state
    app.short_links = (parts.link_prefix + "/", endpoints["resolve"])
    return app


class SuolinkApp(Starlette):
    """The Starlette app :func:`create_app` makes; a visit to a short link skips the router.

    ``GET``/``HEAD`` of ``<link prefix>/<code>`` (one path segment, no dot) can only be
    the ``resolve`` route, whatever else is mounted, so it goes straight to its endpoint:
    the most common request does not try a dozen patterns and two middlewares first.
    """

    #: The short links' path prefix and the endpoint that resolves them.
    short_links: tuple[str, _Endpoint] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.short_links
        if fast is not None and scope["type"] == "http" and scope["method"] in _NO_BODY:
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            prefix, endpoint = fast
            if path.startswith(prefix):
                code = path[len(prefix) :]
                if code and "/" not in code and "." not in code:
                    scope["path_params"] = {"code": code}
                    await endpoint(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def _starlette_path(pattern: str) -> str:
    """``/<code>.png`` → ``/{code}.png``, ``/api/<path:rest>`` → ``/api/{rest:path}``."""
    return re.sub(r"<(\w+)>", r"{\1}", pattern.replace("<path:rest>", "{rest:path}"))


def _state(app: Any) -> _State:
    state = getattr(getattr(app, "state", None), "suolink", None)
    if not isinstance(state, _State):
        raise ConfigurationError(
            "not a suolink ASGI app: pass the app suolink.adapters.asgi.create_app() made"
        )
    return state


def get_shortener(app: Starlette) -> Shortener:
    """The Shortener the app made by :func:`create_app` serves."""
    return _state(app).parts.shortener


class _Endpoint:
    """The raw ASGI endpoint of one route: scope in, the core's Decision out."""

    def __init__(self, state: _State, route: str) -> None:
        self.state = state
        self.route = route
        self.limit = state.parts.api.body_limit(route)
        self.on_loop = route == "resolve" and state.links_on_loop
        #: GET/HEAD of a short link skip the HttpRequest: its Visitor is read from the raw
        #: headers (the route is public and reads no query of its own: nothing to check).
        self.quick = route == "resolve" and state.parts.api.resolves_quickly()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        if self.quick and scope["method"] in _NO_BODY:
            await self._resolve(scope, send)
            return
        request = await _http_request(scope, receive, self.limit, state)
        if isinstance(request, Decision):
            decision = request
        else:
            params = {k: str(v) for k, v in scope.get("path_params", {}).items()}
            handle = functools.partial(state.parts.api.handle, self.route, request, **params)
            if self.on_loop and request.method in _NO_BODY:
                decision = await self._on_loop(handle)
            else:
                decision = await state.run(handle)
        await _send(decision, scope["method"] == "HEAD", send, state)

    async def _resolve(self, scope: Scope, send: Send) -> None:
        """A GET or HEAD of a short link: ``handle`` as it would answer, from raw headers."""
        state = self.state
        client = scope.get("client")
        visitor, host = visitor_from_raw(
            scope["headers"], client[0] if client else None, scope.get("query_string", b"")
        )
        head = scope["method"] == "HEAD"
        handle = functools.partial(
            state.parts.api.resolve_visit,
            str(scope["path_params"]["code"]),
            visitor,
            _base_url(scope, host, state),
            head,
        )
        if self.on_loop:
            decision = await self._on_loop(handle)
        else:
            decision = await state.run(handle)
        await _send(decision, head, send, state)

    async def _on_loop(self, handle: Callable[[], Decision]) -> Decision:
        """``handle()`` on the event loop, its visit's write awaited before the answer.

        To a worker thread instead if a write must be waited for (nothing was written),
        or if a deferred visit was refused after all (a ``max_visits`` set, or the link
        deleted, meanwhile: nothing was recorded, so the policy's answer is asked again).
        """
        try:
            with deferring() as deferred:
                decision = handle()
        except CommitWouldWait:
            return await self.state.run(handle)
        for future in deferred.pending:
            try:
                result = await future
            except LinkNotFound:
                return await self.state.run(handle)
            except SuolinkError as exc:
                return self.state.parts.api.failure(self.route, exc)
            if isinstance(result, VisitResult) and not result.allowed:
                return await self.state.run(handle)
        return decision


class _TooLarge(Exception):
    """The body went past its route's limit while it was being read."""


async def _capped_body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body a chunk at a time; ``_TooLarge`` once it passes ``limit`` bytes."""
    seen = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        chunk: bytes = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise _TooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _base_url(scope: Scope, host: str | None, state: _State) -> str:
    """Scheme, host (the first ``Host`` header) and the mount's ``root_path``, then where
    short links live in the app.

    Worked out by Starlette's ``URL`` (which falls back to the server's address for a
    malformed Host) once per distinct request origin, then remembered.
    """
    root_path = scope.get("root_path", "")
    server = scope.get("server")
    key = (scope.get("scheme"), host, tuple(server) if server else None, root_path)
    known = state.base_urls.get(key)
    if known is None:
        root = URL(scope={**scope, "path": root_path, "query_string": b""})
        known = str(root).rstrip("/") + state.parts.link_prefix
        if len(state.base_urls) >= _BASE_URLS:
            state.base_urls.clear()
        state.base_urls[key] = known
    return known


async def _http_request(
    scope: Scope, receive: Receive, limit: int, state: _State
) -> HttpRequest | Decision:
    """The core's view of the request, or the 4xx Decision if its body is refused."""
    method: str = scope["method"]
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    form: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    body = b""
    if method not in _NO_BODY:
        length = next((v for k, v in headers if k == "content-length"), "")
        if length.strip().isdigit() and int(length) > limit:
            return body_too_large(limit)
        ctype = next((v for k, v in headers if k == "content-type"), "")
        try:
            if ctype.split(";")[0].strip().lower() in _FORMS:
                form, files = await _form(scope, _capped_body(receive, limit), limit)
            else:
                body = b"".join([chunk async for chunk in _capped_body(receive, limit)])
        except _TooLarge:
            return body_too_large(limit)
        except MultiPartException:
            return error_response(InvalidOption("body", "the multipart form could not be read"))
    client = scope.get("client")
    query = scope.get("query_string", b"").decode("latin-1")
    return HttpRequest(
        method=method,  # a HEAD stays one: the core records nothing for it
        path=scope["path"],
        query=tuple(parse_qsl(query, keep_blank_values=True)) if query else (),
        headers=headers,
        body=body,
        remote_addr=client[0] if client else None,
        form=form,
        files=files,
        base_url=_base_url(scope, next((v for k, v in headers if k == "host"), None), state),
    )


async def _form(
    scope: Scope, stream: AsyncIterator[bytes], limit: int
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, bytes], ...]]:
    """A form body's fields and files, parsed as it streams in (within ``limit``)."""
    headers = Headers(scope=scope)
    parser: FormParser | MultiPartParser
    if headers.get("content-type", "").lower().startswith("multipart/form-data"):
        parser = MultiPartParser(headers, stream, max_part_size=limit)  # type: ignore[arg-type]
    else:
        parser = FormParser(headers, stream)  # type: ignore[arg-type]
    parsed = await parser.parse()
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, bytes]] = []
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                files.append((name, await value.read(limit + 1)))
            else:
                fields.append((name, value))
    finally:
        await parsed.close()
    return tuple(fields), tuple(files)


def _raw_headers(decision: Decision, length: int | None) -> list[tuple[bytes, bytes]]:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers]
    if length is not None:
        raw.append((b"content-length", str(length).encode()))
    return raw


#: Encoded headers of the Decisions answered again and again (a planned redirect is one
#: object per link and kind of client), by ``id``; the Decision is kept, so its id is not
#: reused while the entry lives.
_ENCODED: dict[int, tuple[Decision, list[tuple[bytes, bytes]]]] = {}
_ENCODED_MAX: Final = 4096


def _redirect_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """``_raw_headers`` of a bodiless answer, encoded once per Decision object."""
    known = _ENCODED.get(id(decision))
    if known is not None and known[0] is decision:
        return known[1]
    raw = _raw_headers(decision, 0)
    if len(_ENCODED) >= _ENCODED_MAX:
        _ENCODED.clear()
    _ENCODED[id(decision)] = (decision, raw)
    return raw


async def _send(decision: Decision, head: bool, send: Send, state: _State) -> None:
    """Send ``decision`` as it is; exports stream, a HEAD gets the headers alone."""
    if isinstance(decision, StreamedDecision):
        start = {"type": "http.response.start", "status": decision.status}
        await send({**start, "headers": _raw_headers(decision, None)})
        if not head:
            chunks = iter(decision.chunks)
            while (chunk := await state.run(next, chunks, None)) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = decision.body
    headers = _redirect_headers(decision) if not body else _raw_headers(decision, len(body))
    await send({"type": "http.response.start", "status": decision.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _response(decision: Decision) -> Response:
    """``decision`` as a Starlette response (for hosts' own routes and handlers)."""
    body = decision.collect() if isinstance(decision, StreamedDecision) else decision.body
    response = Response(body, status_code=decision.status)
    response.raw_headers = _raw_headers(decision, len(body))
    return response


# -- protect: a link's rules in front of a host's own routes ------------------------------


class ProtectedPage(Exception):
    """Raised by :func:`protect`'s dependency: send :attr:`response` instead of the route.

    Register :func:`protected_page_handler` for it (``exception_handlers={ProtectedPage:
    protected_page_handler}``), so the guide or refusal page reaches the visitor.
    """

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason or "protected")
        self.decision = decision

    @property
    def response(self) -> Response:
        """The guide page or the refusal, ready to send."""
        return _response(self.decision)


async def protected_page_handler(request: Request, exc: Exception) -> Response:
    """The exception handler that sends a :class:`ProtectedPage`'s page."""
    if not isinstance(exc, ProtectedPage):  # pragma: no cover - registered for it alone
        raise exc
    return exc.response


def protect_request(
    connection: HTTPConnection,
    source: Starlette | Shortener,
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> Response | None:
    """The page to send instead of the host's route at ``connection``, or None to go on.

    ``source`` is the app :func:`create_app` made (or a Shortener). Nothing is stored.
    """
    rules = protect_rules(
        anti_block=anti_block, anti_block_mode=anti_block_mode, allow=allow, deny=deny
    )
    decision = _protect(connection, source, rules)
    return None if decision is None else _response(decision)


def _protect(
    connection: HTTPConnection, source: Starlette | Shortener, rules: dict[str, Any]
) -> Decision | None:
    shortener = source if isinstance(source, Shortener) else get_shortener(source)
    client = connection.client
    visitor = page_visitor(connection.headers.items(), client.host if client else None)
    return shortener.protect(visitor, url=str(connection.url), **rules)


def protect(
    source: Starlette | Shortener,
    *,
    anti_block: Iterable[str] | None = None,
    anti_block_mode: str | None = None,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency giving a route a link's anti-block and access rules.

    ``Depends(protect(links, anti_block=["wechat"]))``: visitors inside a blocking app
    get the guide page, those ``allow``/``deny`` refuse the refusal page (both raised as
    :class:`ProtectedPage`), everyone else the route. Unknown platform names fail here.
    """
    rules = protect_rules(
        anti_block=anti_block, anti_block_mode=anti_block_mode, allow=allow, deny=deny
    )
    shortener = source if isinstance(source, Shortener) else get_shortener(source)

    async def dependency(request: Request) -> None:
        decision = _protect(request, shortener, rules)
        if decision is not None:
            raise ProtectedPage(decision)

    return dependency
