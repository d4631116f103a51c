"""Smart-charging services: the life of a charging profile request in both directions.

Received (we operate the charger): :func:`charging_profile_request_receive` records the request
and its immediate answer; :func:`charging_profile_request_execute` hands it to the backend;
the backend reports the outcome with :func:`charging_profile_result_report`, or
:func:`charging_profile_request_expire` closes it at its deadline. Either way the
``charging_profile_result_ready`` signal fires inside the transaction, so that whoever tells the
requester (the protocol layer) can act once it commits; :func:`charging_profile_result_sent`
records that it did.

Sent (a partner operates the charger): :func:`charging_profile_request_open`, then
:func:`charging_profile_response_record` with the partner's immediate answer, then
:func:`charging_profile_result_receive` when its result arrives.
:func:`reported_active_profile_record` keeps the active profiles partners report.

Timeouts: we announce ``CHARGING_PROFILE_TIMEOUT`` seconds (default 30) and stop waiting for the
backend at 80 % of it, so that the result we then send still arrives within what we announced.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from apps.charging_sessions.models import ChargingSession
from apps.core.errors import DomainError
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.partners.models import PartnerConnection, Party
from apps.smart_charging.backend import charging_profile_backend
from apps.smart_charging.enums import (
    OPEN_STATUSES,
    ProfileOperation,
    ProfileResponseType,
    ProfileResultType,
    RequestDirection,
    RequestStatus,
)
from apps.smart_charging.models import (
    ChargingProfileRequest,
    ReportedActiveProfile,
    SessionChargingProfile,
)
from apps.smart_charging.profiles import (
    ActiveChargingProfile,
    ChargingProfile,
    ProfileResponse,
    ProfileResult,
)

logger = logging.getLogger(__name__)

#: Sent inside the transaction that gives a received request its result (``request_id``).
charging_profile_result_ready = Signal()

DEFAULT_TIMEOUT = 30
#: Share of the announced timeout we wait for the backend before answering ourselves.
DEADLINE_SHARE = 0.8


def charging_profile_timeout() -> int:
    """Seconds we announce to requesters for the result to arrive."""
    return max(int(getattr(settings, "CHARGING_PROFILE_TIMEOUT", DEFAULT_TIMEOUT)), 1)


def _note(request: ChargingProfileRequest, text: str) -> None:
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    request.note = f"{request.note}\n{stamp} {text}".strip()


# -- received: we operate the charger -------------------------------------------------------------
def charging_profile_request_receive(
    *,
    connection: PartnerConnection,
    from_party: Party | None,
    to_party: Party | None,
    session: ChargingSession | None,
    session_ref: str,
    operation: ProfileOperation,
    response_url: str,
    profile: ChargingProfile | None = None,
    duration: int | None = None,
) -> ChargingProfileRequest:
    """Record a request a partner made and our immediate answer.

    ``session`` is the session the caller may address (``None``: unknown to it, answered
    ``UNKNOWN_SESSION`` and closed). An accepted request is ``PENDING`` until executed, with a
    deadline for its result. The caller executes it once this transaction commits.
    """
    if operation == ProfileOperation.SET and profile is None:
        raise DomainError("a SET request needs a profile", code="PROFILE_MISSING")
    if operation == ProfileOperation.GET_ACTIVE and duration is None:
        raise DomainError("a GET_ACTIVE request needs a duration", code="DURATION_MISSING")
    now = timezone.now()
    timeout = charging_profile_timeout()
    accepted = session is not None
    return ChargingProfileRequest.objects.create(
        direction=RequestDirection.RECEIVED,
        operation=operation,
        status=RequestStatus.PENDING if accepted else RequestStatus.REFUSED,
        connection=connection,
        from_party=from_party,
        to_party=to_party,
        session=session,
        session_ref=session_ref,
        charging_profile=profile.to_json() if profile else None,
        duration=duration,
        response_url=response_url,
        response_result=(
            ProfileResponseType.ACCEPTED if accepted else ProfileResponseType.UNKNOWN_SESSION
        ),
        response_timeout=timeout if accepted else 0,
        responded_at=now,
        deadline_at=now + timedelta(seconds=timeout * DEADLINE_SHARE) if accepted else None,
        created_at=now,
    )


def charging_profile_request_execute(*, request_id: int) -> ChargingProfileRequest | None:
    """Hand a pending received request to the backend (once: a repeated call does nothing).

    The backend runs outside any transaction (it may talk to a charger). A refusal, or an error,
    becomes a ``REJECTED`` result at once.
    """
    with transaction.atomic():
        request = (
            ChargingProfileRequest.objects.select_for_update()
            .filter(pk=request_id, direction=RequestDirection.RECEIVED)
            .first()
        )
        if request is None or request.status != RequestStatus.PENDING:
            return request
        request.status = RequestStatus.AWAITING_RESULT
        request.executed_at = timezone.now()
        request.save(update_fields=["status", "executed_at", "updated_at"])
    backend = charging_profile_backend()
    try:
        if request.operation == ProfileOperation.SET:
            profile = request.profile
            assert profile is not None
            answer = backend.set_profile(request=request, profile=profile)
        elif request.operation == ProfileOperation.GET_ACTIVE:
            assert request.duration is not None
            answer = backend.get_active_profile(request=request, duration=request.duration)
        else:
            answer = backend.clear_profile(request=request)
    except Exception as exc:
        logger.exception("charging profile backend failed on request %s", request_id)
        answer, reason = ProfileResponseType.REJECTED, f"backend error: {exc!r}"
    else:
        reason = f"backend answered {answer}"
    if answer != ProfileResponseType.ACCEPTED:
        charging_profile_result_report(
            request_id=request_id, result=ProfileResultType.REJECTED, note=reason
        )
    return ChargingProfileRequest.objects.get(pk=request_id)


def charging_profile_result_report(
    *,
    request_id: int,
    result: str,
    active_profile: ActiveChargingProfile | None = None,
    note: str = "",
) -> ChargingProfileRequest:
    """The outcome of a received request, as the backend learnt it.

    An accepted SET puts the profile in force for the requester on the session (replacing its
    previous one); an accepted CLEAR removes the requester's profile. A report for a request
    already closed (timed out, or reported before) changes nothing but the note.
    """
    result = ProfileResultType(result)
    if result == ProfileResultType.ACCEPTED:
        request = ChargingProfileRequest.objects.only("operation").get(pk=request_id)
        if request.operation == ProfileOperation.GET_ACTIVE and active_profile is None:
            raise DomainError(
                "an accepted GET_ACTIVE result needs the active profile", code="PROFILE_MISSING"
            )
    with transaction.atomic():
        request = ChargingProfileRequest.objects.select_for_update().get(
            pk=request_id, direction=RequestDirection.RECEIVED
        )
        if request.status not in OPEN_STATUSES:
            _note(request, f"late result {result} ignored ({request.status})")
            request.save(update_fields=["note", "updated_at"])
            return request
        request.status = RequestStatus.COMPLETED
        request.result = result
        request.result_at = timezone.now()
        if active_profile is not None and request.operation == ProfileOperation.GET_ACTIVE:
            request.result_profile = active_profile.to_json()
        if note:
            _note(request, note)
        request.save()
        if result == ProfileResultType.ACCEPTED and request.session_id and request.from_party_id:
            if request.operation == ProfileOperation.SET:
                SessionChargingProfile.objects.update_or_create(
                    session_id=request.session_id,
                    owner_id=request.from_party_id,
                    defaults={
                        "charging_profile": request.charging_profile,
                        "request": request,
                        "set_at": request.result_at,
                    },
                )
            elif request.operation == ProfileOperation.CLEAR:
                SessionChargingProfile.objects.filter(
                    session_id=request.session_id, owner_id=request.from_party_id
                ).delete()
        charging_profile_result_ready.send(sender=ChargingProfileRequest, request_id=request.pk)
    return request


def charging_profile_request_expire(
    *, request_id: int, now: datetime | None = None
) -> ChargingProfileRequest | None:
    """Close a received request still without outcome at its deadline: ``REJECTED``.

    The result types have no "timeout": ``REJECTED`` tells the requester the profile cannot be
    taken as applied (and, for get-active, that no profile comes). Before the deadline, or once
    closed, nothing changes.
    """
    now = now or timezone.now()
    with transaction.atomic():
        request = (
            ChargingProfileRequest.objects.select_for_update()
            .filter(pk=request_id, direction=RequestDirection.RECEIVED)
            .first()
        )
        if (
            request is None
            or request.status not in OPEN_STATUSES
            or request.deadline_at is None
            or request.deadline_at > now
        ):
            return request
        request.status = RequestStatus.TIMED_OUT
        request.result = ProfileResultType.REJECTED
        request.result_at = now
        _note(request, "no outcome from the charger within the timeout: answered REJECTED")
        request.save()
        charging_profile_result_ready.send(sender=ChargingProfileRequest, request_id=request.pk)
    return request


def charging_profile_result_sent(*, request_id: int, error: str = "") -> ChargingProfileRequest:
    """Record one attempt to give a received request's result to the requester."""
    with transaction.atomic():
        request = ChargingProfileRequest.objects.select_for_update().get(pk=request_id)
        request.result_send_attempts += 1
        if error:
            _note(request, f"result not delivered: {error}")
        else:
            request.result_sent_at = timezone.now()
        request.save(update_fields=["result_send_attempts", "result_sent_at", "note", "updated_at"])
    return request


