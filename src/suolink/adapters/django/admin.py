"""The admin for the ``django://`` backend: links through the configured Shortener.

Creating and changing a link go through ``get_shortener().shorten`` / ``.update`` (see
:class:`~suolink.adapters.django.forms.LinkForm`), so the admin refuses what the API
refuses, with the Shortener's words as form errors. Deleting goes through the backend,
so the tag index and visits go with the link. The change page shows the short URL, the
QR code and the stats from the Shortener, and the latest visits inline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse

from ...backends._common import to_micros
from ...domains import DEFAULT_POOL, check_domain_name, check_pool, domain_from_json
from ...errors import SuolinkError
from .conf import suolink_options
from .forms import LinkForm
from .models import Domain, Link, LinkTag, Visit
from .state import get_shortener
from .storage import DjangoStorage
from .summary import summarize

__all__ = ["DomainAdmin", "DomainForm", "ExpiredFilter", "LinkAdmin", "TagFilter", "VisitInline"]

#: How many of a link's visits the change page shows (newest first).
INLINE_VISITS = 50


class TagFilter(admin.SimpleListFilter):
    """Filter links by one of their tags (through the indexed tag table)."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        tags = LinkTag.objects.values_list("tag", flat=True).distinct().order_by("tag")[:200]
        return [(tag, tag) for tag in tags]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(tag_rows__tag=value)


class ExpiredFilter(admin.SimpleListFilter):
    """Links past their expiry time, or not (compared in exact microseconds)."""

    title = "expired"
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = to_micros(datetime.now(UTC))
        if self.value() == "yes":
            return queryset.filter(expires_us__lte=now)
        if self.value() == "no":
            return queryset.filter(Q(expires_us__isnull=True) | Q(expires_us__gt=now))
        return queryset


class _LatestVisits(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()
        latest = list(
            queryset.order_by("-at_us", "-id").values_list("id", flat=True)[:INLINE_VISITS]
        )
        return queryset.filter(id__in=latest).order_by("-at_us", "-id")


class VisitInline(admin.TabularInline):
    """The latest visits of a link, read-only."""

    model = Visit
    formset = _LatestVisits
    fields = ("at", "outcome", "app", "os", "device", "browser", "is_bot", "referer", "language")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = f"latest visits (up to {INLINE_VISITS})"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_LINK = ("url", "title", "tags")
_RULES = ("expires_at", "max_visits", "disabled", "language")
_ANTI_BLOCK = ("anti_block_mode", "anti_block")
_ACCESS = ("allow", "deny", "targets")


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    """Links: search by code, URL or title; filter by tag, state, expiry, date, mode."""

    form = LinkForm
    list_display = ("code", "url", "title", "visits", "created_at", "expires_at", "disabled")
    search_fields = ("code", "url", "title")
    list_filter = (
        TagFilter,
        "disabled",
        ExpiredFilter,
        ("created_at", admin.DateFieldListFilter),
        "anti_block_mode",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_us", "-code")
    readonly_fields = ("code", "visits", "created_at", "has_password")
    list_per_page = 50

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[Any]]:
        return [] if obj is None else [VisitInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[Any, Any]]:
        if obj is None:
            head: tuple[str, ...] = ("code", *_LINK)
            password: tuple[str, ...] = ("password",)
        else:
            head = ("code", *_LINK, "visits", "created_at")
            password = ("has_password", "password", "clear_password")
        return [
            (None, {"fields": head}),
            ("Rules", {"fields": (*_RULES, *password)}),
            ("Anti-block", {"fields": _ANTI_BLOCK}),
            ("Access and targets", {"fields": _ACCESS}),
        ]

    @admin.display(boolean=True, description="password set")
    def has_password(self, obj: Link) -> bool:
        return obj.password_hash is not None

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The change page, with the link's short URL, QR code and stats above the form."""
        context = dict(extra_context or {})
        code = unquote(object_id)
        if Link.objects.filter(pk=code).exists():
            context["suolink_summary"] = summarize(get_shortener(), code, request)
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: Link, form: Any, change: bool) -> None:
        """Nothing to do: :class:`LinkForm` stored the link through the Shortener."""

    def _storage(self, obj: Link) -> DjangoStorage:
        return DjangoStorage(f"django://{obj._state.db or 'default'}")

    def delete_model(self, request: HttpRequest, obj: Link) -> None:
        # Retire the code (a tombstone) unless SUOLINK["REUSE_DELETED_CODES"] says not to.
        reuse = bool(suolink_options().get("reuse_deleted_codes"))
        self._storage(obj).delete(obj.code, tombstone=not reuse)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    # -- people: campaigns and their leaderboards (docs/people.md) ----------------------

    def get_urls(self) -> list[Any]:
        from django.urls import path

        extra = [
            path(
                "campaigns/",
                self.admin_site.admin_view(self.campaigns_view),
                name="suolink_campaigns",
            ),
        ]
        own: list[Any] = super().get_urls()
        return extra + own

    def campaigns_view(self, request: HttpRequest) -> HttpResponse:
        """Campaigns with their totals, and the chosen one's leaderboard of recipients
        (``?campaign=``), read through the Shortener: any backend that tracks people."""
        from django.template.response import TemplateResponse

        shortener = get_shortener()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Campaigns",
            "opts": self.model._meta,
        }
        try:
            campaigns = shortener.campaigns()
            chosen = request.GET.get("campaign") or next(iter(campaigns), None)
            if chosen is not None:
                rows = shortener.top_recipients(chosen, limit=100)
                top = max((row.clicks for row in rows), default=0) or 1
                context["board"] = [(row, 100.0 * row.clicks / top) for row in rows]
                context["totals"] = shortener.people_totals(chosen)
            context.update(campaigns=campaigns, chosen=chosen)
        except SuolinkError as exc:
            context["problem"] = exc.message
        return TemplateResponse(request, "admin/suolink/campaigns.html", context)


