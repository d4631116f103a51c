"""Ops console for the OCPI protocol layer: the exchange log (read-only) and the outbox."""

from __future__ import annotations

from typing import Any

import simplejson
from django.contrib import admin, messages
from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    OpsModelAdmin,
    ReadOnlyAdminMixin,
    RecentValuesListFilter,
    format_duration,
)
from apps.ocpi.common import jsonutil
from apps.ocpi.models import DeliveryStatus, ExchangeLogEntry, OutboundDelivery, SyncCursor
from apps.ocpi.services.delivery import deliveries_discard, deliveries_retry_now

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


class BacklogFilter(admin.SimpleListFilter):
    """Defaults to what needs attention: pending and dead deliveries."""

    title = "backlog"
    parameter_name = "backlog"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "Pending and dead"), ("all", "Everything")]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "") == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup} if lookup else {}, [self.parameter_name]
                ),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "all" or "status__exact" in request.GET:
            return queryset
        return queryset.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.DEAD])


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(LargeTableAdminMixin, OpsModelAdmin):
    """The outbox backlog: what waits or failed, by partner and module, with the controls."""

    change_list_template = "admin/ocpi/delivery_change_list.html"
    list_display = (
        "object_label",
        "kind",
        "connection",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_http_status",
        "last_ocpi_status",
        "short_error",
    )
    list_select_related = ("connection", "connection__partner")
    list_filter = (
        BacklogFilter,
        "status",
        "module",
        ("connection__partner", admin.RelatedOnlyFieldListFilter),
        "connection",
    )
    search_fields = ("object_label", "=object_id", "last_error")
    actions = ("retry_now", "discard")
    readonly_fields = [f.name for f in OutboundDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="last error")
    def short_error(self, obj: OutboundDelivery) -> str:
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        # One aggregate query: the backlog per partner and module.
        summary = (
            OutboundDelivery.objects.filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.DEAD]
            )
            .values("connection__partner__name", "connection__name", "module")
            .annotate(
                pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
                dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD)),
                oldest=Min("created_at"),
            )
            .order_by("connection__partner__name", "connection__name", "module")
        )
        context = {"backlog_summary": list(summary[:200]), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboundDelivery]) -> None:
        count = deliveries_retry_now(ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(request, f"{count} deliveries will be retried now.", messages.SUCCESS)

    @admin.action(description="Discard", permissions=["change"])
    def discard(self, request: HttpRequest, queryset: QuerySet[OutboundDelivery]) -> None:
        count = deliveries_discard(ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(request, f"{count} deliveries discarded.", messages.WARNING)


@admin.register(SyncCursor)
class SyncCursorAdmin(OpsModelAdmin):
    """Pull sync per connection and module: schedule (editable), high-water mark, lag, failures,
    and a run that was interrupted (it resumes on the next run)."""

    list_display = (
        "connection",
        "module",
        "enabled",
        "interval_minutes",
        "full_interval_hours",
        "high_water",
        "lag",
        "last_success_at",
        "successes",
        "failures",
        "interrupted",
        "short_error",
    )
    list_editable = ("enabled", "interval_minutes", "full_interval_hours")
    list_select_related = ("connection", "connection__partner")
    list_filter = ("module", "enabled", ("connection__partner", admin.RelatedOnlyFieldListFilter))
    actions = ("sync_now", "full_resync")
    fields = (
        "connection",
        "module",
        "enabled",
        "interval_minutes",
        "full_interval_hours",
        "high_water",
        "last_run_at",
        "last_success_at",
        "last_full_at",
        "successes",
        "failures",
        "last_run_objects",
        "last_run_invalid",
        "last_error",
        "last_error_at",
        "run_started_at",
        "run_full",
        "run_date_from",
        "run_date_to",
        "run_next_url",
        "run_pages",
        "run_objects",
    )
    readonly_fields = tuple(
        f for f in fields if f not in ("enabled", "interval_minutes", "full_interval_hours")
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # cursors are created for every partner endpoint we pull

    @admin.display(description="lag")
    def lag(self, obj: SyncCursor) -> str:
        if obj.high_water is None:
            return EMPTY
        from django.utils import timezone

        return format_duration(timezone.now() - obj.high_water)

    @admin.display(description="interrupted", boolean=True)
    def interrupted(self, obj: SyncCursor) -> bool:
        return bool(obj.run_next_url)

    @admin.display(description="last error")
    def short_error(self, obj: SyncCursor) -> str:
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")

    def _enqueue(self, queryset: QuerySet[SyncCursor], *, full: bool) -> int:
        from django.db import transaction

        from apps.ocpi.services.sync import sync_enqueue

        cursors = list(queryset.values_list("connection_id", "module"))
        for connection_id, module in cursors:
            transaction.on_commit(
                lambda c=connection_id, m=module: sync_enqueue(c, m, full)  # type: ignore[misc]
            )
        return len(cursors)

    @admin.action(description="Sync now (incremental)", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[SyncCursor]) -> None:
        count = self._enqueue(queryset, full=False)
        self.message_user(request, f"{count} sync(s) queued.", messages.SUCCESS)

    @admin.action(description="Full resync", permissions=["change"])
    def full_resync(self, request: HttpRequest, queryset: QuerySet[SyncCursor]) -> None:
        count = self._enqueue(queryset, full=True)
        self.message_user(request, f"{count} full resync(s) queued.", messages.SUCCESS)


# Last: it replaces the partners app's connection admin with the OCPI one.
from apps.ocpi import admin_connections  # noqa: E402, F401
