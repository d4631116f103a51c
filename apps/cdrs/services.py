from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent, ValidationStatus
from apps.cdrs.models import (
    Cdr,
    CdrChargingDimension,
    CdrChargingPeriod,
    CdrCostLine,
    CdrFinding,
    CdrReview,
)
from apps.cdrs.signed_data import SignedDataReport, SignedValueOutcome, signed_data_verify
from apps.charging_sessions.models import ChargingSession
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.services import Actor, audit_log_record, model_snapshot
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.pricing import PeriodInput, PricingResult, SessionInput
from apps.tokens.models import Token

logger = logging.getLogger(__name__)

# Which CDR total each cost component adds up to.
COMPONENT_TOTAL_FIELDS: dict[str, str] = {
    CostComponent.FIXED: "total_fixed_cost",
    CostComponent.ENERGY: "total_energy_cost",
    CostComponent.TIME: "total_time_cost",
    CostComponent.PARKING: "total_parking_cost",
    CostComponent.RESERVATION: "total_reservation_cost",
}
_NEGATED_TOTALS = ["total_cost", *COMPONENT_TOTAL_FIELDS.values()]
#: The CDR's money totals, each stored excl. and incl. VAT (``<name>_excl_vat``, ...).
COST_TOTALS: tuple[str, ...] = ("total_cost", *COMPONENT_TOTAL_FIELDS.values())
#: The CDR's quantities the tariff engine also computes (kWh, hours).
PRICED_QUANTITIES: tuple[str, ...] = ("total_energy", "total_time", "total_parking_time")


def cdr_idempotency_key(*, country_code: str, party_id: str, cdr_id: str) -> str:
    """The key that identifies one CDR across retries and channels (case-insensitive ids)."""
    natural = f"{country_code.upper()}*{party_id.upper()}*{cdr_id.upper()}"
    return hashlib.sha256(natural.encode()).hexdigest()


def cdr_session_key(*, country_code: str, party_id: str, session_id: str) -> str:
    return f"{country_code.upper()}*{party_id.upper()}*{session_id}"[:48]


def _exact(value: Decimal | None) -> str:
    """An amount in a problem's words: exact, without stored trailing zeros or an exponent."""
    return "—" if value is None else format(value.normalize(), "f")


def cdr_cost_mismatches(*, cdr: Cdr) -> list[str]:
    """Where the cost lines do not add up to the CDR's totals (empty when they do).

    Each subtotal is the sum of its component's lines; ``total_cost`` the sum of all lines,
    ADJUSTMENT lines (a tariff's min_price/max_price) included.
    """
    lines = list(cdr.cost_lines.all())
    problems: list[str] = []
    for component, total_field in COMPONENT_TOTAL_FIELDS.items():
        part = [ln for ln in lines if ln.component == component]
        for kind in ("excl", "incl"):
            summed = sum((getattr(ln, f"amount_{kind}_vat") for ln in part), Decimal(0))
            stated = getattr(cdr, f"{total_field}_{kind}_vat")
            if (stated or Decimal(0)) != summed:
                problems.append(
                    f"{total_field} {kind}. VAT is {_exact(stated)}, lines add up to "
                    f"{_exact(summed)}"
                )
    grand = {
        kind: sum((getattr(ln, f"amount_{kind}_vat") for ln in lines), Decimal(0))
        for kind in ("excl", "incl")
    }
    for kind in ("excl", "incl"):
        stated = getattr(cdr, f"total_cost_{kind}_vat")
        if (stated or Decimal(0)) != grand[kind]:
            problems.append(
                f"total_cost {kind}. VAT is {_exact(stated)}, lines add up to {_exact(grand[kind])}"
            )
    return problems


def cdr_finalize(*, cdr: Cdr, actor: Actor = None) -> Cdr:
    """Make a draft CDR final. From then on nothing in it can change.

    Refuses when cost lines exist and do not add up to the totals.
    """
    with transaction.atomic():
        locked = Cdr.objects.select_for_update().get(pk=cdr.pk)
        if locked.stored_final:
            return locked
        if locked.cost_lines.exists():
            problems = cdr_cost_mismatches(cdr=locked)
            if problems:
                raise DomainError("; ".join(problems), code="CDR_TOTALS_MISMATCH")
        locked.status = CdrStatus.FINAL
        locked.finalized_at = timezone.now()
        locked.save()
        change_announce(DomainChange(kind=ChangeKind.CDR, object_id=locked.pk))
        audit_log_record(
            actor=actor,
            action="cdr.finalized",
            obj=locked,
            before={"status": CdrStatus.DRAFT},
            after={"status": CdrStatus.FINAL},
        )
    return locked


