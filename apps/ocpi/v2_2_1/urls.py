from __future__ import annotations

from importlib import import_module

from django.urls import re_path

from apps.ocpi.adapters.base import EndpointInfo
from apps.ocpi.common.mounting import MountedEndpoint
from apps.ocpi.common.urls import absolute_url, published
from apps.ocpi.v2_2_1 import views
from apps.ocpi.v2_2_1.codecs import MODULES

app_name = "v2_2_1"

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "credentials", "SENDER", "credentials", views.CredentialsView.as_view(), "credentials"
    ),
    *(
        endpoint
        for module in MODULES
        for endpoint in import_module(f"apps.ocpi.v2_2_1.{module}.urls").ENDPOINTS
    ),
]

urlpatterns = [
    re_path(r"^/?$", views.VersionDetailsView.as_view(), name="details"),
    *(pattern for endpoint in ENDPOINTS for pattern in endpoint.patterns()),
]


def published_endpoints() -> list[EndpointInfo]:
    """The endpoints our version details list: what is mounted, filtered by our roles."""
    return [
        EndpointInfo(e.identifier, e.interface_role, absolute_url(f"ocpi:{app_name}:{e.name}"))
        for e in published(ENDPOINTS)
    ]
