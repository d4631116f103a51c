from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    admin_change_link,
    money_column,
    quantity_column,
)
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter


class ChargingPeriodInline(ReadOnlyAdminMixin, OpsTabularInline):
    """Periods of a session or CDR, one row each with its dimensions summed up in a column."""

    fields = ("sequence", "start_date_time", "tariff_ref", "dimension_summary")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("dimensions")

    @admin.display(description="dimensions")
    def dimension_summary(self, obj: Any) -> str:
        return (
            ", ".join(f"{d.type} {d.volume.normalize():f}" for d in obj.dimensions.all()) or EMPTY
        )


class ChargingDimensionInline(ReadOnlyAdminMixin, OpsTabularInline):
    fields = ("type", "volume")


class SessionChargingPeriodInline(ChargingPeriodInline):
    model = SessionChargingPeriod


class SessionChargingDimensionInline(ChargingDimensionInline):
    model = SessionChargingDimension


@admin.register(ChargingSession)
class ChargingSessionAdmin(LargeTableAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    list_display = (
        "session_id",
        "party",
        "status",
        "start_date_time",
        "end_date_time",
        "energy",
        "total_cost",
        "token_uid",
        "location_ref",
        "evse_ref",
        "auth_method",
        "last_updated",
    )
    list_select_related = ("party",)
    list_filter = (
        "status",
        "auth_method",
        ("start_date_time", admin.DateFieldListFilter),
        PartyOwnerFilter,
        "party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = (
        "=session_id",
        "=authorization_reference",
        "=token_uid",
        "=token_contract_id",
        "=location_ref",
        "=evse_ref",
        "=party__country_code",
        "=party__party_id",
    )
    autocomplete_fields = ("party", "token", "location", "evse", "connector", "source_connection")
    readonly_fields = ("currency", "created_at")
    inlines = (SessionChargingPeriodInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "session_id",
                    "status",
                    ("start_date_time", "end_date_time"),
                    "last_updated",
                )
            },
        ),
        (
            "Authorization",
            {
                "fields": (
                    "auth_method",
                    "authorization_reference",
                    ("token_country_code", "token_party_id"),
                    ("token_uid", "token_type"),
                    "token_contract_id",
                    "token",
                )
            },
        ),
        (
            "Where",
            {
                "fields": (
                    ("location_ref", "location"),
                    ("evse_ref", "evse"),
                    ("connector_ref", "connector"),
                    "meter_id",
                )
            },
        ),
        (
            "Energy and cost",
            {"fields": ("kwh", "currency", "total_cost_excl_vat", "total_cost_incl_vat")},
        ),
        ("Provenance", {"fields": ("source_connection", "created_at")}),
    )

    energy = quantity_column("kwh", description="kWh")
    total_cost = money_column("total_cost_excl_vat", description="cost excl. VAT")


@admin.register(SessionChargingPeriod)
class SessionChargingPeriodAdmin(LargeTableAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    list_display = ("session", "sequence", "start_date_time", "tariff_ref")
    list_select_related = ("session",)
    search_fields = ("=session__session_id", "=tariff_ref")
    readonly_fields = ("session",)
    fields = ("session", "sequence", "start_date_time", "tariff_ref")
    inlines = (SessionChargingDimensionInline,)


@admin.register(SessionChargingDimension)
class SessionChargingDimensionAdmin(LargeTableAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    list_display = ("period", "session", "type", "quantity")
    list_select_related = ("period", "period__session")
    list_filter = ("type",)
    search_fields = ("=period__session__session_id",)
    readonly_fields = ("period", "session")
    fields = ("session", "period", "type", "volume")

    quantity = quantity_column("volume", description="volume")

    @admin.display(description="session")
    def session(self, obj: SessionChargingDimension) -> str:
        return admin_change_link(obj.period.session)
