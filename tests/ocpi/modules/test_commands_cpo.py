"""Commands, CPO role (spec 11.2): the eMSP POSTs a command, we answer a CommandResponse, the
charge-point backend (the simulator) executes it, and the CommandResult goes to the eMSP's
response_url (a scripted peer on 127.0.0.1) through the outbox."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.commands.backend import BackendReply, _load
from apps.commands.enums import CommandDirection, CommandResponseType, CommandResultType
from apps.commands.models import Command
from apps.commands.services import command_execute, commands_expire, commands_unexecuted
from apps.commands.simulator import simulator_meter_all
from apps.commands.types import CommandAnswer
from apps.locations.models import Location
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.ocpi.services.delivery import deliveries_run
from apps.partners.enums import PublishScope
from apps.partners.models import Party
from tests.factories import PartyFactory, SessionFactory
from tests.factories.commands import (
    charging_site,
    evse_of,
    reserve_now_body,
    start_session_body,
    token_example,
)
from tests.ocpi.callers import Caller, emsp_calling, own_party
from tests.ocpi.httpserver import OcpiPeer, Reply, envelope

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@dataclass
class Cpo:
    us: Party
    caller: Caller  # the eMSP DE*TNM (the owner of the spec's example token)
    site: Location
    peer: OcpiPeer  # where the eMSP receives its results
    capture: Capture

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.peer.port}/ocpi/emsp/2.2.1/commands/{name}"

    def post(self, command: str, body: dict[str, Any]) -> tuple[Any, list[Any]]:
        """POST a command; returns the response and the on-commit callbacks it registered."""
        with self.capture() as callbacks:
            response = self.caller.post(f"cpo/commands/{command}", body)
        return response, callbacks

    def deliver(self) -> None:
        deliveries_run(connection_id=self.caller.connection.pk)


@pytest.fixture
def cpo(ocpi_peer: OcpiPeer, django_capture_on_commit_callbacks: Capture) -> Iterator[Cpo]:
    us = own_party("CPO")
    caller = emsp_calling(us)
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True, COMMANDS_RESULT_TIMEOUT=30):
        yield Cpo(us, caller, charging_site(us), ocpi_peer, django_capture_on_commit_callbacks)


def stored(response: Any) -> Command:
    assert response.status_code == 200, response.content
    return Command.objects.get(
        direction=CommandDirection.RECEIVED, pk=Command.objects.latest("pk").pk
    )


def results_posted(cpo: Cpo) -> list[dict[str, Any]]:
    return [r.json() for r in cpo.peer.requests if r.method == "POST"]


def start(cpo: Cpo, **body: Any) -> Command:
    response, callbacks = cpo.post(
        "START_SESSION", start_session_body(cpo.url("START_SESSION/1"), **body)
    )
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    assert len(callbacks) == 1  # the execution, enqueued once the command is committed
    command = stored(response)
    assert command_execute(command_id=command.pk)
    command.refresh_from_db()
    return command


# -- START_SESSION / STOP_SESSION ------------------------------------------------------------------
def test_start_session_starts_a_session_and_posts_accepted_to_the_response_url(cpo: Cpo) -> None:
    command = start(cpo, authorization_reference="AUTH-1")

    session = ChargingSession.objects.get()
    assert command.charging_session == session
    assert command.emsp_party is not None
    assert command.emsp_party.code == "DE*TNM"
    assert command.cpo_party == cpo.us
    assert (session.party, session.status, session.auth_method) == (cpo.us, "ACTIVE", "COMMAND")
    assert (session.token_country_code, session.token_party_id) == ("DE", "TNM")
    assert session.token_uid == token_example()["uid"]
    assert session.token_contract_id == "DE8ACC12E46L89"
    assert session.authorization_reference == "AUTH-1"
    assert (session.location_ref, session.evse_ref, session.connector_ref) == ("LOC1", "EVSE1", "1")
    assert evse_of(cpo.site, "EVSE1").status == "CHARGING"
    assert evse_of(cpo.site, "EVSE1").status_changes.get().status == "CHARGING"
    assert command.result == CommandResultType.ACCEPTED
    assert command.result_at is not None
    assert command.responded_at is not None

    cpo.deliver()
    (request,) = cpo.peer.requests
    assert (request.method, request.path) == ("POST", "/ocpi/emsp/2.2.1/commands/START_SESSION/1")
    assert request.json()["result"] == "ACCEPTED"
    assert request.headers["Authorization"] == "Token " + base64.b64encode(b"their-token").decode()
    assert request.headers["OCPI-to-country-code"] == "DE"
    assert request.headers["OCPI-to-party-id"] == "TNM"
    assert request.headers["OCPI-from-party-id"] == "RDK"
    assert OutboundDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_start_session_without_an_evse_lets_the_charger_choose_an_available_one(cpo: Cpo) -> None:
    evse_of(cpo.site, "EVSE1").__class__.objects.filter(uid="EVSE1").update(status="CHARGING")
    command = start(cpo, evse_uid=None, connector_id=None)
    assert command.evse == evse_of(cpo.site, "EVSE2")
    assert ChargingSession.objects.get().evse_ref == "EVSE2"


def test_stop_session_adds_the_last_period_completes_the_session_and_frees_the_evse(
    cpo: Cpo,
) -> None:
    start(cpo)
    session = ChargingSession.objects.get()
    # One hour of simulated charging at 11 kW (the default; the connector allows 22 kW).
    began = timezone.now() - timedelta(hours=1)
    ChargingSession.objects.filter(pk=session.pk).update(start_date_time=began)

    response, _callbacks = cpo.post(
        "STOP_SESSION",
        {"response_url": cpo.url("STOP_SESSION/2"), "session_id": session.session_id},
    )
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    command = stored(response)
    assert command.charging_session == session
    command_execute(command_id=command.pk)

    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert session.end_date_time is not None
    (period,) = session.charging_periods.all()
    volumes = {d.type: d.volume for d in period.dimensions.all()}
    assert period.start_date_time == began
    assert Decimal("0.99") < volumes["TIME"] < Decimal("1.01")
    assert volumes["ENERGY"] == (Decimal(11) * volumes["TIME"]).quantize(Decimal("1e-10"))
    assert session.kwh == volumes["ENERGY"]
    assert evse_of(cpo.site, "EVSE1").status == "AVAILABLE"
    command.refresh_from_db()
    assert command.result == CommandResultType.ACCEPTED

    cpo.deliver()
    assert [r["result"] for r in results_posted(cpo)] == ["ACCEPTED", "ACCEPTED"]
    assert cpo.peer.requests[-1].path.endswith("/STOP_SESSION/2")


def test_a_command_executed_twice_starts_one_session(cpo: Cpo) -> None:
    command = start(cpo)
    assert not command_execute(command_id=command.pk)  # a task delivered twice
    assert ChargingSession.objects.count() == 1


# -- RESERVE_NOW / CANCEL_RESERVATION / UNLOCK_CONNECTOR ---------------------------------------
def test_reserve_now_then_cancel_reservation(cpo: Cpo) -> None:
    expiry = timezone.now() + timedelta(hours=1)
    response, _ = cpo.post(
        "RESERVE_NOW",
        reserve_now_body(cpo.url("RESERVE_NOW/3"), reservation_id="R-1", expiry_date=expiry),
    )
    assert response.json()["data"]["result"] == "ACCEPTED"
    reservation = stored(response)
    command_execute(command_id=reservation.pk)
    assert evse_of(cpo.site, "EVSE1").status == "RESERVED"

    # Another driver cannot start at the reserved EVSE.
    response, callbacks = cpo.post("START_SESSION", start_session_body(cpo.url("START_SESSION/4")))
    assert response.json()["data"]["result"] == "REJECTED"
    assert not callbacks

    response, _ = cpo.post(
        "CANCEL_RESERVATION",
        {"response_url": cpo.url("CANCEL_RESERVATION/5"), "reservation_id": "r-1"},
    )
    assert response.json()["data"]["result"] == "ACCEPTED"
    cancel = stored(response)
    command_execute(command_id=cancel.pk)
    assert evse_of(cpo.site, "EVSE1").status == "AVAILABLE"

    # Cancelled once: a second cancel finds no reservation.
    response, _ = cpo.post(
        "CANCEL_RESERVATION",
        {"response_url": cpo.url("CANCEL_RESERVATION/6"), "reservation_id": "R-1"},
    )
    again = stored(response)
    command_execute(command_id=again.pk)
    again.refresh_from_db()
    assert again.result == CommandResultType.UNKNOWN_RESERVATION

    cpo.deliver()
    assert [r["result"] for r in results_posted(cpo)] == [
        "ACCEPTED",
        "ACCEPTED",
        "UNKNOWN_RESERVATION",
    ]


def unlock_body(cpo: Cpo, n: int, **body: str) -> dict[str, str]:
    return {
        "response_url": cpo.url(f"UNLOCK_CONNECTOR/{n}"),
        "location_id": "LOC1",
        "evse_uid": "EVSE2",
        "connector_id": "1",
        **body,
    }


def test_unlock_connector(cpo: Cpo) -> None:
    body = unlock_body(cpo, 7)
    SessionFactory.create(party=cpo.us, evse_ref="EVSE2", token_party_id="TNM")
    response, _ = cpo.post("UNLOCK_CONNECTOR", body)
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    command = stored(response)
    command_execute(command_id=command.pk)
    cpo.deliver()
    assert results_posted(cpo) == [
        {"result": "ACCEPTED", "message": [{"language": "en", "text": "connector unlocked"}]}
    ]

    response, callbacks = cpo.post("UNLOCK_CONNECTOR", {**body, "connector_id": "9"})
    assert response.json()["data"]["result"] == "REJECTED"
    assert "unknown connector '9'" in response.json()["data"]["message"][0]["text"]
    assert not callbacks


@pytest.mark.parametrize(
    ("session", "allowed"),
    [
        ({"status": "ACTIVE"}, True),
        ({"status": "PENDING"}, True),
        ({"status": "COMPLETED", "ended_minutes_ago": 30}, True),
        ({"status": "COMPLETED", "ended_minutes_ago": 61}, False),
        ({"status": "INVALID"}, False),
        ({"status": "ACTIVE", "token_party_id": "BBB"}, False),  # another eMSP's driver
        ({"status": "ACTIVE", "evse_ref": "EVSE1"}, False),  # the driver is at another EVSE
        (None, False),
    ],
)
def test_unlock_connector_only_where_a_driver_of_the_emsp_charges_or_just_charged(
    cpo: Cpo, session: dict[str, Any] | None, allowed: bool
) -> None:
    if session is not None:
        ago = session.pop("ended_minutes_ago", None)
        ended = timezone.now() - timedelta(minutes=ago) if ago is not None else None
        values = {"evse_ref": "EVSE2", "token_party_id": "TNM", **session}
        SessionFactory.create(party=cpo.us, end_date_time=ended, **values)
    response, callbacks = cpo.post("UNLOCK_CONNECTOR", unlock_body(cpo, 20))
    data = response.json()["data"]
    command = stored(response)
    if allowed:
        assert data["result"] == "ACCEPTED"
        assert command.charging_session is not None
        assert len(callbacks) == 1
        return
    assert data["result"] == "REJECTED"
    assert data["message"][0]["text"] == (
        "no driver of DE*TNM charges or charged at connector '1' of EVSE 'EVSE2' in the last "
        "60 minutes"
    )
    assert not callbacks
    assert (command.response_result, command.deadline) == (CommandResponseType.REJECTED, None)
    assert not command_execute(command_id=command.pk)


def test_an_emsp_never_acts_on_what_belongs_to_another_party_of_its_connection(cpo: Cpo) -> None:
    """A connection speaking for two eMSPs (a hub, a platform with two brands): each command
    acts for the party it is from, never for the other one."""
    other = PartyFactory.create(
        partner=cpo.caller.connection.partner, country_code="FR", party_id="BBB", roles=["EMSP"]
    )
    cpo.caller.connection.represented_parties.add(other)
    as_other = {"headers": cpo.caller.headers(sender=other)}
    SessionFactory.create(party=cpo.us, session_id="TNM-S", evse_ref="EVSE2", token_party_id="TNM")
    expiry = timezone.now() + timedelta(hours=1)
    response, _ = cpo.post(
        "RESERVE_NOW",
        reserve_now_body(cpo.url("RESERVE_NOW/21"), reservation_id="R-9", expiry_date=expiry),
    )
    command_execute(command_id=stored(response).pk)
    assert evse_of(cpo.site, "EVSE1").status == "RESERVED"

    def post(command: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        with cpo.capture() as callbacks:
            response = cpo.caller.post(f"cpo/commands/{command}", body, **as_other)
        assert response.status_code == 200, response.content
        return response.json()["data"], callbacks

    # The DE*TNM token, the DE*TNM driver's session and connector: refused for FR*BBB.
    for command, body in (
        ("START_SESSION", start_session_body(cpo.url("START_SESSION/22"), evse_uid="EVSE2")),
        ("STOP_SESSION", {"response_url": cpo.url("STOP_SESSION/23"), "session_id": "TNM-S"}),
        ("UNLOCK_CONNECTOR", unlock_body(cpo, 24)),
    ):
        data, callbacks = post(command, body)
        assert data["result"] == "REJECTED", command
        assert "FR*BBB" in data["message"][0]["text"], command
        assert not callbacks, command
    # DE*TNM's reservation id is not one of FR*BBB's: nothing is cancelled.
    data, callbacks = post(
        "CANCEL_RESERVATION",
        {"response_url": cpo.url("CANCEL_RESERVATION/25"), "reservation_id": "R-9"},
    )
    cancel = stored_last()
    command_execute(command_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.result == CommandResultType.UNKNOWN_RESERVATION
    assert cancel.emsp_party == other
    assert evse_of(cpo.site, "EVSE1").status == "RESERVED"
    assert ChargingSession.objects.get(session_id="TNM-S").status == "ACTIVE"


def stored_last() -> Command:
    return Command.objects.filter(direction=CommandDirection.RECEIVED).latest("pk")


# -- rejections ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "evse_uid", "reason"),
    [
        ("CHARGING", "EVSE1", "EVSE EVSE1 is CHARGING"),
        ("OUTOFORDER", "EVSE1", "EVSE EVSE1 is OUTOFORDER"),
        ("REMOVED", "EVSE1", "unknown EVSE 'EVSE1' (removed)"),
        ("AVAILABLE", "NOPE", "unknown EVSE 'NOPE' at location 'LOC1'"),
    ],
)
def test_start_session_is_rejected_at_an_evse_that_cannot_charge(
    cpo: Cpo, status: str, evse_uid: str, reason: str
) -> None:
    cpo.site.evses.filter(uid="EVSE1").update(status=status)
    response, callbacks = cpo.post(
        "START_SESSION", start_session_body(cpo.url("START_SESSION/8"), evse_uid=evse_uid)
    )
    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, 1000)
    assert body["data"] == {
        "result": "REJECTED",
        "timeout": 30,
        "message": [{"language": "en", "text": reason}],
    }
    command = stored(response)
    assert (command.response_result, command.deadline) == (CommandResponseType.REJECTED, None)
    assert not callbacks
    assert not command_execute(command_id=command.pk)
    assert not ChargingSession.objects.exists()


def test_start_session_with_a_token_of_another_party_is_rejected(cpo: Cpo) -> None:
    token = {**token_example(), "party_id": "XXX"}
    response, callbacks = cpo.post(
        "START_SESSION", start_session_body(cpo.url("START_SESSION/9"), token=token)
    )
    data = response.json()["data"]
    assert data["result"] == "REJECTED"
    assert "is not a token of DE*TNM, the party this command is from" in data["message"][0]["text"]
    assert not callbacks


def test_stop_session_of_an_unknown_or_foreign_session(cpo: Cpo) -> None:
    response, callbacks = cpo.post(
        "STOP_SESSION", {"response_url": cpo.url("STOP_SESSION/10"), "session_id": "nope"}
    )
    assert response.json()["data"]["result"] == "UNKNOWN_SESSION"
    assert not callbacks

    SessionFactory.create(party=cpo.us, session_id="THEIRS", token_party_id="XYZ")
    response, _ = cpo.post(
        "STOP_SESSION", {"response_url": cpo.url("STOP_SESSION/11"), "session_id": "theirs"}
    )
    assert response.json()["data"]["result"] == "REJECTED"

    SessionFactory.create(party=cpo.us, session_id="DONE", token_party_id="TNM", status="COMPLETED")
    response, _ = cpo.post(
        "STOP_SESSION", {"response_url": cpo.url("STOP_SESSION/12"), "session_id": "DONE"}
    )
    assert response.json()["data"]["result"] == "UNKNOWN_SESSION"


def test_a_location_that_is_not_ours_or_not_published_answers_2003(cpo: Cpo) -> None:
    other_cpo = PartyFactory.create(roles=["CPO"])
    charging_site(other_cpo, location_id="ELSEWHERE")
    charging_site(cpo.us, location_id="PRIVATE", publish_scope=PublishScope.NONE)
    for location_id in ("NOWHERE", "ELSEWHERE", "PRIVATE"):
        response, callbacks = cpo.post(
            "START_SESSION",
            start_session_body(cpo.url("START_SESSION/13"), location_id=location_id),
        )
        body = response.json()
        assert (response.status_code, body["status_code"]) == (200, 2003), location_id
        assert body["data"]["result"] == "REJECTED"
        assert location_id in body["status_message"]
        assert not callbacks
    assert not Command.objects.exists()


def test_unknown_command_name_is_404(cpo: Cpo) -> None:
    response, _ = cpo.post("REBOOT", {"response_url": cpo.url("REBOOT/1")})
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert "unknown command 'REBOOT'" in response.json()["status_message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_id": "S1"}, "response_url"),
        ({"response_url": "not a url", "session_id": "S1"}, "response_url"),
        ({"response_url": "https://emsp.example/r/1"}, "session_id"),
        ({"response_url": "https://emsp.example/r/1", "session_id": "x" * 37}, "session_id"),
    ],
)
def test_an_invalid_body_is_2001_naming_the_field(
    cpo: Cpo, body: dict[str, Any], field: str
) -> None:
    response, _ = cpo.post("STOP_SESSION", body)
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(field)
    assert not Command.objects.exists()


def test_start_session_token_fields_are_validated(cpo: Cpo) -> None:
    token = {k: v for k, v in token_example().items() if k != "whitelist"}
    response, _ = cpo.post(
        "START_SESSION", start_session_body(cpo.url("START_SESSION/14"), token=token)
    )
    assert response.json()["status_code"] == 2001
    assert "token.whitelist" in response.json()["status_message"]


# -- results: timeout and retries --------------------------------------------------------------
class SilentBackend:
    """Accepts everything and never reports an outcome (a charger that does not answer)."""

    def start_session(self, command: Command) -> BackendReply:
        return BackendReply.accepted()

    stop_session = reserve_now = cancel_reservation = unlock_connector = start_session

    def execute(self, command: Command) -> None:
        pass


def test_a_command_without_outcome_gets_a_timeout_result(cpo: Cpo) -> None:
    path = "tests.ocpi.modules.test_commands_cpo.SilentBackend"
    with override_settings(CHARGE_POINT_BACKEND=path, COMMANDS_RESULT_TIMEOUT=7):
        response, _ = cpo.post("START_SESSION", start_session_body(cpo.url("START_SESSION/15")))
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 7}
        command = stored(response)
        assert command_execute(command_id=command.pk)
    assert isinstance(_load(path), SilentBackend)
    assert command.deadline is not None
    assert command.responded_at is not None
    assert command.deadline == command.responded_at + timedelta(seconds=7)

    assert commands_expire(now=command.deadline - timedelta(seconds=1)) == []
    assert commands_expire(now=command.deadline) == [command.pk]
    command.refresh_from_db()
    assert command.result == CommandResultType.TIMEOUT
    assert not ChargingSession.objects.exists()

    cpo.deliver()
    (result,) = results_posted(cpo)
    assert result["result"] == "TIMEOUT"
    assert "no outcome from the charge point" in result["message"][0]["text"]
    # A late outcome changes nothing: the eMSP was told.
    assert commands_expire(now=command.deadline + timedelta(hours=1)) == []


def test_result_delivery_is_retried_after_a_transient_failure(cpo: Cpo) -> None:
    cpo.peer.queue(Reply(status=503, body=b"busy"), Reply(body=envelope()))
    start(cpo)
    cpo.deliver()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    OutboundDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    cpo.deliver()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert [r["result"] for r in results_posted(cpo)] == ["ACCEPTED", "ACCEPTED"]


def test_the_answer_is_rendered_from_the_stored_command(cpo: Cpo) -> None:
    command = start(cpo)
    assert command.answer == CommandAnswer(result="ACCEPTED", timeout=30)


def test_admin_lists_commands_with_their_answers_and_timings(cpo: Cpo, staff_client: Any) -> None:
    command = start(cpo)
    changelist = reverse("admin:commands_command_changelist")
    response = staff_client.get(changelist)
    assert response.status_code == 200
    content = response.content.decode()
    assert command.uid[:8] in content
    assert "✔ Accepted" in content
    # Both latencies (response, result) are shown.
    assert len(re.findall(r">\d+ ms<|>\d+\.\d s<", content)) == 2
    for query in (
        {"state": "done"},
        {"state": "waiting"},
        {"direction": "RECEIVED"},
        {"q": "LOC1"},
    ):
        assert staff_client.get(changelist, query).status_code == 200
    waiting = staff_client.get(changelist, {"state": "waiting"}).content.decode()
    assert command.uid[:8] not in waiting
    page = staff_client.get(reverse("admin:commands_command_change", args=[command.pk]))
    assert page.status_code == 200
    assert command.charging_session is not None
    assert command.charging_session.session_id in page.content.decode()


def test_simulated_meter_values_are_contiguous_periods_at_the_simulated_power(cpo: Cpo) -> None:
    start(cpo)
    session = ChargingSession.objects.get()
    began = timezone.now() - timedelta(minutes=90)
    ChargingSession.objects.filter(pk=session.pk).update(start_date_time=began)
    with override_settings(COMMANDS_SIMULATOR_POWER_KW="7.4"):
        assert simulator_meter_all(at=began + timedelta(minutes=30)) == 1
        assert simulator_meter_all(at=began + timedelta(minutes=30)) == 0  # nothing to add
        assert simulator_meter_all(at=began + timedelta(minutes=75)) == 1
    session.refresh_from_db()
    periods = list(session.charging_periods.prefetch_related("dimensions"))
    assert [p.start_date_time for p in periods] == [began, began + timedelta(minutes=30)]
    volumes = [{d.type: d.volume for d in p.dimensions.all()} for p in periods]
    assert volumes == [
        {"TIME": Decimal("0.5"), "ENERGY": Decimal("3.7")},
        {"TIME": Decimal("0.75"), "ENERGY": Decimal("5.55")},
    ]
    assert session.kwh == Decimal("9.25")


def test_a_second_reading_at_the_same_moment_adds_nothing_after_an_uneven_period(
    cpo: Cpo,
) -> None:
    """A period's end is read back from its stored TIME (1e-10 h): after 7 min 13.123457 s the
    end fell a microsecond short, and a second reading added a period of a microsecond."""
    start(cpo)
    session = ChargingSession.objects.get()
    began = timezone.now() - timedelta(minutes=90)
    ChargingSession.objects.filter(pk=session.pk).update(start_date_time=began)
    at = began + timedelta(minutes=7, seconds=13, microseconds=123457)
    assert simulator_meter_all(at=at) == 1
    assert simulator_meter_all(at=at) == 0
    assert simulator_meter_all(at=at + timedelta(milliseconds=500)) == 0
    assert simulator_meter_all(at=at + timedelta(seconds=60)) == 1
    assert session.charging_periods.count() == 2


def test_the_sweep_hands_lost_executions_to_a_worker_again(cpo: Cpo) -> None:
    response, _ = cpo.post("START_SESSION", start_session_body(cpo.url("START_SESSION/16")))
    command = stored(response)  # its task never ran (the callback was not executed)
    assert commands_unexecuted(older_than=0) == [command.pk]
    assert command_execute(command_id=command.pk)
    assert commands_unexecuted(older_than=0) == []
