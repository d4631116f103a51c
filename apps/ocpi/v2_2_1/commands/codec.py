"""OCPI 2.2.1 commands: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

Kinds: ``command_<type>`` (e.g. ``command_start_session``) for the request bodies
(StartSession, StopSession, ReserveNow, CancelReservation, UnlockConnector ⇄
:class:`~apps.commands.types.CommandRequest`), ``command_response`` (CommandResponse ⇄
:class:`~apps.commands.types.CommandAnswer`) and ``command_result`` (CommandResult ⇄
:class:`~apps.commands.types.CommandOutcome`).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.commands.enums import CommandResponseType, CommandResultType, CommandType
from apps.commands.types import CommandAnswer, CommandOutcome, CommandRequest, TokenSnapshot
from apps.ocpi.common.fields import PartnerUrlField
from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import OcpiDateTimeField, ocpi_id
from apps.ocpi.v2_2_1.tokens.codec import TokenSerializer

#: Language of the DisplayText messages we write.
LANGUAGE = "en"


def request_kind(command_type: str) -> str:
    """The codec kind of a command's request body, e.g. ``command_start_session``."""
    return f"command_{command_type.lower()}"


# -- wire fields ---------------------------------------------------------------------------------
def ci_string(length: int, **kwargs: Any) -> serializers.RegexField:
    """CiString(n): printable ASCII, compared case-insensitively."""
    return serializers.RegexField(
        rf"^[\x20-\x7e]{{1,{length}}}$",
        error_messages={"invalid": f"must be 1-{length} printable ASCII characters"},
        **kwargs,
    )


class DisplayTextSerializer(serializers.Serializer[Any]):
    language = serializers.CharField(min_length=2, max_length=2)
    text = serializers.CharField(max_length=512, allow_blank=True)


class _CommandSerializer(serializers.Serializer[Any]):
    response_url = PartnerUrlField()


class StartSessionSerializer(_CommandSerializer):
    token = TokenSerializer()
    location_id = ocpi_id(36)
    evse_uid = ocpi_id(36, required=False)
    connector_id = ocpi_id(36, required=False)
    authorization_reference = ci_string(36, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("connector_id") and not attrs.get("evse_uid"):
            raise serializers.ValidationError({"evse_uid": "required when connector_id is set"})
        return attrs


class StopSessionSerializer(_CommandSerializer):
    session_id = ocpi_id(36)


class ReserveNowSerializer(_CommandSerializer):
    token = TokenSerializer()
    expiry_date = OcpiDateTimeField()
    reservation_id = ocpi_id(36)
    location_id = ocpi_id(36)
    evse_uid = ocpi_id(36, required=False)
    authorization_reference = ci_string(36, required=False, allow_null=True)


class CancelReservationSerializer(_CommandSerializer):
    reservation_id = ocpi_id(36)


class UnlockConnectorSerializer(_CommandSerializer):
    location_id = ocpi_id(36)
    evse_uid = ocpi_id(36)
    connector_id = ocpi_id(36)


class CommandResponseSerializer(serializers.Serializer[Any]):
    result = serializers.ChoiceField(CommandResponseType.values)
    timeout = serializers.IntegerField(min_value=0)
    message = DisplayTextSerializer(many=True, required=False, allow_null=True)


class CommandResultSerializer(serializers.Serializer[Any]):
    result = serializers.ChoiceField(CommandResultType.values)
    message = DisplayTextSerializer(many=True, required=False, allow_null=True)


# -- canonical ⇄ wire helpers --------------------------------------------------------------------
def _text(messages: list[dict[str, str]] | None) -> str:
    """One text out of a DisplayText list: ours (English) if given, else the first one."""
    if not messages:
        return ""
    chosen = next((m for m in messages if m["language"].lower() == LANGUAGE), messages[0])
    return chosen["text"]


def _display(text: str) -> list[dict[str, str]]:
    return [{"language": LANGUAGE, "text": text[:512]}] if text else []


def _token(data: dict[str, Any]) -> TokenSnapshot:
    contract = data.get("energy_contract") or {}
    return TokenSnapshot(
        country_code=data["country_code"].upper(),
        party_id=data["party_id"].upper(),
        uid=data["uid"],
        type=data["type"],
        contract_id=data["contract_id"],
        issuer=data["issuer"],
        valid=data["valid"],
        whitelist=data["whitelist"],
        visual_number=data.get("visual_number") or "",
        group_id=data.get("group_id") or "",
        language=data.get("language") or "",
        default_profile_type=data.get("default_profile_type") or "",
        energy_supplier_name=contract.get("supplier_name") or "",
        energy_contract_id=contract.get("contract_id") or "",
        last_updated=data["last_updated"],
    )


def _render_token(token: TokenSnapshot) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
        "issuer": token.issuer,
        "valid": token.valid,
        "whitelist": token.whitelist,
        "last_updated": format_ocpi_datetime(token.last_updated) if token.last_updated else None,
    }
    optional = {
        "visual_number": token.visual_number,
        "group_id": token.group_id,
        "language": token.language,
        "default_profile_type": token.default_profile_type,
    }
    wire.update({k: v for k, v in optional.items() if v})
    if token.energy_supplier_name:
        wire["energy_contract"] = {"supplier_name": token.energy_supplier_name}
        if token.energy_contract_id:
            wire["energy_contract"]["contract_id"] = token.energy_contract_id
    return wire


