"""Checking partners' CDRs (eMSP role): re-price them, apply the partner's rules, queue the
ones a person must look at.

``cdr_check_pricing`` prices a received CDR's periods with the tariff engine under the tariff
the partner published (its version in effect at the session start, from our Tariff rows of the
CDR's party), or else under the tariff embedded in the CDR when that is in canonical form, and
compares every money total, excl. and incl. VAT, with the engine's figure:

* each total that differs is a finding with both amounts and the delta: PRICE_MISMATCH (ERROR)
  beyond the partner's tolerance, PRICE_WITHIN_TOLERANCE (INFO) within it. A total the CDR
  omits (they are optional, total_cost excepted) is not compared.
* quantities (total_energy, total_time, total_parking_time) differing by more than
  ``QUANTITY_TOLERANCE`` are QUANTITY_MISMATCH warnings.
* the partner's rules (``PartnerCdrRules``: bounds on energy, duration, total cost and price per
  kWh) give a RULE_* finding (ERROR) per bound the CDR breaks.
* a CDR that cannot be priced (no tariff, a tariff switch, malformed periods) is an ERROR.

Any ERROR puts the CDR in review: the check adds REVIEW_REQUIRED (ERROR) naming the reasons, and
the admin's "needs review" filter lists it until someone records a ``CdrReview``. Otherwise the
check adds PRICING_MATCHES (INFO). The CDR itself is never written: findings are append-only
and a final CDR cannot change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.dateparse import parse_datetime

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import Cdr, CdrFinding, PartnerCdrRules
from apps.cdrs.services import (
    COST_TOTALS,
    PRICED_QUANTITIES,
    NewFinding,
    cdr_findings_record,
    cdr_session_input,
    pricing_result_figures,
)
from apps.core.errors import DomainError
from apps.core.money import format_money, minor_units, round_money
from apps.core.services import Actor, audit_log_record
from apps.locations.models import Connector, Location
from apps.partners.models import Partner
from apps.tariffs.models import Tariff
from apps.tariffs.pricing import (
    InvalidTariff,
    NoValidTariff,
    PricingResult,
    TariffSpec,
    price_session,
    select_tariff,
    tariff_spec,
    text,
)
from apps.tariffs.services import tariff_version_in_effect, tariff_version_spec

#: kWh or hours: a CDR's quantity further than this from what its periods add up to is a warning.
QUANTITY_TOLERANCE = Decimal("0.001")
ERROR = CdrFinding.Severity.ERROR
WARNING = CdrFinding.Severity.WARNING
INFO = CdrFinding.Severity.INFO


def partner_cdr_rules(partner: Partner | None) -> PartnerCdrRules:
    """The partner's rules, or the defaults (tolerance 0.01, no bounds) as an unsaved row."""
    if partner is not None:
        rules = PartnerCdrRules.objects.filter(partner=partner).first()
        if rules is not None:
            return rules
    return PartnerCdrRules(partner=partner)


@dataclass(frozen=True)
class _Priced:
    result: PricingResult
    source: str  # words: which tariff priced it
    details: dict[str, Any]


def cdr_check_pricing(*, cdr: Cdr, actor: Actor = None) -> list[CdrFinding]:
    """Re-price a partner's CDR, apply the partner's rules and record what was found.

    Returns the new findings (all with one ``created_at``); the CDR is not written. Raises
    ``DomainError`` for a CDR we generated ourselves (``cdr_validate`` checks those).
    """
    if cdr.origin != CdrOrigin.RECEIVED:
        raise DomainError(
            f"CDR {cdr.cdr_id} is ours; only CDRs received from partners are checked here",
            code="CDR_NOT_RECEIVED",
        )
    rules = partner_cdr_rules(cdr.party.partner)
    found: list[NewFinding] = []
    priced = _reprice(cdr, found)
    if priced is not None:
        found += _compare(cdr, priced, rules.tolerance)
    found += _rule_findings(cdr, rules)
    errors = [f for f in found if f.severity == ERROR]
    if errors:
        codes = sorted({f.code for f in errors})
        found.append(
            NewFinding(
                code="REVIEW_REQUIRED",
                severity=ERROR,
                message=f"Needs review: {', '.join(codes)}.",
                details={"reasons": codes},
            )
        )
    elif priced is not None:
        found.append(
            NewFinding(
                code="PRICING_MATCHES",
                severity=INFO,
                message=f"The totals agree with our price ({priced.source}) within the "
                f"tolerance of {_text(rules.tolerance)} {cdr.currency}.",
                details={**priced.details, "tolerance": _text(rules.tolerance)},
            )
        )
    with transaction.atomic():
        findings = cdr_findings_record(cdr=cdr, source=CdrFinding.Source.PRICING, found=found)
        audit_log_record(
            actor=actor,
            action="cdr.pricing_checked",
            obj=cdr,
            after={"findings": [f"{f.severity} {f.code}" for f in findings]},
        )
    return findings


