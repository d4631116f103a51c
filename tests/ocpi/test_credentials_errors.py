"""Our credentials endpoint when a partner registers: every outcome the spec names, against a
scripted partner on a real local HTTP server."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from apps.ocpi.services.handshake import connection_invite
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection
from tests.factories import PartnerFactory
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope

pytestmark = pytest.mark.django_db
V = VersionNumber.V2_2_1.value
URL = f"/ocpi/{V}/credentials"


@pytest.fixture(autouse=True)
def _local_partners_allowed() -> Iterator[None]:
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def partner_credentials(peer: OcpiPeer, **overrides: Any) -> dict[str, Any]:
    body = {
        "token": "token-B-from-partner",
        "url": peer.url("/ocpi/versions"),
        "roles": [
            {
                "role": "EMSP",
                "party_id": "ABC",
                "country_code": "BE",
                "business_details": {"name": "ABC Mobility"},
            }
        ],
    }
    body.update(overrides)
    return body


def serve_partner(peer: OcpiPeer, *, versions: list[str], endpoints: list[str]) -> None:
    def handle(request: RecordedRequest) -> Reply:
        if request.path == "/ocpi/versions":
            return Reply(
                body=envelope([{"version": v, "url": peer.url(f"/ocpi/{v}")} for v in versions])
            )
        if request.path == f"/ocpi/{V}":
            return Reply(
                body=envelope(
                    {
                        "version": V,
                        "endpoints": [
                            {"identifier": e, "role": "RECEIVER", "url": peer.url(f"/ocpi/{V}/{e}")}
                            for e in endpoints
                        ],
                    }
                )
            )
        return Reply(status=404, body=b"not found", content_type="text/plain")

    peer.handler = handle


def post(client: Client, token: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(URL, body, content_type="application/json", headers=auth(token))


def test_registration_succeeds_and_token_a_dies(client: Client, ocpi_peer: OcpiPeer) -> None:
    serve_partner(ocpi_peer, versions=["2.1.1", V], endpoints=["credentials", "locations"])
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    response = post(client, token_a, partner_credentials(ocpi_peer))
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    token_c = body["data"]["token"]
    assert token_c != token_a
    assert body["data"]["url"] == "http://testserver/ocpi/versions"
    assert {(r["country_code"], r["party_id"], r["role"]) for r in body["data"]["roles"]} == {
        ("NL", "RDK", "CPO"),
        ("NL", "RDK", "EMSP"),
    }
    # We called the partner with its token B, Base64-encoded.
    assert (
        ocpi_peer.requests[0].headers["Authorization"]
        == auth("token-B-from-partner")["Authorization"]
    )
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.send_token == "token-B-from-partner"
    assert connection.endpoint_url("locations", "RECEIVER") == ocpi_peer.url(f"/ocpi/{V}/locations")
    assert [p.code for p in connection.represented_parties.all()] == ["BE*ABC"]
    assert client.get(URL, headers=auth(token_a)).status_code == 401
    # GET returns our credentials with the token the caller uses.
    mine = client.get(URL, headers=auth(token_c)).json()["data"]
    assert mine["token"] == token_c
    # Registered: POST again is 405; PUT works and issues yet another token.
    again = post(client, token_c, partner_credentials(ocpi_peer))
    assert again.status_code == 405
    put = post(client, token_c, partner_credentials(ocpi_peer, token="token-B2"), "put")
    assert put.json()["status_code"] == 1000
    assert put.json()["data"]["token"] not in (token_a, token_c)
    connection.refresh_from_db()
    assert connection.send_token == "token-B2"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("versions", "endpoints", "code", "words"),
    [
        (None, None, 3001, "cannot GET"),
        (["2.1.1"], ["credentials"], 3002, "does not offer"),
        ([V], ["locations"], 3003, "credentials"),
    ],
)
def test_registration_errors(
    client: Client,
    ocpi_peer: OcpiPeer,
    versions: list[str] | None,
    endpoints: list[str] | None,
    code: int,
    words: str,
) -> None:
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    if versions is None:
        body = partner_credentials(ocpi_peer, url=f"http://127.0.0.1:{closed_port()}/versions")
    else:
        serve_partner(ocpi_peer, versions=versions, endpoints=endpoints or [])
        body = partner_credentials(ocpi_peer)
    response = post(client, token_a, body)
    assert response.status_code == 200
    assert response.json()["status_code"] == code
    assert words in response.json()["status_message"]
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.PENDING
    assert words in connection.last_error
    # Nothing was stored, and the partner may fix its side and try again with token A.
    assert connection.send_token is None
    assert client.get(f"/ocpi/{V}", headers=auth(token_a)).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"roles": []}, "roles"),
        ({"token": "has space"}, "token"),
        ({"url": "not a url"}, "url"),
        (
            {"roles": [{"role": "PIRATE", "party_id": "ABC", "country_code": "BE",
                        "business_details": {"name": "x"}}]},
            "roles[0].role",
        ),
    ],
)  # fmt: skip
def test_invalid_credentials_get_2001_naming_the_field(
    client: Client, ocpi_peer: OcpiPeer, change: dict[str, Any], field: str
) -> None:
    _, token_a = connection_invite(partner=PartnerFactory.create())
    response = post(client, token_a, partner_credentials(ocpi_peer, **change))
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(field)
    assert ocpi_peer.requests == []  # refused before calling the partner


def test_a_partner_cannot_claim_our_own_party(client: Client, ocpi_peer: OcpiPeer) -> None:
    serve_partner(ocpi_peer, versions=[V], endpoints=["credentials"])
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    roles = [{"role": "CPO", "party_id": "RDK", "country_code": "NL",
              "business_details": {"name": "impostor"}}]  # fmt: skip
    response = post(client, token_a, partner_credentials(ocpi_peer, roles=roles))
    assert response.json()["status_code"] == 2001
    assert "our own party" in response.json()["status_message"]
    assert PartnerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.PENDING


def test_put_and_delete_need_a_registration(client: Client, ocpi_peer: OcpiPeer) -> None:
    _, token_a = connection_invite(partner=PartnerFactory.create())
    assert post(client, token_a, partner_credentials(ocpi_peer), "put").status_code == 405
    assert post(client, token_a, {}, "put").status_code == 405  # state is checked first
    response = client.delete(URL, headers=auth(token_a))
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
    assert ocpi_peer.requests == []
