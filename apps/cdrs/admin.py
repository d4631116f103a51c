from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod, CdrCostLine
from apps.cdrs.services import cdr_cost_mismatches, cdr_finalize, cdr_issue_credit
from apps.charging_sessions.admin import ChargingDimensionInline, ChargingPeriodInline
from apps.core.admin import (
    EMPTY,
    ImmutableObjectAdminMixin,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    RecentValuesListFilter,
    admin_change_link,
    admin_changelist_link,
    money_column,
    quantity_column,
)
from apps.core.errors import DomainError
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter


class CdrCountryFilter(RecentValuesListFilter):
    title = "location country"
    parameter_name = "location_country"
    field_name = "location_country"


class CdrCurrencyFilter(RecentValuesListFilter):
    title = "currency"
    parameter_name = "currency"
    field_name = "currency"


class CdrChargingPeriodInline(ChargingPeriodInline):
    model = CdrChargingPeriod


class CdrChargingDimensionInline(ChargingDimensionInline):
    model = CdrChargingDimension


class CdrCostLineInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = CdrCostLine
    fields = (
        "period",
        "component",
        "dimension",
        "volume",
        "unit_price",
        "vat_rate",
        "amount_excl_vat",
        "amount_incl_vat",
        "tariff_version",
        "element_index",
        "explanation",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CdrCostLine]:
        return super().get_queryset(request).select_related("period", "tariff_version__tariff")


