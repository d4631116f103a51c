"""ChargingProfiles, eMSP side (spec 12.2): we send set / get-active / clear to a CPO (a scripted
peer), receive its results on our response_url over real HTTP, and take its ActiveChargingProfile
pushes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.ocpi.common.client import OcpiClient, OcpiResponse, RoutingHeaders
from apps.ocpi.services.charging_profiles import (
    charging_profile_clear_send,
    charging_profile_get_active_send,
    charging_profile_set_send,
)
from apps.ocpi.tasks import charging_profile_send
from apps.partners.models import Party
from apps.smart_charging.enums import RequestStatus
from apps.smart_charging.models import ChargingProfileRequest, ReportedActiveProfile
from tests.factories import SessionFactory
from tests.factories.smart_charging import charging_profile
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.httpserver import OcpiPeer, envelope

RECEIVER = "/ocpi/cpo/2.2.1/chargingprofiles"
SENDER = "emsp/chargingprofiles"


@dataclass
class Emsp:
    ours: Party
    cpo: Caller  # the CPO's connection, as it calls us
    session: ChargingSession  # our copy of the CPO's session, charged with our token
    peer: OcpiPeer

    @property
    def connection(self) -> Any:
        return self.cpo.connection

    def post_result(self, url: str, body: Any, *, token: str | None = None) -> OcpiResponse:
        """The CPO POSTs a result to our response_url, over HTTP."""
        routing = RoutingHeaders(
            to_country_code=self.ours.country_code,
            to_party_id=self.ours.party_id,
            from_country_code=self.cpo.party.country_code,
            from_party_id=self.cpo.party.party_id,
        )
        with OcpiClient(token=token or self.cpo.token) as client:
            return client.post(url, json=body, routing=routing, module="chargingprofiles")


@pytest.fixture
def emsp(ocpi_peer: OcpiPeer) -> Iterator[Emsp]:
    ours = own_party("EMSP")
    cpo = partner_caller("CPO", country_code="DE", party_id="CPX")
    cpo.to = ours
    connection = cpo.connection
    connection.version = "2.2.1"
    connection.endpoints = [
        {"identifier": "chargingprofiles", "role": "RECEIVER", "url": ocpi_peer.url(RECEIVER)}
    ]
    connection.set_send_token("their-token")
    connection.save()
    session = SessionFactory.create(
        party=cpo.party,
        source_connection=connection,
        token_country_code=ours.country_code,
        token_party_id=ours.party_id,
    )
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield Emsp(ours=ours, cpo=cpo, session=session, peer=ocpi_peer)


def accepted(timeout: int = 20) -> bytes:
    return envelope({"result": "ACCEPTED", "timeout": timeout})


# -- over real HTTP: the CPO calls our response_url ---------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_set_profile_is_sent_and_its_result_received_on_our_response_url(
    us: str, emsp: Emsp
) -> None:
    emsp.peer.reply(accepted())
    request = charging_profile_set_send(
        connection=emsp.connection,
        session=emsp.session,
        profile=charging_profile((0, "11"), (1800, "6.5")),
    )
    assert request.status == RequestStatus.PENDING
    assert request.response_url == (
        f"{us}/ocpi/2.2.1/emsp/chargingprofiles/results/{request.reference}"
    )
    assert charging_profile_send(request.pk) == RequestStatus.AWAITING_RESULT  # the worker's job

    sent = emsp.peer.last
    assert (sent.method, sent.path) == ("PUT", f"{RECEIVER}/{emsp.session.session_id}")
    assert sent.json() == {
        "charging_profile": {
            "charging_rate_unit": "A",
            "charging_profile_period": [
                {"start_period": 0, "limit": 11},
                {"start_period": 1800, "limit": Decimal("6.5")},
            ],
        },
        "response_url": request.response_url,
    }
    assert sent.headers["Authorization"] == "Token " + base64.b64encode(b"their-token").decode()
    assert (sent.headers["OCPI-to-country-code"], sent.headers["OCPI-to-party-id"]) == (
        "DE",
        "CPX",
    )
    assert sent.headers["OCPI-from-party-id"] == emsp.ours.party_id
    request.refresh_from_db()
    assert (request.response_result, request.response_timeout) == ("ACCEPTED", 20)
    assert request.deadline_at is not None
    assert request.response_ms is not None

    answer = emsp.post_result(request.response_url, {"result": "ACCEPTED"})
    assert answer.ok, answer.status_message
    assert answer.data is None
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.COMPLETED, "ACCEPTED")
    assert request.result_ms is not None


@pytest.mark.django_db(transaction=True)
def test_get_active_result_is_stored_as_the_sessions_active_profile(us: str, emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    request = charging_profile_get_active_send(
        connection=emsp.connection, session=emsp.session, duration=900
    )
    charging_profile_send(request.pk)
    sent = emsp.peer.last
    assert (sent.method, sent.path) == ("GET", f"{RECEIVER}/{emsp.session.session_id}")
    assert sent.query == {"duration": ["900"], "response_url": [request.response_url]}

    result = {
        "result": "ACCEPTED",
        "profile": {
            "start_date_time": "2026-10-01T08:00:00Z",
            "charging_profile": {
                "start_date_time": "2026-10-01T08:00:00Z",
                "duration": 900,
                "charging_rate_unit": "W",
                "min_charging_rate": Decimal("1400.0"),
                "charging_profile_period": [
                    {"start_period": 0, "limit": 11000},
                    {"start_period": 600, "limit": Decimal("7400.5")},
                ],
            },
        },
    }
    assert emsp.post_result(request.response_url, result).ok
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.COMPLETED, "ACCEPTED")
    stored = ReportedActiveProfile.objects.get()
    assert (stored.connection, stored.session) == (emsp.connection, emsp.session)
    periods = stored.profile.charging_profile.periods
    assert [(p.start_period, p.limit) for p in periods] == [
        (0, Decimal(11000)),
        (600, Decimal("7400.5")),
    ]
    assert stored.profile.charging_profile.min_charging_rate == Decimal(1400)


@pytest.mark.django_db(transaction=True)
def test_results_come_only_from_the_connection_asked_and_must_be_valid(us: str, emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    request = charging_profile_clear_send(connection=emsp.connection, session=emsp.session)
    charging_profile_send(request.pk)
    sent = emsp.peer.last
    assert sent.method == "DELETE"
    assert sent.query == {"response_url": [request.response_url]}

    stranger = partner_caller("CPO", country_code="DE", party_id="OTH")
    routing = RoutingHeaders(
        to_country_code=emsp.ours.country_code,
        to_party_id=emsp.ours.party_id,
        from_country_code="DE",
        from_party_id="OTH",
    )
    with OcpiClient(token=stranger.token) as client:
        answer = client.post(request.response_url, json={"result": "ACCEPTED"}, routing=routing)
    assert (answer.http_status, answer.status_code) == (404, 2000)

    unknown = request.response_url.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    assert emsp.post_result(unknown, {"result": "ACCEPTED"}).http_status == 404

    invalid = emsp.post_result(request.response_url, {"result": "DONE"})
    assert invalid.status_code == 2001
    assert "result" in invalid.status_message
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_RESULT

    assert emsp.post_result(request.response_url, {"result": "UNKNOWN"}).ok
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.COMPLETED, "UNKNOWN")


# -- the CPO's immediate answers ------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "status", "noted"),
    [
        (envelope({"result": "UNKNOWN_SESSION", "timeout": 0}), RequestStatus.REFUSED, ""),
        (envelope({"result": "TOO_OFTEN", "timeout": 30}), RequestStatus.REFUSED, ""),
        (envelope({"result": "ACCEPTED"}), RequestStatus.FAILED, "timeout"),
        (envelope(status_code=2001, status_message="no"), RequestStatus.FAILED, "OCPI 2001"),
        (b"<html>oops</html>", RequestStatus.FAILED, "not JSON"),
    ],
)
def test_immediate_answers_that_are_not_accepted(
    emsp: Emsp, reply: bytes, status: str, noted: str
) -> None:
    emsp.peer.reply(reply)
    request = charging_profile_set_send(
        connection=emsp.connection, session=emsp.session, profile=charging_profile()
    )
    charging_profile_send(request.pk)
    request.refresh_from_db()
    assert request.status == status
    assert noted in request.note
    assert request.responded_at is not None
    # Sent once: a repeated task does not send again.
    assert charging_profile_send(request.pk) is None
    assert len(emsp.peer.requests) == 1


# -- ActiveChargingProfile pushes from the CPO ----------------------------------------------------
def active_body(start: str = "2026-10-01T08:00:00Z", limit: Any = 16) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "charging_profile": {
            "charging_rate_unit": "A",
            "charging_profile_period": [{"start_period": 0, "limit": limit}],
        },
    }


@pytest.mark.django_db
def test_active_profile_pushes_are_stored_newest_first(emsp: Emsp) -> None:
    url = f"{SENDER}/{emsp.session.session_id}"
    response = emsp.cpo.put(url, active_body())
    assert (response.status_code, response.json()["status_code"]) == (200, 1000)
    stored = ReportedActiveProfile.objects.get()
    assert (stored.session, stored.session_ref) == (emsp.session, emsp.session.session_id)
    assert stored.profile.charging_profile.periods[0].limit == 16

    newer = emsp.cpo.put(url.lower(), active_body("2026-10-01T08:05:00Z", Decimal("10.5")))
    assert newer.json()["status_code"] == 1000
    older = emsp.cpo.put(url, active_body("2026-10-01T07:00:00Z", 6))
    assert "ignored" in older.json()["status_message"]
    stored = ReportedActiveProfile.objects.get()
    assert stored.profile.charging_profile.periods[0].limit == Decimal("10.5")

    invalid = emsp.cpo.put(url, {"charging_profile": active_body()["charging_profile"]})
    assert invalid.json()["status_code"] == 2001
    assert "start_date_time" in invalid.json()["status_message"]


@pytest.mark.django_db
def test_active_profile_push_for_a_session_we_do_not_know_is_404(emsp: Emsp) -> None:
    response = emsp.cpo.put(f"{SENDER}/UNHEARD-OF", active_body())
    assert response.status_code == 404
    assert not ReportedActiveProfile.objects.exists()
    # Another CPO's session copy is not this connection's either.
    theirs = SessionFactory.create(token_country_code="NL", token_party_id="RDK")
    assert emsp.cpo.put(f"{SENDER}/{theirs.session_id}", active_body()).status_code == 404
    # A session we asked this CPO about is known, even without a copy of it.
    charging_profile_set_send(
        connection=emsp.connection, session_ref="NO-COPY", profile=charging_profile()
    )
    assert emsp.cpo.put(f"{SENDER}/NO-COPY", active_body()).status_code == 200
    assert ReportedActiveProfile.objects.get().session is None


@pytest.mark.django_db
def test_admin_lists_requests_with_their_timing(emsp: Emsp, staff_client: Client) -> None:
    emsp.peer.reply(accepted())
    request = charging_profile_set_send(
        connection=emsp.connection, session=emsp.session, profile=charging_profile()
    )
    charging_profile_send(request.pk)
    ChargingProfileRequest.objects.filter(pk=request.pk).update(
        responded_at=request.created_at + timedelta(milliseconds=42), result_at=timezone.now()
    )
    page = staff_client.get(reverse("admin:smart_charging_chargingprofilerequest_changelist"))
    assert page.status_code == 200
    assert "42 ms" in page.content.decode()
    detail = staff_client.get(
        reverse("admin:smart_charging_chargingprofilerequest_change", args=[request.pk])
    )
    assert detail.status_code == 200
    assert emsp.session.session_id in detail.content.decode()
    for name in ("sessionchargingprofile", "reportedactiveprofile"):
        assert (
            staff_client.get(reverse(f"admin:smart_charging_{name}_changelist")).status_code == 200
        )
