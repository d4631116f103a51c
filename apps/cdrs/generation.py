"""CDR generation (CPO role): a completed session at one of our own CPO parties becomes a CDR,
validated before anything can send it.

How the CDR is built:

* **Identity.** The CDR id is the session id, so generating twice returns the first CDR and
  creates nothing. The idempotency key (``cdr_idempotency_key``) and the billing reference
  derive from the party and the CDR id. ``protocol_version`` stays empty: the protocol layer
  knows which version it emits the CDR in.
* **Tariff.** Among the tariffs of the session's connector (plus the one its periods name, if
  any), ``select_tariff`` picks the first valid at the session start, in the version in effect
  at the start (``tariff_version_in_effect``). The versions in effect at the end and at
  generation are kept as provenance; the start version is the CDR's ``tariffs`` snapshot.
* **Sealed copies.** The token as the session recorded it; the location, EVSE and connector as
  they are when the CDR is generated, right after the session ended (we keep no history of
  locations to look further back).
* **Periods.** The session's periods with their dimensions, without the session-only
  dimensions (spec §8.7), priced by the engine in the location's time zone.
* **Cost lines.** One per line the engine priced (its billed volume, unit price, VAT, amounts,
  element and reason). Amounts are stored at the database's precision (10 decimals,
  ``apps.core.fields``); each line is quantized to it before anything is summed, so the
  subtotals and the total are exactly the sums of the stored lines. They differ from the
  engine's full-precision figures by at most half a unit of the 10th decimal per line, which is
  what validation allows (far below any currency's minor unit).
* **min_price / max_price.** When the engine clamps ``total_cost`` (pricing policy h), one
  ADJUSTMENT line (no period, dimension FLAT, volume 1) carries the difference between the
  clamped total and the priced lines, excl. and incl. VAT separately, explained by the engine's
  note ("min_price … lifts the total …"). It counts in ``total_cost`` only: the subtotals stay
  what the priced lines add up to, ``total_cost`` is the engine's clamped total, and the lines
  still add up to the totals (``cdr_cost_mismatches``). A clamp of only one side can leave the
  total incl. VAT below the total excl. VAT; validation then holds the CDR.

Then :func:`cdr_validate_and_finalize`: a CDR without problems is finalized (``cdr_finalize``
announces it, and the outbox sends it); one with problems stays a DRAFT with validation status
INVALID and a VALIDATION finding per problem, "held for review" in the admin, never finalized
or sent until an operator corrects it and it passes.

When a session ends (``apps.charging_sessions.services.session_complete``), its SESSION change
announcement reaches :func:`cdr_generate_when_session_completes` in the same transaction.
charging_sessions cannot import this module (it imports charging_sessions), so the hook is a
listener registered by ``CdrsConfig.ready``.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
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
from apps.cdrs.services import (
    COMPONENT_TOTAL_FIELDS,
    COST_TOTALS,
    NewFinding,
    cdr_cost_mismatches,
    cdr_finalize,
    cdr_findings_record,
    cdr_idempotency_key,
    cdr_location_snapshot,
    cdr_review_record,
    cdr_session_input,
    cdr_session_key,
    pricing_result_figures,
)
from apps.charging_sessions.enums import SESSION_ONLY_DIMENSIONS, AuthMethod, SessionStatus
from apps.charging_sessions.models import ChargingSession
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_listener
from apps.core.fields import AMOUNT_DECIMALS
from apps.core.money import CurrencyError, validate_currency
from apps.core.services import Actor, audit_log_record
from apps.locations.enums import ConnectorFormat, ConnectorStandard, PowerType
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import Party
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import (
    Dimension,
    NoValidTariff,
    PeriodInput,
    PricedLine,
    PricingResult,
    SessionInput,
    TariffSpec,
    price_session,
    select_tariff,
)
from apps.tariffs.services import (
    tariff_version_in_effect,
    tariff_version_snapshot,
    tariff_version_spec,
)
from apps.tokens.enums import TokenType

logger = logging.getLogger(__name__)

#: What the database keeps of an amount (apps.core.fields): 10 decimals.
STORED = Decimal(1).scaleb(-AMOUNT_DECIMALS)
#: How far a stored figure may be from the engine's, per line summed into it.
_PER_LINE_SLACK = STORED / 2
#: The price component type of each priced dimension (CdrCostLine.dimension).
_COMPONENT_TYPE = {
    Dimension.FLAT: "FLAT",
    Dimension.ENERGY: "ENERGY",
    Dimension.TIME: "TIME",
    Dimension.PARKING_TIME: "PARKING_TIME",
    Dimension.RESERVATION_TIME: "TIME",  # reservations are priced by a TIME component
}


def _exact(value: Decimal | None) -> str:
    """An amount in a problem's words: exact (these differences can be in the 10th decimal),
    without the stored trailing zeros or an exponent."""
    return "—" if value is None else format(value.normalize(), "f")


def stored_amount(value: Decimal) -> Decimal:
    """``value`` as the database keeps it (10 decimals); not a money rounding."""
    return value.quantize(STORED)


def _is_own_cpo(party: Party) -> bool:
    return party.is_own and party.has_role("CPO")


# -- generation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Place:
    location: Location
    evse: Evse
    connector: Connector


@dataclass(frozen=True)
class _TariffChoice:
    tariff: Tariff
    version: TariffVersion
    spec: TariffSpec


@dataclass(frozen=True)
class _Period:
    start: datetime
    tariff_ref: str
    dimensions: dict[str, Decimal]


def cdr_generate_for_session(*, session: ChargingSession, actor: Actor = None) -> Cdr:
    """Build, validate and (when valid) finalize the CDR of a completed session of ours.

    Returns the CDR: final when it passed validation, a DRAFT held for review (validation
    status INVALID, VALIDATION findings) when not. A session that already has its CDR gets
    that CDR back and nothing is created. Raises ``DomainError`` for sessions that are not
    COMPLETED or not at one of our own CPO parties, and when the session cannot be priced
    (no tariff valid at its start: ``NoValidTariff``; unknown location; malformed periods).
    """
    with transaction.atomic():
        # One generation per session at a time: the second waits here, then finds the CDR.
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        _refuse_unless_generatable(locked)
        existing = _existing_cdr(locked)
        if existing is not None:
            return existing
        assert locked.end_date_time is not None
        place = _place(locked)
        periods = _periods(locked)
        choice = _tariff_choice(locked, place.connector, periods)
        session_input = SessionInput(
            start=locked.start_date_time,
            end=locked.end_date_time,
            periods=tuple(PeriodInput(start=p.start, dimensions=p.dimensions) for p in periods),
            time_zone=place.location.time_zone,
        )
        result = price_session(choice.spec, session_input)
        cdr = _create_cdr(locked, place, choice, periods, result)
        audit_log_record(
            actor=actor,
            action="cdr.generated",
            obj=cdr,
            after={
                "session": locked.session_id,
                "tariff": choice.tariff.tariff_id,
                "tariff_version": choice.version.number,
                "total_cost_excl_vat": str(cdr.total_cost_excl_vat),
            },
        )
        return cdr_validate_and_finalize(cdr=cdr, actor=actor).cdr


def _refuse_unless_generatable(session: ChargingSession) -> None:
    party = session.party
    if not _is_own_cpo(party):
        raise DomainError(
            f"session {session.session_id} is at {party.code}, not one of our own CPO parties: "
            "its CPO sends the CDR",
            code="CDR_NOT_OURS",
        )
    if session.status != SessionStatus.COMPLETED or session.end_date_time is None:
        raise DomainError(
            f"session {session.session_id} is {session.status}, not COMPLETED with an end time",
            code="SESSION_NOT_COMPLETED",
        )


def _existing_cdr(session: ChargingSession) -> Cdr | None:
    existing = session.cdrs.filter(credit=False).order_by("pk").first()
    if existing is not None:
        return existing
    same_id = Cdr.objects.filter(party=session.party, cdr_id__iexact=session.session_id).first()
    if same_id is not None:
        raise DomainError(
            f"CDR id {same_id.cdr_id} is already used by another CDR of {session.party.code}",
            code="CDR_ID_TAKEN",
        )
    return None


def _place(session: ChargingSession) -> _Place:
    location = session.location or (
        Location.objects.filter(party=session.party, location_id__iexact=session.location_ref)
        .order_by("pk")
        .first()
    )
    evse = session.evse
    if evse is None and location is not None:
        evse = location.evses.filter(uid__iexact=session.evse_ref).order_by("pk").first()
    connector = session.connector
    if connector is None and evse is not None:
        connector = (
            evse.connectors.filter(connector_id__iexact=session.connector_ref)
            .order_by("pk")
            .first()
        )
    if location is None or evse is None or connector is None:
        raise DomainError(
            f"session {session.session_id}: location {session.location_ref} / EVSE "
            f"{session.evse_ref} / connector {session.connector_ref} is not known",
            code="LOCATION_UNKNOWN",
        )
    return _Place(location=location, evse=evse, connector=connector)


def _periods(session: ChargingSession) -> list[_Period]:
    return [
        _Period(
            start=period.start_date_time,
            tariff_ref=period.tariff_ref,
            # Session-only dimensions SHALL NOT appear in a CDR (spec §8.7).
            dimensions={
                d.type: d.volume
                for d in period.dimensions.all()
                if d.type not in SESSION_ONLY_DIMENSIONS
            },
        )
        for period in session.charging_periods.order_by("sequence").prefetch_related("dimensions")
    ]


def _tariff_choice(
    session: ChargingSession, connector: Connector, periods: Sequence[_Period]
) -> _TariffChoice:
    named = {p.tariff_ref.lower(): p.tariff_ref for p in periods if p.tariff_ref}
    if len(named) > 1:
        raise DomainError(
            f"the periods of session {session.session_id} name several tariffs "
            f"({', '.join(sorted(named.values()))}); a mid-session tariff switch is not supported",
            code="TARIFF_SWITCH_UNSUPPORTED",
        )
    named_id = next(iter(named.values()), None)
    ids = [str(i) for i in connector.tariff_ids or [] if i]
    if named_id is not None and named_id.lower() not in {i.lower() for i in ids}:
        ids.append(named_id)
    if not ids:
        raise NoValidTariff(f"connector {connector} has no tariff")
    start = session.start_date_time
    by_id = {
        t.tariff_id.lower(): t
        for t in Tariff.objects.annotate(lower_id=Lower("tariff_id")).filter(
            party=session.party, lower_id__in=[i.lower() for i in ids]
        )
    }
    candidates: list[_TariffChoice] = []
    missing: list[str] = []
    for tariff_id in ids:
        tariff = by_id.get(tariff_id.lower())
        version = None
        if tariff is not None and (tariff.deleted_at is None or tariff.deleted_at > start):
            version = tariff_version_in_effect(tariff=tariff, at=start)
        if tariff is None or version is None:
            missing.append(tariff_id)
            continue
        candidates.append(
            _TariffChoice(tariff=tariff, version=version, spec=tariff_version_spec(version))
        )
    if not candidates:
        raise NoValidTariff(
            f"none of the tariffs {', '.join(ids)} of session {session.session_id} had a "
            f"version in effect at its start"
        )
    chosen = select_tariff([c.spec for c in candidates], session_start=start, tariff_id=named_id)
    return next(c for c in candidates if c.spec is chosen)


def _create_cdr(
    session: ChargingSession,
    place: _Place,
    choice: _TariffChoice,
    periods: Sequence[_Period],
    result: PricingResult,
) -> Cdr:
    assert session.end_date_time is not None
    party = session.party
    location, evse, connector = place.location, place.evse, place.connector
    now = timezone.now()
    cdr_id = session.session_id
    idempotency_key = cdr_idempotency_key(
        country_code=party.country_code, party_id=party.party_id, cdr_id=cdr_id
    )
    lines = [_line_amounts(line) for line in result.lines]
    adjustment = _adjustment(result, lines)
    totals = _totals(lines, adjustment, result)
    tariff = choice.tariff
    cdr = Cdr.objects.create(
        party=party,
        cdr_id=cdr_id,
        status=CdrStatus.DRAFT,
        start_date_time=session.start_date_time,
        end_date_time=session.end_date_time,
        session_ref=session.session_id,
        session=session,
        auth_method=session.auth_method,
        authorization_reference=session.authorization_reference,
        token_country_code=session.token_country_code,
        token_party_id=session.token_party_id,
        token_uid=session.token_uid,
        token_type=session.token_type,
        token_contract_id=session.token_contract_id,
        token=session.token,
        **cdr_location_snapshot(location=location, evse=evse, connector=connector),
        meter_id=session.meter_id,
        currency=result.currency,
        tariffs_snapshot=[tariff_version_snapshot(choice.version)],
        signed_data=None,  # sessions carry no signed meter data yet
        total_energy=stored_amount(result.total_energy),
        total_time=stored_amount(result.total_time),
        total_parking_time=stored_amount(result.total_parking_time),
        last_updated=now,
        tariff_version_at_start=choice.version,
        tariff_version_at_end=tariff_version_in_effect(tariff=tariff, at=session.end_date_time),
        tariff_version_at_generation=tariff_version_in_effect(tariff=tariff, at=now),
        origin=CdrOrigin.GENERATED,
        protocol_version="",
        validation_status=ValidationStatus.NOT_CHECKED,
        session_key=cdr_session_key(
            country_code=party.country_code,
            party_id=party.party_id,
            session_id=session.session_id,
        ),
        idempotency_key=idempotency_key,
        billing_reference=f"{party.country_code}{party.party_id}-{idempotency_key[:16].upper()}",
        **totals,
    )
    cdr_periods = [
        CdrChargingPeriod.objects.create(
            cdr=cdr,
            sequence=sequence,
            start_date_time=period.start,
            tariff_ref=period.tariff_ref or tariff.tariff_id,
        )
        for sequence, period in enumerate(periods, start=1)
    ]
    CdrChargingDimension.objects.bulk_create(
        CdrChargingDimension(period=cdr_period, type=kind, volume=volume)
        for cdr_period, period in zip(cdr_periods, periods, strict=True)
        for kind, volume in period.dimensions.items()
    )
    CdrCostLine.objects.bulk_create(
        [
            CdrCostLine(
                cdr=cdr,
                period=cdr_periods[line.period_index],
                component=CostComponent(line.cost_group.value),
                dimension=_COMPONENT_TYPE[line.dimension],
                volume=line.billed_volume,
                unit_price=line.unit_price,
                vat_rate=line.vat,
                currency=result.currency,
                amount_excl_vat=excl,
                amount_incl_vat=incl,
                tariff_version=choice.version,
                element_index=line.element_index,
                explanation=line.reason,
            )
            for line, (excl, incl) in zip(result.lines, lines, strict=True)
        ]
    )
    if adjustment is not None:
        excl, incl, explanation = adjustment
        CdrCostLine.objects.create(
            cdr=cdr,
            period=None,
            component=CostComponent.ADJUSTMENT,
            dimension="FLAT",
            volume=Decimal(1),
            unit_price=excl,
            vat_rate=None,
            currency=result.currency,
            amount_excl_vat=excl,
            amount_incl_vat=incl,
            tariff_version=choice.version,
            element_index=None,
            explanation=explanation,
        )
    return cdr


def _line_amounts(line: PricedLine) -> tuple[Decimal, Decimal]:
    return stored_amount(line.amount.excl_vat), stored_amount(line.amount.incl_vat)


def _adjustment(
    result: PricingResult, lines: Sequence[tuple[Decimal, Decimal]]
) -> tuple[Decimal, Decimal, str] | None:
    """The ADJUSTMENT line of a clamped total: (excl., incl., explanation), or None."""
    if result.total_cost == result.uncapped_cost:
        return None
    excl = stored_amount(result.total_cost.excl_vat) - sum((e for e, _ in lines), Decimal(0))
    incl = stored_amount(result.total_cost.incl_vat) - sum((i for _, i in lines), Decimal(0))
    notes = [n for n in result.notes if n.startswith(("min_price", "max_price"))]
    applied = sorted({n.split(" ", 1)[0] for n in notes})
    explanation = f"{' and '.join(applied) or 'price bound'} applied: " + " ".join(notes)
    return excl, incl, explanation


def _totals(
    lines: Sequence[tuple[Decimal, Decimal]],
    adjustment: tuple[Decimal, Decimal, str] | None,
    result: PricingResult,
) -> dict[str, Decimal | None]:
    """The CDR's money totals: sums of the stored lines (a group no line priced is omitted)."""
    totals: dict[str, Decimal | None] = {}
    for component, name in COMPONENT_TOTAL_FIELDS.items():
        group = [
            amounts
            for line, amounts in zip(result.lines, lines, strict=True)
            if line.cost_group.value == component
        ]
        totals[f"{name}_excl_vat"] = sum((e for e, _ in group), Decimal(0)) if group else None
        totals[f"{name}_incl_vat"] = sum((i for _, i in group), Decimal(0)) if group else None
    excl = sum((e for e, _ in lines), Decimal(0))
    incl = sum((i for _, i in lines), Decimal(0))
    if adjustment is not None:
        excl += adjustment[0]
        incl += adjustment[1]
    totals["total_cost_excl_vat"] = excl
    totals["total_cost_incl_vat"] = incl
    return totals


