"""A real Celery worker process takes a task from the broker and returns its result.

With REDIS_URL set (CI) this goes through Redis; without it, through the filesystem transport
of the embedded defaults. Never eager mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue() -> Iterator[str]:
    queue = f"test-{uuid.uuid4().hex[:12]}"  # private queue: no other worker can steal the task
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel=WARNING", "-Q", queue, "-n", f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        yield queue
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if output:
            print(output)  # noqa: T201 (shown by pytest only when the test fails)


@pytest.mark.slow
def test_worker_round_trip(worker_queue: str) -> None:
    nonce = uuid.uuid4().hex
    result = ping.apply_async(args=[nonce], queue=worker_queue)
    reply = result.get(timeout=60)
    assert reply["pong"] == nonce
    assert reply["pid"] != os.getpid()  # ran in the worker process, not here
    expected = settings.REDIS_URL or "filesystem://"
    assert ping.app.conf.broker_url == expected
