"""Ops console for the OCPI protocol layer: the exchange log (read-only)."""

from __future__ import annotations

from typing import Any

import simplejson
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    OpsModelAdmin,
    ReadOnlyAdminMixin,
    RecentValuesListFilter,
)
from apps.ocpi.common import jsonutil
from apps.ocpi.models import ExchangeLogEntry

URL_COLUMN_CHARS = 70


def pretty_body(text: str) -> str:
    """A logged body in ``<pre>``: indented when it is JSON, as stored otherwise; escaped."""
    if not text:
        return EMPTY
    try:
        shown = simplejson.dumps(
            jsonutil.loads(text), indent=2, use_decimal=True, ensure_ascii=False
        )
    except (ValueError, RecursionError):
        shown = text
    return format_html('<pre class="roamdesk-json">{}</pre>', shown)


class _RangeListFilter(admin.SimpleListFilter):
    """Choices that each stand for a half-open range of an integer column (or for "empty")."""

    field_name = ""
    ranges: dict[str, tuple[str, tuple[int, int] | None]] = {}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _bounds) in self.ranges.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        choice = self.ranges.get(self.value() or "")
        if choice is None:
            return queryset
        bounds = choice[1]
        if bounds is None:
            return queryset.filter(**{f"{self.field_name}__isnull": True})
        low, high = bounds
        return queryset.filter(**{f"{self.field_name}__gte": low, f"{self.field_name}__lt": high})


class HttpStatusClassFilter(_RangeListFilter):
    title = "HTTP status"
    parameter_name = "http_class"
    field_name = "http_status"
    ranges = {
        "2xx": ("2xx", (200, 300)),
        "3xx": ("3xx", (300, 400)),
        "4xx": ("4xx", (400, 500)),
        "5xx": ("5xx", (500, 600)),
        "none": ("no answer", None),
    }


class OcpiStatusClassFilter(_RangeListFilter):
    title = "OCPI status"
    parameter_name = "ocpi_class"
    field_name = "ocpi_status"
    ranges = {
        "success": ("success (1xxx)", (1000, 2000)),
        "client": ("client error (2xxx)", (2000, 3000)),
        "server": ("server error (3xxx)", (3000, 4000)),
        "hub": ("hub error (4xxx)", (4000, 5000)),
        "none": ("no OCPI status", None),
    }


class ModuleFilter(RecentValuesListFilter):
    title = "module"
    parameter_name = "module"
    field_name = "module"


@admin.register(ExchangeLogEntry)
class ExchangeLogEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = (
        "created_at",
        "direction",
        "connection",
        "method",
        "module",
        "short_url",
        "http_status",
        "ocpi_status",
        "duration_ms",
        "request_id",
        "correlation_id",
    )
    list_select_related = ("connection", "connection__partner")
    list_filter = (
        "direction",
        "connection",
        ModuleFilter,
        HttpStatusClassFilter,
        OcpiStatusClassFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("url", "=request_id", "=correlation_id")
    fields = (
        "created_at",
        ("direction", "connection"),
        ("method", "module"),
        "url",
        ("http_status", "ocpi_status", "duration_ms"),
        ("request_id", "correlation_id"),
        ("request_size", "response_size"),
        "error",
        "request_body",
        "response_body",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.model._meta.concrete_fields:
            if field.name in ("request_body", "response_body"):
                self.swap_field(field, "_pretty", pretty_body)

    @admin.display(description="URL", ordering="url")
    def short_url(self, obj: ExchangeLogEntry) -> str:
        url = obj.url
        if len(url) <= URL_COLUMN_CHARS:
            return url
        return format_html('<span title="{}">{}…</span>', url, url[: URL_COLUMN_CHARS - 1])


# Last: it replaces the partners app's connection admin with the OCPI one.
from apps.ocpi import admin_connections  # noqa: E402, F401