# -- validation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CdrProblem:
    """Why a CDR may not be sent: a stable code, words, and the field concerned."""

    code: str
    message: str
    field: str = ""

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}


# (model field, OCPI name, max length, required, CiString). Spec §8.6 and §8.7.
_TEXT_FIELDS: tuple[tuple[str, str, int, bool, bool], ...] = (
    ("session_ref", "session_id", 36, False, True),
    ("authorization_reference", "authorization_reference", 36, False, True),
    ("meter_id", "meter_id", 255, False, False),
    ("remark", "remark", 255, False, False),
    ("invoice_reference_id", "invoice_reference_id", 39, False, True),
    ("credit_reference_id", "credit_reference_id", 39, False, True),
    ("token_country_code", "cdr_token.country_code", 2, True, True),
    ("token_party_id", "cdr_token.party_id", 3, True, True),
    ("token_uid", "cdr_token.uid", 36, True, True),
    ("token_contract_id", "cdr_token.contract_id", 36, True, True),
    ("location_ref", "cdr_location.id", 36, True, True),
    ("location_name", "cdr_location.name", 255, False, False),
    ("location_address", "cdr_location.address", 45, True, False),
    ("location_city", "cdr_location.city", 45, True, False),
    ("location_postal_code", "cdr_location.postal_code", 10, False, False),
    ("location_state", "cdr_location.state", 20, False, False),
    ("location_country", "cdr_location.country", 3, True, False),
    ("evse_uid", "cdr_location.evse_uid", 36, True, True),
    ("evse_id", "cdr_location.evse_id", 48, True, True),
    ("connector_ref", "cdr_location.connector_id", 36, True, True),
)
_CHOICE_FIELDS: tuple[tuple[str, str, Sequence[str]], ...] = (
    ("auth_method", "auth_method", AuthMethod.values),
    ("token_type", "cdr_token.type", TokenType.values),
    ("connector_standard", "cdr_location.connector_standard", ConnectorStandard.values),
    ("connector_format", "cdr_location.connector_format", ConnectorFormat.values),
    ("connector_power_type", "cdr_location.connector_power_type", PowerType.values),
)
# SignedData and SignedValue (spec §8.7): (key, max length, required, CiString).
_SIGNED_DATA_FIELDS = (
    ("encoding_method", 36, True, True),
    ("public_key", 512, False, False),
    ("url", 512, False, False),
)
_SIGNED_VALUE_FIELDS = (
    ("nature", 32, True, True),
    ("plain_data", 5000, True, False),
    ("signed_data", 5000, True, False),
)


