"""``session_upsert`` beyond the wire: what it announces, and how it treats our own sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.charging_sessions.data import DimensionData, PeriodData, SessionData
from apps.charging_sessions.models import ChargingSession
from apps.charging_sessions.services import SessionNotFound, session_complete, session_upsert
from apps.core import events
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange
from apps.core.models import AuditLogEntry
from apps.core.upsert import Outcome
from tests.factories import ConnectorFactory, EvseFactory, LocationFactory, PartyFactory
from tests.ocpi.callers import own_party, partner_caller

pytestmark = pytest.mark.django_db

START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def announced() -> Iterator[list[DomainChange]]:
    """The changes announced while the test runs (a listener next to the real ones)."""
    seen: list[DomainChange] = []

    def listen(change: DomainChange) -> None:
        seen.append(change)

    events.change_listener(listen)
    try:
        yield seen
    finally:
        events._listeners.remove(listen)


def complete(**changes: object) -> SessionData:
    data: SessionData = {
        "start_date_time": START,
        "end_date_time": None,
        "kwh": Decimal("0"),
        "token_country_code": "NL",
        "token_party_id": "TST",
        "token_uid": "123abc",
        "token_type": "RFID",
        "token_contract_id": "NL-TST-C12345678-S",
        "auth_method": "WHITELIST",
        "authorization_reference": "",
        "location_ref": "LOC1",
        "evse_ref": "EVSE1",
        "connector_ref": "1",
        "meter_id": "",
        "currency": "EUR",
        "total_cost_excl_vat": None,
        "total_cost_incl_vat": None,
        "status": "ACTIVE",
        "last_updated": START,
        "charging_periods": [
            PeriodData(START, (DimensionData("ENERGY", Decimal("1.5")),)),
        ],
    }
    data.update(changes)  # type: ignore[typeddict-item]
    return data


def sessions_announced(seen: list[DomainChange]) -> list[int]:
    return [c.object_id for c in seen if c.kind == ChangeKind.SESSION]


def test_our_own_sessions_are_announced_once_per_change(announced: list[DomainChange]) -> None:
    cpo = own_party("CPO")
    location = LocationFactory.create(party=cpo, location_id="LOC1")
    evse = EvseFactory.create(location=location, uid="EVSE1")
    connector = ConnectorFactory.create(evse=evse, connector_id="1")

    result = session_upsert(party=cpo, session_id="S1", data=complete(), source_connection=None)
    assert result.outcome is Outcome.CREATED
    session = result.obj
    assert (session.location, session.evse, session.connector) == (location, evse, connector)
    assert sessions_announced(announced) == [session.pk]

    later = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)
    result = session_upsert(
        party=cpo,
        session_id="s1",
        data={"kwh": Decimal("3"), "last_updated": later},
        source_connection=None,
        partial=True,
    )
    assert result.outcome is Outcome.UPDATED
    assert sessions_announced(announced) == [session.pk, session.pk]

    # Stale: nothing written, nothing announced.
    stale = session_upsert(
        party=cpo,
        session_id="S1",
        data={"kwh": Decimal("1"), "last_updated": START},
        source_connection=None,
        partial=True,
    )
    assert stale.stale
    assert len(sessions_announced(announced)) == 2

    # Completing it announces once more (and the CDR hook runs on that announcement).
    session_complete(session=session, end_date_time=datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    assert len(sessions_announced(announced)) == 3


def test_a_completed_session_of_ours_goes_to_cdr_generation(
    announced: list[DomainChange],
) -> None:
    cpo = own_party("CPO")
    result = session_upsert(
        party=cpo,
        session_id="DONE",
        data=complete(status="COMPLETED", end_date_time=datetime(2026, 10, 1, 9, tzinfo=UTC)),
        source_connection=None,
    )
    # No location, no tariff here: generation is refused, and says so for this session.
    refusal = AuditLogEntry.objects.get(action="cdr.generation_refused")
    assert refusal.object_id == str(result.obj.pk)


def test_copies_from_partners_are_not_announced(announced: list[DomainChange]) -> None:
    caller = partner_caller("CPO", country_code="BE", party_id="BEC")
    for data in (complete(), complete(status="COMPLETED")):
        session_upsert(
            party=caller.party, session_id="X", data=data, source_connection=caller.connection
        )
    assert sessions_announced(announced) == []
    assert not AuditLogEntry.objects.filter(action="cdr.generation_refused").exists()


def test_a_partial_update_of_an_unknown_session_and_incomplete_data_are_refused() -> None:
    party = PartyFactory.create()
    with pytest.raises(SessionNotFound):
        session_upsert(
            party=party,
            session_id="NOPE",
            data={"kwh": Decimal("1"), "last_updated": START},
            source_connection=None,
            partial=True,
        )
    incomplete = complete()
    del incomplete["currency"]
    with pytest.raises(DomainError, match="currency"):
        session_upsert(party=party, session_id="NOPE", data=incomplete, source_connection=None)
    assert not ChargingSession.objects.exists()
