"""ChargingProfiles over OCPI: the calls we make, in both roles (spec 12).

As the CPO (Receiver): a partner's request is recorded and answered at once by the view; once
the transaction commits, a worker hands it to the charging profile backend
(``apps.smart_charging``), and whatever result follows (the backend's, or our own ``REJECTED``
at the deadline) is POSTed to the partner's ``response_url``
(:func:`charging_profile_result_deliver`).

As the eMSP (Sender): :func:`charging_profile_set_send`, :func:`charging_profile_get_active_send`
and :func:`charging_profile_clear_send` record a request and, once committed, a worker sends it
to the CPO's chargingprofiles Receiver endpoint (:func:`charging_profile_request_send`) with a
``response_url`` on our Sender endpoint that names the request by an unguessable reference.

Every exchange is in the exchange log (module ``chargingprofiles``); every request, answer and
result, with their times, is a ``ChargingProfileRequest``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.urls import reverse

from apps.charging_sessions.models import ChargingSession
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.client import OcpiClient, OcpiTransportError, RoutingHeaders
from apps.ocpi.common.errors import OcpiError
from apps.ocpi.versions import VersionNumber
from apps.partners.models import PartnerConnection, Party
from apps.smart_charging.enums import ProfileOperation, RequestDirection, RequestStatus
from apps.smart_charging.models import ChargingProfileRequest
from apps.smart_charging.profiles import ChargingProfile, ProfileResult, SetChargingProfile
from apps.smart_charging.services import (
    charging_profile_request_expire,
    charging_profile_request_open,
    charging_profile_request_receive,
    charging_profile_requests_due,
    charging_profile_response_record,
    charging_profile_result_ready,
    charging_profile_result_sent,
)

logger = logging.getLogger(__name__)

MODULE = "chargingprofiles"
#: The result kind of each operation (spec 12.2).
RESULT_KINDS = {
    ProfileOperation.SET: "charging_profile_result",
    ProfileOperation.GET_ACTIVE: "active_charging_profile_result",
    ProfileOperation.CLEAR: "clear_profile_result",
}
RESULT_SEND_ATTEMPTS = 3


def _adapter(connection: PartnerConnection) -> Any:
    return get_adapter(connection.adapter_profile, connection.version or VersionNumber.V2_2_1)


def _routing(*, to_party: Party | None, from_party: Party | None) -> RoutingHeaders | None:
    return RoutingHeaders.between(from_party, to_party) if from_party is not None else None


# -- CPO side: requests we receive ----------------------------------------------------------------
def session_for_caller(
    *, connection: PartnerConnection, session_ref: str, cpo_parties: QuerySet[Party]
) -> ChargingSession | None:
    """One of our sessions (at ``cpo_parties``) charged with a token of a party the connection
    represents; ``None`` otherwise (the spec's UNKNOWN_SESSION: a partner learns nothing about
    sessions that are not its own)."""
    owners = Q()
    for party in connection.represented_parties.all():
        owners |= Q(token_country_code__iexact=party.country_code) & Q(
            token_party_id__iexact=party.party_id
        )
    if not owners:
        return None
    return (
        ChargingSession.objects.filter(
            owners,
            party__in=cpo_parties,
            party__partner__isnull=True,
            session_id__iexact=session_ref,
        )
        .select_related("party", "connector")
        .first()
    )


def charging_profile_request_accept(
    *,
    connection: PartnerConnection,
    from_party: Party | None,
    session: ChargingSession | None,
    session_ref: str,
    operation: ProfileOperation,
    response_url: str,
    profile: ChargingProfile | None = None,
    duration: int | None = None,
) -> ChargingProfileRequest:
    """Record a partner's request with our immediate answer; an accepted one is executed once
    this transaction commits, and closed at its deadline if still without outcome."""
    with transaction.atomic():
        request = charging_profile_request_receive(
            connection=connection,
            from_party=from_party,
            to_party=session.party if session else None,
            session=session,
            session_ref=session_ref,
            operation=operation,
            response_url=response_url,
            profile=profile,
            duration=duration,
        )
        if request.status == RequestStatus.PENDING:
            assert request.deadline_at is not None
            wait = (request.deadline_at - request.created_at).total_seconds()
            request_id = request.pk
            transaction.on_commit(lambda: _enqueue_execution(request_id, wait))
    return request


def _enqueue_execution(request_id: int, wait: float) -> None:
    from apps.ocpi.tasks import charging_profile_execute, charging_profile_expire

    try:
        charging_profile_execute.delay(request_id)
        charging_profile_expire.apply_async((request_id,), countdown=wait)
    except Exception:  # the broker is down: the periodic sweep closes the request at its deadline
        logger.warning("could not enqueue charging profile request %s", request_id)


@receiver(charging_profile_result_ready, dispatch_uid="ocpi_charging_profile_result")
def _on_result_ready(sender: Any, request_id: int, **kwargs: Any) -> None:
    transaction.on_commit(lambda: _enqueue_delivery(request_id))


def _enqueue_delivery(request_id: int, countdown: float | None = None) -> None:
    from apps.ocpi.tasks import charging_profile_result_deliver as task

    try:
        task.apply_async((request_id,), countdown=countdown)
    except Exception:  # the broker is down: the periodic sweep sends it
        logger.warning("could not enqueue the result of charging profile request %s", request_id)


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    retry: bool = False  # worth another attempt (no answer, or a server error)


def charging_profile_result_deliver(*, request_id: int) -> DeliveryOutcome:
    """POST a received request's result to its ``response_url`` (once delivered, never again)."""
    request = (
        ChargingProfileRequest.objects.select_related("connection", "from_party", "to_party")
        .filter(pk=request_id, direction=RequestDirection.RECEIVED)
        .first()
    )
    if request is None or not request.result or request.result_sent_at is not None:
        return DeliveryOutcome(delivered=False)
    connection = request.connection
    adapter = _adapter(connection)
    body = adapter.render(
        RESULT_KINDS[ProfileOperation(request.operation)],
        ProfileResult(result=request.result, active_profile=request.active_profile),
    )
    try:
        with OcpiClient.for_connection(connection, raw_token=adapter.sends_raw_token) as client:
            response = client.post(
                request.response_url,
                json=body,
                routing=_routing(to_party=request.from_party, from_party=request.to_party),
                module=MODULE,
            )
    except (OcpiTransportError, ValueError) as exc:
        charging_profile_result_sent(request_id=request_id, error=str(exc))
        return DeliveryOutcome(delivered=False, retry=isinstance(exc, OcpiTransportError))
    if not response.ok:
        error = (
            f"HTTP {response.http_status}, OCPI {response.status_code}: {response.status_message}"
        )
        charging_profile_result_sent(request_id=request_id, error=error)
        return DeliveryOutcome(delivered=False, retry=response.http_status >= 500)
    charging_profile_result_sent(request_id=request_id)
    return DeliveryOutcome(delivered=True)


