"""A background job that raises is a failure an operator sees, with its reason."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.core.housekeeping import job_failure_record, job_failures_prune, job_failures_summary
from apps.core.models import JobFailure
from apps.ocpi.tasks import sync
from tests.workers import CeleryWorker, broker_purge


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_that_raises_in_a_real_worker_leaves_its_reason() -> None:
    broker_purge()
    worker = CeleryWorker().start()
    try:
        sync.apply_async((987654, "locations"))  # a connection that does not exist
        deadline = time.monotonic() + 60
        ours = JobFailure.objects.filter(task="roamdesk.ocpi.sync", arguments__contains="987654")
        while not ours.exists():
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
    # (Other tests' messages a killed worker left unacknowledged in Redis may run here too.)
    failure = ours.get()
    assert failure.task == "roamdesk.ocpi.sync"
    assert failure.error.startswith("DoesNotExist: PartnerConnection matching query")
    assert "987654" in failure.arguments
    assert "Traceback" in failure.traceback


@pytest.mark.django_db
def test_the_health_page_lists_failed_jobs_per_task(staff_client: Client) -> None:
    page = staff_client.get(reverse("admin:partners_partnerconnection_health")).content.decode()
    assert "No background job failed in the last 14 days." in page
    for n in range(3):
        job_failure_record(task="roamdesk.ocpi.sync", arguments="", error=f"boom {n}")
    job_failure_record(task="roamdesk.ocpi.deliver", arguments="", error="disk full")
    summary = {row["task"]: row for row in job_failures_summary(days=14)}
    assert summary["roamdesk.ocpi.sync"]["count"] == 3
    assert summary["roamdesk.ocpi.sync"]["last_error"] == "boom 2"
    page = staff_client.get(reverse("admin:partners_partnerconnection_health")).content.decode()
    assert "roamdesk.ocpi.deliver" in page
    assert "disk full" in page
    listing = staff_client.get(reverse("admin:core_jobfailure_changelist"))
    assert listing.status_code == 200
    assert "boom 2" in listing.content.decode()


@pytest.mark.django_db
@override_settings(OCPI_EXCHANGE_LOG_RETENTION_DAYS=30)
def test_job_failures_are_pruned_after_the_retention() -> None:
    job_failure_record(task="old", arguments="", error="x")
    JobFailure.objects.update(created_at=timezone.now() - timedelta(days=31))
    job_failure_record(task="new", arguments="", error="y")
    assert job_failures_prune() == 1
    assert list(JobFailure.objects.values_list("task", flat=True)) == ["new"]