def _text_problem(value: str, where: str, limit: int, required: bool, ci: bool) -> str | None:
    if not value:
        return f"{where} is required" if required else None
    if len(value) > limit:
        return f"{where} is {len(value)} characters long; at most {limit} are allowed"
    if ci and not all(" " <= ch <= "~" for ch in value):
        return f"{where} may hold printable ASCII only (CiString)"
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return f"{where} holds a control character"
    return None


def _fields_problems(cdr: Cdr) -> list[CdrProblem]:
    problems: list[CdrProblem] = []
    id_limit = 39 if cdr.credit else 36
    for name, where, limit, required, ci in (
        ("cdr_id", "id", id_limit, True, True),
        *_TEXT_FIELDS,
    ):
        text = _text_problem(getattr(cdr, name) or "", where, limit, required, ci)
        if text is not None:
            code = "FIELD_MISSING" if text.endswith("required") else "FIELD_INVALID"
            problems.append(CdrProblem(code, text, where))
    for name, where, allowed in _CHOICE_FIELDS:
        value = getattr(cdr, name)
        if value not in allowed:
            problems.append(
                CdrProblem(
                    "FIELD_MISSING" if not value else "FIELD_INVALID",
                    f"{where} is required" if not value else f"{where}: {value!r} is not allowed",
                    where,
                )
            )
    try:
        validate_currency(cdr.currency)
    except CurrencyError as exc:
        problems.append(CdrProblem("FIELD_INVALID", exc.message, "currency"))
    if cdr.credit and not cdr.credit_reference_id:
        problems.append(
            CdrProblem("FIELD_MISSING", "a credit CDR needs credit_reference_id", "credit")
        )
    if not cdr.tariffs_snapshot and cdr.origin == CdrOrigin.GENERATED:
        problems.append(
            CdrProblem("FIELD_MISSING", "the tariff valid at the start is not included", "tariffs")
        )
    if cdr.session is not None and cdr.session.currency and cdr.session.currency != cdr.currency:
        problems.append(
            CdrProblem(
                "CURRENCY_MISMATCH",
                f"the session is in {cdr.session.currency}, the tariff in {cdr.currency}",
                "currency",
            )
        )
    return problems


