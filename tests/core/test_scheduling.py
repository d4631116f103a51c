"""A job is enqueued once while one is waiting for the same key (apps.core.scheduling)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.core.models import TaskSchedule
from apps.core.scheduling import enqueue_once, job_started, job_waiting

pytestmark = pytest.mark.django_db


class Broker:
    """Stands for the broker's send (the outside world of this unit): records tokens."""

    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[str] = []
        self.down = down

    def __call__(self, token: str) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.sent.append(token)


def test_one_job_while_one_waits_and_the_next_once_it_started() -> None:
    broker = Broker()
    assert enqueue_once("k", broker, ttl=60)
    assert not enqueue_once("k", broker, ttl=60)
    assert not enqueue_once("k", broker, ttl=60)
    assert len(broker.sent) == 1
    assert job_waiting("k")
    job_started("k", broker.sent[0])
    assert not job_waiting("k")
    assert enqueue_once("k", broker, ttl=60)  # a change made while the job runs asks again
    assert len(broker.sent) == 2
    assert TaskSchedule.objects.get(key="k").sent == 2
    assert enqueue_once("other", broker, ttl=60)  # keys are independent


def test_an_earlier_request_supersedes_a_later_job_and_the_later_one_leaves_it_alone() -> None:
    broker = Broker()
    assert enqueue_once("k", broker, countdown=8, ttl=60)
    assert not enqueue_once("k", broker, countdown=7.5, ttl=60)  # not earlier enough
    assert enqueue_once("k", broker, countdown=0, ttl=60)  # due now: sent
    later, now = broker.sent
    job_started("k", now)
    assert enqueue_once("k", broker, ttl=60)
    newest = broker.sent[-1]
    job_started("k", later)  # the superseded job runs at last: the newest one still waits
    assert TaskSchedule.objects.get(key="k").token == newest
    assert job_waiting("k")


def test_a_job_waiting_past_its_ttl_is_taken_for_lost() -> None:
    broker = Broker()
    assert enqueue_once("k", broker, ttl=30)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert not job_waiting("k")
        assert enqueue_once("k", broker, ttl=30)
    assert len(broker.sent) == 2


def test_a_broker_that_is_down_leaves_the_key_free() -> None:
    assert not enqueue_once("k", Broker(down=True), ttl=60)
    assert not job_waiting("k")
    broker = Broker()
    assert enqueue_once("k", broker, ttl=60)
    assert len(broker.sent) == 1


def test_a_job_sent_without_a_key_frees_nothing() -> None:
    broker = Broker()
    enqueue_once("k", broker, ttl=60)
    job_started("k", "")
    assert job_waiting("k")
