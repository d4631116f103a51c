"""The outbox end to end, over real HTTP on 127.0.0.1, between two roamdesk platforms registered
with each other through the real credentials handshake:

* we (the ``us`` live server) are the CPO: a location, an EVSE status, a tariff, a session and
  its CDR change here, the outbox pushes them, and the peer's Receiver endpoints hold each one
  afterwards (read back with the token the peer issued us);
* the peer platform (a subprocess with its own database) is the eMSP: a token it creates is
  pushed by its own outbox to our Tokens Receiver.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from apps.cdrs.models import Cdr
from apps.charging_sessions.models import SessionChargingDimension, SessionChargingPeriod
from apps.charging_sessions.services import session_complete
from apps.locations.services import evse_upsert, location_upsert
from apps.ocpi.common.client import OcpiClient, RoutingHeaders
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.ocpi.services.delivery import deliveries_run
from apps.ocpi.services.handshake import connection_register
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection
from apps.tokens.models import Token
from tests.factories import SessionFactory
from tests.factories.commands import charging_site, evse_of
from tests.factories.tariffs_cdrs import energy_content, published_tariff
from tests.ocpi.callers import own_party
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TO_PEER = RoutingHeaders(
    to_country_code="DE", to_party_id="PBB", from_country_code="NL", from_party_id="RDK"
)


def register_with(peer: PeerPlatform) -> tuple[PartnerConnection, int]:
    """The real handshake: the peer invites us, we register with it. Returns our connection
    and the id of the peer's connection to us."""
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
    return connection, invite["id"]


def held_by_peer(connection: PartnerConnection, module: str, *path: str) -> dict[str, Any]:
    """GET one object back from the peer's Receiver endpoint (as the peer stored it)."""
    base = connection.endpoint_url(module, "RECEIVER")
    assert base is not None, f"the peer has no {module} Receiver"
    url = "/".join([base, *path])
    with OcpiClient.for_connection(connection) as client:
        response = client.get(url, routing=TO_PEER, module=module).raise_for_status()
    data: dict[str, Any] = response.data
    return data


