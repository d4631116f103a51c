from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.adapters.registry import version_key
from apps.ocpi.common.urls import absolute_url
from apps.ocpi.common.views import OcpiView


class VersionsView(OcpiView):
    """GET {versions_url}: every version we mount, with its details URL."""

    module: ClassVar[str] = "versions"
    allow_registration_token: ClassVar[bool] = True
    uses_routing_headers: ClassVar[bool] = False

    def get(self, request: Request) -> Response:
        from apps.ocpi.urls import MOUNTED_VERSIONS

        numbers = sorted(MOUNTED_VERSIONS, key=version_key)
        return self.ocpi(
            [
                {"version": n.value, "url": absolute_url(f"ocpi:v{n.replace('.', '_')}:details")}
                for n in numbers
            ]
        )
