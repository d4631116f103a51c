"""CDR generation (CPO role): a completed session of ours becomes a CDR whose cost lines add up
to totals equal to the engine's price; invalid ones are held for review and never sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent, ValidationStatus
from apps.cdrs.generation import (
    cdr_generate_for_session,
    cdr_validate,
    cdr_validate_and_finalize,
)
from apps.cdrs.models import Cdr, CdrCostLine, CdrFinding, CdrReview
from apps.cdrs.services import cdr_cost_mismatches, cdr_idempotency_key, pricing_result_figures
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
from apps.charging_sessions.services import session_complete
from apps.core.errors import DomainError
from apps.core.models import AuditLogEntry
from apps.locations.models import Connector, Location
from apps.ocpi.models import OutboundDelivery
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import PeriodInput, SessionInput, price_session
from apps.tariffs.services import TariffContent, tariff_version_record, tariff_version_spec
from tests.factories import (
    ConnectionFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    PartyFactory,
    SessionFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db

AMSTERDAM = "Europe/Amsterdam"
# Monday 5 October 2026, 10:00 in Amsterdam (08:00 UTC).
START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
END = START + timedelta(hours=1, minutes=45)
NOW = datetime(2026, 10, 8, 12, 0, tzinfo=UTC)
EUR = Decimal


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def component(kind: str, price: str, vat: str | None = "21", step: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        data["vat"] = vat
    return data


def ac_tariff_content(updated: datetime, energy: str = "0.35", **bounds: Any) -> TariffContent:
    """A start fee, energy by the kWh and parking by the hour (5-minute steps), with VAT."""
    return TariffContent(
        currency="EUR",
        last_updated=updated,
        elements=[
            {"price_components": [component("FLAT", "0.50")]},
            {"price_components": [component("ENERGY", energy)]},
            {"price_components": [component("PARKING_TIME", "2.00", step=300)]},
        ],
        **bounds,
    )


@dataclass
class World:
    """A CPO party of ours (besides the configured one), a location in Amsterdam with one
    connector, the tariff it names (three versions: before, during and after the session), an
    eMSP party whose token is used and a connection that receives its CDRs."""

    party: Party
    emsp: Party
    location: Location
    connector: Connector
    tariff: Tariff
    versions: list[TariffVersion]
    connection: PartnerConnection


def build_world(*, address: str = "Stationsplein 1", **bounds: Any) -> World:
    party = PartyFactory.create(
        partner=None, country_code="NL", party_id="AMS", roles=["CPO", "EMSP"]
    )
    emsp = PartyFactory.create(country_code="DE", party_id="XYZ", roles=["EMSP"])
    location = LocationFactory.create(
        party=party, location_id="LOC-AMS-1", address=address, time_zone=AMSTERDAM
    )
    evse = EvseFactory.create(location=location, uid="EVSE-1", evse_id="NL*RDK*E1")
    connector = ConnectorFactory.create(evse=evse, connector_id="1", tariff_ids=["AC-1"])
    tariff = TariffFactory.create(party=party, tariff_id="AC-1")
    versions = [
        tariff_version_record(
            tariff=tariff,
            content=ac_tariff_content(updated, energy=energy, **bounds),
            origin=VersionOrigin.PUBLISHED,
        )[0]
        for updated, energy in (
            (START - timedelta(days=30), "0.35"),
            (START + timedelta(minutes=30), "0.45"),
            (END + timedelta(days=1), "0.55"),
        )
    ]
    connection = ConnectionFactory.create(
        partner=emsp.partner,
        status="CONNECTED",
        version="2.2.1",
        endpoints=[
            {
                "identifier": "cdrs",
                "role": "RECEIVER",
                "url": "https://emsp.example/ocpi/emsp/2.2.1/cdrs",
            }
        ],
    )
    connection.represented_parties.add(emsp)
    return World(party, emsp, location, connector, tariff, versions, connection)


# (minutes after the start, dimensions). Hours: 60 min = 1, 30 min = 0.5, 15 min = 0.25.
PERIODS: list[tuple[int, dict[str, str]]] = [
    (
        0,
        {
            "ENERGY": "10",
            "TIME": "1",
            "MAX_POWER": "11",
            "MIN_POWER": "9.5",
            # Session-only: never in a CDR.
            "POWER": "10.5",
            "STATE_OF_CHARGE": "48",
        },
    ),
    (60, {"ENERGY": "5.5", "TIME": "0.5", "MAX_POWER": "11", "CURRENT": "16"}),
    (90, {"PARKING_TIME": "0.25"}),  # parked until the end, 15 minutes later
]


def active_session(world: World, **fields: Any) -> ChargingSession:
    fields.setdefault("party", world.party)
    session = SessionFactory.create(
        session_id="S-2026-0001",
        start_date_time=START,
        kwh=Decimal("15.5"),
        token_country_code=world.emsp.country_code,
        token_party_id=world.emsp.party_id,
        authorization_reference="AUTH-42",
        location_ref=world.location.location_id,
        evse_ref="EVSE-1",
        connector_ref="1",
        location=world.location,
        evse=world.connector.evse,
        connector=world.connector,
        meter_id="METER-7",
        **fields,
    )
    for sequence, (offset, dimensions) in enumerate(PERIODS, start=1):
        period = SessionChargingPeriod.objects.create(
            session=session, sequence=sequence, start_date_time=START + timedelta(minutes=offset)
        )
        SessionChargingDimension.objects.bulk_create(
            SessionChargingDimension(period=period, type=kind, volume=Decimal(volume))
            for kind, volume in dimensions.items()
        )
    return session


def engine_price(world: World, version: TariffVersion) -> dict[str, Decimal]:
    """What the engine says, computed here from the session's CDR dimensions."""
    periods = tuple(
        PeriodInput(
            start=START + timedelta(minutes=offset),
            dimensions={
                k: Decimal(v)
                for k, v in dims.items()
                if k not in {"POWER", "STATE_OF_CHARGE", "CURRENT"}
            },
        )
        for offset, dims in PERIODS
    )
    result = price_session(
        tariff_version_spec(version),
        SessionInput(start=START, end=END, periods=periods, time_zone=AMSTERDAM),
    )
    return pricing_result_figures(result)


