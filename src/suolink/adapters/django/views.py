"""Views: translate Django requests into :class:`~suolink.api.HttpRequest` and back.

One view per route of :data:`suolink.api.ROUTES`; all parsing, validation, policy and
error mapping happen in :class:`~suolink.api.HttpApi`, so Flask and Django answer alike.
Authorisation adds Django's own on top of the API token (see
:data:`~suolink.adapters.django.state.PERMISSIONS`): a user with ``suolink.add_link`` may
create links, ``view_link`` read and list them, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest as DjangoRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt

from ...api import HttpApi, HttpRequest, error_response
from ...errors import BodyTooLarge, InvalidOption
from ...http.responses import allowed_methods, method_not_allowed
from ...http.routes import ROUTES_BY_NAME
from ...models import Decision, StreamedDecision, Visitor
from .state import current_request, get_api

__all__ = [
    "base_url",
    "http_request",
    "make_async_view",
    "make_view",
    "response",
    "streamed_response",
    "visitor_for",
]


def base_url(request: DjangoRequest) -> str:
    """Scheme, host and the prefix the host project included suolink's urls under."""
    try:
        root = reverse("suolink:index")
    except NoReverseMatch:
        root = "/"
    return str(request.build_absolute_uri(root)).rstrip("/")


def http_request(request: DjangoRequest, limit: int) -> HttpRequest | Decision:
    """The core's view of ``request``, or the 4xx Decision if its body is refused."""
    too_large = error_response(BodyTooLarge(f"the request body is larger than {limit:,} bytes"))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return too_large
    form: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    body = b""
    try:
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = tuple((k, v) for k in request.POST for v in request.POST.getlist(k))
            files = tuple(
                (k, f.read(limit + 1)) for k in request.FILES for f in request.FILES.getlist(k)
            )
        elif request.method not in ("GET", "HEAD"):
            body = request.read(limit + 1)
    except RequestDataTooBig:
        return too_large
    except MultiPartParserError:
        return error_response(InvalidOption("body", "the multipart form could not be read"))
    headers = [
        (name.lower(), value) for name, value in request.headers.items() if isinstance(value, str)
    ]
    return HttpRequest(
        method=str(request.method),  # a HEAD stays one: the core records nothing for it
        path=request.path,
        query=tuple((k, v) for k in request.GET for v in request.GET.getlist(k)),
        headers=tuple(headers),
        body=body,
        remote_addr=request.META.get("REMOTE_ADDR") or None,
        form=form,
        files=files,
        base_url=base_url(request),
    )


def visitor_for(request: DjangoRequest) -> Visitor:
    """The :class:`~suolink.models.Visitor` of a Django request (no body is read)."""
    headers = tuple(
        (name.lower(), value) for name, value in request.headers.items() if isinstance(value, str)
    )
    core = HttpRequest(
        method=str(request.method),
        headers=headers,
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    return HttpApi.visitor(core)


def response(decision: Decision) -> HttpResponse:
    """``decision`` as a Django response, status, headers and body sent as they are."""
    body = decision.collect() if isinstance(decision, StreamedDecision) else decision.body
    return _headed(HttpResponse(body, status=decision.status), decision)


def streamed_response(decision: Decision) -> HttpResponseBase:
    """Like :func:`response`, but an export's chunks are streamed as they are made."""
    if not isinstance(decision, StreamedDecision):
        return response(decision)
    return _headed(StreamingHttpResponse(decision.chunks, status=decision.status), decision)


_Reply = TypeVar("_Reply", bound=HttpResponseBase)


def _headed(reply: _Reply, decision: Decision) -> _Reply:
    if not any(name.lower() == "content-type" for name, _ in decision.headers):
        del reply["Content-Type"]
    for name, value in decision.headers:
        reply[name] = value
    return reply


def _refuse_method(
    request: DjangoRequest, allowed: frozenset[str], route: str = ""
) -> HttpResponse | None:
    """405 for a method the route does not take: JSON for API paths, as the core answers."""
    if request.method in allowed:
        return None
    row = ROUTES_BY_NAME.get(route)
    if row is not None and row.pattern.startswith("/api/"):
        if request.method == "OPTIONS":
            return response(allowed_methods(row.methods))
        return response(method_not_allowed(row.methods))
    refused = HttpResponse(status=405)
    refused["Allow"] = ", ".join(sorted(allowed))
    return refused


def _answer(
    route: str, request: DjangoRequest, params: dict[str, Any], *, stream: bool = True
) -> HttpResponseBase:
    """Everything a view does, synchronously: parse, handle with the core, respond.

    Exports stream unless ``stream`` is false: async views make them in their worker
    thread, since the storage (the ORM among them) must not be read on the event loop.
    """
    api = get_api()
    parsed = http_request(request, api.body_limit(route))
    if isinstance(parsed, Decision):
        return response(parsed)
    with current_request(request):
        decision = api.handle(route, parsed, **{k: str(v) for k, v in params.items()})
    reply = streamed_response(decision) if stream else response(decision)
    if request.method == "HEAD" and isinstance(reply, HttpResponse):
        reply.content = b""
    return reply


def _allowed(methods: tuple[str, ...]) -> frozenset[str]:
    return frozenset(methods) | ({"HEAD"} if "GET" in methods else set())


def make_view(route: str, methods: tuple[str, ...]) -> Callable[..., HttpResponseBase]:
    """The view for the route named ``route`` of :data:`suolink.api.ROUTES`."""
    allowed = _allowed(methods)

    @csrf_exempt  # the API authenticates with tokens; visitor forms carry no session
    def view(request: DjangoRequest, **params: Any) -> HttpResponseBase:
        return _refuse_method(request, allowed, route) or _answer(route, request, params)

    view.__name__ = view.__qualname__ = f"suolink_{route}"
    made: Callable[..., HttpResponseBase] = view
    return made


def make_async_view(route: str, methods: tuple[str, ...]) -> Callable[..., Any]:
    """The async view for ``route``: the same translation, the core run in a worker thread.

    The core (and every storage driver) is synchronous; ``sync_to_async`` keeps the
    event loop free while it runs, and carries the request's context along.
    """
    allowed = _allowed(methods)
    answer = sync_to_async(_answer)

    @csrf_exempt
    async def view(request: DjangoRequest, **params: Any) -> HttpResponseBase:
        refused = _refuse_method(request, allowed, route)
        if refused is not None:
            return refused
        reply: HttpResponseBase = await answer(route, request, params, stream=False)
        return reply

    view.__name__ = view.__qualname__ = f"suolink_async_{route}"
    made: Callable[..., Any] = view
    return made
