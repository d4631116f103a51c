"""The outbox pushes every change a partner should see: Locations (PUT), EVSE statuses (PATCH,
coalesced), Tariffs (PUT / DELETE), Sessions (PUT) and, as eMSP, Tokens (PUT), each only to the
partners it is published to, with the routing headers of spec 2.11; initial loads per module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.locations.models import Location
from apps.locations.services import evse_status_set, evse_upsert, location_upsert
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.ocpi.services.delivery import (
    connection_push_all,
    deliveries_claim,
    deliveries_run,
    delivery_attempt,
)
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus, PublishScope
from apps.partners.models import Partner, PartnerConnection, Party
from apps.tariffs.models import Tariff
from apps.tariffs.services import tariff_publish_version
from apps.tokens.services import TokenData, token_patch, token_upsert
from tests.factories import T0, ConnectionFactory, PartyFactory, SessionFactory
from tests.factories.locations import location_with_evses
from tests.factories.tariffs_cdrs import energy_content, published_tariff
from tests.ocpi.callers import own_party
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope

pytestmark = pytest.mark.django_db

MODULES = ("locations", "tariffs", "sessions", "cdrs", "tokens")


@pytest.fixture(autouse=True)
def _fast_outbox() -> Iterator[None]:
    with override_settings(
        OCPI_OUTBOUND_ALLOW_LOCAL=True,
        OCPI_DELIVERY_BACKOFF_BASE=10.0,
        OCPI_DELIVERY_MAX_ATTEMPTS=4,
        OCPI_OUTBOUND_TIMEOUT=2,
    ):
        yield


@pytest.fixture
def cpo() -> Party:
    return own_party("CPO")


def connection_to(
    peer: OcpiPeer,
    *,
    code: str = "EMP",
    roles: tuple[str, ...] = ("EMSP",),
    modules: tuple[str, ...] = MODULES,
    prefix: str = "",
    partner: Partner | None = None,
) -> PartnerConnection:
    """A connected partner whose Receiver endpoints of ``modules`` are on ``peer``."""
    kwargs = {"partner": partner} if partner else {}
    connection = ConnectionFactory.create(
        status=ConnectionStatus.CONNECTED,
        version=VersionNumber.V2_2_1.value,
        endpoints=[
            {"identifier": m, "role": "RECEIVER", "url": peer.url(f"{prefix}/{m}")} for m in modules
        ],
        **kwargs,
    )
    connection.set_send_token(f"token-of-{code}")
    connection.save()
    party = PartyFactory.create(
        partner=connection.partner, country_code="DE", party_id=code, roles=list(roles)
    )
    connection.represented_parties.set([party])
    return connection


def announce(kind: ChangeKind, object_id: int) -> None:
    with transaction.atomic():
        change_announce(DomainChange(kind=kind, object_id=object_id))


def rename(location: Location, name: str, *, at: timedelta = timedelta(minutes=1)) -> None:
    """Our own tool changes the location (a partial write through the real service)."""
    location_upsert(
        party=location.party,
        location_id=location.location_id,
        data={"name": name, "last_updated": T0 + at},
        source_connection=None,
        partial=True,
    )


def routed(request: RecordedRequest) -> tuple[str, str, str, str]:
    h = request.headers
    return (
        h["OCPI-from-country-code"],
        h["OCPI-from-party-id"],
        h.get("OCPI-to-country-code", ""),
        h.get("OCPI-to-party-id", ""),
    )


def pending(connection: PartnerConnection | None = None) -> list[tuple[str, int]]:
    rows = OutboundDelivery.objects.filter(status=DeliveryStatus.PENDING)
    if connection is not None:
        rows = rows.filter(connection=connection)
    return sorted(rows.values_list("kind", "object_id"))


# -- Locations ---------------------------------------------------------------------------------
def test_a_location_change_puts_the_whole_location(ocpi_peer: OcpiPeer, cpo: Party) -> None:
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=2, connectors=1, location_id="LOC1")
    rename(location, "Station Utrecht")
    assert pending(connection) == [("location", location.pk)]

    report = deliveries_run(connection_id=connection.pk)
    assert (report.claimed, report.delivered) == (1, 1)
    request = ocpi_peer.last
    assert (request.method, request.path) == ("PUT", "/locations/NL/RDK/LOC1")
    assert routed(request) == ("NL", "RDK", "DE", "EMP")
    body = request.json()
    assert (body["country_code"], body["party_id"], body["id"]) == ("NL", "RDK", "LOC1")
    assert body["name"] == "Station Utrecht"
    assert body["last_updated"] == "2026-10-01T08:01:00Z"
    assert [len(e["connectors"]) for e in body["evses"]] == [1, 1]
    assert OutboundDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_locations_go_only_where_they_are_published(ocpi_peer: OcpiPeer, cpo: Party) -> None:
    a = connection_to(ocpi_peer, code="EMA")
    b = connection_to(ocpi_peer, code="EMB")
    no_endpoint = connection_to(ocpi_peer, code="EMC", modules=("cdrs",))
    suspended = connection_to(ocpi_peer, code="EMD")
    suspended.status = ConnectionStatus.SUSPENDED
    suspended.save()
    pending_conn = connection_to(ocpi_peer, code="EME")
    pending_conn.status = ConnectionStatus.PENDING
    pending_conn.save()

    everyone = location_with_evses(party=cpo, evses=1)
    only_a = location_with_evses(
        party=cpo, evses=1, publish_scope=PublishScope.SELECTED, publish_partners=[a.partner]
    )
    nobody = location_with_evses(party=cpo, evses=1, publish_scope=PublishScope.NONE)
    theirs = location_with_evses(party=PartyFactory.create(roles=["CPO"]), evses=1)
    for location in (everyone, only_a, nobody):
        rename(location, "changed")
    announce(ChangeKind.LOCATION, theirs.pk)  # a partner's copy is never pushed

    assert pending(a) == sorted([("location", everyone.pk), ("location", only_a.pk)])
    assert pending(b) == [("location", everyone.pk)]
    assert pending(suspended) == [("location", everyone.pk)]  # held, sent when it resumes
    assert pending(no_endpoint) == pending(pending_conn) == []
    assert OutboundDelivery.objects.filter(object_id__in=[nobody.pk, theirs.pk]).count() == 0


def test_an_older_location_state_is_never_delivered_after_a_newer_one(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=1, location_id="LOC1")
    rename(location, "v1", at=timedelta(minutes=1))
    first = deliveries_claim(connection_id=connection.pk, claim_token="worker-a")
    assert len(first) == 1

    # A newer change while the first push is in flight: a new row, not claimable meanwhile.
    rename(location, "v2", at=timedelta(minutes=2))
    assert pending(connection) == [("location", location.pk)]
    assert deliveries_claim(connection_id=connection.pk, claim_token="worker-b") == []

    # The in-flight row renders the state at send time (already v2), then the next row goes.
    assert delivery_attempt(first[0], "worker-a") == DeliveryStatus.DELIVERED
    second = deliveries_claim(connection_id=connection.pk, claim_token="worker-b")
    assert len(second) == 1
    assert second != first
    assert delivery_attempt(second[0], "worker-b") == DeliveryStatus.DELIVERED

    sent = [(r.json()["name"], r.json()["last_updated"]) for r in ocpi_peer.requests]
    assert sent == [("v2", "2026-10-01T08:02:00Z")] * 2
    assert sorted(sent, key=lambda s: s[1]) == sent  # never backwards


# -- EVSE statuses -----------------------------------------------------------------------------
def set_status(location: Location, uid: str, status: str, minute: int) -> None:
    evse_upsert(
        party=location.party,
        location_id=location.location_id,
        uid=uid,
        data={"status": status, "last_updated": T0 + timedelta(minutes=minute)},
        source_connection=None,
        partial=True,
    )


def test_five_status_changes_of_one_evse_send_one_patch_with_the_last(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=1, location_id="LOC1")
    uid = location.evses.get().uid
    for minute, status in enumerate(
        ["CHARGING", "AVAILABLE", "BLOCKED", "CHARGING", "OUTOFORDER"], start=1
    ):
        set_status(location, uid, status, minute)
    evse = location.evses.get()
    assert OutboundDelivery.objects.filter(kind="evse_status").count() == 1
    assert pending(connection) == [("evse_status", evse.pk)]  # not a location push

    report = deliveries_run(connection_id=connection.pk)
    assert (report.claimed, report.delivered) == (1, 1)
    assert len(ocpi_peer.requests) == 1
    request = ocpi_peer.last
    assert (request.method, request.path) == ("PATCH", f"/locations/NL/RDK/LOC1/{uid}")
    assert routed(request) == ("NL", "RDK", "DE", "EMP")
    assert request.json() == {"status": "OUTOFORDER", "last_updated": "2026-10-01T08:05:00Z"}


def test_a_status_set_by_the_charge_point_backend_is_pushed_and_moves_the_location(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    """The simulator and the admin change statuses through ``evse_status_set``, not an upsert."""
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=1, location_id="LOC1")
    evse = location.evses.get()
    evse_status_set(evse=evse, status="CHARGING", changed_at=T0 + timedelta(minutes=3))
    assert pending(connection) == [("evse_status", evse.pk)]
    location.refresh_from_db()
    assert location.last_updated == T0 + timedelta(minutes=3)
    deliveries_run(connection_id=connection.pk)
    assert ocpi_peer.last.json() == {"status": "CHARGING", "last_updated": "2026-10-01T08:03:00Z"}


def test_status_changes_of_several_evses_go_in_one_run(ocpi_peer: OcpiPeer, cpo: Party) -> None:
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=3, location_id="LOC1")
    uids = sorted(location.evses.values_list("uid", flat=True))
    for minute, uid in enumerate(uids, start=1):
        set_status(location, uid, "CHARGING", minute)
        set_status(location, uid, "AVAILABLE", minute + 10)  # coalesced with the first

    report = deliveries_run(connection_id=connection.pk, max_batches=1)  # one claimed batch
    assert (report.claimed, report.delivered) == (3, 3)
    assert sorted(r.path for r in ocpi_peer.requests) == [
        f"/locations/NL/RDK/LOC1/{uid}" for uid in uids
    ]
    assert {r.json()["status"] for r in ocpi_peer.requests} == {"AVAILABLE"}


def test_a_status_patch_the_partner_cannot_place_becomes_a_location_put(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    connection = connection_to(ocpi_peer)
    location = location_with_evses(party=cpo, evses=1, location_id="LOC1")
    set_status(location, location.evses.get().uid, "CHARGING", 1)
    ocpi_peer.queue(
        Reply(status=404, body=envelope(status_code=2003, status_message="unknown location")),
        Reply(body=envelope()),
    )
    report = deliveries_run(connection_id=connection.pk)
    assert report.delivered == 1
    assert [(r.method, r.path) for r in ocpi_peer.requests] == [
        ("PATCH", f"/locations/NL/RDK/LOC1/{location.evses.get().uid}"),
        ("PUT", "/locations/NL/RDK/LOC1"),
    ]
    assert ocpi_peer.last.json()["evses"][0]["status"] == "CHARGING"


# -- Tariffs -----------------------------------------------------------------------------------
def test_a_published_tariff_version_is_put_where_it_is_published(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    a = connection_to(ocpi_peer, code="EMA")
    b = connection_to(ocpi_peer, code="EMB")
    everyone = published_tariff(cpo, tariff_id="T-ALL")
    only_b = published_tariff(
        cpo, tariff_id="T-B", scope=PublishScope.SELECTED, partners=[b.partner]
    )
    hidden = published_tariff(cpo, tariff_id="T-NONE", scope=PublishScope.NONE)
    assert pending(a) == [("tariff", everyone.pk)]
    assert pending(b) == sorted([("tariff", everyone.pk), ("tariff", only_b.pk)])
    assert not OutboundDelivery.objects.filter(object_id=hidden.pk, kind="tariff").exists()

    # A second version before the push: one row, the newest version goes.
    tariff_publish_version(
        tariff=everyone, content=energy_content("0.31", updated=T0 + timedelta(hours=1))
    )
    assert pending(a) == [("tariff", everyone.pk)]
    deliveries_run(connection_id=a.pk)
    request = ocpi_peer.last
    assert (request.method, request.path) == ("PUT", "/tariffs/NL/RDK/T-ALL")
    assert routed(request) == ("NL", "RDK", "DE", "EMA")
    body = request.json()
    assert (body["id"], body["currency"]) == ("T-ALL", "EUR")
    assert str(body["elements"][0]["price_components"][0]["price"]) == "0.31"
    assert body["last_updated"] == "2026-10-01T09:00:00Z"


def test_a_withdrawn_tariff_is_deleted(ocpi_peer: OcpiPeer, cpo: Party) -> None:
    connection = connection_to(ocpi_peer)
    tariff = published_tariff(cpo, tariff_id="T1")  # its PUT is still pending ...
    with transaction.atomic():  # ... when it is withdrawn: only the DELETE goes
        Tariff.objects.filter(pk=tariff.pk).update(deleted_at=timezone.now())
        change_announce(DomainChange(kind=ChangeKind.TARIFF, object_id=tariff.pk))
    assert pending(connection) == [("tariff", tariff.pk)]
    report = deliveries_run(connection_id=connection.pk)
    assert report.delivered == 1
    assert [(r.method, r.path, r.body) for r in ocpi_peer.requests] == [
        ("DELETE", "/tariffs/NL/RDK/T1", b"")
    ]
    assert routed(ocpi_peer.last) == ("NL", "RDK", "DE", "EMP")


# -- Sessions ----------------------------------------------------------------------------------
def test_a_session_goes_to_the_emsp_of_its_token(ocpi_peer: OcpiPeer, cpo: Party) -> None:
    emp = connection_to(ocpi_peer, code="EMP")
    other = connection_to(ocpi_peer, code="OTH")
    session = SessionFactory.create(party=cpo, session_id="S-1", token_party_id="EMP")
    theirs = SessionFactory.create(party=PartyFactory.create(), token_party_id="EMP")
    announce(ChangeKind.SESSION, session.pk)
    announce(ChangeKind.SESSION, theirs.pk)
    assert pending(emp) == [("session", session.pk)]
    assert pending(other) == []

    deliveries_run(connection_id=emp.pk)
    request = ocpi_peer.last
    assert (request.method, request.path) == ("PUT", "/sessions/NL/RDK/S-1")
    assert routed(request) == ("NL", "RDK", "DE", "EMP")
    body = request.json()
    assert (body["id"], body["status"], body["cdr_token"]["party_id"]) == ("S-1", "ACTIVE", "EMP")


# -- Tokens (we are the eMSP) ------------------------------------------------------------------
def token_data(party: Party, uid: str, *, valid: bool = True, minute: int = 0) -> TokenData:
    return TokenData(
        country_code=party.country_code,
        party_id=party.party_id,
        uid=uid,
        type="APP_USER",
        contract_id="NL-RDK-C00000001",
        issuer="roamdesk",
        valid=valid,
        whitelist="ALLOWED",
        last_updated=T0 + timedelta(minutes=minute),
    )


def test_our_token_changes_are_put_to_every_cpo(ocpi_peer: OcpiPeer) -> None:
    emsp = own_party("EMSP")
    cpo_a = connection_to(ocpi_peer, code="CPA", roles=("CPO",), modules=("tokens",))
    cpo_b = connection_to(ocpi_peer, code="CPB", roles=("CPO",), modules=("tokens",))
    emsp_only = connection_to(ocpi_peer, code="EMX", modules=("locations",))
    token = token_upsert(party=emsp, data=token_data(emsp, "APP-1")).obj
    token_patch(token=token, changes={"valid": False, "last_updated": T0 + timedelta(minutes=5)})
    # A partner's token (a copy we hold as CPO) is not ours to push.
    token_upsert(party=PartyFactory.create(roles=["EMSP"]), data=token_data(emsp, "THEIRS"))
    assert pending(cpo_a) == pending(cpo_b) == [("token", token.pk)]
    assert pending(emsp_only) == []

    report = deliveries_run()
    assert (report.claimed, report.delivered) == (2, 2)
    by_party = {r.headers["OCPI-to-party-id"]: r for r in ocpi_peer.requests}
    assert sorted(by_party) == ["CPA", "CPB"]
    request = by_party["CPA"]
    assert (request.method, request.path) == ("PUT", "/tokens/NL/RDK/APP-1")
    assert request.query == {"type": ["APP_USER"]}
    assert routed(request) == ("NL", "RDK", "DE", "CPA")
    body = request.json()
    assert (body["uid"], body["type"], body["valid"]) == ("APP-1", "APP_USER", False)
    assert body["last_updated"] == "2026-10-01T08:05:00Z"


# -- routing through a hub and to multi-party platforms ------------------------------------------
def test_shared_data_is_addressed_to_a_hub_or_to_the_first_receiving_party(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    hub = connection_to(ocpi_peer, code="HUB", roles=("HUB",), prefix="/hub")
    PartyFactory.create(partner=hub.partner, country_code="DE", party_id="HE1", roles=["EMSP"])
    hub.represented_parties.add(*Party.objects.filter(party_id="HE1"))
    multi = connection_to(ocpi_peer, code="NSP", roles=("NSP",), prefix="/multi")
    emsp = PartyFactory.create(partner=multi.partner, party_id="MEM", roles=["EMSP"])
    multi.represented_parties.add(emsp)

    location = location_with_evses(party=cpo, evses=1, location_id="LOC1")
    rename(location, "changed")
    deliveries_run()
    to = {r.path.split("/")[1]: routed(r)[2:] for r in ocpi_peer.requests}
    assert to == {"hub": ("DE", "HUB"), "multi": ("DE", "MEM")}


# -- initial load --------------------------------------------------------------------------------
def test_initial_load_queues_everything_published_to_the_partner(
    ocpi_peer: OcpiPeer, cpo: Party
) -> None:
    own_party("CPO", "EMSP")
    connection = connection_to(ocpi_peer, code="EMP")
    OutboundDelivery.objects.all().delete()
    location_with_evses(party=cpo, evses=2)
    location_with_evses(party=cpo, evses=1)
    location_with_evses(
        party=cpo, evses=1, publish_scope=PublishScope.SELECTED, publish_partners=[]
    )
    location_with_evses(party=PartyFactory.create(), evses=1)  # a partner's
    published_tariff(cpo, tariff_id="T1")
    published_tariff(cpo, tariff_id="T2", scope=PublishScope.NONE)
    SessionFactory.create(party=cpo, token_party_id="EMP")
    SessionFactory.create(party=cpo, token_party_id="OTH")
    token_upsert(party=cpo, data=token_data(cpo, "APP-1"))
    OutboundDelivery.objects.all().delete()  # what the changes above recorded

    counts = connection_push_all(connection=connection)
    assert counts == {"cdrs": 0, "locations": 2, "tariffs": 1, "sessions": 1, "tokens": 1}
    assert OutboundDelivery.objects.filter(connection=connection).count() == 5
    assert not OutboundDelivery.objects.filter(kind__in=["evse_status", "command_result"]).exists()

    OutboundDelivery.objects.all().delete()
    assert connection_push_all(connection=connection, module="locations") == {"locations": 2}
    report = deliveries_run(connection_id=connection.pk)
    assert report.delivered == 2
    assert {r.method for r in ocpi_peer.requests} == {"PUT"}
