from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from pytest_django.live_server_helper import LiveServer


@pytest.fixture
def staff_client(db: None) -> Client:
    user = get_user_model().objects.create_superuser(username="ops", password="x")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def us(live_server: LiveServer) -> Iterator[str]:
    """The platform under test, reachable over HTTP at its OCPI_BASE_URL (for peers to call)."""
    with override_settings(OCPI_BASE_URL=live_server.url, OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield live_server.url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove this run's own var dir (config.settings.test makes one per run)."""
    import os
    import shutil

    from django.conf import settings

    var_dir = str(settings.VAR_DIR)
    if var_dir.endswith(f"roamdesk-test-var-{os.getpid()}"):
        shutil.rmtree(var_dir, ignore_errors=True)
