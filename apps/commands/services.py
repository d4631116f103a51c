"""Command services: receiving a command as CPO, recording one sent as eMSP, the answers, the
results and the timeouts. Protocol-free: the OCPI layer parses and renders around them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.charging_sessions.enums import SessionStatus
from apps.charging_sessions.models import ChargingSession
from apps.commands.backend import BackendReply, backend_decide, charge_point_backend
from apps.commands.enums import (
    CommandDirection,
    CommandResponseType,
    CommandResultType,
    CommandType,
)
from apps.commands.models import Command
from apps.commands.types import CommandAnswer, CommandRequest
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.services import Actor, audit_log_record
from apps.locations.models import Location
from apps.partners.models import PartnerConnection, Party
from apps.tokens.models import Token

logger = logging.getLogger(__name__)

#: Commands that name a location (and may name an EVSE and a connector in it).
LOCATION_COMMANDS = frozenset(
    {CommandType.START_SESSION, CommandType.RESERVE_NOW, CommandType.UNLOCK_CONNECTOR}
)
#: Commands that carry a driver token.
TOKEN_COMMANDS = frozenset({CommandType.START_SESSION, CommandType.RESERVE_NOW})
#: UNLOCK_CONNECTOR policy: an eMSP may unlock a connector only while one of its drivers has a
#: session on it (ACTIVE or PENDING), or within this long after such a session ended (the stuck
#: cable the spec's helpdesk use case is about, 11.1). Anything else could free another eMSP's
#: driver's cable in the middle of a charge.
UNLOCK_AFTER_SESSION = timedelta(hours=1)


class CommandLocationUnknown(DomainError):
    """The command names a location that is not one of ours visible to the requester."""

    code = "UNKNOWN_LOCATION"


def result_timeout() -> int:
    """Seconds an eMSP is told to wait for a result (``COMMANDS_RESULT_TIMEOUT``)."""
    return int(getattr(settings, "COMMANDS_RESULT_TIMEOUT", 30))


def _payload(command: Command, request: CommandRequest) -> None:
    command.type = request.type
    command.response_url = request.response_url
    command.location_ref = request.location_id
    command.evse_ref = request.evse_uid
    command.connector_ref = request.connector_id
    command.session_ref = request.session_id
    command.reservation_ref = request.reservation_id
    command.expiry_date = request.expiry_date
    command.authorization_reference = request.authorization_reference
    token = request.token
    if token is not None:
        command.token_country_code = token.country_code.upper()
        command.token_party_id = token.party_id.upper()
        command.token_uid = token.uid
        command.token_type = token.type
        command.token_contract_id = token.contract_id
        command.token_snapshot = token.as_json()
        command.token = Token.objects.filter(
            party__country_code=token.country_code.upper(),
            party__party_id=token.party_id.upper(),
            uid__iexact=token.uid,
            type=token.type,
        ).first()


def reservation_active(
    *, emsp_parties: QuerySet[Party], reservation_ref: str, cpo_party: Party | None = None
) -> Command | None:
    """The accepted RESERVE_NOW (received by us) with this id from one of these eMSP parties,
    unless a later CANCEL_RESERVATION of it succeeded or it has expired."""
    reservations = Command.objects.filter(
        direction=CommandDirection.RECEIVED,
        type=CommandType.RESERVE_NOW,
        emsp_party__in=emsp_parties,
        reservation_ref__iexact=reservation_ref,
        result=CommandResultType.ACCEPTED,
        expiry_date__gt=timezone.now(),
    )
    if cpo_party is not None:
        reservations = reservations.filter(cpo_party=cpo_party)
    reservation = reservations.order_by("-requested_at", "-id").first()
    if reservation is None:
        return None
    cancelled = Command.objects.filter(
        direction=CommandDirection.RECEIVED,
        type=CommandType.CANCEL_RESERVATION,
        emsp_party=reservation.emsp_party,
        reservation_ref__iexact=reservation_ref,
        result=CommandResultType.ACCEPTED,
        requested_at__gt=reservation.requested_at,
    ).exists()
    return None if cancelled else reservation


def _is(party: Party, country_code: str, party_id: str) -> bool:
    return (party.country_code.upper(), party.party_id.upper()) == (
        country_code.upper(),
        party_id.upper(),
    )


def _unlock_session(command: Command, *, emsp: Party) -> ChargingSession | None:
    """A session of a driver of ``emsp`` at the command's connector that allows it to unlock it
    (see ``UNLOCK_AFTER_SESSION``)."""
    ended_since = timezone.now() - UNLOCK_AFTER_SESSION
    return (
        ChargingSession.objects.filter(
            party=command.cpo_party,
            location_ref__iexact=command.location_ref,
            evse_ref__iexact=command.evse_ref,
            connector_ref__iexact=command.connector_ref,
            token_country_code__iexact=emsp.country_code,
            token_party_id__iexact=emsp.party_id,
        )
        .filter(
            Q(status__in=[SessionStatus.ACTIVE, SessionStatus.PENDING], end_date_time__isnull=True)
            | (
                Q(status__in=[SessionStatus.ACTIVE, SessionStatus.COMPLETED])
                & Q(end_date_time__gte=ended_since)
            )
        )
        .order_by("-start_date_time")
        .first()
    )


def _platform_checks(
    command: Command, *, connection: PartnerConnection, sender: Party, cpo_parties: QuerySet[Party]
) -> BackendReply | None:
    """roamdesk's own rules, before the backend is asked. Fills in the objects we hold.

    A command acts for one eMSP party, ``sender`` (the party the request is from, even when a
    hub relays it): its tokens, its drivers' sessions, its reservations, and the connectors
    where its drivers charge (``UNLOCK_AFTER_SESSION``). Anything of another party is REJECTED
    (spec 11.5: "session not of this eMSP's customer") and never reaches the backend.
    """
    if command.type in LOCATION_COMMANDS:
        location = (
            Location.objects.filter(party__in=cpo_parties, location_id__iexact=command.location_ref)
            .filter(Location.published_to_q(connection.partner))
            .select_related("party")
            .first()
        )
        if location is None:
            raise CommandLocationUnknown(f"location {command.location_ref!r} is not known here")
        command.location, command.cpo_party = location, location.party
        if command.evse_ref:
            command.evse = location.evses.filter(uid__iexact=command.evse_ref).first()
        if command.evse is not None and command.connector_ref:
            command.connector = command.evse.connectors.filter(
                connector_id__iexact=command.connector_ref
            ).first()
    if command.type in TOKEN_COMMANDS and not _is(
        sender, command.token_country_code, command.token_party_id
    ):
        return BackendReply.rejected(
            f"token {command.token_country_code}*{command.token_party_id} "
            f"{command.token_uid} is not a token of {sender.code}, the party this command is from"
        )
    if command.type == CommandType.STOP_SESSION:
        session = (
            ChargingSession.objects.filter(
                party__in=cpo_parties, session_id__iexact=command.session_ref
            )
            .select_related("party")
            .first()
        )
        if session is None:
            return BackendReply.unknown_session(f"session {command.session_ref!r} is not known")
        if not _is(sender, session.token_country_code, session.token_party_id):
            return BackendReply.rejected(
                f"session {command.session_ref!r} is not a session of a driver of "
                f"{sender.code}, the party this command is from"
            )
        command.charging_session, command.cpo_party = session, session.party
    if command.type == CommandType.UNLOCK_CONNECTOR:
        if command.evse is None:
            return BackendReply.rejected(
                f"unknown EVSE {command.evse_ref!r} at location {command.location_ref!r}"
            )
        if command.connector is None:
            return BackendReply.rejected(
                f"unknown connector {command.connector_ref!r} at EVSE {command.evse_ref!r}"
            )
        session = _unlock_session(command, emsp=sender)
        if session is None:
            return BackendReply.rejected(
                f"no driver of {sender.code} charges or charged at connector "
                f"{command.connector_ref!r} of EVSE {command.evse_ref!r} in the last "
                f"{int(UNLOCK_AFTER_SESSION.total_seconds() // 60)} minutes"
            )
        command.charging_session = session
    if command.type == CommandType.CANCEL_RESERVATION:
        # Reservation ids are the eMSP's own (spec 11.1: one eMSP never cancels another's):
        # another party's reservation with this id is simply not one of the sender's, and the
        # charger's outcome is UNKNOWN_RESERVATION, as for an id nobody has.
        reservation = reservation_active(
            emsp_parties=Party.objects.filter(pk=sender.pk),
            reservation_ref=command.reservation_ref,
        )
        if reservation is not None:
            command.cpo_party = reservation.cpo_party
            command.location, command.evse = reservation.location, reservation.evse
    return None


def command_receive(
    *,
    connection: PartnerConnection,
    sender: Party,
    cpo_parties: QuerySet[Party],
    request: CommandRequest,
    actor: Actor = None,
) -> Command:
    """CPO role: store a command from an eMSP and decide the immediate answer.

    ``sender`` is the eMSP party the request comes from, ``cpo_parties`` our CPO parties it may
    address. roamdesk's own rules come first (the location must be ours and published to the
    partner, else :class:`CommandLocationUnknown`; the token, the session to stop, the
    reservation to cancel and the connector to unlock must be ``sender``'s, see
    ``_platform_checks``), then the charge-point backend decides. An accepted command gets a
    ``deadline`` and is executed by a worker once this transaction commits.
    """
    command = Command(
        direction=CommandDirection.RECEIVED,
        connection=connection,
        emsp_party=sender,
        requested_at=timezone.now(),
    )
    _payload(command, request)
    with transaction.atomic():
        reply = _platform_checks(
            command, connection=connection, sender=sender, cpo_parties=cpo_parties
        )
        if command.cpo_party is None:
            command.cpo_party = cpo_parties.order_by("pk").first()
        command.save()
        if reply is None:
            reply = backend_decide(charge_point_backend(), command)
        now = timezone.now()
        command.response_result = reply.acceptance
        command.response_message = reply.message
        command.response_timeout = result_timeout()
        command.responded_at = now
        accepted = reply.acceptance == CommandResponseType.ACCEPTED
        command.deadline = now + timedelta(seconds=command.response_timeout) if accepted else None
        command.save()
        audit_log_record(
            actor=actor or f"connection {connection.pk}",
            action="command.received",
            obj=command,
            after={"type": command.type, "response": reply.acceptance, "message": reply.message},
        )
        if accepted:
            command_id = command.pk
            transaction.on_commit(lambda: _enqueue_execute(command_id))
    return command


def _enqueue_execute(command_id: int) -> None:
    from apps.commands.tasks import execute_command

    try:
        execute_command.delay(command_id)
    except Exception:  # the broker is down: the sweep enqueues it again from the database
        logger.warning("could not enqueue the execution of command %s", command_id)


def command_execute(*, command_id: int) -> bool:
    """Hand an accepted command to the charge-point backend (in a worker, after commit).

    Claimed first, so that two workers do not both execute it; a claim older than the
    command's timeout is taken for a lost worker. Returns whether the backend was called.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=result_timeout())
    claimed = (
        Command.objects.filter(
            pk=command_id,
            direction=CommandDirection.RECEIVED,
            response_result=CommandResponseType.ACCEPTED,
            result="",
        )
        .filter(Q(forwarded_at__isnull=True) | Q(forwarded_at__lt=stale))
        .update(forwarded_at=now)
    )
    if not claimed:
        return False
    command = Command.objects.select_related(
        "cpo_party", "emsp_party", "location", "evse", "connector", "charging_session"
    ).get(pk=command_id)
    try:
        charge_point_backend().execute(command)
    except Exception as exc:
        logger.exception("the charge-point backend failed on command %s", command.uid)
        command_result_record(
            command=command,
            result=CommandResultType.FAILED,
            message=f"the charge point could not be asked: {type(exc).__name__}",
            actor="charge-point backend",
        )
    return True


