"""``path("s/", include("suolink.adapters.django.urls"))``: every route of the HTTP surface.

Built from :data:`suolink.api.ROUTES`, in its order, so a new route of the core is served
without a change here; ``<code>`` placeholders become ``<str:code>`` converters. Names
are the route names in the ``suolink`` namespace (``reverse("suolink:resolve", …)``).
"""

from __future__ import annotations

import re

from django.urls import URLPattern, path

from ...api import ROUTES
from .views import make_view

app_name = "suolink"

_PLACEHOLDER = re.compile(r"<(\w+)>")


def django_pattern(pattern: str) -> str:
    """``/api/links/<code>`` -> ``api/links/<str:code>`` (Django patterns have no leading /)."""
    return _PLACEHOLDER.sub(r"<str:\1>", pattern.removeprefix("/"))


urlpatterns: list[URLPattern] = [
    path(django_pattern(route.pattern), make_view(route.name, route.methods), name=route.name)
    for route in ROUTES
]