def _signed_data_problems(signed: Any) -> list[CdrProblem]:
    if signed is None:
        return []
    if not isinstance(signed, dict):
        return [CdrProblem("FIELD_INVALID", "signed_data must be an object", "signed_data")]
    problems: list[CdrProblem] = []

    def check(
        data: dict[str, Any], prefix: str, spec: Sequence[tuple[str, int, bool, bool]]
    ) -> None:
        for key, limit, required, ci in spec:
            value = data.get(key)
            where = f"{prefix}.{key}"
            if value is not None and not isinstance(value, str):
                problems.append(CdrProblem("FIELD_INVALID", f"{where} must be text", where))
                continue
            text = _text_problem(value or "", where, limit, required, ci)
            if text is not None:
                code = "FIELD_MISSING" if text.endswith("required") else "FIELD_INVALID"
                problems.append(CdrProblem(code, text, where))

    check(signed, "signed_data", _SIGNED_DATA_FIELDS)
    values = signed.get("signed_values")
    if not isinstance(values, list) or not values:
        problems.append(
            CdrProblem(
                "FIELD_MISSING",
                "signed_data.signed_values needs at least one value",
                "signed_data.signed_values",
            )
        )
        return problems
    for index, value in enumerate(values):
        if isinstance(value, dict):
            check(value, f"signed_data.signed_values[{index}]", _SIGNED_VALUE_FIELDS)
        else:
            where = f"signed_data.signed_values[{index}]"
            problems.append(CdrProblem("FIELD_INVALID", f"{where} must be an object", where))
    return problems


