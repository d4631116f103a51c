"""The credentials handshake between two running roamdesk platforms over real HTTP on
127.0.0.1, in both directions, with rotation and unregistering."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from apps.ocpi.services.handshake import (
    connection_invite,
    connection_register,
    connection_rotate,
    connection_unregister,
)
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection
from tests.ocpi.peer import PeerPlatform, status_of
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
V = VersionNumber.V2_2_1.value
OVERLAP = settings.OCPI_TOKEN_ROTATION_OVERLAP_SECONDS


def test_we_register_with_a_peer_then_rotate_and_unregister(
    us: str, peer_platform: PeerPlatform
) -> None:
    peer = peer_platform
    invite = peer.invite("roamdesk NL")
    assert invite["versions_url"] == peer.versions_url

    steps: list[str] = []
    connection = connection_register(
        partner=Partner.objects.create(name="Peer"),
        versions_url=invite["versions_url"],
        token_a=invite["token_a"],
        steps=steps,
    )
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.version == V
    assert (
        connection.endpoint_url("credentials", "SENDER") == f"{peer.base_url}/ocpi/{V}/credentials"
    )
    assert [p.code for p in connection.represented_parties.all()] == ["DE*PBB"]
    assert connection.represented_parties.get().roles == ["EMSP"]
    assert len(steps) == 4

    theirs = peer.connection_state(invite["id"])
    assert theirs["status"] == ConnectionStatus.CONNECTED
    assert theirs["version"] == V
    assert theirs["parties"] == ["NL*RDK"]
    assert theirs["versions_url"] == f"{us}/ocpi/versions"
    token_c = connection.send_token
    assert token_c
    # Token A is dead, token C works; and the peer reaches us with the token B we issued.
    assert status_of(peer.versions_url, invite["token_a"])[0] == 401
    assert status_of(peer.versions_url, token_c) == (200, 1000)
    assert status_of(f"{us}/ocpi/versions", theirs["send_token"]) == (200, 1000)

    # Rotation started by us: both tokens are replaced, the old ones stop working.
    connection_rotate(connection=connection)
    connection.refresh_from_db()
    assert connection.send_token not in (None, token_c)
    assert status_of(peer.versions_url, token_c)[0] == 401
    assert status_of(peer.versions_url, connection.send_token or "") == (200, 1000)
    rotated = peer.connection_state(invite["id"])
    assert rotated["send_token"] != theirs["send_token"]
    assert status_of(f"{us}/ocpi/versions", rotated["send_token"]) == (200, 1000)
    # The token we replaced works for the overlap (the peer's requests in flight), then not.
    assert status_of(f"{us}/ocpi/versions", theirs["send_token"]) == (200, 1000)
    with time_machine.travel(timezone.now() + timedelta(seconds=OVERLAP + 1)):
        assert status_of(f"{us}/ocpi/versions", theirs["send_token"])[0] == 401
        assert status_of(f"{us}/ocpi/versions", rotated["send_token"]) == (200, 1000)

    # Unregistering ends it on both sides.
    last_token = connection.send_token or ""
    connection_unregister(connection=connection)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.UNREGISTERED
    assert connection.send_token is None
    assert peer.connection_state(invite["id"])["status"] == ConnectionStatus.UNREGISTERED
    assert status_of(peer.versions_url, last_token)[0] == 401
    assert status_of(f"{us}/ocpi/versions", rotated["send_token"])[0] == 401


def test_a_peer_registers_with_us_then_rotates_and_unregisters(
    us: str, peer_platform: PeerPlatform
) -> None:
    peer = peer_platform
    connection, token_a = connection_invite(partner=Partner.objects.create(name="Peer"))
    result = peer.manage("ocpi_register", f"{us}/ocpi/versions", token_a, "--partner", "NL hub")
    assert "registered" in result.stdout

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.version == V
    assert connection.versions_url == peer.versions_url
    assert [p.code for p in connection.represented_parties.all()] == ["DE*PBB"]
    assert not connection.issued_token_is_registration
    assert status_of(f"{us}/ocpi/versions", token_a)[0] == 401  # token A invalidated
    peer_id = peer.python(
        "from apps.partners.models import PartnerConnection as C\n"
        "result = C.objects.get(partner__name='NL hub').pk"
    )
    theirs = peer.connection_state(peer_id)
    assert status_of(f"{us}/ocpi/versions", theirs["send_token"]) == (200, 1000)
    our_token_for_them = connection.send_token or ""
    assert status_of(peer.versions_url, our_token_for_them) == (200, 1000)

    # The peer rotates (a PUT to us): we issue a new token and re-read its endpoints.
    peer.python(
        "from apps.ocpi.services.handshake import connection_rotate\n"
        "from apps.partners.models import PartnerConnection as C\n"
        f"connection_rotate(connection=C.objects.get(pk={peer_id}))\n"
        "result = True"
    )
    rotated = peer.connection_state(peer_id)
    assert rotated["send_token"] != theirs["send_token"]
    assert status_of(f"{us}/ocpi/versions", rotated["send_token"]) == (200, 1000)
    assert status_of(f"{us}/ocpi/versions", theirs["send_token"]) == (200, 1000)  # overlap
    with time_machine.travel(timezone.now() + timedelta(seconds=OVERLAP + 1)):
        assert status_of(f"{us}/ocpi/versions", theirs["send_token"])[0] == 401
    connection.refresh_from_db()
    assert connection.send_token not in (None, our_token_for_them)

    # The peer unregisters (a DELETE to us).
    peer.python(
        "from apps.ocpi.services.handshake import connection_unregister\n"
        "from apps.partners.models import PartnerConnection as C\n"
        f"connection_unregister(connection=C.objects.get(pk={peer_id}))\n"
        "result = True"
    )
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.UNREGISTERED
    assert status_of(f"{us}/ocpi/versions", rotated["send_token"])[0] == 401
    assert PartnerConnection.objects.get(pk=connection.pk).issued_token_hash is None
