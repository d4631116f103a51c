from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import (
    NoAddAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    annotated_column,
    money_column,
    related_count,
)
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter
from apps.tariffs.models import Tariff, TariffVersion


class TariffVersionInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = TariffVersion
    fields = ("number", "recorded_at", "origin", "last_updated", "source_connection")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[TariffVersion]:
        return super().get_queryset(request).select_related("tariff", "source_connection__partner")


@admin.register(Tariff)
class TariffAdmin(NoAddAdminMixin, OpsModelAdmin):
    """Only who may see a tariff is edited here. Its content changes through a new version
    (tariff services), which is also how a tariff comes into being."""

    list_display = (
        "tariff_id",
        "party",
        "currency",
        "type",
        "versions",
        "publish_scope",
        "last_updated",
        "deleted_at",
    )
    list_select_related = ("party",)
    list_filter = (
        "currency",
        "type",
        "publish_scope",
        ("deleted_at", admin.EmptyFieldListFilter),
        PartyOwnerFilter,
        "party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("tariff_id", "=party__party_id")
    ordering = ("party", "tariff_id")
    filter_horizontal = ("publish_partners",)
    readonly_fields = (
        "party",
        "tariff_id",
        "currency",
        "type",
        "last_updated",
        "deleted_at",
        "source_connection",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("party", "tariff_id", "currency", "type", "last_updated")}),
        ("Publication", {"fields": ("publish_scope", "publish_partners")}),
        ("Record", {"fields": ("deleted_at", "source_connection", "created_at")}),
    )
    inlines = (TariffVersionInline,)

    versions = annotated_column("version_count", description="versions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return (
            super()
            .get_queryset(request)
            .annotate(version_count=related_count(TariffVersion, "tariff"))
        )


@admin.register(TariffVersion)
class TariffVersionAdmin(ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = (
        "tariff",
        "number",
        "party",
        "type",
        "min_price",
        "max_price",
        "origin",
        "last_updated",
        "recorded_at",
        "source_connection",
    )
    list_select_related = ("tariff", "tariff__party", "source_connection__partner")
    list_filter = (
        "origin",
        "currency",
        "type",
        ("recorded_at", admin.DateFieldListFilter),
        "tariff__party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("=tariff__tariff_id", "=content_hash")
    ordering = ("-recorded_at", "-pk")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "tariff",
                    "number",
                    "origin",
                    "source_connection",
                    "recorded_at",
                    "last_updated",
                    "content_hash",
                )
            },
        ),
        (
            "Content",
            {
                "fields": (
                    ("currency", "type"),
                    ("min_price_excl_vat", "min_price_incl_vat"),
                    ("max_price_excl_vat", "max_price_incl_vat"),
                    ("start_date_time", "end_date_time"),
                    "elements",
                    "alt_text",
                    "alt_url",
                    "energy_mix",
                )
            },
        ),
    )

    min_price = money_column("min_price_excl_vat", description="min. price excl. VAT")
    max_price = money_column("max_price_excl_vat", description="max. price excl. VAT")

    @admin.display(description="party", ordering="tariff__party")
    def party(self, obj: TariffVersion) -> str:
        return str(obj.tariff.party)
