"""Remote commands in the ops console: what was asked, the answer, the result and how long
each took. Commands are records of exchanges: read-only here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.commands.enums import CommandResponseType, CommandResultType
from apps.commands.models import Command
from apps.core.admin import (
    EMPTY,
    LargeTableAdminMixin,
    OpsModelAdmin,
    ReadOnlyAdminMixin,
    admin_change_link,
)
from apps.partners.admin import ConnectionListFilter

_GOOD = {CommandResponseType.ACCEPTED, CommandResultType.ACCEPTED}


def _seconds(value: timedelta | None) -> str:
    if value is None:
        return EMPTY
    seconds = value.total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _badge(value: str, label: str) -> str:
    if not value:
        return EMPTY
    return f"✔ {label}" if value in _GOOD else f"✖ {label}"


class OutcomeFilter(admin.SimpleListFilter):
    """Where a command stands: waiting for its answer or its result, or done."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("unanswered", "No response"),
            ("waiting", "Accepted, waiting for the result"),
            ("done", "Result received"),
            ("timeout", "Timed out"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "unanswered":
            return queryset.filter(response_result="")
        if value == "waiting":
            return queryset.filter(response_result=CommandResponseType.ACCEPTED, result="")
        if value == "done":
            return queryset.exclude(result="")
        if value == "timeout":
            return queryset.filter(result=CommandResultType.TIMEOUT)
        return queryset


@admin.register(Command)
class CommandAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = (
        "uid_short",
        "type",
        "direction",
        "connection",
        "emsp_party",
        "cpo_party",
        "target",
        "response",
        "outcome",
        "requested_at",
        "response_latency_display",
        "result_latency_display",
    )
    list_select_related = ("connection__partner", "emsp_party", "cpo_party")
    list_filter = (
        OutcomeFilter,
        "direction",
        "type",
        "response_result",
        "result",
        ("connection", ConnectionListFilter),
        ("requested_at", admin.DateFieldListFilter),
    )
    search_fields = (
        "=uid",
        "=token_uid",
        "=token_contract_id",
        "=location_ref",
        "=evse_ref",
        "=session_ref",
        "=reservation_ref",
        "=authorization_reference",
    )
    fieldsets = (
        (None, {"fields": ("uid", "type", "direction", "connection", "emsp_party", "cpo_party")}),
        (
            "Request",
            {
                "fields": (
                    "response_url",
                    ("token_country_code", "token_party_id", "token_uid"),
                    ("token_type", "token_contract_id", "token"),
                    "token_snapshot",
                    ("location_ref", "evse_ref", "connector_ref"),
                    ("location", "evse", "connector"),
                    ("session_ref", "charging_session_link"),
                    ("reservation_ref", "expiry_date"),
                    "authorization_reference",
                )
            },
        ),
        (
            "Response and result",
            {
                "fields": (
                    ("response_result", "response_timeout"),
                    "response_message",
                    ("result", "result_message"),
                )
            },
        ),
        (
            "Timing",
            {
                "fields": (
                    "requested_at",
                    ("responded_at", "response_latency_display"),
                    "forwarded_at",
                    ("result_at", "result_latency_display"),
                    "deadline",
                )
            },
        ),
    )
    readonly_fields = (
        "uid",
        "charging_session_link",
        "response_latency_display",
        "result_latency_display",
    )

    @admin.display(description="uid", ordering="uid")
    def uid_short(self, obj: Command) -> str:
        return obj.uid[:8]

    @admin.display(description="target")
    def target(self, obj: Command) -> str:
        parts = [obj.location_ref, obj.evse_ref, obj.connector_ref]
        where = " / ".join(p for p in parts if p)
        return where or obj.session_ref or obj.reservation_ref or EMPTY

    @admin.display(description="response", ordering="response_result")
    def response(self, obj: Command) -> str:
        return _badge(obj.response_result, obj.get_response_result_display())

    @admin.display(description="result", ordering="result")
    def outcome(self, obj: Command) -> str:
        return _badge(obj.result, obj.get_result_display())

    @admin.display(description="response latency")
    def response_latency_display(self, obj: Command) -> str:
        return _seconds(obj.response_latency)

    @admin.display(description="result latency")
    def result_latency_display(self, obj: Command) -> str:
        return _seconds(obj.result_latency)

    @admin.display(description="charging session")
    def charging_session_link(self, obj: Command) -> str:
        return admin_change_link(obj.charging_session) if obj.charging_session else EMPTY
