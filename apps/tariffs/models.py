"""Tariffs and their immutable versions.

A ``Tariff`` is the stable identity (owner party + id); every change of its content is a new
``TariffVersion``, never an update, so a CDR can point at exactly the prices that applied.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.fields import currency_field, json_field, optional_amount_field
from apps.core.immutability import AppendOnlyModel
from apps.partners.models import PartnerConnection, Party, PublishableModel, SourcedModel
from apps.tariffs.enums import TariffType, VersionOrigin


class Tariff(PublishableModel, SourcedModel):
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="tariffs")
    tariff_id = models.CharField("tariff id", max_length=36)
    currency = currency_field()
    type = models.CharField(max_length=16, choices=TariffType.choices, blank=True)
    last_updated = models.DateTimeField(db_index=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Withdrawn by its owner; versions are kept for audit"
    )

    class Meta:
        ordering = ["party", "tariff_id"]
        constraints = [
            models.UniqueConstraint("party", Lower("tariff_id"), name="tariff_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff_id} ({self.currency})"

    def latest_version(self) -> TariffVersion | None:
        return self.versions.order_by("-number").first()


class TariffVersion(AppendOnlyModel):
    """The full content of a tariff as it was at one moment. Never updated, never deleted."""

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3 ... per tariff")
    currency = currency_field()
    type = models.CharField(max_length=16, choices=TariffType.choices, blank=True)
    alt_text = json_field(default=list, help_text="Display texts describing the tariff")
    alt_url = models.URLField(max_length=255, blank=True)
    min_price_excl_vat = optional_amount_field()
    min_price_incl_vat = optional_amount_field()
    max_price_excl_vat = optional_amount_field()
    max_price_incl_vat = optional_amount_field()
    elements = json_field(
        default=list, help_text="Tariff elements: price components and restrictions, in order"
    )
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    energy_mix = json_field(null=True)
    last_updated = models.DateTimeField(help_text="The tariff's last_updated in this version")
    recorded_at = models.DateTimeField(
        default=timezone.now, help_text="When we received or published this version"
    )
    origin = models.CharField(max_length=16, choices=VersionOrigin.choices)
    source_connection = models.ForeignKey(
        PartnerConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["tariff", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "number"], name="tariff_version_unique"),
        ]
        indexes = [
            models.Index(fields=["tariff", "recorded_at"], name="tariff_version_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff.tariff_id} v{self.number}"
