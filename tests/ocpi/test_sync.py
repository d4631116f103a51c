"""Pull sync against a local paginated partner: incremental windows, resumption after a crash
(in-process and a SIGKILLed Celery worker), no overlapping runs, a shrinking list, the schedule,
the command and the admin."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.models import SyncCursor
from apps.ocpi.services import sync as sync_service
from apps.ocpi.services.sync import sync_enqueue, sync_run, syncs_due
from apps.partners.models import PartnerConnection, Party
from tests.ocpi.callers import own_party, partner_caller
from tests.ocpi.httpserver import OcpiPeer
from tests.ocpi.paginated import PaginatedPartner, last_updated
from tests.workers import CeleryWorker, broker_purge, broker_queue_length

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
MODULE = "hubclientinfo"


def _t(obj: dict[str, Any]) -> datetime:
    return last_updated(obj)


def info(n: int, moment: datetime, status: str = "CONNECTED") -> dict[str, Any]:
    return {
        "party_id": f"P{n:02d}",
        "country_code": "NL",
        "role": "CPO",
        "status": status,
        "last_updated": format_ocpi_datetime(moment),
    }


def hub_connection(peer: OcpiPeer) -> PartnerConnection:
    own_party("EMSP")
    hub = partner_caller("HUB", country_code="DE", party_id="HUB")
    connection = hub.connection
    connection.version = "2.2.1"
    connection.endpoints = [
        {"identifier": MODULE, "role": "SENDER", "url": peer.url("/clientinfo")},
    ]
    connection.set_send_token("token-for-the-hub")
    connection.save()
    return connection


def held(connection: PartnerConnection) -> dict[str, str]:
    return dict(
        Party.objects.filter(reachability_via=connection).values_list("party_id", "reachability")
    )


def expected(objects: list[dict[str, Any]]) -> dict[str, str]:
    latest: dict[str, dict[str, Any]] = {}
    for o in objects:
        if o["party_id"] not in latest or _t(o) >= _t(latest[o["party_id"]]):
            latest[o["party_id"]] = o
    return {k: v["status"] for k, v in latest.items()}


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local() -> Any:
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield


def test_incremental_windows_follow_the_high_water_mark(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    objects = [info(n, T0 + timedelta(minutes=n)) for n in range(7)]
    partner = PaginatedPartner(ocpi_peer, objects)
    first = sync_run(connection_id=connection.pk, module=MODULE)
    assert first.completed
    assert (first.pages, first.objects) == (3, 7)
    assert held(connection) == expected(objects)
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert cursor.high_water is not None
    assert cursor.successes == 1
    assert "date_from" not in ocpi_peer.requests[0].query  # nothing held yet: everything
    date_to = ocpi_peer.requests[0].query["date_to"][0]

    # Changes after the first run's date_to arrive in the second window.
    later = timezone.now() + timedelta(seconds=1)
    partner.objects.append(info(3, later, status="OFFLINE"))
    time.sleep(1.1)
    ocpi_peer.requests.clear()
    second = sync_run(connection_id=connection.pk, module=MODULE)
    assert second.completed
    assert second.objects == 1
    assert ocpi_peer.requests[0].query["date_from"] == [date_to]  # no gap, no overlap
    assert held(connection) == expected(partner.objects)


def test_a_run_that_crashes_resumes_from_the_page_it_reached(
    ocpi_peer: OcpiPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = hub_connection(ocpi_peer)
    objects = [info(n, T0 + timedelta(minutes=n)) for n in range(10)]
    partner = PaginatedPartner(ocpi_peer, objects)
    calls = {"n": 0}
    real_store = sync_service._store_page

    def dies_on_the_third_page(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing is cleaned up
        return real_store(*args)

    monkeypatch.setattr(sync_service, "_store_page", dies_on_the_third_page)
    with pytest.raises(SystemExit):
        sync_run(connection_id=connection.pk, module=MODULE)
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert cursor.run_pages == 2
    assert "offset=6" in cursor.run_next_url
    assert len(held(connection)) == 6
    window = ocpi_peer.requests[0].query["date_to"]

    # The dead run still holds its lease: a second run does not overlap it.
    assert sync_run(connection_id=connection.pk, module=MODULE).busy
    SyncCursor.objects.filter(pk=cursor.pk).update(
        run_lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    ocpi_peer.requests.clear()
    resumed = sync_run(connection_id=connection.pk, module=MODULE)
    assert resumed.resumed
    assert resumed.completed
    assert ocpi_peer.requests[0].query["offset"] == ["6"]  # pages 1-2 are not fetched again
    assert ocpi_peer.requests[0].query["date_to"] == window  # the same window
    assert held(connection) == expected(partner.objects)
    cursor.refresh_from_db()
    assert cursor.run_next_url == ""
    assert cursor.run_started_at is None


def test_a_failed_page_is_retried_by_the_next_run(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    objects = [info(n, T0 + timedelta(minutes=n)) for n in range(8)]
    partner = PaginatedPartner(ocpi_peer, objects)
    partner.fail_once = {3}
    failed = sync_run(connection_id=connection.pk, module=MODULE)
    assert not failed.completed
    assert "503" in failed.error
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert cursor.failures == 1
    assert cursor.last_error
    assert cursor.high_water is None
    again = sync_run(connection_id=connection.pk, module=MODULE)  # lease was released
    assert again.resumed
    assert again.completed
    assert held(connection) == expected(objects)


def test_a_shrinking_list_makes_the_crawl_step_back(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    objects = [info(n, T0 + timedelta(minutes=n)) for n in range(9)]
    partner = PaginatedPartner(ocpi_peer, objects)

    def first_object_updated_during_the_crawl(offset: int) -> None:
        if offset == 3 and objects[0]["status"] == "CONNECTED":
            with partner.lock:  # updated after our date_to: it leaves the window
                objects[0] = info(0, timezone.now() + timedelta(hours=1), "OFFLINE")

    partner.on_request = first_object_updated_during_the_crawl
    report = sync_run(connection_id=connection.pk, module=MODULE)
    assert report.completed
    # Without stepping back, P03 (shifted from offset 3 to 2) would have been skipped.
    assert set(held(connection)) == {f"P{n:02d}" for n in range(9)}


def test_the_schedule_and_the_command(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    PaginatedPartner(ocpi_peer, [info(n, T0) for n in range(2)])
    assert syncs_due() == [(connection.pk, MODULE, True)]  # never fully synced
    out = io.StringIO()
    call_command("ocpi_sync", "--connection", str(connection.pk), "--full", stdout=out)
    assert "hubclientinfo: done; 1 page(s), 2 stored" in out.getvalue()
    assert syncs_due() == []
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    cursor.last_run_at = timezone.now() - timedelta(minutes=61)
    cursor.save()
    assert syncs_due() == [(connection.pk, MODULE, False)]
    cursor.enabled = False
    cursor.save()
    assert syncs_due() == []


def test_admin_shows_cursors_and_edits_intervals(ocpi_peer: OcpiPeer, staff_client: Client) -> None:
    connection = hub_connection(ocpi_peer)
    PaginatedPartner(ocpi_peer, [info(1, T0)])
    sync_run(connection_id=connection.pk, module=MODULE)
    cursor = SyncCursor.objects.get()
    page = staff_client.get(reverse("admin:ocpi_synccursor_changelist"))
    assert page.status_code == 200
    assert b"hubclientinfo" in page.content
    response = staff_client.post(
        reverse("admin:ocpi_synccursor_change", args=[cursor.pk]),
        {"enabled": "on", "interval_minutes": "15", "full_interval_hours": "0"},
    )
    assert response.status_code == 302, response.content[:2000]
    cursor.refresh_from_db()
    assert (cursor.interval_minutes, cursor.full_interval_hours) == (15, 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_with_its_worker_resumes_and_ends_with_the_partners_data(
    ocpi_peer: OcpiPeer,
) -> None:
    from apps.ocpi.tasks import sync

    connection = hub_connection(ocpi_peer)
    objects = [info(n, T0 + timedelta(minutes=n)) for n in range(12)]
    partner = PaginatedPartner(ocpi_peer, objects)
    reached = threading.Event()

    def slow_fourth_page(offset: int) -> None:
        if offset == 9 and not reached.is_set():
            reached.set()
            time.sleep(5)  # the worker is killed while waiting for this page

    partner.on_request = slow_fourth_page
    worker = CeleryWorker(OCPI_OUTBOUND_ALLOW_LOCAL="true").start()
    try:
        sync.delay(connection.pk, MODULE, False)
        assert reached.wait(60), worker.output()[-3000:]
        worker.kill()
    finally:
        worker.stop()
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert cursor.run_pages == 3
    assert "offset=9" in cursor.run_next_url
    assert len(held(connection)) == 9
    with override_settings(OCPI_SYNC_LEASE_SECONDS=0.5):
        SyncCursor.objects.filter(pk=cursor.pk).update(
            run_lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        report = sync_run(connection_id=connection.pk, module=MODULE)
    assert report.resumed, report.error
    assert report.completed, report.error
    assert held(connection) == expected(objects)


def test_failed_runs_back_off_in_the_schedule_and_a_success_resets_it(
    ocpi_peer: OcpiPeer,
) -> None:
    connection = hub_connection(ocpi_peer)
    partner = PaginatedPartner(ocpi_peer, [info(n, T0) for n in range(2)])
    partner.fail_once = {0}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert not sync_run(connection_id=connection.pk, module=MODULE, full=True).completed
        assert syncs_due() == []  # not at once again
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert syncs_due() == [(connection.pk, MODULE, True)]
        partner.fail_once = {0}
        assert not sync_run(connection_id=connection.pk, module=MODULE, full=True).completed
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert (cursor.failures, cursor.consecutive_failures) == (2, 2)
    with time_machine.travel(start + timedelta(seconds=61 + 61), tick=False):
        assert syncs_due() == []  # the second wait is two minutes
    with time_machine.travel(start + timedelta(seconds=61 + 121), tick=False):
        assert syncs_due() == [(connection.pk, MODULE, True)]
        assert sync_run(connection_id=connection.pk, module=MODULE, full=True).completed
    cursor.refresh_from_db()
    assert (cursor.consecutive_failures, cursor.retry_at, cursor.last_error) == (0, None, "")


def test_a_connection_on_a_version_without_adapter_fails_visibly(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    PartnerConnection.objects.filter(pk=connection.pk).update(version="2.1.1")
    report = sync_run(connection_id=connection.pk, module=MODULE)
    assert not report.completed
    assert "no adapter for OCPI 2.1.1" in report.error
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert cursor.failures == 1
    assert "2.1.1" in cursor.last_error
    assert not cursor.in_progress  # nothing half-started is left behind
    assert ocpi_peer.requests == []


def test_a_sync_is_queued_once_while_it_waits(ocpi_peer: OcpiPeer) -> None:
    connection = hub_connection(ocpi_peer)
    broker_purge()
    assert sync_enqueue(connection.pk, MODULE)
    assert not sync_enqueue(connection.pk, MODULE)  # the schedule or a second "Sync now"
    assert sync_enqueue(connection.pk, MODULE, full=True)  # a full resync is another job
    assert broker_queue_length() == 2
    broker_purge()
