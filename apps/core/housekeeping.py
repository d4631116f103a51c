"""Keep what the embedded default writes under ``var/`` bounded.

Most of it is bounded by design (results are not stored for tasks nobody reads, processed
messages are not kept, broadcasts are off on the filesystem transport); this removes what is left
over: result files past ``CELERY_RESULT_EXPIRES``, messages of queues no worker of ours reads
(the reply and broadcast queues of workers that are gone) once they are an hour old, and the
oldest part of a log file that outgrew its cap. Every pass looks at a bounded number of files.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone

from apps.core.models import JobFailure
from apps.core.redaction import redact_text

logger = logging.getLogger(__name__)

#: Files one pass looks at per folder (a pass runs every few minutes).
SCAN_LIMIT = 20_000
#: A queue file of a queue we do not read is removed after this many seconds.
STRAY_MESSAGE_AGE = 3600
#: A log file longer than this keeps only its last LOG_KEEP bytes.
LOG_CAP = 5 * 1024 * 1024
LOG_KEEP = 1024 * 1024


def _old_files(folder: Path, older_than: float) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    with os.scandir(folder) as entries:
        for index, entry in enumerate(entries):
            if index >= SCAN_LIMIT:
                break
            try:
                if entry.is_file() and entry.stat().st_mtime < older_than:
                    found.append(Path(entry.path))
            except FileNotFoundError:  # taken by a worker meanwhile
                continue
    return found


def _remove(paths: list[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def _our_queues() -> set[str]:
    return {settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_REALTIME_QUEUE}


def log_trim(path: Path, *, cap: int = LOG_CAP, keep: int = LOG_KEEP) -> bool:
    """Keep only the last ``keep`` bytes of a log longer than ``cap`` (its writers append)."""
    try:
        if path.stat().st_size <= cap:
            return False
        with path.open("rb+") as f:
            f.seek(-keep, os.SEEK_END)
            tail = f.read()
            f.seek(0)
            f.truncate()
            f.write(b"[older lines trimmed by roamdesk housekeeping]\n" + tail)
    except FileNotFoundError:
        return False
    return True


def var_prune(*, now: float | None = None) -> dict[str, int]:
    now = time.time() if now is None else now
    counts = {"results": 0, "stray_messages": 0, "processed": 0, "set_aside": 0, "logs_trimmed": 0}
    fs_dir = Path(settings.CELERY_FILESYSTEM_DIR)
    counts["results"] = _remove(
        _old_files(fs_dir / "results", now - settings.CELERY_RESULT_EXPIRES)
    )
    counts["processed"] = _remove(_old_files(fs_dir / "processed", now - STRAY_MESSAGE_AGE))
    # Unreadable messages the transport set aside (config.broker), kept a week to look at.
    counts["set_aside"] = _remove(_old_files(fs_dir / "bad", now - 7 * 86400))
    ours = {f"{queue}.msg" for queue in _our_queues()}
    stray = [
        path
        for path in _old_files(fs_dir / "queue", now - STRAY_MESSAGE_AGE)
        if path.name.partition(".")[2] not in ours
    ]
    counts["stray_messages"] = _remove(stray)
    log_dir = Path(settings.VAR_DIR) / "log"
    if log_dir.is_dir():
        for path in sorted(log_dir.glob("*.log"))[:100]:
            counts["logs_trimmed"] += log_trim(path)
    return counts


# -- job failures ------------------------------------------------------------------------------
def job_failure_record(*, task: str, arguments: str, error: str, traceback: str = "") -> None:
    """Keep a failed job's reason where operators look; never raises (it runs in a worker's
    failure handler, possibly with the database being the reason of the failure)."""
    try:
        JobFailure.objects.create(
            task=task[:200],
            arguments=redact_text(arguments)[:500],
            error=redact_text(error)[:5000],
            traceback=redact_text(traceback)[-20000:],
        )
    except Exception:
        logger.exception("could not record the failure of %s", task)


def job_failures_prune() -> int:
    cutoff = timezone.now() - timedelta(days=settings.OCPI_EXCHANGE_LOG_RETENTION_DAYS)
    deleted, _ = JobFailure.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def job_failures_summary(*, days: int) -> list[dict[str, object]]:
    """Per task, the failures of the last ``days``: count, last time and last reason (one
    query)."""
    since = timezone.now() - timedelta(days=days)
    last_error = (
        JobFailure.objects.filter(task=OuterRef("task"))
        .order_by("-created_at", "-id")
        .values("error")[:1]
    )
    rows = (
        JobFailure.objects.filter(created_at__gte=since)
        .values("task")
        .annotate(count=Count("pk"), last_at=Max("created_at"), last_error=Subquery(last_error))
        .order_by("-last_at")[:50]
    )
    return [dict(row) for row in rows]
