"""A second roamdesk platform in its own process, database and port, for end-to-end tests.

It is the real application (``manage.py runserver``) with its own SQLite database and OCPI
identity, reachable on 127.0.0.1: the handshake between it and the platform under test runs over
real HTTP in both directions.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.ocpi.common.client import OcpiClient

ROOT = Path(__file__).resolve().parents[2]
PEER_KEY = "cGVlci1wbGF0Zm9ybS1rZXktMDEyMzQ1Njc4OWFiY2Q="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def status_of(url: str, token: str) -> tuple[int, int | None]:
    """HTTP status and OCPI status of a GET with this credentials token."""
    with OcpiClient(token=token) as client:
        response = client.get(url)
    return response.http_status, response.status_code


@dataclass
class PeerPlatform:
    base_url: str
    env: dict[str, str]
    country_code: str
    party_id: str

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"peer manage.py {args[0]} failed:\n{result.stderr}")
        return result

    def python(self, code: str) -> Any:
        """Run code inside the peer's Django; the code assigns its answer to ``result``."""
        wrapped = f"import json\n{code}\nprint('@@' + json.dumps(result, default=str))"
        output = self.manage("shell", "-c", wrapped).stdout
        line = next(ln for ln in reversed(output.splitlines()) if ln.startswith("@@"))
        return json.loads(line[2:])

    def invite(self, partner_name: str) -> dict[str, Any]:
        """The peer invites a partner: its connection id, token A and versions URL."""
        invite: dict[str, Any] = self.python(
            "from apps.ocpi.services.handshake import connection_invite, our_versions_url\n"
            "from apps.partners.models import Partner\n"
            f"c, t = connection_invite(partner=Partner.objects.create(name={partner_name!r}))\n"
            "result = {'id': c.pk, 'token_a': t, 'versions_url': our_versions_url()}"
        )
        return invite

    def connection_state(self, connection_id: int) -> dict[str, Any]:
        state: dict[str, Any] = self.python(
            "from apps.partners.models import PartnerConnection as C\n"
            f"c = C.objects.get(pk={connection_id})\n"
            "result = {'status': c.status, 'version': c.version, 'endpoints': c.endpoints,\n"
            " 'parties': sorted(p.code for p in c.represented_parties.all()),\n"
            " 'send_token': c.send_token, 'versions_url': c.versions_url}"
        )
        return state


@pytest.fixture
def peer_platform(tmp_path: Path) -> Iterator[PeerPlatform]:
    with running_peer_platform(tmp_path) as peer:
        yield peer


@contextmanager
def running_peer_platform(tmp_path: Path) -> Iterator[PeerPlatform]:
    """A peer platform with its files in ``tmp_path``, for as long as the block runs (what the
    ``peer_platform`` fixture uses; a module-scoped fixture can use it too)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        SECRET_KEY="peer-platform-secret-key-for-tests-only",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'peer.sqlite3'}",
        ROAMDESK_VAR_DIR=str(tmp_path / "var"),
        OCPI_BASE_URL=base_url,
        OCPI_COUNTRY_CODE="DE",
        OCPI_PARTY_ID="PBB",
        OCPI_ROLES="EMSP",
        OCPI_BUSINESS_NAME="Peer eMSP",
        OCPI_OUTBOUND_ALLOW_LOCAL="true",
        OCPI_TOKEN_ENCRYPTION_KEYS=PEER_KEY,
        LOG_LEVEL="WARNING",
        # The peer ends a replaced token at once (ours keeps it for the overlap, tested on our
        # side, where the clock can be moved).
        OCPI_TOKEN_ROTATION_OVERLAP_SECONDS="0",
    )
    peer = PeerPlatform(base_url=base_url, env=env, country_code="DE", party_id="PBB")
    peer.manage("migrate", "-v0")
    log = (tmp_path / "peer.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"peer did not start:\n{(tmp_path / 'peer.log').read_text()}")
            time.sleep(0.2)
        yield peer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