def _periods_problems(cdr: Cdr) -> list[CdrProblem]:
    periods = list(cdr.charging_periods.order_by("sequence").prefetch_related("dimensions"))
    if not periods:
        return [CdrProblem("FIELD_MISSING", "a CDR needs charging periods", "charging_periods")]
    problems: list[CdrProblem] = []
    previous = cdr.start_date_time
    for index, period in enumerate(periods):
        where = f"charging_periods[{index}]"
        if not previous <= period.start_date_time <= cdr.end_date_time:
            problems.append(
                CdrProblem(
                    "PERIOD_OUT_OF_ORDER",
                    f"{where} starts at {period.start_date_time.isoformat()}, outside the "
                    "session or before the previous period",
                    where,
                )
            )
        previous = max(previous, period.start_date_time)
        text = _text_problem(period.tariff_ref, f"{where}.tariff_id", 36, False, True)
        if text is not None:
            problems.append(CdrProblem("FIELD_INVALID", text, f"{where}.tariff_id"))
        kinds = [d.type for d in period.dimensions.all()]
        if not kinds:
            problems.append(CdrProblem("FIELD_MISSING", f"{where} has no dimension", where))
        session_only = sorted(set(kinds) & SESSION_ONLY_DIMENSIONS)
        if session_only:
            problems.append(
                CdrProblem(
                    "SESSION_ONLY_DIMENSION",
                    f"{where} has {', '.join(session_only)}, which a CDR may not carry",
                    where,
                )
            )
    return problems


