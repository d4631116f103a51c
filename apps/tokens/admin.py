from __future__ import annotations

from django.contrib import admin

from apps.core.admin import LargeTableAdminMixin, OpsModelAdmin
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter
from apps.tokens.models import Token


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
    fieldsets = (
        (None, {"fields": ("party", ("uid", "type"), "contract_id", "visual_number", "issuer")}),
        ("Authorization", {"fields": ("valid", "whitelist", "group_id")}),
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