def charging_profile_requests_due(
    *,
    now: datetime | None = None,
    max_send_attempts: int = 3,
    unsent_for: timedelta = timedelta(seconds=60),
) -> tuple[list[int], list[int]]:
    """Received requests past their deadline, and results still undelivered ``unsent_for``
    after they were known (younger ones are still in the hands of their own delivery)."""
    now = now or timezone.now()
    received = ChargingProfileRequest.objects.filter(direction=RequestDirection.RECEIVED)
    overdue = received.filter(status__in=OPEN_STATUSES, deadline_at__lte=now)
    unsent = received.filter(
        status__in=(RequestStatus.COMPLETED, RequestStatus.TIMED_OUT),
        result_at__lte=now - unsent_for,
        result_sent_at__isnull=True,
        result_send_attempts__lt=max_send_attempts,
    )
    return (
        list(overdue.order_by("pk").values_list("pk", flat=True)),
        list(unsent.order_by("pk").values_list("pk", flat=True)),
    )


def session_profile_in_force(*, session: ChargingSession) -> SessionChargingProfile | None:
    """The most recently set profile of a session (``None``: no profile)."""
    return SessionChargingProfile.objects.filter(session=session).order_by("-set_at", "-pk").first()


# -- sent: a partner operates the charger ---------------------------------------------------------
def charging_profile_request_open(
    *,
    connection: PartnerConnection,
    operation: ProfileOperation,
    session_ref: str,
    response_url: str,
    reference: uuid.UUID,
    from_party: Party | None = None,
    to_party: Party | None = None,
    session: ChargingSession | None = None,
    profile: ChargingProfile | None = None,
    duration: int | None = None,
) -> ChargingProfileRequest:
    """Record a request we are about to send; ``response_url`` carries ``reference``."""
    if operation == ProfileOperation.SET and profile is None:
        raise DomainError("a SET request needs a profile", code="PROFILE_MISSING")
    if operation == ProfileOperation.GET_ACTIVE and (duration is None or duration <= 0):
        raise DomainError("a GET_ACTIVE request needs a positive duration", code="BAD_DURATION")
    return ChargingProfileRequest.objects.create(
        direction=RequestDirection.SENT,
        operation=operation,
        reference=reference,
        connection=connection,
        from_party=from_party,
        to_party=to_party,
        session=session,
        session_ref=session_ref,
        charging_profile=profile.to_json() if profile else None,
        duration=duration,
        response_url=response_url,
    )


