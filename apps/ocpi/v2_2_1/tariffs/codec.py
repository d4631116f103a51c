"""OCPI 2.2.1 tariffs: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

``parse`` validates a Tariff (spec 9.4: every field, lengths and enums) and returns
``TariffData`` (owner codes, id, ``TariffContent``) with numbers as normalised Decimals, so
that the same tariff sent with ``2.0`` or ``2.00`` has the same content hash. ``render`` turns
a ``Tariff`` into the wire object from its newest version.

The shared 2.2.1 types used here (``Price``, ``DisplayText``, ``EnergyMix``) and the text
fields (``CiString``/``string`` of a given length) are also used by the CDR codec.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import NumberField, OcpiDateTimeField, ocpi_id
from apps.ocpi.v2_2_1.render import compact, moment, number, numbers, price
from apps.tariffs.enums import TariffType
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.services import TariffContent, TariffData

COUNTRY_CODE = r"^[A-Za-z]{2}$"
PARTY_ID = r"^[A-Za-z0-9]{3}$"
CURRENCY = r"^[A-Z]{3}$"
TIME_OF_DAY = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
DATE = r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
TARIFF_DIMENSION_TYPES = ["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
RESERVATION_TYPES = ["RESERVATION", "RESERVATION_EXPIRES"]
ENERGY_SOURCES = [
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER",
]  # fmt: skip
ENVIRONMENTAL_IMPACTS = ["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
_CI_STRING = re.compile(r"^[\x20-\x7e]*$")


# -- text fields --------------------------------------------------------------------------------
def _printable(value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise serializers.ValidationError("must not hold control characters")


def _ascii(value: str) -> None:
    if not _CI_STRING.fullmatch(value):
        raise serializers.ValidationError("must be printable ASCII (CiString)")


def cistring(max_length: int, *, required: bool = True) -> serializers.CharField:
    """A ``CiString(n)``: printable ASCII, at most n characters, kept as given."""
    return serializers.CharField(
        max_length=max_length,
        trim_whitespace=False,
        required=required,
        allow_null=not required,
        allow_blank=not required,
        validators=[_ascii],
    )


def string(max_length: int, *, required: bool = True) -> serializers.CharField:
    """A ``string(n)``: printable UTF-8, at most n characters, kept as given."""
    return serializers.CharField(
        max_length=max_length,
        trim_whitespace=False,
        required=required,
        allow_null=not required,
        allow_blank=not required,
        validators=[_printable],
    )


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean (``true``/``false``), not DRF's lenient "yes"/1/"on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


# -- shared 2.2.1 classes -----------------------------------------------------------------------
class PriceSerializer(serializers.Serializer[Any]):
    excl_vat = NumberField()
    incl_vat = NumberField(required=False, allow_null=True)


class DisplayTextSerializer(serializers.Serializer[Any]):
    language = serializers.RegexField(r"^[A-Za-z]{2}$")
    text = string(512)


class EnergySourceSerializer(serializers.Serializer[Any]):
    # A field named like Field.source: DRF's metaclass takes it out of the class attributes.
    source = serializers.ChoiceField(ENERGY_SOURCES)  # type: ignore[assignment]
    percentage = NumberField()

    def validate_percentage(self, value: Any) -> Any:
        if not 0 <= value <= 100:
            raise serializers.ValidationError("must be between 0 and 100")
        return value


class EnvironmentalImpactSerializer(serializers.Serializer[Any]):
    category = serializers.ChoiceField(ENVIRONMENTAL_IMPACTS)
    amount = NumberField()


class EnergyMixSerializer(serializers.Serializer[Any]):
    is_green_energy = StrictBooleanField()
    energy_sources = EnergySourceSerializer(many=True, required=False, allow_null=True)
    environ_impact = EnvironmentalImpactSerializer(many=True, required=False, allow_null=True)
    supplier_name = string(64, required=False)
    energy_product_name = string(64, required=False)


# -- Tariff -------------------------------------------------------------------------------------
class PriceComponentSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(TARIFF_DIMENSION_TYPES)
    price = NumberField()
    vat = NumberField(required=False, allow_null=True)
    step_size = serializers.IntegerField(min_value=0)


class TariffRestrictionsSerializer(serializers.Serializer[Any]):
    start_time = serializers.RegexField(TIME_OF_DAY, required=False, allow_null=True)
    end_time = serializers.RegexField(TIME_OF_DAY, required=False, allow_null=True)
    start_date = serializers.RegexField(DATE, required=False, allow_null=True)
    end_date = serializers.RegexField(DATE, required=False, allow_null=True)
    min_kwh = NumberField(required=False, allow_null=True)
    max_kwh = NumberField(required=False, allow_null=True)
    min_current = NumberField(required=False, allow_null=True)
    max_current = NumberField(required=False, allow_null=True)
    min_power = NumberField(required=False, allow_null=True)
    max_power = NumberField(required=False, allow_null=True)
    min_duration = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    max_duration = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    day_of_week = serializers.ListField(
        child=serializers.ChoiceField(WEEKDAYS), required=False, allow_null=True
    )
    reservation = serializers.ChoiceField(RESERVATION_TYPES, required=False, allow_null=True)


class TariffElementSerializer(serializers.Serializer[Any]):
    price_components = PriceComponentSerializer(many=True, allow_empty=False)
    restrictions = TariffRestrictionsSerializer(required=False, allow_null=True)


class TariffSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(COUNTRY_CODE)
    party_id = serializers.RegexField(PARTY_ID)
    id = ocpi_id(36)
    currency = serializers.RegexField(CURRENCY)
    type = serializers.ChoiceField(TariffType.values, required=False, allow_null=True)
    tariff_alt_text = DisplayTextSerializer(many=True, required=False, allow_null=True)
    tariff_alt_url = serializers.URLField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    min_price = PriceSerializer(required=False, allow_null=True)
    max_price = PriceSerializer(required=False, allow_null=True)
    elements = TariffElementSerializer(many=True, allow_empty=False)
    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    energy_mix = EnergyMixSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date_time"), attrs.get("end_date_time")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_date_time": "must be after start_date_time"})
        return attrs


# -- canonical form -----------------------------------------------------------------------------
def canonical(data: Any) -> Any:
    """Validated wire data → canonical JSON-ready data: numbers normalised (``2.00`` → ``2``),
    absent optional values (``None``, ``[]``, ``{}``) left out."""
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            value = canonical(value)
            if value is None or value == [] or value == {}:
                continue
            out[key] = value
        return out
    if isinstance(data, list):
        return [canonical(v) for v in data]
    if isinstance(data, bool | int | str):
        return data
    if hasattr(data, "normalize"):  # Decimal
        return number(data)
    return data


def tariff_content(fields: Mapping[str, Any]) -> TariffContent:
    """A validated Tariff (``TariffSerializer.validated_data``) as canonical content."""
    min_price = fields.get("min_price") or {}
    max_price = fields.get("max_price") or {}
    return TariffContent(
        currency=fields["currency"],
        type=fields.get("type") or "",
        elements=canonical(fields["elements"]),
        alt_text=canonical(fields.get("tariff_alt_text") or []),
        alt_url=fields.get("tariff_alt_url") or "",
        min_price_excl_vat=number(min_price.get("excl_vat")),
        min_price_incl_vat=number(min_price.get("incl_vat")),
        max_price_excl_vat=number(max_price.get("excl_vat")),
        max_price_incl_vat=number(max_price.get("incl_vat")),
        start_date_time=fields.get("start_date_time"),
        end_date_time=fields.get("end_date_time"),
        energy_mix=canonical(fields["energy_mix"]) if fields.get("energy_mix") else None,
        last_updated=fields["last_updated"],
    )


#: The version fields a tariff renders from (canonical names, as ``TariffContent``).
CONTENT_FIELDS = (
    "currency", "type", "alt_text", "alt_url", "min_price_excl_vat", "min_price_incl_vat",
    "max_price_excl_vat", "max_price_incl_vat", "elements", "start_date_time", "end_date_time",
    "energy_mix", "last_updated",
)  # fmt: skip


def render_tariff_content(
    *, country_code: str, party_id: str, tariff_id: str, content: Mapping[str, Any]
) -> dict[str, Any]:
    """A Tariff on the wire from canonical content: a version's fields, or a CDR's sealed
    snapshot of one (JSON: numbers and times as text)."""
    energy_mix = content.get("energy_mix")
    return compact(
        {
            "country_code": country_code,
            "party_id": party_id,
            "id": tariff_id,
            "currency": content["currency"],
            "type": content.get("type"),
            "tariff_alt_text": list(content.get("alt_text") or []),
            "tariff_alt_url": content.get("alt_url"),
            "min_price": price(
                content.get("min_price_excl_vat"), content.get("min_price_incl_vat")
            ),
            "max_price": price(
                content.get("max_price_excl_vat"), content.get("max_price_incl_vat")
            ),
            "elements": numbers(content.get("elements") or []),
            "start_date_time": moment(content.get("start_date_time")),
            "end_date_time": moment(content.get("end_date_time")),
            "energy_mix": numbers(energy_mix) if energy_mix else None,
            "last_updated": moment(content.get("last_updated")),
        }
    )


def _bound(content: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    return price(content.get(f"{name}_excl_vat"), content.get(f"{name}_incl_vat"))


def version_content(version: TariffVersion) -> dict[str, Any]:
    return {name: getattr(version, name) for name in CONTENT_FIELDS}


@codec("tariff")
class TariffCodec:
    def parse(self, data: Any, *, partial: bool = False) -> TariffData:
        fields = validated(TariffSerializer, data)
        return TariffData(
            country_code=fields["country_code"].upper(),
            party_id=fields["party_id"].upper(),
            tariff_id=fields["id"],
            content=tariff_content(fields),
        )

    def render(self, obj: Tariff | TariffVersion) -> dict[str, Any]:
        """A tariff as its newest version (or the given version) says."""
        if isinstance(obj, TariffVersion):
            tariff, version = obj.tariff, obj
        else:
            tariff, latest = obj, obj.latest_version()
            if latest is None:
                raise ValueError(f"tariff {obj.tariff_id} has no version to render")
            version = latest
        content = version_content(version)
        if isinstance(obj, Tariff):
            # Re-sending unchanged content moves the tariff's last_updated, not the version's.
            content["last_updated"] = max(version.last_updated, tariff.last_updated)
        return render_tariff_content(
            country_code=tariff.party.country_code,
            party_id=tariff.party.party_id,
            tariff_id=tariff.tariff_id,
            content=content,
        )
