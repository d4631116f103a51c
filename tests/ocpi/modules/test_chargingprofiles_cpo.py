"""ChargingProfiles, CPO side (spec 12.1): an eMSP sets, reads and clears profiles on our
sessions; we answer at once and POST the result to its response_url (a scripted peer here)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.ocpi.common.timestamps import parse_ocpi_datetime
from apps.ocpi.services.charging_profiles import charging_profile_sweep
from apps.ocpi.tasks import (
    charging_profile_execute,
    charging_profile_expire,
    charging_profile_result_deliver,
)
from apps.partners.models import Party
from apps.smart_charging.enums import ProfileResultType, RequestStatus
from apps.smart_charging.models import ChargingProfileRequest, SessionChargingProfile
from apps.smart_charging.services import charging_profile_result_report
from config.celery import app as celery_app
from tests.factories import ConnectorFactory, SessionFactory
from tests.factories.smart_charging import SessionChargingProfileFactory, charging_profile
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.httpserver import OcpiPeer
from tests.workers import CeleryWorker

pytestmark = pytest.mark.django_db

PATH = "cpo/chargingprofiles"


class SilentBackend:
    """A backend whose charger takes requests on and never answers."""

    def set_profile(self, **kwargs: Any) -> str:
        return "ACCEPTED"

    def get_active_profile(self, **kwargs: Any) -> str:
        return "ACCEPTED"

    def clear_profile(self, **kwargs: Any) -> str:
        return "ACCEPTED"


@dataclass
class Cpo:
    ours: Party
    caller: Caller
    session: ChargingSession
    peer: OcpiPeer

    def response_url(self, name: str = "1") -> str:
        return self.peer.url(f"/emsp/chargingprofiles/results/{name}")

    def url(self, session_id: str | None = None) -> str:
        return f"{PATH}/{session_id or self.session.session_id}"


@pytest.fixture
def cpo(ocpi_peer: OcpiPeer) -> Iterator[Cpo]:
    ours = own_party("CPO")
    caller = partner_caller("EMSP", country_code="BE", party_id="BEC")
    caller.to = ours
    connection = caller.connection
    connection.version = "2.2.1"
    connection.set_send_token("their-token")
    connection.save()
    connector = ConnectorFactory.create(
        max_amperage=32, max_electric_power=22000, evse__location__party=ours
    )
    session = SessionFactory.create(
        party=ours,
        token_country_code="BE",
        token_party_id="BEC",
        connector=connector,
        start_date_time=timezone.now() - timedelta(minutes=10),
    )
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True, CHARGING_PROFILE_TIMEOUT=30):
        yield Cpo(ours=ours, caller=caller, session=session, peer=ocpi_peer)


def set_body(cpo: Cpo, **profile: Any) -> dict[str, Any]:
    return {
        "charging_profile": {
            "charging_rate_unit": "A",
            "charging_profile_period": [
                {"start_period": 0, "limit": Decimal("16.5")},
                {"start_period": 900, "limit": 8},
            ],
            **profile,
        },
        "response_url": cpo.response_url(),
    }


def answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status_code"] == 1000, body
    data: dict[str, Any] = body["data"]
    return data


def test_set_profile_is_accepted_at_once_and_its_result_posted_to_the_response_url(
    cpo: Cpo, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = cpo.caller.put(cpo.url(), set_body(cpo))
    assert answer(response) == {"result": "ACCEPTED", "timeout": 30}
    assert response.headers["OCPI-to-party-id"] == "BEC"
    assert len(callbacks) == 1  # the execution is enqueued once the request is committed
    request = ChargingProfileRequest.objects.get()
    assert (request.status, request.from_party, request.to_party) == (
        RequestStatus.PENDING,
        cpo.caller.party,
        cpo.ours,
    )
    assert request.response_url == cpo.response_url()
    assert request.deadline_at == request.created_at + timedelta(seconds=24)

    charging_profile_execute(request.pk)  # what the worker runs after the commit
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.COMPLETED, "ACCEPTED")
    in_force = SessionChargingProfile.objects.get(session=cpo.session)
    assert in_force.owner == cpo.caller.party
    assert [p.limit for p in in_force.profile.periods] == [Decimal("16.5"), Decimal(8)]

    assert charging_profile_result_deliver(request.pk) is True
    posted = cpo.peer.last
    assert (posted.method, posted.path) == ("POST", "/emsp/chargingprofiles/results/1")
    assert posted.json() == {"result": "ACCEPTED"}
    assert posted.headers["Authorization"] == "Token " + base64.b64encode(b"their-token").decode()
    assert (posted.headers["OCPI-to-country-code"], posted.headers["OCPI-to-party-id"]) == (
        "BE",
        "BEC",
    )
    assert posted.headers["OCPI-from-party-id"] == cpo.ours.party_id
    request.refresh_from_db()
    assert request.result_sent_at is not None
    # Delivered once: a repeated task sends nothing.
    assert charging_profile_result_deliver(request.pk) is False
    assert len(cpo.peer.requests) == 1


def test_get_active_profile_computes_the_limits_for_the_duration(cpo: Cpo) -> None:
    start = timezone.now().replace(microsecond=0) - timedelta(seconds=60)
    SessionChargingProfileFactory.create(
        session=cpo.session,
        owner=cpo.caller.party,
        charging_profile=charging_profile(
            (0, "16"), (600, "8"), start_date_time=start, duration=1200
        ).to_json(),
    )
    url = f"{cpo.url()}?duration=1800&response_url={cpo.response_url('get')}"
    assert answer(cpo.caller.get(url)) == {"result": "ACCEPTED", "timeout": 30}
    request = ChargingProfileRequest.objects.get()
    assert (request.operation, request.duration) == ("GET_ACTIVE", 1800)

    charging_profile_execute(request.pk)
    assert charging_profile_result_deliver(request.pk) is True
    posted = cpo.peer.last
    assert posted.path == "/emsp/chargingprofiles/results/get"
    body = posted.json()
    assert body["result"] == "ACCEPTED"
    active = body["profile"]
    calculated = parse_ocpi_datetime(active["start_date_time"])
    profile = active["charging_profile"]
    assert parse_ocpi_datetime(profile["start_date_time"]) == calculated
    assert (profile["charging_rate_unit"], profile["duration"]) == ("A", 1800)
    # 16 A until the profile's second period, 8 A until it ends, then the connector's 32 A.
    offset = int((calculated - start).total_seconds())
    assert profile["charging_profile_period"] == [
        {"start_period": 0, "limit": 16},
        {"start_period": 600 - offset, "limit": 8},
        {"start_period": 1200 - offset, "limit": 32},
    ]


def test_get_active_profile_without_a_profile_shows_the_evse_capacity(cpo: Cpo) -> None:
    answer(cpo.caller.get(f"{cpo.url()}?duration=300&response_url={cpo.response_url()}"))
    request = ChargingProfileRequest.objects.get()
    charging_profile_execute(request.pk)
    request.refresh_from_db()
    active = request.active_profile
    assert active is not None
    assert active.charging_profile.charging_rate_unit == "W"
    assert [(p.start_period, p.limit) for p in active.charging_profile.periods] == [
        (0, Decimal(22000))
    ]


def test_clear_removes_the_callers_profile_then_reports_unknown(cpo: Cpo) -> None:
    other = Party.objects.create(
        partner=cpo.caller.party.partner, country_code="BE", party_id="BE2", roles=["EMSP"]
    )
    SessionChargingProfileFactory.create(session=cpo.session, owner=cpo.caller.party)
    SessionChargingProfileFactory.create(session=cpo.session, owner=other)
    url = f"{cpo.url()}?response_url={cpo.response_url('clear')}"
    assert answer(cpo.caller.delete(url)) == {"result": "ACCEPTED", "timeout": 30}
    first = ChargingProfileRequest.objects.get()
    charging_profile_execute(first.pk)
    charging_profile_result_deliver(first.pk)
    assert cpo.peer.last.json() == {"result": "ACCEPTED"}
    # Only the caller's own profile is cleared.
    assert list(SessionChargingProfile.objects.values_list("owner", flat=True)) == [other.pk]

    answer(cpo.caller.delete(url))
    second = ChargingProfileRequest.objects.exclude(pk=first.pk).get()
    charging_profile_execute(second.pk)
    charging_profile_result_deliver(second.pk)
    assert cpo.peer.last.json() == {"result": "UNKNOWN"}


@pytest.mark.parametrize("case", ["other_emsp_token", "no_such_session", "not_our_session"])
def test_sessions_the_caller_may_not_address_are_unknown_sessions(
    cpo: Cpo, case: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    if case == "other_emsp_token":
        session_id = SessionFactory.create(
            party=cpo.ours, token_country_code="FR", token_party_id="OTH"
        ).session_id
    elif case == "no_such_session":
        session_id = "NOPE"
    else:  # a copy of another CPO's session that we hold as an eMSP
        session_id = SessionFactory.create(token_country_code="BE", token_party_id="BEC").session_id
    with django_capture_on_commit_callbacks() as callbacks:
        response = cpo.caller.put(cpo.url(session_id), set_body(cpo))
    assert answer(response) == {"result": "UNKNOWN_SESSION", "timeout": 0}
    assert callbacks == []
    request = ChargingProfileRequest.objects.get()
    assert (request.status, request.session) == (RequestStatus.REFUSED, None)
    assert not SessionChargingProfile.objects.exists()
    assert cpo.peer.requests == []


def test_session_ids_are_case_insensitive(cpo: Cpo) -> None:
    assert answer(cpo.caller.put(cpo.url(cpo.session.session_id.lower()), set_body(cpo)))[
        "result"
    ] == ("ACCEPTED")


def test_a_session_that_is_not_active_gets_a_rejected_result(cpo: Cpo) -> None:
    ChargingSession.objects.filter(pk=cpo.session.pk).update(status="COMPLETED")
    assert answer(cpo.caller.put(cpo.url(), set_body(cpo)))["result"] == "ACCEPTED"
    request = ChargingProfileRequest.objects.get()
    charging_profile_execute(request.pk)
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.COMPLETED, "REJECTED")
    assert "backend answered REJECTED" in request.note
    charging_profile_result_deliver(request.pk)
    assert cpo.peer.last.json() == {"result": "REJECTED"}
    assert not SessionChargingProfile.objects.exists()


@pytest.mark.parametrize(
    ("method", "query", "body", "field"),
    [
        ("get", "?response_url=https://emsp.example/r", None, "duration"),
        ("get", "?duration=0&response_url=https://emsp.example/r", None, "duration"),
        ("get", "?duration=60", None, "response_url"),
        ("get", "?duration=60&response_url=ftp://x/y", None, "response_url"),
        ("delete", "", None, "response_url"),
        ("put", "", {"charging_profile": {"charging_rate_unit": "A"}}, "response_url"),
        ("put", "", "no_periods", "charging_profile.charging_profile_period"),
        ("put", "", "unit_kw", "charging_profile.charging_rate_unit"),
        ("put", "", "two_decimals", "charging_profile.charging_profile_period[0].limit"),
        ("put", "", "string_limit", "charging_profile.charging_profile_period[0].limit"),
        ("put", "", "decreasing", "charging_profile.charging_profile_period"),
        ("put", "", "bad_start", "charging_profile.start_date_time"),
    ],
)
def test_invalid_requests_get_2001_naming_the_field(
    cpo: Cpo, method: str, query: str, body: Any, field: str
) -> None:
    if isinstance(body, str):
        one: list[dict[str, Any]] = [{"start_period": 0, "limit": 16}]
        cases: dict[str, dict[str, Any]] = {
            "no_periods": {"charging_profile_period": []},
            "unit_kw": {"charging_rate_unit": "kW"},
            "two_decimals": {
                "charging_profile_period": [{"start_period": 0, "limit": Decimal("16.25")}]
            },
            "string_limit": {"charging_profile_period": [{"start_period": 0, "limit": "16"}]},
            "decreasing": {"charging_profile_period": [*one, {"start_period": 0, "limit": 8}]},
            "bad_start": {"start_date_time": "2026-10-01T08:00:00+02:00x"},
        }
        body = set_body(cpo, **cases[body])
    if body is not None:
        response = cpo.caller.put(cpo.url(), body)
    else:
        response = getattr(cpo.caller, method)(f"{cpo.url()}{query}")
    assert response.status_code == 200, response.content
    envelope = response.json()
    assert envelope["status_code"] == 2001, envelope
    assert field in envelope["status_message"], envelope["status_message"]
    assert not ChargingProfileRequest.objects.exists()


def test_a_request_without_outcome_is_answered_rejected_at_its_deadline(cpo: Cpo) -> None:
    with override_settings(CHARGING_PROFILE_BACKEND=f"{__name__}.SilentBackend"):
        answer(cpo.caller.put(cpo.url(), set_body(cpo)))
        request = ChargingProfileRequest.objects.get()
        charging_profile_execute(request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_RESULT
    # Before the deadline the expiry task changes nothing.
    assert charging_profile_expire(request.pk) == RequestStatus.AWAITING_RESULT
    assert request.deadline_at is not None
    ChargingProfileRequest.objects.filter(pk=request.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    assert charging_profile_sweep() == {"expired": 1, "delivered": 0}
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.TIMED_OUT, "REJECTED")
    assert charging_profile_result_deliver(request.pk) is True  # enqueued on commit
    assert cpo.peer.last.json() == {"result": "REJECTED"}
    # The charger's answer after that is kept in the note and changes nothing.
    charging_profile_result_report(request_id=request.pk, result=ProfileResultType.ACCEPTED)
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.TIMED_OUT, "REJECTED")
    assert "late result ACCEPTED ignored" in request.note
    assert not SessionChargingProfile.objects.exists()
    assert len(cpo.peer.requests) == 1


def test_a_failed_result_delivery_is_recorded_and_left_to_retries(cpo: Cpo) -> None:
    cpo.peer.reply(b"down", status=503, content_type="text/plain")
    answer(cpo.caller.put(cpo.url(), set_body(cpo)))
    request = ChargingProfileRequest.objects.get()
    charging_profile_execute(request.pk)
    from apps.ocpi.services.charging_profiles import charging_profile_result_deliver as deliver

    outcome = deliver(request_id=request.pk)
    assert (outcome.delivered, outcome.retry) == (False, True)
    request.refresh_from_db()
    assert (request.result_sent_at, request.result_send_attempts) == (None, 1)
    assert "HTTP 503" in request.note
    cpo.peer.reply()  # back up: once the task's own attempts are over, the sweep delivers it
    assert charging_profile_sweep() == {"expired": 0, "delivered": 0}
    ChargingProfileRequest.objects.filter(pk=request.pk).update(
        result_at=timezone.now() - timedelta(minutes=5)
    )
    assert charging_profile_sweep() == {"expired": 0, "delivered": 1}
    request.refresh_from_db()
    assert request.result_sent_at is not None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_executes_and_posts_the_result(ocpi_peer: OcpiPeer) -> None:
    celery_app.control.purge()
    ours = own_party("CPO")
    caller = partner_caller("EMSP", country_code="BE", party_id="BEC")
    caller.to = ours
    caller.connection.version = "2.2.1"
    caller.connection.set_send_token("their-token")
    caller.connection.save()
    session = SessionFactory.create(party=ours, token_country_code="BE", token_party_id="BEC")
    cpo = Cpo(ours=ours, caller=caller, session=session, peer=ocpi_peer)
    worker = CeleryWorker(OCPI_OUTBOUND_ALLOW_LOCAL="true").start()
    try:
        # Like the worker, the receiving side accepts a response_url on 127.0.0.1.
        with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
            assert answer(caller.put(cpo.url(), set_body(cpo)))["result"] == "ACCEPTED"
        deadline = time.monotonic() + 60
        while not ocpi_peer.requests:
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
    assert ocpi_peer.last.json() == {"result": "ACCEPTED"}
    request = ChargingProfileRequest.objects.get()
    assert request.result_sent_at is not None
    assert SessionChargingProfile.objects.filter(session=session).exists()
