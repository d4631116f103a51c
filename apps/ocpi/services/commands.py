"""OCPI Commands (spec 11): sending a command to a CPO (eMSP role) and posting the
CommandResult of a command we received to the eMSP's ``response_url`` (CPO role).

Results go out through the outbox: ``command_result_record`` announces
``ChangeKind.COMMAND_RESULT`` in its transaction, the outbox records a delivery for the
connection the command came from, and a worker POSTs it, retrying transient failures with
backoff (:mod:`apps.ocpi.services.delivery`). A command is never re-sent to a CPO: the spec has
no retries for commands, and a second START_SESSION could start a second session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.urls import reverse

from apps.commands.enums import CommandDirection, CommandType
from apps.commands.models import Command, new_uid
from apps.commands.services import command_response_record, command_sent_record
from apps.commands.types import CommandAnswer, CommandRequest, TokenSnapshot
from apps.core.errors import DomainError
from apps.core.events import ChangeKind
from apps.core.services import Actor
from apps.ocpi.adapters.base import Adapter
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.client import OcpiClient, OcpiResponse, OcpiTransportError, RoutingHeaders
from apps.ocpi.common.errors import OcpiError
from apps.ocpi.services.delivery import ACTIVE_STATUSES, KINDS, REALTIME
from apps.partners.models import PartnerConnection, Party
from apps.tokens.models import Token

MODULE = "commands"

#: What each command must carry (spec 11.4).
REQUIRED: dict[str, tuple[str, ...]] = {
    CommandType.START_SESSION: ("token", "location_id"),
    CommandType.STOP_SESSION: ("session_id",),
    CommandType.RESERVE_NOW: ("token", "location_id", "reservation_id", "expiry_date"),
    CommandType.CANCEL_RESERVATION: ("reservation_id",),
    CommandType.UNLOCK_CONNECTOR: ("location_id", "evse_uid", "connector_id"),
}


# -- CPO role: the result goes to the response_url ---------------------------------------------
class CommandResultDelivery:
    """The CommandResult of a command we received, POSTed to the eMSP's ``response_url``.

    Only to the connection the command came from; a later result of the same command (a
    reservation the CPO cancels) is a new delivery with the newest result."""

    module = MODULE
    initial_load = False  # an answer to one request, never part of an initial load
    lane = REALTIME  # the eMSP waits for it: never queued behind bulk pushes

    def load(self, object_id: int) -> Command | None:
        return (
            Command.objects.select_related("emsp_party", "cpo_party")
            .filter(pk=object_id, direction=CommandDirection.RECEIVED)
            .exclude(result="")
            .first()
        )

    def label(self, obj: Command) -> str:
        return f"{obj.type} {obj.uid} {obj.result}"

    def targets(self, obj: Command) -> list[PartnerConnection]:
        connection = obj.connection
        if not obj.response_url or connection.status not in ACTIVE_STATUSES:
            return []
        return [connection]

    def published_to(self, connection: PartnerConnection) -> Iterable[Command]:
        return Command.objects.none()  # results are answers, never part of an initial load

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Command
    ) -> OcpiResponse:
        emsp, cpo = obj.emsp_party, obj.cpo_party
        routing = RoutingHeaders(
            to_country_code=emsp.country_code if emsp else "",
            to_party_id=emsp.party_id if emsp else "",
            from_country_code=cpo.country_code if cpo else settings.OCPI_COUNTRY_CODE,
            from_party_id=cpo.party_id if cpo else settings.OCPI_PARTY_ID,
        )
        return client.post(
            obj.response_url,
            json=adapter.render("command_result", obj.outcome),
            routing=routing,
            module=self.module,
        )


KINDS[ChangeKind.COMMAND_RESULT] = CommandResultDelivery()


# -- eMSP role: sending a command ------------------------------------------------------------------
def command_response_url(command_type: str, uid: str) -> str:
    """Our ``response_url`` for one command: ``…/emsp/commands/{command}/{uid}``."""
    path = reverse(
        "ocpi:v2_2_1:commands_sender_result", kwargs={"command": command_type, "uid": uid}
    )
    return f"{settings.OCPI_BASE_URL}{path}"


def token_snapshot(token: Token) -> TokenSnapshot:
    """The wire-free snapshot of one of our tokens, as a command carries it."""
    return TokenSnapshot(
        country_code=token.party.country_code,
        party_id=token.party.party_id,
        uid=token.uid,
        type=token.type,
        contract_id=token.contract_id,
        issuer=token.issuer,
        valid=token.valid,
        whitelist=token.whitelist,
        visual_number=token.visual_number,
        group_id=token.group_id,
        language=token.language,
        default_profile_type=token.default_profile_type,
        energy_supplier_name=token.energy_supplier_name,
        energy_contract_id=token.energy_contract_id,
        last_updated=token.last_updated,
    )


def _cpo_party(connection: PartnerConnection, location_id: str) -> Party:
    parties = connection.represented_parties.all()
    cpos = [p for p in parties if p.has_role("CPO")]
    if location_id:
        # The CPO that published the location to us through this connection.
        owners = {
            p.pk for p in cpos if p.locations.filter(location_id__iexact=location_id).exists()
        }
        if len(owners) == 1:
            return next(p for p in cpos if p.pk in owners)
    if len(cpos) == 1:
        return cpos[0]
    raise DomainError(
        f"connection {connection} represents {len(cpos)} CPO parties; name the one to address",
        code="CPO_PARTY_AMBIGUOUS",
    )


def _emsp_party(token: Token | None) -> Party:
    if token is not None:
        if not token.party.is_own:
            raise DomainError(
                f"token {token} is not ours: an eMSP may only use its own tokens",
                code="TOKEN_NOT_OURS",
            )
        return token.party
    candidates = [p for p in Party.objects.own() if p.has_role("EMSP")]
    if len(candidates) != 1:
        raise DomainError(
            f"we host {len(candidates)} eMSP parties; name the one sending the command",
            code="EMSP_PARTY_AMBIGUOUS",
        )
    return candidates[0]


def command_send(
    *,
    connection: PartnerConnection,
    type: str,
    token: Token | None = None,
    location_id: str = "",
    evse_uid: str = "",
    connector_id: str = "",
    session_id: str = "",
    reservation_id: str = "",
    expiry_date: datetime | None = None,
    authorization_reference: str = "",
    cpo_party: Party | None = None,
    emsp_party: Party | None = None,
    actor: Actor = None,
) -> Command:
    """eMSP role: send one command to the CPO behind ``connection`` and record its answer.

    The command is stored (and committed) first, with a ``response_url`` that names it, so a
    result posted back before the CPO's answer reaches us still finds it. The answer (the
    CommandResponse) is recorded on the command; an OCPI error or a transport failure is
    recorded as "no response" with its reason. Raises ``DomainError`` when the command cannot
    be sent at all (no commands endpoint, a missing field, a token that is not ours).
    """
    command_type = CommandType(type)
    given = {
        "token": token,
        "location_id": location_id,
        "evse_uid": evse_uid,
        "connector_id": connector_id,
        "session_id": session_id,
        "reservation_id": reservation_id,
        "expiry_date": expiry_date,
    }
    missing = [name for name in REQUIRED[command_type] if not given[name]]
    if missing:
        raise DomainError(f"{command_type} needs {', '.join(missing)}", code="COMMAND_INCOMPLETE")
    endpoint = connection.endpoint_url(MODULE, "RECEIVER")
    if not endpoint:
        raise DomainError(
            f"connection {connection} has no commands receiver endpoint",
            code="NO_COMMANDS_ENDPOINT",
        )
    if not connection.send_token:
        raise DomainError(f"connection {connection} has no token to send", code="NO_TOKEN")
    emsp = emsp_party or _emsp_party(token)
    cpo = cpo_party or _cpo_party(connection, location_id)
    uid = new_uid()
    request = CommandRequest(
        type=command_type,
        response_url=command_response_url(command_type, uid),
        token=token_snapshot(token) if token is not None else None,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        session_id=session_id,
        reservation_id=reservation_id,
        expiry_date=expiry_date,
        authorization_reference=authorization_reference,
    )
    adapter = get_adapter(connection.adapter_profile, connection.version)
    body = adapter.render(f"command_{command_type.lower()}", request)
    command = command_sent_record(
        uid=uid,
        connection=connection,
        request=request,
        emsp_party=emsp,
        cpo_party=cpo,
        actor=actor,
    )
    routing = RoutingHeaders(
        to_country_code=cpo.country_code,
        to_party_id=cpo.party_id,
        from_country_code=emsp.country_code,
        from_party_id=emsp.party_id,
    )
    answer: CommandAnswer | None = None
    error = ""
    try:
        with OcpiClient.for_connection(connection, raw_token=adapter.sends_raw_token) as client:
            response = client.post(
                f"{endpoint.rstrip('/')}/{command_type}",
                json=body,
                routing=routing,
                module=MODULE,
                correlation_id=command.uid,
            )
        if isinstance(response.data, dict) and "result" in response.data:
            # The CPO answers a CommandResponse even with an error code (2003 + REJECTED).
            answer = adapter.parse("command_response", response.data)
        if not response.ok:
            error = (
                f"HTTP {response.http_status}, OCPI {response.status_code}: "
                f"{response.status_message}"
            )
    except OcpiTransportError as exc:
        error = str(exc)
    except OcpiError as exc:  # an answer we cannot read
        error = f"unreadable CommandResponse: {exc.message}"
    return command_response_record(command=command, answer=answer, error=error)