def _result_may_change(command: Command, result: str) -> bool:
    if not command.result:
        return True
    if command.result == result:
        return False
    if (
        command.type == CommandType.RESERVE_NOW
        and command.result == CommandResultType.ACCEPTED
        and result == CommandResultType.CANCELED_RESERVATION
    ):
        return True  # the CPO ends a reservation itself, on the same response_url
    # A late real result beats the TIMEOUT we assumed for a command we sent.
    return (
        command.direction == CommandDirection.SENT and command.result == CommandResultType.TIMEOUT
    )


def command_result_record(
    *, command: Command, result: str, message: str = "", actor: Actor = None
) -> Command:
    """Record the outcome of a command (the CommandResult).

    Received commands (we are the CPO): the backend reports here; the result is announced
    (``ChangeKind.COMMAND_RESULT``) so the protocol layer POSTs it to the eMSP's response_url.
    Sent commands (we are the eMSP): the CPO's result is stored.

    A command keeps its first result; only a reservation cancelled later by the CPO
    (CANCELED_RESERVATION after ACCEPTED) and, for a command we sent, a real result after our
    own TIMEOUT replace it. Anything else is ignored (the stored command is returned).
    """
    if result not in CommandResultType.values:
        raise DomainError(f"{result!r} is not a command result", code="INVALID_COMMAND_RESULT")
    with transaction.atomic():
        locked = Command.objects.select_for_update().get(pk=command.pk)
        if (
            locked.direction == CommandDirection.RECEIVED
            and locked.response_result != CommandResponseType.ACCEPTED
        ):
            raise DomainError(
                f"command {locked.uid} was not accepted; it has no result",
                code="COMMAND_NOT_ACCEPTED",
            )
        if not _result_may_change(locked, result):
            if locked.result != result:
                logger.info(
                    "command %s: result %s ignored, it already has %s", locked.uid, result,
                    locked.result,
                )  # fmt: skip
            return locked
        before = {"result": locked.result, "message": locked.result_message}
        locked.result = result
        locked.result_message = message
        locked.result_at = timezone.now()
        locked.save(update_fields=["result", "result_message", "result_at"])
        audit_log_record(
            actor=actor,
            action="command.result",
            obj=locked,
            before=before,
            after={"result": result, "message": message},
        )
        if locked.direction == CommandDirection.RECEIVED:
            change_announce(DomainChange(kind=ChangeKind.COMMAND_RESULT, object_id=locked.pk))
    command.result, command.result_message = locked.result, locked.result_message
    command.result_at = locked.result_at
    return locked


