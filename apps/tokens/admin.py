from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.core.admin import (
    LargeTableAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    admin_change_link,
)
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter
from apps.tokens.models import Token, TokenAuthorization, TokenLocationRestriction


class EvseUidsField(forms.CharField):
    """A list of EVSE uids typed as text, separated by commas or spaces."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(uid) for uid in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        uids = [uid for uid in re.split(r"[\s,]+", text) if uid]
        too_long = [uid for uid in uids if len(uid) > 36 or not uid.isprintable()]
        if too_long:
            raise forms.ValidationError(
                "not an EVSE uid (printable, at most 36 characters): %(uids)s",
                params={"uids": ", ".join(too_long)},
            )
        return list(dict.fromkeys(uids))


class TokenLocationRestrictionForm(forms.ModelForm):
    evse_uids = EvseUidsField(
        label="EVSE uids",
        required=False,
        help_text="Separated by commas; empty: every EVSE of the location",
    )

    class Meta:
        model = TokenLocationRestriction
        fields = ("cpo", "location_id", "evse_uids")


class TokenLocationRestrictionInline(OpsTabularInline):
    """Where one of our tokens may charge (checked by real-time authorization)."""

    model = TokenLocationRestriction
    form = TokenLocationRestrictionForm
    fields = ("cpo", "location_id", "evse_uids")
    autocomplete_fields = ("cpo",)
    extra = 0
    verbose_name = "allowed location"
    verbose_name_plural = "allowed locations (none: the token may charge anywhere)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A plain list of ids, validated by the form: editable, unlike partners' documents.
        self.field_swaps.pop("evse_uids", None)


@admin.register(Token)
class TokenAdmin(LargeTableAdminMixin, OpsModelAdmin):
    list_display = (
        "uid",
        "type",
        "contract_id",
        "visual_number",
        "party",
        "issuer",
        "group_id",
        "valid",
        "whitelist",
        "last_updated",
    )
    list_select_related = ("party",)
    list_filter = (
        "valid",
        "type",
        "whitelist",
        "default_profile_type",
        PartyOwnerFilter,
        "party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = (
        "=uid",
        "=contract_id",
        "=visual_number",
        "=group_id",
        "=party__country_code",
        "=party__party_id",
    )
    autocomplete_fields = ("party", "source_connection")
    readonly_fields = ("created_at",)
    inlines = (TokenLocationRestrictionInline,)
    fieldsets = (
        (None, {"fields": ("party", ("uid", "type"), "contract_id", "visual_number", "issuer")}),
        ("Authorization", {"fields": ("valid", "invalid_reason", "whitelist", "group_id")}),
        (
            "Preferences",
            {
                "fields": (
                    "language",
                    "default_profile_type",
                    "energy_supplier_name",
                    "energy_contract_id",
                )
            },
        ),
        ("Record", {"fields": ("last_updated", "source_connection", "created_at")}),
    )


@admin.register(TokenAuthorization)
class TokenAuthorizationAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    """Every authorization decision, ours or an eMSP's, and what used its reference."""

    list_display = (
        "created_at",
        "token_uid",
        "token_type",
        "token_party",
        "status",
        "source",
        "authorization_reference",
        "location_id",
        "counterpart",
    )
    list_select_related = ("counterpart",)
    list_filter = ("source", "status", "token_type")
    search_fields = ("=authorization_reference", "=token_uid", "=location_id")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("created_at", "source", "status", "authorization_reference")}),
        (
            "Token",
            {
                "fields": (
                    "token_link",
                    ("token_country_code", "token_party_id"),
                    ("token_uid", "token_type"),
                )
            },
        ),
        ("Location", {"fields": ("location_id", "evse_uids", "allowed_evse_uids")}),
        ("Exchange", {"fields": ("counterpart", "connection", "info", "detail")}),
        ("Used by", {"fields": ("sessions", "cdrs")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[TokenAuthorization]:
        return super().get_queryset(request).select_related("token", "counterpart", "connection")

    @admin.display(description="token owner")
    def token_party(self, obj: TokenAuthorization) -> str:
        return f"{obj.token_country_code}*{obj.token_party_id}"

    @admin.display(description="token")
    def token_link(self, obj: TokenAuthorization) -> str:
        return admin_change_link(obj.token)

    @admin.display(description="sessions with this reference")
    def sessions(self, obj: TokenAuthorization) -> str:
        return _links(ChargingSession.objects.all(), obj.authorization_reference)

    @admin.display(description="CDRs with this reference")
    def cdrs(self, obj: TokenAuthorization) -> str:
        return _links(Cdr.objects.all(), obj.authorization_reference)


def _links(queryset: QuerySet[ChargingSession] | QuerySet[Cdr], reference: str) -> str:
    if not reference:
        return "-"
    found = list(queryset.filter(authorization_reference__iexact=reference).order_by("pk")[:10])
    if not found:
        return "none yet"
    return format_html(
        "{}", format_html_join(", ", "{}", ((admin_change_link(item),) for item in found))
    )
