"""Smart charging end to end, over real HTTP on 127.0.0.1, between two roamdesk platforms
registered with each other through the real credentials handshake:

* the platform under test is the CPO (the ``us`` live server, with a real Celery worker that
  shares its database, executes the requests through the simulator backend and POSTs the
  results to the requester's response_url);
* the peer platform (a subprocess with its own database) is the eMSP: it starts a session with a
  START_SESSION command, then sets, reads and clears a charging profile on it through its own
  services. The peer runs no worker: its after-commit send is queued (in its own filesystem
  broker, never read) and the test runs that send itself, with ``charging_profile_request_send``,
  in the same peer shell. The peer's results arrive on its real Sender endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.charging_sessions.models import ChargingSession
from apps.ocpi.services.handshake import connection_register
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner
from apps.smart_charging.enums import ProfileOperation, RequestDirection, RequestStatus
from apps.smart_charging.models import ChargingProfileRequest, SessionChargingProfile
from tests.factories.commands import charging_site
from tests.ocpi.callers import own_party
from tests.ocpi.e2e import peer_result, peer_send, wait_for
from tests.ocpi.e2e import worker as worker  # fixture
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture
from tests.workers import CeleryWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: What the peer sends: 11 kW for the first half hour, 7.4 kW after (limits in W, Decimals).
PROFILE = (
    "ChargingProfile(charging_rate_unit=ChargingRateUnit.WATTS, periods=(\n"
    "    ChargingProfilePeriod(0, Decimal('11000')),\n"
    "    ChargingProfilePeriod(1800, Decimal('7400'))))"
)


def peer_profile_send(
    peer: PeerPlatform, connection_id: int, operation: str, arguments: str
) -> dict[str, Any]:
    """The peer records a request with its own service and sends it (what its worker would do
    after commit); returns its record after our immediate answer."""
    answer: dict[str, Any] = peer.python(
        "from decimal import Decimal\n"
        "from apps.ocpi.services import charging_profiles as cp\n"
        "from apps.partners.models import PartnerConnection\n"
        "from apps.smart_charging.enums import ChargingRateUnit\n"
        "from apps.smart_charging.profiles import ChargingProfile, ChargingProfilePeriod\n"
        f"c = PartnerConnection.objects.get(pk={connection_id})\n"
        f"r = cp.charging_profile_{operation}_send(connection=c, {arguments})\n"
        "r = cp.charging_profile_request_send(request_id=r.pk)\n"
        "result = {'reference': str(r.reference), 'status': r.status,\n"
        "    'response': r.response_result, 'timeout': r.response_timeout, 'note': r.note,\n"
        "    'response_url': r.response_url}"
    )
    return answer


def peer_profile_result(peer: PeerPlatform, reference: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = peer.python(
        "from apps.smart_charging.models import ChargingProfileRequest\n"
        f"result = ChargingProfileRequest.objects.filter(reference={reference!r})"
        ".values('status', 'result', 'result_profile', 'note').first()"
    )
    return row if row and row["result"] else None


def received(operation: ProfileOperation) -> ChargingProfileRequest:
    return ChargingProfileRequest.objects.get(
        direction=RequestDirection.RECEIVED, operation=operation
    )


def test_set_get_active_and_clear_a_profile_from_the_emsp_platform(
    us: str, peer_platform: PeerPlatform, worker: CeleryWorker
) -> None:
    peer = peer_platform
    cpo = own_party("CPO")
    charging_site(cpo)

    # The real handshake: the peer invites us, we register with it.
    invite = peer.python(
        "from apps.ocpi.services.handshake import connection_invite, our_versions_url\n"
        "from apps.partners.models import Partner\n"
        "c, t = connection_invite(partner=Partner.objects.create(name='roamdesk CPO'))\n"
        "result = {'id': c.pk, 'token_a': t, 'versions_url': our_versions_url()}"
    )
    connection = connection_register(
        partner=Partner.objects.create(name="Peer eMSP"),
        versions_url=invite["versions_url"],
        token_a=invite["token_a"],
    )
    assert connection.status == ConnectionStatus.CONNECTED
    theirs = peer.connection_state(invite["id"])
    profiles_url = next(
        e["url"]
        for e in theirs["endpoints"]
        if e["identifier"] == "chargingprofiles" and e["role"] == "RECEIVER"
    )
    assert profiles_url == f"{us}/ocpi/2.2.1/cpo/chargingprofiles"

    # An ACTIVE session on our side, started by the peer's START_SESSION command.
    peer.python(
        "from django.utils import timezone\n"
        "from apps.partners.models import Party\n"
        "from apps.tokens.models import Token\n"
        "Token.objects.create(party=Party.objects.own().get(party_id='PBB'), uid='APP-1',\n"
        "    type='APP_USER', contract_id='DE-PBB-C00000001', issuer='Peer eMSP',\n"
        "    whitelist='NEVER', last_updated=timezone.now())\n"
        "result = True"
    )
    start = peer_send(
        peer,
        invite["id"],
        type="START_SESSION",
        location_id="LOC1",
        evse_uid="EVSE1",
        connector_id="1",
        authorization_reference="E2E-SC-1",
    )
    assert start["response"] == "ACCEPTED", start
    session = wait_for(
        "the session to start", lambda: ChargingSession.objects.filter(status="ACTIVE").first()
    )
    wait_for("the START_SESSION result", lambda: peer_result(peer, start["uid"]))
    ref = repr(session.session_id)

    # SET: accepted at once, executed by our worker, the result ACCEPTED at the peer.
    sent = peer_profile_send(peer, invite["id"], "set", f"session_ref={ref}, profile={PROFILE}")
    assert (sent["response"], sent["timeout"]) == ("ACCEPTED", 30), sent
    assert sent["response_url"] == (
        f"{peer.base_url}/ocpi/2.2.1/emsp/chargingprofiles/results/{sent['reference']}"
    )
    result = wait_for(
        "the SET result at the eMSP", lambda: peer_profile_result(peer, sent["reference"])
    )
    assert (result["status"], result["result"]) == (RequestStatus.COMPLETED, "ACCEPTED"), result

    request = received(ProfileOperation.SET)
    assert (request.connection, request.session) == (connection, session)
    assert request.response_url == sent["response_url"]
    in_force = SessionChargingProfile.objects.get(session=session)
    assert (in_force.owner.country_code, in_force.owner.party_id) == ("DE", "PBB")
    assert in_force.charging_profile["charging_rate_unit"] == "W"
    assert in_force.charging_profile["periods"] == [
        {"start_period": 0, "limit": "11000"},
        {"start_period": 1800, "limit": "7400"},
    ]

    # GET active profile for the next hour: the result carries the periods in force.
    sent = peer_profile_send(peer, invite["id"], "get_active", f"session_ref={ref}, duration=3600")
    assert sent["response"] == "ACCEPTED", sent
    result = wait_for(
        "the GET_ACTIVE result at the eMSP", lambda: peer_profile_result(peer, sent["reference"])
    )
    assert result["result"] == "ACCEPTED", result
    active = result["result_profile"]["charging_profile"]
    assert active["charging_rate_unit"] == "W"
    assert active["duration"] == 3600
    periods = active["periods"]
    assert [p["limit"] for p in periods] == ["11000", "7400"], active
    assert periods[0]["start_period"] == 0
    assert 0 < periods[1]["start_period"] <= 1800  # counted from when the charger calculated it
    assert received(ProfileOperation.GET_ACTIVE).result == "ACCEPTED"

    # CLEAR: the result ACCEPTED at the peer, the profile gone on our side.
    sent = peer_profile_send(peer, invite["id"], "clear", f"session_ref={ref}")
    assert sent["response"] == "ACCEPTED", sent
    result = wait_for(
        "the CLEAR result at the eMSP", lambda: peer_profile_result(peer, sent["reference"])
    )
    assert result["result"] == "ACCEPTED", result
    assert not SessionChargingProfile.objects.filter(session=session).exists()

    # Our side recorded every result as delivered.
    wait_for(
        "our side to record the three results delivered",
        lambda: (
            ChargingProfileRequest.objects.filter(
                direction=RequestDirection.RECEIVED, result_sent_at__isnull=False
            ).count()
            == 3
        ),
    )
