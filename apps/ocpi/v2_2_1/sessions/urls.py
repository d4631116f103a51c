"""The sessions endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import MountedEndpoint

ENDPOINTS: list[MountedEndpoint] = []
