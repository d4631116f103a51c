"""OCPI 2.2.1 CDRs (spec 8): the Receiver (a CPO POSTs its CDRs to us as eMSP: stored final and
immutable, answered with a Location, checked against the tariff) and the Sender (an eMSP pulls
the CDRs of its drivers from us as CPO)."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.cdrs.enums import CdrOrigin, CdrStatus
from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod, CdrFinding
from apps.cdrs.services import cdr_issue_credit
from apps.core.errors import ImmutableRecordError
from apps.ocpi.common import jsonutil
from apps.tariffs.models import TariffVersion
from tests.factories import T0, CdrFactory, PartyFactory
from tests.factories.tariffs_cdrs import final_cdr
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.contract import comparable

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocpi" / "2.2.1" / "cdrs"
LOCATION = "http://testserver/ocpi/2.2.1/emsp/cdrs/BE/BEC/12345"


def example() -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads((FIXTURES / "cdr_example.json").read_bytes())
    return data


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


def path_of(location: str) -> str:
    return location.removeprefix("http://testserver")


@pytest.fixture
def cpo() -> Caller:
    """The spec example's CPO BE*BEC pushing to us; we play eMSP."""
    own_party("EMSP")
    return partner_caller("CPO", country_code="BE", party_id="BEC")


def counts() -> tuple[int, int, int, int]:
    return (
        Cdr.objects.count(),
        CdrChargingPeriod.objects.count(),
        CdrChargingDimension.objects.count(),
        CdrFinding.objects.count(),
    )


# -- receiver ----------------------------------------------------------------------------------
def test_spec_example_is_stored_final_and_comes_back_at_its_location(cpo: Caller) -> None:
    response = cpo.post("emsp/cdrs", example())
    assert response.status_code == 201, response.content
    assert body(response)["status_code"] == 1000
    assert response["Location"] == LOCATION

    cdr = Cdr.objects.get()
    assert cdr.status == CdrStatus.FINAL
    assert cdr.stored_final
    assert cdr.origin == CdrOrigin.RECEIVED
    assert cdr.source_connection == cpo.connection
    assert cdr.party == cpo.party
    assert cdr.protocol_version == "2.2.1"
    assert cdr.total_cost_excl_vat == Decimal("4.00")
    assert cdr.tariffs_snapshot[0]["tariff_id"] == "12"
    cdr.remark = "changed"
    with pytest.raises(ImmutableRecordError):
        cdr.save()

    got = cpo.get(path_of(response["Location"]))
    assert got.status_code == 200
    assert comparable(body(got)["data"]) == comparable(example())


def test_every_field_round_trips(cpo: Caller) -> None:
    cdr = example()
    cdr.update(
        {
            "id": "CDR-FULL",
            "session_id": "SESSION-1",
            "authorization_reference": "AUTH-1",
            "meter_id": "METER-1",
            "signed_data": {
                "encoding_method": "OCMF",
                "encoding_method_version": 1,
                "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
                "signed_values": [
                    {"nature": "Start", "plain_data": "p" * 5000, "signed_data": "s" * 5000},
                    {"nature": "End", "plain_data": "OCMF|{}", "signed_data": "AAAA"},
                ],
                "url": "https://verify.example/cdr",
            },
            "total_fixed_cost": {"excl_vat": Decimal("0"), "incl_vat": Decimal("0")},
            "total_energy_cost": {"excl_vat": Decimal("0")},
            "total_parking_time": Decimal("0.25"),
            "total_parking_cost": {"excl_vat": Decimal("0"), "incl_vat": Decimal("0")},
            "total_reservation_cost": {"excl_vat": Decimal("0")},
            "remark": "Stopped by the driver",
            "invoice_reference_id": "INV-2015-06",
            "home_charging_compensation": False,
        }
    )
    # Spec trap 6: a Location's address (255) and state (45) fit into a CdrLocation.
    cdr["cdr_location"].update(address="A" * 255, state="S" * 45)
    cdr["charging_periods"][0]["dimensions"].append({"type": "ENERGY", "volume": Decimal("15.342")})
    response = cpo.post("emsp/cdrs", cdr)
    assert response.status_code == 201, response.content
    got = body(cpo.get(path_of(response["Location"])))["data"]
    assert comparable(got) == comparable(cdr)
    assert got["home_charging_compensation"] is False
    assert [d["type"] for d in got["charging_periods"][0]["dimensions"]] == ["TIME", "ENERGY"]