# -- re-pricing ---------------------------------------------------------------------------------
def _reprice(cdr: Cdr, found: list[NewFinding]) -> _Priced | None:
    named = {p.lower(): p for p in cdr.charging_periods.values_list("tariff_ref", flat=True) if p}
    if len(named) > 1:
        found.append(
            NewFinding(
                code="TARIFF_SWITCH_UNSUPPORTED",
                severity=ERROR,
                message="The charging periods name several tariffs "
                f"({', '.join(sorted(named.values()))}); a mid-session switch cannot be priced.",
                details={"tariff_ids": sorted(named.values())},
            )
        )
        return None
    named_id = next(iter(named.values()), None)
    time_zone = _time_zone(cdr, found)
    attempts: list[str] = []
    sources: tuple[tuple[str, Callable[[], list[tuple[TariffSpec, dict[str, Any]]]]], ...] = (
        ("published", lambda: _published_specs(cdr, named_id)),
        ("embedded", lambda: _embedded_specs(cdr, found)),
    )
    for source, specs_of in sources:
        specs = specs_of()
        if not specs:
            attempts.append(f"no {source} tariff")
            continue
        try:
            spec = select_tariff(
                [s for s, _ in specs],
                session_start=cdr.start_date_time,
                tariff_id=named_id if any(_same(s.tariff_id, named_id) for s, _ in specs) else None,
            )
        except NoValidTariff as exc:
            attempts.append(f"{source}: {exc.message}")
            continue
        details = next(d for s, d in specs if s is spec)
        if spec.currency != cdr.currency:
            found.append(
                NewFinding(
                    code="CURRENCY_MISMATCH",
                    severity=ERROR,
                    message=f"The CDR is in {cdr.currency}, tariff {spec.tariff_id} in "
                    f"{spec.currency}.",
                    details=details,
                )
            )
            return None
        try:
            result = price_session(spec, cdr_session_input(cdr=cdr, time_zone=time_zone))
        except DomainError as exc:
            found.append(
                NewFinding(
                    code="NOT_PRICEABLE",
                    severity=ERROR,
                    message=f"The CDR cannot be priced: {exc.message}.",
                    details={**details, "error": exc.code},
                )
            )
            return None
        words = (
            f"tariff {spec.tariff_id} v{details['version']}"
            if source == "published"
            else f"tariff {spec.tariff_id or '(no id)'} as embedded in the CDR"
        )
        return _Priced(result=result, source=words, details={**details, "time_zone": time_zone})
    found.append(
        NewFinding(
            code="NO_TARIFF_TO_PRICE",
            severity=ERROR,
            message="No tariff to price the CDR with: " + "; ".join(attempts) + ".",
            details={"attempts": attempts},
        )
    )
    return None


def _same(tariff_id: str, other: str | None) -> bool:
    return other is not None and tariff_id.lower() == other.lower()


def _time_zone(cdr: Cdr, found: list[NewFinding]) -> str:
    location = cdr.location or (
        Location.objects.filter(party=cdr.party, location_id__iexact=cdr.location_ref)
        .order_by("pk")
        .first()
    )
    if location is not None:
        return location.time_zone
    found.append(
        NewFinding(
            code="TIME_ZONE_ASSUMED",
            severity=WARNING,
            message=f"Location {cdr.location_ref} is not known: priced in UTC, so time-of-day "
            "restrictions may have matched at the wrong hour.",
        )
    )
    return "UTC"


def _snapshot_tariff_ids(cdr: Cdr) -> list[str]:
    ids: list[str] = []
    for entry in cdr.tariffs_snapshot or []:
        if isinstance(entry, Mapping):
            value = entry.get("tariff_id") or entry.get("id")
            if isinstance(value, str) and value:
                ids.append(value)
    return ids