class _RequestCodec:
    """One command's request body ⇄ :class:`CommandRequest`."""

    command_type: CommandType
    serializer: type[serializers.Serializer[Any]]
    #: Wire name → CommandRequest attribute, for the plain string fields.
    strings: tuple[str, ...] = ()

    def parse(self, data: Any, *, partial: bool = False) -> CommandRequest:
        body = validated(self.serializer, data)
        token = body.get("token")
        return CommandRequest(
            type=self.command_type,
            response_url=body["response_url"],
            token=_token(token) if token else None,
            expiry_date=body.get("expiry_date"),
            **{name: body.get(name) or "" for name in self.strings},
        )

    def render(self, obj: CommandRequest) -> dict[str, Any]:
        wire: dict[str, Any] = {"response_url": obj.response_url}
        if obj.token is not None:
            wire["token"] = _render_token(obj.token)
        if obj.expiry_date is not None:
            wire["expiry_date"] = format_ocpi_datetime(obj.expiry_date)
        for name in self.strings:
            value = getattr(obj, name)
            if value:
                wire[name] = value
        return wire


@codec(request_kind(CommandType.START_SESSION))
class StartSessionCodec(_RequestCodec):
    command_type = CommandType.START_SESSION
    serializer = StartSessionSerializer
    strings = ("location_id", "evse_uid", "connector_id", "authorization_reference")


@codec(request_kind(CommandType.STOP_SESSION))
class StopSessionCodec(_RequestCodec):
    command_type = CommandType.STOP_SESSION
    serializer = StopSessionSerializer
    strings = ("session_id",)


@codec(request_kind(CommandType.RESERVE_NOW))
class ReserveNowCodec(_RequestCodec):
    command_type = CommandType.RESERVE_NOW
    serializer = ReserveNowSerializer
    strings = ("reservation_id", "location_id", "evse_uid", "authorization_reference")


@codec(request_kind(CommandType.CANCEL_RESERVATION))
class CancelReservationCodec(_RequestCodec):
    command_type = CommandType.CANCEL_RESERVATION
    serializer = CancelReservationSerializer
    strings = ("reservation_id",)


@codec(request_kind(CommandType.UNLOCK_CONNECTOR))
class UnlockConnectorCodec(_RequestCodec):
    command_type = CommandType.UNLOCK_CONNECTOR
    serializer = UnlockConnectorSerializer
    strings = ("location_id", "evse_uid", "connector_id")


@codec("command_response")
class CommandResponseCodec:
    def parse(self, data: Any, *, partial: bool = False) -> CommandAnswer:
        body = validated(CommandResponseSerializer, data)
        return CommandAnswer(
            result=body["result"], timeout=body["timeout"], message=_text(body.get("message"))
        )

    def render(self, obj: CommandAnswer) -> dict[str, Any]:
        wire: dict[str, Any] = {"result": obj.result, "timeout": obj.timeout}
        if obj.message:
            wire["message"] = _display(obj.message)
        return wire


@codec("command_result")
class CommandResultCodec:
    def parse(self, data: Any, *, partial: bool = False) -> CommandOutcome:
        body = validated(CommandResultSerializer, data)
        return CommandOutcome(result=body["result"], message=_text(body.get("message")))

    def render(self, obj: CommandOutcome) -> dict[str, Any]:
        wire: dict[str, Any] = {"result": obj.result}
        if obj.message:
            wire["message"] = _display(obj.message)
        return wire
