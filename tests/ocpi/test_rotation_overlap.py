"""Credentials rotation without failed requests: the token a rotation replaces keeps working for
OCPI_TOKEN_ROTATION_OVERLAP_SECONDS, so the partner's requests in flight succeed, and is refused
after that. Real HTTP both ways: the platform under test and a roamdesk peer in its own process.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from apps.ocpi.services.handshake import connection_invite, connection_rotate
from apps.partners.models import Partner, PartnerConnection
from tests.ocpi.peer import PeerPlatform, status_of
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Traffic:
    """The partner calling us with one token, over and over, while something else happens."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.answers: list[tuple[int, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.answers) < 2000:
            self.answers.append(status_of(self.url, self.token))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_rotations_both_ways_fail_no_request_and_end_the_old_token_after_the_overlap(
    us: str, peer_platform: PeerPlatform
) -> None:
    peer = peer_platform
    connection, token_a = connection_invite(partner=Partner.objects.create(name="Peer"))
    peer.manage("ocpi_register", f"{us}/ocpi/versions", token_a, "--partner", "NL hub")
    peer_id = peer.python(
        "from apps.partners.models import PartnerConnection as C\n"
        "result = C.objects.get(partner__name='NL hub').pk"
    )
    versions = f"{us}/ocpi/versions"
    first = peer.connection_state(peer_id)["send_token"]

    # The peer rotates (a PUT to us) while its traffic still carries the token it had.
    with Traffic(versions, first) as during_theirs:
        peer.python(
            "from apps.ocpi.services.handshake import connection_rotate\n"
            "from apps.partners.models import PartnerConnection as C\n"
            f"connection_rotate(connection=C.objects.get(pk={peer_id}))\n"
            "result = True"
        )
    second = peer.connection_state(peer_id)["send_token"]
    assert second != first
    assert len(during_theirs.answers) > 5
    assert set(during_theirs.answers) == {(200, 1000)}

    # We rotate (a PUT to the peer) while the peer's traffic still carries its current token.
    connection.refresh_from_db()
    with Traffic(versions, second) as during_ours:
        connection_rotate(connection=connection)
    third = peer.connection_state(peer_id)["send_token"]
    assert third not in (first, second)
    assert len(during_ours.answers) > 5
    assert set(during_ours.answers) == {(200, 1000)}
    assert status_of(versions, third) == (200, 1000)

    # After the overlap only the newest token works.
    overlap = settings.OCPI_TOKEN_ROTATION_OVERLAP_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=overlap + 1)):
        assert status_of(versions, first)[0] == 401
        assert status_of(versions, second)[0] == 401
        assert status_of(versions, third) == (200, 1000)
    stored = PartnerConnection.objects.get(pk=connection.pk)
    assert stored.previous_issued_token_hash is not None  # kept for the overlap only


def test_a_registration_token_is_never_kept_after_it_is_spent(
    us: str, peer_platform: PeerPlatform
) -> None:
    connection, token_a = connection_invite(partner=Partner.objects.create(name="Peer"))
    peer_platform.manage("ocpi_register", f"{us}/ocpi/versions", token_a, "--partner", "P")
    assert status_of(f"{us}/ocpi/versions", token_a)[0] == 401
    stored = PartnerConnection.objects.get(pk=connection.pk)
    assert (stored.previous_issued_token_hash, stored.previous_issued_token_until) == (None, None)