def test_a_repeated_post_stores_nothing_new(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    before = counts()
    again = cpo.post("emsp/cdrs", example())
    assert again.status_code == 200
    assert body(again)["status_code"] == 1000
    assert again["Location"] == LOCATION
    assert counts() == before

    # The id is a CiString: another spelling is the same CDR.
    respelled = {**example(), "id": "12345", "country_code": "be", "party_id": "bec"}
    assert cpo.post("emsp/cdrs", respelled)["Location"] == LOCATION
    assert counts() == before


def test_a_different_body_for_a_stored_cdr_is_2001_and_changes_nothing(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    stored = body(cpo.get(path_of(LOCATION)))["data"]
    before = counts()
    changed = example()
    changed["total_cost"] = {"excl_vat": Decimal("5.00"), "incl_vat": Decimal("5.50")}
    response = cpo.post("emsp/cdrs", changed)
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    message = body(response)["status_message"]
    assert "cannot be changed" in message
    assert "total_cost_excl_vat" in message
    assert "total_cost_incl_vat" in message
    assert response["Location"] == LOCATION
    assert counts() == before
    assert body(cpo.get(path_of(LOCATION)))["data"] == stored


def test_the_pricing_check_runs_on_arrival(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    cdr = Cdr.objects.get()
    codes = set(cdr.findings.values_list("code", flat=True))
    # 1.973 h at 2.00/h in 5-minute steps is 2 h: 4.00 excl., 4.40 incl. VAT, as stated.
    assert "PRICING_MATCHES" in codes
    assert "REVIEW_REQUIRED" not in codes
    assert not Cdr.objects.needs_review().exists()


def test_a_mispriced_cdr_goes_to_review(cpo: Caller) -> None:
    cdr = {**example(), "id": "DEAR"}
    cdr["total_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    cdr["total_time_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    assert cpo.post("emsp/cdrs", cdr).status_code == 201
    stored = Cdr.objects.get(cdr_id="DEAR")
    mismatches = stored.findings.filter(code="PRICE_MISMATCH")
    assert {(f.details["total"], f.details["vat"]) for f in mismatches} == {
        ("total_cost", "excl"),
        ("total_cost", "incl"),
        ("total_time_cost", "excl"),
        ("total_time_cost", "incl"),
    }
    assert mismatches.get(details__total="total_cost", details__vat="excl").details["delta"] == "5"
    assert stored.findings.filter(code="REVIEW_REQUIRED").exists()
    assert list(Cdr.objects.needs_review()) == [stored]


def test_a_cdr_that_cannot_be_priced_is_kept_and_queued(cpo: Caller) -> None:
    cdr = {**example(), "id": "NO-TARIFF"}
    del cdr["tariffs"]
    del cdr["charging_periods"][0]["tariff_id"]
    assert cpo.post("emsp/cdrs", cdr).status_code == 201
    stored = Cdr.objects.get(cdr_id="NO-TARIFF")
    assert stored.findings.filter(code="NO_TARIFF_TO_PRICE", severity="ERROR").exists()
    assert list(Cdr.objects.needs_review()) == [stored]


def test_a_failing_pricing_check_is_recorded_not_lost(
    cpo: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> Any:  # fault injection: the check crashes
        raise RuntimeError("engine down")

    monkeypatch.setattr("apps.cdrs.checking.cdr_check_pricing", broken)
    response = cpo.post("emsp/cdrs", example())
    assert response.status_code == 201
    cdr = Cdr.objects.get()
    [finding] = cdr.findings.all()
    assert finding.code == "PRICING_CHECK_FAILED"
    assert "engine down" in finding.message
    assert list(Cdr.objects.needs_review()) == [cdr]


def test_the_published_tariff_prices_the_cdr_when_we_hold_it(cpo: Caller) -> None:
    """The CPO pushed tariff 12 to us before; its version in effect at the start prices the
    CDR (not the copy embedded in it)."""
    tariff = example()["tariffs"][0]
    tariff["elements"][0]["price_components"][0]["price"] = Decimal("3.00")
    assert cpo.put("emsp/tariffs/BE/BEC/12", tariff).status_code == 201
    cpo.post("emsp/cdrs", example())
    finding = Cdr.objects.get().findings.get(
        code="PRICE_MISMATCH", details__vat="excl", details__total="total_cost"
    )
    assert finding.details["source"] == "published"
    assert finding.details["expected"] == "6"
    assert TariffVersion.objects.count() == 1


def test_another_partys_cdr_is_refused_and_nothing_stored(cpo: Caller) -> None:
    PartyFactory.create(country_code="NL", party_id="OTH", roles=["CPO"])
    response = cpo.post("emsp/cdrs", {**example(), "country_code": "NL", "party_id": "OTH"})
    assert response.status_code == 404
    assert body(response)["status_code"] == 2000
    assert counts() == (0, 0, 0, 0)


def test_get_is_scoped_to_the_owner(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    assert cpo.get("emsp/cdrs/be/bec/12345").status_code == 200
    # Another platform cannot read it, even knowing the URL.
    other = partner_caller("CPO", country_code="NL", party_id="OTH")
    response = other.get(path_of(LOCATION))
    assert response.status_code == 404
    assert "data" not in body(response)
    # Unknown id, and a party the caller does not represent.
    assert cpo.get("emsp/cdrs/BE/BEC/nope").status_code == 404
    assert cpo.get("emsp/cdrs/NL/OTH/12345").status_code == 404


def test_a_credit_cdr_is_received(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    credit = example()
    credit.update(
        id="12345-CREDIT-ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:39], credit=True, credit_reference_id="12345"
    )
    for name in ("total_cost", "total_time_cost"):
        credit[name] = {k: -v for k, v in credit[name].items()}
    response = cpo.post("emsp/cdrs", credit)
    assert response.status_code == 201, response.content
    stored = Cdr.objects.get(credit=True)
    assert stored.credit_reference_id == "12345"
    assert stored.total_cost_excl_vat == Decimal("-4")
    assert "PRICING_MATCHES" in set(stored.findings.values_list("code", flat=True))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.pop("cdr_token"), "cdr_token: This field is required"),
        (lambda c: c["cdr_token"].update(type="CARD"), "cdr_token.type"),
        (lambda c: c.update(auth_method="PIN"), "auth_method"),
        (lambda c: c["cdr_location"].update(address="A" * 256), "cdr_location.address"),
        (lambda c: c["cdr_location"].update(state="S" * 46), "cdr_location.state"),
        (
            lambda c: c["cdr_location"]["coordinates"].update(latitude="3.7"),
            "cdr_location.coordinates.latitude",
        ),
        (
            lambda c: c["cdr_location"].update(connector_standard="TYPE2"),
            "cdr_location.connector_standard",
        ),
        (lambda c: c.update(charging_periods=[]), "charging_periods"),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume="1.973"),
            "charging_periods[0].dimensions[0].volume: must be a JSON number",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"].append(
                {"type": "TIME", "volume": Decimal(1)}
            ),
            "charging_periods[0].dimensions: TIME is given twice",
        ),
        (lambda c: c.update(total_cost={"incl_vat": Decimal(1)}), "total_cost.excl_vat"),
        (lambda c: c.pop("total_energy"), "total_energy"),
        (lambda c: c.update(end_date_time="2015-06-29T20:00:00Z"), "end_date_time"),
        (lambda c: c.update(credit=True), "credit_reference_id"),
        (lambda c: c.update(id="X" * 37), "id: at most 36 characters"),
        (lambda c: c.update(id="X" * 40, credit=True, credit_reference_id="1"), "id"),
        (lambda c: c.update(currency="eur"), "currency"),
        (lambda c: c["tariffs"][0].pop("elements"), "tariffs[0].elements"),
        (
            lambda c: c.update(
                signed_data={
                    "encoding_method": "OCMF",
                    "signed_values": [
                        {"nature": "Start", "plain_data": "p" * 5001, "signed_data": "s"}
                    ],
                }
            ),
            "signed_data.signed_values[0].plain_data",
        ),
        (lambda c: c.update(remark="line\nbreak"), "remark: must not hold control characters"),
        (lambda c: c.update(last_updated="yesterday"), "last_updated"),
    ],
)
def test_invalid_cdr_is_2001_naming_the_field(cpo: Caller, change: Any, field: str) -> None:
    cdr = example()
    change(cdr)
    response = cpo.post("emsp/cdrs", cdr)
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    assert field in body(response)["status_message"]
    assert "Location" not in response
    assert counts() == (0, 0, 0, 0)


def test_receiver_offers_post_and_get_only(cpo: Caller) -> None:
    cpo.post("emsp/cdrs", example())
    assert cpo.get("emsp/cdrs").status_code == 405
    assert cpo.put(path_of(LOCATION), example()).status_code == 405
    assert cpo.delete(path_of(LOCATION)).status_code == 405
    assert Cdr.objects.count() == 1


# -- sender ------------------------------------------------------------------------------------
@pytest.fixture
def emsp() -> Caller:
    """A partner eMSP DE*XYZ (the factories' token owner) pulling CDRs; we play CPO."""
    return partner_caller("EMSP", country_code="DE", party_id="XYZ")


def ids(response: Any) -> list[str]:
    return [c["id"] for c in body(response)["data"]]


def test_sender_lists_our_final_cdrs_for_the_callers_drivers(emsp: Caller) -> None:
    ours = own_party("CPO")
    other = partner_caller("EMSP", country_code="FR", party_id="OMS")
    mine = final_cdr(ours, cdr_id="MINE")
    final_cdr(ours, cdr_id="OTHER-DRIVER", token_party=other.party)
    CdrFactory.create(party=ours, cdr_id="DRAFT")  # not final: never sent
    # A CDR we received from a partner CPO for one of the caller's drivers is not ours.
    partner_cpo = PartyFactory.create(roles=["CPO"])
    final_cdr(partner_cpo, cdr_id="PARTNER", origin=CdrOrigin.RECEIVED)
    credit = cdr_issue_credit(original=mine, remark="wrong tariff")

    response = emsp.get("cpo/cdrs")
    assert response.status_code == 200
    assert ids(response) == ["MINE", "MINE-C"]
    assert response["X-Total-Count"] == "2"
    [_, rendered_credit] = body(response)["data"]
    assert rendered_credit["credit"] is True
    assert rendered_credit["credit_reference_id"] == "MINE"
    assert rendered_credit["total_cost"]["excl_vat"] == -Decimal("10.5")
    assert credit.last_updated > mine.last_updated

    assert ids(other.get("cpo/cdrs")) == ["OTHER-DRIVER"]
    # A platform representing several eMSPs (a hub) sees the drivers of each.
    emsp.connection.represented_parties.add(other.party)
    assert sorted(ids(emsp.get("cpo/cdrs"))) == ["MINE", "MINE-C", "OTHER-DRIVER"]


def test_sender_renders_what_the_outbox_pushes(emsp: Caller) -> None:
    from apps.ocpi.adapters.registry import get_adapter

    cdr = final_cdr(own_party("CPO"), cdr_id="PUSHED")
    [rendered] = body(emsp.get("cpo/cdrs"))["data"]
    pushed = jsonutil.loads(jsonutil.dumps(get_adapter("standard", "2.2.1").render("cdr", cdr)))
    assert rendered == pushed
    assert rendered["charging_periods"] == [
        {
            "start_date_time": "2026-10-01T08:00:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 30},
                {"type": "TIME", "volume": Decimal("1.5")},
            ],
        }
    ]
    assert rendered["cdr_location"]["coordinates"] == {
        "latitude": "52.089444",
        "longitude": "5.11000",
    }