class CdrPartAdmin(LargeTableAdminMixin, ImmutableObjectAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    """A part of a CDR: created with its CDR, editable (non-money fields) while it is a draft."""

    def is_immutable(self, obj: Any) -> bool:
        return self.owning_cdr(obj).stored_final

    def owning_cdr(self, obj: Any) -> Cdr:
        cdr: Cdr = obj.cdr
        return cdr


@admin.register(Cdr)
class CdrAdmin(LargeTableAdminMixin, ImmutableObjectAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    """CDRs come from the CDR services (generated or received). A final CDR is read-only; a
    draft may have its non-money fields corrected before it is finalized."""

    list_display = (
        "cdr_id",
        "party",
        "start_date_time",
        "end_date_time",
        "total_cost",
        "total_cost_vat",
        "energy",
        "credit",
        "origin",
        "validation_status",
        "status",
    )
    list_select_related = ("party",)
    list_filter = (
        "status",
        "origin",
        "credit",
        "validation_status",
        ("end_date_time", admin.DateFieldListFilter),
        PartyOwnerFilter,
        "party",
        CdrCountryFilter,
        CdrCurrencyFilter,
        ("source_connection", ConnectionListFilter),
    )
    search_fields = (
        "=cdr_id",
        "=session_ref",
        "=authorization_reference",
        "=billing_reference",
        "=invoice_reference_id",
        "=credit_reference_id",
        "=token_uid",
        "=token_contract_id",
        "=evse_id",
        "=location_ref",
        "=party__country_code",
        "=party__party_id",
    )
    autocomplete_fields = ("session", "location", "token")
    readonly_fields = (
        # Identity and state change only through the CDR services.
        "party",
        "cdr_id",
        "status",
        "origin",
        "protocol_version",
        "created_at",
        "finalized_at",
        "currency",
        "totals_check",
        "tariff_version_at_start",
        "tariff_version_at_end",
        "tariff_version_at_generation",
        "credit",
        "credit_reference_id",
        "credited_cdr",
        "credit_cdrs",
        "validation_status",
        "session_key",
        "idempotency_key",
        "billing_reference",
        "source_connection",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "cdr_id",
                    "party",
                    "status",
                    "origin",
                    "protocol_version",
                    ("created_at", "finalized_at"),
                    "last_updated",
                )
            },
        ),
        (
            "Session and authorization",
            {
                "fields": (
                    ("session_ref", "session"),
                    ("start_date_time", "end_date_time"),
                    "auth_method",
                    "authorization_reference",
                    "meter_id",
                )
            },
        ),
        (
            "Token",
            {
                "fields": (
                    ("token_country_code", "token_party_id"),
                    ("token_uid", "token_type"),
                    "token_contract_id",
                    "token",
                )
            },
        ),
        (
            "Location at session start",
            {
                "fields": (
                    ("location_ref", "location"),
                    "location_name",
                    "location_address",
                    ("location_postal_code", "location_city"),
                    ("location_state", "location_country"),
                    ("location_latitude", "location_longitude"),
                    ("evse_uid", "evse_id"),
                    "connector_ref",
                    ("connector_standard", "connector_format", "connector_power_type"),
                )
            },
        ),
        (
            "Totals",
            {
                "fields": (
                    "currency",
                    ("total_cost_excl_vat", "total_cost_incl_vat"),
                    ("total_fixed_cost_excl_vat", "total_fixed_cost_incl_vat"),
                    "total_energy",
                    ("total_energy_cost_excl_vat", "total_energy_cost_incl_vat"),
                    "total_time",
                    ("total_time_cost_excl_vat", "total_time_cost_incl_vat"),
                    "total_parking_time",
                    ("total_parking_cost_excl_vat", "total_parking_cost_incl_vat"),
                    ("total_reservation_cost_excl_vat", "total_reservation_cost_incl_vat"),
                    "totals_check",
                )
            },
        ),
        (
            "Tariff provenance",
            {
                "fields": (
                    "tariff_version_at_start",
                    "tariff_version_at_end",
                    "tariff_version_at_generation",
                    "tariffs_snapshot",
                )
            },
        ),
        (
            "Credit",
            {"fields": ("credit", "credit_reference_id", "credited_cdr", "credit_cdrs", "remark")},
        ),
        ("Validation", {"fields": ("validation_status", "validation_findings")}),
        (
            "Reconciliation",
            {
                "fields": (
                    "billing_reference",
                    "invoice_reference_id",
                    "session_key",
                    "idempotency_key",
                    "home_charging_compensation",
                    "source_connection",
                )
            },
        ),
        ("Signed meter data", {"classes": ("collapse",), "fields": ("signed_data",)}),
    )
    inlines = (CdrChargingPeriodInline, CdrCostLineInline)
    actions = ("issue_credit", "finalize")

    total_cost = money_column("total_cost_excl_vat", description="total excl. VAT")
    total_cost_vat = money_column("total_cost_incl_vat", description="total incl. VAT")
    energy = quantity_column("total_energy", description="kWh")

    def is_immutable(self, obj: Cdr) -> bool:
        return obj.stored_final

    @admin.display(description="cost lines vs totals")
    def totals_check(self, obj: Cdr) -> str:
        if obj.pk is None:
            return EMPTY
        problems = cdr_cost_mismatches(cdr=obj)
        if not problems:
            return "Cost lines add up to the totals."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in problems))
        )

    @admin.display(description="credit CDRs")
    def credit_cdrs(self, obj: Cdr) -> str:
        if obj.pk is None:
            return EMPTY
        return admin_changelist_link(Cdr, "credit CDRs of this CDR", credited_cdr__id__exact=obj.pk)

    @admin.action(description="Issue credit CDR", permissions=["change"])
    def issue_credit(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        for cdr in queryset.select_related("party"):
            try:
                credit = cdr_issue_credit(original=cdr, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{cdr.cdr_id}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    format_html("Credit CDR {} issued for {}.", admin_change_link(credit), cdr),
                    messages.SUCCESS,
                )

    @admin.action(description="Finalize draft CDRs", permissions=["change"])
    def finalize(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        for cdr in queryset:
            if cdr.stored_final:
                self.message_user(request, f"{cdr.cdr_id} was already final.", messages.INFO)
                continue
            try:
                cdr_finalize(cdr=cdr, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{cdr.cdr_id}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{cdr.cdr_id} is final.", messages.SUCCESS)


@admin.register(CdrChargingPeriod)
class CdrChargingPeriodAdmin(CdrPartAdmin):
    list_display = ("cdr", "sequence", "start_date_time", "tariff_ref", "cdr_status")
    list_select_related = ("cdr",)
    list_filter = ("cdr__status",)
    search_fields = ("=cdr__cdr_id", "=tariff_ref")
    readonly_fields = ("cdr",)
    fields = ("cdr", "sequence", "start_date_time", "tariff_ref")
    inlines = (CdrChargingDimensionInline,)

    @admin.display(description="CDR status", ordering="cdr__status")
    def cdr_status(self, obj: CdrChargingPeriod) -> str:
        return obj.cdr.get_status_display()


@admin.register(CdrChargingDimension)
class CdrChargingDimensionAdmin(CdrPartAdmin):
    list_display = ("period", "cdr", "type", "quantity")
    list_select_related = ("period", "period__cdr")
    list_filter = ("type", "period__cdr__status")
    search_fields = ("=period__cdr__cdr_id",)
    readonly_fields = ("cdr", "period")
    fields = ("cdr", "period", "type", "volume")

    quantity = quantity_column("volume", description="volume")

    def owning_cdr(self, obj: CdrChargingDimension) -> Cdr:
        return obj.period.cdr

    @admin.display(description="CDR", ordering="period__cdr")
    def cdr(self, obj: CdrChargingDimension) -> str:
        return admin_change_link(obj.period.cdr)


@admin.register(CdrCostLine)
class CdrCostLineAdmin(CdrPartAdmin):
    list_display = (
        "cdr",
        "period",
        "component",
        "dimension",
        "quantity",
        "unit",
        "vat",
        "amount",
        "amount_vat",
        "tariff_version",
    )
    list_select_related = ("cdr", "period", "tariff_version__tariff")
    list_filter = ("component", "dimension", CdrCurrencyFilter, "cdr__status")
    search_fields = ("=cdr__cdr_id", "=tariff_version__tariff__tariff_id")
    readonly_fields = ("cdr", "period", "currency", "tariff_version", "element_index")
    fields = (
        "cdr",
        "period",
        ("component", "dimension"),
        "volume",
        "unit_price",
        "vat_rate",
        "currency",
        ("amount_excl_vat", "amount_incl_vat"),
        ("tariff_version", "element_index"),
        "explanation",
    )

    quantity = quantity_column("volume", description="volume")
    # Unit prices keep their precision (0.2533 EUR/kWh); only amounts are rounded for display.
    unit = quantity_column("unit_price", description="unit price excl. VAT")
    vat = quantity_column("vat_rate", description="VAT %")
    amount = money_column("amount_excl_vat", description="amount excl. VAT")
    amount_vat = money_column("amount_incl_vat", description="amount incl. VAT")
