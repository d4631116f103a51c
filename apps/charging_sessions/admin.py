from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.cdrs.enums import CdrStatus, ValidationStatus
from apps.cdrs.generation import cdr_generate_for_session
from apps.cdrs.models import Cdr
from apps.charging_sessions.enums import SessionStatus
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
    SessionChargingPreferences,
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
from apps.core.errors import DomainError
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


class SessionChargingPreferencesInline(ReadOnlyAdminMixin, OpsTabularInline):
    """The driver's charging preferences in effect (the last accepted; every request and its
    answer is in the audit log)."""

    model = SessionChargingPreferences
    fields = (
        "profile_type",
        "departure_time",
        "energy_need",
        "discharge_allowed",
        "source_connection",
        "updated_at",
    )


class CdrListFilter(admin.SimpleListFilter):
    """Completed sessions and their CDRs: which still lack one (generation was refused, e.g.
    for want of a valid tariff), which have one held for review."""

    title = "CDR"
    parameter_name = "cdr"
    MISSING = "missing"
    HELD = "held"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (self.MISSING, "Completed without CDR"),
            (self.HELD, "CDR held for review"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ChargingSession]
    ) -> QuerySet[ChargingSession]:
        cdrs = Cdr.objects.filter(session=OuterRef("pk"))
        if self.value() == self.MISSING:
            return queryset.filter(status=SessionStatus.COMPLETED).filter(~Exists(cdrs))
        if self.value() == self.HELD:
            return queryset.filter(
                Exists(
                    cdrs.filter(status=CdrStatus.DRAFT, validation_status=ValidationStatus.INVALID)
                )
            )
        return queryset


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
        CdrListFilter,
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
    inlines = (SessionChargingPreferencesInline, SessionChargingPeriodInline)
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

    actions = ("generate_cdr",)
    # Generating prices, validates and writes each CDR: one request does at most this many.
    generate_action_limit = 200

    energy = quantity_column("kwh", description="kWh")
    total_cost = money_column("total_cost_excl_vat", description="cost excl. VAT")

    @admin.action(description="Generate CDR", permissions=["change"])
    def generate_cdr(self, request: HttpRequest, queryset: QuerySet[ChargingSession]) -> None:
        """Build the CDR of each completed session of ours that has none (cdr_generate_for_session):
        final when valid, else held for review. Sessions that have their CDR are left alone."""
        limit = self.generate_action_limit
        sessions = list(queryset.select_related("party").order_by("pk")[: limit + 1])
        if len(sessions) > limit:
            self.message_user(
                request,
                f"More than {limit} sessions selected: the first {limit} were handled. "
                "Narrow the list with filters to do the rest.",
                messages.WARNING,
            )
            sessions = sessions[:limit]
        final: list[Cdr] = []
        held: list[Cdr] = []
        existing = 0
        for session in sessions:
            if session.cdrs.exists():
                existing += 1
                continue
            try:
                cdr = cdr_generate_for_session(session=session, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{session.session_id}: {exc.message}", messages.ERROR)
                continue
            (final if cdr.is_final else held).append(cdr)
        self.message_user(
            request,
            f"{len(final)} CDR{'s' if len(final) != 1 else ''} generated and final, "
            f"{len(held)} held for review, {existing} session{'s' if existing != 1 else ''} "
            "already had one.",
            messages.SUCCESS if not held else messages.WARNING,
        )
        if held:
            self.message_user(
                request,
                format_html(
                    "Held for review: {}.",
                    format_html_join(", ", "{}", ((admin_change_link(c),) for c in held[:20])),
                ),
                messages.WARNING,
            )


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