# -- eMSP role ---------------------------------------------------------------------------------
def command_sent_record(
    *,
    uid: str,
    connection: PartnerConnection,
    request: CommandRequest,
    emsp_party: Party,
    cpo_party: Party | None,
    actor: Actor = None,
) -> Command:
    """eMSP role: store a command we are about to send (committed before it is sent, since the
    CPO may post the result before its own answer reaches us). ``uid`` is the one in
    ``request.response_url``."""
    command = Command(
        uid=uid,
        direction=CommandDirection.SENT,
        connection=connection,
        emsp_party=emsp_party,
        cpo_party=cpo_party,
        requested_at=timezone.now(),
    )
    _payload(command, request)
    if cpo_party is not None and command.location_ref:
        command.location = Location.objects.filter(
            party=cpo_party, location_id__iexact=command.location_ref
        ).first()
        if command.location is not None and command.evse_ref:
            command.evse = command.location.evses.filter(uid__iexact=command.evse_ref).first()
    if cpo_party is not None and command.session_ref:
        command.charging_session = ChargingSession.objects.filter(
            party=cpo_party, session_id__iexact=command.session_ref
        ).first()
    with transaction.atomic():
        command.save()
        audit_log_record(
            actor=actor, action="command.sent", obj=command, after={"type": command.type}
        )
    return command


