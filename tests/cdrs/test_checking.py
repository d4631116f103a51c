"""Checking partners' CDRs (eMSP role): re-priced under the tariff version in effect at the
start, differences recorded as findings, those beyond the partner's tolerance or outside its
rules queued for review, and a review that resolves the queue without touching the CDR."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import serializers
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from apps.cdrs.checking import cdr_check_pricing
from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import (
    Cdr,
    CdrChargingDimension,
    CdrChargingPeriod,
    CdrFinding,
    CdrReview,
    PartnerCdrRules,
)
from apps.cdrs.services import cdr_finalize, cdr_review_record
from apps.core.errors import DomainError
from apps.core.models import AuditLogEntry
from apps.locations.models import Location
from apps.partners.models import Party
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.services import TariffContent, tariff_version_record
from tests.factories import (
    CdrFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    PartyFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
# Monday 5 October 2026, 19:00 in Berlin (CEST): the first period is at the day rate, the
# second (20:00 local) at the night rate. Priced in UTC both would be day rate.
START = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


def tariff_content(updated: datetime, day: str, night: str) -> TariffContent:
    return TariffContent(
        currency="EUR",
        last_updated=updated,
        elements=[
            {"price_components": [{"type": "FLAT", "price": "1.00", "vat": "19", "step_size": 1}]},
            {
                "price_components": [{"type": "ENERGY", "price": day, "vat": "19", "step_size": 1}],
                "restrictions": {"start_time": "08:00", "end_time": "20:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": night, "vat": "19", "step_size": 1}]},
        ],
    )


@dataclass
class World:
    cpo: Party
    location: Location


def build_world() -> World:
    """A partner CPO with a location in Berlin whose connector names tariff DE-AC, published in
    two versions: v1 before the session, v2 (dearer) ten minutes after it started."""
    cpo = PartyFactory.create(country_code="DE", party_id="PCP", roles=["CPO"])
    location = LocationFactory.create(party=cpo, location_id="BER-1", time_zone=BERLIN)
    evse = EvseFactory.create(location=location, uid="BER-1-E1", evse_id="DE*PCP*E1")
    ConnectorFactory.create(evse=evse, connector_id="1", tariff_ids=["DE-AC"])
    tariff = TariffFactory.create(party=cpo, tariff_id="DE-AC")
    for updated, day, night in (
        (START - timedelta(days=60), "0.30", "0.50"),
        (START + timedelta(minutes=10), "0.40", "0.60"),
    ):
        tariff_version_record(
            tariff=tariff,
            content=tariff_content(updated, day, night),
            origin=VersionOrigin.RECEIVED,
        )
    return World(cpo, location)


# v1: 1.00 start fee + 20 kWh x 0.30 (day) + 10 kWh x 0.50 (night), 19 % VAT.
CORRECT: dict[str, Decimal] = {
    "total_cost_excl_vat": Decimal("12.00"),
    "total_cost_incl_vat": Decimal("14.28"),
    "total_fixed_cost_excl_vat": Decimal("1.00"),
    "total_fixed_cost_incl_vat": Decimal("1.19"),
    "total_energy_cost_excl_vat": Decimal("11.00"),
    "total_energy_cost_incl_vat": Decimal("13.09"),
    "total_energy": Decimal("30"),
    "total_time": Decimal("2"),
}


def partner_cdr(world: World, *, cdr_id: str = "PCP-CDR-1", **overrides: Any) -> Cdr:
    """A final CDR received from the partner CPO, as its adapter would have stored it."""
    fields: dict[str, Any] = {
        **CORRECT,
        "party": world.cpo,
        "cdr_id": cdr_id,
        "origin": CdrOrigin.RECEIVED,
        "protocol_version": "2.2.1",
        "start_date_time": START,
        "end_date_time": END,
        "location": world.location,
        "location_ref": "BER-1",
        "evse_uid": "BER-1-E1",
        "evse_id": "DE*PCP*E1",
        "connector_ref": "1",
        "tariffs_snapshot": [{"id": "DE-AC"}],
        **overrides,
    }
    cdr = CdrFactory.create(**fields)
    for sequence, (offset, kwh) in enumerate(((0, "20"), (60, "10")), start=1):
        period = CdrChargingPeriod.objects.create(
            cdr=cdr, sequence=sequence, start_date_time=START + timedelta(minutes=offset)
        )
        CdrChargingDimension.objects.bulk_create(
            [
                CdrChargingDimension(period=period, type="ENERGY", volume=Decimal(kwh)),
                CdrChargingDimension(period=period, type="TIME", volume=Decimal(1)),
            ]
        )
    return cdr_finalize(cdr=cdr)


def codes(findings: list[CdrFinding]) -> dict[str, str]:
    return {f.code: f.severity for f in findings}


def listed(client: Client, url: str, **filters: str) -> list[Any]:
    """The rows an admin changelist shows with these filters."""
    return list(client.get(url, filters).context["cl"].result_list)


def stored_rows(cdr: Cdr) -> tuple[str, list[Any]]:
    """The CDR and its parts as serialized JSON, and its raw database row."""
    objects = [
        Cdr.objects.get(pk=cdr.pk),
        *CdrChargingPeriod.objects.filter(cdr=cdr).order_by("pk"),
        *CdrChargingDimension.objects.filter(period__cdr=cdr).order_by("pk"),
        *cdr.cost_lines.order_by("pk"),
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Cdr._meta.db_table} WHERE id = %s", [cdr.pk])  # noqa: S608
        raw = list(cursor.fetchone())
    return serializers.serialize("json", objects), raw


# -- pricing ---------------------------------------------------------------------------------------
def test_a_correctly_priced_cdr_has_no_error_findings() -> None:
    world = build_world()
    cdr = partner_cdr(world)

    findings = cdr_check_pricing(cdr=cdr, actor="checker")

    assert codes(findings) == {"PRICING_MATCHES": "INFO"}
    details = findings[0].details
    assert (details["tariff_id"], details["version"], details["source"]) == (
        "DE-AC",
        1,
        "published",
    )
    assert details["time_zone"] == BERLIN
    assert all(f.source == CdrFinding.Source.PRICING for f in findings)
    assert not Cdr.objects.needs_review().exists()
    assert AuditLogEntry.objects.filter(
        action="cdr.pricing_checked", actor_label="checker"
    ).exists()


def test_a_cdr_off_by_five_cents_goes_to_review_with_the_delta() -> None:
    world = build_world()
    cdr = partner_cdr(world, total_cost_excl_vat=Decimal("12.05"))

    findings = cdr_check_pricing(cdr=cdr)

    assert codes(findings) == {"PRICE_MISMATCH": "ERROR", "REVIEW_REQUIRED": "ERROR"}
    mismatch = next(f for f in findings if f.code == "PRICE_MISMATCH")
    assert {k: mismatch.details[k] for k in ("total", "vat", "stated", "expected", "delta")} == {
        "total": "total_cost",
        "vat": "excl",
        "stated": "12.05",
        "expected": "12",
        "delta": "0.05",
    }
    assert mismatch.details["tolerance"] == "0.01"
    assert "+0.05 EUR" in mismatch.message
    assert list(Cdr.objects.needs_review()) == [cdr]


def test_small_differences_are_recorded_but_within_tolerance_they_do_not_queue() -> None:
    world = build_world()
    cdr = partner_cdr(world, total_energy_cost_incl_vat=Decimal("13.094"))

    findings = cdr_check_pricing(cdr=cdr)

    assert codes(findings) == {"PRICE_WITHIN_TOLERANCE": "INFO", "PRICING_MATCHES": "INFO"}
    within = next(f for f in findings if f.code == "PRICE_WITHIN_TOLERANCE")
    assert within.details["delta"] == "0.004"
    assert not Cdr.objects.needs_review().exists()


def time_cdr(world: World, **overrides: Any) -> Cdr:
    """A partner CDR priced by the hour (2.40 per hour, step 300 s) with 7.2 kWh at 0.30:
    0.55 h + 0.5 h = 3,780 s, billed as 3,900 s = 2.60 EUR exactly; 4.76 EUR in all."""
    cpo = world.cpo
    tariff = TariffFactory.create(party=cpo, tariff_id="DE-TIME")
    tariff_version_record(
        tariff=tariff,
        content=TariffContent(
            currency="EUR",
            last_updated=START - timedelta(days=1),
            elements=[
                {
                    "price_components": [
                        {"type": "TIME", "price": "2.40", "step_size": 300},
                        {"type": "ENERGY", "price": "0.30", "step_size": 1},
                    ]
                }
            ],
        ),
        origin=VersionOrigin.RECEIVED,
    )
    fields: dict[str, Any] = {
        "party": cpo,
        "cdr_id": "PCP-TIME-1",
        "origin": CdrOrigin.RECEIVED,
        "start_date_time": START,
        "end_date_time": START + timedelta(seconds=3780),
        "location": world.location,
        "location_ref": "BER-1",
        "tariffs_snapshot": [{"id": "DE-TIME"}],
        "total_cost_excl_vat": Decimal("4.76"),
        "total_cost_incl_vat": Decimal("4.76"),
        "total_energy_cost_excl_vat": Decimal("2.16"),
        "total_energy_cost_incl_vat": Decimal("2.16"),
        "total_time_cost_excl_vat": Decimal("2.60"),
        "total_time_cost_incl_vat": Decimal("2.60"),
        "total_energy": Decimal("7.2"),
        "total_time": Decimal("1.05"),
        **overrides,
    }
    cdr = CdrFactory.create(**fields)
    for sequence, (offset, dims) in enumerate(
        ((0, {"TIME": "0.55", "ENERGY": "7.2"}), (1980, {"TIME": "0.5"})), start=1
    ):
        period = CdrChargingPeriod.objects.create(
            cdr=cdr, sequence=sequence, start_date_time=START + timedelta(seconds=offset)
        )
        CdrChargingDimension.objects.bulk_create(
            CdrChargingDimension(period=period, type=kind, volume=Decimal(volume))
            for kind, volume in dims.items()
        )
    return cdr_finalize(cdr=cdr)


NOISE = re.compile(r"\d\.\d{7,}")  # a figure with more decimals than a person reads


def test_an_exactly_priced_time_tariff_matches_without_decimal_noise() -> None:
    cdr = time_cdr(build_world())

    findings = cdr_check_pricing(cdr=cdr)

    # 2.60 is what the engine prices, to the last digit: no "within tolerance" finding for
    # 2.599999999999999999999999999.
    assert codes(findings) == {"PRICING_MATCHES": "INFO"}


def test_finding_messages_show_amounts_in_minor_units_and_times_on_the_clock() -> None:
    world = build_world()
    assert world.cpo.partner is not None
    PartnerCdrRules.objects.create(
        partner=world.cpo.partner, max_price_per_kwh_excl_vat=Decimal("0.35")
    )
    # 5.00 over 7.2 kWh is 0.69444… per kWh; 5.00 stated against 4.76 priced, and 2.6033
    # against 2.60.
    cdr = time_cdr(
        world, total_cost_excl_vat=Decimal("5.00"), total_time_cost_incl_vat=Decimal("2.6033")
    )

    findings = cdr_check_pricing(cdr=cdr)

    messages = {f.code: f.message for f in findings}
    for message in messages.values():
        assert not NOISE.search(message), message
    assert messages["PRICE_MISMATCH"] == (
        "total_cost excl. VAT is 5.00 EUR; we price 4.76 EUR (tariff DE-TIME v1): +0.24 EUR, "
        "beyond the tolerance of 0.01 EUR."
    )
    assert messages["PRICE_WITHIN_TOLERANCE"] == (
        "total_time_cost incl. VAT is 2.60 EUR; we price 2.60 EUR (tariff DE-TIME v1): "
        "+less than 0.01 EUR, within the tolerance of 0.01 EUR."
    )
    assert messages["RULE_MAX_PRICE_PER_KWH"] == (
        f"price per kWh is 0.6944 EUR/kWh, above the maximum of 0.35 EUR/kWh set for "
        f"{world.cpo.partner.name}."
    )
    # The details keep the exact figures.
    per_kwh = next(f for f in findings if f.code == "RULE_MAX_PRICE_PER_KWH")
    assert Decimal(per_kwh.details["value"]) == Decimal("5.00") / Decimal("7.2")
    within = next(f for f in findings if f.code == "PRICE_WITHIN_TOLERANCE")
    assert within.details["delta"] == "0.0033"


def test_a_quantity_mismatch_shows_times_on_the_clock() -> None:
    cdr = time_cdr(build_world(), total_time=Decimal("1.1"))

    (mismatch,) = [f for f in cdr_check_pricing(cdr=cdr) if f.code == "QUANTITY_MISMATCH"]

    assert mismatch.message == (
        "total_time is 1:06:00 (1.1 h); the charging periods give 1:03:00 (1.05 h) "
        "(+0:03:00 (0.05 h))."
    )
    assert mismatch.details["delta"] == "0.05"


def test_the_tolerance_is_per_partner() -> None:
    world = build_world()
    assert world.cpo.partner is not None
    PartnerCdrRules.objects.create(partner=world.cpo.partner, tolerance=Decimal("0.10"))
    cdr = partner_cdr(world, total_cost_excl_vat=Decimal("12.05"))

    assert codes(cdr_check_pricing(cdr=cdr)) == {
        "PRICE_WITHIN_TOLERANCE": "INFO",
        "PRICING_MATCHES": "INFO",
    }
    assert not Cdr.objects.needs_review().exists()


def test_the_version_in_effect_at_the_start_prices_it_not_a_later_one() -> None:
    world = build_world()
    # What v2 (published after the start) would have charged: 1 + 20 x 0.40 + 10 x 0.60.
    cdr = partner_cdr(
        world,
        total_cost_excl_vat=Decimal("15.00"),
        total_cost_incl_vat=Decimal("17.85"),
        total_energy_cost_excl_vat=Decimal("14.00"),
        total_energy_cost_incl_vat=Decimal("16.66"),
    )
    found = codes(cdr_check_pricing(cdr=cdr))
    assert found["PRICE_MISMATCH"] == "ERROR"


def test_an_unknown_location_is_priced_in_utc_with_a_warning() -> None:
    world = build_world()
    cdr = partner_cdr(world, location=None, location_ref="ELSEWHERE")
    findings = cdr_check_pricing(cdr=cdr)
    found = codes(findings)
    assert found["TIME_ZONE_ASSUMED"] == "WARNING"
    # In UTC both periods fall in the day rate: 9.00 for energy instead of 11.00.
    energy = next(
        f
        for f in findings
        if f.code == "PRICE_MISMATCH"
        and f.details["total"] == "total_energy_cost"
        and f.details["vat"] == "excl"
    )
    assert energy.details["expected"] == "9"


def test_the_tariff_embedded_in_the_cdr_is_used_when_we_hold_none() -> None:
    world = build_world()
    other = PartyFactory.create(country_code="AT", party_id="EMB", roles=["CPO"])
    snapshot = {
        "tariff_id": "EMBEDDED",
        "version": 3,
        "currency": "EUR",
        "elements": tariff_content(START, "0.30", "0.50").elements,
        "min_price_excl_vat": None,
        "start_date_time": None,
        "end_date_time": "2027-01-01T00:00:00Z",
        "last_updated": "2026-09-01T00:00:00Z",
    }
    cdr = partner_cdr(world, party=other, tariffs_snapshot=[snapshot])
    findings = cdr_check_pricing(cdr=cdr)
    assert codes(findings) == {"PRICING_MATCHES": "INFO"}
    assert findings[0].details["source"] == "embedded"
    assert "as embedded in the CDR" in findings[0].message


def test_a_cdr_without_a_usable_tariff_goes_to_review() -> None:
    world = build_world()
    other = PartyFactory.create(country_code="AT", party_id="WIR", roles=["CPO"])
    wire_shaped = {
        "id": "WIRE",
        "currency": "EUR",
        "min_price": {"excl_vat": 1},
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
    }
    cdr = partner_cdr(world, party=other, tariffs_snapshot=[wire_shaped])
    found = codes(cdr_check_pricing(cdr=cdr))
    assert found == {"NO_TARIFF_TO_PRICE": "ERROR", "REVIEW_REQUIRED": "ERROR"}
    assert list(Cdr.objects.needs_review()) == [cdr]


def test_our_own_cdrs_are_not_checked_here() -> None:
    cdr = CdrFactory.create(origin=CdrOrigin.GENERATED)
    with pytest.raises(DomainError) as excinfo:
        cdr_check_pricing(cdr=cdr)
    assert excinfo.value.code == "CDR_NOT_RECEIVED"


# -- rules -----------------------------------------------------------------------------------------
def test_rule_bounds_produce_findings_and_queue_the_cdr() -> None:
    world = build_world()
    assert world.cpo.partner is not None
    PartnerCdrRules.objects.create(
        partner=world.cpo.partner,
        min_energy_kwh=Decimal("40"),
        max_energy_kwh=Decimal("100"),
        min_duration_hours=Decimal("0.1"),
        max_duration_hours=Decimal("1.5"),
        max_total_cost_excl_vat=Decimal("10"),
        max_price_per_kwh_excl_vat=Decimal("0.35"),
    )
    cdr = partner_cdr(world)

    findings = cdr_check_pricing(cdr=cdr)

    assert codes(findings) == {
        "RULE_MIN_ENERGY": "ERROR",
        "RULE_MAX_DURATION": "ERROR",
        "RULE_MAX_TOTAL_COST": "ERROR",
        "RULE_MAX_PRICE_PER_KWH": "ERROR",
        "REVIEW_REQUIRED": "ERROR",
    }
    per_kwh = next(f for f in findings if f.code == "RULE_MAX_PRICE_PER_KWH")
    assert per_kwh.details == {
        "rule": "max_price_per_kwh_excl_vat",
        "value": "0.4",
        "limit": "0.35",
    }
    review = next(f for f in findings if f.code == "REVIEW_REQUIRED")
    assert review.details["reasons"] == [
        "RULE_MAX_DURATION",
        "RULE_MAX_PRICE_PER_KWH",
        "RULE_MAX_TOTAL_COST",
        "RULE_MIN_ENERGY",
    ]
    assert list(Cdr.objects.needs_review()) == [cdr]


def test_rules_refuse_a_minimum_above_the_maximum() -> None:
    rules = PartnerCdrRules(
        partner=PartyFactory.create().partner,
        min_energy_kwh=Decimal("50"),
        max_energy_kwh=Decimal("10"),
    )
    with pytest.raises(ValidationError) as excinfo:
        rules.full_clean()
    assert "max_energy_kwh" in excinfo.value.message_dict


# -- review ----------------------------------------------------------------------------------------
def test_a_review_resolves_the_queue_and_a_later_error_reopens_it(staff_client: Client) -> None:
    world = build_world()
    cdr = partner_cdr(world, total_cost_excl_vat=Decimal("12.05"))
    cdr_check_pricing(cdr=cdr)
    changelist = reverse("admin:cdrs_cdr_changelist")
    assert listed(staff_client, changelist, queue="review") == [cdr]

    review_url = reverse("admin:cdrs_cdr_review", args=[cdr.pk])
    page = staff_client.get(review_url).content.decode()
    assert "PRICE_MISMATCH" in page
    assert "REVIEW_REQUIRED" in page
    # A dispute needs a note.
    response = staff_client.post(review_url, {"decision": "DISPUTED", "note": ""})
    assert response.status_code == 200
    assert "say why the CDR is disputed" in response.content.decode()
    assert not CdrReview.objects.exists()

    response = staff_client.post(
        review_url, {"decision": "DISPUTED", "note": "Start fee charged twice; raised."}
    )
    assert response.status_code == 302
    review = CdrReview.objects.get(cdr=cdr)
    assert (review.decision, review.reviewer_label) == ("DISPUTED", "ops")
    assert not Cdr.objects.needs_review().exists()
    assert listed(staff_client, changelist, queue="review") == []
    assert AuditLogEntry.objects.filter(action="cdr.reviewed").exists()

    # A later check that finds the error again puts it back.
    cdr_check_pricing(cdr=cdr)
    assert list(Cdr.objects.needs_review()) == [cdr]
    cdr_review_record(cdr=cdr, decision=CdrReview.Decision.ACCEPTED, actor="ops")
    assert not Cdr.objects.needs_review().exists()


def test_final_cdrs_stay_byte_identical_through_checks_and_reviews(staff_client: Client) -> None:
    world = build_world()
    assert world.cpo.partner is not None
    PartnerCdrRules.objects.create(partner=world.cpo.partner, max_total_cost_excl_vat=Decimal(5))
    cdr = partner_cdr(world, total_cost_excl_vat=Decimal("12.05"))
    before = stored_rows(cdr)

    cdr_check_pricing(cdr=cdr)
    staff_client.post(
        reverse("admin:cdrs_cdr_changelist"),
        {"action": "check_pricing", "_selected_action": [cdr.pk]},
    )
    cdr_review_record(cdr=cdr, decision=CdrReview.Decision.ACCEPTED, note="fine", actor="ops")

    assert stored_rows(cdr) == before
    assert cdr.findings.count() > 0


def test_check_pricing_admin_action_reports_the_queue(staff_client: Client) -> None:
    world = build_world()
    good = partner_cdr(world, cdr_id="GOOD")
    bad = partner_cdr(world, cdr_id="BAD", total_cost_excl_vat=Decimal("13.00"))
    response = staff_client.post(
        reverse("admin:cdrs_cdr_changelist"),
        {"action": "check_pricing", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "Pricing checked for 2 CDRs: 1 need review." in content
    assert list(Cdr.objects.needs_review()) == [bad]


# -- the rules admin -------------------------------------------------------------------------------
def test_partner_rules_are_listed_with_defaults_and_edited_inline(staff_client: Client) -> None:
    world = build_world()
    partner = world.cpo.partner
    assert partner is not None
    changelist = reverse("admin:cdrs_partnercdrrulesview_changelist")
    content = staff_client.get(changelist).content.decode()
    assert partner.name in content
    assert "0.01" in content  # the default tolerance

    change = reverse("admin:cdrs_partnercdrrulesview_change", args=[partner.pk])
    assert staff_client.get(change).status_code == 200
    prefix = "cdr_rules"
    response = staff_client.post(
        change,
        {
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1",
            f"{prefix}-0-tolerance": "0.05",
            f"{prefix}-0-max_energy_kwh": "150",
            f"{prefix}-0-max_price_per_kwh_excl_vat": "0.79",
            f"{prefix}-0-partner": str(partner.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rules = PartnerCdrRules.objects.get(partner=partner)
    assert (rules.tolerance, rules.max_energy_kwh, rules.min_energy_kwh) == (
        Decimal("0.05"),
        Decimal("150"),
        None,
    )
    assert "0.79" in staff_client.get(changelist).content.decode()
