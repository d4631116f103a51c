"""Real Celery worker processes for tests (never eager mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from config.broker import filesystem_transport_options

ROOT = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    """DATABASE_URL of the database this test run uses, for a process that must share it."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class CeleryWorker:
    """``celery worker`` in a subprocess, sharing this run's database and broker."""

    def __init__(self, *, queues: str = "celery,realtime", pool: str = "solo", **env: str) -> None:
        self.queues = queues
        self.pool = pool
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": test_database_url(),
            **env,
        }
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept open for the process)
            prefix="celery-worker-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                f"--pool={self.pool}", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--loglevel=INFO", "-Q", self.queues,
                "-n", f"test-{os.getpid()}-{id(self)}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # SIGKILL reaches the whole worker (pool children too)
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL, as when a machine dies: no cleanup, no ack."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


# -- the broker, as the workers see it ------------------------------------------------------------
def broker_queue_length(queue: str = "celery") -> int:
    """Messages waiting in a queue of the configured broker (Redis or the filesystem)."""
    from config.celery import app

    with app.connection_for_write() as conn:
        # Declared, not looked up passively: Redis knows a queue only while it holds messages.
        return int(conn.default_channel.queue_declare(queue=queue).message_count)


def broker_purge(*queues: str) -> None:
    """Empty queues of the configured broker (what earlier tests of this run left there)."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in queues or ("celery", "realtime"):
            conn.default_channel.queue_declare(queue=queue)
            conn.default_channel.queue_purge(queue)


@contextmanager
def broker(kind: str) -> Iterator[dict[str, str]]:
    """Send this process's tasks through ``kind`` ("filesystem" or "redis") for the block, and
    give the environment a worker needs to read the same broker. Redis needs REDIS_URL (CI);
    the filesystem broker lives in this run's var dir, whatever the settings chose."""
    from django.conf import settings

    from config.celery import app

    if kind == "redis":
        if not settings.REDIS_URL:
            pytest.skip("REDIS_URL is not set (CI sets it)")
        url = settings.REDIS_URL
        options: dict[str, object] = {"visibility_timeout": 3600}
        env = {"REDIS_URL": settings.REDIS_URL}
    else:
        url = "filesystem://"
        options = filesystem_transport_options(Path(settings.VAR_DIR) / "celery")
        env = {"REDIS_URL": ""}
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = url, options
    _forget_pools(app)
    try:
        yield env
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        _forget_pools(app)


def _forget_pools(app: Any) -> None:
    """Connections and producers are pooled per broker: drop them (as Celery does after fork)."""
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
