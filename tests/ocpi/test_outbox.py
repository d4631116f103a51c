"""The outbox: deliveries recorded with the change, claimed safely, classified, retried."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin
from apps.ocpi.models import DeliveryStatus, Direction, ExchangeLogEntry, OutboundDelivery
from apps.ocpi.services.delivery import (
    connection_push_all,
    deliveries_claim,
    deliveries_discard,
    deliveries_retry_now,
    deliveries_run,
    deliveries_sweep,
    delivery_attempt,
)
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection
from tests.ocpi.httpserver import OcpiPeer, Reply, envelope
from tests.ocpi.outbox_helpers import emsp_connection, final_cdr, stores_and_locates
from tests.workers import CeleryWorker

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_outbox() -> Iterator[None]:
    with override_settings(
        OCPI_OUTBOUND_ALLOW_LOCAL=True,
        OCPI_DELIVERY_BACKOFF_BASE=10.0,
        OCPI_DELIVERY_MAX_ATTEMPTS=4,
        OCPI_OUTBOUND_TIMEOUT=1,
    ):
        yield


def test_finalizing_a_cdr_records_its_delivery_in_the_same_transaction(
    ocpi_peer: OcpiPeer,
) -> None:
    connection = emsp_connection(ocpi_peer)
    emsp_connection(ocpi_peer, code="OTH")  # another eMSP: not its token
    cdr = final_cdr()
    delivery = OutboundDelivery.objects.get()
    assert (delivery.connection, delivery.kind, delivery.object_id) == (connection, "cdr", cdr.pk)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.module == "cdrs"

    # A rolled-back change leaves no delivery behind.
    def change_then_fail() -> None:
        with transaction.atomic():
            final_cdr()
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert OutboundDelivery.objects.count() == 1
    # Received CDRs are not pushed back out.
    final_cdr(origin=CdrOrigin.RECEIVED)
    assert OutboundDelivery.objects.count() == 1


def test_a_delivery_posts_the_cdr_and_keeps_the_location(ocpi_peer: OcpiPeer) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    cdr = final_cdr(total_cost_excl_vat=Decimal("12.3456"))
    report = deliveries_run(connection_id=connection.pk)
    assert (report.claimed, report.delivered) == (1, 1)
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.remote_location == f"https://emsp.example/cdrs/{cdr.cdr_id}"
    assert delivery.attempts == 1
    request = ocpi_peer.last
    assert (request.method, request.path) == ("POST", "/cdrs")
    assert request.headers["OCPI-to-country-code"] == "DE"
    assert request.headers["OCPI-to-party-id"] == "EMP"
    assert request.headers["OCPI-from-party-id"] == "RDK"
    body = request.json()
    assert body["id"] == cdr.cdr_id
    assert body["total_cost"]["excl_vat"] == Decimal("12.3456")  # a JSON number, exact
    assert b'"excl_vat":12.3456' in request.body
    assert body["cdr_token"]["party_id"] == "EMP"
    log = ExchangeLogEntry.objects.get(direction=Direction.OUTBOUND)
    assert (log.connection, log.module, log.http_status) == (connection, "cdrs", 201)


@pytest.mark.parametrize(
    ("reply", "status", "retry_in"),
    [
        (Reply(status=500, body=b"oops", content_type="text/plain"), "PENDING", (5, 15)),
        (Reply(status=503, body=b"", headers={"Retry-After": "120"}), "PENDING", (119, 121)),
        (Reply(status=429, body=b"", headers={"Retry-After": "3"}), "PENDING", (2, 4)),
        (Reply(body=envelope(status_code=3000, status_message="busy")), "PENDING", (5, 15)),
        (Reply(body=envelope(status_code=2001, status_message="bad cdr")), "DEAD", None),
        (Reply(status=404, body=b"", content_type="text/plain"), "DEAD", None),
        (Reply(body=envelope(), delay=2.5), "PENDING", (5, 15)),  # our timeout is 1 s
    ],
)
def test_failures_are_classified(
    ocpi_peer: OcpiPeer, reply: Reply, status: str, retry_in: tuple[int, int] | None
) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.reply(reply.body, status=reply.status, headers=reply.headers, delay=reply.delay,
                    content_type=reply.content_type)  # fmt: skip
    final_cdr()
    deliveries_run(connection_id=connection.pk)
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == status
    assert delivery.attempts == 1
    assert delivery.last_error
    if retry_in is not None:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert retry_in[0] <= wait <= retry_in[1]


def test_retries_until_dead_then_an_operator_retries(ocpi_peer: OcpiPeer) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.reply(b"down", status=502, content_type="text/plain")
    final_cdr()
    for _ in range(4):
        OutboundDelivery.objects.update(next_attempt_at=timezone.now())
        deliveries_run(connection_id=connection.pk)
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 4)
    assert len(ocpi_peer.requests) == 4

    ocpi_peer.handler = stores_and_locates
    assert deliveries_retry_now(ids=[delivery.pk]) == 1
    deliveries_run(connection_id=connection.pk)
    assert OutboundDelivery.objects.get().status == DeliveryStatus.DELIVERED
    assert deliveries_discard(ids=[delivery.pk]) == 0  # delivered rows stay delivered


def test_paused_and_suspended_connections_hold_their_deliveries(ocpi_peer: OcpiPeer) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    final_cdr()
    PartnerConnection.objects.filter(pk=connection.pk).update(outbound_paused=True)
    assert deliveries_claim() == []
    PartnerConnection.objects.filter(pk=connection.pk).update(
        outbound_paused=False, status=ConnectionStatus.SUSPENDED
    )
    assert deliveries_claim() == []
    PartnerConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.CONNECTED)
    assert len(deliveries_claim()) == 1


def test_an_object_in_flight_blocks_its_next_delivery_until_done_or_lost(
    ocpi_peer: OcpiPeer,
) -> None:
    connection = emsp_connection(ocpi_peer)
    cdr = final_cdr()
    first = OutboundDelivery.objects.get()
    assert deliveries_claim() == [first.pk]
    # A newer change of the same object while the first is being sent:
    OutboundDelivery.objects.create(
        connection=connection, module="cdrs", kind="cdr", object_id=cdr.pk
    )
    assert deliveries_claim() == []  # never two states of one object at once
    # The worker dies: its lease expires; the sweep retires it in favour of the newer row.
    OutboundDelivery.objects.filter(pk=first.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert deliveries_sweep() == [(connection.pk, "bulk")]
    assert OutboundDelivery.objects.get(pk=first.pk).status == DeliveryStatus.DISCARDED
    assert len(deliveries_claim()) == 1


def test_initial_load_records_everything_published_to_the_partner(ocpi_peer: OcpiPeer) -> None:
    mine = [final_cdr() for _ in range(3)]
    final_cdr(token_party="OTH")  # another eMSP's driver
    connection = emsp_connection(ocpi_peer)  # registered after the CDRs were made
    assert not OutboundDelivery.objects.exists()
    counts = connection_push_all(connection=connection)
    assert counts["cdrs"] == 3
    assert "commands" not in counts  # command results answer a request; no initial load
    assert sorted(OutboundDelivery.objects.values_list("object_id", flat=True)) == sorted(
        c.pk for c in mine
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_delivery(ocpi_peer: OcpiPeer) -> None:
    if db.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers anyway)")
    emsp_connection(ocpi_peer)
    for _ in range(40):
        final_cdr()
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        try:
            results.append(deliveries_claim(limit=15))
        finally:
            db.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for r in results for i in r]
    assert len(claimed) == len(set(claimed)) == 40


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_what_finalizing_enqueued(ocpi_peer: OcpiPeer) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    worker = CeleryWorker(OCPI_OUTBOUND_ALLOW_LOCAL="true").start()
    try:
        cdrs = [final_cdr() for _ in range(5)]  # each commit enqueues the connection
        deadline = time.monotonic() + 60
        while OutboundDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists():
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
    posted = sorted(r.json()["id"] for r in ocpi_peer.requests)
    assert posted == sorted(c.cdr_id for c in cdrs)
    assert set(OutboundDelivery.objects.values_list("connection_id", flat=True)) == {connection.pk}


def test_ocpi_push_command_queues_the_initial_load(ocpi_peer: OcpiPeer) -> None:
    final_cdr()
    final_cdr()
    connection = emsp_connection(ocpi_peer)
    out = io.StringIO()
    call_command("ocpi_push", "--connection", str(connection.pk), stdout=out)
    assert "cdrs: 2 queued" in out.getvalue()
    assert OutboundDelivery.objects.filter(connection=connection).count() == 2
    with pytest.raises(CommandError, match="no connection"):
        call_command("ocpi_push", "--connection", "999999")


def test_backlog_admin_and_operator_controls(ocpi_peer: OcpiPeer, staff_client: Client) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.reply(b"down", status=502, content_type="text/plain")
    final_cdr()
    deliveries_run(connection_id=connection.pk)
    page = staff_client.get(reverse("admin:ocpi_outbounddelivery_changelist"))
    assert page.status_code == 200
    assert "Backlog by partner and module" in page.content.decode()
    delivery = OutboundDelivery.objects.get()
    # Discard through the admin action.
    response = staff_client.post(
        reverse("admin:ocpi_outbounddelivery_changelist"),
        {"action": "discard", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    assert OutboundDelivery.objects.get().status == DeliveryStatus.DISCARDED
    # Pause and resume pushes from the connection admin.
    url = reverse("admin:partners_partnerconnection_changelist")
    staff_client.post(url, {"action": "pause_outbound", "_selected_action": [connection.pk]})
    connection.refresh_from_db()
    assert connection.outbound_paused
    staff_client.post(url, {"action": "resume_outbound", "_selected_action": [connection.pk]})
    connection.refresh_from_db()
    assert not connection.outbound_paused


def test_a_claim_that_outlived_its_lease_never_sends_twice(ocpi_peer: OcpiPeer) -> None:
    """Regression: a slow batch's later rows outlived the lease granted at claim time; the
    sweep gave them to another worker and both sent them."""
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.handler = stores_and_locates
    cdrs = [final_cdr() for _ in range(3)]
    slow = deliveries_claim(claim_token="worker-a")
    assert len(slow) == 3
    # Worker A is still busy with another row when the leases of these run out.
    OutboundDelivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    deliveries_sweep()
    revived = OutboundDelivery.objects.get(object_id=cdrs[0].pk)
    assert revived.status == DeliveryStatus.PENDING
    assert revived.attempts == 0  # it was never sent: no attempt is counted
    deliveries_run(connection_id=connection.pk)  # worker B delivers them
    for delivery_id in slow:  # worker A gets to them at last
        assert delivery_attempt(delivery_id, "worker-a") == "CLAIM_LOST"
    assert sorted(r.json()["id"] for r in ocpi_peer.requests) == sorted(c.cdr_id for c in cdrs)
    assert set(OutboundDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.DELIVERED, 1)
    }
