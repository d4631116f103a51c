"""Helpers of the end-to-end tests between two roamdesk platforms: waiting, a real worker on our
side, and the peer (an eMSP) sending commands and reading their results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.ocpi.peer import PeerPlatform
from tests.workers import CeleryWorker

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float = 45.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def worker(us: str) -> Iterator[CeleryWorker]:
    worker = CeleryWorker(OCPI_OUTBOUND_ALLOW_LOCAL="true", OCPI_BASE_URL=us).start()
    try:
        yield worker
    finally:
        worker.stop()


def peer_send(peer: PeerPlatform, connection_id: int, **fields: Any) -> dict[str, Any]:
    """The peer (our eMSP partner) sends a command with its own token; returns its record."""
    arguments = ", ".join(f"{name}={value!r}" for name, value in fields.items())
    answer: dict[str, Any] = peer.python(
        "from apps.ocpi.services.commands import command_send\n"
        "from apps.partners.models import PartnerConnection\n"
        "from apps.tokens.models import Token\n"
        f"c = command_send(connection=PartnerConnection.objects.get(pk={connection_id}),\n"
        f"    token=Token.objects.filter(uid='APP-1').first(), {arguments})\n"
        "result = {'uid': c.uid, 'response': c.response_result, 'timeout': c.response_timeout,\n"
        "    'message': c.response_message}"
    )
    return answer


def peer_result(peer: PeerPlatform, uid: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = peer.python(
        "from apps.commands.models import Command\n"
        f"result = Command.objects.filter(uid={uid!r}).values('result', 'result_message')"
        ".first()"
    )
    return row if row and row["result"] else None