# -- short domains ----------------------------------------------------------------------


class DomainForm(forms.ModelForm):
    """Add a domain (name, pool, default) or change its pool and default, through the
    Shortener: its checks and words, and the other domains lose ``default``."""

    pool = forms.CharField(initial=DEFAULT_POOL, max_length=32)
    default = forms.BooleanField(required=False)

    class Meta:
        model = Domain
        fields = ("name",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            stored = domain_from_json(self.instance.data)
            self.fields["pool"].initial = stored.pool
            self.fields["default"].initial = stored.default

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if not self.instance.pk:
                data["name"] = check_domain_name(data.get("name", ""))[0]
            check_pool(data.get("pool", ""))
        except SuolinkError as exc:
            raise forms.ValidationError(exc.reason) from None
        return data


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    """Short domains: their pool, default, state per platform and last check; actions
    mark them blocked or healthy (``domain.state_changed`` events follow)."""

    form = DomainForm
    list_display = ("name", "pool", "is_default", "states", "last_check")
    ordering = ("added_us", "name")
    actions = ("mark_blocked_wechat", "mark_blocked_qq", "mark_ok_everywhere")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("name", "states", "last_check") if obj is not None else ()

    @staticmethod
    def _domain(obj: Domain) -> Any:
        return domain_from_json(obj.data)

    @admin.display(description="pool")
    def pool(self, obj: Domain) -> str:
        return str(self._domain(obj).pool)

    @admin.display(boolean=True, description="default")
    def is_default(self, obj: Domain) -> bool:
        return bool(self._domain(obj).default)

    @admin.display(description="state")
    def states(self, obj: Domain) -> str:
        found = self._domain(obj).states
        return ", ".join(f"{p}: {s.state.value}" for p, s in sorted(found.items())) or "ok"

    @admin.display(description="last check")
    def last_check(self, obj: Domain) -> str:
        when = self._domain(obj).last_check
        return when.isoformat(timespec="seconds") if when else "never"

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            get_shortener().change_domain(obj.name, pool=data["pool"], default=data["default"])
        else:
            get_shortener().add_domain(obj.name, pool=data["pool"], default=data["default"])

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        get_shortener().remove_domain(obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for name in queryset.values_list("name", flat=True):
            get_shortener().remove_domain(name)

    def _mark(self, queryset: QuerySet[Any], state: str, platforms: list[str] | None) -> None:
        shortener = get_shortener()
        for name in queryset.values_list("name", flat=True):
            if state == "blocked":
                shortener.mark_blocked(name, platforms or [], reason="marked in the admin")
            else:
                shortener.mark_ok(name, platforms)

    @admin.action(description="Mark blocked in WeChat")
    def mark_blocked_wechat(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(queryset, "blocked", ["wechat"])

    @admin.action(description="Mark blocked in QQ")
    def mark_blocked_qq(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(queryset, "blocked", ["qq"])

    @admin.action(description="Mark healthy everywhere")
    def mark_ok_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._mark(queryset, "ok", None)