def _vat_problems(cdr: Cdr, lines: Sequence[CdrCostLine]) -> list[CdrProblem]:
    problems: list[CdrProblem] = []
    hundred = Decimal(100)
    slack = STORED * 4
    for line in lines:
        if line.component == CostComponent.ADJUSTMENT:
            continue  # a clamp moves excl. and incl. independently (pricing policy h)
        excl, incl = line.amount_excl_vat, line.amount_incl_vat
        expected = excl if line.vat_rate is None else excl * (1 + line.vat_rate / hundred)
        if abs(incl - expected) > slack:
            rate = "no VAT" if line.vat_rate is None else f"VAT {line.vat_rate.normalize()} %"
            problems.append(
                CdrProblem(
                    "VAT_INCONSISTENT",
                    f"cost line {line.component} {line.dimension}: {_exact(excl)} excl. VAT with "
                    f"{rate} should be {_exact(expected)} incl. VAT, not {_exact(incl)}",
                    "cost_lines",
                )
            )
    no_vat = all(ln.vat_rate is None for ln in lines)
    for name in COST_TOTALS:
        excl, incl = getattr(cdr, f"{name}_excl_vat"), getattr(cdr, f"{name}_incl_vat")
        if excl is None or incl is None:
            continue
        if no_vat and incl != excl:
            problems.append(
                CdrProblem(
                    "VAT_INCONSISTENT",
                    f"{name}: no cost line has VAT, yet incl. VAT {_exact(incl)} differs from "
                    f"excl. VAT {_exact(excl)}",
                    name,
                )
            )
        elif (incl < excl) if not cdr.credit else (incl > excl):
            problems.append(
                CdrProblem(
                    "VAT_INCONSISTENT",
                    f"{name}: incl. VAT {_exact(incl)} is "
                    f"{'below' if not cdr.credit else 'above'} excl. VAT {_exact(excl)}",
                    name,
                )
            )
    return problems


