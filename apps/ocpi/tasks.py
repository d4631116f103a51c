"""Celery tasks of the OCPI layer (explicit dotted names; arguments are plain values)."""

from __future__ import annotations

from celery import shared_task

from apps.ocpi.services.exchange_log import exchange_log_prune


@shared_task(name="roamdesk.ocpi.prune_exchange_log")
def prune_exchange_log(older_than_days: int | None = None) -> int:
    """Delete exchange log rows past the retention (OCPI_EXCHANGE_LOG_RETENTION_DAYS)."""
    return exchange_log_prune(older_than_days=older_than_days)


@shared_task(name="roamdesk.ocpi.deliver")
def deliver(connection_id: int) -> dict[str, object]:
    """Send what is due for one connection. A short wait until the next due delivery is
    re-enqueued here; longer waits are left to the periodic sweep (they live in the database)."""
    from django.conf import settings

    from apps.ocpi.services.delivery import deliveries_run

    report = deliveries_run(connection_id=connection_id)
    if report.next_due_in is not None and report.next_due_in <= settings.OCPI_DELIVERY_SHORT_WAIT:
        deliver.apply_async((connection_id,), countdown=max(report.next_due_in, 0.05))
    return {"claimed": report.claimed, "delivered": report.delivered}


@shared_task(name="roamdesk.ocpi.sweep_deliveries")
def sweep_deliveries() -> list[int]:
    """Periodic: revive deliveries of lost workers and enqueue connections with work due."""
    from apps.ocpi.services.delivery import deliveries_sweep

    connection_ids = deliveries_sweep()
    for connection_id in connection_ids:
        deliver.delay(connection_id)
    return connection_ids


@shared_task(name="roamdesk.ocpi.sync")
def sync(connection_id: int, module: str, full: bool = False) -> dict[str, object]:
    """Run or resume the pull of one module from one connection (never two at once)."""
    from apps.ocpi.services.sync import sync_run

    report = sync_run(connection_id=connection_id, module=module, full=full)
    return {
        "completed": report.completed,
        "busy": report.busy,
        "resumed": report.resumed,
        "pages": report.pages,
        "objects": report.objects,
        "invalid": report.invalid,
        "error": report.error,
    }


@shared_task(name="roamdesk.ocpi.sync_due")
def sync_due() -> list[tuple[int, str, bool]]:
    """Periodic: enqueue every pull sync that is due (and every interrupted one)."""
    from apps.ocpi.services.sync import syncs_due

    due = syncs_due()
    for connection_id, module, full in due:
        sync.delay(connection_id, module, full)
    return due
