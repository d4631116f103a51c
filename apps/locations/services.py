from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.locations.models import Evse, EvseStatusChange
from apps.partners.models import PartnerConnection


def evse_status_set(
    *,
    evse: Evse,
    status: str,
    changed_at: datetime,
    source_connection: PartnerConnection | None = None,
) -> EvseStatusChange | None:
    """Set an EVSE's status and append the transition to its history.

    A report older than the EVSE's ``last_updated`` is ignored (out-of-order delivery), and so
    is a report that does not change the status. Returns the history row, if one was written.
    """
    with transaction.atomic():
        locked = Evse.objects.select_for_update().get(pk=evse.pk)
        if locked.last_updated and changed_at < locked.last_updated:
            return None
        if locked.status == status:
            return None
        change = EvseStatusChange.objects.create(
            evse=locked,
            status=status,
            previous_status=locked.status or "",
            changed_at=changed_at,
            source_connection=source_connection,
        )
        Evse.objects.filter(pk=locked.pk).update(status=status, last_updated=changed_at)
        evse.status, evse.last_updated = status, changed_at
        return change
