from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task


@shared_task(name="roamdesk.core.ping")
def ping(nonce: str) -> dict[str, Any]:
    """Round trip check for the broker and a worker: echoes the nonce with the worker's host."""
    return {"pong": nonce, "host": socket.gethostname(), "pid": os.getpid()}