def _engine_problems(cdr: Cdr, lines: Sequence[CdrCostLine]) -> list[CdrProblem]:
    """The CDR's totals against the engine's price of its own periods (start version)."""
    version = cdr.tariff_version_at_start
    if version is None:
        return [CdrProblem("NO_TARIFF", "no tariff version is recorded for the start", "tariffs")]
    if cdr.location is None:
        return [
            CdrProblem("TIME_ZONE_UNKNOWN", "no location, so no time zone to price in", "location")
        ]
    try:
        result = price_session(
            tariff_version_spec(version),
            cdr_session_input(cdr=cdr, time_zone=cdr.location.time_zone),
        )
    except DomainError as exc:
        return [CdrProblem("NOT_PRICEABLE", exc.message, "charging_periods")]
    if result.currency != cdr.currency:
        return [
            CdrProblem(
                "CURRENCY_MISMATCH",
                f"the CDR is in {cdr.currency}, its tariff in {result.currency}",
                "currency",
            )
        ]
    counts = dict.fromkeys(COST_TOTALS, 0)
    for line in lines:
        counts["total_cost"] += 1
        for component, name in COMPONENT_TOTAL_FIELDS.items():
            if line.component == component:
                counts[name] += 1
    problems: list[CdrProblem] = []
    for key, expected in pricing_result_figures(result).items():
        stated = getattr(cdr, key)
        name = key.removesuffix("_excl_vat").removesuffix("_incl_vat")
        slack = _PER_LINE_SLACK * max(counts.get(name, 1), 1)
        if abs((stated or Decimal(0)) - expected) > slack:
            problems.append(
                CdrProblem(
                    "ENGINE_MISMATCH",
                    f"{key} is {_exact(stated)}; the tariff engine computes {_exact(expected)}",
                    key,
                )
            )
    return problems