def listed(client: Client, url: str, **filters: str) -> list[Any]:
    """The rows an admin changelist shows with these filters."""
    return list(client.get(url, filters).context["cl"].result_list)


def change_form_data(response: Any) -> dict[str, Any]:
    """What a browser would post back from an admin change page, unchanged."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):  # a split date/time widget
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.date(), local.time()
        elif value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(n): management[n].value() for n in management.fields})
        for inline_form in formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


def row_counts() -> tuple[int, ...]:
    return (
        Cdr.objects.count(),
        CdrCostLine.objects.count(),
        CdrFinding.objects.count(),
        OutboundDelivery.objects.count(),
        AuditLogEntry.objects.filter(action="cdr.generated").count(),
    )


# -- the happy path -----------------------------------------------------------------------------
def test_total_time_is_end_minus_start_also_after_a_reservation() -> None:
    """Reserved 15 minutes before charging: the session (and its CDR) starts at the
    reservation, and total_time is end - start, 2 hours, not the 1.5 hours of TIME (nor the
    1 h 45 min from the first charging period); total_parking_time stays the parking."""
    world = build_world()
    reserved_at = START - timedelta(minutes=15)
    session = active_session(world)
    ChargingSession.objects.filter(pk=session.pk).update(start_date_time=reserved_at)
    session.refresh_from_db()
    reservation = SessionChargingPeriod.objects.create(
        session=session, sequence=0, start_date_time=reserved_at
    )
    SessionChargingDimension.objects.create(
        period=reservation, type="RESERVATION_TIME", volume=Decimal("0.25")
    )

    session = session_complete(session=session, end_date_time=END, actor="ocpp")

    cdr = Cdr.objects.get(session=session)
    assert cdr.start_date_time == reserved_at
    assert cdr.total_time == Decimal("2")
    assert cdr.total_time * 3600 == Decimal((cdr.end_date_time - cdr.start_date_time).seconds)
    assert cdr.total_parking_time == Decimal("0.25")
    assert cdr.validation_status == ValidationStatus.VALID


def test_completing_a_session_generates_a_final_cdr_that_adds_up_to_the_engine_price() -> None:
    world = build_world()
    session = session_complete(session=active_session(world), end_date_time=END, actor="ocpp")

    assert session.status == "COMPLETED"
    cdr = Cdr.objects.get(session=session)
    assert cdr.status == CdrStatus.FINAL
    assert cdr.validation_status == ValidationStatus.VALID
    assert cdr.validation_findings == []
    assert cdr.origin == CdrOrigin.GENERATED
    assert cdr.protocol_version == ""
    assert cdr.cdr_id == session.session_id
    assert cdr_validate(cdr=cdr) == []

    # Totals: sums of the lines, equal to the engine's result.
    assert cdr_cost_mismatches(cdr=cdr) == []
    expected = engine_price(world, world.versions[0])
    for key, value in expected.items():
        assert (getattr(cdr, key) or Decimal(0)) == value, key
    # 0.50 start fee + 15.5 kWh x 0.35 + 0.25 h parking x 2.00 (a multiple of 5 min), 21 % VAT.
    assert cdr.total_fixed_cost_excl_vat == EUR("0.50")
    assert cdr.total_energy_cost_excl_vat == EUR("5.425")
    assert cdr.total_parking_cost_excl_vat == EUR("0.50")
    assert cdr.total_time_cost_excl_vat is None  # the tariff does not price time
    assert cdr.total_cost_excl_vat == EUR("6.425")
    assert cdr.total_cost_incl_vat == EUR("7.77425")
    assert cdr.total_energy == Decimal("15.5")
    assert cdr.total_parking_time == Decimal("0.25")
    assert cdr.total_time == Decimal("1.75")

    lines = list(cdr.cost_lines.order_by("pk"))
    assert [(ln.component, ln.dimension, ln.volume) for ln in lines] == [
        (CostComponent.FIXED, "FLAT", Decimal(1)),
        (CostComponent.ENERGY, "ENERGY", Decimal(10)),
        (CostComponent.ENERGY, "ENERGY", Decimal("5.5")),
        (CostComponent.PARKING, "PARKING_TIME", Decimal("0.25")),
    ]
    assert all(ln.tariff_version == world.versions[0] for ln in lines)
    assert all(ln.explanation and ln.element_index is not None for ln in lines)
    assert lines[1].unit_price == Decimal("0.35")
    assert lines[1].vat_rate == Decimal(21)
    assert lines[1].amount_incl_vat == Decimal("4.235")
    assert "element 1" in lines[1].explanation

    # Periods and dimensions: the session's, without the session-only dimensions.
    periods = list(cdr.charging_periods.order_by("sequence").prefetch_related("dimensions"))
    assert [p.start_date_time for p in periods] == [
        START + timedelta(minutes=o) for o, _ in PERIODS
    ]
    assert {d.type for d in periods[0].dimensions.all()} == {
        "ENERGY",
        "TIME",
        "MAX_POWER",
        "MIN_POWER",
    }
    assert {d.type for d in periods[1].dimensions.all()} == {"ENERGY", "TIME", "MAX_POWER"}
    assert all(p.tariff_ref == "AC-1" for p in periods)

    # Sealed copies, provenance and reconciliation handles.
    assert (cdr.token_country_code, cdr.token_party_id, cdr.token_uid) == (
        "DE",
        "XYZ",
        session.token_uid,
    )
    assert cdr.authorization_reference == "AUTH-42"
    assert cdr.meter_id == "METER-7"
    assert (cdr.location_ref, cdr.location_address, cdr.evse_uid, cdr.evse_id) == (
        "LOC-AMS-1",
        "Stationsplein 1",
        "EVSE-1",
        "NL*RDK*E1",
    )
    assert cdr.connector_standard == "IEC_62196_T2"
    assert cdr.tariff_version_at_start == world.versions[0]
    assert cdr.tariff_version_at_end == world.versions[1]
    assert cdr.tariff_version_at_generation == world.versions[2]
    snapshot = cdr.tariffs_snapshot[0]
    assert (snapshot["tariff_id"], snapshot["version"], snapshot["currency"]) == ("AC-1", 1, "EUR")
    assert snapshot["elements"][1]["price_components"][0]["price"] == "0.35"
    assert cdr.idempotency_key == cdr_idempotency_key(
        country_code="NL", party_id="AMS", cdr_id=session.session_id
    )
    assert cdr.billing_reference == f"NLAMS-{cdr.idempotency_key[:16].upper()}"
    assert cdr.session_key == f"NL*AMS*{session.session_id}"

    # Finalized → announced: one delivery to the connection that receives the eMSP's CDRs.
    deliveries = OutboundDelivery.objects.filter(kind="cdr", object_id=cdr.pk)
    assert [d.connection_id for d in deliveries] == [world.connection.pk]
    assert AuditLogEntry.objects.filter(action="session.completed", actor_label="ocpp").exists()


def test_no_delivery_when_no_connection_wants_the_cdr() -> None:
    world = build_world()
    world.connection.represented_parties.clear()
    session = session_complete(session=active_session(world), end_date_time=END)
    cdr = Cdr.objects.get(session=session)
    assert cdr.is_final
    assert not OutboundDelivery.objects.filter(object_id=cdr.pk).exists()


def test_generating_twice_returns_the_same_cdr_and_creates_nothing() -> None:
    world = build_world()
    session = session_complete(session=active_session(world), end_date_time=END)
    first = Cdr.objects.get(session=session)
    before = row_counts()

    again = cdr_generate_for_session(session=session)
    session_complete(session=session, end_date_time=END)  # a repeated end changes nothing

    assert again.pk == first.pk
    assert row_counts() == before


# -- min_price / max_price ----------------------------------------------------------------------
def test_min_price_is_an_adjustment_line_so_lines_still_add_up_to_the_clamped_total(
    staff_client: Client,
) -> None:
    world = build_world(min_price_excl_vat=Decimal("10.00"), min_price_incl_vat=Decimal("12.10"))
    cdr = Cdr.objects.get(
        session=session_complete(session=active_session(world), end_date_time=END)
    )

    assert cdr.is_final
    assert cdr.total_cost_excl_vat == EUR("10.00")
    assert cdr.total_cost_incl_vat == EUR("12.10")
    # Subtotals stay what the priced lines add up to (pricing policy h).
    assert cdr.total_energy_cost_excl_vat == EUR("5.425")
    assert cdr.total_fixed_cost_excl_vat == EUR("0.50")
    adjustment = cdr.cost_lines.get(component=CostComponent.ADJUSTMENT)
    assert adjustment.amount_excl_vat == EUR("3.575")
    assert adjustment.amount_incl_vat == EUR("12.10") - EUR("7.77425")
    assert adjustment.period is None
    assert adjustment.explanation.startswith("min_price applied:")
    assert cdr_cost_mismatches(cdr=cdr) == []
    expected = engine_price(world, world.versions[0])
    assert expected["total_cost_excl_vat"] == cdr.total_cost_excl_vat
    assert expected["total_fixed_cost_excl_vat"] == cdr.total_fixed_cost_excl_vat
    page = staff_client.get(reverse("admin:cdrs_cdr_change", args=[cdr.pk])).content.decode()
    assert "Price bound adjustment" in page
    assert "Cost lines add up to the totals." in page


def test_max_price_caps_with_a_negative_adjustment() -> None:
    world = build_world(max_price_excl_vat=Decimal("5.00"), max_price_incl_vat=Decimal("6.05"))
    cdr = Cdr.objects.get(
        session=session_complete(session=active_session(world), end_date_time=END)
    )

    assert cdr.is_final
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (EUR("5.00"), EUR("6.05"))
    adjustment = cdr.cost_lines.get(component=CostComponent.ADJUSTMENT)
    assert adjustment.amount_excl_vat == EUR("-1.425")
    assert adjustment.explanation.startswith("max_price applied:")
    assert cdr_cost_mismatches(cdr=cdr) == []


def test_a_bound_on_one_side_only_that_puts_incl_below_excl_is_held() -> None:
    world = build_world(min_price_excl_vat=Decimal("10.00"))  # incl. VAT stays 7.77425
    cdr = Cdr.objects.get(
        session=session_complete(session=active_session(world), end_date_time=END)
    )

    assert cdr.status == CdrStatus.DRAFT
    assert cdr.validation_status == ValidationStatus.INVALID
    assert {p["code"] for p in cdr.validation_findings} == {"VAT_INCONSISTENT"}


# -- held for review ----------------------------------------------------------------------------
def test_an_invalid_cdr_is_held_for_review_and_never_finalized_or_sent(
    staff_client: Client,
) -> None:
    long_address = "Laan van Nieuw Oost-Indië 1234, achterzijde gebouw B"  # 52 > 45
    world = build_world(address=long_address)
    session = session_complete(session=active_session(world), end_date_time=END)
    cdr = Cdr.objects.get(session=session)

    assert cdr.status == CdrStatus.DRAFT
    assert cdr.validation_status == ValidationStatus.INVALID
    assert cdr.validation_findings == [
        {
            "code": "FIELD_INVALID",
            "message": "cdr_location.address is 52 characters long; at most 45 are allowed",
            "field": "cdr_location.address",
        }
    ]
    finding = CdrFinding.objects.get(cdr=cdr)
    assert (finding.source, finding.severity, finding.code) == (
        "VALIDATION",
        "ERROR",
        "FIELD_INVALID",
    )
    assert not OutboundDelivery.objects.filter(object_id=cdr.pk).exists()
    assert list(Cdr.objects.held_for_review()) == [cdr]
    assert list(Cdr.objects.needs_review()) == [cdr]
    # The money still adds up: only the address is wrong.
    assert cdr_cost_mismatches(cdr=cdr) == []

    # Generating again does not finalize it either.
    assert cdr_generate_for_session(session=session).status == CdrStatus.DRAFT

    # In the admin queue.
    changelist = reverse("admin:cdrs_cdr_changelist")
    assert listed(staff_client, changelist, queue="held") == [cdr]

    # "Validate and finalize" while still wrong: refused, still held.
    response = staff_client.post(
        changelist, {"action": "finalize", "_selected_action": [cdr.pk]}, follow=True
    )
    assert "still held for review" in response.content.decode()
    cdr.refresh_from_db()
    assert cdr.status == CdrStatus.DRAFT

    # An operator corrects the draft's address on its change page (money stays read-only) ...
    change_url = reverse("admin:cdrs_cdr_change", args=[cdr.pk])
    page = staff_client.get(change_url)
    assert page.status_code == 200
    assert "Record review" in page.content.decode()
    data = change_form_data(page)
    assert "total_cost_excl_vat" not in data
    data["location_address"] = "Laan van Nieuw Oost-Indië 1234"
    assert staff_client.post(change_url, data).status_code == 302
    cdr.refresh_from_db()
    assert cdr.location_address == "Laan van Nieuw Oost-Indië 1234"
    assert cdr.status == CdrStatus.DRAFT
    # ... then validates and finalizes it.
    response = staff_client.post(
        changelist, {"action": "finalize", "_selected_action": [cdr.pk]}, follow=True
    )
    assert f"{cdr.cdr_id} is final." in response.content.decode()
    cdr.refresh_from_db()
    assert cdr.status == CdrStatus.FINAL
    assert cdr.validation_status == ValidationStatus.VALID
    assert not Cdr.objects.held_for_review().exists()
    # The release is the review: the failed attempts' findings no longer queue it.
    assert not Cdr.objects.needs_review().exists()
    review = CdrReview.objects.get(cdr=cdr)
    assert (review.decision, review.reviewer_label) == ("ACCEPTED", "ops")
    assert OutboundDelivery.objects.filter(object_id=cdr.pk).count() == 1


def test_validate_names_each_problem() -> None:
    world = build_world(address="x" * 46)
    cdr = Cdr.objects.get(
        session=session_complete(session=active_session(world), end_date_time=END)
    )
    assert cdr.status == CdrStatus.DRAFT

    cdr.token_uid = ""
    cdr.evse_id = "NL*RDK*É1"  # a CiString is printable ASCII
    cdr.location_state = "Noord-Holland en omstreken"  # 26 > 20
    cdr.save()
    line = cdr.cost_lines.get(component=CostComponent.ENERGY, volume=Decimal(10))
    line.amount_incl_vat = line.amount_excl_vat  # 21 % VAT lost
    line.save()
    period = cdr.charging_periods.get(sequence=1)
    period.dimensions.create(type="POWER", volume=Decimal("10.5"))

    problems = {(p.code, p.field) for p in cdr_validate(cdr=cdr)}
    assert ("FIELD_INVALID", "cdr_location.address") in problems
    assert ("FIELD_MISSING", "cdr_token.uid") in problems
    assert ("FIELD_INVALID", "cdr_location.evse_id") in problems
    assert ("FIELD_INVALID", "cdr_location.state") in problems
    assert ("VAT_INCONSISTENT", "cost_lines") in problems
    assert ("SESSION_ONLY_DIMENSION", "charging_periods[0]") in problems
    # The lines no longer add up to the (unchanged) totals.
    assert ("TOTALS_MISMATCH", "cost_lines") in problems
    assert not any(code == "ENGINE_MISMATCH" for code, _ in problems)

    # A total that is not the engine's.
    cdr.total_parking_time = Decimal("0.5")
    cdr.save()
    assert ("ENGINE_MISMATCH", "total_parking_time") in {
        (p.code, p.field) for p in cdr_validate(cdr=cdr)
    }

    outcome = cdr_validate_and_finalize(cdr=cdr)
    assert not outcome.finalized
    assert Cdr.objects.get(pk=cdr.pk).status == CdrStatus.DRAFT


def test_validate_checks_signed_data_lengths() -> None:
    world = build_world(address="x" * 46)
    cdr = Cdr.objects.get(
        session=session_complete(session=active_session(world), end_date_time=END)
    )
    cdr.location_address = "Stationsplein 1"
    cdr.signed_data = {
        "encoding_method": "OCMF",
        "signed_values": [{"nature": "Start", "plain_data": "x" * 5001, "signed_data": "abc"}],
    }
    cdr.save()
    assert [(p.code, p.field) for p in cdr_validate(cdr=cdr)] == [
        ("FIELD_INVALID", "signed_data.signed_values[0].plain_data")
    ]


# -- refusals -----------------------------------------------------------------------------------
def test_only_completed_sessions_of_our_own_cpo_parties_get_a_cdr() -> None:
    world = build_world()
    active = active_session(world)
    with pytest.raises(DomainError) as excinfo:
        cdr_generate_for_session(session=active)
    assert excinfo.value.code == "SESSION_NOT_COMPLETED"

    partner_cpo = PartyFactory.create(country_code="BE", party_id="PCP", roles=["CPO"])
    theirs = SessionFactory.create(
        party=partner_cpo, status="COMPLETED", end_date_time=END, session_id="THEIRS-1"
    )
    with pytest.raises(DomainError) as excinfo:
        cdr_generate_for_session(session=theirs)
    assert excinfo.value.code == "CDR_NOT_OURS"
    # Completing a partner's session generates nothing (their CPO sends the CDR).
    other = SessionFactory.create(party=partner_cpo, session_id="THEIRS-2")
    session_complete(session=other, end_date_time=END)
    assert not Cdr.objects.exists()


def test_a_refused_generation_leaves_the_session_completed_and_is_listed(
    staff_client: Client,
) -> None:
    world = build_world()
    world.connector.tariff_ids = ["UNKNOWN"]
    world.connector.save()
    session = session_complete(session=active_session(world), end_date_time=END)

    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert not Cdr.objects.exists()
    refusal = AuditLogEntry.objects.get(action="cdr.generation_refused")
    assert refusal.after is not None
    assert refusal.after["code"] == "NO_VALID_TARIFF"

    changelist = reverse("admin:charging_sessions_chargingsession_changelist")
    assert listed(staff_client, changelist, cdr="missing") == [session]

    # Once the tariff is fixed, the admin action generates it.
    world.connector.tariff_ids = ["AC-1"]
    world.connector.save()
    response = staff_client.post(
        changelist, {"action": "generate_cdr", "_selected_action": [session.pk]}, follow=True
    )
    assert "1 CDR generated and final, 0 held for review" in response.content.decode()
    cdr = Cdr.objects.get(session=session)
    assert cdr.is_final
    assert listed(staff_client, changelist, cdr="missing") == []

    # Again: nothing new.
    response = staff_client.post(
        changelist, {"action": "generate_cdr", "_selected_action": [session.pk]}, follow=True
    )
    assert "1 session already had one" in response.content.decode()
    assert Cdr.objects.count() == 1


def test_the_tariff_named_by_the_periods_is_used_and_a_switch_is_refused() -> None:
    world = build_world()
    other = TariffFactory.create(party=world.party, tariff_id="AC-CHEAP")
    version, _ = tariff_version_record(
        tariff=other,
        content=ac_tariff_content(START - timedelta(days=1), energy="0.10"),
        origin=VersionOrigin.PUBLISHED,
    )
    session = active_session(world)
    session.charging_periods.update(tariff_ref="AC-CHEAP")
    session_complete(session=session, end_date_time=END)
    cdr = Cdr.objects.get(session=session)
    assert cdr.is_final
    assert cdr.tariff_version_at_start == version
    assert cdr.total_energy_cost_excl_vat == EUR("1.55")

    world2_session = SessionFactory.create(
        party=world.party,
        session_id="S-SWITCH",
        status="COMPLETED",
        start_date_time=START,
        end_date_time=END,
        location=world.location,
        evse=world.connector.evse,
        connector=world.connector,
    )
    for sequence, tariff_ref in ((1, "AC-1"), (2, "AC-CHEAP")):
        period = SessionChargingPeriod.objects.create(
            session=world2_session,
            sequence=sequence,
            start_date_time=START + timedelta(minutes=10 * sequence),
            tariff_ref=tariff_ref,
        )
        period.dimensions.create(type="ENERGY", volume=Decimal(1))
    with pytest.raises(DomainError) as excinfo:
        cdr_generate_for_session(session=world2_session)
    assert excinfo.value.code == "TARIFF_SWITCH_UNSUPPORTED"


def test_session_complete_refuses_an_end_before_the_last_period() -> None:
    world = build_world()
    session = active_session(world)
    with pytest.raises(DomainError) as excinfo:
        session_complete(session=session, end_date_time=START + timedelta(minutes=80))
    assert excinfo.value.code == "SESSION_END_BEFORE_START"
    session_complete(session=session, end_date_time=END)
    with pytest.raises(DomainError) as excinfo:
        session_complete(session=session, end_date_time=END + timedelta(minutes=1))
    assert excinfo.value.code == "SESSION_ALREADY_COMPLETED"


def test_session_admin_generate_reports_refusals(staff_client: Client) -> None:
    world = build_world()
    session = active_session(world)  # still active
    changelist = reverse("admin:charging_sessions_chargingsession_changelist")
    response = staff_client.post(
        changelist, {"action": "generate_cdr", "_selected_action": [session.pk]}, follow=True
    )
    content = response.content.decode()
    assert "not COMPLETED" in content
    assert "0 CDRs generated and final" in content
    assert not Cdr.objects.exists()
