"""The hubclientinfo endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route
from apps.ocpi.v2_2_1.hubclientinfo import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "hubclientinfo",
        "RECEIVER",
        "hubclientinfo",
        views.HubClientInfoRootView.as_view(),
        "hubclientinfo_receiver",
        caller_roles=frozenset({Role.HUB}),
        routes=(
            Route(
                f"{COUNTRY}/{PARTY}",
                views.HubClientInfoView.as_view(),
                "hubclientinfo_receiver_object",
            ),
        ),
    ),
]
