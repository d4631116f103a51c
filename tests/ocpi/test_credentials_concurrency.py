"""Token A is single-use under concurrency: simultaneous credentials POSTs with one token A
against the live server, the registering partner served by a local HTTP peer. One wins; the
others get 401 (OCPI 2000) and leave nothing behind.

Runs on whichever database the suite uses. On PostgreSQL the requests' transactions overlap for
real and the conditional UPDATE decides; on SQLite the writing transactions run one after the
other (IMMEDIATE), which is still a race: the peer below holds every request until all of them
have passed authentication with token A, so each later one writes after the winner committed.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from apps.core.models import AuditLogEntry
from apps.ocpi.services.handshake import connection_invite
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Party
from tests.factories import PartnerFactory
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
V = VersionNumber.V2_2_1.value
RACERS = 6


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def serve_partner(peer: OcpiPeer, *, hold_until: int) -> threading.Barrier:
    """The partner's versions and details; the versions GET of each registration waits until
    ``hold_until`` of them arrived, i.e. until every POST is past authentication."""
    barrier = threading.Barrier(hold_until, timeout=20)

    def handle(request: RecordedRequest) -> Reply:
        if request.path == "/ocpi/versions":
            barrier.wait()
            return Reply(body=envelope([{"version": V, "url": peer.url(f"/ocpi/{V}")}]))
        if request.path == f"/ocpi/{V}":
            endpoints = [
                {"identifier": e, "role": "RECEIVER", "url": peer.url(f"/ocpi/{V}/{e}")}
                for e in ("credentials", "locations")
            ]
            return Reply(body=envelope({"version": V, "endpoints": endpoints}))
        return Reply(status=404, body=b"not found", content_type="text/plain")

    peer.handler = handle
    return barrier


def credentials(peer: OcpiPeer, n: int) -> dict[str, Any]:
    return {
        "token": f"token-B-of-racer-{n}",
        "url": peer.url("/ocpi/versions"),
        "roles": [
            {
                "role": "EMSP",
                "party_id": f"AB{n}",
                "country_code": "BE",
                "business_details": {"name": f"Racer {n}"},
            }
        ],
    }


def test_concurrent_posts_with_one_token_a_register_once(us: str, ocpi_peer: OcpiPeer) -> None:
    barrier = serve_partner(ocpi_peer, hold_until=RACERS)
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    audit_before = AuditLogEntry.objects.count()

    def register(n: int) -> tuple[int, int, dict[str, Any]]:
        response = httpx.post(
            f"{us}/ocpi/{V}/credentials", json=credentials(ocpi_peer, n), headers=auth(token_a),
            timeout=60,
        )  # fmt: skip
        body = response.json()
        return n, response.status_code, body

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(register, range(RACERS)))

    assert not barrier.broken, "not every POST reached the partner: the race did not happen"
    winners = [(n, body) for n, status, body in results if status == 200]
    losers = [(status, body) for _, status, body in results if status != 200]
    assert len(winners) == 1, results
    winner, won = winners[0]
    assert won["status_code"] == 1000
    assert len(losers) == RACERS - 1
    for status, body in losers:
        assert status == 401
        assert body["status_code"] == 2000
        assert "already been used" in body["status_message"]

    # Only the winner's registration is stored: its token B, its party, one token C.
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.send_token == f"token-B-of-racer-{winner}"
    assert [p.code for p in connection.represented_parties.all()] == [f"BE*AB{winner}"]
    assert list(Party.objects.foreign().values_list("party_id", flat=True)) == [f"AB{winner}"]
    assert connection.last_error == ""
    actions = list(
        AuditLogEntry.objects.order_by("pk")[audit_before:].values_list("action", flat=True)
    )
    assert sorted(actions) == ["connection.registered", "connection.token_issued"]
    token_c = won["data"]["token"]
    assert httpx.get(f"{us}/ocpi/versions", headers=auth(token_c)).json()["status_code"] == 1000
    assert httpx.get(f"{us}/ocpi/versions", headers=auth(token_a)).status_code == 401
