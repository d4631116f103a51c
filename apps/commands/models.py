"""Remote commands (start/stop a session, reserve, cancel a reservation, unlock a connector),
in both directions: sent by us as eMSP, or received by us as CPO."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.commands.enums import (
    CommandDirection,
    CommandResponseType,
    CommandResultType,
    CommandType,
)
from apps.commands.types import CommandAnswer, CommandOutcome, CommandRequest, TokenSnapshot
from apps.core.fields import json_field
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import PartnerConnection, Party
from apps.tokens.enums import TokenType
from apps.tokens.models import Token


def new_uid() -> str:
    return uuid.uuid4().hex


class Command(models.Model):
    """One command and what became of it.

    ``direction`` says whose it is: SENT (we are the eMSP; the CPO answers and later POSTs the
    result to the ``response_url`` we gave) or RECEIVED (we are the CPO; we answer, execute it
    through the charge-point backend and POST the result to the eMSP's ``response_url``).

    The payload is stored as requested (ids as text, the token as a snapshot) and, where we
    hold the object, linked to it. ``response_*`` is the immediate CommandResponse,
    ``result*`` the CommandResult reported later; ``deadline`` is when a missing result
    becomes TIMEOUT (see ``commands_expire``).
    """

    uid = models.CharField(
        max_length=36, unique=True, default=new_uid, editable=False, help_text="Our id"
    )
    direction = models.CharField(max_length=8, choices=CommandDirection.choices)
    type = models.CharField(max_length=20, choices=CommandType.choices)
    connection = models.ForeignKey(
        PartnerConnection,
        on_delete=models.PROTECT,
        related_name="commands",
        help_text="The connection the command was sent to or received from",
    )
    emsp_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cpo_party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    response_url = models.URLField(max_length=255, blank=True)

    # -- payload ------------------------------------------------------------------------------
    token_country_code = models.CharField(max_length=2, blank=True)
    token_party_id = models.CharField(max_length=3, blank=True)
    token_uid = models.CharField(max_length=36, blank=True, db_index=True)
    token_type = models.CharField(max_length=16, choices=TokenType.choices, blank=True)
    token_contract_id = models.CharField(max_length=36, blank=True)
    token_snapshot = json_field(null=True, help_text="The token as the eMSP sent it")
    token = models.ForeignKey(
        Token, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location_ref = models.CharField("location id", max_length=36, blank=True)
    evse_ref = models.CharField("EVSE uid", max_length=36, blank=True)
    connector_ref = models.CharField("connector id", max_length=36, blank=True)
    session_ref = models.CharField("session id", max_length=36, blank=True)
    reservation_ref = models.CharField("reservation id", max_length=36, blank=True)
    expiry_date = models.DateTimeField(null=True, blank=True, help_text="End of a reservation")
    authorization_reference = models.CharField(max_length=36, blank=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evse = models.ForeignKey(
        Evse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    charging_session = models.ForeignKey(
        ChargingSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commands",
        help_text="The session stopped, or the session a start produced",
    )

    # -- answers ------------------------------------------------------------------------------
    response_result = models.CharField(
        max_length=16, choices=CommandResponseType.choices, blank=True
    )
    response_timeout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds to wait for the result"
    )
    response_message = models.TextField(blank=True)
    result = models.CharField(max_length=20, choices=CommandResultType.choices, blank=True)
    result_message = models.TextField(blank=True)

    # -- timing -------------------------------------------------------------------------------
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    forwarded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the charge-point backend was given the command"
    )
    result_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="A result not reported by then is TIMEOUT"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["direction", "response_result", "deadline"],
                name="command_pending_idx",
                condition=models.Q(result=""),
            ),
            models.Index(fields=["connection", "-requested_at"], name="command_conn_time_idx"),
            models.Index(fields=["reservation_ref"], name="command_reservation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uid[:8]}"

    # -- canonical views ----------------------------------------------------------------------
    @property
    def token_data(self) -> TokenSnapshot | None:
        return TokenSnapshot.from_json(self.token_snapshot) if self.token_snapshot else None

    @property
    def request(self) -> CommandRequest:
        return CommandRequest(
            type=self.type,
            response_url=self.response_url,
            token=self.token_data,
            location_id=self.location_ref,
            evse_uid=self.evse_ref,
            connector_id=self.connector_ref,
            session_id=self.session_ref,
            reservation_id=self.reservation_ref,
            expiry_date=self.expiry_date,
            authorization_reference=self.authorization_reference,
        )

    @property
    def answer(self) -> CommandAnswer:
        return CommandAnswer(
            result=self.response_result,
            timeout=self.response_timeout or 0,
            message=self.response_message,
        )

    @property
    def outcome(self) -> CommandOutcome:
        return CommandOutcome(result=self.result, message=self.result_message)

    @property
    def response_latency(self) -> timedelta | None:
        return self.responded_at - self.requested_at if self.responded_at else None

    @property
    def result_latency(self) -> timedelta | None:
        return self.result_at - self.requested_at if self.result_at else None