def charging_profile_sweep() -> dict[str, int]:
    """Periodic safety net: close requests past their deadline (their result is then enqueued
    for delivery, as any result) and send results still undelivered long after they were known
    (a lost broker message); "long" outlasts a delivery task's own attempts, so that the two do
    not send the same result."""
    overdue, unsent = charging_profile_requests_due(
        max_send_attempts=RESULT_SEND_ATTEMPTS,
        unsent_for=timedelta(seconds=settings.OCPI_OUTBOUND_TIMEOUT * (RESULT_SEND_ATTEMPTS + 1)),
    )
    for request_id in overdue:
        charging_profile_request_expire(request_id=request_id)
    delivered = 0
    for request_id in unsent:
        if charging_profile_result_deliver(request_id=request_id).delivered:
            delivered += 1
    return {"expired": len(overdue), "delivered": delivered}


# -- eMSP side: requests we send ------------------------------------------------------------------
def _response_url(connection: PartnerConnection, reference: uuid.UUID) -> str:
    version = (connection.version or VersionNumber.V2_2_1).replace(".", "_")
    path = reverse(
        f"ocpi:v{version}:chargingprofiles_sender_result", kwargs={"reference": str(reference)}
    )
    return f"{settings.OCPI_BASE_URL}{path}"


def _parties(
    connection: PartnerConnection,
    session: ChargingSession | None,
    from_party: Party | None,
    to_party: Party | None,
) -> tuple[Party | None, Party | None]:
    """Who asks (one of our eMSP parties, the token owner when known) and who is asked (the
    session's CPO, or the connection's only CPO party)."""
    if from_party is None and session is not None:
        from_party = (
            Party.objects.own()
            .filter(
                country_code__iexact=session.token_country_code,
                party_id__iexact=session.token_party_id,
            )
            .first()
        )
    if from_party is None:
        from_party = next((p for p in Party.objects.own() if p.has_role("EMSP")), None)
    if to_party is None and session is not None and not session.party.is_own:
        to_party = session.party
    if to_party is None:
        cpos = [p for p in connection.represented_parties.all() if p.has_role("CPO")]
        to_party = cpos[0] if len(cpos) == 1 else None
    return from_party, to_party


