"""The first hour, as a new user lives it: ``./scripts/run`` with ``PORT`` set, the README's
``manage.py`` commands in the same checkout, a partner platform on this machine registering with
us, its initial load arriving behind the demo's backlog, ``var/`` staying small, Ctrl-C.

It runs the real script (virtualenv, migrate, demo seed, admin, two workers, beat, runserver) in
its own var dir and process group; nothing here is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.ocpi.peer import free_port, running_peer_platform

ROOT = Path(__file__).resolve().parents[1]
INITIAL_LOAD_SECONDS = 30


Portal = tuple[subprocess.Popen[bytes], int, dict[str, str], Path]


def _wait(
    what: str,
    probe: Callable[[], object],
    *,
    timeout: float,
    proc: subprocess.Popen[bytes],
    log: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return
        if proc.poll() is not None:
            raise AssertionError(f"scripts/run stopped ({proc.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


def _var_usage(var: Path) -> tuple[int, int]:
    files = size = 0
    for path in var.rglob("*"):
        files += 1
        if path.is_file():
            size += path.stat().st_size
    return files, size


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    port = free_port()
    var = tmp_path / "var"
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    # What a new user's shell has: no DEBUG, no settings module, no database or broker URL.
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["ROAMDESK_VAR_DIR"] = str(var)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run"],
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    try:
        yield proc, port, env, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _manage(env: dict[str, str], *args: str) -> str:
    """``python manage.py …`` as the README writes it, in the checkout the script prepared."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_first_hour(portal: Portal, tmp_path: Path) -> None:
    proc, port, env, log = portal
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    _wait("the portal", healthy, timeout=240, proc=proc, log=log)
    assert f"{base}/admin/" in log.read_text()

    # The invitation announces the port the portal runs on.
    invite = json.loads(_manage(env, "ocpi_invite", "--partner", "Local eMSP", "--json"))
    assert invite["versions_url"] == f"{base}/ocpi/versions"

    with running_peer_platform(tmp_path / "peer") as peer:
        # A partner platform on this machine registers with us (loopback is allowed in
        # development), then we push it everything we publish.
        registered = peer.manage("ocpi_register", invite["versions_url"], invite["token_a"])
        assert "registered" in registered.stdout
        started = time.monotonic()
        pushed = _manage(env, "ocpi_push", "--connection", str(invite["connection_id"]))
        counts = dict(line.split(": ", 1) for line in pushed.splitlines() if ": " in line)
        expected = int(counts["locations"].split()[0])
        assert expected > 0

        def arrived() -> bool:
            held = peer.python(
                "from apps.locations.models import Location\n"
                "result = Location.objects.filter(party__partner__isnull=False).count()"
            )
            return held >= expected

        _wait("the initial load", arrived, timeout=INITIAL_LOAD_SECONDS + 30, proc=proc, log=log)
        took = time.monotonic() - started
    print(f"initial load of {expected} locations arrived in {took:.1f} s")  # noqa: T201
    assert took <= INITIAL_LOAD_SECONDS

    files, size = _var_usage(Path(env["ROAMDESK_VAR_DIR"]))
    print(f"var/: {files} files, {size / 1e6:.1f} MB")  # noqa: T201
    assert files < 2000
    assert size < 20_000_000

    # Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
