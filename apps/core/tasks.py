from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task


@shared_task(name="roamdesk.core.ping", ignore_result=False)  # its caller reads the reply
def ping(nonce: str) -> dict[str, Any]:
    """Round trip check for the broker and a worker: echoes the nonce with the worker's host."""
    return {"pong": nonce, "host": socket.gethostname(), "pid": os.getpid()}


@shared_task(name="roamdesk.core.prune_var")
def prune_var() -> dict[str, int]:
    """Periodic: keep ``var/`` bounded (stored results past their expiry, files of queues nobody
    reads, over-long logs). See :func:`apps.core.housekeeping.var_prune`."""
    from apps.core.housekeeping import var_prune

    return var_prune()
