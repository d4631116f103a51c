"""CDRs: the billing record of a finished session.

A CDR is prepared as DRAFT and becomes FINAL once; a final CDR and everything under it (periods,
dimensions, cost lines) can never change: the ORM refuses it and a database trigger refuses it
for the CDR row. Corrections are credit CDRs that reference the original.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent, ValidationStatus
from apps.charging_sessions.enums import AuthMethod
from apps.charging_sessions.models import (
    ChargingPeriodModel,
    ChargingSession,
    DimensionModel,
    TokenSnapshotModel,
)
from apps.core.errors import ImmutableRecordError
from apps.core.fields import (
    amount_field,
    currency_field,
    json_field,
    latitude_field,
    longitude_field,
    optional_amount_field,
)
from apps.core.immutability import AppendOnlyModel
from apps.locations.enums import ConnectorFormat, ConnectorStandard, PowerType
from apps.locations.models import Location
from apps.partners.models import Partner, Party, SourcedModel
from apps.tariffs.enums import TariffDimensionType
from apps.tariffs.models import TariffVersion


class CdrQuerySet(models.QuerySet["Cdr"]):
    def final(self) -> CdrQuerySet:
        return self.filter(status=CdrStatus.FINAL)

    def held_for_review(self) -> CdrQuerySet:
        """Drafts that failed validation: never finalized or sent until someone fixes them."""
        return self.filter(status=CdrStatus.DRAFT, validation_status=ValidationStatus.INVALID)

    def needs_review(self) -> CdrQuerySet:
        """CDRs with an ERROR finding that no later review resolved (see :class:`CdrReview`)."""
        return self.filter(Exists(unresolved_error_findings().filter(cdr=OuterRef("pk"))))

    def update(self, **kwargs: Any) -> int:
        if self.filter(status=CdrStatus.FINAL).exists():
            raise ImmutableRecordError("final CDRs cannot be updated")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=CdrStatus.FINAL).exists():
            raise ImmutableRecordError("final CDRs cannot be deleted")
        return super().delete()


class Cdr(TokenSnapshotModel, SourcedModel):
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="cdrs", help_text="CPO")
    cdr_id = models.CharField("CDR id", max_length=39)
    status = models.CharField(max_length=8, choices=CdrStatus.choices, default=CdrStatus.DRAFT)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    session_ref = models.CharField("session id", max_length=36, blank=True)
    session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="cdrs"
    )
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True, db_index=True)

    # Location as it was at the start of the session (sealed copy).
    location_ref = models.CharField("location id", max_length=36)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location_name = models.CharField(max_length=255, blank=True)
    location_address = models.CharField(max_length=255)
    location_city = models.CharField(max_length=45)
    location_postal_code = models.CharField(max_length=10, blank=True)
    location_state = models.CharField(max_length=45, blank=True)
    location_country = models.CharField(max_length=3)
    location_latitude = latitude_field()
    location_longitude = longitude_field()
    evse_uid = models.CharField("EVSE uid", max_length=36)
    evse_id = models.CharField("EVSE ID", max_length=48)
    connector_ref = models.CharField("connector id", max_length=36)
    connector_standard = models.CharField(max_length=32, choices=ConnectorStandard.choices)
    connector_format = models.CharField(max_length=8, choices=ConnectorFormat.choices)
    connector_power_type = models.CharField(max_length=20, choices=PowerType.choices)

    meter_id = models.CharField(max_length=255, blank=True)
    currency = currency_field()
    tariffs_snapshot = json_field(
        default=list, help_text="The tariffs as included in the CDR (valid at session start)"
    )
    signed_data = json_field(
        null=True, help_text="Signed meter data: encoding, public key, signed values, url"
    )

    total_cost_excl_vat = amount_field()
    total_cost_incl_vat = optional_amount_field()
    total_fixed_cost_excl_vat = optional_amount_field()
    total_fixed_cost_incl_vat = optional_amount_field()
    total_energy = amount_field(help_text="kWh")
    total_energy_cost_excl_vat = optional_amount_field()
    total_energy_cost_incl_vat = optional_amount_field()
    total_time = amount_field(help_text="hours")
    total_time_cost_excl_vat = optional_amount_field()
    total_time_cost_incl_vat = optional_amount_field()
    total_parking_time = optional_amount_field(help_text="hours")
    total_parking_cost_excl_vat = optional_amount_field()
    total_parking_cost_incl_vat = optional_amount_field()
    total_reservation_cost_excl_vat = optional_amount_field()
    total_reservation_cost_incl_vat = optional_amount_field()

    remark = models.CharField(max_length=255, blank=True)
    invoice_reference_id = models.CharField(max_length=39, blank=True, db_index=True)
    credit = models.BooleanField(default=False, db_index=True)
    credit_reference_id = models.CharField(max_length=39, blank=True)
    credited_cdr = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_cdrs",
        help_text="The CDR this credit CDR cancels",
    )
    home_charging_compensation = models.BooleanField(null=True, blank=True)
    last_updated = models.DateTimeField(db_index=True)

    # Tariff provenance: which version applied at each moment that matters.
    tariff_version_at_start = models.ForeignKey(
        TariffVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tariff_version_at_end = models.ForeignKey(
        TariffVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tariff_version_at_generation = models.ForeignKey(
        TariffVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Protocol provenance.
    origin = models.CharField(max_length=16, choices=CdrOrigin.choices)
    protocol_version = models.CharField(
        max_length=16, blank=True, help_text="Protocol version it was received in or emitted in"
    )
    validation_status = models.CharField(
        max_length=16, choices=ValidationStatus.choices, default=ValidationStatus.NOT_CHECKED
    )
    validation_findings = json_field(default=list)

    # Reconciliation handles.
    session_key = models.CharField(
        max_length=48,
        db_index=True,
        help_text="Stable session reference: CPO country*party*session id",
    )
    idempotency_key = models.CharField(max_length=64, unique=True)
    billing_reference = models.CharField(max_length=32, unique=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    objects = CdrQuerySet.as_manager()

    class Meta:
        ordering = ["-end_date_time"]
        verbose_name = "CDR"
        verbose_name_plural = "CDRs"
        constraints = [
            models.UniqueConstraint("party", Lower("cdr_id"), name="cdr_unique_id"),
            models.CheckConstraint(
                condition=Q(credit=False) | ~Q(credit_reference_id=""),
                name="cdr_credit_needs_reference",
            ),
            models.CheckConstraint(
                condition=Q(end_date_time__gte=models.F("start_date_time")),
                name="cdr_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["party", "-end_date_time"], name="cdr_party_end_idx"),
            # The "held for review" queue: a handful of drafts among millions of final CDRs.
            models.Index(
                fields=["validation_status"],
                condition=Q(status="DRAFT"),
                name="cdr_draft_validation_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.cdr_id

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Cdr:
        instance = super().from_db(*args, **kwargs)
        instance._stored_final = instance.status == CdrStatus.FINAL
        return instance

    @property
    def is_final(self) -> bool:
        return self.status == CdrStatus.FINAL

    @property
    def stored_final(self) -> bool:
        """True when the row in the database is final (whatever the in-memory status)."""
        return bool(getattr(self, "_stored_final", False))

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.stored_final:
            raise ImmutableRecordError(f"CDR {self.cdr_id} is final and cannot be changed")
        if self.is_final and self.finalized_at is None:
            self.finalized_at = timezone.now()
        super().save(*args, **kwargs)
        self._stored_final = self.is_final

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.stored_final:
            raise ImmutableRecordError(f"CDR {self.cdr_id} is final and cannot be deleted")
        return super().delete(*args, **kwargs)


_P = TypeVar("_P", bound=models.Model)


class CdrPartQuerySet(models.QuerySet[_P]):
    """Refuses bulk changes to the parts of final CDRs."""

    cdr_lookup = "cdr"

    def _touches_final(self) -> bool:
        return self.filter(**{f"{self.cdr_lookup}__status": CdrStatus.FINAL}).exists()

    def update(self, **kwargs: Any) -> int:
        if self._touches_final():
            raise ImmutableRecordError("parts of final CDRs cannot be updated")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self._touches_final():
            raise ImmutableRecordError("parts of final CDRs cannot be deleted")
        return super().delete()


class DimensionPartQuerySet(CdrPartQuerySet[_P]):
    cdr_lookup = "period__cdr"


class CdrPartModel(models.Model):
    """A part of a CDR: may only be written while its CDR is a draft."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_final()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self._refuse_if_final()
        return super().delete(*args, **kwargs)

    def owning_cdr_id(self) -> int:
        raise NotImplementedError

    def _refuse_if_final(self) -> None:
        if Cdr.objects.filter(pk=self.owning_cdr_id(), status=CdrStatus.FINAL).exists():
            raise ImmutableRecordError("parts of a final CDR cannot be changed")


