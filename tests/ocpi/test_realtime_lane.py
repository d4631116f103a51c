"""Time-critical work never waits behind bulk work: a partner's START_SESSION is executed and
its result POSTed by the realtime worker while thousands of bulk jobs wait in the broker."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from apps.commands.enums import CommandDirection, CommandResultType
from apps.commands.models import Command
from apps.ocpi.tasks import deliver
from tests.factories.commands import charging_site, start_session_body
from tests.ocpi.callers import emsp_calling, own_party
from tests.ocpi.httpserver import OcpiPeer
from tests.workers import CeleryWorker, broker_purge, broker_queue_length

pytestmark = pytest.mark.django_db(transaction=True)

BULK_BACKLOG = 1500


@pytest.mark.slow
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True, COMMANDS_RESULT_TIMEOUT=30)
def test_a_start_session_is_executed_within_seconds_behind_a_bulk_backlog(
    ocpi_peer: OcpiPeer,
) -> None:
    us = own_party("CPO")
    caller = emsp_calling(us)
    charging_site(us)
    broker_purge()
    # The backlog the demo seed used to queue: one bulk job per recorded delivery.
    for _ in range(BULK_BACKLOG):
        deliver.apply_async((0,))
    assert broker_queue_length("celery") == BULK_BACKLOG

    worker = CeleryWorker(queues="realtime", OCPI_OUTBOUND_ALLOW_LOCAL="true").start()
    try:
        response_url = f"{ocpi_peer.base_url}/ocpi/emsp/2.2.1/commands/START_SESSION/1"
        sent = time.monotonic()
        response = caller.post("cpo/commands/START_SESSION", start_session_body(response_url))
        assert response.json()["data"]["result"] == "ACCEPTED"
        while not [r for r in list(ocpi_peer.requests) if r.method == "POST"]:
            assert time.monotonic() - sent < 15, worker.output()[-3000:]
            time.sleep(0.1)
    finally:
        worker.stop()
    command = Command.objects.get(direction=CommandDirection.RECEIVED)
    assert command.result == CommandResultType.ACCEPTED
    assert command.charging_session is not None
    (result,) = [r for r in ocpi_peer.requests if r.method == "POST"]
    assert result.json()["result"] == "ACCEPTED"
    assert broker_queue_length("celery") == BULK_BACKLOG  # the bulk jobs are still waiting
    broker_purge()
