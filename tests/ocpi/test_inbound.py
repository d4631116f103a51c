"""Inbound transport: authorization matrix, the envelope on every answer, request ids, and the
versions endpoints generated from what is mounted."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve
from django.utils import timezone

from apps.ocpi.adapters.partners.raw_token import PROFILE as RAW_TOKEN_PROFILE
from apps.ocpi.common.auth import authenticate
from apps.ocpi.common.errors import Unauthorized
from apps.ocpi.models import Direction, ExchangeLogEntry
from apps.ocpi.services.handshake import connection_invite
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection
from apps.partners.services import connection_issue_token
from tests.factories import ConnectionFactory, PartnerFactory

pytestmark = pytest.mark.django_db
V = VersionNumber.V2_2_1.value


def b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def registered(**kwargs: object) -> tuple[PartnerConnection, str]:
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED, **kwargs)
    return connection, connection_issue_token(connection=connection, registration=False)


def assert_envelope(body: dict[str, object], code: int) -> None:
    assert body["status_code"] == code
    assert isinstance(body["timestamp"], str)
    assert str(body["timestamp"]).endswith("Z")


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("Bearer abc", "must read 'Token"),
        ("Token", "must read 'Token"),
        (b64("no-such-token"), "unknown"),
    ],
)
def test_bad_authorization_gets_401_in_an_envelope(
    client: Client, header: str | None, why: str
) -> None:
    registered()
    response = client.get("/ocpi/versions", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    body = response.json()
    assert_envelope(body, 2000)
    assert why in body["status_message"]
    assert "data" not in body


def test_unencoded_token_only_for_profiles_that_allow_it(client: Client) -> None:
    _, token = registered()
    response = client.get("/ocpi/versions", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 401
    assert "Base64" in response.json()["status_message"]
    assert client.get("/ocpi/versions", headers={"Authorization": b64(token)}).status_code == 200

    _, raw = registered(adapter_profile=RAW_TOKEN_PROFILE)
    assert (
        client.get("/ocpi/versions", headers={"Authorization": f"Token {raw}"}).status_code == 200
    )
    assert client.get("/ocpi/versions", headers={"Authorization": b64(raw)}).status_code == 200


def test_registration_token_opens_only_configuration_modules_until_it_expires(
    client: Client, rf: RequestFactory
) -> None:
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    assert client.get("/ocpi/versions", headers={"Authorization": b64(token_a)}).status_code == 200
    assert client.get(f"/ocpi/{V}", headers={"Authorization": b64(token_a)}).status_code == 200
    request = rf.get(f"/ocpi/{V}/locations", headers={"Authorization": b64(token_a)})
    with pytest.raises(Unauthorized, match="only opens versions and credentials"):
        authenticate(request, version=V, allow_registration_token=False)
    assert authenticate(request, version=V, allow_registration_token=True)[0] == connection

    PartnerConnection.objects.filter(pk=connection.pk).update(
        issued_token_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("/ocpi/versions", headers={"Authorization": b64(token_a)})
    assert response.status_code == 401
    assert "expired" in response.json()["status_message"]


@pytest.mark.parametrize("status", [ConnectionStatus.SUSPENDED, ConnectionStatus.UNREGISTERED])
def test_suspended_and_unregistered_connections_are_refused(
    client: Client, status: ConnectionStatus
) -> None:
    connection, token = registered()
    PartnerConnection.objects.filter(pk=connection.pk).update(status=status)
    assert client.get("/ocpi/versions", headers={"Authorization": b64(token)}).status_code == 401


def test_a_replaced_token_stops_working(client: Client) -> None:
    connection, old = registered()
    new = connection_issue_token(connection=connection, registration=False)
    assert client.get("/ocpi/versions", headers={"Authorization": b64(old)}).status_code == 401
    assert client.get("/ocpi/versions", headers={"Authorization": b64(new)}).status_code == 200


def test_versions_and_details_list_what_is_mounted(client: Client) -> None:
    _, token = registered()
    response = client.get("/ocpi/versions", headers={"Authorization": b64(token)})
    body = response.json()
    assert_envelope(body, 1000)
    assert body["data"] == [{"version": V, "url": f"http://testserver/ocpi/{V}"}]

    details = client.get(f"/ocpi/{V}", headers={"Authorization": b64(token)}).json()["data"]
    assert details["version"] == V
    by_id = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
    assert by_id[("credentials", "SENDER")] == f"http://testserver/ocpi/{V}/credentials"
    # Every listed URL is mounted, with or without a trailing slash (a Receiver root may have
    # no GET of its own: 405, never 404).
    for url in by_id.values():
        path = url.removeprefix("http://testserver")
        for variant in (path, path + "/"):
            assert resolve(variant).url_name, variant
            answer = client.get(variant, headers={"Authorization": b64(token)})
            assert answer.status_code != 404, variant
    assert (
        client.get(f"/ocpi/{V}/credentials", headers={"Authorization": b64(token)}).status_code
        == 200
    )


def test_ids_are_echoed_or_generated_and_every_call_is_logged(client: Client) -> None:
    connection, token = registered()
    response = client.get(
        "/ocpi/versions",
        headers={
            "Authorization": b64(token),
            "X-Request-ID": "req-1",
            "X-Correlation-ID": "corr-1",
        },
    )
    assert response["X-Request-ID"] == "req-1"
    assert response["X-Correlation-ID"] == "corr-1"
    generated = client.get("/ocpi/versions", headers={"Authorization": b64(token)})
    assert len(generated["X-Request-ID"]) == 36
    assert len(generated["X-Correlation-ID"]) == 36
    entry = ExchangeLogEntry.objects.get(request_id="req-1")
    assert entry.direction == Direction.INBOUND
    assert entry.connection == connection
    assert (entry.method, entry.http_status, entry.ocpi_status) == ("GET", 200, 1000)
    assert entry.correlation_id == "corr-1"
    assert entry.module == "versions"
    assert entry.response_size > 0


def test_unknown_paths_methods_and_bad_json_still_get_an_envelope(client: Client) -> None:
    _, token = registered()
    auth = {"Authorization": b64(token)}
    response = client.get(f"/ocpi/{V}/no-such-module", headers=auth)
    assert response.status_code == 404
    assert_envelope(response.json(), 2000)
    response = client.patch(
        f"/ocpi/{V}/credentials", b"{}", content_type="application/json", headers=auth
    )
    assert response.status_code == 405
    assert_envelope(response.json(), 2000)
    response = client.put(
        f"/ocpi/{V}/credentials", b"{not json", content_type="application/json", headers=auth
    )
    assert response.status_code == 400
    assert_envelope(response.json(), 2001)
