"""HubClientInfo (spec 13): a hub pushes ClientInfo, we record each party's reachability, show it
in the admin, and can crawl the hub's list; nobody but the hub may push."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client, override_settings

from apps.core.models import AuditLogEntry
from apps.ocpi.services.hubclientinfo import hubclientinfo_pull
from apps.partners.enums import Reachability
from apps.partners.models import Party
from tests.ocpi.callers import partner_caller
from tests.ocpi.httpserver import OcpiPeer, Reply, envelope

pytestmark = pytest.mark.django_db

URL = "hubclientinfo/{cc}/{pid}"


def info(cc: str = "NL", pid: str = "ABC", status: str = "CONNECTED", **extra: str) -> dict:
    return {
        "party_id": pid,
        "country_code": cc,
        "role": "CPO",
        "status": status,
        "last_updated": "2026-11-01T10:00:00Z",
        **extra,
    }


def test_hub_push_creates_the_party_and_lets_the_hub_speak_for_it() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    response = hub.put(URL.format(cc="nl", pid="abc"), info())
    assert response.status_code == 201, response.json()
    assert response.json()["status_code"] == 1000
    party = Party.objects.get(country_code="NL", party_id="ABC")
    assert party.partner == hub.connection.partner
    assert party.roles == ["CPO"]
    assert party.reachability == Reachability.CONNECTED
    assert party.reachability_updated == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert party.reachability_via == hub.connection
    assert hub.connection.represented_parties.filter(pk=party.pk).exists()
    assert AuditLogEntry.objects.filter(action="party.reachability").count() == 1
    # No routing headers on a configuration module: the answer carries none either.
    assert "OCPI-to-party-id" not in response.headers

    got = hub.get(URL.format(cc="NL", pid="ABC"))
    assert got.status_code == 200
    assert got.json()["data"] == info()


def test_newer_report_updates_older_is_ignored() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    hub.put(URL.format(cc="NL", pid="ABC"), info())
    offline = info(status="OFFLINE", last_updated="2026-11-02T10:00:00Z")
    assert hub.put(URL.format(cc="NL", pid="ABC"), offline).status_code == 200
    late = info(status="CONNECTED", last_updated="2026-11-01T12:00:00Z")
    response = hub.put(URL.format(cc="NL", pid="ABC"), late)
    assert response.status_code == 200
    assert "older" in response.json()["status_message"]
    assert Party.objects.get(country_code="NL", party_id="ABC").reachability == "OFFLINE"


def test_a_known_party_of_another_partner_keeps_its_owner() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    direct = partner_caller("EMSP", country_code="NL", party_id="XYZ")
    hub.put(URL.format(cc="NL", pid="XYZ"), info(pid="XYZ", status="SUSPENDED"))
    party = Party.objects.get(country_code="NL", party_id="XYZ")
    assert party.partner == direct.connection.partner
    assert party.roles == ["EMSP"]
    assert party.reachability == "SUSPENDED"
    assert not hub.connection.represented_parties.filter(pk=party.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (info(status="GONE"), "status"),
        (info(role="KING"), "role"),
        ({**info(), "last_updated": "yesterday"}, "last_updated"),
        ({k: v for k, v in info().items() if k != "role"}, "role"),
        (info(pid="XYZ"), "party_id"),
    ],
)
def test_invalid_client_info_gets_2001_naming_the_field(body: dict, field: str) -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    response = hub.put(URL.format(cc="NL", pid="ABC"), body)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Party.objects.filter(country_code="NL", party_id="ABC").exists()


def test_only_a_hub_may_push_or_read() -> None:
    emsp = partner_caller("EMSP")
    response = emsp.put(URL.format(cc="NL", pid="ABC"), info())
    assert response.status_code == 403
    assert response.json()["status_code"] == 2000
    assert emsp.get(URL.format(cc="NL", pid="ABC")).status_code == 403
    assert not Party.objects.filter(country_code="NL", party_id="ABC").exists()


def test_a_hub_reads_only_what_it_reported() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    other_hub = partner_caller("HUB", country_code="FR", party_id="HUB")
    hub.put(URL.format(cc="NL", pid="ABC"), info())
    assert other_hub.get(URL.format(cc="NL", pid="ABC")).status_code == 404
    assert hub.get(URL.format(cc="NL", pid="QQQ")).status_code == 404


def test_root_url_has_no_methods() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    assert hub.get("hubclientinfo").status_code == 405


def test_pull_crawls_the_hubs_list(ocpi_peer: OcpiPeer) -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    connection = hub.connection
    connection.version = "2.2.1"
    connection.endpoints = [
        {"identifier": "hubclientinfo", "role": "SENDER", "url": ocpi_peer.url("/clientinfo")}
    ]
    connection.set_send_token("token-c-for-the-hub")
    connection.save()
    page2 = ocpi_peer.url("/clientinfo?offset=2&limit=2")
    ocpi_peer.queue(
        Reply(
            body=envelope([info(pid="AAA"), info(pid="BBB", status="PLANNED")]),
            headers={"Link": f'<{page2}>; rel="next"', "X-Total-Count": "3"},
        ),
        Reply(body=envelope([info(pid="CCC"), {"party_id": "bad"}])),
    )
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        report = hubclientinfo_pull(connection=connection)
    assert report.completed, report.error
    assert (report.pages, report.objects, report.invalid) == (2, 3, 1)
    assert set(
        Party.objects.filter(reachability_via=connection).values_list("party_id", "reachability")
    ) == {("AAA", "CONNECTED"), ("BBB", "PLANNED"), ("CCC", "CONNECTED")}
    assert ocpi_peer.requests[0].headers["Authorization"].startswith("Token ")


def test_admin_shows_reachability(staff_client: Client) -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    hub.put(URL.format(cc="NL", pid="ABC"), info(status="OFFLINE"))
    page = staff_client.get("/admin/partners/party/?reachability__exact=OFFLINE")
    assert page.status_code == 200
    assert b"ABC" in page.content
    assert b"Offline" in page.content
