"""Remote commands end to end, over real HTTP on 127.0.0.1, between two roamdesk platforms
registered with each other through the real credentials handshake:

* the platform under test is the CPO (the ``us`` live server, with a real Celery worker that
  shares its database and executes the commands through the simulator and pushes the results);
* the peer platform (a subprocess with its own database) is the eMSP that sends the commands
  and receives the results on its response_url.
"""

from __future__ import annotations

import pytest

from apps.charging_sessions.models import ChargingSession
from apps.commands.enums import CommandDirection
from apps.commands.models import Command
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.ocpi.services.handshake import connection_register
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner
from tests.factories.commands import charging_site, evse_of
from tests.ocpi.callers import own_party
from tests.ocpi.e2e import peer_result, peer_send, wait_for
from tests.ocpi.e2e import worker as worker  # fixture
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture
from tests.workers import CeleryWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_start_and_stop_a_session_from_the_emsp_platform(
    us: str, peer_platform: PeerPlatform, worker: CeleryWorker
) -> None:
    peer = peer_platform
    cpo = own_party("CPO")
    site = charging_site(cpo)

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
    assert theirs["status"] == ConnectionStatus.CONNECTED
    commands_url = next(
        e["url"]
        for e in theirs["endpoints"]
        if e["identifier"] == "commands" and e["role"] == "RECEIVER"
    )
    assert commands_url == f"{us}/ocpi/2.2.1/cpo/commands"

    peer.python(
        "from django.utils import timezone\n"
        "from apps.partners.models import Party\n"
        "from apps.tokens.models import Token\n"
        "Token.objects.create(party=Party.objects.own().get(party_id='PBB'), uid='APP-1',\n"
        "    type='APP_USER', contract_id='DE-PBB-C00000001', issuer='Peer eMSP',\n"
        "    whitelist='NEVER', last_updated=timezone.now())\n"
        "result = True"
    )

    # START_SESSION: accepted at once, executed by our worker, result posted to the peer.
    sent = peer_send(
        peer,
        invite["id"],
        type="START_SESSION",
        location_id="LOC1",
        evse_uid="EVSE1",
        connector_id="1",
        authorization_reference="E2E-REF-1",
    )
    assert (sent["response"], sent["timeout"]) == ("ACCEPTED", 30), sent

    session = wait_for(
        "the session to start",
        lambda: ChargingSession.objects.filter(status="ACTIVE").first(),
    )
    assert (session.token_country_code, session.token_party_id) == ("DE", "PBB")
    assert (session.token_uid, session.token_type) == ("APP-1", "APP_USER")
    assert session.authorization_reference == "E2E-REF-1"
    assert (session.party, session.evse_ref, session.auth_method) == (cpo, "EVSE1", "COMMAND")
    assert evse_of(site, "EVSE1").status == "CHARGING"
    received = Command.objects.get(direction=CommandDirection.RECEIVED, type="START_SESSION")
    assert received.connection == connection
    assert received.response_url.endswith(f"/emsp/commands/START_SESSION/{sent['uid']}")

    result = wait_for(
        "the START_SESSION result at the eMSP", lambda: peer_result(peer, sent["uid"])
    )
    assert result["result"] == "ACCEPTED"
    assert session.session_id in result["result_message"]

    # STOP_SESSION ends it: the final charging period, COMPLETED, the EVSE free again.
    stop = peer_send(peer, invite["id"], type="STOP_SESSION", session_id=session.session_id)
    assert stop["response"] == "ACCEPTED", stop
    wait_for(
        "the session to end",
        lambda: ChargingSession.objects.filter(pk=session.pk, status="COMPLETED").exists(),
    )
    session.refresh_from_db()
    assert session.end_date_time is not None
    assert session.charging_periods.count() == 1
    assert evse_of(site, "EVSE1").status == "AVAILABLE"
    result = wait_for("the STOP_SESSION result at the eMSP", lambda: peer_result(peer, stop["uid"]))
    assert result["result"] == "ACCEPTED"

    deliveries = OutboundDelivery.objects.filter(connection=connection, kind="command_result")
    assert sorted(d.status for d in deliveries) == [DeliveryStatus.DELIVERED] * 2