def _published_specs(cdr: Cdr, named_id: str | None) -> list[tuple[TariffSpec, dict[str, Any]]]:
    """The partner's tariffs as we hold them, each in its version in effect at the start.

    Which tariffs: the one the periods name; else those the CDR embeds (by id); else those of
    the connector at the CDR's location.
    """
    ids = [named_id] if named_id else _snapshot_tariff_ids(cdr)
    if not ids:
        connector = (
            Connector.objects.filter(
                evse__location__party=cdr.party,
                evse__location__location_id__iexact=cdr.location_ref,
                evse__uid__iexact=cdr.evse_uid,
                connector_id__iexact=cdr.connector_ref,
            )
            .order_by("pk")
            .first()
        )
        ids = [str(i) for i in (connector.tariff_ids if connector else []) or [] if i]
    if not ids:
        return []
    tariffs = {
        t.tariff_id.lower(): t
        for t in Tariff.objects.annotate(lower_id=Lower("tariff_id")).filter(
            party=cdr.party, lower_id__in=[i.lower() for i in ids]
        )
    }
    specs: list[tuple[TariffSpec, dict[str, Any]]] = []
    for tariff_id in dict.fromkeys(i.lower() for i in ids):
        tariff = tariffs.get(tariff_id)
        if tariff is None:
            continue
        version = tariff_version_in_effect(tariff=tariff, at=cdr.start_date_time)
        if version is None:
            continue
        try:
            spec = tariff_version_spec(version)
        except InvalidTariff:
            continue
        details = {"tariff_id": tariff.tariff_id, "version": version.number, "source": "published"}
        specs.append((spec, details))
    return specs


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise InvalidTariff(f"{value!r} is not an aware date and time")


def _embedded_specs(cdr: Cdr, found: list[NewFinding]) -> list[tuple[TariffSpec, dict[str, Any]]]:
    """The tariffs embedded in the CDR that are in canonical form (``TariffContent`` fields:
    prices as decimal text, bounds as ``min_price_excl_vat`` …); others are skipped."""
    specs: list[tuple[TariffSpec, dict[str, Any]]] = []
    for index, entry in enumerate(cdr.tariffs_snapshot or []):
        if not _canonical(entry):
            continue
        tariff_id = str(entry.get("tariff_id") or entry.get("id") or "")
        try:
            spec = tariff_spec(
                currency=str(entry["currency"]),
                elements=entry["elements"],
                tariff_id=tariff_id,
                min_price_excl_vat=entry.get("min_price_excl_vat"),
                min_price_incl_vat=entry.get("min_price_incl_vat"),
                max_price_excl_vat=entry.get("max_price_excl_vat"),
                max_price_incl_vat=entry.get("max_price_incl_vat"),
                start_date_time=_moment(entry.get("start_date_time")),
                end_date_time=_moment(entry.get("end_date_time")),
            )
        except InvalidTariff as exc:
            found.append(
                NewFinding(
                    code="EMBEDDED_TARIFF_INVALID",
                    severity=WARNING,
                    message=f"The tariff embedded at position {index} cannot be priced: "
                    f"{exc.message}.",
                    details={"index": index, "tariff_id": tariff_id},
                )
            )
            continue
        specs.append(
            (
                spec,
                {
                    "tariff_id": tariff_id,
                    "version": entry.get("version"),
                    "source": "embedded",
                    "index": index,
                },
            )
        )
    return specs


def _canonical(entry: Any) -> bool:
    return (
        isinstance(entry, Mapping)
        and isinstance(entry.get("currency"), str)
        and isinstance(entry.get("elements"), list)
        # The wire form nests bounds as {"excl_vat", "incl_vat"}: not canonical.
        and not isinstance(entry.get("min_price"), Mapping)
        and not isinstance(entry.get("max_price"), Mapping)
    )


# -- comparing ----------------------------------------------------------------------------------
def _text(value: Decimal | None) -> str:
    """Exact, for the details (what the finding stores): no exponent, no trailing zeros."""
    return "—" if value is None else format(value.normalize(), "f")


# Messages are read by a person: amounts in their currency's minor units (round_money, for
# display only: the details keep the exact figures), quantities in kWh and H:MM:SS.
def _money(value: Decimal, currency: str) -> str:
    return format_money(value, currency)


def _delta(delta: Decimal, currency: str) -> str:
    shown = round_money(delta, currency)
    sign = "+" if delta > 0 else "-"
    if shown == 0:
        return f"{sign}less than {Decimal(1).scaleb(-minor_units(currency))} {currency}"
    return f"{sign}{abs(shown)} {currency}"


def _quantity(name: str, value: Decimal) -> str:
    if name == "total_energy":
        return f"{text.number(value)} kWh"
    return text.hours(value)


def _per_kwh(value: Decimal, currency: str) -> str:
    # A rate, not an amount: two decimals more than the currency's, so a bound of 0.35 is
    # told apart from 0.3549.
    places = minor_units(currency) + 2
    return f"{text.number(value.quantize(Decimal(1).scaleb(-places)))} {currency}/kWh"


