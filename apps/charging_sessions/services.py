"""Charging session services."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.charging_sessions.enums import SessionStatus
from apps.charging_sessions.models import ChargingSession
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.services import Actor, audit_log_record


def session_complete(
    *, session: ChargingSession, end_date_time: datetime, actor: Actor = None
) -> ChargingSession:
    """End a session: status COMPLETED with its end time, announced as a SESSION change.

    The listeners of the announcement run in this transaction: for a session at one of our own
    CPO parties, the CDR is generated, validated and (when valid) finalized and queued for the
    eMSP (``apps.cdrs.generation``). This module does not import the CDRs app, which imports
    this one. A CDR that cannot be generated (no valid tariff, ...) does not undo the
    completion: the refusal is in the audit log and the session is listed in the admin as
    completed without a CDR.

    Completing a session again with the same end time changes nothing.
    """
    if timezone.is_naive(end_date_time):
        raise DomainError("end_date_time must be an aware datetime", code="NAIVE_DATETIME")
    with transaction.atomic():
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.COMPLETED:
            if locked.end_date_time == end_date_time:
                return locked
            raise DomainError(
                f"session {locked.session_id} already ended at {locked.end_date_time}",
                code="SESSION_ALREADY_COMPLETED",
            )
        if locked.status == SessionStatus.INVALID:
            raise DomainError(
                f"session {locked.session_id} was declared invalid", code="SESSION_INVALID"
            )
        last_period = locked.charging_periods.order_by("-start_date_time").first()
        latest_start = last_period.start_date_time if last_period else locked.start_date_time
        if end_date_time < max(latest_start, locked.start_date_time):
            raise DomainError(
                f"session {locked.session_id} cannot end at {end_date_time.isoformat()}, before "
                f"it started or before its last charging period ({latest_start.isoformat()})",
                code="SESSION_END_BEFORE_START",
            )
        previous_end = locked.end_date_time
        before = {
            "status": locked.status,
            "end_date_time": previous_end.isoformat() if previous_end else None,
        }
        locked.status = SessionStatus.COMPLETED
        locked.end_date_time = end_date_time
        locked.last_updated = timezone.now()
        locked.save(update_fields=["status", "end_date_time", "last_updated"])
        audit_log_record(
            actor=actor,
            action="session.completed",
            obj=locked,
            before=before,
            after={"status": locked.status, "end_date_time": end_date_time.isoformat()},
        )
        change_announce(DomainChange(kind=ChangeKind.SESSION, object_id=locked.pk))
    return locked
