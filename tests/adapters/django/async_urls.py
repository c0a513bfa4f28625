"""The test project with suolink's async views at the root."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("suolink.adapters.django.async_urls"))]
