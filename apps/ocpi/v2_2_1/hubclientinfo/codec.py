"""OCPI 2.2.1 hubclientinfo: ClientInfo wire ⇄ canonical (a party's reachability via a hub)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import OcpiDateTimeField
from apps.ocpi.v2_2_1.serializers import ROLES
from apps.partners.enums import Reachability
from apps.partners.models import Party


class ClientInfoSerializer(serializers.Serializer[Any]):
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    role = serializers.ChoiceField(ROLES)
    status = serializers.ChoiceField(Reachability.values)
    last_updated = OcpiDateTimeField()


@dataclass(frozen=True)
class ClientInfo:
    country_code: str
    party_id: str
    role: str
    status: str
    last_updated: datetime


@codec("client_info")
class ClientInfoCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ClientInfo:
        fields = validated(ClientInfoSerializer, data)
        return ClientInfo(
            country_code=fields["country_code"].upper(),
            party_id=fields["party_id"].upper(),
            role=fields["role"],
            status=fields["status"],
            last_updated=fields["last_updated"],
        )

    def render(self, obj: Party) -> dict[str, Any]:
        roles = obj.roles or []
        return {
            "party_id": obj.party_id,
            "country_code": obj.country_code,
            # A party with several roles has one ClientInfo; its first role represents it.
            "role": roles[0] if roles else "OTHER",
            "status": obj.reachability,
            "last_updated": obj.reachability_updated,
        }