def command_response_record(
    *, command: Command, answer: CommandAnswer | None, error: str = ""
) -> Command:
    """eMSP role: the CPO's immediate answer (``None`` with ``error`` when there was none)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Command.objects.select_for_update().get(pk=command.pk)
        locked.responded_at = now
        if answer is None:
            locked.response_result = ""
            locked.response_message = error
        else:
            locked.response_result = answer.result
            locked.response_timeout = answer.timeout
            locked.response_message = "; ".join(m for m in (answer.message, error) if m)
            if answer.result == CommandResponseType.ACCEPTED and not locked.result:
                locked.deadline = now + timedelta(seconds=max(answer.timeout, 0))
        locked.save(
            update_fields=[
                "responded_at",
                "response_result",
                "response_timeout",
                "response_message",
                "deadline",
            ]
        )
    return locked


def command_sent_get(*, connection: PartnerConnection, uid: str) -> Command | None:
    """A command we sent through ``connection``, by the uid of its response_url."""
    return Command.objects.filter(
        direction=CommandDirection.SENT, connection=connection, uid=uid
    ).first()


# -- both roles ------------------------------------------------------------------------------
def commands_expire(*, now: datetime | None = None) -> list[int]:
    """Record TIMEOUT for accepted commands whose deadline passed without a result.

    Received commands: the TIMEOUT is posted to the eMSP like any result. Sent commands: we stop
    waiting (a late result from the CPO still replaces it).
    """
    now = now or timezone.now()
    overdue = Command.objects.filter(
        result="", response_result=CommandResponseType.ACCEPTED, deadline__lte=now
    ).order_by("deadline")
    expired = []
    for command in overdue:
        waited = int((command.deadline - command.requested_at).total_seconds())  # type: ignore[operator]
        recorded = command_result_record(
            command=command,
            result=CommandResultType.TIMEOUT,
            message=f"no outcome from the charge point within {waited} s"
            if command.direction == CommandDirection.RECEIVED
            else f"no result from the CPO within {waited} s",
            actor="system",
        )
        if recorded.result == CommandResultType.TIMEOUT:
            expired.append(command.pk)
    return expired


def commands_unexecuted(*, older_than: float = 5.0) -> list[int]:
    """Accepted received commands no worker has taken yet (their task was lost or never
    enqueued), still before their deadline."""
    now = timezone.now()
    return list(
        Command.objects.filter(
            direction=CommandDirection.RECEIVED,
            response_result=CommandResponseType.ACCEPTED,
            result="",
            forwarded_at__isnull=True,
            responded_at__lte=now - timedelta(seconds=older_than),
            deadline__gt=now,
        ).values_list("pk", flat=True)
    )
