"""The tariffs endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.tariffs import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "tariffs",
        "RECEIVER",
        "emsp/tariffs",
        views.TariffsReceiverRootView.as_view(),
        "tariffs_receiver",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            Route(
                f"{COUNTRY}/{PARTY}/{segment('tariff_id')}",
                views.TariffReceiverView.as_view(),
                "tariffs_receiver_tariff",
            ),
        ),
    ),
    MountedEndpoint(
        "tariffs",
        "SENDER",
        "cpo/tariffs",
        views.TariffsSenderView.as_view(),
        "tariffs_sender",
        caller_roles=frozenset({Role.EMSP, Role.NSP, Role.NAP}),
        our_roles=frozenset({"CPO"}),
    ),
]
