"""Who calls our OCPI module endpoints in tests: a registered partner connection speaking for
one or more parties, with its token and the routing headers (spec 2.2, 2.11)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import simplejson
from django.test import Client

from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection, Party
from apps.partners.services import connection_issue_token
from tests.factories import ConnectionFactory, PartyFactory

V = "/ocpi/2.2.1"


def auth_header(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def own_party(*roles: str, country_code: str = "NL", party_id: str = "RDK") -> Party:
    """One of our own parties (created if missing) playing ``roles``."""
    party, _ = Party.objects.get_or_create(
        partner=None,
        country_code=country_code,
        party_id=party_id,
        defaults={"roles": list(roles), "name": "roamdesk"},
    )
    missing = [r for r in roles if r not in party.roles]
    if missing:
        party.roles = [*party.roles, *missing]
        party.save()
    return party


@dataclass
class Caller:
    """A partner platform calling us: ``get``/``put``/``patch``/``post``/``delete`` with its
    token and routing headers (from its first party to ``to`` when given)."""

    connection: PartnerConnection
    token: str
    parties: list[Party]
    client: Client = field(default_factory=Client)
    to: Party | None = None

    @property
    def party(self) -> Party:
        return self.parties[0]

    def headers(self, *, sender: Party | None = None, **extra: str) -> dict[str, str]:
        sender = sender or self.party
        headers = {
            "Authorization": auth_header(self.token),
            "OCPI-from-country-code": sender.country_code,
            "OCPI-from-party-id": sender.party_id,
        }
        if self.to is not None:
            headers["OCPI-to-country-code"] = self.to.country_code
            headers["OCPI-to-party-id"] = self.to.party_id
        return {**headers, **extra}

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        url = path if path.startswith("/") else f"{V}/{path}"
        call = getattr(self.client, method.lower())
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        if body is None:
            return call(url, headers=headers, **kwargs)
        return call(
            url,
            data=simplejson.dumps(body, use_decimal=True),
            content_type="application/json",
            headers=headers,
            **kwargs,
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def partner_caller(
    *roles: str, country_code: str = "BE", party_id: str = "BEC", extra_parties: int = 0
) -> Caller:
    """A CONNECTED partner connection representing a party ``country_code*party_id`` with
    ``roles`` (plus ``extra_parties`` more, as a hub would)."""
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    party = PartyFactory.create(
        partner=connection.partner,
        country_code=country_code,
        party_id=party_id,
        roles=list(roles) or ["EMSP"],
    )
    parties = [party] + [
        PartyFactory.create(partner=connection.partner, roles=list(roles) or ["EMSP"])
        for _ in range(extra_parties)
    ]
    connection.represented_parties.set(parties)
    token = connection_issue_token(connection=connection, registration=False)
    return Caller(connection=connection, token=token, parties=parties)


def emsp_calling(us: Party, *, country_code: str = "DE", party_id: str = "TNM") -> Caller:
    """An eMSP partner on OCPI 2.2.1 that calls ``us`` and takes our pushes and command results
    (we hold a token for it): the spec's example token belongs to DE*TNM."""
    caller = partner_caller("EMSP", country_code=country_code, party_id=party_id)
    caller.connection.set_send_token("their-token")
    caller.connection.version = "2.2.1"
    caller.connection.save()
    caller.to = us
    return caller
