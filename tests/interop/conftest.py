"""Interop fixtures: extrawest-ocpi, an independent OCPI implementation, running on 127.0.0.1.

extrawest-ocpi pins FastAPI 0.101, httpx 0.24 and pydantic 1, which cannot live in roamdesk's
virtualenv, so it gets its own, built on first use under
``~/.cache/roamdesk/interop/extrawest-<version>`` (``ROAMDESK_INTEROP_CACHE`` moves the parent
folder) and reused while its marker file matches the pinned requirements. A lock file keeps
parallel runs from building it at the same time. ``extrawest_app.py`` (our harness around their
package) is started once per test session with uvicorn on a free port.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ocpi.peer import free_port

EXTRAWEST_VERSION = "2025.7.16"
#: extrawest pins fastapi 0.101.1 (so starlette 0.27), httpx 0.24.1 and pydantic 1.10.12; the
#: rest is pinned to releases of that time so that the environment cannot drift under us.
REQUIREMENTS = (
    f"extrawest-ocpi=={EXTRAWEST_VERSION}",
    "fastapi==0.101.1",
    "starlette==0.27.0",
    "pydantic==1.10.12",
    "httpx==0.24.1",
    "httpcore==0.17.3",
    "anyio==3.7.1",
    "sniffio==1.3.0",
    "idna==3.4",
    "certifi==2023.7.22",
    "h11==0.14.0",
    "typing-extensions==4.7.1",
    "uvicorn==0.23.2",
    "click==8.1.7",
)
HARNESS = Path(__file__).with_name("extrawest_app.py")
INSTALL_TIMEOUT = 900
LOCK_TIMEOUT = INSTALL_TIMEOUT + 60
START_TIMEOUT = 60


def cache_dir() -> Path:
    configured = os.environ.get("ROAMDESK_INTEROP_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "roamdesk" / "interop"


def _say(config: pytest.Config, message: str) -> None:
    """Print past pytest's output capture: building the venv takes a while the first time."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else nullcontext():
        print(f"\n[interop] {message}", file=sys.stderr, flush=True)  # noqa: T201


@contextmanager
def _locked(path: Path, config: pytest.Config) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    _say(config, f"waiting for another run to finish with {path}")
                    waiting = True
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} stayed locked for {LOCK_TIMEOUT}s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], *, log: Path, timeout: int, what: str) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            args, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RuntimeError(f"{what} failed (exit {result.returncode}); end of {log}:\n{tail}")


def extrawest_venv(config: pytest.Config) -> Path:
    """The interpreter of the extrawest virtualenv, which is created first if need be.

    It is built from the interpreter running the tests (3.11: extrawest needs >= 3.10 and its
    pinned pydantic 1.10.12 predates 3.12), not from whatever ``python3`` is on the PATH. pip
    runs with our environment, so a configured index or proxy is used.
    """
    root = cache_dir()
    venv = root / f"extrawest-{EXTRAWEST_VERSION}"
    python = venv / "bin" / "python"
    marker = venv / ".roamdesk-complete"
    wanted = json.dumps(
        {"requirements": list(REQUIREMENTS), "python": sys.version.split()[0]}, sort_keys=True
    )
    with _locked(root / f"extrawest-{EXTRAWEST_VERSION}.lock", config):
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            _say(config, f"reusing the extrawest-ocpi virtualenv at {venv}")
            return python
        started = time.monotonic()
        if venv.exists():
            _say(config, f"{venv} is incomplete or outdated: rebuilding it")
            shutil.rmtree(venv)
        log = root / f"extrawest-{EXTRAWEST_VERSION}-install.log"
        log.write_text("")
        _say(config, f"creating a virtualenv for extrawest-ocpi {EXTRAWEST_VERSION} at {venv}")
        _run([sys.executable, "-m", "venv", str(venv)], log=log, timeout=120, what="venv")
        _say(config, f"pip install {REQUIREMENTS[0]} and its pinned dependencies (log: {log})")
        _run(
            [
                str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--progress-bar", "off", *REQUIREMENTS,
            ],
            log=log, timeout=INSTALL_TIMEOUT, what="pip install",
        )  # fmt: skip
        _run(
            [str(python), "-c", "import py_ocpi, uvicorn; print(py_ocpi.__version__)"],
            log=log,
            timeout=60,
            what="import check",
        )
        marker.write_text(wanted)
        _say(config, f"extrawest-ocpi virtualenv ready in {time.monotonic() - started:.0f}s")
        return python


@dataclass
class Extrawest:
    """The running extrawest platform and the token A it accepts."""

    base_url: str
    token_a: str
    log_path: Path

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def _harness(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.base_url, trust_env=False, timeout=10) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def health(self) -> None:
        self._harness("GET", "/_harness/health")

    def state(self) -> dict[str, Any]:
        """What extrawest keeps: valid tokens A, registered clients, the CRUD calls it made."""
        state: dict[str, Any] = self._harness("GET", "/_harness/state")
        return state

    def reset(self, *, business_details: dict[str, Any] | None = None) -> None:
        """Forget every client; token A valid again; optionally other business details."""
        body = {"business_details": business_details} if business_details is not None else {}
        self._harness("POST", "/_harness/reset", json=body)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def extrawest_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Extrawest]:
    python = extrawest_venv(pytestconfig)
    workdir = tmp_path_factory.mktemp("extrawest")
    port = free_port()
    token_a = secrets.token_urlsafe(24)
    # A clean environment: no proxies (its httpx trusts them), no .env, nothing of ours.
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(XW_TOKEN_A=token_a, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    log_path = workdir / "extrawest.log"
    server = Extrawest(base_url=f"http://127.0.0.1:{port}", token_a=token_a, log_path=log_path)
    _say(pytestconfig, f"starting extrawest-ocpi on {server.base_url} (log: {log_path})")
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(python), str(HARNESS), "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                server.health()
                break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"extrawest did not start:\n{server.log_tail()}")
            time.sleep(0.2)
        _say(pytestconfig, f"extrawest-ocpi answers after {time.monotonic() - started:.1f}s")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def extrawest(extrawest_server: Extrawest) -> Extrawest:
    """The session's extrawest platform, reset to a fresh state for this test."""
    extrawest_server.reset()
    return extrawest_server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the end of extrawest's log next to its own output."""
    report = yield
    server = getattr(item, "funcargs", {}).get("extrawest")
    if report.failed and isinstance(server, Extrawest):
        report.sections.append(("extrawest-ocpi log (end)", server.log_tail()))
    return report
