"""Wire shapes of OCPI 2.2.1 (plain DRF serializers; never ModelSerializers).

Optional (``?``) fields accept ``null`` as well as absence (spec §0).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

ROLES = ["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
CREDENTIALS_TOKEN = r"^[\x21-\x7e]{1,64}$"  # noqa: S105 (a pattern, not a secret)


class ImageSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(max_length=255)
    thumbnail = serializers.URLField(max_length=255, required=False, allow_null=True)
    category = serializers.ChoiceField(
        ["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]
    )
    type = serializers.CharField(max_length=4)
    width = serializers.IntegerField(min_value=0, max_value=99999, required=False, allow_null=True)
    height = serializers.IntegerField(min_value=0, max_value=99999, required=False, allow_null=True)


class BusinessDetailsSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    website = serializers.URLField(max_length=255, required=False, allow_null=True)
    logo = ImageSerializer(required=False, allow_null=True)


class CredentialsRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(ROLES)
    business_details = BusinessDetailsSerializer()
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")


class CredentialsSerializer(serializers.Serializer[Any]):
    token = serializers.RegexField(
        CREDENTIALS_TOKEN,
        error_messages={"invalid": "must be 1-64 printable, non-whitespace ASCII characters"},
    )
    url = serializers.URLField(max_length=255)
    roles = CredentialsRoleSerializer(many=True, allow_empty=False)

    def validate_roles(self, roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = set()
        for entry in roles:
            key = (entry["role"], entry["country_code"].upper(), entry["party_id"].upper())
            if key in seen:
                raise serializers.ValidationError(f"duplicate role {'/'.join(key)}")
            seen.add(key)
        return roles


class VersionSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(max_length=10)
    url = serializers.URLField(max_length=255)


class EndpointSerializer(serializers.Serializer[Any]):
    identifier = serializers.CharField(max_length=64)
    role = serializers.ChoiceField(["SENDER", "RECEIVER"])
    url = serializers.URLField(max_length=255)


class VersionDetailsSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(max_length=10)
    endpoints = EndpointSerializer(many=True, allow_empty=False)
