from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    admin_change_link,
    admin_changelist_link,
    annotated_column,
    related_count,
)
from apps.locations.models import Connector, Evse, EvseStatusChange, Location
from apps.locations.services import evse_status_set
from apps.partners.admin import ConnectionListFilter, OwnPartyFilter, PartyOwnerFilter


class EvsePartyOwnerFilter(OwnPartyFilter):
    partner_path = "location__party__partner"


class EvseInline(ReadOnlyAdminMixin, OpsTabularInline):
    """A summary; EVSEs are edited on their own page (the link on each row)."""

    model = Evse
    fields = ("uid", "evse_id", "status", "connectors", "physical_reference", "last_updated")
    show_change_link = True

    connectors = annotated_column("connector_count", description="connectors")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        return (
            super().get_queryset(request).annotate(connector_count=related_count(Connector, "evse"))
        )


@admin.register(Location)
class LocationAdmin(OpsModelAdmin):
    list_display = (
        "location_id",
        "name",
        "party",
        "city",
        "country",
        "evses",
        "publish_scope",
        "visible_to_public",
        "last_updated",
    )
    list_select_related = ("party",)
    list_filter = (
        "country",
        "publish_scope",
        "visible_to_public",
        PartyOwnerFilter,
        "party",
        "parking_type",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("location_id", "name", "city", "address", "=party__party_id")
    ordering = ("party", "location_id")
    autocomplete_fields = ("party", "source_connection")
    filter_horizontal = ("publish_partners",)
    readonly_fields = ("created_at",)
    inlines = (EvseInline,)
    fieldsets = (
        (None, {"fields": ("party", "location_id", "name", "last_updated")}),
        (
            "Publication",
            {
                "fields": (
                    "publish_scope",
                    "publish_partners",
                    "visible_to_public",
                    "visible_to_tokens",
                )
            },
        ),
        (
            "Address",
            {
                "fields": (
                    "address",
                    ("postal_code", "city"),
                    ("state", "country"),
                    ("latitude", "longitude"),
                    "time_zone",
                )
            },
        ),
        (
            "Site",
            {
                "fields": (
                    "parking_type",
                    "facilities",
                    "opening_times",
                    "charging_when_closed",
                    "directions",
                    "related_locations",
                    "images",
                    "energy_mix",
                )
            },
        ),
        (
            "Business details",
            {"fields": ("operator_details", "suboperator_details", "owner_details")},
        ),
        ("Provenance", {"fields": ("source_connection", "created_at")}),
    )

    evses = annotated_column("evse_count", description="EVSEs")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        return super().get_queryset(request).annotate(evse_count=related_count(Evse, "location"))


class ConnectorInline(OpsTabularInline):
    model = Connector
    fields = (
        "connector_id",
        "standard",
        "format",
        "power_type",
        "max_voltage",
        "max_amperage",
        "max_electric_power",
        "tariff_ids",
        "terms_and_conditions",
        "last_updated",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connector]:
        return super().get_queryset(request).select_related("evse")


@admin.register(Evse)
class EvseAdmin(OpsModelAdmin):
    list_display = (
        "uid",
        "evse_id",
        "location",
        "party",
        "status",
        "connectors",
        "last_updated",
    )
    list_select_related = ("location", "location__party")
    list_filter = ("status", "location__country", EvsePartyOwnerFilter, "location__party")
    search_fields = ("=uid", "=evse_id", "=location__location_id")
    ordering = ("location", "uid")
    autocomplete_fields = ("location",)
    inlines = (ConnectorInline,)
    fieldsets = (
        (None, {"fields": ("location", "uid", "evse_id", "last_updated")}),
        ("Status", {"fields": ("status", "status_history", "status_schedule")}),
        (
            "Details",
            {
                "fields": (
                    "capabilities",
                    "floor_level",
                    ("latitude", "longitude"),
                    "physical_reference",
                    "directions",
                    "parking_restrictions",
                    "images",
                )
            },
        ),
    )

    connectors = annotated_column("connector_count", description="connectors")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        return (
            super().get_queryset(request).annotate(connector_count=related_count(Connector, "evse"))
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = ["status_history", *super().get_readonly_fields(request, obj)]
        # After creation the status changes only through evse_status_set, which keeps history.
        return readonly if obj is None else ["status", *readonly]

    def save_model(
        self, request: HttpRequest, obj: Evse, form: ModelForm[Evse], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # The first status is history too: record it through the service like any later change.
        status, obj.status = obj.status, ""
        super().save_model(request, obj, form, change)
        evse_status_set(evse=obj, status=status, changed_at=obj.last_updated)

    @admin.display(description="party", ordering="location__party")
    def party(self, obj: Evse) -> str:
        return str(obj.location.party)

    @admin.display(description="status history")
    def status_history(self, obj: Evse) -> str:
        if obj.pk is None:
            return EMPTY
        return admin_changelist_link(EvseStatusChange, "status changes", evse__id__exact=obj.pk)


@admin.register(Connector)
class ConnectorAdmin(OpsModelAdmin):
    list_display = (
        "connector_id",
        "evse",
        "location",
        "standard",
        "format",
        "power_type",
        "max_electric_power",
        "last_updated",
    )
    list_select_related = ("evse", "evse__location")
    list_filter = ("standard", "format", "power_type")
    search_fields = ("=evse__uid", "=evse__evse_id", "=evse__location__location_id")
    ordering = ("evse", "connector_id")
    autocomplete_fields = ("evse",)

    @admin.display(description="location", ordering="evse__location")
    def location(self, obj: Connector) -> str:
        return admin_change_link(obj.evse.location)


@admin.register(EvseStatusChange)
class EvseStatusChangeAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = (
        "changed_at",
        "evse",
        "location",
        "previous_status",
        "status",
        "recorded_at",
        "source_connection",
    )
    list_select_related = ("evse", "evse__location", "source_connection__partner")
    list_filter = (
        "status",
        "previous_status",
        ("changed_at", admin.DateFieldListFilter),
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("=evse__uid", "=evse__evse_id", "=evse__location__location_id")

    @admin.display(description="location")
    def location(self, obj: EvseStatusChange) -> str:
        return str(obj.evse.location)
