"""var/ stays bounded: old results, stray messages and long logs are pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.test import override_settings

from apps.core.housekeeping import log_trim, var_prune


def _file(path: Path, *, age: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_var_prune_removes_what_is_old_or_stray_and_keeps_the_rest(tmp_path: Path) -> None:
    fs = tmp_path / "celery"
    old_result = _file(fs / "results" / "celery-task-meta-a", age=7200)
    new_result = _file(fs / "results" / "celery-task-meta-b", age=10)
    ours = _file(fs / "queue" / "1_x.celery.msg", age=7200)  # a task still to run: kept
    realtime = _file(fs / "queue" / "2_x.realtime.msg", age=7200)
    stray = _file(fs / "queue" / "3_x.reply.celery.pidbox.msg", age=7200)
    young_stray = _file(fs / "queue" / "4_x.w1.celery.pidbox.msg", age=10)
    processed = _file(fs / "processed" / "5_x.celery.msg", age=7200)
    old_bad = _file(fs / "bad" / "6_x.celery.msg", age=8 * 86400)
    new_bad = _file(fs / "bad" / "7_x.celery.msg", age=86400)
    log = _file(tmp_path / "log" / "celery-worker.log", age=0, size=3000)
    with override_settings(VAR_DIR=tmp_path, CELERY_FILESYSTEM_DIR=fs, CELERY_RESULT_EXPIRES=3600):
        counts = var_prune()
    assert counts == {
        "results": 1,
        "stray_messages": 1,
        "processed": 1,
        "set_aside": 1,
        "logs_trimmed": 0,
    }
    assert not old_bad.exists()
    assert not old_result.exists()
    assert not stray.exists()
    assert not processed.exists()
    for kept in (new_result, ours, realtime, young_stray, new_bad, log):
        assert kept.exists()


def test_a_log_past_its_cap_keeps_its_tail(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"".join(b"line %05d\n" % i for i in range(2000)))
    assert not log_trim(log, cap=100_000, keep=100)
    assert log_trim(log, cap=1000, keep=100)
    text = log.read_text()
    assert text.startswith("[older lines trimmed")
    assert text.endswith("line 01999\n")
    assert len(text) < 200
    # Writers that append keep appending after the trim.
    with log.open("a") as f:
        f.write("after\n")
    assert log.read_text().endswith("line 01999\nafter\n")


def test_var_prune_copes_with_missing_folders(tmp_path: Path) -> None:
    """Redis installations have no filesystem queue, a fresh checkout no logs yet."""
    with override_settings(VAR_DIR=tmp_path, CELERY_FILESYSTEM_DIR=tmp_path / "celery"):
        assert set(var_prune().values()) == {0}
