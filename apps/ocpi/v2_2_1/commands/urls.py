"""The commands endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.commands import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "commands",
        "RECEIVER",
        "cpo/commands",
        views.CommandsReceiverRootView.as_view(),
        "commands_receiver",
        caller_roles=frozenset({Role.EMSP}),
        our_roles=frozenset({"CPO"}),
        routes=(
            Route(
                segment("command"),
                views.CommandsReceiverView.as_view(),
                "commands_receiver_command",
            ),
        ),
    ),
    MountedEndpoint(
        "commands",
        "SENDER",
        "emsp/commands",
        views.CommandsSenderRootView.as_view(),
        "commands_sender",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            Route(
                f"{segment('command')}/{segment('uid')}",
                views.CommandResultView.as_view(),
                "commands_sender_result",
            ),
        ),
    ),
]
