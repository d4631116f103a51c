"""Sessions Sender (we are the CPO, spec 7.2): the list of our sessions an eMSP's drivers
charged, and charging preferences for an ongoing session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession, SessionChargingPreferences
from apps.core.models import AuditLogEntry
from apps.locations.models import Connector
from apps.ocpi.common import jsonutil
from apps.partners.models import Party
from tests.factories import (
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    PartyFactory,
    SessionFactory,
    TariffFactory,
)
from tests.factories.sessions import SessionChargingDimensionFactory, SessionChargingPeriodFactory
from tests.ocpi.callers import Caller, own_party, partner_caller

pytestmark = pytest.mark.django_db

SINCE = "cpo/sessions?date_from=2026-01-01T00:00:00Z"
T1 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


@pytest.fixture
def cpo() -> Party:
    return own_party("CPO")


@pytest.fixture
def emsp() -> Caller:
    return partner_caller("EMSP", country_code="NL", party_id="TST")


def driven_by(driver_emsp: Party, **fields: Any) -> ChargingSession:
    """A session whose token belongs to ``driver_emsp``."""
    return SessionFactory.create(
        token_country_code=driver_emsp.country_code, token_party_id=driver_emsp.party_id, **fields
    )


def with_periods(session: ChargingSession, count: int = 2) -> ChargingSession:
    for index in range(count):
        period = SessionChargingPeriodFactory.create(
            session=session,
            sequence=index + 1,
            start_date_time=session.start_date_time + timedelta(minutes=15 * index),
        )
        SessionChargingDimensionFactory.create(period=period, type="ENERGY", volume=index + 1)
        SessionChargingDimensionFactory.create(period=period, type="MAX_POWER", volume=11)
    return session


# -- GET list -----------------------------------------------------------------------------------
def test_the_list_requires_date_from(cpo: Party, emsp: Caller) -> None:
    driven_by(emsp.party, party=cpo)
    response = emsp.get("cpo/sessions")
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    assert "date_from" in body(response)["status_message"]


def test_an_emsp_sees_only_its_own_drivers_sessions_at_our_cpo_parties(
    cpo: Party, emsp: Caller
) -> None:
    with_periods(driven_by(emsp.party, party=cpo, session_id="MINE-1"))
    SessionFactory.create(
        party=cpo,
        session_id="MINE-2",
        token_country_code="nl",
        token_party_id="tst",
        last_updated=T1,
    )
    driven_by(
        emsp.party, party=cpo, session_id="OLD", last_updated=datetime(2025, 1, 1, tzinfo=UTC)
    )
    other_emsp = PartyFactory.create(country_code="DE", party_id="XYZ", roles=["EMSP"])
    driven_by(other_emsp, party=cpo, session_id="THEIRS")
    partner_cpo = PartyFactory.create(country_code="BE", party_id="BEC", roles=["CPO"])
    driven_by(emsp.party, party=partner_cpo, session_id="COPY")  # a partner CPO's, not ours

    response = emsp.get(SINCE)
    assert response.status_code == 200
    assert response["X-Total-Count"] == "2"
    data = body(response)["data"]
    assert [s["id"] for s in data] == ["MINE-1", "MINE-2"]
    first = data[0]
    assert (first["country_code"], first["party_id"]) == ("NL", "RDK")
    assert first["cdr_token"]["party_id"] == "TST"
    assert [p["start_date_time"] for p in first["charging_periods"]] == [
        "2026-10-01T08:00:00Z",
        "2026-10-01T08:15:00Z",
    ]
    assert first["charging_periods"][1]["dimensions"] == [
        {"type": "ENERGY", "volume": 2},
        {"type": "MAX_POWER", "volume": 11},
    ]
    # date_to and pagination apply as on every list.
    response = emsp.get(f"{SINCE}&date_to=2026-10-01T08:30:00Z&limit=1")
    assert [s["id"] for s in body(response)["data"]] == ["MINE-1"]
    assert response["X-Total-Count"] == "1"
    response = emsp.get(f"{SINCE}&limit=1")
    assert "offset=1" in response["Link"]
    assert "date_from=2026-01-01T00%3A00%3A00Z" in response["Link"]


def test_a_hub_sees_the_sessions_of_every_emsp_it_speaks_for(cpo: Party) -> None:
    hub = partner_caller("EMSP", country_code="NL", party_id="TST", extra_parties=1)
    driven_by(hub.parties[0], party=cpo, session_id="A")
    driven_by(hub.parties[1], party=cpo, session_id="B")
    driven_by(PartyFactory.create(roles=["EMSP"]), party=cpo, session_id="C")
    assert [s["id"] for s in body(hub.get(SINCE))["data"]] == ["A", "B"]


def test_the_list_is_scoped_to_the_addressed_cpo_party(cpo: Party, emsp: Caller) -> None:
    second = own_party("CPO", party_id="RD2")
    driven_by(emsp.party, party=cpo, session_id="AT-RDK")
    driven_by(emsp.party, party=second, session_id="AT-RD2")
    assert [s["id"] for s in body(emsp.get(SINCE))["data"]] == ["AT-RDK", "AT-RD2"]
    emsp.to = second
    assert [s["id"] for s in body(emsp.get(SINCE))["data"]] == ["AT-RD2"]


def test_the_list_costs_a_fixed_number_of_queries(cpo: Party, emsp: Caller) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = emsp.get(SINCE)
        assert response.status_code == 200
        return len(captured)

    for n in range(2):
        with_periods(driven_by(emsp.party, party=cpo, session_id=f"S-{n}"))
    few = queries()
    for n in range(2, 10):
        with_periods(driven_by(emsp.party, party=cpo, session_id=f"S-{n}"), count=3)
    assert len(body(emsp.get(SINCE))["data"]) == 10
    assert queries() == few


# -- PUT charging preferences -------------------------------------------------------------------
@pytest.fixture
def capable_connector(cpo: Party) -> Connector:
    location = LocationFactory.create(party=cpo, location_id="LOC-P")
    evse = EvseFactory.create(
        location=location, uid="EVSE-P", capabilities=["CHARGING_PREFERENCES_CAPABLE"]
    )
    TariffFactory.create(party=cpo, tariff_id="T-CHEAP", type="PROFILE_CHEAP")
    TariffFactory.create(party=cpo, tariff_id="T-REG", type="REGULAR")
    # AC 3 phases, 230 V, 32 A: 22.08 kW
    return ConnectorFactory.create(evse=evse, connector_id="1", tariff_ids=["t-cheap", "T-REG"])


@pytest.fixture
def ongoing(cpo: Party, emsp: Caller, capable_connector: Connector) -> ChargingSession:
    # Not linked to our EVSE (as a session recorded without links would be): found by its ids.
    return driven_by(
        emsp.party,
        party=cpo,
        session_id="ONGOING",
        location_ref="LOC-P",
        evse_ref="evse-p",
        connector_ref="1",
        status="ACTIVE",
    )


def preferences_url(session_id: str) -> str:
    return f"cpo/sessions/{session_id}/charging_preferences"


def put_preferences(caller: Caller, session_id: str, preferences: dict[str, Any]) -> Any:
    return caller.put(preferences_url(session_id), preferences)


def later(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_route_has_its_name() -> None:
    url = reverse("ocpi:v2_2_1:sessions_sender_charging_preferences", args=["1234"])
    assert url.endswith("/2.2.1/cpo/sessions/1234/charging_preferences")


def test_accepted_preferences_are_kept_for_the_session(
    emsp: Caller, ongoing: ChargingSession
) -> None:
    response = put_preferences(emsp, "ongoing", {"profile_type": "REGULAR"})
    assert response.status_code == 200
    assert body(response)["status_code"] == 1000
    assert body(response)["data"] == "ACCEPTED"
    kept = SessionChargingPreferences.objects.get(session=ongoing)
    assert (kept.profile_type, kept.departure_time, kept.energy_need) == ("REGULAR", None, None)
    assert kept.discharge_allowed is False
    assert kept.source_connection == emsp.connection

    departure = later(3)
    response = put_preferences(
        emsp,
        "ONGOING",
        {
            "profile_type": "CHEAP",
            "departure_time": departure,
            "energy_need": 30,
            "discharge_allowed": True,
        },
    )
    assert body(response)["data"] == "ACCEPTED"
    kept.refresh_from_db()
    assert kept.profile_type == "CHEAP"
    assert kept.energy_need == Decimal("30")
    assert kept.discharge_allowed is True
    assert kept.departure_time is not None
    assert kept.departure_time.strftime("%Y-%m-%dT%H:%M:%SZ") == departure
    assert SessionChargingPreferences.objects.count() == 1


@pytest.mark.parametrize(
    ("preferences", "answer"),
    [
        # No PROFILE_FAST tariff at the connector.
        ({"profile_type": "FAST"}, "PROFILE_TYPE_NOT_SUPPORTED"),
        # A PROFILE_GREEN tariff exists, but not at this connector.
        (
            {"profile_type": "GREEN", "departure_time": "+3", "energy_need": 5},
            "PROFILE_TYPE_NOT_SUPPORTED",
        ),
        ({"profile_type": "CHEAP"}, "DEPARTURE_REQUIRED"),
        ({"profile_type": "CHEAP", "energy_need": 10}, "DEPARTURE_REQUIRED"),
        ({"profile_type": "CHEAP", "departure_time": "+3"}, "ENERGY_NEED_REQUIRED"),
        ({"profile_type": "CHEAP", "departure_time": "-1", "energy_need": 10}, "NOT_POSSIBLE"),
        # 22.08 kW for 2 hours is 44.16 kWh at most.
        ({"profile_type": "CHEAP", "departure_time": "+2", "energy_need": 45}, "NOT_POSSIBLE"),
        ({"profile_type": "REGULAR", "departure_time": "+2", "energy_need": 45}, "NOT_POSSIBLE"),
        ({"profile_type": "CHEAP", "departure_time": "+2", "energy_need": 44}, "ACCEPTED"),
    ],
)
def test_the_answer_follows_the_profile_and_what_the_connector_can_do(
    emsp: Caller, ongoing: ChargingSession, preferences: dict[str, Any], answer: str
) -> None:
    TariffFactory.create(party=ongoing.party, tariff_id="T-GREEN", type="PROFILE_GREEN")
    put_preferences(emsp, "ONGOING", {"profile_type": "REGULAR"})
    if "departure_time" in preferences:
        preferences = {**preferences, "departure_time": later(float(preferences["departure_time"]))}

    response = put_preferences(emsp, "ONGOING", preferences)
    assert response.status_code == 200
    assert body(response)["data"] == answer
    kept = SessionChargingPreferences.objects.get(session=ongoing)
    # A refusal keeps the preferences accepted before.
    assert kept.profile_type == ("CHEAP" if answer == "ACCEPTED" else "REGULAR")
    decision = AuditLogEntry.objects.filter(action="session.charging_preferences").latest("pk")
    assert decision.after is not None
    assert decision.after["response"] == answer


def test_a_session_that_is_over_takes_no_preferences(
    emsp: Caller, ongoing: ChargingSession
) -> None:
    ongoing.status = "COMPLETED"
    ongoing.save()
    response = put_preferences(emsp, "ONGOING", {"profile_type": "REGULAR"})
    assert body(response)["data"] == "NOT_POSSIBLE"
    assert not SessionChargingPreferences.objects.exists()


def test_an_evse_without_the_capability_answers_404_2001(
    emsp: Caller, ongoing: ChargingSession, capable_connector: Connector
) -> None:
    capable_connector.evse.capabilities = ["REMOTE_START_STOP_CAPABLE"]
    capable_connector.evse.save()
    response = put_preferences(emsp, "ONGOING", {"profile_type": "REGULAR"})
    assert response.status_code == 404
    assert body(response)["status_code"] == 2001
    assert "CHARGING_PREFERENCES_CAPABLE" in body(response)["status_message"]
    assert not SessionChargingPreferences.objects.exists()


def test_an_evse_we_do_not_know_answers_404_2001(emsp: Caller, ongoing: ChargingSession) -> None:
    ongoing.evse_ref = "#NA"
    ongoing.save()
    response = put_preferences(emsp, "ONGOING", {"profile_type": "REGULAR"})
    assert (response.status_code, body(response)["status_code"]) == (404, 2001)


def test_unknown_and_other_emsps_sessions_are_not_found(
    cpo: Party, emsp: Caller, ongoing: ChargingSession, capable_connector: Connector
) -> None:
    response = put_preferences(emsp, "NOPE", {"profile_type": "REGULAR"})
    assert (response.status_code, body(response)["status_code"]) == (404, 2001)

    other = partner_caller("EMSP", country_code="DE", party_id="XYZ")
    response = put_preferences(other, "ONGOING", {"profile_type": "REGULAR"})
    assert (response.status_code, body(response)["status_code"]) == (404, 2001)
    assert "ONGOING" in body(response)["status_message"]

    # Nor a partner CPO's session that a driver of this eMSP charged.
    partner_cpo = PartyFactory.create(country_code="BE", party_id="BEC", roles=["CPO"])
    driven_by(emsp.party, party=partner_cpo, session_id="COPY", evse_ref="EVSE-P")
    response = put_preferences(emsp, "COPY", {"profile_type": "REGULAR"})
    assert (response.status_code, body(response)["status_code"]) == (404, 2001)
    assert not SessionChargingPreferences.objects.exists()


@pytest.mark.parametrize(
    ("preferences", "field"),
    [
        ({"profile_type": "TURBO"}, "profile_type"),
        ({}, "profile_type"),
        ({"profile_type": "FAST", "energy_need": -1}, "energy_need"),
        ({"profile_type": "FAST", "departure_time": "tomorrow"}, "departure_time"),
    ],
)
def test_bad_preferences_name_the_field(
    emsp: Caller, ongoing: ChargingSession, preferences: dict[str, Any], field: str
) -> None:
    response = put_preferences(emsp, "ONGOING", preferences)
    assert body(response)["status_code"] == 2001
    assert body(response)["status_message"].startswith(field)
    assert not SessionChargingPreferences.objects.exists()