def test_sender_filters_on_last_updated_and_paginates(emsp: Caller) -> None:
    ours = own_party("CPO")
    for day in range(5):
        final_cdr(ours, cdr_id=f"D{day}", last_updated=T0 + timedelta(days=day))
    window = emsp.get("cpo/cdrs?date_from=2026-10-02T08:00:00Z&date_to=2026-10-04T08:00:00Z")
    assert ids(window) == ["D1", "D2"]
    first = emsp.get("cpo/cdrs?limit=2")
    assert ids(first) == ["D0", "D1"]
    assert first["X-Total-Count"] == "5"
    assert "offset=2" in first["Link"]
    assert ids(emsp.get("cpo/cdrs?offset=4&limit=2")) == ["D4"]


def test_sender_is_read_only(emsp: Caller) -> None:
    final_cdr(own_party("CPO"), cdr_id="X")
    assert emsp.post("cpo/cdrs", example()).status_code == 405
    assert Cdr.objects.count() == 1


def test_repeated_body_in_our_push_matches_what_a_receiver_keeps(cpo: Caller) -> None:
    """Our own rendering of a received CDR is accepted as the same CDR when POSTed back
    (render and parse agree), so a retried push is never taken for a changed CDR."""
    cpo.post("emsp/cdrs", example())
    rendered = body(cpo.get(path_of(LOCATION)))["data"]
    again = cpo.post("emsp/cdrs", copy.deepcopy(rendered))
    assert body(again)["status_code"] == 1000
    assert Cdr.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_cdr_store_it_once() -> None:
    """A CPO retrying while its first POST is still being handled: one CDR, every delivery
    answered with it."""
    from django.db import connection as db

    if db.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    own_party("EMSP")
    caller = partner_caller("CPO", country_code="BE", party_id="BEC")
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        try:
            response = Caller(caller.connection, caller.token, caller.parties).post(
                "emsp/cdrs", example()
            )
            results.append((response.status_code, response["Location"]))
        finally:
            db.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [200, 200, 200, 201]
    assert {location for _, location in results} == {LOCATION}
    assert Cdr.objects.count() == 1
    assert CdrChargingPeriod.objects.count() == 1
    # Checked once, by the delivery that stored it.
    assert CdrFinding.objects.filter(code="PRICING_MATCHES").count() == 1
