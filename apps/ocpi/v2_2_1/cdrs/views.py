"""OCPI 2.2.1 CDRs (spec 8): the Receiver interface (we are the eMSP: a CPO POSTs its CDRs to us)
and the Sender interface (we are the CPO: an eMSP pulls the CDRs of its drivers).

Receiver. ``POST emsp/cdrs`` stores the CDR final and immutable (``cdr_receive``) for a party
the caller's connection represents, checks its pricing, and answers 201 with the URL where we
keep it in the ``Location`` header: ``emsp/cdrs/{country_code}/{party_id}/{cdr_id}`` (the spec
lets the receiver define it; owner + id is the CDR's identity). A repeated POST of a CDR we hold
(same ``country_code``/``party_id``/``id``) stores nothing: the same body gets 200 + 1000 and
the same ``Location``; a different body gets 2001 (a CDR is immutable; corrections are credit
CDRs), with the ``Location`` of the CDR we keep. ``GET`` on that URL returns it.

Sender. ``GET cpo/cdrs``: our CPO parties' final CDRs (credit CDRs included) whose token
belongs to a party the caller's connection represents, oldest first, filtered on
``last_updated``.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response

from apps.cdrs.enums import CdrOrigin, CdrStatus
from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod
from apps.cdrs.services import cdr_receive
from apps.ocpi.common.errors import NotFound
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.v2_2_1.views import ModuleView
from apps.partners.enums import Role


def cdrs_for_rendering(queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
    """``queryset`` with what rendering a CDR reads, fetched in a few queries per page."""
    return queryset.select_related(
        "party", "tariff_version_at_start__tariff__party"
    ).prefetch_related(
        Prefetch(
            "charging_periods",
            queryset=CdrChargingPeriod.objects.order_by("sequence").prefetch_related(
                Prefetch("dimensions", queryset=CdrChargingDimension.objects.order_by("pk"))
            ),
        )
    )


class CdrsReceiverView(ModuleView):
    module: ClassVar[str] = "cdrs"

    def post(self, request: Request) -> Response:
        content = self.adapter.parse("cdr", request.data)
        party = self.owner_party(content.country_code, content.party_id)
        receipt = cdr_receive(
            party=party,
            content=content,
            source_connection=self.connection,
            protocol_version=self.version,
        )
        headers = {"Location": self.cdr_url(receipt.cdr)}
        if receipt.created:
            return self.ocpi(http_status=201, headers=headers)
        if receipt.differences:
            return self.ocpi(
                status_code=OcpiStatus.INVALID_PARAMETERS,
                message=f"CDR {party.code}*{receipt.cdr.cdr_id} is already stored and a CDR "
                f"cannot be changed; this one differs in {', '.join(receipt.differences)}. "
                "Send a credit CDR and a new CDR to correct it.",
                headers=headers,
            )
        return self.ocpi(message="already received", headers=headers)

    def cdr_url(self, cdr: Cdr) -> str:
        path = reverse(
            "ocpi:v2_2_1:cdrs_receiver_cdr",
            kwargs={
                "country_code": cdr.party.country_code,
                "party_id": cdr.party.party_id,
                "cdr_id": cdr.cdr_id,
            },
        )
        return f"{settings.OCPI_BASE_URL}{path}"


class CdrReceiverView(ModuleView):
    module: ClassVar[str] = "cdrs"

    def get(self, request: Request, country_code: str, party_id: str, cdr_id: str) -> Response:
        party = self.owner_party(country_code, party_id)
        cdr = (
            cdrs_for_rendering(Cdr.objects.all())
            .filter(party=party, cdr_id__iexact=cdr_id, origin=CdrOrigin.RECEIVED)
            .first()
        )
        if cdr is None:
            raise NotFound(f"CDR {party.code}*{cdr_id} is not known here")
        return self.ocpi(self.adapter.render("cdr", cdr))


class CdrsSenderView(ModuleView):
    module: ClassVar[str] = "cdrs"

    def get(self, request: Request) -> Response:
        return self.paginated(self.cdrs(), lambda cdr: self.adapter.render("cdr", cdr))

    def cdrs(self) -> QuerySet[Cdr]:
        """Our final CDRs for the tokens of the parties the caller represents."""
        drivers = Q(pk__in=[])
        for party in self.connection.represented_parties.all():
            drivers |= Q(
                token_country_code__iexact=party.country_code,
                token_party_id__iexact=party.party_id,
            )
        return cdrs_for_rendering(
            Cdr.objects.filter(
                drivers,
                party__in=self.own_parties(Role.CPO),
                status=CdrStatus.FINAL,
                origin=CdrOrigin.GENERATED,
            )
        )
