"""OCPI 2.2.1 tokens: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

Kinds: ``token`` (Token ⇄ :class:`~apps.tokens.services.TokenData`, or a PATCH's changes by
canonical field name), ``authorization_info`` (our
:class:`~apps.tokens.services.AuthorizationDecision` → wire; a partner's answer →
:class:`~apps.tokens.services.AuthorizationAnswer`) and ``location_references``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.ocpi.common.validation import require_last_updated, validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import OcpiDateTimeField, ocpi_id
from apps.tokens.enums import AllowedType, ProfileType, TokenType, WhitelistType
from apps.tokens.models import Token
from apps.tokens.services import (
    AuthorizationAnswer,
    AuthorizationDecision,
    LocationReferences,
    TokenData,
)

_PRINTABLE = r"^[\x20-\x7e]*$"


def _cistring(max_length: int, *, required: bool = True) -> serializers.RegexField:
    """An OCPI CiString: printable ASCII, compared case-insensitively."""
    return serializers.RegexField(
        _PRINTABLE,
        max_length=max_length,
        required=required,
        allow_null=not required,
        allow_blank=not required,
        error_messages={"invalid": "must be printable ASCII"},
    )


def _string(max_length: int) -> serializers.CharField:
    """An optional OCPI string."""
    return serializers.CharField(
        max_length=max_length,
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
    )


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (DRF alone would also take "yes", 1 and "on")."""

    default_error_messages = {"invalid": "must be a JSON boolean"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# -- wire shapes ---------------------------------------------------------------------------------
class EnergyContractSerializer(serializers.Serializer[Any]):
    supplier_name = serializers.CharField(max_length=64)
    contract_id = _string(64)


class TokenSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    uid = ocpi_id(36)
    type = serializers.ChoiceField(TokenType.values)
    contract_id = _cistring(36)
    visual_number = _string(64)
    issuer = serializers.CharField(max_length=64)
    group_id = _cistring(36, required=False)
    valid = StrictBooleanField()
    whitelist = serializers.ChoiceField(WhitelistType.values)
    language = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": "must be an ISO 639-1 code (two letters)"},
    )
    default_profile_type = serializers.ChoiceField(
        ProfileType.values, required=False, allow_null=True
    )
    energy_contract = EnergyContractSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()


class LocationReferencesSerializer(serializers.Serializer[Any]):
    location_id = ocpi_id(36)
    evse_uids = serializers.ListField(
        child=ocpi_id(36), required=False, allow_null=True, allow_empty=True
    )


class DisplayTextSerializer(serializers.Serializer[Any]):
    language = serializers.CharField(max_length=2)
    text = serializers.CharField(max_length=512)


class AuthorizationInfoSerializer(serializers.Serializer[Any]):
    allowed = serializers.ChoiceField(AllowedType.values)
    token = TokenSerializer()
    location = LocationReferencesSerializer(required=False, allow_null=True)
    authorization_reference = _cistring(36, required=False)
    info = DisplayTextSerializer(required=False, allow_null=True)


# -- canonical mapping ---------------------------------------------------------------------------
def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _token_content(wire: dict[str, Any]) -> dict[str, Any]:
    """Validated wire fields → canonical fields (only those present in ``wire``)."""
    content: dict[str, Any] = {}
    for name in ("contract_id", "issuer", "valid", "whitelist", "last_updated"):
        if name in wire:
            content[name] = wire[name]
    for name in ("visual_number", "group_id", "default_profile_type"):
        if name in wire:
            content[name] = _text(wire[name])
    if "language" in wire:
        content["language"] = _text(wire["language"]).lower()
    if "energy_contract" in wire:
        contract = wire["energy_contract"] or {}
        content["energy_supplier_name"] = _text(contract.get("supplier_name"))
        content["energy_contract_id"] = _text(contract.get("contract_id"))
    return content


def _token_data(wire: dict[str, Any]) -> TokenData:
    return TokenData(
        country_code=wire["country_code"].upper(),
        party_id=wire["party_id"].upper(),
        uid=wire["uid"],
        type=wire["type"],
        **_token_content(wire),
    )


def _location_references(wire: dict[str, Any] | None) -> LocationReferences | None:
    if not wire:
        return None
    return LocationReferences(
        location_id=wire["location_id"], evse_uids=tuple(wire.get("evse_uids") or ())
    )


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out optional fields without a value."""
    return {key: value for key, value in data.items() if value not in (None, "")}


def render_token(token: Token) -> dict[str, Any]:
    energy_contract = (
        _compact(
            {
                "supplier_name": token.energy_supplier_name,
                "contract_id": token.energy_contract_id,
            }
        )
        if token.energy_supplier_name
        else None
    )
    return _compact(
        {
            "country_code": token.party.country_code,
            "party_id": token.party.party_id,
            "uid": token.uid,
            "type": token.type,
            "contract_id": token.contract_id,
            "visual_number": token.visual_number,
            "issuer": token.issuer,
            "group_id": token.group_id,
            "valid": token.valid,
            "whitelist": token.whitelist,
            "language": token.language,
            "default_profile_type": token.default_profile_type,
            "energy_contract": energy_contract,
            "last_updated": token.last_updated,
        }
    )


def render_location_references(location: LocationReferences) -> dict[str, Any]:
    rendered: dict[str, Any] = {"location_id": location.location_id}
    if location.evse_uids:
        rendered["evse_uids"] = list(location.evse_uids)
    return rendered


# -- codecs --------------------------------------------------------------------------------------
@codec("token")
class TokenCodec:
    """Token ⇄ :class:`TokenData`; a PATCH body → a dict of the canonical fields it changes
    (identity fields are left to the view's identity check)."""

    def parse(self, data: Any, *, partial: bool = False) -> Any:
        if partial:
            require_last_updated(data)
            return _token_content(validated(TokenSerializer, data, partial=True))
        return _token_data(validated(TokenSerializer, data))

    def render(self, obj: Token) -> dict[str, Any]:
        return render_token(obj)


@codec("location_references")
class LocationReferencesCodec:
    def parse(self, data: Any, *, partial: bool = False) -> LocationReferences:
        wire = validated(LocationReferencesSerializer, data)
        return LocationReferences(
            location_id=wire["location_id"], evse_uids=tuple(wire.get("evse_uids") or ())
        )

    def render(self, obj: LocationReferences) -> dict[str, Any]:
        return render_location_references(obj)


@codec("authorization_info")
class AuthorizationInfoCodec:
    """Our decision → AuthorizationInfo; a partner's AuthorizationInfo → AuthorizationAnswer."""

    def parse(self, data: Any, *, partial: bool = False) -> AuthorizationAnswer:
        wire = validated(AuthorizationInfoSerializer, data)
        info = wire.get("info") or {}
        return AuthorizationAnswer(
            status=wire["allowed"],
            token=_token_data(wire["token"]),
            authorization_reference=_text(wire.get("authorization_reference")),
            location=_location_references(wire.get("location")),
            info=_text(info.get("text")),
        )

    def render(self, obj: AuthorizationDecision) -> dict[str, Any]:
        return _compact(
            {
                "allowed": obj.status,
                "token": render_token(obj.token),
                "location": render_location_references(obj.location) if obj.location else None,
                "authorization_reference": obj.authorization_reference,
                "info": {"language": "en", "text": obj.info} if obj.info else None,
            }
        )
