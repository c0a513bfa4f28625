"""The test project's URLs: the admin, a host view, and suolink at the root."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from suolink.adapters.django.decorators import protect


def about(request: HttpRequest) -> HttpResponse:
    client = getattr(request, "suolink_client", None)
    return HttpResponse(f"host page; app={getattr(client, 'app', None)}")


@protect(anti_block={"wechat"})
def download(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the download")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("about/", about),
    path("download/", download),
    path("", include("suolink.adapters.django.urls")),
]
