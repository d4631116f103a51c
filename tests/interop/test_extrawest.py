"""roamdesk registers with extrawest-ocpi, an independent OCPI 2.2.1 implementation, over real
HTTP on 127.0.0.1: extrawest in its own process (see conftest.py), us as pytest-django's
live_server. Then rotation (credentials PUT) and unregistering (DELETE), which extrawest supports.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.core.crypto import hash_secret
from apps.ocpi.adapters.partners.extrawest import PROFILE
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.client import OcpiClient
from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.routing import routing_check
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.models import Direction, ExchangeLogEntry
from apps.ocpi.services.handshake import (
    HandshakeError,
    connection_register,
    connection_rotate,
    connection_unregister,
    our_roles,
)
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection
from tests.ocpi.peer import free_port, status_of

if TYPE_CHECKING:
    from tests.interop.conftest import Extrawest

pytestmark = [pytest.mark.slow, pytest.mark.interop, pytest.mark.django_db(transaction=True)]
V = VersionNumber.V2_2_1.value


def get_ok(url: str, token: str) -> Any:
    with OcpiClient(token=token) as client:
        return client.get(url).raise_for_status().data


def register(extrawest: Extrawest, *, token_a: str, steps: list[str] | None = None) -> Any:
    return connection_register(
        partner=Partner.objects.create(name="extrawest"),
        versions_url=extrawest.versions_url,
        token_a=token_a,
        profile=PROFILE,
        steps=steps,
    )


def roles_of(credentials: dict[str, Any]) -> set[tuple[str, str, str]]:
    # CiStrings (§3.1): extrawest hands country codes and party ids back in lower case.
    return {
        (r["role"], r["country_code"].upper(), r["party_id"].upper()) for r in credentials["roles"]
    }


def test_we_register_with_extrawest_then_rotate_and_unregister(
    us: str, extrawest: Extrawest
) -> None:
    steps: list[str] = []
    connection = register(extrawest, token_a=extrawest.token_a, steps=steps)

    # Our side: connected with what extrawest publishes (read again here with token C: 1000).
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.adapter_profile == PROFILE
    assert steps[-1] == "registered: token C stored, token B active"

    # During the POST it called our versions and version details back, with token B.
    called_back = ExchangeLogEntry.objects.filter(
        direction=Direction.INBOUND, connection=connection
    ).order_by("created_at", "id")
    assert [(e.method, e.url, e.http_status, e.ocpi_status) for e in called_back] == [
        ("GET", f"{us}/ocpi/versions", 200, 1000),
        ("GET", f"{us}{reverse('ocpi:v2_2_1:details')}", 200, 1000),
    ]

    token_c = connection.send_token
    assert token_c
    versions = get_ok(extrawest.versions_url, token_c)
    assert [v["version"] for v in versions] == [V]
    details = get_ok(versions[0]["url"], token_c)
    assert connection.version == details["version"] == V
    assert connection.endpoints == details["endpoints"]
    credentials_url = f"{extrawest.base_url}/ocpi/emsp/{V}/credentials/"
    assert {"identifier": "credentials", "role": "RECEIVER", "url": credentials_url} in (
        connection.endpoints
    )
    assert connection.versions_url == extrawest.versions_url
    party = connection.represented_parties.get()
    assert (party.code, party.roles, party.name) == ("DE*XWE", ["EMSP"], "Extrawest interop eMSP")
    assert party.website == "https://ocpi.extrawest.example/"
    assert status_of(extrawest.versions_url, extrawest.token_a)[0] == 401  # token A is spent
    assert status_of(credentials_url, token_c) == (200, 1000)

    # extrawest's side: it holds our token B and versions URL, and our roles.
    state = extrawest.state()
    [client] = state["clients"]
    assert client["token_c"] == token_c
    token_b = client["credentials"]["token"]
    assert connection.issued_token_hash == hash_secret(token_b)
    assert client["credentials"]["url"] == f"{us}/ocpi/versions"
    assert roles_of(client["credentials"]) == {
        (r.role, r.country_code, r.party_id) for r in our_roles()
    }
    assert client["endpoints"]["version"] == V
    assert {
        "identifier": "credentials",
        "role": "SENDER",
        "url": f"{us}{reverse('ocpi:v2_2_1:credentials')}",
    } in client["endpoints"]["endpoints"]
    assert status_of(f"{us}/ocpi/versions", token_b) == (200, 1000)

    # The dialect: extrawest sends no routing headers (§2.11); its one party is the sender.
    headerless = RequestFactory().put(f"/ocpi/{V}/locations/DE/XWE/1")
    routing = routing_check(
        headerless,
        connection=connection,
        required=get_adapter(PROFILE, V).requires_routing_headers,
    )
    assert routing.sender.code == "DE*XWE"
    with pytest.raises(InvalidParameters):
        routing_check(headerless, connection=connection, required=True)

    # Rotation (we PUT new credentials): both tokens are replaced; ours stops working after the
    # overlap, theirs at once (extrawest keeps none).
    connection_rotate(connection=connection)
    connection.refresh_from_db()
    new_c = connection.send_token
    assert new_c not in (None, token_c)
    [rotated] = extrawest.state()["clients"]
    assert rotated["token_c"] == new_c
    new_b = rotated["credentials"]["token"]
    assert new_b != token_b
    assert connection.issued_token_hash == hash_secret(new_b)
    assert connection.pending_issued_token_hash is None
    assert status_of(credentials_url, token_c)[0] == 403  # extrawest: 403, not 401 (§2.2)
    assert status_of(extrawest.versions_url, new_c) == (200, 1000)
    assert status_of(f"{us}/ocpi/versions", token_b) == (200, 1000)  # its requests in flight
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.OCPI_TOKEN_ROTATION_OVERLAP_SECONDS + 1)
    ):
        assert status_of(f"{us}/ocpi/versions", token_b)[0] == 401
    assert status_of(f"{us}/ocpi/versions", new_b) == (200, 1000)

    # Unregistering (we DELETE our credentials there) ends it on both sides.
    connection_unregister(connection=connection)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.UNREGISTERED
    assert connection.send_token is None
    final = extrawest.state()
    assert final["clients"] == []
    assert [c["action"] for c in final["calls"] if c["action"] != "get"] == [
        "create",
        "update",
        "delete",
    ]
    assert status_of(extrawest.versions_url, new_c)[0] == 401
    assert status_of(f"{us}/ocpi/versions", new_b)[0] == 401


def test_a_wrong_token_a_fails_clearly_and_leaves_nothing_connected(
    us: str, extrawest: Extrawest
) -> None:
    steps: list[str] = []
    with pytest.raises(HandshakeError) as failure:
        register(extrawest, token_a=f"not-{extrawest.token_a}", steps=steps)

    error = failure.value
    assert error.ocpi_status == OcpiStatus.CLIENT_API_UNUSABLE
    assert error.message.startswith(
        f"cannot GET the partner's versions at {extrawest.versions_url}"
    )
    assert "HTTP 401" in error.message
    assert steps == []
    assert not PartnerConnection.objects.filter(status=ConnectionStatus.CONNECTED).exists()
    assert not PartnerConnection.objects.exists()
    state = extrawest.state()
    assert state["clients"] == []
    assert state["token_a"] == [extrawest.token_a]
    assert state["calls"] == []


def test_when_extrawest_cannot_reach_us_the_registration_fails_and_token_b_is_revoked(
    us: str, extrawest: Extrawest
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # the versions URL we announce leads nowhere
    with override_settings(OCPI_BASE_URL=closed), pytest.raises(HandshakeError) as failure:
        register(extrawest, token_a=extrawest.token_a)

    # §5.3 asks for 3001 here; extrawest lets the connection error escape and answers 3000.
    message = failure.value.message
    assert message.startswith(f"credentials POST to {extrawest.base_url}/ocpi/emsp/{V}/")
    assert "OCPI 3000" in message
    connection = PartnerConnection.objects.get()
    assert connection.status == ConnectionStatus.PENDING
    assert connection.issued_token_hash is None  # token B is worthless
    assert connection.last_error == message
    state = extrawest.state()
    assert state["clients"] == []
    assert state["token_a"] == [extrawest.token_a]  # a retry can use the same token A


def test_registration_accepts_null_optional_business_details(us: str, extrawest: Extrawest) -> None:
    extrawest.reset(business_details={"name": "Extrawest minimal eMSP"})

    connection = register(extrawest, token_a=extrawest.token_a)
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.represented_parties.get().website == ""
