"""OCPI 2.2.1 Tariff and CDR objects → what the tariff engine prices.

The wire shapes are checked with plain DRF serializers (only the fields pricing needs are
validated; the others are ignored), then turned into canonical data: a ``TariffContent`` per
tariff (``apps.tariffs.services``), parsed into the engine's ``TariffSpec``, and the CDR's
charging periods as ``PeriodInput``. Numbers stay ``Decimal`` (parse the JSON with
``apps.ocpi.common.jsonutil.loads``); DateTimes go through the one OCPI timestamp parser.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.core.errors import DomainError
from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.cdrs.codec import ChargingPeriodSerializer
from apps.ocpi.v2_2_1.fields import NumberField, OcpiDateTimeField
from apps.ocpi.v2_2_1.tariffs.codec import (
    PriceSerializer,
    TariffElementSerializer,
)
from apps.tariffs.pricing import (
    InvalidTariff,
    NoValidTariff,
    PeriodInput,
    SessionInput,
    TariffSpec,
    select_tariff,
    tariff_spec_from_content,
)
from apps.tariffs.services import TariffContent

CDR_DIMENSION_TYPES = [
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT",
    "MAX_POWER", "MIN_POWER", "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE",
    "TIME",
]  # fmt: skip
TARIFF_TYPES = ["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
_CDR_TOTALS = (
    "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost",
    "total_parking_cost", "total_reservation_cost",
)  # fmt: skip
_CDR_QUANTITIES = ("total_energy", "total_time", "total_parking_time")


class TariffSwitchUnsupported(DomainError):
    """The CDR's periods name more than one tariff (a mid-session switch)."""

    code = "TARIFF_SWITCH_UNSUPPORTED"


# -- Tariff -------------------------------------------------------------------------------------
class TariffSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    id = serializers.CharField(max_length=36)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    type = serializers.ChoiceField(TARIFF_TYPES, required=False, allow_null=True)
    tariff_alt_url = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    min_price = PriceSerializer(required=False, allow_null=True)
    max_price = PriceSerializer(required=False, allow_null=True)
    elements = TariffElementSerializer(many=True, allow_empty=False)
    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()


# -- CDR ----------------------------------------------------------------------------------------
class CdrLocationSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(max_length=36)


class CdrSerializer(serializers.Serializer[Any]):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$")
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$")
    id = serializers.CharField(max_length=39)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField()
    cdr_location = CdrLocationSerializer()
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    # Checked one by one by parse_tariff, so that an error names the tariff.
    tariffs = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)
    charging_periods = ChargingPeriodSerializer(many=True, allow_empty=False)
    total_cost = PriceSerializer()
    total_fixed_cost = PriceSerializer(required=False, allow_null=True)
    total_energy = NumberField()
    total_energy_cost = PriceSerializer(required=False, allow_null=True)
    total_time = NumberField()
    total_time_cost = PriceSerializer(required=False, allow_null=True)
    total_parking_time = NumberField(required=False, allow_null=True)
    total_parking_cost = PriceSerializer(required=False, allow_null=True)
    total_reservation_cost = PriceSerializer(required=False, allow_null=True)


# -- conversion ---------------------------------------------------------------------------------
_serializers = threading.local()


def _serializer(serializer_class: type[serializers.Serializer[Any]]) -> Any:
    """One instance per class and thread (DRF notes the data being validated on nested
    serializers, so an instance is not shared between threads)."""
    cached: dict[type[Any], Any] = _serializers.__dict__.setdefault("by_class", {})
    if serializer_class not in cached:
        cached[serializer_class] = serializer_class()
    return cached[serializer_class]