def _compare(cdr: Cdr, priced: _Priced, tolerance: Decimal) -> list[NewFinding]:
    figures = pricing_result_figures(priced.result)
    # A credit CDR states the original's amounts negated.
    sign = Decimal(-1) if cdr.credit else Decimal(1)
    found: list[NewFinding] = []
    for name in COST_TOTALS:
        for kind in ("excl", "incl"):
            key = f"{name}_{kind}_vat"
            stated: Decimal | None = getattr(cdr, key)
            if stated is None:
                continue
            expected = sign * figures[key]
            delta = stated - expected
            if delta == 0:
                continue
            beyond = abs(delta) > tolerance
            found.append(
                NewFinding(
                    code="PRICE_MISMATCH" if beyond else "PRICE_WITHIN_TOLERANCE",
                    severity=ERROR if beyond else INFO,
                    message=f"{name} {kind}. VAT is {_money(stated, cdr.currency)}; we price "
                    f"{_money(expected, cdr.currency)} ({priced.source}): "
                    f"{_delta(delta, cdr.currency)}, "
                    + ("beyond" if beyond else "within")
                    + f" the tolerance of {_text(tolerance)} {cdr.currency}.",
                    details={
                        **priced.details,
                        "total": name,
                        "vat": kind,
                        "stated": _text(stated),
                        "expected": _text(expected),
                        "delta": _text(delta),
                        "tolerance": _text(tolerance),
                        "currency": cdr.currency,
                    },
                )
            )
    for name in PRICED_QUANTITIES:
        stated = getattr(cdr, name)
        if stated is None:
            continue
        delta = stated - figures[name]
        if abs(delta) > QUANTITY_TOLERANCE:
            found.append(
                NewFinding(
                    code="QUANTITY_MISMATCH",
                    severity=WARNING,
                    message=f"{name} is {_quantity(name, stated)}; the charging periods give "
                    f"{_quantity(name, figures[name])} ({'+' if delta > 0 else '-'}"
                    f"{_quantity(name, abs(delta))}).",
                    details={
                        "total": name,
                        "stated": _text(stated),
                        "expected": _text(figures[name]),
                        "delta": _text(delta),
                    },
                )
            )
    return found


@dataclass(frozen=True)
class _Bound:
    code: str
    rule: str
    what: str
    low: bool  # True: a minimum


_BOUNDS: Sequence[_Bound] = (
    _Bound("RULE_MIN_ENERGY", "min_energy_kwh", "total_energy (kWh)", True),
    _Bound("RULE_MAX_ENERGY", "max_energy_kwh", "total_energy (kWh)", False),
    _Bound("RULE_MIN_DURATION", "min_duration_hours", "total_time (hours)", True),
    _Bound("RULE_MAX_DURATION", "max_duration_hours", "total_time (hours)", False),
    _Bound("RULE_MAX_TOTAL_COST", "max_total_cost_excl_vat", "total_cost excl. VAT", False),
    _Bound("RULE_MAX_PRICE_PER_KWH", "max_price_per_kwh_excl_vat", "price per kWh", False),
)


def _rule_findings(cdr: Cdr, rules: PartnerCdrRules) -> list[NewFinding]:
    """A finding per bound of the partner's rules that the CDR breaks. Costs are compared by
    magnitude (a credit CDR's are negative); the price per kWh is total_cost excl. VAT over
    total_energy, left out when there is no energy."""
    cost = abs(cdr.total_cost_excl_vat)
    values: dict[str, Decimal | None] = {
        "min_energy_kwh": cdr.total_energy,
        "max_energy_kwh": cdr.total_energy,
        "min_duration_hours": cdr.total_time,
        "max_duration_hours": cdr.total_time,
        "max_total_cost_excl_vat": cost,
        "max_price_per_kwh_excl_vat": cost / cdr.total_energy if cdr.total_energy > 0 else None,
    }
    shown: dict[str, Callable[[Decimal], str]] = {
        "min_energy_kwh": lambda v: _quantity("total_energy", v),
        "max_energy_kwh": lambda v: _quantity("total_energy", v),
        "min_duration_hours": lambda v: _quantity("total_time", v),
        "max_duration_hours": lambda v: _quantity("total_time", v),
        "max_total_cost_excl_vat": lambda v: _money(v, cdr.currency),
        "max_price_per_kwh_excl_vat": lambda v: _per_kwh(v, cdr.currency),
    }
    found: list[NewFinding] = []
    partner = rules.partner.name if rules.partner_id else "the partner"
    for bound in _BOUNDS:
        limit: Decimal | None = getattr(rules, bound.rule)
        value = values[bound.rule]
        if limit is None or value is None:
            continue
        if (value < limit) if bound.low else (value > limit):
            found.append(
                NewFinding(
                    code=bound.code,
                    severity=ERROR,
                    message=f"{bound.what} is {shown[bound.rule](value)}, "
                    f"{'below the minimum' if bound.low else 'above the maximum'} of "
                    f"{shown[bound.rule](limit)} set for {partner}.",
                    details={"rule": bound.rule, "value": _text(value), "limit": _text(limit)},
                )
            )
    return found
