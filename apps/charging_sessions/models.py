"""Charging sessions: the live, changing view of a charge, with its charging periods."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from apps.charging_sessions.enums import AuthMethod, DimensionType, SessionStatus
from apps.core.fields import amount_field, currency_field, optional_amount_field
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import Party, SourcedModel
from apps.tokens.enums import ProfileType, TokenType
from apps.tokens.models import Token


class TokenSnapshotModel(models.Model):
    """The token's identity as it was when used (kept even if the token changes later)."""

    token_country_code = models.CharField(max_length=2)
    token_party_id = models.CharField(max_length=3)
    token_uid = models.CharField(max_length=36, db_index=True)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    token_contract_id = models.CharField(max_length=36, db_index=True)
    token = models.ForeignKey(
        Token,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Our copy of the token, when we have one",
    )

    class Meta:
        abstract = True


class ChargingSession(TokenSnapshotModel, SourcedModel):
    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="charging_sessions", help_text="CPO"
    )
    session_id = models.CharField("session id", max_length=36)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)
    kwh = amount_field(help_text="Energy charged so far (kWh)")
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True, db_index=True)
    location_ref = models.CharField("location id", max_length=36)
    evse_ref = models.CharField("EVSE uid", max_length=36)
    connector_ref = models.CharField("connector id", max_length=36)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evse = models.ForeignKey(
        Evse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    meter_id = models.CharField(max_length=255, blank=True)
    currency = currency_field()
    total_cost_excl_vat = optional_amount_field()
    total_cost_incl_vat = optional_amount_field()
    status = models.CharField(max_length=16, choices=SessionStatus.choices)
    last_updated = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-start_date_time"]
        constraints = [
            models.UniqueConstraint("party", Lower("session_id"), name="session_unique_id"),
        ]
        indexes = [
            models.Index(fields=["status", "-start_date_time"], name="session_status_start_idx"),
        ]

    def __str__(self) -> str:
        return self.session_id


class ChargingPeriodModel(models.Model):
    """A period of a session or CDR: it ends where the next one starts."""

    sequence = models.PositiveIntegerField()
    start_date_time = models.DateTimeField()
    tariff_ref = models.CharField("tariff id", max_length=36, blank=True)

    class Meta:
        abstract = True
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"#{self.sequence} from {self.start_date_time:%Y-%m-%d %H:%M:%S}"


class DimensionModel(models.Model):
    type = models.CharField(max_length=20, choices=DimensionType.choices)
    volume = amount_field()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.type}={self.volume.normalize()}"


class SessionChargingPeriod(ChargingPeriodModel):
    session = models.ForeignKey(
        ChargingSession, on_delete=models.CASCADE, related_name="charging_periods"
    )

    class Meta(ChargingPeriodModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["session", "sequence"], name="session_period_seq"),
        ]


class SessionChargingDimension(DimensionModel):
    period = models.ForeignKey(
        SessionChargingPeriod, on_delete=models.CASCADE, related_name="dimensions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "type"], name="session_dimension_unique"),
        ]


class SessionChargingPreferences(SourcedModel):
    """The charging preferences in effect for a session of ours: the last ones a driver sent
    (through their eMSP, ``source_connection``) that the EVSE accepted. Refused requests are
    in the audit log only, so a refusal never erases preferences that were accepted before."""

    session = models.OneToOneField(
        ChargingSession, on_delete=models.CASCADE, related_name="charging_preferences"
    )
    profile_type = models.CharField(max_length=8, choices=ProfileType.choices)
    departure_time = models.DateTimeField(null=True, blank=True)
    energy_need = optional_amount_field(help_text="Energy requested (kWh)")
    discharge_allowed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "charging preferences"
        verbose_name_plural = "charging preferences"

    def __str__(self) -> str:
        return f"{self.session} {self.profile_type}"
