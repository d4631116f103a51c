"""Sessions Receiver (we are the eMSP, spec 7.3): a CPO pushes its sessions to us with PUT and
PATCH, and reads back what we hold with GET."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.charging_sessions.models import ChargingSession
from apps.ocpi.common import jsonutil
from tests.factories import ConnectorFactory, EvseFactory, LocationFactory, TokenFactory
from tests.ocpi.callers import Caller, own_party, partner_caller

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocpi" / "2.2.1" / "sessions"
BEC = "emsp/sessions/BE/BEC"


def example(name: str) -> dict[str, Any]:
    """A spec example, numbers as Decimal (as our parser reads them)."""
    data: dict[str, Any] = jsonutil.loads((FIXTURES / name).read_text())
    return data


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


@pytest.fixture
def cpo() -> Caller:
    own_party("EMSP")
    return partner_caller("CPO", country_code="BE", party_id="BEC")


def stored(party_code: str = "BEC", session_id: str = "101") -> ChargingSession:
    return ChargingSession.objects.get(party__party_id=party_code, session_id=session_id)


def periods(session: ChargingSession) -> list[tuple[str, list[tuple[str, Decimal]], str]]:
    return [
        (
            p.start_date_time.isoformat(),
            [(d.type, d.volume) for d in p.dimensions.order_by("pk")],
            p.tariff_ref,
        )
        for p in session.charging_periods.order_by("sequence")
    ]


def test_example_1_simple_start_is_stored_and_read_back_unchanged() -> None:
    own_party("EMSP")
    cpo = partner_caller("CPO", country_code="NL", party_id="STK")
    session = example("session_example_1_simple_start.json")

    response = cpo.put("emsp/sessions/NL/STK/101", session)
    assert response.status_code == 201, response.content
    assert body(response)["status_code"] == 1000
    assert "data" not in body(response)

    row = stored("STK")
    assert row.source_connection == cpo.connection
    assert row.status == "PENDING"
    assert row.kwh == 0
    assert (row.token_country_code, row.token_party_id, row.token_uid) == ("NL", "TST", "123abc")
    assert (row.total_cost_excl_vat, row.total_cost_incl_vat) == (Decimal("2.5"), None)
    assert (row.location_ref, row.evse_ref, row.connector_ref) == ("LOC1", "3256", "1")

    read = cpo.get("emsp/sessions/nl/stk/101")
    assert read.status_code == 200
    assert body(read)["data"] == session

    again = cpo.put("emsp/sessions/NL/STK/101", session)
    assert again.status_code == 200
    assert body(again)["status_code"] == 1000
    assert ChargingSession.objects.count() == 1


def test_example_2_short_finished_keeps_its_periods_in_order(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")

    assert cpo.put(f"{BEC}/101", session).status_code == 201

    row = stored()
    assert row.status == "COMPLETED"
    assert row.kwh == Decimal("41.12")
    assert periods(row) == [
        ("2015-06-29T22:39:09+00:00", [("ENERGY", 120), ("MAX_CURRENT", 30)], ""),
        ("2015-06-29T22:40:54+00:00", [("ENERGY", 41000), ("MIN_CURRENT", 34)], ""),
        ("2015-06-29T23:07:09+00:00", [("PARKING_TIME", Decimal("0.718"))], "12"),
    ]
    assert body(cpo.get(f"{BEC}/101"))["data"] == session


def test_patch_examples_update_the_cost_and_append_a_period(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    session.update(status="ACTIVE", end_date_time=None, last_updated="2019-06-23T08:00:00Z")
    assert cpo.put(f"{BEC}/101", session).status_code == 201
    held = periods(stored())

    total_cost = example("session_patch_example_total_cost.json")
    response = cpo.patch(f"{BEC}/101", total_cost)
    assert response.status_code == 200, response.content
    assert body(response)["status_code"] == 1000
    row = stored()
    assert (row.total_cost_excl_vat, row.total_cost_incl_vat) == (
        Decimal("0.60"),
        Decimal("0.66"),
    )
    assert row.kwh == Decimal("41.12")  # not in the PATCH: unchanged
    assert periods(row) == held
    assert row.last_updated.isoformat() == "2019-06-23T08:11:00+00:00"

    new_period = example("session_patch_example_charging_period.json")
    assert cpo.patch(f"{BEC}/101", new_period).status_code == 200
    row = stored()
    assert row.kwh == Decimal("15")
    assert (row.total_cost_excl_vat, row.total_cost_incl_vat) == (
        Decimal("0.80"),
        Decimal("0.88"),
    )
    assert periods(row) == [*held, ("2019-06-23T08:16:02+00:00", [("ENERGY", 2200)], "")]
    assert row.status == "ACTIVE"

    read = body(cpo.get(f"{BEC}/101"))["data"]
    assert read["charging_periods"][-1] == new_period["charging_periods"][0]
    assert read["total_cost"] == new_period["total_cost"]
    assert read["last_updated"] == new_period["last_updated"]

    # The same PATCH again (a retry): the period is not added twice.
    assert cpo.patch(f"{BEC}/101", new_period).status_code == 200
    assert len(periods(stored())) == 4


def test_a_patch_appends_only_the_periods_it_does_not_hold_yet(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    assert cpo.put(f"{BEC}/101", session).status_code == 201
    patch = {
        "charging_periods": [
            session["charging_periods"][2],  # held already
            {
                "start_date_time": "2015-06-29T23:30:00Z",
                "dimensions": [{"type": "TIME", "volume": 1}],
            },
            {
                "start_date_time": "2015-06-29T23:30:00Z",
                "dimensions": [{"type": "TIME", "volume": 2}],
            },
        ],
        "last_updated": "2015-06-29T23:50:17Z",
    }
    assert cpo.patch(f"{BEC}/101", patch).status_code == 200
    row = stored()
    assert [p[0] for p in periods(row)] == [
        "2015-06-29T22:39:09+00:00",
        "2015-06-29T22:40:54+00:00",
        "2015-06-29T23:07:09+00:00",
        "2015-06-29T23:30:00+00:00",
    ]
    assert periods(row)[-1][1] == [("TIME", 1)]
    assert list(row.charging_periods.values_list("sequence", flat=True)) == [1, 2, 3, 4]

    # An empty list or no list: nothing changes.
    more: list[dict[str, Any]] = [
        {"charging_periods": [], "last_updated": "2015-06-29T23:50:18Z"},
        {"kwh": 42, "last_updated": "2015-06-29T23:50:19Z"},
    ]
    for patch_body in more:
        assert cpo.patch(f"{BEC}/101", patch_body).status_code == 200
    assert len(periods(stored())) == 4
    assert stored().kwh == 42


def test_put_replaces_the_periods_and_optional_fields(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    session["meter_id"] = "METER-1"
    session["authorization_reference"] = "AUTH-1"
    assert cpo.put(f"{BEC}/101", session).status_code == 201

    replacement = copy.deepcopy(session)
    replacement["charging_periods"] = [
        {"start_date_time": "2015-06-29T22:39:09Z", "dimensions": [{"type": "ENERGY", "volume": 5}]}
    ]
    del replacement["meter_id"]
    del replacement["total_cost"]
    replacement["last_updated"] = "2015-06-29T23:59:00Z"
    assert cpo.put(f"{BEC}/101", replacement).status_code == 200
    row = stored()
    assert periods(row) == [("2015-06-29T22:39:09+00:00", [("ENERGY", 5)], "")]
    assert row.meter_id == ""  # left out of a PUT: back to its default
    assert (row.total_cost_excl_vat, row.total_cost_incl_vat) == (None, None)
    assert row.authorization_reference == "AUTH-1"

    del replacement["charging_periods"]
    replacement["last_updated"] = "2015-06-30T00:00:00Z"
    assert cpo.put(f"{BEC}/101", replacement).status_code == 200
    assert periods(stored()) == []
    assert "charging_periods" not in body(cpo.get(f"{BEC}/101"))["data"]


def test_older_updates_are_ignored(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    assert cpo.put(f"{BEC}/101", session).status_code == 201

    older = copy.deepcopy(session)
    older.update(kwh=1, charging_periods=[], last_updated="2015-06-29T23:50:16Z")
    response = cpo.put(f"{BEC}/101", older)
    assert response.status_code == 200
    assert body(response)["status_code"] == 1000
    assert "older" in body(response)["status_message"]

    response = cpo.patch(
        f"{BEC}/101",
        {
            "kwh": 2,
            "charging_periods": [
                {
                    "start_date_time": "2015-06-29T23:40:00Z",
                    "dimensions": [{"type": "TIME", "volume": 1}],
                }
            ],
            "last_updated": "2015-06-29T23:00:00Z",
        },
    )
    assert response.status_code == 200
    assert "older" in body(response)["status_message"]
    assert stored().kwh == Decimal("41.12")
    assert len(periods(stored())) == 3
    assert body(cpo.get(f"{BEC}/101"))["data"] == session

    # Same timestamp: applied (a retry or a correction is not lost).
    same = copy.deepcopy(session)
    same["kwh"] = 41.5
    assert body(cpo.put(f"{BEC}/101", same)).get("status_message") is None
    assert stored().kwh == Decimal("41.5")


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        (f"{BEC}/102", {}, "id"),
        (f"{BEC}/101", {"country_code": "NL"}, "country_code"),
        (f"{BEC}/101", {"party_id": "XXX"}, "party_id"),
    ],
)
def test_ids_in_the_body_must_match_the_url(
    cpo: Caller, path: str, change: dict[str, str], field: str
) -> None:
    session = {**example("session_example_2_short_finished.json"), **change}
    for send in (cpo.put, cpo.patch):
        response = send(path, session)
        assert response.status_code == 200
        assert body(response)["status_code"] == 2001
        assert body(response)["status_message"].startswith(field)
    assert not ChargingSession.objects.exists()


def test_ids_compare_case_insensitively(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    session.update(country_code="be", party_id="bec", id="abc")
    assert cpo.put("emsp/sessions/BE/BEC/ABC", session).status_code == 201
    patch = {"kwh": 1, "last_updated": "2015-06-29T23:50:17Z"}
    assert cpo.patch("emsp/sessions/be/bec/Abc", patch).status_code == 200
    assert ChargingSession.objects.get().kwh == 1


def test_a_patch_without_last_updated_is_refused(cpo: Caller) -> None:
    assert (
        cpo.put(f"{BEC}/101", example("session_example_2_short_finished.json")).status_code == 201
    )
    response = cpo.patch(f"{BEC}/101", {"kwh": 99})
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    assert "last_updated" in body(response)["status_message"]
    assert stored().kwh == Decimal("41.12")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"total_cost": {"incl_vat": 1}}, "total_cost.excl_vat"),
        (
            {"charging_periods": [{"start_date_time": "2015-06-29T23:40:00Z"}]},
            "charging_periods[0].dimensions",
        ),
        ({"kwh": "12"}, "kwh"),
        ({"kwh": None}, "kwh"),
        ({"status": "PAUSED"}, "status"),
        ({"cdr_token": {"uid": "X"}}, "cdr_token."),
    ],
)
def test_a_bad_patch_names_the_field_and_changes_nothing(
    cpo: Caller, patch: dict[str, Any], field: str
) -> None:
    session = example("session_example_2_short_finished.json")
    assert cpo.put(f"{BEC}/101", session).status_code == 201
    response = cpo.patch(f"{BEC}/101", {**patch, "last_updated": "2015-06-30T00:00:00Z"})
    assert body(response)["status_code"] == 2001
    assert field in body(response)["status_message"]
    assert body(cpo.get(f"{BEC}/101"))["data"] == session


def test_a_patch_cannot_clear_an_optional_field(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    assert cpo.put(f"{BEC}/101", session).status_code == 201
    patch = {"total_cost": None, "end_date_time": None, "last_updated": "2015-06-30T00:00:00Z"}
    assert cpo.patch(f"{BEC}/101", patch).status_code == 200
    row = stored()
    assert row.total_cost_excl_vat == Decimal("8.50")
    assert row.end_date_time is not None


def test_a_bad_put_names_the_field(cpo: Caller) -> None:
    session = example("session_example_2_short_finished.json")
    del session["cdr_token"]["contract_id"]
    response = cpo.put(f"{BEC}/101", session)
    assert body(response)["status_code"] == 2001
    assert "cdr_token.contract_id" in body(response)["status_message"]
    assert not ChargingSession.objects.exists()


def test_another_partys_sessions_are_out_of_reach(cpo: Caller) -> None:
    other = partner_caller("CPO", country_code="NL", party_id="STK")
    theirs = example("session_example_1_simple_start.json")
    assert other.put("emsp/sessions/NL/STK/101", theirs).status_code == 201

    response = cpo.put("emsp/sessions/NL/STK/101", {**theirs, "kwh": 5})
    assert response.status_code == 404
    response = cpo.patch(
        "emsp/sessions/NL/STK/101", {"kwh": 5, "last_updated": "2030-01-01T00:00:00Z"}
    )
    assert response.status_code == 404
    assert cpo.get("emsp/sessions/NL/STK/101").status_code == 404
    assert stored("STK").kwh == 0
    assert stored("STK").source_connection == other.connection


def test_unknown_sessions(cpo: Caller) -> None:
    response = cpo.get(f"{BEC}/404")
    assert response.status_code == 404
    assert body(response)["status_code"] >= 2000

    # A PATCH cannot create: the CPO has to PUT the whole session first (spec 2.8).
    response = cpo.patch(f"{BEC}/404", {"kwh": 1, "last_updated": "2030-01-01T00:00:00Z"})
    assert response.status_code == 404
    assert not ChargingSession.objects.exists()


def test_the_session_is_linked_to_our_copies_of_its_token_and_place(cpo: Caller) -> None:
    token = TokenFactory.create(
        party=partner_caller("EMSP", country_code="NL", party_id="TST").party, uid="123ABC"
    )
    location = LocationFactory.create(party=cpo.party, location_id="loc1")
    evse = EvseFactory.create(location=location, uid="3256")
    connector = ConnectorFactory.create(evse=evse, connector_id="1")
    session = example("session_example_2_short_finished.json")

    assert cpo.put(f"{BEC}/101", session).status_code == 201
    row = stored()
    assert (row.token, row.location, row.evse, row.connector) == (token, location, evse, connector)

    # A PATCH that moves the session elsewhere relinks it (here: to nothing we know).
    patch = {"evse_uid": "#NA", "connector_id": "#NA", "last_updated": "2015-06-30T00:00:00Z"}
    assert cpo.patch(f"{BEC}/101", patch).status_code == 200
    row = stored()
    assert (row.token, row.location, row.evse, row.connector) == (token, location, None, None)


def test_the_receiver_root_serves_nothing(cpo: Caller) -> None:
    response = cpo.get("emsp/sessions")
    assert response.status_code == 405
