"""OCPI 2.2.1 sessions: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

Kinds: ``session`` (Session ⇄ ``SessionData`` / ``ChargingSession``), ``listed_session`` (a
Session with its owner and id, as a Sender list carries it ⇄ ``ListedSession``; pull sync),
``charging_preferences`` (ChargingPreferences ⇄ ``ChargingPreferencesData``) and
``charging_preferences_response`` (the ChargingPreferencesResponse enum: a bare JSON string in
``data``, so it renders to a ``str``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from rest_framework import serializers

from apps.charging_sessions.data import (
    ChargingPreferencesData,
    DimensionData,
    PeriodData,
    SessionData,
)
from apps.charging_sessions.enums import (
    AuthMethod,
    ChargingPreferencesResponse,
    SessionStatus,
)
from apps.charging_sessions.models import ChargingSession, SessionChargingPreferences
from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.validation import require_last_updated, validated
from apps.ocpi.v2_2_1.cdrs.codec import CdrTokenSerializer, ChargingPeriodSerializer
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import NumberField, OcpiDateTimeField, ocpi_id, quantity_field
from apps.ocpi.v2_2_1.render import compact, number, price
from apps.ocpi.v2_2_1.tariffs.codec import PriceSerializer
from apps.tokens.enums import ProfileType

_COUNTRY = r"^[A-Za-z]{2}$"
_PARTY = r"^[A-Za-z0-9]{3}$"


class SessionSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(_COUNTRY)
    party_id = serializers.RegexField(_PARTY)
    id = ocpi_id(36)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    kwh = quantity_field()
    cdr_token = CdrTokenSerializer()
    auth_method = serializers.ChoiceField(AuthMethod.values)
    authorization_reference = serializers.CharField(
        max_length=36, required=False, allow_null=True, allow_blank=True
    )
    location_id = ocpi_id(36)
    evse_uid = ocpi_id(36)
    connector_id = ocpi_id(36)
    meter_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    charging_periods = ChargingPeriodSerializer(
        many=True, required=False, allow_null=True, allow_empty=True
    )
    total_cost = PriceSerializer(required=False, allow_null=True)
    status = serializers.ChoiceField(SessionStatus.values)
    last_updated = OcpiDateTimeField()


@cache
def _patch_serializer(keys: frozenset[str]) -> type[serializers.Serializer[Any]]:
    """A serializer of exactly the Session fields a PATCH carries, each checked as in a PUT.

    DRF's ``partial`` would also relax the fields *inside* a nested object (a ``total_cost``
    without ``excl_vat``, a period without ``dimensions``); a PATCH replaces a nested object
    whole, so it must be complete.
    """
    declared = SessionSerializer._declared_fields
    fields = {name: copy.deepcopy(field) for name, field in declared.items() if name in keys}
    validators = {
        f"validate_{name}": getattr(SessionSerializer, f"validate_{name}")
        for name in fields
        if hasattr(SessionSerializer, f"validate_{name}")
    }
    return type("SessionPatchSerializer", (serializers.Serializer,), {**fields, **validators})


def _periods(rows: list[dict[str, Any]] | None) -> list[PeriodData]:
    return [
        PeriodData(
            start_date_time=row["start_date_time"],
            dimensions=tuple(DimensionData(d["type"], d["volume"]) for d in row["dimensions"]),
            tariff_ref=row.get("tariff_id") or "",
        )
        for row in rows or []
    ]


@codec("session")
class SessionCodec:
    def parse(self, data: Any, *, partial: bool = False) -> SessionData:
        if partial:
            require_last_updated(data)
            if not isinstance(data, dict):
                raise InvalidParameters("the request body must be a JSON object")
            known = frozenset(data) & frozenset(SessionSerializer._declared_fields)
            wire = validated(_patch_serializer(known), data)
            # A PATCH cannot clear anything (spec 2.8): an optional field sent as null is
            # left as it is.
            wire = {k: v for k, v in wire.items() if v is not None}
        else:
            wire = validated(SessionSerializer, data)
        out: SessionData = {}
        simple = {
            "start_date_time": "start_date_time",
            "end_date_time": "end_date_time",
            "kwh": "kwh",
            "auth_method": "auth_method",
            "authorization_reference": "authorization_reference",
            "location_id": "location_ref",
            "evse_uid": "evse_ref",
            "connector_id": "connector_ref",
            "meter_id": "meter_id",
            "currency": "currency",
            "status": "status",
            "last_updated": "last_updated",
        }
        for wire_name, name in simple.items():
            if wire_name in wire:
                out[name] = wire[wire_name]  # type: ignore[literal-required]
        if "cdr_token" in wire:
            token = wire["cdr_token"]
            out["token_country_code"] = token["country_code"]
            out["token_party_id"] = token["party_id"]
            out["token_uid"] = token["uid"]
            out["token_type"] = token["type"]
            out["token_contract_id"] = token["contract_id"]
        if "total_cost" in wire or not partial:
            total = wire.get("total_cost") or {}
            out["total_cost_excl_vat"] = total.get("excl_vat")
            out["total_cost_incl_vat"] = total.get("incl_vat")
        if "charging_periods" in wire or not partial:
            out["charging_periods"] = _periods(wire.get("charging_periods"))
        if not partial:  # optional fields left out of a PUT revert to their default (2.8)
            out.setdefault("end_date_time", None)
            out["authorization_reference"] = out.get("authorization_reference") or ""
            out["meter_id"] = out.get("meter_id") or ""
        return out

    def render(self, obj: ChargingSession) -> dict[str, Any]:
        periods = [
            compact(
                {
                    "start_date_time": period.start_date_time,
                    "dimensions": [
                        {"type": d.type, "volume": number(d.volume)}
                        for d in period.dimensions.all()
                    ],
                    "tariff_id": period.tariff_ref,
                }
            )
            for period in obj.charging_periods.all()
        ]
        return compact(
            {
                "country_code": obj.party.country_code,
                "party_id": obj.party.party_id,
                "id": obj.session_id,
                "start_date_time": obj.start_date_time,
                "end_date_time": obj.end_date_time,
                "kwh": number(obj.kwh),
                "cdr_token": {
                    "country_code": obj.token_country_code,
                    "party_id": obj.token_party_id,
                    "uid": obj.token_uid,
                    "type": obj.token_type,
                    "contract_id": obj.token_contract_id,
                },
                "auth_method": obj.auth_method,
                "authorization_reference": obj.authorization_reference,
                "location_id": obj.location_ref,
                "evse_uid": obj.evse_ref,
                "connector_id": obj.connector_ref,
                "meter_id": obj.meter_id,
                "currency": obj.currency,
                "charging_periods": periods,
                "total_cost": price(obj.total_cost_excl_vat, obj.total_cost_incl_vat),
                "status": obj.status,
                "last_updated": obj.last_updated,
            }
        )


@dataclass(frozen=True)
class ListedSession:
    """A session as a Sender list carries it: its owner and id with the data (the Receiver
    interface takes those from the URL instead)."""

    country_code: str
    party_id: str
    session_id: str
    data: SessionData


@codec("listed_session")
class ListedSessionCodec:
    """A complete Session with its identity (pull sync); renders like ``session``."""

    def parse(self, data: Any, *, partial: bool = False) -> ListedSession:
        session = SessionCodec().parse(data)  # validates the whole object, ids included
        return ListedSession(
            country_code=str(data["country_code"]).upper(),
            party_id=str(data["party_id"]).upper(),
            session_id=str(data["id"]),
            data=session,
        )

    def render(self, obj: ChargingSession) -> dict[str, Any]:
        return SessionCodec().render(obj)


class ChargingPreferencesSerializer(serializers.Serializer[Any]):
    profile_type = serializers.ChoiceField(ProfileType.values)
    departure_time = OcpiDateTimeField(required=False, allow_null=True)
    energy_need = NumberField(required=False, allow_null=True)
    discharge_allowed = serializers.BooleanField(required=False, allow_null=True)

    def validate_energy_need(self, value: Any) -> Any:
        if value is not None and value < 0:
            raise serializers.ValidationError("must not be negative")
        return value


@codec("charging_preferences")
class ChargingPreferencesCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ChargingPreferencesData:
        wire = validated(ChargingPreferencesSerializer, data)
        return ChargingPreferencesData(
            profile_type=wire["profile_type"],
            departure_time=wire.get("departure_time"),
            energy_need=wire.get("energy_need"),
            discharge_allowed=bool(wire.get("discharge_allowed")),
        )

    def render(self, obj: ChargingPreferencesData | SessionChargingPreferences) -> dict[str, Any]:
        return compact(
            {
                "profile_type": obj.profile_type,
                "departure_time": obj.departure_time,
                "energy_need": number(obj.energy_need),
                "discharge_allowed": obj.discharge_allowed,
            }
        )


@codec("charging_preferences_response")
class ChargingPreferencesResponseCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ChargingPreferencesResponse:
        try:
            return ChargingPreferencesResponse(data)
        except ValueError:
            raise InvalidParameters(
                f"data: {data!r} is not a ChargingPreferencesResponse "
                f"({', '.join(ChargingPreferencesResponse.values)})"
            ) from None

    def render(self, obj: ChargingPreferencesResponse) -> str:
        return str(obj.value)
