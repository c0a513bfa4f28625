"""``include("suolink.adapters.django.async_urls")``: the same routes as :mod:`.urls`,
served by async views (for ASGI projects that keep their event loop free).

The names and namespace are the same (``suolink:resolve``, …); include one or the other.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from ...api import ROUTES
from .urls import django_pattern
from .views import make_async_view

app_name = "suolink"

urlpatterns: list[URLPattern] = [
    path(django_pattern(route.pattern), make_async_view(route.name, route.methods), name=route.name)
    for route in ROUTES
]
