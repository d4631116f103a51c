"""The outbox's background jobs cannot starve or pile up.

Every change used to enqueue its own ``deliver`` job: 1,000 CDRs finalized at once queued 1,000
jobs, a paused connection's job re-enqueued itself for ever, and on the slow embedded broker a
freshly registered partner's initial load waited behind the backlog. These tests count the
messages in the real broker (the filesystem one of the embedded default, and Redis where CI
gives it) and run real workers.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings

from apps.cdrs.services import cdr_finalize
from apps.core.models import TaskSchedule
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.ocpi.services.delivery import (
    connection_push_all,
    deliveries_continue,
    deliveries_run,
    deliveries_sweep_enqueue,
    delivery_record,
)
from apps.ocpi.tasks import deliver
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection, Party
from apps.partners.services import (
    connection_outbound_set_paused,
    connection_resume,
    connection_suspend,
)
from tests.factories import CdrFactory
from tests.ocpi.httpserver import OcpiPeer
from tests.ocpi.outbox_helpers import emsp_connection, final_cdr, stores_and_locates
from tests.ocpi.peer import free_port
from tests.workers import CeleryWorker, broker, broker_purge, broker_queue_length

# Jobs are asked for when a transaction commits: these tests need real commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _outbox_settings() -> Iterator[None]:
    with override_settings(
        OCPI_OUTBOUND_ALLOW_LOCAL=True,
        OCPI_OUTBOUND_TIMEOUT=1,
        OCPI_DELIVERY_BACKOFF_BASE=30.0,  # a retry is never due within a test
        OCPI_DELIVERY_MAX_ATTEMPTS=4,
    ):
        yield


@pytest.fixture
def empty_queues() -> Iterator[None]:
    broker_purge()
    yield
    broker_purge()


def drafts(count: int, token_party: str) -> list:
    own = Party.objects.own().get()
    return [
        CdrFactory.create(party=own, token_country_code="DE", token_party_id=token_party)
        for _ in range(count)
    ]


def test_finalizing_1000_cdrs_in_one_transaction_asks_for_one_job_per_connection(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    emsp_connection(ocpi_peer, "EMP")
    emsp_connection(ocpi_peer, "OTH")
    cdrs = drafts(500, "EMP") + drafts(500, "OTH")
    with transaction.atomic():
        for cdr in cdrs:
            cdr_finalize(cdr=cdr)
    assert OutboundDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 1000
    assert broker_queue_length("celery") == 2
    # More changes while those jobs wait ask for nothing more.
    final_cdr("EMP")
    final_cdr("OTH")
    assert broker_queue_length("celery") == 2
    assert broker_queue_length("realtime") == 0


def test_a_rolled_back_savepoint_does_not_swallow_the_next_wake_up(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    emsp_connection(ocpi_peer)
    with transaction.atomic():
        try:
            with transaction.atomic():
                final_cdr()
                raise RuntimeError("undo")
        except RuntimeError:
            pass
        final_cdr()  # the savepoint's wake-up is gone; this one registers its own
    assert broker_queue_length() == 1


def test_a_job_that_can_send_nothing_ends_and_resuming_wakes_it(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    connection_outbound_set_paused(connection=connection, paused=True)
    cdr = final_cdr()
    assert broker_queue_length() == 0  # nothing to wake while pushes are paused
    # A job that arrives anyway (the sweep, an old message) claims nothing and ends.
    assert deliver.run(connection.pk) == {"claimed": 0, "delivered": 0}
    assert broker_queue_length() == 0
    assert OutboundDelivery.objects.get().status == DeliveryStatus.PENDING

    connection_outbound_set_paused(connection=connection, paused=False)
    assert broker_queue_length() == 1  # resuming woke the connection's deliveries
    key = f"deliver:{connection.pk}:bulk"
    waiting = TaskSchedule.objects.get(key=key)
    assert waiting.due_at is not None
    assert deliver.run(connection.pk, "bulk", waiting.token) == {"claimed": 1, "delivered": 1}
    assert TaskSchedule.objects.get(key=key).due_at is None  # the job freed its key
    assert broker_queue_length() == 1  # and asked for nothing more
    assert [r.json()["id"] for r in ocpi_peer.requests] == [cdr.cdr_id]


def test_a_suspended_connection_is_woken_when_resumed(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    connection_suspend(connection=connection)
    final_cdr()
    assert OutboundDelivery.objects.count() == 1
    assert broker_queue_length() == 0
    connection_resume(connection=connection)
    assert broker_queue_length() == 1


def test_the_sweep_asks_once_per_connection_with_work_due(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    final_cdr()
    broker_purge()  # as if the message was lost
    TaskSchedule.objects.update(expires_at=None, due_at=None)
    assert deliveries_sweep_enqueue() == [(connection.pk, "bulk")]
    assert deliveries_sweep_enqueue() == []  # its job is waiting
    assert broker_queue_length() == 1


def test_an_unreachable_partner_costs_one_attempt_not_one_per_row(empty_queues: None) -> None:
    with OcpiPeer() as peer:
        connection = emsp_connection(peer, cdrs_url=f"http://127.0.0.1:{free_port()}/cdrs")
    for _ in range(30):
        final_cdr()
    report = deliveries_run(connection_id=connection.pk)
    assert report.delivered == 0
    attempted = OutboundDelivery.objects.filter(attempts__gt=0)
    assert attempted.count() == 1
    retry_at = attempted.get().next_attempt_at
    pending = OutboundDelivery.objects.filter(status=DeliveryStatus.PENDING)
    assert pending.count() == 30
    assert set(pending.values_list("next_attempt_at", flat=True)) == {retry_at}
    assert deliveries_run(connection_id=connection.pk).claimed == 0  # nothing is due now


def test_a_connection_on_a_version_without_adapter_fails_visibly(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    PartnerConnection.objects.filter(pk=connection.pk).update(version="2.1.1")
    final_cdr()
    report = deliveries_run(connection_id=connection.pk)
    assert (report.claimed, report.delivered) == (1, 0)
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DEAD
    assert "2.1.1" in delivery.last_error
    assert ocpi_peer.requests == []


# -- real workers, a backlog of thousands -----------------------------------------------------
BACKLOG_PER_CONNECTION = 1000
INITIAL_LOAD = 36


def _queued(*queues: str) -> int:
    return sum(broker_queue_length(q) for q in queues)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["filesystem", "redis"])
def test_with_thousands_queued_a_new_partners_initial_load_arrives_promptly(
    kind: str, ocpi_peer: OcpiPeer
) -> None:
    ocpi_peer.handler = stores_and_locates
    with broker(kind) as broker_env:
        broker_purge()
        # The backlog: three paused partners and one that is down, 1,000 deliveries each,
        # recorded in one transaction (as the demo seed or a bulk finalization does).
        paused = [emsp_connection(ocpi_peer, code) for code in ("PA1", "PA2", "PA3")]
        for connection in paused:
            connection_outbound_set_paused(connection=connection, paused=True)
        down = emsp_connection(ocpi_peer, "DWN", cdrs_url=f"http://127.0.0.1:{free_port()}/c")
        backlog = [final_cdr("PA1") for _ in range(BACKLOG_PER_CONNECTION)]
        targets = [*PartnerConnection.objects.filter(pk__in=[c.pk for c in paused]), down]
        with transaction.atomic():
            for cdr in backlog:
                delivery_record(kind_name="cdr", obj=cdr, connections=targets)
        assert OutboundDelivery.objects.count() == 4 * BACKLOG_PER_CONNECTION
        assert _queued("celery", "realtime") <= 1  # one job for the partner that is down

        # A partner registered now gets its initial load.
        fresh = emsp_connection(ocpi_peer, "NEW")
        load = [final_cdr("NEW") for _ in range(INITIAL_LOAD)]
        OutboundDelivery.objects.filter(connection=fresh).delete()  # as if registered now
        connection_push_all(connection=fresh)
        assert _queued("celery", "realtime") <= 2
        ocpi_peer.requests.clear()

        worker = CeleryWorker(
            OCPI_OUTBOUND_ALLOW_LOCAL="true",
            OCPI_OUTBOUND_TIMEOUT="1",
            OCPI_DELIVERY_BACKOFF_BASE="30",
            **broker_env,
        ).start()
        try:
            started = time.monotonic()
            most_queued = 0
            arrived: set[str] = set()
            while len(arrived) < INITIAL_LOAD:
                assert time.monotonic() - started < 30, (
                    f"{len(arrived)} of {INITIAL_LOAD} arrived in 30 s\n{worker.output()[-3000:]}"
                )
                most_queued = max(most_queued, _queued("celery", "realtime"))
                arrived = {r.json()["id"] for r in list(ocpi_peer.requests)}
                time.sleep(0.2)
            # The workers go quiet: no job comes back for the paused partners.
            time.sleep(2)
            quiet = _queued("celery", "realtime")
        finally:
            worker.stop()
        assert arrived == {c.cdr_id for c in load}
        assert most_queued <= 3
        assert quiet == 0
        assert not OutboundDelivery.objects.filter(
            connection__in=paused, status=DeliveryStatus.DELIVERED
        ).exists()
        # The partner that is down was tried once, not 1,000 times.
        assert OutboundDelivery.objects.filter(connection=down, attempts__gt=0).count() == 1
        assert PartnerConnection.objects.get(pk=down.pk).status == ConnectionStatus.CONNECTED


def test_the_connection_command_pauses_and_resuming_wakes_the_pushes(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    out = io.StringIO()
    call_command("ocpi_connection", str(connection.pk), "pause-pushes", stdout=out)
    assert "pushes paused" in out.getvalue()
    final_cdr()
    assert broker_queue_length() == 0
    out = io.StringIO()
    call_command("ocpi_connection", str(connection.pk), "resume-pushes", stdout=out)
    assert "pushes on | 1 pending, 0 dead" in out.getvalue()
    assert broker_queue_length() == 1
    with pytest.raises(CommandError, match="not paused"):
        call_command("ocpi_connection", str(connection.pk), "resume-pushes")
    PartnerConnection.objects.filter(pk=connection.pk).update(version="2.1.1")
    out = io.StringIO()
    call_command("ocpi_connection", stdout=out)
    assert "NOT WORKING: no adapter for OCPI 2.1.1" in out.getvalue()


def test_a_job_that_used_its_time_gives_the_rest_back_and_queues_behind_the_others(
    ocpi_peer: OcpiPeer, empty_queues: None
) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    with transaction.atomic():
        for _ in range(5):
            final_cdr()
    broker_purge()
    TaskSchedule.objects.update(due_at=None, expires_at=None)
    report = deliveries_run(connection_id=connection.pk, lane="bulk", max_seconds=0)
    assert (report.claimed, report.delivered, report.more) == (1, 1, True)
    rest = OutboundDelivery.objects.filter(status=DeliveryStatus.PENDING)
    assert rest.count() == 4
    assert set(rest.values_list("attempts", "claim_token")) == {(0, "")}
    assert deliveries_continue(connection.pk, "bulk", report)  # its continuation is queued
    assert broker_queue_length() == 1
