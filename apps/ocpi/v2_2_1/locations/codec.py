"""OCPI 2.2.1 locations: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

Three kinds: ``location``, ``evse`` and ``connector`` (spec §6.4, §6.5). ``parse`` validates the
wire object strictly (lengths, enums, cardinalities, JSON types) and returns canonical data keyed
by the field names of ``apps.locations.models`` (``id`` → ``location_id``, ``publish`` →
``visible_to_public``, ``coordinates`` → ``latitude``/``longitude`` ...), EVSEs under ``evses``
and connectors under ``connectors``. A location's owner comes back as ``country_code`` and
``party_id`` (the caller resolves the party; they are not model fields).

``parse(..., partial=True)`` reads a PATCH: ``last_updated`` is required (2001), only the fields
present are returned, a ``null`` is dropped (a PATCH cannot clear a field, §2.8) and a nested
value present in a PATCH must be complete (it replaces the stored value as a whole).

Structured sub-objects (hours, images, energy mix, display texts ...) are canonical as their
wire-shaped JSON without null members; DateTimes inside them are stored as OCPI text.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.locations.models import Connector, Evse, Location
from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.common.validation import require_last_updated, validated
from apps.ocpi.v2_2_1 import serializers as wire
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import NumberField, OcpiDateTimeField, ocpi_id
from apps.ocpi.v2_2_1.render import compact, number

# -- 2.2.1 enums (closed in this version: an unknown value is a 2001) --------------------------
CAPABILITIES = [
    "CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT", "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE",
]  # fmt: skip
CONNECTOR_FORMATS = ["SOCKET", "CABLE"]
CONNECTOR_TYPES = [
    "CHADEMO", "CHAOJI", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E",
    "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K",
    "DOMESTIC_L", "DOMESTIC_M", "DOMESTIC_N", "DOMESTIC_O", "GBT_AC", "GBT_DC",
    "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
    "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
    "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "NEMA_5_20", "NEMA_6_30",
    "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50", "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
]  # fmt: skip
ENERGY_SOURCE_CATEGORIES = [
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER",
]  # fmt: skip
ENVIRONMENTAL_IMPACT_CATEGORIES = ["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
FACILITIES = [
    "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE",
    "MUSEUM", "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION",
    "TRAIN_STATION", "AIRPORT", "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
]  # fmt: skip
PARKING_RESTRICTIONS = ["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"]
PARKING_TYPES = [
    "ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET",
    "UNDERGROUND_GARAGE",
]  # fmt: skip
POWER_TYPES = ["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
STATUSES = [
    "AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED",
    "RESERVED", "UNKNOWN",
]  # fmt: skip
TOKEN_TYPES = ["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]

LATITUDE = r"^-?[0-9]{1,2}\.[0-9]{5,7}$"
LONGITUDE = r"^-?[0-9]{1,3}\.[0-9]{5,7}$"
LOCAL_TIME = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
#: A signed int column holds at most this (voltages, amperages, watts).
INT_MAX = 2_147_483_647

_printable_ascii = RegexValidator(r"^[\x20-\x7e]*$", "must be printable ASCII (a CiString)")
_no_control = RegexValidator(
    r"[\x00-\x1f\x7f]", "must not contain control characters (CR, LF, TAB ...)", inverse_match=True
)


# -- strict scalar fields: JSON types are not coerced (a number is not a string) ---------------
class StringField(serializers.CharField):
    """OCPI ``string(n)``: printable UTF-8, kept exactly as sent (no trimming)."""

    default_error_messages = {"not_a_string": "must be a string"}

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(max_length=max_length, **kwargs)
        self.validators.append(_no_control)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class CiStringField(StringField):
    """OCPI ``CiString(n)``: printable ASCII; stored as sent, compared case-insensitively."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length, **kwargs)
        self.validators.append(_printable_ascii)


class RegexStringField(StringField):
    def __init__(self, regex: str, max_length: int, message: str, **kwargs: Any) -> None:
        super().__init__(max_length, **kwargs)
        self.validators.append(RegexValidator(regex, message))