def charging_profile_response_record(
    *, request_id: int, response: ProfileResponse | None, error: str = ""
) -> ChargingProfileRequest:
    """The partner's immediate answer (``None`` with ``error``: there was none usable).

    A result that arrived before this answer was processed is kept (the request stays
    ``COMPLETED``).
    """
    now = timezone.now()
    with transaction.atomic():
        request = ChargingProfileRequest.objects.select_for_update().get(
            pk=request_id, direction=RequestDirection.SENT
        )
        request.responded_at = now
        if response is None:
            if request.status == RequestStatus.PENDING:
                request.status = RequestStatus.FAILED
            _note(request, error or "no usable answer")
        else:
            request.response_result = response.result
            request.response_timeout = response.timeout
            if response.result == ProfileResponseType.ACCEPTED:
                request.deadline_at = now + timedelta(seconds=response.timeout)
                if request.status == RequestStatus.PENDING:
                    request.status = RequestStatus.AWAITING_RESULT
            elif request.status == RequestStatus.PENDING:
                request.status = RequestStatus.REFUSED
        request.save()
    return request


def charging_profile_result_receive(
    *, request: ChargingProfileRequest, result: ProfileResult
) -> ChargingProfileRequest:
    """A partner's result for a request we sent. A repeated result replaces the previous one;
    an accepted get-active result also updates the session's reported active profile."""
    with transaction.atomic():
        request = ChargingProfileRequest.objects.select_for_update().get(
            pk=request.pk, direction=RequestDirection.SENT
        )
        if request.status != RequestStatus.COMPLETED and request.status not in OPEN_STATUSES:
            _note(request, f"result after {request.status}")
        if request.deadline_at is not None and timezone.now() > request.deadline_at:
            _note(request, "result arrived after the announced timeout")
        request.status = RequestStatus.COMPLETED
        request.result = ProfileResultType(result.result)
        request.result_at = timezone.now()
        request.result_profile = (
            result.active_profile.to_json() if result.active_profile is not None else None
        )
        request.save()
        if result.active_profile is not None and request.operation == ProfileOperation.GET_ACTIVE:
            reported_active_profile_record(
                connection=request.connection,
                session=request.session,
                session_ref=request.session_ref,
                active_profile=result.active_profile,
            )
    return request


