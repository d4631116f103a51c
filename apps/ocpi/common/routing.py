"""The OCPI routing headers of functional modules (§2.11).

Inbound: the from-party must be one the authenticated connection may speak for (a hub connection
represents many parties); the to-party, when given, must be one of our own parties. Outbound
requests carry them through ``client.RoutingHeaders``. Versions, credentials and hubclientinfo
use none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpRequest

from apps.ocpi.common.errors import InvalidParameters
from apps.partners.models import PartnerConnection, Party

FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"

_COUNTRY = re.compile(r"[A-Za-z]{2}")
_PARTY = re.compile(r"[A-Za-z0-9]{3}")


@dataclass(frozen=True)
class InboundRouting:
    sender: Party
    receiver: Party | None  # None: the request named no receiver (open routing)


def _pair(request: HttpRequest, country_header: str, party_header: str) -> tuple[str, str] | None:
    country = request.headers.get(country_header, "").strip()
    party = request.headers.get(party_header, "").strip()
    if not country and not party:
        return None
    if not (_COUNTRY.fullmatch(country) and _PARTY.fullmatch(party)):
        raise InvalidParameters(
            f"{country_header}/{party_header}: expected a 2-letter country code and a "
            f"3-character party id, got {country!r}/{party!r}"
        )
    return country.upper(), party.upper()


def routing_check(
    request: HttpRequest, *, connection: PartnerConnection, required: bool = True
) -> InboundRouting:
    """Parse and check the routing headers of an inbound functional-module request.

    With ``required=False`` (a partner dialect that omits them) a connection that represents
    exactly one party is taken to speak for it.
    """
    represented = {p.code: p for p in connection.represented_parties.all()}
    sender_key = _pair(request, FROM_COUNTRY, FROM_PARTY)
    if sender_key is None:
        if required or len(represented) != 1:
            raise InvalidParameters(f"the {FROM_COUNTRY} and {FROM_PARTY} headers are required")
        sender = next(iter(represented.values()))
    else:
        code = "*".join(sender_key)
        if code not in represented:
            raise InvalidParameters(
                f"this connection may not speak for party {code} "
                f"(it represents {', '.join(sorted(represented)) or 'no party'})"
            )
        sender = represented[code]
    receiver = None
    receiver_key = _pair(request, TO_COUNTRY, TO_PARTY)
    if receiver_key is not None:
        receiver = (
            Party.objects.own()
            .filter(country_code=receiver_key[0], party_id=receiver_key[1])
            .first()
        )
        if receiver is None:
            raise InvalidParameters(
                f"party {'*'.join(receiver_key)} is not hosted on this platform"
            )
    return InboundRouting(sender=sender, receiver=receiver)
