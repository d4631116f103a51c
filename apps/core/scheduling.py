"""Enqueue a background job at most once while one is waiting for the same key.

Without this, every change recorded for a partner enqueued its own job: finalizing 1,000 CDRs
queued 1,000 identical tasks, and a slow broker (the embedded filesystem transport drains a few
a second) made everything else wait behind them. Here a job is identified by a key; asking for a
job whose key already has one waiting sends nothing. The waiting job is recorded in the database
(:class:`apps.core.models.TaskSchedule`), shared by every process, so this holds on the embedded
default and on Redis alike.

* :func:`enqueue_once` sends the job unless one for the key is waiting that runs no later than
  the new one would (an earlier request supersedes a later one: the superseded job still runs,
  harmlessly, when its time comes).
* :func:`job_started` is called by the job first: it frees the key, so a change made while the
  job runs enqueues the next one.
* A waiting row older than its ``ttl`` is taken for lost (the broker dropped the message, or it
  waits behind a backlog for too long) and the next request sends a new job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.models import TaskSchedule

logger = logging.getLogger(__name__)

#: A new request must be due this much earlier than the waiting job to supersede it.
SUPERSEDE_SLACK = timedelta(seconds=1)


def enqueue_once(
    key: str, send: Callable[[str], object], *, countdown: float = 0.0, ttl: float
) -> bool:
    """Send a job for ``key`` (``send(token)`` enqueues it, passing the token on to the job)
    unless one is already waiting that runs no later; True when a job was sent."""
    now = timezone.now()
    due = now + timedelta(seconds=max(countdown, 0.0))
    expires = due + timedelta(seconds=ttl)
    token = uuid.uuid4().hex
    free = Q(due_at__isnull=True) | Q(expires_at__lte=now) | Q(due_at__gt=due + SUPERSEDE_SLACK)
    taken = TaskSchedule.objects.filter(free, key=key).update(
        token=token, due_at=due, expires_at=expires, sent=F("sent") + 1
    )
    if not taken:
        if TaskSchedule.objects.filter(key=key).exists():
            return False  # a job is waiting that runs soon enough
        try:
            with transaction.atomic():
                TaskSchedule.objects.create(
                    key=key, token=token, due_at=due, expires_at=expires, sent=1
                )
        except IntegrityError:  # another process created it first: its job is waiting
            return False
    try:
        send(token)
    except Exception:  # the broker is down: free the key, the periodic sweeps ask again
        logger.warning("could not enqueue job %s", key, exc_info=True)
        TaskSchedule.objects.filter(key=key, token=token).update(due_at=None, expires_at=None)
        return False
    return True


def job_started(key: str, token: str) -> None:
    """The job sent for ``key`` with ``token`` starts: the key is free for the next request.
    A job that was superseded (its token is not the key's) leaves the newer one's row alone."""
    if token:
        TaskSchedule.objects.filter(key=key, token=token).update(due_at=None, expires_at=None)


def job_waiting(key: str) -> bool:
    """Whether a job for ``key`` is waiting (and not taken for lost)."""
    return TaskSchedule.objects.filter(
        key=key, due_at__isnull=False, expires_at__gt=timezone.now()
    ).exists()