def charging_profile_session_known(*, connection: PartnerConnection, session_ref: str) -> bool:
    """Whether a session of the partner is one we may hear about: we asked the partner about it
    before (it reports active profiles only for sessions someone set a profile on)."""
    return ChargingProfileRequest.objects.filter(
        direction=RequestDirection.SENT, connection=connection, session_ref__iexact=session_ref
    ).exists()


def partner_session_copy(
    *, connection: PartnerConnection, session_ref: str
) -> ChargingSession | None:
    """Our copy of a session of one of the parties ``connection`` represents."""
    return (
        ChargingSession.objects.filter(
            Q(party__in=connection.represented_parties.all()),
            session_id__iexact=session_ref,
        )
        .order_by("-last_updated")
        .first()
    )


def reported_active_profile_record(
    *,
    connection: PartnerConnection,
    session: ChargingSession | None,
    session_ref: str,
    active_profile: ActiveChargingProfile,
) -> Upserted[ReportedActiveProfile]:
    """Keep the newest active profile a partner reported for a session (an older calculation,
    arriving late, is ignored)."""
    with transaction.atomic():
        stored = (
            ReportedActiveProfile.objects.select_for_update()
            .filter(connection=connection, session_ref__iexact=session_ref)
            .first()
        )
        if stored is not None and is_stale(active_profile.start_date_time, stored.start_date_time):
            return Upserted(Outcome.STALE, stored)
        created = stored is None
        if stored is None:
            stored = ReportedActiveProfile(connection=connection, session_ref=session_ref)
        stored.session = session or stored.session
        stored.start_date_time = active_profile.start_date_time
        stored.active_profile = active_profile.to_json()
        stored.received_at = timezone.now()
        stored.save()
    return Upserted(Outcome.CREATED if created else Outcome.UPDATED, stored)
