"""The sessions endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.sessions import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "sessions",
        "RECEIVER",
        "emsp/sessions",
        views.SessionsReceiverView.as_view(),
        "sessions_receiver",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            Route(
                f"{COUNTRY}/{PARTY}/{segment('session_id')}",
                views.SessionReceiverView.as_view(),
                "sessions_receiver_session",
            ),
        ),
    ),
    MountedEndpoint(
        "sessions",
        "SENDER",
        "cpo/sessions",
        views.SessionsSenderView.as_view(),
        "sessions_sender",
        caller_roles=frozenset({Role.EMSP, Role.SCSP}),
        our_roles=frozenset({"CPO"}),
        routes=(
            Route(
                f"{segment('session_id')}/charging_preferences",
                views.ChargingPreferencesView.as_view(),
                "sessions_sender_charging_preferences",
            ),
        ),
    ),
]
