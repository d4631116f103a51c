from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ocpi.httpserver import OcpiPeer


@pytest.fixture
def ocpi_peer() -> Iterator[OcpiPeer]:
    """A programmable OCPI partner on http://127.0.0.1:<ephemeral port> (see httpserver.py)."""
    with OcpiPeer() as peer:
        yield peer
