"""Celery tasks of the OCPI layer (explicit dotted names; arguments are plain values)."""

from __future__ import annotations

from celery import shared_task

from apps.ocpi.services.exchange_log import exchange_log_prune


@shared_task(name="roamdesk.ocpi.prune_exchange_log")
def prune_exchange_log(older_than_days: int | None = None) -> int:
    """Delete exchange log rows past the retention (OCPI_EXCHANGE_LOG_RETENTION_DAYS)."""
    return exchange_log_prune(older_than_days=older_than_days)
