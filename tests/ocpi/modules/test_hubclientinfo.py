"""HubClientInfo (spec 13): a hub pushes ClientInfo, we record each party's reachability, show it
in the admin, and can crawl the hub's list; nobody but the hub may push."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client, override_settings

from apps.core.models import AuditLogEntry
from apps.ocpi.services.handshake import connection_invite
from apps.ocpi.services.hubclientinfo import hubclientinfo_pull
from apps.partners.enums import Reachability
from apps.partners.models import Party
from tests.factories import PartnerFactory
from tests.ocpi.callers import own_party, partner_caller
from tests.ocpi.httpserver import OcpiPeer, Reply, envelope
from tests.ocpi.test_credentials_errors import partner_credentials, post, serve_partner

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
    assert party.provisional  # only the hub says so: the party's own registration may claim it
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


def assert_refused(response: Any, words: str) -> None:
    assert response.status_code == 404, response.json()
    assert response.json()["status_code"] == 2000
    assert words in response.json()["status_message"]


def test_a_hub_cannot_report_on_a_party_it_does_not_represent() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    direct = partner_caller("EMSP", country_code="NL", party_id="XYZ")
    response = hub.put(URL.format(cc="NL", pid="XYZ"), info(pid="XYZ", status="SUSPENDED"))
    assert_refused(response, "NL*XYZ is not one this hub represents")
    party = Party.objects.get(country_code="NL", party_id="XYZ")
    assert party.partner == direct.connection.partner
    assert party.roles == ["EMSP"]
    assert (party.reachability, party.reachability_via) == ("", None)
    assert not hub.connection.represented_parties.filter(pk=party.pk).exists()
    assert not AuditLogEntry.objects.filter(action="party.reachability").exists()
    assert hub.get(URL.format(cc="NL", pid="XYZ")).status_code == 404


def test_a_hub_cannot_report_on_our_own_party() -> None:
    ours = own_party("CPO", "EMSP")
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    response = hub.put(URL.format(cc="nl", pid="rdk"), info(cc="nl", pid="rdk", status="OFFLINE"))
    assert_refused(response, "NL*RDK is one of our own")
    ours.refresh_from_db()
    assert ours.partner is None
    assert ours.roles == ["CPO", "EMSP"]
    assert (ours.reachability, ours.reachability_updated, ours.reachability_via) == ("", None, None)
    assert not hub.connection.represented_parties.filter(pk=ours.pk).exists()
    assert not AuditLogEntry.objects.filter(action="party.reachability").exists()


def test_a_hub_reports_on_a_party_it_represents_but_not_on_another_hubs() -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    direct = partner_caller("CPO", country_code="NL", party_id="XYZ")
    hub.connection.represented_parties.add(direct.party)  # relaying for it, as agreed
    response = hub.put(URL.format(cc="NL", pid="XYZ"), info(pid="XYZ", status="OFFLINE"))
    assert response.status_code == 200, response.json()
    direct.party.refresh_from_db()
    assert (direct.party.partner, direct.party.reachability) == (
        direct.connection.partner,
        "OFFLINE",
    )

    # A party another hub announced is that hub's until the party registers itself.
    hub.put(URL.format(cc="NL", pid="ABC"), info())
    other_hub = partner_caller("HUB", country_code="FR", party_id="HUB")
    late = info(status="SUSPENDED", last_updated="2026-11-02T10:00:00Z")
    assert_refused(other_hub.put(URL.format(cc="NL", pid="ABC"), late), "not one this hub")
    assert Party.objects.get(country_code="NL", party_id="ABC").reachability == "CONNECTED"


def test_a_party_a_hub_announced_can_still_register_directly(
    client: Client, ocpi_peer: OcpiPeer
) -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    assert hub.put(URL.format(cc="BE", pid="ABC"), info(cc="BE", pid="ABC")).status_code == 201
    serve_partner(ocpi_peer, versions=["2.2.1"], endpoints=["credentials", "locations"])
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        response = post(client, token_a, partner_credentials(ocpi_peer))
    assert response.json()["status_code"] == 1000, response.json()

    party = Party.objects.get(country_code="BE", party_id="ABC")
    assert party.partner == connection.partner
    assert not party.provisional
    assert party.roles == ["EMSP"]
    assert party.name == "ABC Mobility"
    assert (party.reachability, party.reachability_via) == ("", None)
    assert list(party.connections.all()) == [connection]
    claim = AuditLogEntry.objects.get(action="party.claimed")
    assert claim.before["partner"] == hub.connection.partner_id
    assert claim.after["partner"] == connection.partner_id
    # The hub no longer speaks for it.
    again = info(cc="BE", pid="ABC", status="OFFLINE", last_updated="2026-11-02T10:00:00Z")
    assert_refused(hub.put(URL.format(cc="BE", pid="ABC"), again), "not one this hub represents")
    assert hub.get(URL.format(cc="BE", pid="ABC")).status_code == 404


def test_a_party_registered_directly_is_not_claimed_by_another_registration(
    client: Client, ocpi_peer: OcpiPeer
) -> None:
    direct = partner_caller("EMSP", country_code="BE", party_id="ABC")
    serve_partner(ocpi_peer, versions=["2.2.1"], endpoints=["credentials", "locations"])
    _, token_a = connection_invite(partner=PartnerFactory.create())
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        response = post(client, token_a, partner_credentials(ocpi_peer))
    assert response.json()["status_code"] == 2001
    assert "belongs to another partner" in response.json()["status_message"]
    assert Party.objects.get(country_code="BE", party_id="ABC").partner == direct.connection.partner


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
        Reply(
            body=envelope([info(pid="CCC"), {"party_id": "bad"}, info(pid="RDK"), info(pid="XYZ")])
        ),
    )
    ours = own_party("CPO")
    direct = partner_caller("EMSP", country_code="NL", party_id="XYZ")
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        report = hubclientinfo_pull(connection=connection)
    assert report.completed, report.error
    # Our own party and a party the hub does not represent are refused like invalid objects.
    assert (report.pages, report.objects, report.invalid) == (2, 3, 3)
    assert set(
        Party.objects.filter(reachability_via=connection).values_list("party_id", "reachability")
    ) == {("AAA", "CONNECTED"), ("BBB", "PLANNED"), ("CCC", "CONNECTED")}
    for party in (ours, direct.party):
        party.refresh_from_db()
        assert (party.reachability, party.reachability_via) == ("", None)
    assert ours.partner is None
    assert ocpi_peer.requests[0].headers["Authorization"].startswith("Token ")


def test_admin_shows_reachability(staff_client: Client) -> None:
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    hub.put(URL.format(cc="NL", pid="ABC"), info(status="OFFLINE"))
    page = staff_client.get("/admin/partners/party/?reachability__exact=OFFLINE")
    assert page.status_code == 200
    assert b"ABC" in page.content
    assert b"Offline" in page.content