class UrlField(serializers.URLField):
    default_error_messages = {"not_a_string": "must be a string"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class BoolField(serializers.BooleanField):
    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class IntField(serializers.IntegerField):
    """OCPI ``int``: a JSON integer (``220``, also ``220.0``), never a string."""

    default_error_messages = {"invalid": "must be a JSON integer"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | Decimal):
            self.fail("invalid")
        if isinstance(data, Decimal) and (not data.is_finite() or data != data.to_integral_value()):
            self.fail("invalid")
        return int(data)


def _list(child: serializers.Field, **kwargs: Any) -> serializers.ListField:
    """A ``*`` list of scalars: absent, ``null`` and ``[]`` all mean empty."""
    return serializers.ListField(child=child, required=False, allow_null=True, **kwargs)


def _optional(field_class: Callable[..., serializers.Field], *args: Any, **kwargs: Any) -> Any:
    return field_class(*args, required=False, allow_null=True, **kwargs)


def _later(begin: Any, end: Any, field: str) -> None:
    if begin is not None and end is not None and end <= begin:
        raise serializers.ValidationError({field: "must be later than period_begin"})


# -- nested types (§3.4, §6.5) ----------------------------------------------------------------
class DisplayTextSerializer(serializers.Serializer[Any]):
    language = StringField(2, min_length=2)
    text = StringField(512)


class GeoLocationSerializer(serializers.Serializer[Any]):
    # The spec says string(10)/string(11), but its own regexes allow one character more
    # (-51.0475990, -103.7299440): the regexes are the precise rule, so they set the length.
    latitude = RegexStringField(LATITUDE, 11, "must be a decimal string like 51.047599")
    longitude = RegexStringField(LONGITUDE, 12, "must be a decimal string like 3.729944")

    def validate_latitude(self, value: str) -> str:
        if abs(Decimal(value)) > 90:
            raise serializers.ValidationError("must be between -90 and 90")
        return value

    def validate_longitude(self, value: str) -> str:
        if abs(Decimal(value)) > 180:
            raise serializers.ValidationError("must be between -180 and 180")
        return value


class AdditionalGeoLocationSerializer(GeoLocationSerializer):
    name = DisplayTextSerializer(required=False, allow_null=True)


class RegularHoursSerializer(serializers.Serializer[Any]):
    weekday = IntField(min_value=1, max_value=7)
    period_begin = RegexStringField(LOCAL_TIME, 5, "must be a local time HH:MM")
    period_end = RegexStringField(LOCAL_TIME, 5, "must be a local time HH:MM")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _later(attrs.get("period_begin"), attrs.get("period_end"), "period_end")
        return attrs


class ExceptionalPeriodSerializer(serializers.Serializer[Any]):
    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _later(attrs.get("period_begin"), attrs.get("period_end"), "period_end")
        return attrs


class HoursSerializer(serializers.Serializer[Any]):
    twentyfourseven = BoolField()
    regular_hours = RegularHoursSerializer(many=True, required=False, allow_null=True)
    exceptional_openings = ExceptionalPeriodSerializer(many=True, required=False, allow_null=True)
    exceptional_closings = ExceptionalPeriodSerializer(many=True, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        regular = attrs.get("regular_hours") or []
        if attrs.get("twentyfourseven") and regular:
            raise serializers.ValidationError(
                {"regular_hours": "only allowed when twentyfourseven is false"}
            )
        if attrs.get("twentyfourseven") is False and not regular:
            raise serializers.ValidationError(
                {"regular_hours": "at least one entry is required when twentyfourseven is false"}
            )
        return attrs


class EnergySourceSerializer(serializers.Serializer[Any]):
    # A wire field named like DRF's Field.source (the metaclass takes it out of the class).
    source = serializers.ChoiceField(ENERGY_SOURCE_CATEGORIES)  # type: ignore[assignment]
    percentage = NumberField()

    def validate_percentage(self, value: Decimal) -> Decimal:
        if not 0 <= value <= 100:
            raise serializers.ValidationError("must be between 0 and 100")
        return value


class EnvironmentalImpactSerializer(serializers.Serializer[Any]):
    category = serializers.ChoiceField(ENVIRONMENTAL_IMPACT_CATEGORIES)
    amount = NumberField()

    def validate_amount(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError("must not be negative")
        return value


class EnergyMixSerializer(serializers.Serializer[Any]):
    is_green_energy = BoolField()
    energy_sources = EnergySourceSerializer(many=True, required=False, allow_null=True)
    environ_impact = EnvironmentalImpactSerializer(many=True, required=False, allow_null=True)
    supplier_name = _optional(StringField, 64, allow_blank=True)
    energy_product_name = _optional(StringField, 64, allow_blank=True)


class StatusScheduleSerializer(serializers.Serializer[Any]):
    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField(required=False, allow_null=True)
    status = serializers.ChoiceField(STATUSES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _later(attrs.get("period_begin"), attrs.get("period_end"), "period_end")
        return attrs


class PublishTokenTypeSerializer(serializers.Serializer[Any]):
    uid = _optional(CiStringField, 36)
    type = _optional(serializers.ChoiceField, TOKEN_TYPES)
    visual_number = _optional(StringField, 64)
    issuer = _optional(StringField, 64)
    group_id = _optional(CiStringField, 36)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs.get(f) for f in ("uid", "visual_number", "group_id")):
            raise serializers.ValidationError("one of uid, visual_number or group_id is required")
        if attrs.get("uid") and not attrs.get("type"):
            raise serializers.ValidationError({"type": "required when uid is set"})
        if attrs.get("visual_number") and not attrs.get("issuer"):
            raise serializers.ValidationError({"issuer": "required when visual_number is set"})
        return attrs


# -- Connector, EVSE, Location (§6.4) ---------------------------------------------------------
def _unique_ids(items: Iterable[Mapping[str, Any]], key: str) -> None:
    seen: set[str] = set()
    for item in items:
        value = str(item[key]).casefold()
        if value in seen:
            raise serializers.ValidationError(f"{key} {item[key]!r} appears more than once")
        seen.add(value)


class ConnectorSerializer(serializers.Serializer[Any]):
    id = ocpi_id(36)
    standard = serializers.ChoiceField(CONNECTOR_TYPES)
    format = serializers.ChoiceField(CONNECTOR_FORMATS)
    power_type = serializers.ChoiceField(POWER_TYPES)
    max_voltage = IntField(min_value=0, max_value=INT_MAX)
    max_amperage = IntField(min_value=0, max_value=INT_MAX)
    max_electric_power = _optional(IntField, min_value=0, max_value=INT_MAX)
    tariff_ids = _list(ocpi_id(36))
    terms_and_conditions = _optional(UrlField)
    last_updated = OcpiDateTimeField()


class EvseSerializer(serializers.Serializer[Any]):
    uid = ocpi_id(36)
    evse_id = _optional(CiStringField, 48, allow_blank=True)
    status = serializers.ChoiceField(STATUSES)
    status_schedule = StatusScheduleSerializer(many=True, required=False, allow_null=True)
    capabilities = _list(serializers.ChoiceField(CAPABILITIES))
    connectors = ConnectorSerializer(many=True, allow_empty=False)
    floor_level = _optional(StringField, 4, allow_blank=True)
    coordinates = GeoLocationSerializer(required=False, allow_null=True)
    physical_reference = _optional(StringField, 16, allow_blank=True)
    directions = DisplayTextSerializer(many=True, required=False, allow_null=True)
    parking_restrictions = _list(serializers.ChoiceField(PARKING_RESTRICTIONS))
    images = wire.ImageSerializer(many=True, required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate_connectors(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _unique_ids(value, "id")
        return value


class LocationSerializer(serializers.Serializer[Any]):
    country_code = RegexStringField(r"^[A-Za-z]{2}$", 2, "must be a 2-letter country code")
    party_id = RegexStringField(r"^[A-Za-z0-9]{3}$", 3, "must be a 3-character party id")
    id = ocpi_id(36)
    publish = BoolField()
    publish_allowed_to = PublishTokenTypeSerializer(many=True, required=False, allow_null=True)
    name = _optional(StringField, 255, allow_blank=True)
    address = StringField(255)
    city = StringField(45)
    postal_code = _optional(StringField, 10, allow_blank=True)
    state = _optional(StringField, 45, allow_blank=True)
    country = RegexStringField(r"^[A-Z]{3}$", 3, "must be an ISO 3166-1 alpha-3 code")
    coordinates = GeoLocationSerializer()
    related_locations = AdditionalGeoLocationSerializer(many=True, required=False, allow_null=True)
    parking_type = _optional(serializers.ChoiceField, PARKING_TYPES)
    evses = EvseSerializer(many=True, required=False, allow_null=True)
    directions = DisplayTextSerializer(many=True, required=False, allow_null=True)
    operator = wire.BusinessDetailsSerializer(required=False, allow_null=True)
    suboperator = wire.BusinessDetailsSerializer(required=False, allow_null=True)
    owner = wire.BusinessDetailsSerializer(required=False, allow_null=True)
    facilities = _list(serializers.ChoiceField(FACILITIES))
    time_zone = StringField(255)
    opening_times = HoursSerializer(required=False, allow_null=True)
    charging_when_closed = _optional(BoolField)
    images = wire.ImageSerializer(many=True, required=False, allow_null=True)
    energy_mix = EnergyMixSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate_time_zone(self, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(
                f"{value!r} is not an IANA time zone name (e.g. Europe/Brussels)"
            ) from None
        return value

    def validate_evses(self, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        _unique_ids(value or [], "uid")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("publish") is True and attrs.get("publish_allowed_to"):
            raise serializers.ValidationError(
                {"publish_allowed_to": "only allowed when publish is false"}
            )
        return attrs


@cache
def _patch_variant(serializer_class: type[serializers.Serializer[Any]]) -> type[Any]:
    """The serializer for a PATCH body: every top-level field optional, nested values complete.

    DRF's own ``partial=True`` also relaxes nested serializers, which would let a PATCH store
    half a GeoLocation or a Connector without ``standard``.
    """

    def get_fields(self: serializers.Serializer[Any]) -> dict[str, serializers.Field]:
        fields = serializer_class.get_fields(self)
        for field in fields.values():
            field.required = False
        return fields

    return type(
        f"Patch{serializer_class.__name__}", (serializer_class,), {"get_fields": get_fields}
    )


def _validated(
    serializer_class: type[serializers.Serializer[Any]], data: Any, *, partial: bool
) -> dict[str, Any]:
    if partial:
        require_last_updated(data)
        serializer_class = _patch_variant(serializer_class)
    result: dict[str, Any] = validated(serializer_class, data)
    return result


# -- wire → canonical -------------------------------------------------------------------------
def _json(value: Any) -> Any:
    """A validated nested value as canonical JSON: plain dicts/lists, no nulls, DateTimes as
    OCPI text, Decimals kept (the JSON field stores them as text, never as floats)."""
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return format_ocpi_datetime(value)
    return value


def _same(value: Any) -> Any:
    return value


def _json_list(value: Any) -> Any:
    return _json(value or [])


#: (wire name, canonical name, converter, default for a PUT that leaves the field out)
FieldMap = tuple[tuple[str, str, Callable[[Any], Any], Any], ...]

CONNECTOR_MAP: FieldMap = (
    ("id", "connector_id", _same, None),
    ("standard", "standard", _same, None),
    ("format", "format", _same, None),
    ("power_type", "power_type", _same, None),
    ("max_voltage", "max_voltage", _same, None),
    ("max_amperage", "max_amperage", _same, None),
    ("max_electric_power", "max_electric_power", _same, None),
    ("tariff_ids", "tariff_ids", _json_list, list),
    ("terms_and_conditions", "terms_and_conditions", _same, ""),
    ("last_updated", "last_updated", _same, None),
)
EVSE_MAP: FieldMap = (
    ("uid", "uid", _same, None),
    ("evse_id", "evse_id", _same, ""),
    ("status", "status", _same, None),
    ("status_schedule", "status_schedule", _json_list, list),
    ("capabilities", "capabilities", _json_list, list),
    ("floor_level", "floor_level", _same, ""),
    ("physical_reference", "physical_reference", _same, ""),
    ("directions", "directions", _json_list, list),
    ("parking_restrictions", "parking_restrictions", _json_list, list),
    ("images", "images", _json_list, list),
    ("last_updated", "last_updated", _same, None),
)
LOCATION_MAP: FieldMap = (
    ("country_code", "country_code", _same, None),
    ("party_id", "party_id", _same, None),
    ("id", "location_id", _same, None),
    ("publish", "visible_to_public", _same, None),
    ("publish_allowed_to", "visible_to_tokens", _json_list, list),
    ("name", "name", _same, ""),
    ("address", "address", _same, None),
    ("city", "city", _same, None),
    ("postal_code", "postal_code", _same, ""),
    ("state", "state", _same, ""),
    ("country", "country", _same, None),
    ("related_locations", "related_locations", _json_list, list),
    ("parking_type", "parking_type", _same, ""),
    ("directions", "directions", _json_list, list),
    ("operator", "operator_details", _json, None),
    ("suboperator", "suboperator_details", _json, None),
    ("owner", "owner_details", _json, None),
    ("facilities", "facilities", _json_list, list),
    ("time_zone", "time_zone", _same, None),
    ("opening_times", "opening_times", _json, None),
    ("charging_when_closed", "charging_when_closed", _same, None),
    ("images", "images", _json_list, list),
    ("energy_mix", "energy_mix", _json, None),
    ("last_updated", "last_updated", _same, None),
)


def _canonical(attrs: Mapping[str, Any], field_map: FieldMap, *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wire_name, name, convert, default in field_map:
        value = attrs.get(wire_name)
        if value is not None:
            out[name] = convert(value)
        elif not partial:  # a PUT: a field left out reverts to its default (§2.8)
            out[name] = default() if callable(default) else default
    return out


def _coordinates(attrs: Mapping[str, Any], out: dict[str, Any], *, partial: bool) -> None:
    coordinates = attrs.get("coordinates")
    if coordinates is not None:
        out["latitude"] = Decimal(coordinates["latitude"])
        out["longitude"] = Decimal(coordinates["longitude"])
    elif not partial:
        out["latitude"] = out["longitude"] = None


def connector_canonical(attrs: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    return _canonical(attrs, CONNECTOR_MAP, partial=partial)


def evse_canonical(attrs: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    out = _canonical(attrs, EVSE_MAP, partial=partial)
    _coordinates(attrs, out, partial=partial)
    if attrs.get("connectors") is not None:
        out["connectors"] = [connector_canonical(c) for c in attrs["connectors"]]
    return out


def location_canonical(attrs: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    out = _canonical(attrs, LOCATION_MAP, partial=partial)
    _coordinates(attrs, out, partial=partial)
    if attrs.get("evses") is not None:
        out["evses"] = [evse_canonical(e) for e in attrs["evses"]]
    elif not partial:
        out["evses"] = []
    return out


# -- canonical → wire -------------------------------------------------------------------------
def _wire_json(value: Any) -> Any:
    """Stored nested JSON → wire: null members and empty lists left out."""
    if isinstance(value, Mapping):
        return {k: _wire_json(v) for k, v in value.items() if v is not None and not _empty_list(v)}
    if isinstance(value, list):
        return [_wire_json(v) for v in value]
    return value


def _empty_list(value: Any) -> bool:
    return isinstance(value, list) and not value


def _energy_mix(mix: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Percentages and amounts are stored as text (exact); on the wire they are JSON numbers."""
    if not mix:
        return None
    rendered: dict[str, Any] = _wire_json(mix)
    for key, number_key in (("energy_sources", "percentage"), ("environ_impact", "amount")):
        for entry in rendered.get(key, []):
            if entry.get(number_key) is not None:
                entry[number_key] = number(entry[number_key])
    return rendered


def coordinate(value: Decimal | str | None) -> str | None:
    """A GeoLocation string: no trailing zeros beyond the spec's minimum of 5 decimals."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(5, '0')[:7]}"


def _geo(latitude: Any, longitude: Any) -> dict[str, str | None] | None:
    if latitude is None or longitude is None:
        return None
    return {"latitude": coordinate(latitude), "longitude": coordinate(longitude)}


def render_connector(connector: Connector) -> dict[str, Any]:
    return compact(
        {
            "id": connector.connector_id,
            "standard": connector.standard,
            "format": connector.format,
            "power_type": connector.power_type,
            "max_voltage": connector.max_voltage,
            "max_amperage": connector.max_amperage,
            "max_electric_power": connector.max_electric_power,
            "tariff_ids": list(connector.tariff_ids or []),
            "terms_and_conditions": connector.terms_and_conditions,
            "last_updated": connector.last_updated,
        }
    )


def render_evse(evse: Evse) -> dict[str, Any]:
    rendered = compact(
        {
            "uid": evse.uid,
            "evse_id": evse.evse_id,
            "status": evse.status,
            "status_schedule": _wire_json(evse.status_schedule or []),
            "capabilities": list(evse.capabilities or []),
            "floor_level": evse.floor_level,
            "coordinates": _geo(evse.latitude, evse.longitude),
            "physical_reference": evse.physical_reference,
            "directions": _wire_json(evse.directions or []),
            "parking_restrictions": list(evse.parking_restrictions or []),
            "images": _wire_json(evse.images or []),
            "last_updated": evse.last_updated,
        }
    )
    # ``+``: required even when (wrongly) empty; uses the prefetched rows when there are any.
    rendered["connectors"] = [render_connector(c) for c in evse.connectors.all()]
    return rendered


def render_location(location: Location) -> dict[str, Any]:
    return compact(
        {
            "country_code": location.party.country_code,
            "party_id": location.party.party_id,
            "id": location.location_id,
            "publish": location.visible_to_public,
            # Only meaningful (and only allowed) for an unpublished location.
            "publish_allowed_to": (
                [] if location.visible_to_public else _wire_json(location.visible_to_tokens or [])
            ),
            "name": location.name,
            "address": location.address,
            "city": location.city,
            "postal_code": location.postal_code,
            "state": location.state,
            "country": location.country,
            "coordinates": _geo(location.latitude, location.longitude),
            "related_locations": _wire_json(location.related_locations or []),
            "parking_type": location.parking_type,
            "evses": [render_evse(e) for e in location.evses.all()],
            "directions": _wire_json(location.directions or []),
            "operator": _wire_json(location.operator_details) or None,
            "suboperator": _wire_json(location.suboperator_details) or None,
            "owner": _wire_json(location.owner_details) or None,
            "facilities": list(location.facilities or []),
            "time_zone": location.time_zone,
            "opening_times": _wire_json(location.opening_times) or None,
            "charging_when_closed": location.charging_when_closed,
            "images": _wire_json(location.images or []),
            "energy_mix": _energy_mix(location.energy_mix),
            "last_updated": location.last_updated,
        }
    )


# -- codecs -----------------------------------------------------------------------------------
@codec("location")
class LocationCodec:
    def parse(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        return location_canonical(
            _validated(LocationSerializer, data, partial=partial), partial=partial
        )

    def render(self, obj: Location) -> dict[str, Any]:
        return render_location(obj)


@codec("evse")
class EvseCodec:
    def parse(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        return evse_canonical(_validated(EvseSerializer, data, partial=partial), partial=partial)

    def render(self, obj: Evse) -> dict[str, Any]:
        return render_evse(obj)


@codec("connector")
class ConnectorCodec:
    def parse(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        return connector_canonical(
            _validated(ConnectorSerializer, data, partial=partial), partial=partial
        )

    def render(self, obj: Connector) -> dict[str, Any]:
        return render_connector(obj)


@codec("evse_status")
class EvseStatusCodec:
    """The body of an EVSE status PATCH (spec 6.3): only ``status`` and ``last_updated``."""

    def parse(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        canonical = evse_canonical(_validated(EvseSerializer, data, partial=True), partial=True)
        return {k: v for k, v in canonical.items() if k in ("status", "last_updated")}

    def render(self, obj: Evse) -> dict[str, Any]:
        return {"status": obj.status, "last_updated": obj.last_updated}
