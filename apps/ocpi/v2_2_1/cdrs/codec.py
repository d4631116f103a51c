"""OCPI 2.2.1 cdrs: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

``parse`` validates a CDR (spec 8.6/8.7: every field, lengths and enums, the embedded tariffs as
Tariffs) and returns ``CdrContent``. Deliberate leniency (spec 16, trap 6): CdrLocation
``address``/``state`` are accepted up to 255/45 characters like a Location's, not 45/20.
``render`` turns a stored ``Cdr`` into the wire object; its tariffs come from the CDR's sealed
snapshot (the version valid at the start), never from the tariff as it is now.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import serializers

from apps.cdrs.models import Cdr
from apps.cdrs.services import CdrContent, CdrPeriodContent
from apps.charging_sessions.enums import AuthMethod, DimensionType
from apps.locations.enums import ConnectorFormat, ConnectorStandard, PowerType
from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import (
    SIGNED_DIMENSIONS,
    NumberField,
    OcpiDateTimeField,
    ocpi_id,
    quantity_field,
)
from apps.ocpi.v2_2_1.render import compact, coordinate, number, price
from apps.ocpi.v2_2_1.tariffs.codec import (
    COUNTRY_CODE,
    CURRENCY,
    PARTY_ID,
    PriceSerializer,
    StrictBooleanField,
    TariffSerializer,
    canonical,
    cistring,
    render_tariff_content,
    string,
    tariff_content,
    version_content,
)
from apps.tokens.enums import TokenType

LATITUDE = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
LONGITUDE = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
#: The CDR's money totals (``Price``), stored as ``<name>_excl_vat``/``<name>_incl_vat``.
COST_TOTALS = (
    "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost",
    "total_parking_cost", "total_reservation_cost",
)  # fmt: skip


class CdrTokenSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(COUNTRY_CODE)
    party_id = serializers.RegexField(PARTY_ID)
    uid = ocpi_id(36)
    type = serializers.ChoiceField(TokenType.values)
    contract_id = cistring(36)


class GeoLocationSerializer(serializers.Serializer[Any]):
    latitude = serializers.RegexField(LATITUDE)
    longitude = serializers.RegexField(LONGITUDE)


class CdrLocationSerializer(serializers.Serializer[Any]):
    id = ocpi_id(36)
    name = string(255, required=False)
    address = string(255)  # the spec's CdrLocation says 45; Location's erratum says 255
    city = string(45)
    postal_code = string(10, required=False)
    state = string(45, required=False)  # likewise 20 → 45
    country = serializers.RegexField(r"^[A-Za-z]{3}$")
    coordinates = GeoLocationSerializer()
    evse_uid = ocpi_id(36)
    evse_id = cistring(48)
    connector_id = ocpi_id(36)
    connector_standard = serializers.ChoiceField(ConnectorStandard.values)
    connector_format = serializers.ChoiceField(ConnectorFormat.values)
    connector_power_type = serializers.ChoiceField(PowerType.values)


class CdrDimensionSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(DimensionType.values)
    volume = NumberField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["volume"] < 0 and attrs["type"] not in SIGNED_DIMENSIONS:
            raise serializers.ValidationError(
                {"volume": f"must not be negative for {attrs['type']}"}
            )
        return attrs


class ChargingPeriodSerializer(serializers.Serializer[Any]):
    start_date_time = OcpiDateTimeField()
    dimensions = CdrDimensionSerializer(many=True, allow_empty=False)
    tariff_id = ocpi_id(36, required=False)

    def validate_dimensions(self, dimensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for dimension in dimensions:
            if dimension["type"] in seen:
                raise serializers.ValidationError(f"{dimension['type']} is given twice")
            seen.add(dimension["type"])
        return dimensions


class SignedValueSerializer(serializers.Serializer[Any]):
    nature = cistring(32)
    plain_data = string(5000)  # erratum: was 512
    signed_data = string(5000)


class SignedDataSerializer(serializers.Serializer[Any]):
    encoding_method = cistring(36)
    encoding_method_version = serializers.IntegerField(required=False, allow_null=True)
    public_key = string(512, required=False)
    signed_values = SignedValueSerializer(many=True, allow_empty=False)
    url = string(512, required=False)


class CdrSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(COUNTRY_CODE)
    party_id = serializers.RegexField(PARTY_ID)
    id = ocpi_id(39)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField()
    session_id = ocpi_id(36, required=False)
    cdr_token = CdrTokenSerializer()
    auth_method = serializers.ChoiceField(AuthMethod.values)
    authorization_reference = cistring(36, required=False)
    cdr_location = CdrLocationSerializer()
    meter_id = string(255, required=False)
    currency = serializers.RegexField(CURRENCY)
    tariffs = TariffSerializer(many=True, required=False, allow_null=True)
    charging_periods = ChargingPeriodSerializer(many=True, allow_empty=False)
    signed_data = SignedDataSerializer(required=False, allow_null=True)
    total_cost = PriceSerializer()
    total_fixed_cost = PriceSerializer(required=False, allow_null=True)
    total_energy = quantity_field()
    total_energy_cost = PriceSerializer(required=False, allow_null=True)
    total_time = quantity_field()
    total_time_cost = PriceSerializer(required=False, allow_null=True)
    total_parking_time = quantity_field(required=False, allow_null=True)
    total_parking_cost = PriceSerializer(required=False, allow_null=True)
    total_reservation_cost = PriceSerializer(required=False, allow_null=True)
    remark = string(255, required=False)
    invoice_reference_id = cistring(39, required=False)
    credit = StrictBooleanField(required=False, allow_null=True)
    credit_reference_id = ocpi_id(39, required=False)
    home_charging_compensation = StrictBooleanField(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end_date_time"] < attrs["start_date_time"]:
            raise serializers.ValidationError({"end_date_time": "is before start_date_time"})
        if attrs.get("credit"):
            if not attrs.get("credit_reference_id"):
                raise serializers.ValidationError(
                    {"credit_reference_id": "is required for a credit CDR (credit: true)"}
                )
        elif len(attrs["id"]) > 36:
            raise serializers.ValidationError(
                {"id": "at most 36 characters unless the CDR is a credit CDR (39)"}
            )
        return attrs


def _json(data: Any) -> Any:
    """JSON-safe, as a JSONField gives it back (Decimals and datetimes as text)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _tariff_snapshot(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An embedded Tariff as the CDR seals it (the shape of ``tariff_version_snapshot``)."""
    content = tariff_content(fields)
    snapshot = {
        "party": f"{fields['country_code'].upper()}*{fields['party_id'].upper()}",
        "tariff_id": fields["id"],
        "version": None,
        **asdict(content),
    }
    return dict(_json(snapshot))


def _number(value: Decimal | str) -> Decimal:
    normalized = number(value)
    assert normalized is not None
    return normalized


def _text(value: str | None) -> str:
    return value or ""


@codec("cdr")
class CdrCodec:
    def parse(self, data: Any, *, partial: bool = False) -> CdrContent:
        fields = validated(CdrSerializer, data)
        token, place = fields["cdr_token"], fields["cdr_location"]
        totals: dict[str, Any] = {}
        for name in COST_TOTALS:
            amount = fields.get(name) or {}
            totals[f"{name}_excl_vat"] = number(amount.get("excl_vat"))
            totals[f"{name}_incl_vat"] = number(amount.get("incl_vat"))
        signed = fields.get("signed_data")
        return CdrContent(
            country_code=fields["country_code"].upper(),
            party_id=fields["party_id"].upper(),
            cdr_id=fields["id"],
            start_date_time=fields["start_date_time"],
            end_date_time=fields["end_date_time"],
            session_ref=_text(fields.get("session_id")),
            token_country_code=token["country_code"].upper(),
            token_party_id=token["party_id"].upper(),
            token_uid=token["uid"],
            token_type=token["type"],
            token_contract_id=token["contract_id"],
            auth_method=fields["auth_method"],
            authorization_reference=_text(fields.get("authorization_reference")),
            location_ref=place["id"],
            location_name=_text(place.get("name")),
            location_address=place["address"],
            location_city=place["city"],
            location_postal_code=_text(place.get("postal_code")),
            location_state=_text(place.get("state")),
            location_country=place["country"],
            location_latitude=_number(place["coordinates"]["latitude"]),
            location_longitude=_number(place["coordinates"]["longitude"]),
            evse_uid=place["evse_uid"],
            evse_id=place["evse_id"],
            connector_ref=place["connector_id"],
            connector_standard=place["connector_standard"],
            connector_format=place["connector_format"],
            connector_power_type=place["connector_power_type"],
            meter_id=_text(fields.get("meter_id")),
            currency=fields["currency"],
            tariffs=tuple(_tariff_snapshot(t) for t in fields.get("tariffs") or []),
            periods=tuple(
                CdrPeriodContent(
                    start_date_time=period["start_date_time"],
                    dimensions={d["type"]: _number(d["volume"]) for d in period["dimensions"]},
                    tariff_ref=_text(period.get("tariff_id")),
                )
                for period in fields["charging_periods"]
            ),
            signed_data=_json(canonical(signed)) if signed else None,
            total_energy=_number(fields["total_energy"]),
            total_time=_number(fields["total_time"]),
            total_parking_time=number(fields.get("total_parking_time")),
            remark=_text(fields.get("remark")),
            invoice_reference_id=_text(fields.get("invoice_reference_id")),
            credit=bool(fields.get("credit")),
            credit_reference_id=_text(fields.get("credit_reference_id")),
            home_charging_compensation=fields.get("home_charging_compensation"),
            last_updated=fields["last_updated"],
            **totals,
        )

    def render(self, obj: Cdr) -> dict[str, Any]:
        return compact(
            {
                "country_code": obj.party.country_code,
                "party_id": obj.party.party_id,
                "id": obj.cdr_id,
                "start_date_time": obj.start_date_time,
                "end_date_time": obj.end_date_time,
                "session_id": obj.session_ref,
                "cdr_token": {
                    "country_code": obj.token_country_code,
                    "party_id": obj.token_party_id,
                    "uid": obj.token_uid,
                    "type": obj.token_type,
                    "contract_id": obj.token_contract_id,
                },
                "auth_method": obj.auth_method,
                "authorization_reference": obj.authorization_reference,
                "cdr_location": compact(
                    {
                        "id": obj.location_ref,
                        "name": obj.location_name,
                        "address": obj.location_address,
                        "city": obj.location_city,
                        "postal_code": obj.location_postal_code,
                        "state": obj.location_state,
                        "country": obj.location_country,
                        "coordinates": {
                            "latitude": coordinate(obj.location_latitude),
                            "longitude": coordinate(obj.location_longitude),
                        },
                        "evse_uid": obj.evse_uid,
                        "evse_id": obj.evse_id,
                        "connector_id": obj.connector_ref,
                        "connector_standard": obj.connector_standard,
                        "connector_format": obj.connector_format,
                        "connector_power_type": obj.connector_power_type,
                    }
                ),
                "meter_id": obj.meter_id,
                "currency": obj.currency,
                "tariffs": _tariffs(obj),
                "charging_periods": [
                    compact(
                        {
                            "start_date_time": period.start_date_time,
                            "dimensions": [
                                {"type": d.type, "volume": number(d.volume)}
                                for d in sorted(period.dimensions.all(), key=lambda d: d.pk)
                            ],
                            "tariff_id": period.tariff_ref,
                        }
                    )
                    for period in obj.charging_periods.all()
                ],
                "signed_data": obj.signed_data,
                **{
                    name: price(getattr(obj, f"{name}_excl_vat"), getattr(obj, f"{name}_incl_vat"))
                    for name in COST_TOTALS
                },
                "total_energy": number(obj.total_energy),
                "total_time": number(obj.total_time),
                "total_parking_time": number(obj.total_parking_time),
                "remark": obj.remark,
                "invoice_reference_id": obj.invoice_reference_id,
                "credit": True if obj.credit else None,
                "credit_reference_id": obj.credit_reference_id,
                "home_charging_compensation": obj.home_charging_compensation,
                "last_updated": obj.last_updated,
            }
        )


def _tariffs(cdr: Cdr) -> list[dict[str, Any]]:
    """The CDR's tariffs as sealed in it; an older CDR without a snapshot falls back to the
    version in effect at its start."""
    rendered = []
    for entry in cdr.tariffs_snapshot or []:
        if not isinstance(entry, Mapping) or "currency" not in entry:
            continue
        country_code, _, party_id = str(entry.get("party") or cdr.party.code).partition("*")
        rendered.append(
            render_tariff_content(
                country_code=country_code,
                party_id=party_id,
                tariff_id=str(entry.get("tariff_id") or ""),
                content=entry,
            )
        )
    if not rendered and cdr.tariff_version_at_start is not None:
        version = cdr.tariff_version_at_start
        rendered.append(
            render_tariff_content(
                country_code=version.tariff.party.country_code,
                party_id=version.tariff.party.party_id,
                tariff_id=version.tariff.tariff_id,
                content=version_content(version),
            )
        )
    return rendered
