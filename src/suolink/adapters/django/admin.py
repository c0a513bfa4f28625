"""The admin for the ``django://`` backend: links with search, tag and date filters,
their latest visits inline, and read-only stats.

Saving and deleting go through :class:`~suolink.adapters.django.storage.DjangoStorage`,
so the tag index and the visit count stay as the backend keeps them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from ...errors import SuolinkError
from ...models import AntiBlockMode
from ...models import Link as CoreLink
from .conf import suolink_options
from .models import Link, LinkTag, Visit
from .storage import DjangoStorage

__all__ = ["LinkAdmin", "TagFilter", "VisitInline"]

#: How many of a link's visits the change page shows (newest first).
INLINE_VISITS = 50
_EDITABLE = (
    "url",
    "title",
    "tags",
    "expires_at",
    "max_visits",
    "disabled",
    "anti_block_mode",
    "language",
)


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


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    """Links: search by code, URL or title; filter by tag, date, state."""

    list_display = ("code", "url", "title", "visits", "created_at", "expires_at", "disabled")
    search_fields = ("code", "url", "title")
    list_filter = (
        TagFilter,
        ("created_at", admin.DateFieldListFilter),
        "disabled",
        "anti_block_mode",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_us", "-code")
    inlines = (VisitInline,)
    readonly_fields = ("visits", "created_at", "has_password", "stats")
    list_per_page = 50

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        head = ["code"] if obj is None else []
        return [*head, *_EDITABLE, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is None else ("code", *self.readonly_fields)

    @admin.display(boolean=True, description="password")
    def has_password(self, obj: Link) -> bool:
        return obj.password_hash is not None

    @admin.display(description="stats")
    def stats(self, obj: Link) -> str:
        """Visits by outcome and by app (read-only)."""
        if obj.pk is None:
            return "-"
        visits = Visit.objects.using(obj._state.db).filter(link_id=obj.pk)
        parts = []
        for label, column in (("outcome", "outcome"), ("app", "app"), ("os", "os")):
            rows = visits.values(column).annotate(n=Count("id")).order_by("-n")[:10]
            items = format_html_join(
                ", ", "{}: {}", ((row[column] or "-", row["n"]) for row in rows)
            )
            parts.append(format_html("<p><b>{}</b> {}</p>", label, items or "-"))
        return str(format_html_join("", "{}", ((part,) for part in parts)))

    def _storage(self, obj: Link) -> DjangoStorage:
        return DjangoStorage(f"django://{obj._state.db or 'default'}")

    def save_model(self, request: HttpRequest, obj: Link, form: Any, change: bool) -> None:
        storage = self._storage(obj)
        data = form.cleaned_data
        try:
            if change:
                changes: dict[str, Any] = {
                    name: data[name] for name in form.changed_data if name in _EDITABLE
                }
                if "anti_block_mode" in changes:
                    changes["anti_block_mode"] = AntiBlockMode(changes["anti_block_mode"])
                if "tags" in changes:
                    changes["tags"] = tuple(changes["tags"] or ())
                if changes:
                    storage.update(obj.code, changes)
            else:
                storage.create(
                    CoreLink(
                        code=data["code"],
                        url=data["url"],
                        title=data.get("title") or None,
                        tags=tuple(data.get("tags") or ()),
                        expires_at=data.get("expires_at"),
                        max_visits=data.get("max_visits"),
                        disabled=bool(data.get("disabled")),
                        anti_block_mode=AntiBlockMode(data.get("anti_block_mode") or "auto"),
                        language=data.get("language") or None,
                    )
                )
        except SuolinkError as exc:
            messages.error(request, f"not saved: {exc}")

    def delete_model(self, request: HttpRequest, obj: Link) -> None:
        # Retire the code (a tombstone) unless SUOLINK["REUSE_DELETED_CODES"] says not to.
        reuse = bool(suolink_options().get("reuse_deleted_codes"))
        self._storage(obj).delete(obj.code, tombstone=not reuse)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