def _checked(serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
    """``validated``, faster: one serializer instance per class validates every document (DRF
    deep-copies a serializer's fields per instance, which costs more than pricing a CDR).
    ``run_validation`` keeps no state on the instance. Errors take the standard path, which
    names the offending fields."""
    if isinstance(data, dict):
        try:
            return _serializer(serializer_class).run_validation(data)
        except serializers.ValidationError:
            pass
    return validated(serializer_class, data)


def parse_tariff(data: Any) -> tuple[str, TariffContent]:
    """A 2.2.1 Tariff object as ``(tariff id, canonical content)``; raises InvalidParameters."""
    tariff = _checked(TariffSerializer, data)
    elements = []
    for element in tariff["elements"]:
        canonical: dict[str, Any] = {
            "price_components": [
                {key: value for key, value in component.items() if value is not None}
                for component in element["price_components"]
            ]
        }
        restrictions = {
            key: value
            for key, value in (element.get("restrictions") or {}).items()
            if value is not None and value != []
        }
        if restrictions:
            canonical["restrictions"] = restrictions
        elements.append(canonical)
    min_price = tariff.get("min_price") or {}
    max_price = tariff.get("max_price") or {}
    content = TariffContent(
        currency=tariff["currency"],
        type=tariff.get("type") or "",
        elements=elements,
        alt_url=tariff.get("tariff_alt_url") or "",
        min_price_excl_vat=min_price.get("excl_vat"),
        min_price_incl_vat=min_price.get("incl_vat"),
        max_price_excl_vat=max_price.get("excl_vat"),
        max_price_incl_vat=max_price.get("incl_vat"),
        start_date_time=tariff.get("start_date_time"),
        end_date_time=tariff.get("end_date_time"),
        last_updated=tariff["last_updated"],
    )
    return tariff["id"], content


def parse_tariff_spec(data: Any) -> TariffSpec:
    """A 2.2.1 Tariff object as the engine's ``TariffSpec``."""
    tariff_id, content = parse_tariff(data)
    try:
        return tariff_spec_from_content(content, tariff_id=tariff_id)
    except InvalidTariff as exc:
        raise InvalidParameters(exc.message) from None


@dataclass(frozen=True)
class CdrForPricing:
    """What pricing needs from a 2.2.1 CDR, in canonical form."""

    country_code: str
    party_id: str
    cdr_id: str
    location_id: str
    currency: str
    start: datetime
    end: datetime
    periods: tuple[PeriodInput, ...]
    period_tariff_ids: tuple[str | None, ...]
    tariffs: tuple[TariffSpec, ...]
    #: The CDR's own totals as it states them (costs as {"excl_vat", "incl_vat"}).
    reported: dict[str, Any] = field(default_factory=dict)

    def session(self, time_zone: str) -> SessionInput:
        return SessionInput(
            start=self.start, end=self.end, periods=self.periods, time_zone=time_zone
        )

    def named_tariff_id(self) -> str | None:
        """The tariff the periods name, if any; raises when they name several."""
        named = {t.lower(): t for t in self.period_tariff_ids if t}
        if len(named) > 1:
            raise TariffSwitchUnsupported(
                f"the charging periods name several tariffs ({', '.join(sorted(named.values()))})"
                "; pricing a mid-session tariff switch is not supported"
            )
        return next(iter(named.values()), None)

    def select_tariff(self, given: tuple[TariffSpec, ...] = ()) -> TariffSpec:
        """The tariff to price with: among ``given`` (else the CDR's own tariffs) the one the
        periods name — when it is among them — valid at the session start. Raises
        ``NoValidTariff``."""
        tariffs = given or self.tariffs
        if not tariffs:
            raise NoValidTariff("the CDR holds no tariff and none was given")
        named = self.named_tariff_id()
        if named is not None and not any(t.tariff_id.lower() == named.lower() for t in tariffs):
            if not given:
                raise NoValidTariff(f"the periods name tariff {named!r}, which the CDR lacks")
            named = None
        return select_tariff(tariffs, session_start=self.start, tariff_id=named)


def parse_cdr(data: Any) -> CdrForPricing:
    """A 2.2.1 CDR object (with its tariffs) for pricing; raises ``InvalidParameters``."""
    cdr = _checked(CdrSerializer, data)
    tariffs = []
    for index, tariff in enumerate(cdr.get("tariffs") or []):
        try:
            tariffs.append(parse_tariff_spec(tariff))
        except InvalidParameters as exc:
            raise InvalidParameters(f"tariffs[{index}]: {exc.message}") from None
    periods = []
    for period in cdr["charging_periods"]:
        dimensions: Mapping[str, Decimal] = {d["type"]: d["volume"] for d in period["dimensions"]}
        periods.append(PeriodInput(start=period["start_date_time"], dimensions=dimensions))
    reported: dict[str, Any] = {
        name: {"excl_vat": cdr[name]["excl_vat"], "incl_vat": cdr[name].get("incl_vat")}
        for name in _CDR_TOTALS
        if cdr.get(name)
    }
    reported.update({name: cdr[name] for name in _CDR_QUANTITIES if cdr.get(name) is not None})
    return CdrForPricing(
        country_code=cdr["country_code"].upper(),
        party_id=cdr["party_id"].upper(),
        cdr_id=cdr["id"],
        location_id=cdr["cdr_location"]["id"],
        currency=cdr["currency"],
        start=cdr["start_date_time"],
        end=cdr["end_date_time"],
        periods=tuple(periods),
        period_tariff_ids=tuple(p.get("tariff_id") or None for p in cdr["charging_periods"]),
        tariffs=tuple(tariffs),
        reported=reported,
    )