class CdrChargingPeriod(CdrPartModel, ChargingPeriodModel):
    cdr = models.ForeignKey(Cdr, on_delete=models.CASCADE, related_name="charging_periods")

    objects = CdrPartQuerySet.as_manager()

    class Meta(ChargingPeriodModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["cdr", "sequence"], name="cdr_period_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.cdr_id} #{self.sequence}"

    def owning_cdr_id(self) -> int:
        return self.cdr_id


class CdrChargingDimension(CdrPartModel, DimensionModel):
    period = models.ForeignKey(
        CdrChargingPeriod, on_delete=models.CASCADE, related_name="dimensions"
    )

    objects = DimensionPartQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "type"], name="cdr_dimension_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.type}={self.volume.normalize()}"

    def owning_cdr_id(self) -> int:
        return self.period.cdr_id


class CdrCostLine(CdrPartModel):
    """One priced dimension of one period: volume x unit price, excl. and incl. VAT, and why."""

    cdr = models.ForeignKey(Cdr, on_delete=models.CASCADE, related_name="cost_lines")
    period = models.ForeignKey(
        CdrChargingPeriod, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    component = models.CharField(max_length=16, choices=CostComponent.choices)
    dimension = models.CharField(max_length=16, choices=TariffDimensionType.choices)
    volume = amount_field()
    unit_price = amount_field(help_text="Excl. VAT, per unit of the dimension")
    vat_rate = optional_amount_field(help_text="Percent; empty means no VAT applicable")
    currency = currency_field()
    amount_excl_vat = amount_field()
    amount_incl_vat = amount_field()
    tariff_version = models.ForeignKey(
        TariffVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    element_index = models.PositiveIntegerField(null=True, blank=True)
    explanation = models.TextField(blank=True)

    objects = CdrPartQuerySet.as_manager()

    class Meta:
        ordering = ["cdr", "period__sequence", "component"]

    def __str__(self) -> str:
        return f"{self.component} {self.amount_excl_vat.normalize()} {self.currency}"

    def owning_cdr_id(self) -> int:
        return self.cdr_id


class CdrFinding(AppendOnlyModel):
    """Something a check found about a CDR: a signed-data verification, a pricing or a
    validation check. Append-only, so a final CDR gathers findings without being changed;
    a later check adds new findings rather than editing old ones (the newest one counts).
    """

    class Source(models.TextChoices):
        SIGNED_DATA = "SIGNED_DATA", "Signed meter data"
        PRICING = "PRICING", "Pricing"
        VALIDATION = "VALIDATION", "Validation"

    class Severity(models.TextChoices):
        INFO = "INFO", "Info"
        WARNING = "WARNING", "Warning"
        ERROR = "ERROR", "Error"

    # Indexed by cdr_finding_cdr_idx (cdr, -created_at), which also serves lookups by CDR.
    cdr = models.ForeignKey(Cdr, on_delete=models.PROTECT, related_name="findings", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=Source.choices)
    code = models.CharField(
        max_length=64,
        db_index=True,
        help_text="Stable, machine-readable, e.g. SIGNED_ENERGY_MISMATCH",
    )
    severity = models.CharField(max_length=8, choices=Severity.choices)
    message = models.TextField()
    details = json_field(default=dict, help_text="What the check saw, for a person to follow up")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CDR finding"
        indexes = [
            models.Index(fields=["cdr", "-created_at"], name="cdr_finding_cdr_idx"),
            # The "needs review" queue starts from the (few) ERROR findings.
            models.Index(
                fields=["cdr", "-created_at"],
                condition=Q(severity="ERROR"),
                name="cdr_finding_error_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.code}"


class CdrReview(AppendOnlyModel):
    """A person's decision about a CDR that needs review. Append-only: the CDR itself is never
    touched (a final CDR cannot be). The newest review resolves every ERROR finding recorded
    up to that moment; a check that finds an error later puts the CDR back in the queue.
    """

    class Decision(models.TextChoices):
        ACCEPTED = "ACCEPTED", "Accepted (bill as stated)"
        DISPUTED = "DISPUTED", "Disputed (raise with the partner)"

    cdr = models.ForeignKey(Cdr, on_delete=models.PROTECT, related_name="reviews", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff user who decided. Deactivate users instead of deleting them.",
    )
    reviewer_label = models.CharField(max_length=150, help_text="Readable reviewer")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CDR review"
        indexes = [models.Index(fields=["cdr", "-created_at"], name="cdr_review_cdr_idx")]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer_label}"


def unresolved_error_findings() -> models.QuerySet[CdrFinding]:
    """ERROR findings recorded after their CDR's newest review (or of a CDR never reviewed)."""
    return CdrFinding.objects.filter(severity=CdrFinding.Severity.ERROR).filter(
        ~Exists(
            CdrReview.objects.filter(cdr=OuterRef("cdr"), created_at__gte=OuterRef("created_at"))
        )
    )


def _bound_field(help_text: str) -> models.DecimalField:
    # Not amount_field: the ops console keeps amount fields read-only, and these are settings.
    return models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text=help_text,
    )


class PartnerCdrRules(models.Model):
    """How strictly we check a partner's CDRs (eMSP role). A partner without a row gets the
    defaults: a tolerance of 0.01 per total and no bounds. Amounts are in the CDR's currency.
    """

    DEFAULT_TOLERANCE = Decimal("0.01")

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="cdr_rules")
    tolerance = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        default=DEFAULT_TOLERANCE,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Largest difference accepted between a stated total and our price, per total "
        "(excl. and incl. VAT), in the CDR's currency. Beyond it the CDR goes to review.",
    )
    min_energy_kwh = _bound_field("Least total_energy (kWh) a CDR may have")
    max_energy_kwh = _bound_field("Most total_energy (kWh) a CDR may have")
    min_duration_hours = _bound_field("Shortest total_time (hours)")
    max_duration_hours = _bound_field("Longest total_time (hours)")
    max_total_cost_excl_vat = _bound_field("Highest total_cost excl. VAT")
    max_price_per_kwh_excl_vat = _bound_field(
        "Highest total_cost excl. VAT per kWh of total_energy"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CDR rules"
        verbose_name_plural = "CDR rules"

    def __str__(self) -> str:
        return f"CDR rules of {self.partner}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for low, high in (
            ("min_energy_kwh", "max_energy_kwh"),
            ("min_duration_hours", "max_duration_hours"),
        ):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                errors[high] = f"must not be below {low.replace('_', ' ')}"
        if errors:
            raise ValidationError(errors)


class PartnerCdrRulesView(Partner):
    """Partners as the CDR checks see them: the admin lists every partner with its effective
    rules (defaults included) and edits the rules inline."""

    class Meta:
        proxy = True
        verbose_name = "partner CDR rules"
        verbose_name_plural = "partner CDR rules"
