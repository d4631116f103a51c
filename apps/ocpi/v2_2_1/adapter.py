"""The standard OCPI 2.2.1 adapter."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from rest_framework import serializers

from apps.ocpi.adapters.base import (
    Adapter,
    CredentialsInfo,
    EndpointInfo,
    PartyRole,
    VersionInfo,
)
from apps.ocpi.adapters.registry import register
from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1 import serializers as wire
from apps.ocpi.v2_2_1.codecs import CODECS, MODULES
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber

logger = logging.getLogger(__name__)

# Each module package registers its codecs on import.
for _module in MODULES:
    import_module(f"apps.ocpi.v2_2_1.{_module}.codec")


class _VersionList(serializers.Serializer[Any]):
    versions = wire.VersionSerializer(many=True, allow_empty=False)


@register
class StandardAdapter(Adapter):
    profile = STANDARD_PROFILE
    version = VersionNumber.V2_2_1
    codecs = CODECS

    def parse_versions(self, data: Any) -> list[VersionInfo]:
        if not isinstance(data, list):
            raise InvalidParameters("versions: expected a list of Version objects")
        rows = validated(_VersionList, {"versions": data})["versions"]
        return [VersionInfo(version=r["version"], url=r["url"]) for r in rows]

    def parse_version_details(self, data: Any) -> list[EndpointInfo]:
        details = validated(wire.VersionDetailsSerializer, data)
        if details["version"] != self.version:
            # Seen in the wild (and in the spec's own examples): details labelled with another
            # version than the URL they came from. The endpoints are still usable.
            logger.warning(
                "version details say %s where %s was expected", details["version"], self.version
            )
        return [
            EndpointInfo(identifier=e["identifier"], role=e["role"], url=e["url"])
            for e in details["endpoints"]
        ]

    def render_endpoint(self, endpoint: EndpointInfo) -> dict[str, Any]:
        return {"identifier": endpoint.identifier, "role": endpoint.role, "url": endpoint.url}

    def parse_credentials(self, data: Any) -> CredentialsInfo:
        creds = validated(wire.CredentialsSerializer, data)
        return CredentialsInfo(
            token=creds["token"],
            url=creds["url"],
            roles=[
                PartyRole(
                    role=r["role"],
                    country_code=r["country_code"].upper(),
                    party_id=r["party_id"].upper(),
                    name=r["business_details"]["name"],
                    website=r["business_details"].get("website") or "",
                    logo=r["business_details"].get("logo") or None,
                )
                for r in creds["roles"]
            ],
        )

    def render_credentials(self, credentials: CredentialsInfo) -> dict[str, Any]:
        roles = []
        for r in credentials.roles:
            business: dict[str, Any] = {"name": r.name}
            if r.website:
                business["website"] = r.website
            if r.logo:
                business["logo"] = r.logo
            roles.append(
                {
                    "role": r.role,
                    "business_details": business,
                    "party_id": r.party_id,
                    "country_code": r.country_code,
                }
            )
        return {"token": credentials.token, "url": credentials.url, "roles": roles}
