"""Helpers of the outbox tests: an eMSP connection to a local peer, a final CDR for it, and a
peer answer that stores a CDR."""

from __future__ import annotations

from apps.cdrs.models import Cdr
from apps.cdrs.services import cdr_finalize
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection, Party
from tests.factories import CdrFactory, ConnectionFactory, PartyFactory
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope


def emsp_connection(
    peer: OcpiPeer, code: str = "EMP", *, cdrs_url: str | None = None
) -> PartnerConnection:
    """A connected eMSP DE*{code} whose CDRs Receiver is the peer's (or ``cdrs_url``)."""
    url = cdrs_url or peer.url("/cdrs")
    connection = ConnectionFactory.create(
        status=ConnectionStatus.CONNECTED,
        version=VersionNumber.V2_2_1.value,
        endpoints=[{"identifier": "cdrs", "role": "RECEIVER", "url": url}],
    )
    connection.set_send_token("their-token")
    connection.save()
    party = PartyFactory.create(
        partner=connection.partner, country_code="DE", party_id=code, roles=["EMSP"]
    )
    connection.represented_parties.set([party])
    return connection


def final_cdr(token_party: str = "EMP", **kwargs: object) -> Cdr:
    own = Party.objects.own().get()
    cdr = CdrFactory.create(
        party=own, token_country_code="DE", token_party_id=token_party, **kwargs
    )
    return cdr_finalize(cdr=cdr)


def stores_and_locates(request: RecordedRequest) -> Reply:
    body = request.json()
    return Reply(
        status=201,
        body=envelope(),
        headers={"Location": f"https://emsp.example/cdrs/{body['id']}"},
    )
