"""HubClientInfo Receiver: a hub tells us which parties are reachable through it (spec 13).

A configuration module: no routing headers. Only a connection that represents a HUB party may
push, only about parties it represents (never ours), and a hub reads back only what it reported
itself.
"""

from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import DomainError
from apps.ocpi.common.errors import NotFound, OcpiError
from apps.ocpi.common.validation import identity_check
from apps.ocpi.v2_2_1.views import ModuleView
from apps.partners.enums import Role
from apps.partners.models import Party
from apps.partners.services import party_reachability_record


class HubClientInfoRootView(ModuleView):
    """The published endpoint URL; objects live below it (``/{country_code}/{party_id}``)."""

    module: ClassVar[str] = "hubclientinfo"
    uses_routing_headers: ClassVar[bool] = False
    http_method_names = ["options"]


class HubClientInfoView(ModuleView):
    module: ClassVar[str] = "hubclientinfo"
    uses_routing_headers: ClassVar[bool] = False

    def get(self, request: Request, country_code: str, party_id: str) -> Response:
        self._require_hub()
        party = Party.objects.filter(
            country_code__iexact=country_code,
            party_id__iexact=party_id,
            reachability_via=self.connection,
        ).first()
        if party is None:
            raise NotFound(f"no ClientInfo for party {country_code.upper()}*{party_id.upper()}")
        return self.ocpi(self.adapter.render("client_info", party))

    def put(self, request: Request, country_code: str, party_id: str) -> Response:
        self._require_hub()
        identity_check(request.data, {"country_code": country_code, "party_id": party_id})
        info = self.adapter.parse("client_info", request.data)
        try:
            result = party_reachability_record(
                connection=self.connection,
                country_code=info.country_code,
                party_id=info.party_id,
                role=info.role,
                status=info.status,
                last_updated=info.last_updated,
            )
        except DomainError as exc:
            # Our own parties and parties the hub does not represent: like a client-owned
            # object URL naming a party that is not the caller's (spec 2.5: 404).
            raise NotFound(exc.message) from exc
        return self.upserted(result)

    def _require_hub(self) -> None:
        if not any(p.has_role(Role.HUB) for p in self.connection.represented_parties.all()):
            raise OcpiError("ClientInfo is exchanged with a hub only", http_status=403)
