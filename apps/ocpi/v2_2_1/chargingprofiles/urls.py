"""The chargingprofiles endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.chargingprofiles import views
from apps.partners.enums import Role

REFERENCE = (
    r"(?P<reference>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "chargingprofiles",
        "RECEIVER",
        "cpo/chargingprofiles",
        views.ChargingProfilesRootView.as_view(),
        "chargingprofiles_receiver",
        caller_roles=frozenset({Role.EMSP, Role.SCSP}),
        our_roles=frozenset({"CPO"}),
        routes=(
            Route(
                segment("session_id"),
                views.ChargingProfilesReceiverView.as_view(),
                "chargingprofiles_receiver_session",
            ),
        ),
    ),
    MountedEndpoint(
        "chargingprofiles",
        "SENDER",
        "emsp/chargingprofiles",
        views.ChargingProfilesRootView.as_view(),
        "chargingprofiles_sender",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            # Before the session route: a reference path has two segments, a session id one.
            Route(
                f"results/{REFERENCE}",
                views.ChargingProfilesResultView.as_view(),
                "chargingprofiles_sender_result",
            ),
            Route(
                segment("session_id"),
                views.ChargingProfilesSenderSessionView.as_view(),
                "chargingprofiles_sender_session",
            ),
        ),
    ),
]
