"""Smart-charging records: every profile request in either direction (with its immediate answer,
its result and their timing), the profiles in force on our sessions, and the active profiles
partners report for theirs."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.core.fields import json_field
from apps.partners.models import PartnerConnection, Party
from apps.smart_charging.enums import (
    ProfileOperation,
    ProfileResponseType,
    ProfileResultType,
    RequestDirection,
    RequestStatus,
)
from apps.smart_charging.profiles import ActiveChargingProfile, ChargingProfile


class ChargingProfileRequest(models.Model):
    """One set / get-active / clear request and what became of it.

    ``RECEIVED``: a partner (an eMSP) asked us, the charger's operator; we answered at once and
    report the result to its ``response_url`` later. ``SENT``: we asked a partner (a CPO); it
    answers at once and POSTs the result to our ``response_url`` (which carries ``reference``).
    ``from_party`` asks, ``to_party`` operates the charger.
    """

    direction = models.CharField(max_length=8, choices=RequestDirection.choices)
    operation = models.CharField(max_length=10, choices=ProfileOperation.choices)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    connection = models.ForeignKey(
        PartnerConnection, on_delete=models.PROTECT, related_name="+", help_text="The partner"
    )
    from_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    session = models.ForeignKey(
        ChargingSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charging_profile_requests",
    )
    session_ref = models.CharField("session id", max_length=36, db_index=True)
    charging_profile = json_field(null=True, help_text="The profile to set (SET only)")
    duration = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds of active profile asked for (GET_ACTIVE only)"
    )
    response_url = models.CharField(max_length=255, help_text="Where the result goes")

    response_result = models.CharField(
        "immediate answer", max_length=16, choices=ProfileResponseType.choices, blank=True
    )
    response_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds to wait for the result, as announced"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(
        null=True, blank=True, help_text="When a result is no longer waited for"
    )
    executed_at = models.DateTimeField(
        null=True, blank=True, help_text="Received: when the backend was asked"
    )

    result = models.CharField(max_length=16, choices=ProfileResultType.choices, blank=True)
    result_profile = json_field(null=True, help_text="The active profile (GET_ACTIVE only)")
    result_at = models.DateTimeField(null=True, blank=True)
    result_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="Received: when the result reached the requester"
    )
    result_send_attempts = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, help_text="Errors, late results, refusals")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["direction", "status", "deadline_at"], name="cp_request_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.session_ref} ({self.status})"

    @property
    def profile(self) -> ChargingProfile | None:
        return ChargingProfile.from_json(self.charging_profile) if self.charging_profile else None

    @property
    def active_profile(self) -> ActiveChargingProfile | None:
        return ActiveChargingProfile.from_json(self.result_profile) if self.result_profile else None

    @property
    def response_ms(self) -> int | None:
        """Milliseconds from the request to its immediate answer."""
        if self.responded_at is None:
            return None
        return int((self.responded_at - self.created_at).total_seconds() * 1000)

    @property
    def result_ms(self) -> int | None:
        """Milliseconds from the request to its result."""
        if self.result_at is None:
            return None
        return int((self.result_at - self.created_at).total_seconds() * 1000)


class SessionChargingProfile(models.Model):
    """A profile in force on one of our sessions, set by ``owner`` (each requester has its own:
    a clear removes the caller's profile only). Written when the charger accepted it."""

    session = models.ForeignKey(
        ChargingSession, on_delete=models.CASCADE, related_name="charging_profiles"
    )
    owner = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="+")
    charging_profile = json_field()
    request = models.ForeignKey(
        ChargingProfileRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-set_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "owner"], name="session_profile_per_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.session} by {self.owner.code}"

    @property
    def profile(self) -> ChargingProfile:
        return ChargingProfile.from_json(self.charging_profile)


class ReportedActiveProfile(models.Model):
    """The latest active profile a partner (a CPO) reported for one of its sessions, pushed to
    us or returned for a get-active request."""

    connection = models.ForeignKey(PartnerConnection, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(
        ChargingSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_active_profiles",
        help_text="Our copy of the session, when we hold one",
    )
    session_ref = models.CharField("session id", max_length=36)
    start_date_time = models.DateTimeField(help_text="When the charger calculated it")
    active_profile = json_field()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                "connection", Lower("session_ref"), name="reported_active_profile_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_ref} at {self.start_date_time:%Y-%m-%d %H:%M:%S}"

    @property
    def profile(self) -> ActiveChargingProfile:
        return ActiveChargingProfile.from_json(self.active_profile)
