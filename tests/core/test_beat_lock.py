"""Only one beat is effective even when two run; the standby takes over when the leader dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
SENT = "Sending due task ocpi-sweep-deliveries"


class Beat:
    def __init__(self, tmp_path: Path, name: str) -> None:
        self.log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "OCPI_DELIVERY_SWEEP_SECONDS": "0.5",
            "CELERY_BEAT_LOCK_TTL": "2",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                "--max-interval=1", "--schedule", str(tmp_path / f"{name}-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def sent(self) -> int:
        return self.log.read_text(errors="replace").count(SENT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def two_beats(tmp_path: Path) -> Iterator[tuple[Beat, Beat]]:
    beats = (Beat(tmp_path, "a"), Beat(tmp_path, "b"))
    try:
        yield beats
    finally:
        for beat in beats:
            beat.kill()
        celery_app.control.purge()  # the sweeps they sent are not for anyone


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_one_beat_leads_and_the_other_takes_over(two_beats: tuple[Beat, Beat]) -> None:
    a, b = two_beats
    assert wait_until(lambda: a.sent() + b.sent() >= 6, 30), a.log.read_text() + b.log.read_text()
    time.sleep(1)
    leader, standby = (a, b) if a.sent() else (b, a)
    assert leader.sent() >= 6
    assert standby.sent() == 0  # never both

    leader.kill()
    assert wait_until(lambda: standby.sent() >= 3, 20), standby.log.read_text()
