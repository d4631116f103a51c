from __future__ import annotations

from django.contrib import admin

from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    OpsModelAdmin,
    ReadOnlyAdminMixin,
    admin_change_link,
)
from apps.partners.admin import ConnectionListFilter
from apps.smart_charging.models import (
    ChargingProfileRequest,
    ReportedActiveProfile,
    SessionChargingProfile,
)


def _ms(value: int | None) -> str:
    return EMPTY if value is None else f"{value} ms"


@admin.register(ChargingProfileRequest)
class ChargingProfileRequestAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    """Every profile request, both directions: what was asked, the immediate answer, the result
    and how long each took."""

    list_display = (
        "created_at",
        "direction",
        "operation",
        "session_ref",
        "connection",
        "status",
        "response_result",
        "response_time",
        "result",
        "result_time",
        "result_sent_at",
    )
    list_filter = (
        "direction",
        "operation",
        "status",
        "response_result",
        "result",
        ("connection", ConnectionListFilter),
    )
    list_select_related = ("connection__partner",)
    search_fields = ("session_ref", "=reference")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "direction",
                    "operation",
                    "status",
                    "reference",
                    "connection",
                    "from_party",
                    "to_party",
                    "session_link",
                    "session_ref",
                    "charging_profile",
                    "duration",
                    "response_url",
                )
            },
        ),
        (
            "Immediate answer",
            {"fields": ("response_result", "response_timeout", "responded_at", "response_time")},
        ),
        (
            "Result",
            {
                "fields": (
                    "executed_at",
                    "deadline_at",
                    "result",
                    "result_profile",
                    "result_at",
                    "result_time",
                    "result_sent_at",
                    "result_send_attempts",
                    "note",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="answer after")
    def response_time(self, obj: ChargingProfileRequest) -> str:
        return _ms(obj.response_ms)

    @admin.display(description="result after")
    def result_time(self, obj: ChargingProfileRequest) -> str:
        return _ms(obj.result_ms)

    @admin.display(description="session")
    def session_link(self, obj: ChargingProfileRequest) -> str:
        return admin_change_link(obj.session)


@admin.register(SessionChargingProfile)
class SessionChargingProfileAdmin(ReadOnlyAdminMixin, OpsModelAdmin):
    """Profiles in force on our sessions (written by accepted requests only)."""

    list_display = ("session", "owner", "set_at", "request_link")
    list_select_related = ("session", "owner")
    search_fields = ("session__session_id",)
    fields = ("session", "owner", "charging_profile", "set_at", "request_link")

    @admin.display(description="request")
    def request_link(self, obj: SessionChargingProfile) -> str:
        return admin_change_link(obj.request)


@admin.register(ReportedActiveProfile)
class ReportedActiveProfileAdmin(ReadOnlyAdminMixin, OpsModelAdmin):
    """The latest active profile each partner reported for its sessions."""

    list_display = ("session_ref", "connection", "start_date_time", "received_at")
    list_filter = (("connection", ConnectionListFilter),)
    list_select_related = ("connection__partner",)
    search_fields = ("session_ref",)
    fields = (
        "connection",
        "session",
        "session_ref",
        "start_date_time",
        "active_profile",
        "received_at",
    )
