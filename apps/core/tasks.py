from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task
from celery.signals import task_failure


@shared_task(name="roamdesk.core.ping", ignore_result=False)  # its caller reads the reply
def ping(nonce: str) -> dict[str, Any]:
    """Round trip check for the broker and a worker: echoes the nonce with the worker's host."""
    return {"pong": nonce, "host": socket.gethostname(), "pid": os.getpid()}


@shared_task(name="roamdesk.core.prune_var")
def prune_var() -> dict[str, int]:
    """Periodic: keep ``var/`` bounded (stored results past their expiry, files of queues nobody
    reads, over-long logs) and job failures past their retention. See
    :mod:`apps.core.housekeeping`."""
    from apps.core.housekeeping import job_failures_prune, var_prune

    return {**var_prune(), "job_failures": job_failures_prune()}


@task_failure.connect
def _record_failure(
    sender: Any = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    """Every job that raises leaves a JobFailure with its reason (see apps.core.models)."""
    from apps.core.housekeeping import job_failure_record

    job_failure_record(
        task=getattr(sender, "name", "") or "unknown task",
        arguments=f"{tuple(args or ())!r} {dict(kwargs or {})!r}",
        error=f"{type(exception).__name__}: {exception}" if exception else "failed",
        traceback=str(einfo or ""),
    )