def cdr_credit_refusal(*, original: Cdr) -> DomainError | None:
    """Why ``original`` cannot be credited, or None when it can (no side effects).

    Only the party that issued a CDR credits it: a partner's CDR is the partner's to credit
    (we receive its credit CDR); what we contest in it is a dispute, never a credit of ours.
    """
    if not original.party.is_own:
        return DomainError(
            f"CDR {original.cdr_id} was issued by {original.party.code}, a partner's party: "
            "only the party that issued a CDR can credit it. To contest it, open a dispute "
            "with the partner instead.",
            code="CDR_CREDIT_NOT_OWN",
        )
    if not original.stored_final:
        return DomainError("only a final CDR can be credited; change the draft instead")
    if original.credit:
        return DomainError("a credit CDR cannot itself be credited", code="CDR_CREDIT_OF_CREDIT")
    existing = original.credit_cdrs.order_by("pk").first()
    if existing is not None:
        return DomainError(
            f"CDR {original.cdr_id} was already credited by {existing.cdr_id}",
            code="CDR_ALREADY_CREDITED",
        )
    return None


def cdr_issue_credit(*, original: Cdr, actor: Actor = None, remark: str = "") -> Cdr:
    """Cancel a final CDR with a credit CDR: a copy with negated costs that references it.

    The original is never touched. The credit id is the original id + "-C" (OCPI allows credit
    ids up to 39 characters for exactly this). ``remark`` is the reason: the credit CDR's remark
    (the original's when empty) and part of the audit entry.
    """
    refusal = cdr_credit_refusal(original=original)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        # Two credits of one CDR at once: the second waits here, then finds the first.
        locked = Cdr.objects.select_for_update().get(pk=original.pk)
        refusal = cdr_credit_refusal(original=locked)
        if refusal is not None:
            raise refusal
        credit = Cdr.objects.get(pk=original.pk)
        credit.pk = None
        credit._state.adding = True
        credit._stored_final = False
        credit.status = CdrStatus.DRAFT
        credit.cdr_id = f"{original.cdr_id}-C"
        credit.credit = True
        credit.credit_reference_id = original.cdr_id
        credit.credited_cdr = original
        credit.remark = remark or original.remark
        now = timezone.now()
        credit.last_updated = now
        credit.created_at = now
        credit.finalized_at = None
        credit.idempotency_key = cdr_idempotency_key(
            country_code=original.party.country_code,
            party_id=original.party.party_id,
            cdr_id=credit.cdr_id,
        )
        credit.billing_reference = f"{original.billing_reference}-C"[:32]
        for name in _NEGATED_TOTALS:
            for kind in ("excl", "incl"):
                value = getattr(original, f"{name}_{kind}_vat")
                setattr(credit, f"{name}_{kind}_vat", None if value is None else -value)
        credit.save()
        period_map: dict[int, CdrChargingPeriod] = {}
        for period in original.charging_periods.prefetch_related("dimensions"):
            copy = CdrChargingPeriod.objects.create(
                cdr=credit,
                sequence=period.sequence,
                start_date_time=period.start_date_time,
                tariff_ref=period.tariff_ref,
            )
            period_map[period.pk] = copy
            CdrChargingDimension.objects.bulk_create(
                CdrChargingDimension(period=copy, type=d.type, volume=d.volume)
                for d in period.dimensions.all()
            )
        for line in original.cost_lines.all():
            CdrCostLine.objects.create(
                cdr=credit,
                period=period_map.get(line.period_id) if line.period_id else None,
                component=line.component,
                dimension=line.dimension,
                volume=line.volume,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                currency=line.currency,
                amount_excl_vat=-line.amount_excl_vat,
                amount_incl_vat=-line.amount_incl_vat,
                tariff_version=line.tariff_version,
                element_index=line.element_index,
                explanation=f"Credit of: {line.explanation}",
            )
        audit_log_record(
            actor=actor,
            action="cdr.credited",
            obj=original,
            after={
                "credit_cdr": credit.cdr_id,
                **model_snapshot(credit, fields=["cdr_id"]),
                "reason": remark,
            },
        )
        return cdr_finalize(cdr=credit, actor=actor)


