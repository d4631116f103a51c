"""The tokens endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.tokens import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "tokens",
        "RECEIVER",
        "cpo/tokens",
        views.TokensReceiverRootView.as_view(),
        "tokens_receiver",
        caller_roles=frozenset({Role.EMSP}),
        our_roles=frozenset({"CPO"}),
        routes=(
            Route(
                f"{COUNTRY}/{PARTY}/{segment('token_uid')}",
                views.TokensReceiverTokenView.as_view(),
                "tokens_receiver_token",
            ),
        ),
    ),
    MountedEndpoint(
        "tokens",
        "SENDER",
        "emsp/tokens",
        views.TokensSenderListView.as_view(),
        "tokens_sender",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            Route(
                f"{segment('token_uid')}/authorize",
                views.TokensSenderAuthorizeView.as_view(),
                "tokens_sender_authorize",
            ),
        ),
    ),
]
