"""OCPI 2.2.1 Tariffs (spec 9): the Receiver interface (we are the eMSP: a CPO pushes its tariffs
to us) and the Sender interface (we are the CPO: an eMSP pulls our tariffs).

Receiver: ``{cc}/{pid}/{tariff_id}``, only for parties the caller's connection represents.
Every PUT records a new immutable tariff version unless the content is unchanged
(``tariff_receive``); DELETE withdraws the tariff and keeps its versions.
Sender: our CPO parties' tariffs that are published to the caller's partner and not withdrawn,
each as its newest version.
"""

from __future__ import annotations

from typing import ClassVar

from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.common.errors import NotFound
from apps.ocpi.common.validation import identity_check
from apps.ocpi.v2_2_1.views import ModuleView
from apps.partners.enums import Role
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.services import tariff_get, tariff_receive, tariff_withdraw


class TariffsReceiverRootView(ModuleView):
    """The published endpoint URL; tariffs live below it (``/{cc}/{pid}/{tariff_id}``)."""

    module: ClassVar[str] = "tariffs"
    http_method_names = ["options"]


class TariffReceiverView(ModuleView):
    module: ClassVar[str] = "tariffs"

    def get(self, request: Request, country_code: str, party_id: str, tariff_id: str) -> Response:
        return self.ocpi(
            self.adapter.render("tariff", self._tariff(country_code, party_id, tariff_id))
        )

    def put(self, request: Request, country_code: str, party_id: str, tariff_id: str) -> Response:
        party = self.owner_party(country_code, party_id)
        identity_check(
            request.data, {"country_code": country_code, "party_id": party_id, "id": tariff_id}
        )
        data = self.adapter.parse("tariff", request.data)
        result = tariff_receive(
            party=party,
            tariff_id=data.tariff_id,
            content=data.content,
            source_connection=self.connection,
        )
        return self.upserted(result)

    def delete(
        self, request: Request, country_code: str, party_id: str, tariff_id: str
    ) -> Response:
        tariff_withdraw(tariff=self._tariff(country_code, party_id, tariff_id))
        return self.ocpi()

    def _tariff(self, country_code: str, party_id: str, tariff_id: str) -> Tariff:
        party = self.owner_party(country_code, party_id)
        tariff = tariff_get(party=party, tariff_id=tariff_id)
        if tariff is None:
            raise NotFound(f"tariff {party.code}*{tariff_id} is not known here")
        return tariff


class TariffsSenderView(ModuleView):
    module: ClassVar[str] = "tariffs"

    def get(self, request: Request) -> Response:
        return self.paginated(self.tariffs(), lambda t: self.adapter.render("tariff", t))

    def tariffs(self) -> QuerySet[Tariff]:
        """Our CPO parties' tariffs the caller may see: published to its partner, not withdrawn,
        with at least one version."""
        return (
            Tariff.objects.select_related("party")
            .filter(party__in=self.own_parties(Role.CPO), deleted_at__isnull=True)
            .filter(Tariff.published_to_q(self.connection.partner))
            .filter(Exists(TariffVersion.objects.filter(tariff=OuterRef("pk"))))
        )