def cdr_validate(*, cdr: Cdr) -> list[CdrProblem]:
    """What stands between this CDR and sending it (empty: nothing). No side effects.

    Checks: required fields and their lengths and alphabets (spec §8.6, §8.7: a CdrLocation
    address holds 45 characters, ids are printable ASCII, …), enumerations, charging periods
    (at least one, in order, each with a dimension, none session-only), signed data when
    present, the cost lines adding up to the totals, the totals and quantities equal to the
    engine's price of the CDR's periods under its start tariff version (within the storage
    precision, see the module docstring), and VAT (a line without VAT has incl. = excl.; a
    line with VAT has incl. = excl. x (1 + VAT); no total incl. VAT below its excl. VAT).
    """
    lines = list(cdr.cost_lines.all())
    problems = [
        *_fields_problems(cdr),
        *_signed_data_problems(cdr.signed_data),
        *_periods_problems(cdr),
    ]
    problems += [
        CdrProblem("TOTALS_MISMATCH", text, "cost_lines") for text in cdr_cost_mismatches(cdr=cdr)
    ]
    problems += _engine_problems(cdr, lines)
    problems += _vat_problems(cdr, lines)
    return problems


@dataclass(frozen=True)
class CdrValidation:
    """What :func:`cdr_validate_and_finalize` did: the CDR (final or held) and its problems."""

    cdr: Cdr
    problems: list[CdrProblem]

    @property
    def finalized(self) -> bool:
        return not self.problems


def cdr_validate_and_finalize(*, cdr: Cdr, actor: Actor = None) -> CdrValidation:
    """Validate a draft CDR of ours; finalize it when valid, else hold it for review.

    Held: validation status INVALID, the problems in ``validation_findings`` and one VALIDATION
    finding (ERROR) each; it stays a DRAFT, so nothing sends it. A held draft that passes later
    (after an operator corrected it) is finalized, and a review by ``actor`` is recorded: it
    resolves the findings of the failed attempts.
    """
    with transaction.atomic():
        locked = Cdr.objects.select_for_update().get(pk=cdr.pk)
        if locked.stored_final:
            raise DomainError(f"CDR {locked.cdr_id} is already final", code="CDR_FINAL")
        was_held = locked.validation_status == ValidationStatus.INVALID
        problems = cdr_validate(cdr=locked)
        locked.validation_status = ValidationStatus.INVALID if problems else ValidationStatus.VALID
        locked.validation_findings = [p.as_json() for p in problems]
        locked.save(update_fields=["validation_status", "validation_findings"])
        if problems:
            cdr_findings_record(
                cdr=locked,
                source=CdrFinding.Source.VALIDATION,
                found=[
                    NewFinding(
                        code=p.code,
                        severity=CdrFinding.Severity.ERROR,
                        message=p.message,
                        details={"field": p.field},
                    )
                    for p in problems
                ],
            )
            audit_log_record(
                actor=actor,
                action="cdr.held_for_review",
                obj=locked,
                after={"problems": [p.as_json() for p in problems]},
            )
            return CdrValidation(cdr=locked, problems=problems)
        if was_held:
            cdr_review_record(
                cdr=locked,
                decision=CdrReview.Decision.ACCEPTED,
                note="Corrected draft passed validation and was finalized.",
                actor=actor,
            )
        return CdrValidation(cdr=cdr_finalize(cdr=locked, actor=actor), problems=[])


# -- the "session ended" hook -------------------------------------------------------------------
def _generate_after_completion(session_id: int) -> Cdr | None:
    session = (
        ChargingSession.objects.select_related("party")
        .filter(pk=session_id, status=SessionStatus.COMPLETED)
        .first()
    )
    if session is None or not _is_own_cpo(session.party) or session.cdrs.exists():
        return None
    try:
        # A savepoint: a refused generation leaves the session completed.
        with transaction.atomic():
            return cdr_generate_for_session(session=session, actor="system")
    except DomainError as exc:
        # The session stays without a CDR: the sessions admin lists "completed without CDR",
        # and its "Generate CDR" action retries once the cause (e.g. a tariff) is fixed.
        logger.warning("no CDR for session %s: %s", session.session_id, exc)
        audit_log_record(
            actor="system",
            action="cdr.generation_refused",
            obj=session,
            after={"code": exc.code, "message": exc.message},
        )
        return None


@change_listener
def cdr_generate_when_session_completes(change: DomainChange) -> Cdr | None:
    """Listener: a completed session of ours gets its CDR in the transaction that completed it."""
    if change.kind != ChangeKind.SESSION:
        return None
    return _generate_after_completion(change.object_id)