def test_our_changes_reach_the_emsp_platform(us: str, peer_platform: PeerPlatform) -> None:
    peer = peer_platform
    cpo = own_party("CPO")
    site = charging_site(cpo, location_id="LOC1", evses=2)
    site.evses.update(last_updated=timezone.now() - timedelta(days=1))
    connector = evse_of(site, "EVSE1").connectors.get()
    connector.tariff_ids = ["AC-1"]
    connector.save()
    connection, _ = register_with(peer)
    assert connection.endpoint_url("locations", "RECEIVER") == (
        f"{peer.base_url}/ocpi/2.2.1/emsp/locations"
    )
    now = timezone.now()

    # A location change, an EVSE status change, a published tariff, a completed session.
    location_upsert(
        party=cpo,
        location_id="LOC1",
        data={"name": "Station Utrecht", "last_updated": now - timedelta(hours=3)},
        source_connection=None,
        partial=True,
    )
    evse_upsert(
        party=cpo,
        location_id="LOC1",
        uid="EVSE2",
        data={"status": "OUTOFORDER", "last_updated": now - timedelta(hours=2, minutes=30)},
        source_connection=None,
        partial=True,
    )
    published_tariff(
        cpo, tariff_id="AC-1", content=energy_content("0.30", updated=now - timedelta(days=30))
    )
    start = now - timedelta(hours=2)
    session = SessionFactory.create(
        party=cpo,
        session_id="S-E2E-1",
        start_date_time=start,
        kwh=Decimal("11"),
        token_country_code="DE",
        token_party_id="PBB",
        token_uid="APP-1",
        token_type="APP_USER",
        token_contract_id="DE-PBB-C00000001",
        location_ref="LOC1",
        evse_ref="EVSE1",
        connector_ref="1",
        location=site,
        evse=evse_of(site, "EVSE1"),
        connector=connector,
        last_updated=start,
    )
    period = SessionChargingPeriod.objects.create(
        session=session, sequence=1, start_date_time=start
    )
    SessionChargingDimension.objects.create(period=period, type="ENERGY", volume=Decimal(11))
    session_complete(session=session, end_date_time=now - timedelta(hours=1), actor="ocpp")
    cdr = Cdr.objects.get(session=session)
    assert sorted(OutboundDelivery.objects.values_list("kind", flat=True)) == [
        "cdr",
        "evse_status",
        "location",
        "session",
        "tariff",
    ]

    report = deliveries_run(connection_id=connection.pk)
    failures = list(
        OutboundDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).values(
            "kind", "status", "last_error"
        )
    )
    assert failures == []
    assert (report.claimed, report.delivered) == (5, 5)

    location = held_by_peer(connection, "locations", "NL", "RDK", "LOC1")
    assert location["name"] == "Station Utrecht"
    assert {e["uid"]: e["status"] for e in location["evses"]} == {
        "EVSE1": "AVAILABLE",
        "EVSE2": "OUTOFORDER",
    }
    evse = held_by_peer(connection, "locations", "NL", "RDK", "LOC1", "EVSE2")
    assert evse["status"] == "OUTOFORDER"

    tariff = held_by_peer(connection, "tariffs", "NL", "RDK", "AC-1")
    assert (tariff["id"], tariff["currency"]) == ("AC-1", "EUR")
    assert Decimal(str(tariff["elements"][0]["price_components"][0]["price"])) == Decimal("0.30")

    pushed = held_by_peer(connection, "sessions", "NL", "RDK", "S-E2E-1")
    assert (pushed["status"], pushed["cdr_token"]["uid"]) == ("COMPLETED", "APP-1")
    assert Decimal(str(pushed["kwh"])) == Decimal(11)

    # The CDR: the peer answered with where it keeps it, and holds it there.
    remote = OutboundDelivery.objects.get(kind="cdr").remote_location
    assert remote.startswith(f"{peer.base_url}/ocpi/2.2.1/emsp/cdrs")
    with OcpiClient.for_connection(connection) as client:
        held = client.get(remote, routing=TO_PEER, module="cdrs").raise_for_status().data
    assert (held["id"], held["session_id"]) == (cdr.cdr_id, "S-E2E-1")
    assert Decimal(str(held["total_energy"])) == Decimal(11)


def test_the_emsp_platform_pushes_its_token_to_us(us: str, peer_platform: PeerPlatform) -> None:
    peer = peer_platform
    own_party("CPO")
    connection, theirs = register_with(peer)
    state = peer.connection_state(theirs)
    assert {"identifier": "tokens", "role": "RECEIVER", "url": f"{us}/ocpi/2.2.1/cpo/tokens"} in (
        state["endpoints"]
    )

    # The peer's own tool changes one of its tokens (its service announces it) ...
    queued = peer.python(
        "from django.utils import timezone\n"
        "from apps.ocpi.models import OutboundDelivery\n"
        "from apps.partners.models import Party\n"
        "from apps.tokens.services import TokenData, token_upsert\n"
        "p = Party.objects.own().get(party_id='PBB')\n"
        "token_upsert(party=p, data=TokenData(country_code='DE', party_id='PBB', uid='APP-9',\n"
        "    type='APP_USER', contract_id='DE-PBB-C00000009', issuer='Peer eMSP', valid=True,\n"
        "    whitelist='ALLOWED', last_updated=timezone.now()))\n"
        "result = list(OutboundDelivery.objects.values_list('kind', 'connection_id'))"
    )
    assert queued == [["token", theirs]]
    # ... and its worker pushes it (run in the peer's own process).
    sent = peer.python(
        "from apps.ocpi.services.delivery import deliveries_run\n"
        "from apps.ocpi.models import OutboundDelivery\n"
        "deliveries_run()\n"
        "result = list(OutboundDelivery.objects.values_list('status', 'last_error'))"
    )
    assert sent == [["DELIVERED", ""]]

    token = Token.objects.select_related("party").get(uid="APP-9")
    assert (token.party.code, token.type, token.contract_id) == (
        "DE*PBB",
        "APP_USER",
        "DE-PBB-C00000009",
    )
    assert token.source_connection == connection
    assert token.party.partner == connection.partner
