from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Field, QuerySet
from django.http import HttpRequest

from apps.core.admin import (
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    annotated_column,
    related_count,
)
from apps.partners.models import Partner, PartnerConnection, Party

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# -- list filters shared by the admins of party-owned records -----------------------------------
class OwnPartyFilter(admin.SimpleListFilter):
    """Our own parties (no partner) versus the parties of partners."""

    title = "owner"
    parameter_name = "owner"
    partner_path = "partner"  # from the listed model to Party.partner

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("own", "Our own parties"), ("partner", "Partner parties")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("own", "partner"):
            return queryset.filter(**{f"{self.partner_path}__isnull": self.value() == "own"})
        return queryset


class PartyOwnerFilter(OwnPartyFilter):
    partner_path = "party__partner"


class ConnectionListFilter(admin.RelatedFieldListFilter):
    """The source connection filter, listed with one query (a connection's name includes its
    partner's, which the plain filter would fetch once per connection)."""

    def field_choices(
        self, field: Field[Any, Any], request: HttpRequest, model_admin: Any
    ) -> list[tuple[str, StrOrPromise]]:
        return [(str(c.pk), str(c)) for c in PartnerConnection.objects.select_related("partner")]


# -- partners and parties ------------------------------------------------------------------------
class PartyInline(OpsTabularInline):
    model = Party
    fields = ("country_code", "party_id", "name", "roles", "website")
    show_change_link = True


class ConnectionInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = PartnerConnection
    fields = ("name", "status", "version", "adapter_profile", "last_handshake_at", "last_error_at")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[PartnerConnection]:
        return super().get_queryset(request).select_related("partner")


@admin.register(Partner)
class PartnerAdmin(OpsModelAdmin):
    list_display = ("name", "is_active", "parties", "connections", "contact_email", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "contact_email")
    ordering = ("name",)
    readonly_fields = ("created_at",)
    inlines = (PartyInline, ConnectionInline)

    parties = annotated_column("party_count", description="parties")
    connections = annotated_column("connection_count", description="connections")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                party_count=related_count(Party, "partner"),
                connection_count=related_count(PartnerConnection, "partner"),
            )
        )


@admin.register(Party)
class PartyAdmin(OpsModelAdmin):
    list_display = (
        "country_code",
        "party_id",
        "name",
        "role_list",
        "own",
        "partner",
        "reachability",
        "reachability_updated",
    )
    list_select_related = ("partner",)
    list_filter = (OwnPartyFilter, "reachability", "partner", "country_code")
    search_fields = ("country_code", "party_id", "name")
    ordering = ("country_code", "party_id")
    autocomplete_fields = ("partner",)
    readonly_fields = (
        "created_at",
        "updated_at",
        "reachability",
        "reachability_updated",
        "reachability_via",
        "provisional",
    )
    fieldsets = (
        (None, {"fields": ("partner", ("country_code", "party_id"), "name", "roles")}),
        ("Business details", {"fields": ("website", "logo")}),
        (
            "Reachability (reported by a hub)",
            {
                "fields": (
                    "reachability",
                    "reachability_updated",
                    "reachability_via",
                    "provisional",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="roles")
    def role_list(self, obj: Party) -> str:
        return ", ".join(obj.roles or [])

    @admin.display(description="own", boolean=True, ordering="partner")
    def own(self, obj: Party) -> bool:
        return obj.is_own


@admin.register(PartnerConnection)
class PartnerConnectionAdmin(OpsModelAdmin):
    list_display = (
        "name",
        "partner",
        "status",
        "version",
        "adapter_profile",
        "last_handshake_at",
        "last_error_at",
        "issued_token_hint",
        "issued_token_is_registration",
        "has_send_token",
    )
    list_display_links = ("name",)
    list_select_related = ("partner",)
    list_filter = (
        "status",
        "partner",
        "version",
        "adapter_profile",
        "issued_token_is_registration",
    )
    search_fields = ("name", "partner__name", "versions_url")
    ordering = ("partner__name", "name")
    autocomplete_fields = ("partner",)
    filter_horizontal = ("represented_parties",)
    readonly_fields = (
        "version",
        "last_handshake_at",
        "last_error",
        "last_error_at",
        "issued_token_hint",
        "issued_token_is_registration",
        "issued_token_created_at",
        "has_send_token",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("partner", "name", "status")}),
        (
            "Protocol",
            {
                "fields": (
                    "versions_url",
                    "version",
                    "adapter_profile",
                    "endpoints",
                    "authorization_timeout",
                )
            },
        ),
        ("Parties", {"fields": ("represented_parties",)}),
        (
            "Credentials",
            {
                "description": "Tokens are never shown: the token we issued is stored as a "
                "hash, the token we send is encrypted. Onboarding (invitations, registration, "
                "rotation) is in the OCPI connection admin.",
                "fields": (
                    "issued_token_hint",
                    "issued_token_is_registration",
                    "issued_token_created_at",
                    "has_send_token",
                ),
            },
        ),
        ("Health", {"fields": ("last_handshake_at", "last_error_at", "last_error")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="send token set", boolean=True)
    def has_send_token(self, obj: PartnerConnection) -> bool:
        return bool(obj.send_token_encrypted)
