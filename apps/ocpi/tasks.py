"""Celery tasks of the OCPI layer (explicit dotted names; arguments are plain values)."""

from __future__ import annotations

from celery import shared_task

from apps.ocpi.services.exchange_log import exchange_log_prune


@shared_task(name="roamdesk.ocpi.prune_exchange_log")
def prune_exchange_log(older_than_days: int | None = None) -> int:
    """Delete exchange log rows past the retention (OCPI_EXCHANGE_LOG_RETENTION_DAYS)."""
    return exchange_log_prune(older_than_days=older_than_days)


@shared_task(name="roamdesk.ocpi.deliver")
def deliver(connection_id: int, lane: str = "bulk", schedule_token: str = "") -> dict[str, object]:
    """Send what is due for one connection's lane. It asks for the next job only when it made
    progress and more is due soon; a job that could send nothing ends (the sweep, a new
    change or resuming the connection wakes the lane again)."""
    from apps.ocpi.services.delivery import (
        deliveries_continue,
        deliveries_run,
        delivery_job_started,
    )

    delivery_job_started(connection_id, lane, schedule_token)
    report = deliveries_run(connection_id=connection_id, lane=lane)
    deliveries_continue(connection_id, lane, report)
    return {"claimed": report.claimed, "delivered": report.delivered}


@shared_task(name="roamdesk.ocpi.sweep_deliveries")
def sweep_deliveries() -> list[tuple[int, str]]:
    """Periodic: revive deliveries of lost workers and wake lanes with work due (once each)."""
    from apps.ocpi.services.delivery import deliveries_sweep_enqueue

    return deliveries_sweep_enqueue()


@shared_task(name="roamdesk.ocpi.sync")
def sync(
    connection_id: int, module: str, full: bool = False, schedule_token: str = ""
) -> dict[str, object]:
    """Run or resume the pull of one module from one connection (never two at once)."""
    from apps.ocpi.services.sync import sync_job_started, sync_run

    sync_job_started(connection_id, module, full, schedule_token)
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
    """Periodic: ask for every pull sync that is due (and every interrupted one), once each."""
    from apps.ocpi.services.sync import sync_enqueue, syncs_due

    return [
        (connection_id, module, full)
        for connection_id, module, full in syncs_due()
        if sync_enqueue(connection_id, module, full)
    ]


# -- chargingprofiles ------------------------------------------------------------------------
@shared_task(name="roamdesk.ocpi.charging_profile_execute")
def charging_profile_execute(request_id: int) -> str | None:
    """Hand a received charging profile request to the backend (once)."""
    # Imported for its signal receiver: the result the backend reports gets delivered.
    from apps.ocpi.services import charging_profiles  # noqa: F401
    from apps.smart_charging.services import charging_profile_request_execute

    request = charging_profile_request_execute(request_id=request_id)
    return request.status if request is not None else None


@shared_task(name="roamdesk.ocpi.charging_profile_expire")
def charging_profile_expire(request_id: int) -> str | None:
    """At a received request's deadline: answer REJECTED if the backend reported nothing."""
    from apps.ocpi.services import charging_profiles  # noqa: F401 (delivers the result)
    from apps.smart_charging.services import charging_profile_request_expire

    request = charging_profile_request_expire(request_id=request_id)
    return request.status if request is not None else None


@shared_task(name="roamdesk.ocpi.charging_profile_result_deliver")
def charging_profile_result_deliver(request_id: int, attempt: int = 1) -> bool:
    """POST a received request's result to the requester's response_url; tried again shortly
    (3 attempts in all) when there was no answer or a server error: the requester waits only
    until the timeout we announced."""
    from apps.ocpi.services.charging_profiles import RESULT_SEND_ATTEMPTS
    from apps.ocpi.services.charging_profiles import charging_profile_result_deliver as deliver

    outcome = deliver(request_id=request_id)
    if outcome.retry and attempt < RESULT_SEND_ATTEMPTS:
        charging_profile_result_deliver.apply_async(
            (request_id, attempt + 1), countdown=2 * attempt
        )
    return outcome.delivered


@shared_task(name="roamdesk.ocpi.charging_profile_send")
def charging_profile_send(request_id: int) -> str | None:
    """Send a charging profile request of ours to the CPO and record its immediate answer."""
    from apps.ocpi.services.charging_profiles import charging_profile_request_send

    request = charging_profile_request_send(request_id=request_id)
    return request.status if request is not None else None


@shared_task(name="roamdesk.ocpi.charging_profile_sweep")
def charging_profile_sweep() -> dict[str, int]:
    """Periodic: close received requests past their deadline and send undelivered results."""
    from apps.ocpi.services.charging_profiles import charging_profile_sweep as sweep

    return sweep()
