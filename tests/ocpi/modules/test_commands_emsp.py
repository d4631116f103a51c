"""Commands, eMSP role (spec 11.3): we send a command to a CPO (a scripted peer on 127.0.0.1),
record its CommandResponse, and receive the CommandResult on our response_url."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.commands.enums import CommandResultType
from apps.commands.models import Command
from apps.commands.services import commands_expire
from apps.core.errors import DomainError
from apps.ocpi.services.commands import command_send
from apps.partners.models import Party
from apps.tokens.models import Token
from tests.factories import TokenFactory
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.httpserver import OcpiPeer, envelope

pytestmark = pytest.mark.django_db


@dataclass
class Emsp:
    us: Party
    token: Token
    cpo: Caller  # the CPO DE*CPO: we call its commands endpoint, it posts results to us
    peer: OcpiPeer

    def send(self, type: str, **fields: Any) -> Command:
        return command_send(connection=self.cpo.connection, type=type, **fields)

    def post_result(self, command: Command, body: Any, caller: Caller | None = None) -> Any:
        return (caller or self.cpo).post(urlsplit(command.response_url).path, body)


@pytest.fixture
def emsp(ocpi_peer: OcpiPeer) -> Iterator[Emsp]:
    us = own_party("EMSP")
    token = TokenFactory.create(party=us, uid="0A0B0C0D", type="RFID")
    cpo = partner_caller("CPO", country_code="DE", party_id="CPO")
    connection = cpo.connection
    connection.version = "2.2.1"
    connection.set_send_token("their-token")
    connection.endpoints = [
        {
            "identifier": "commands",
            "role": "RECEIVER",
            "url": f"http://127.0.0.1:{ocpi_peer.port}/ocpi/cpo/2.2.1/commands",
        }
    ]
    connection.save()
    cpo.to = us
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True, OCPI_BASE_URL="http://testserver"):
        yield Emsp(us, token, cpo, ocpi_peer)


def accepted(timeout: int = 30) -> bytes:
    return envelope({"result": "ACCEPTED", "timeout": timeout})


def test_start_session_is_sent_and_its_result_recorded(emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    command = emsp.send(
        "START_SESSION",
        token=emsp.token,
        location_id="LOC1",
        evse_uid="EVSE1",
        connector_id="1",
        authorization_reference="AUTH-9",
    )

    (request,) = emsp.peer.requests
    assert (request.method, request.path) == ("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION")
    assert request.headers["OCPI-to-country-code"] == "DE"
    assert request.headers["OCPI-to-party-id"] == "CPO"
    assert request.headers["OCPI-from-country-code"] == "NL"
    assert request.headers["OCPI-from-party-id"] == "RDK"
    assert request.headers["X-Correlation-ID"] == command.uid
    body = request.json()
    assert body["response_url"] == (
        f"http://testserver/ocpi/2.2.1/emsp/commands/START_SESSION/{command.uid}"
    )
    assert body["location_id"] == "LOC1"
    assert (body["evse_uid"], body["connector_id"]) == ("EVSE1", "1")
    assert body["authorization_reference"] == "AUTH-9"
    assert body["token"] == {
        "country_code": "NL",
        "party_id": "RDK",
        "uid": "0A0B0C0D",
        "type": "RFID",
        "contract_id": emsp.token.contract_id,
        "issuer": "Demo issuer",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-10-01T08:00:00Z",
    }

    assert (command.response_result, command.response_timeout) == ("ACCEPTED", 30)
    assert command.responded_at is not None
    assert command.deadline == command.responded_at + timedelta(seconds=30)
    assert command.cpo_party is not None
    assert command.cpo_party.code == "DE*CPO"
    assert command.emsp_party == emsp.us
    assert command.token == emsp.token

    response = emsp.post_result(
        command, {"result": "ACCEPTED", "message": [{"language": "en", "text": "started"}]}
    )
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert "data" not in response.json()
    command.refresh_from_db()
    assert (command.result, command.result_message) == ("ACCEPTED", "started")
    assert command.result_at is not None


def test_reserve_now_body(emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    expiry = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    emsp.send(
        "RESERVE_NOW",
        token=emsp.token,
        location_id="LOC1",
        reservation_id="R-77",
        expiry_date=expiry,
    )
    body = emsp.peer.requests[0].json()
    assert body["expiry_date"] == "2026-12-01T10:30:00Z"
    assert body["reservation_id"] == "R-77"
    assert "evse_uid" not in body


def test_only_the_connection_the_command_went_to_may_post_its_result(emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    command = emsp.send("STOP_SESSION", session_id="S1")
    stranger = partner_caller("CPO", country_code="FR", party_id="XYZ")
    response = emsp.post_result(command, {"result": "ACCEPTED"}, caller=stranger)
    assert response.status_code == 404

    path = urlsplit(command.response_url).path
    unknown_uid = emsp.cpo.post(path.replace(command.uid, "f" * 32), {"result": "ACCEPTED"})
    assert unknown_uid.status_code == 404
    wrong_type = emsp.cpo.post(
        path.replace("STOP_SESSION", "START_SESSION"), {"result": "ACCEPTED"}
    )
    assert wrong_type.status_code == 404

    invalid = emsp.post_result(command, {"result": "MAYBE"})
    assert invalid.json()["status_code"] == 2001
    assert invalid.json()["status_message"].startswith("result")
    command.refresh_from_db()
    assert command.result == ""


def test_an_error_answer_with_a_command_response_is_recorded(emsp: Emsp) -> None:
    emsp.peer.reply(
        envelope(
            {"result": "REJECTED", "timeout": 30},
            status_code=2003,
            status_message="unknown location LOCX",
        )
    )
    command = emsp.send("UNLOCK_CONNECTOR", location_id="LOCX", evse_uid="E1", connector_id="1")
    assert command.response_result == "REJECTED"
    assert "OCPI 2003: unknown location LOCX" in command.response_message
    assert command.deadline is None


def test_no_answer_is_recorded_as_no_response(emsp: Emsp) -> None:
    emsp.peer.reply(b"bad gateway", status=502, content_type="text/plain")
    command = emsp.send("CANCEL_RESERVATION", reservation_id="R-1")
    assert command.response_result == ""
    assert "HTTP 502" in command.response_message
    assert len(emsp.peer.requests) == 1  # commands are never re-sent


def test_no_result_within_the_timeout_is_a_timeout_until_a_late_result_arrives(
    emsp: Emsp,
) -> None:
    emsp.peer.reply(accepted(timeout=10))
    command = emsp.send("STOP_SESSION", session_id="S1")
    assert command.deadline is not None
    assert commands_expire(now=command.deadline - timedelta(seconds=1)) == []
    assert commands_expire(now=command.deadline) == [command.pk]
    command.refresh_from_db()
    assert command.result == CommandResultType.TIMEOUT
    assert command.result_message == "no result from the CPO within 10 s"

    emsp.post_result(command, {"result": "FAILED"})
    command.refresh_from_db()
    assert command.result == CommandResultType.FAILED
    emsp.post_result(command, {"result": "ACCEPTED"})  # a first real result stays
    command.refresh_from_db()
    assert command.result == CommandResultType.FAILED


def test_a_command_that_cannot_be_sent_is_refused_before_sending(emsp: Emsp) -> None:
    with pytest.raises(DomainError, match="START_SESSION needs token"):
        emsp.send("START_SESSION", location_id="LOC1")
    foreign = TokenFactory.create()
    with pytest.raises(DomainError, match="is not ours"):
        emsp.send("START_SESSION", token=foreign, location_id="LOC1")
    with pytest.raises(DomainError, match="needs evse_uid, connector_id"):
        emsp.send("UNLOCK_CONNECTOR", location_id="LOC1")
    assert not emsp.peer.requests
    assert not Command.objects.exists()


def test_ocpi_command_management_command(emsp: Emsp) -> None:
    emsp.peer.reply(accepted())
    out = io.StringIO()
    call_command(
        "ocpi_command",
        "--connection",
        str(emsp.cpo.connection.pk),
        "START_SESSION",
        "--token",
        "0a0b0c0d",
        "--location",
        "LOC1",
        stdout=out,
    )
    command = Command.objects.get()
    assert out.getvalue().strip() == f"START_SESSION {command.uid}: ACCEPTED (result within 30 s)"
    assert emsp.peer.requests[0].json()["token"]["uid"] == "0A0B0C0D"

    emsp.peer.reply(b"", status=500, content_type=None)
    with pytest.raises(CommandError, match="did not answer"):
        call_command(
            "ocpi_command",
            "--connection",
            str(emsp.cpo.connection.pk),
            "STOP_SESSION",
            "--session",
            "S1",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="needs session_id"):
        call_command("ocpi_command", "--connection", str(emsp.cpo.connection.pk), "STOP_SESSION")