# How much each outcome of a signed value matters to billing.
_SIGNED_VALUE_SEVERITY: dict[SignedValueOutcome, str] = {
    SignedValueOutcome.VERIFIED: CdrFinding.Severity.INFO,
    SignedValueOutcome.INVALID_SIGNATURE: CdrFinding.Severity.ERROR,
    SignedValueOutcome.NO_PUBLIC_KEY: CdrFinding.Severity.WARNING,
    SignedValueOutcome.UNSUPPORTED_ENCODING: CdrFinding.Severity.WARNING,
    SignedValueOutcome.MALFORMED: CdrFinding.Severity.ERROR,
}


def _kwh(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _signed_data_findings(report: SignedDataReport) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(code, severity, message, details) for each thing the report says."""
    severity = CdrFinding.Severity
    if not report.present:
        return [("SIGNED_DATA_ABSENT", severity.INFO, "The CDR has no signed meter data.", {})]
    if report.problem:
        return [("SIGNED_DATA_MALFORMED", severity.ERROR, f"Signed data: {report.problem}.", {})]
    found: list[tuple[str, str, str, dict[str, Any]]] = []
    for value in report.values:
        label = f"Signed value {value.index}" + (f" ({value.nature})" if value.nature else "")
        details = {
            "encoding_method": report.encoding_method,
            "encoding_method_version": report.encoding_method_version,
            **value.as_json(),
        }
        found.append(
            (
                f"SIGNED_VALUE_{value.outcome}",
                _SIGNED_VALUE_SEVERITY[value.outcome],
                f"{label}: {value.message}.",
                details,
            )
        )
        if value.plain_data_matches is False:
            found.append(
                (
                    "SIGNED_PLAIN_DATA_MISMATCH",
                    severity.WARNING,
                    f"{label}: plain_data differs from the payload the meter signed.",
                    {"index": value.index, "nature": value.nature},
                )
            )
    energy = report.signed_energy
    difference = report.energy_difference
    if energy is not None and difference is not None:
        details = {
            "signed_energy_kwh": _kwh(energy.kwh),
            "total_energy_kwh": _kwh(report.total_energy),
            "difference_kwh": _kwh(difference),
            "tolerance_kwh": _kwh(report.tolerance),
            "begin": energy.begin.as_json(),
            "end": energy.end.as_json(),
        }
        if report.energy_matches:
            found.append(
                (
                    "SIGNED_ENERGY_MATCHES",
                    severity.INFO,
                    f"Signed energy {_kwh(energy.kwh)} kWh matches total_energy "
                    f"{_kwh(report.total_energy)} kWh.",
                    details,
                )
            )
        else:
            found.append(
                (
                    "SIGNED_ENERGY_MISMATCH",
                    severity.ERROR,
                    f"Signed energy {_kwh(energy.kwh)} kWh differs from total_energy "
                    f"{_kwh(report.total_energy)} kWh by {_kwh(difference)} kWh "
                    f"(tolerance {_kwh(report.tolerance)} kWh).",
                    details,
                )
            )
    elif report.verified_values:
        found.append(
            (
                "SIGNED_ENERGY_UNDETERMINED",
                severity.WARNING,
                "The verified values hold no begin and end reading of one energy register: "
                "the billed energy is not proven.",
                {},
            )
        )
    return found


def cdr_check_signed_data(*, cdr: Cdr, actor: Actor = None) -> list[CdrFinding]:
    """Verify the CDR's signed meter data and record what was found as findings.

    The CDR itself is never written (a final CDR cannot be): each check appends new findings,
    all with the same ``created_at``, and an audit entry naming who asked.
    """
    report = signed_data_verify(cdr=cdr)
    now = timezone.now()
    with transaction.atomic():
        findings = [
            CdrFinding.objects.create(
                cdr=cdr,
                created_at=now,
                source=CdrFinding.Source.SIGNED_DATA,
                code=code,
                severity=severity,
                message=message,
                details=details,
            )
            for code, severity, message, details in _signed_data_findings(report)
        ]
        audit_log_record(
            actor=actor,
            action="cdr.signed_data_checked",
            obj=cdr,
            after={"findings": [f"{f.severity} {f.code}" for f in findings]},
        )
    return findings


# -- pricing a stored CDR -----------------------------------------------------------------------
def cdr_session_input(*, cdr: Cdr, time_zone: str) -> SessionInput:
    """The CDR's charging periods as the tariff engine prices them (``apps.tariffs.pricing``)."""
    periods = cdr.charging_periods.order_by("sequence").prefetch_related("dimensions")
    return SessionInput(
        start=cdr.start_date_time,
        end=cdr.end_date_time,
        periods=tuple(
            PeriodInput(
                start=period.start_date_time,
                dimensions={d.type: d.volume for d in period.dimensions.all()},
            )
            for period in periods
        ),
        time_zone=time_zone,
    )


def pricing_result_figures(result: PricingResult) -> dict[str, Decimal]:
    """The engine's totals under the CDR's field names (``total_cost_excl_vat``, ...,
    ``total_energy``), at full precision."""
    figures: dict[str, Decimal] = {}
    for name in COST_TOTALS:
        amount = getattr(result, name)
        figures[f"{name}_excl_vat"] = amount.excl_vat
        figures[f"{name}_incl_vat"] = amount.incl_vat
    for name in PRICED_QUANTITIES:
        figures[name] = getattr(result, name)
    return figures


# -- findings and reviews -----------------------------------------------------------------------
@dataclass(frozen=True)
class NewFinding:
    """A finding about to be recorded (see :func:`cdr_findings_record`)."""

    code: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def cdr_findings_record(
    *, cdr: Cdr, source: str, found: Iterable[NewFinding], at: datetime | None = None
) -> list[CdrFinding]:
    """Append the findings of one check, all with the same ``created_at``. Never touches the
    CDR itself. Call it inside the check's transaction."""
    moment = at or timezone.now()
    return [
        CdrFinding.objects.create(
            cdr=cdr,
            created_at=moment,
            source=source,
            code=f.code,
            severity=f.severity,
            message=f.message,
            details=f.details,
        )
        for f in found
    ]


def cdr_review_record(*, cdr: Cdr, decision: str, note: str = "", actor: Actor = None) -> CdrReview:
    """Record a person's decision about a CDR in review; it resolves every ERROR finding
    recorded so far (the CDR leaves the "needs review" queue). The CDR is not changed.

    A dispute needs a note: it is what the partner will be told.
    """
    if decision not in CdrReview.Decision.values:
        raise DomainError(f"{decision!r} is not a review decision", code="INVALID_DECISION")
    note = note.strip()
    if decision == CdrReview.Decision.DISPUTED and not note:
        raise DomainError("say why the CDR is disputed", code="REVIEW_NOTE_REQUIRED")
    user = actor if isinstance(actor, AbstractBaseUser) else None
    if user is not None:
        label = user.get_username()
    elif isinstance(actor, str):
        label = actor
    else:
        label = "system"
    with transaction.atomic():
        review = CdrReview.objects.create(
            cdr=cdr,
            reviewer=cast(Any, user),
            reviewer_label=label[:150],
            decision=decision,
            note=note,
        )
        audit_log_record(
            actor=actor,
            action="cdr.reviewed",
            obj=cdr,
            after={"decision": decision, "note": note, "review": review.pk},
        )
    return review


def cdr_location_snapshot(
    *, location: Location, evse: Evse, connector: Connector
) -> dict[str, Any]:
    """The CDR fields that seal where the session happened, as it was (spec 8.1)."""
    return {
        "location_ref": location.location_id,
        "location": location,
        "location_name": location.name,
        "location_address": location.address,
        "location_city": location.city,
        "location_postal_code": location.postal_code,
        "location_state": location.state,
        "location_country": location.country,
        "location_latitude": location.latitude,
        "location_longitude": location.longitude,
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id,
        "connector_ref": connector.connector_id,
        "connector_standard": connector.standard,
        "connector_format": connector.format,
        "connector_power_type": connector.power_type,
    }


# -- partners' CDRs (we are their eMSP) ---------------------------------------------------------
@dataclass(frozen=True)
class CdrPeriodContent:
    """One charging period of a CDR: when it started, its dimensions (type → volume, in the
    order given) and the tariff it names."""

    start_date_time: datetime
    dimensions: dict[str, Decimal]
    tariff_ref: str = ""


@dataclass(frozen=True)
class CdrContent:
    """A CDR as its CPO sends it, in canonical form: the ``Cdr`` columns under their model names
    (strings never None, Decimals, aware datetimes), the periods, and the tariffs as sealed
    snapshots (``tariffs``: JSON-safe dicts with ``party``, ``tariff_id``, ``version`` and the
    ``TariffContent`` fields, as ``tariff_version_snapshot`` makes them)."""

    country_code: str
    party_id: str
    cdr_id: str
    start_date_time: datetime
    end_date_time: datetime
    token_country_code: str
    token_party_id: str
    token_uid: str
    token_type: str
    token_contract_id: str
    auth_method: str
    location_ref: str
    location_address: str
    location_city: str
    location_country: str
    location_latitude: Decimal
    location_longitude: Decimal
    evse_uid: str
    evse_id: str
    connector_ref: str
    connector_standard: str
    connector_format: str
    connector_power_type: str
    currency: str
    periods: tuple[CdrPeriodContent, ...]
    total_cost_excl_vat: Decimal
    total_energy: Decimal
    total_time: Decimal
    last_updated: datetime
    session_ref: str = ""
    authorization_reference: str = ""
    location_name: str = ""
    location_postal_code: str = ""
    location_state: str = ""
    meter_id: str = ""
    tariffs: tuple[dict[str, Any], ...] = ()
    signed_data: dict[str, Any] | None = None
    total_cost_incl_vat: Decimal | None = None
    total_fixed_cost_excl_vat: Decimal | None = None
    total_fixed_cost_incl_vat: Decimal | None = None
    total_energy_cost_excl_vat: Decimal | None = None
    total_energy_cost_incl_vat: Decimal | None = None
    total_time_cost_excl_vat: Decimal | None = None
    total_time_cost_incl_vat: Decimal | None = None
    total_parking_time: Decimal | None = None
    total_parking_cost_excl_vat: Decimal | None = None
    total_parking_cost_incl_vat: Decimal | None = None
    total_reservation_cost_excl_vat: Decimal | None = None
    total_reservation_cost_incl_vat: Decimal | None = None
    remark: str = ""
    invoice_reference_id: str = ""
    credit: bool = False
    credit_reference_id: str = ""
    home_charging_compensation: bool | None = None

    def columns(self) -> dict[str, Any]:
        """The values of the ``Cdr`` columns this content fills."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_COLUMNS}
        values["tariffs_snapshot"] = list(self.tariffs)
        return values


#: CdrContent fields that are not ``Cdr`` columns of the same name.
_NOT_COLUMNS = frozenset({"country_code", "party_id", "periods", "tariffs"})


def cdr_content_of(cdr: Cdr) -> CdrContent:
    """What a stored CDR holds, as :class:`CdrContent` (to compare with a repeated delivery)."""
    names = {f.name for f in fields(CdrContent)} - {
        "country_code",
        "party_id",
        "periods",
        "tariffs",
    }
    periods = tuple(
        CdrPeriodContent(
            start_date_time=period.start_date_time,
            dimensions={d.type: d.volume for d in sorted(period.dimensions.all(), key=_pk)},
            tariff_ref=period.tariff_ref,
        )
        for period in cdr.charging_periods.all()
    )
    return CdrContent(
        country_code=cdr.party.country_code,
        party_id=cdr.party.party_id,
        periods=periods,
        tariffs=tuple(cdr.tariffs_snapshot or ()),
        **{name: getattr(cdr, name) for name in names},
    )


def _pk(obj: Any) -> int:
    return int(obj.pk)


def _differences(stored: CdrContent, incoming: CdrContent) -> list[str]:
    """The fields in which two contents of one CDR differ (ids compared case-insensitively,
    numbers by value)."""
    names = []
    for f in fields(CdrContent):
        mine, theirs = getattr(stored, f.name), getattr(incoming, f.name)
        if f.name in ("country_code", "party_id", "cdr_id"):
            mine, theirs = mine.casefold(), theirs.casefold()
        if mine != theirs:
            names.append(f.name)
    return names


@dataclass(frozen=True)
class CdrReceipt:
    """What :func:`cdr_receive` did: ``created`` a new CDR, or found it stored already
    (``differences`` names the fields in which the delivery differs from what we hold)."""

    cdr: Cdr
    created: bool
    differences: tuple[str, ...] = ()


def cdr_receive(
    *,
    party: Party,
    content: CdrContent,
    source_connection: PartnerConnection,
    protocol_version: str = "",
    actor: Actor = None,
) -> CdrReceipt:
    """Store a CDR a partner CPO sent us (we are the eMSP), final and immutable at once, then
    check its pricing (:func:`apps.cdrs.checking.cdr_check_pricing`).

    Idempotent on (party, CDR id): a repeated delivery creates nothing and returns the stored
    CDR, with the fields in which it differs (a CDR never changes: corrections are credit CDRs).
    The CDR is committed before it is checked: a check that fails is recorded as a
    PRICING_CHECK_FAILED finding (the CDR goes to review) and never loses the CDR.
    Not announced: a partner's CDR is not ours to push.
    """
    if party.is_own:
        raise DomainError("a CDR received from a partner cannot belong to one of our parties")
    if (party.country_code.casefold(), party.party_id.casefold()) != (
        content.country_code.casefold(),
        content.party_id.casefold(),
    ):
        raise DomainError(f"the CDR belongs to {content.country_code}*{content.party_id}")
    existing = _stored_cdr(party, content.cdr_id)
    if existing is None:
        try:
            with transaction.atomic():
                cdr = _create_received(party, content, source_connection, protocol_version)
                audit_log_record(
                    actor=actor,
                    action="cdr.received",
                    obj=cdr,
                    after={"cdr_id": cdr.cdr_id, "source_connection": source_connection.pk},
                )
        except IntegrityError:
            # The same CDR stored meanwhile by a concurrent delivery.
            existing = _stored_cdr(party, content.cdr_id)
            if existing is None:
                raise
        else:
            cdr_check_received(cdr=cdr, actor=actor)
            return CdrReceipt(cdr=cdr, created=True)
    differences = _differences(cdr_content_of(existing), content)
    return CdrReceipt(cdr=existing, created=False, differences=tuple(differences))


def _stored_cdr(party: Party, cdr_id: str) -> Cdr | None:
    return (
        Cdr.objects.select_related("party")
        .prefetch_related("charging_periods__dimensions")
        .filter(party=party, cdr_id__iexact=cdr_id)
        .first()
    )


def _create_received(
    party: Party, content: CdrContent, source: PartnerConnection, protocol_version: str
) -> Cdr:
    key = cdr_idempotency_key(
        country_code=party.country_code, party_id=party.party_id, cdr_id=content.cdr_id
    )
    cdr = Cdr.objects.create(
        party=party,
        status=CdrStatus.DRAFT,
        source_connection=source,
        origin=CdrOrigin.RECEIVED,
        protocol_version=protocol_version,
        validation_status=ValidationStatus.NOT_CHECKED,
        session=ChargingSession.objects.filter(party=party, session_id__iexact=content.session_ref)
        .order_by("pk")
        .first()
        if content.session_ref
        else None,
        location=Location.objects.filter(party=party, location_id__iexact=content.location_ref)
        .order_by("pk")
        .first(),
        token=Token.objects.filter(
            party__country_code__iexact=content.token_country_code,
            party__party_id__iexact=content.token_party_id,
            uid__iexact=content.token_uid,
            type=content.token_type,
        )
        .order_by("pk")
        .first(),
        session_key=cdr_session_key(
            country_code=party.country_code,
            party_id=party.party_id,
            session_id=content.session_ref or content.cdr_id,
        ),
        idempotency_key=key,
        billing_reference=f"{party.country_code}{party.party_id}-{key[:16].upper()}",
        **content.columns(),
    )
    for sequence, period in enumerate(content.periods, start=1):
        row = CdrChargingPeriod.objects.create(
            cdr=cdr,
            sequence=sequence,
            start_date_time=period.start_date_time,
            tariff_ref=period.tariff_ref,
        )
        CdrChargingDimension.objects.bulk_create(
            CdrChargingDimension(period=row, type=kind, volume=volume)
            for kind, volume in period.dimensions.items()
        )
    # Final from the start: the CPO sent it final (spec: a CDR never changes once sent).
    cdr.status = CdrStatus.FINAL
    cdr.save()
    return cdr


def cdr_check_received(*, cdr: Cdr, actor: Actor = None) -> list[CdrFinding]:
    """Check a received CDR's pricing; a check that fails is itself a finding (ERROR, so the
    CDR goes to review), never an error for the caller. Returns the new findings."""
    from apps.cdrs.checking import cdr_check_pricing  # checking imports this module

    try:
        with transaction.atomic():
            return cdr_check_pricing(cdr=cdr, actor=actor)
    except Exception as exc:
        logger.exception("pricing check of received CDR %s failed", cdr.pk)
        with transaction.atomic():
            return cdr_findings_record(
                cdr=cdr,
                source=CdrFinding.Source.PRICING,
                found=[
                    NewFinding(
                        code="PRICING_CHECK_FAILED",
                        severity=CdrFinding.Severity.ERROR,
                        message=f"The pricing check could not run: {type(exc).__name__}: {exc}.",
                        details={"error": type(exc).__name__},
                    )
                ],
            )
