"""Real Celery worker processes for tests (never eager mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.db import connection

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

    def __init__(self, *, queues: str = "celery", pool: str = "solo", **env: str) -> None:
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
