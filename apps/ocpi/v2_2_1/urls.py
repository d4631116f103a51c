from __future__ import annotations

from django.urls import re_path

from apps.ocpi.adapters.base import EndpointInfo
from apps.ocpi.common.mounting import MountedEndpoint
from apps.ocpi.common.urls import absolute_url, published
from apps.ocpi.v2_2_1 import views

app_name = "v2_2_1"

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "credentials", "SENDER", "credentials", views.CredentialsView.as_view(), "credentials"
    ),
]

urlpatterns = [
    re_path(r"^/?$", views.VersionDetailsView.as_view(), name="details"),
    *(endpoint.pattern() for endpoint in ENDPOINTS),
]


def published_endpoints() -> list[EndpointInfo]:
    """The endpoints our version details list: what is mounted, filtered by our roles."""
    return [
        EndpointInfo(e.identifier, e.interface_role, absolute_url(f"ocpi:{app_name}:{e.name}"))
        for e in published(ENDPOINTS)
    ]