def _send(
    *,
    connection: PartnerConnection,
    operation: ProfileOperation,
    session_ref: str,
    session: ChargingSession | None,
    from_party: Party | None,
    to_party: Party | None,
    profile: ChargingProfile | None = None,
    duration: int | None = None,
) -> ChargingProfileRequest:
    if not connection.endpoint_url(MODULE, "RECEIVER"):
        raise OcpiError(f"{connection} offers no chargingprofiles Receiver endpoint")
    if session is not None:
        session_ref = session_ref or session.session_id
    from_party, to_party = _parties(connection, session, from_party, to_party)
    reference = uuid.uuid4()
    with transaction.atomic():
        request = charging_profile_request_open(
            connection=connection,
            operation=operation,
            session_ref=session_ref,
            response_url=_response_url(connection, reference),
            reference=reference,
            from_party=from_party,
            to_party=to_party,
            session=session,
            profile=profile,
            duration=duration,
        )
        request_id = request.pk
        transaction.on_commit(lambda: _enqueue_send(request_id))
    return request


def _enqueue_send(request_id: int) -> None:
    from apps.ocpi.tasks import charging_profile_send

    try:
        charging_profile_send.delay(request_id)
    except Exception:
        logger.warning("could not enqueue sending charging profile request %s", request_id)


def charging_profile_set_send(
    *,
    connection: PartnerConnection,
    profile: ChargingProfile,
    session_ref: str = "",
    session: ChargingSession | None = None,
    from_party: Party | None = None,
    to_party: Party | None = None,
) -> ChargingProfileRequest:
    """Ask the CPO behind ``connection`` to set ``profile`` on a session (sent after commit)."""
    return _send(
        connection=connection,
        operation=ProfileOperation.SET,
        session_ref=session_ref,
        session=session,
        from_party=from_party,
        to_party=to_party,
        profile=profile,
    )


def charging_profile_get_active_send(
    *,
    connection: PartnerConnection,
    duration: int,
    session_ref: str = "",
    session: ChargingSession | None = None,
    from_party: Party | None = None,
    to_party: Party | None = None,
) -> ChargingProfileRequest:
    """Ask the CPO for a session's active profile over the next ``duration`` seconds."""
    return _send(
        connection=connection,
        operation=ProfileOperation.GET_ACTIVE,
        session_ref=session_ref,
        session=session,
        from_party=from_party,
        to_party=to_party,
        duration=duration,
    )


def charging_profile_clear_send(
    *,
    connection: PartnerConnection,
    session_ref: str = "",
    session: ChargingSession | None = None,
    from_party: Party | None = None,
    to_party: Party | None = None,
) -> ChargingProfileRequest:
    """Ask the CPO to clear the profile we set on a session."""
    return _send(
        connection=connection,
        operation=ProfileOperation.CLEAR,
        session_ref=session_ref,
        session=session,
        from_party=from_party,
        to_party=to_party,
    )


def charging_profile_request_send(*, request_id: int) -> ChargingProfileRequest | None:
    """Send a recorded request to the CPO (once) and record its immediate answer."""
    request = (
        ChargingProfileRequest.objects.select_related("connection", "from_party", "to_party")
        .filter(pk=request_id, direction=RequestDirection.SENT, status=RequestStatus.PENDING)
        .first()
    )
    if request is None:
        return None
    connection = request.connection
    adapter = _adapter(connection)
    base = connection.endpoint_url(MODULE, "RECEIVER")
    if not base:
        return charging_profile_response_record(
            request_id=request_id, response=None, error="no chargingprofiles Receiver endpoint"
        )
    url = f"{base.rstrip('/')}/{quote(request.session_ref, safe='')}"
    options: dict[str, Any] = {
        "routing": _routing(to_party=request.to_party, from_party=request.from_party),
        "module": MODULE,
    }
    try:
        with OcpiClient.for_connection(connection, raw_token=adapter.sends_raw_token) as client:
            if request.operation == ProfileOperation.SET:
                profile = request.profile
                assert profile is not None
                body = adapter.render(
                    "set_charging_profile", SetChargingProfile(profile, request.response_url)
                )
                response = client.put(url, json=body, **options)
            elif request.operation == ProfileOperation.GET_ACTIVE:
                params = {"duration": request.duration, "response_url": request.response_url}
                response = client.get(url, params=params, **options)
            else:
                response = client.delete(
                    url, params={"response_url": request.response_url}, **options
                )
    except (OcpiTransportError, ValueError) as exc:
        return charging_profile_response_record(
            request_id=request_id, response=None, error=str(exc)
        )
    if not response.ok:
        error = (
            f"HTTP {response.http_status}, OCPI {response.status_code}: {response.status_message}"
        )
        return charging_profile_response_record(request_id=request_id, response=None, error=error)
    try:
        answer = adapter.parse("charging_profile_response", response.data)
    except OcpiError as exc:
        return charging_profile_response_record(
            request_id=request_id,
            response=None,
            error=f"unusable ChargingProfileResponse: {exc.message}",
        )
    return charging_profile_response_record(request_id=request_id, response=answer)
