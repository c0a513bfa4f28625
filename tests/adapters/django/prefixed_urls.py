"""The test project with suolink included under ``s/`` beside host pages."""

from __future__ import annotations

from django.urls import include, path

from tests.adapters.django.urls import about

urlpatterns = [
    path("about/", about),
    path("s/", include("suolink.adapters.django.urls")),
]
