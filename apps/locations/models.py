"""Charging sites: Location → EVSE → Connector, with the EVSE status history.

Structured sub-objects that are only ever read and written whole (opening times, images,
energy mix, business details, display texts) are JSON; everything that is filtered, joined or
constrained is a column.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.fields import json_field, latitude_field, longitude_field
from apps.core.immutability import AppendOnlyModel
from apps.locations.enums import (
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    ParkingType,
    PowerType,
)
from apps.partners.models import PartnerConnection, Party, PublishableModel, SourcedModel


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone name") from None


class Location(PublishableModel, SourcedModel):
    """A charging site owned by a CPO party (ours or a partner's)."""

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="locations")
    location_id = models.CharField("location id", max_length=36)
    visible_to_public = models.BooleanField(
        default=True, help_text="OCPI 'publish': may be shown in public apps and maps"
    )
    visible_to_tokens = json_field(
        default=list, help_text="OCPI 'publish_allowed_to': tokens that may see a hidden location"
    )
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=255)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=45, blank=True)
    country = models.CharField(max_length=3, help_text="ISO 3166-1 alpha-3")
    latitude = latitude_field()
    longitude = longitude_field()
    related_locations = json_field(default=list)
    parking_type = models.CharField(max_length=32, choices=ParkingType.choices, blank=True)
    directions = json_field(default=list, help_text="Display texts")
    operator_details = json_field(null=True, help_text="Business details of the operator")
    suboperator_details = json_field(null=True)
    owner_details = json_field(null=True)
    facilities = json_field(default=list)
    time_zone = models.CharField(max_length=255, validators=[validate_time_zone])
    opening_times = json_field(null=True, help_text="twentyfourseven, regular hours, exceptions")
    charging_when_closed = models.BooleanField(null=True, blank=True)
    images = json_field(default=list)
    energy_mix = json_field(null=True)
    last_updated = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["party", "location_id"]
        constraints = [
            models.UniqueConstraint("party", Lower("location_id"), name="location_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.name}".strip()

    @property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Evse(models.Model):
    """An EVSE: one vehicle can charge at a time. Never deleted (status REMOVED instead)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="evses")
    uid = models.CharField("EVSE uid", max_length=36)
    evse_id = models.CharField("EVSE ID", max_length=48, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=EvseStatus.choices)
    status_schedule = json_field(default=list)
    capabilities = json_field(default=list)
    floor_level = models.CharField(max_length=4, blank=True)
    latitude = latitude_field(null=True, blank=True)
    longitude = longitude_field(null=True, blank=True)
    physical_reference = models.CharField(max_length=16, blank=True)
    directions = json_field(default=list)
    parking_restrictions = json_field(default=list)
    images = json_field(default=list)
    last_updated = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["location", "uid"]
        verbose_name = "EVSE"
        verbose_name_plural = "EVSEs"
        constraints = [
            models.UniqueConstraint("location", Lower("uid"), name="evse_unique_uid"),
        ]

    def __str__(self) -> str:
        return self.evse_id or self.uid


class Connector(models.Model):
    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.CharField("connector id", max_length=36)
    standard = models.CharField(max_length=32, choices=ConnectorStandard.choices)
    format = models.CharField(max_length=8, choices=ConnectorFormat.choices)
    power_type = models.CharField(max_length=20, choices=PowerType.choices)
    max_voltage = models.PositiveIntegerField(help_text="V")
    max_amperage = models.PositiveIntegerField(help_text="A")
    max_electric_power = models.PositiveIntegerField(null=True, blank=True, help_text="W")
    tariff_ids = json_field(default=list, help_text="Ids of the tariffs currently valid here")
    terms_and_conditions = models.URLField(max_length=255, blank=True)
    last_updated = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["evse", "connector_id"]
        constraints = [
            models.UniqueConstraint("evse", Lower("connector_id"), name="connector_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.evse} #{self.connector_id}"


class EvseStatusChange(AppendOnlyModel):
    """One status transition of an EVSE. Append-only: the history of availability."""

    evse = models.ForeignKey(Evse, on_delete=models.PROTECT, related_name="status_changes")
    status = models.CharField(max_length=16, choices=EvseStatus.choices)
    previous_status = models.CharField(max_length=16, choices=EvseStatus.choices, blank=True)
    changed_at = models.DateTimeField(help_text="When the status changed (as reported)")
    recorded_at = models.DateTimeField(default=timezone.now)
    source_connection = models.ForeignKey(
        PartnerConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["evse", "-changed_at"], name="evse_status_evse_time_idx"),
            models.Index(fields=["changed_at"], name="evse_status_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.evse_id}: {self.previous_status or '?'} → {self.status}"
