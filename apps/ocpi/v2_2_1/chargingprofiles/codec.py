"""OCPI 2.2.1 chargingprofiles: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``).

Spec 12.3/12.4. Limits and rates are ``Decimal`` with at most one decimal; enums are closed
(an unknown value is a 2001 naming the field). The query parameters of the Receiver's GET and
DELETE are parsed here too (kinds ``active_charging_profile_query`` and ``clear_profile_query``).
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Any

from rest_framework import serializers

from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.fields import PartnerUrlField
from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.common.validation import validated
from apps.ocpi.v2_2_1.codecs import codec
from apps.ocpi.v2_2_1.fields import NumberField, OcpiDateTimeField
from apps.smart_charging.enums import ChargingRateUnit, ProfileResponseType, ProfileResultType
from apps.smart_charging.profiles import (
    ActiveChargingProfile,
    ActiveProfileQuery,
    ChargingProfile,
    ChargingProfilePeriod,
    ClearProfileQuery,
    ProfileResponse,
    ProfileResult,
    SetChargingProfile,
)

ONE_DECIMAL = Decimal("0.1")


class IntegerField(serializers.Field):
    """An OCPI ``int``: a JSON integer (``12``, ``12.0``), never a string or a boolean."""

    default_error_messages = {"invalid": "must be a JSON integer", "min": "must be at least {min}"}

    def __init__(self, *, min_value: int = 0, **kwargs: Any) -> None:
        self.min_value = min_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | Decimal):
            self.fail("invalid")
        if isinstance(data, Decimal) and (not data.is_finite() or data != data.to_integral()):
            self.fail("invalid")
        value = int(data)
        if value < self.min_value:
            self.fail("min", min=self.min_value)
        return value

    def to_representation(self, value: int) -> int:
        return value


class RateField(NumberField):
    """A limit or rate: a non-negative number with at most one decimal (spec 12.3)."""

    def to_internal_value(self, data: Any) -> Decimal:
        number = super().to_internal_value(data)
        if number < 0:
            raise serializers.ValidationError("must not be negative")
        if number != number.quantize(ONE_DECIMAL):
            raise serializers.ValidationError("at most one decimal is allowed")
        return number


class ChargingProfilePeriodSerializer(serializers.Serializer[Any]):
    start_period = IntegerField()
    limit = RateField()


class ChargingProfileSerializer(serializers.Serializer[Any]):
    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    duration = IntegerField(required=False, allow_null=True)
    charging_rate_unit = serializers.ChoiceField(ChargingRateUnit.values)
    min_charging_rate = RateField(required=False, allow_null=True)
    charging_profile_period = ChargingProfilePeriodSerializer(
        many=True, required=False, allow_null=True
    )

    def validate_charging_profile_period(self, periods: Any) -> Any:
        starts = [p["start_period"] for p in periods or ()]
        if any(b <= a for a, b in pairwise(starts)):
            raise serializers.ValidationError("start_period values must increase")
        return periods


class SetChargingProfileSerializer(serializers.Serializer[Any]):
    charging_profile = ChargingProfileSerializer()
    response_url = PartnerUrlField()

    def validate_charging_profile(self, profile: Any) -> Any:
        # Cardinality * in the text, but a profile without a period limits nothing (spec 16.15).
        if not profile.get("charging_profile_period"):
            raise serializers.ValidationError(
                {"charging_profile_period": "at least one period is required"}
            )
        return profile


class ActiveChargingProfileSerializer(serializers.Serializer[Any]):
    start_date_time = OcpiDateTimeField()
    charging_profile = ChargingProfileSerializer()


class ChargingProfileResponseSerializer(serializers.Serializer[Any]):
    result = serializers.ChoiceField(ProfileResponseType.values)
    timeout = IntegerField()


class ActiveChargingProfileResultSerializer(serializers.Serializer[Any]):
    result = serializers.ChoiceField(ProfileResultType.values)
    profile = ActiveChargingProfileSerializer(required=False, allow_null=True)

    def validate(self, attrs: Any) -> Any:
        if attrs["result"] == ProfileResultType.ACCEPTED and not attrs.get("profile"):
            raise serializers.ValidationError({"profile": "required when the result is ACCEPTED"})
        return attrs


class ProfileResultSerializer(serializers.Serializer[Any]):
    result = serializers.ChoiceField(ProfileResultType.values)


class ActiveProfileQuerySerializer(serializers.Serializer[Any]):
    duration = serializers.IntegerField(min_value=1)
    response_url = PartnerUrlField()


class ClearProfileQuerySerializer(serializers.Serializer[Any]):
    response_url = PartnerUrlField()


# -- wire dict → canonical -------------------------------------------------------------------------
def _profile(data: dict[str, Any]) -> ChargingProfile:
    return ChargingProfile(
        charging_rate_unit=ChargingRateUnit(data["charging_rate_unit"]),
        periods=tuple(
            ChargingProfilePeriod(p["start_period"], p["limit"])
            for p in data.get("charging_profile_period") or ()
        ),
        start_date_time=data.get("start_date_time"),
        duration=data.get("duration"),
        min_charging_rate=data.get("min_charging_rate"),
    )


def _active(data: dict[str, Any]) -> ActiveChargingProfile:
    return ActiveChargingProfile(
        start_date_time=data["start_date_time"], charging_profile=_profile(data["charging_profile"])
    )


# -- canonical → wire dict -------------------------------------------------------------------------
def render_profile(profile: ChargingProfile) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if profile.start_date_time is not None:
        wire["start_date_time"] = format_ocpi_datetime(profile.start_date_time)
    if profile.duration is not None:
        wire["duration"] = profile.duration
    wire["charging_rate_unit"] = str(profile.charging_rate_unit)
    if profile.min_charging_rate is not None:
        wire["min_charging_rate"] = profile.min_charging_rate
    wire["charging_profile_period"] = [
        {"start_period": p.start_period, "limit": p.limit} for p in profile.periods
    ]
    return wire


def render_active(active: ActiveChargingProfile) -> dict[str, Any]:
    return {
        "start_date_time": format_ocpi_datetime(active.start_date_time),
        "charging_profile": render_profile(active.charging_profile),
    }


def _query(data: Any) -> Any:
    """Query parameters as a plain dict (the first value of each)."""
    if hasattr(data, "dict"):
        return data.dict()
    if not isinstance(data, dict):
        raise InvalidParameters("expected query parameters")
    return data


@codec("charging_profile")
class ChargingProfileCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ChargingProfile:
        return _profile(validated(ChargingProfileSerializer, data))

    def render(self, obj: ChargingProfile) -> dict[str, Any]:
        return render_profile(obj)


@codec("set_charging_profile")
class SetChargingProfileCodec:
    def parse(self, data: Any, *, partial: bool = False) -> SetChargingProfile:
        wire = validated(SetChargingProfileSerializer, data)
        return SetChargingProfile(
            charging_profile=_profile(wire["charging_profile"]), response_url=wire["response_url"]
        )

    def render(self, obj: SetChargingProfile) -> dict[str, Any]:
        return {
            "charging_profile": render_profile(obj.charging_profile),
            "response_url": obj.response_url,
        }


@codec("active_charging_profile")
class ActiveChargingProfileCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ActiveChargingProfile:
        return _active(validated(ActiveChargingProfileSerializer, data))

    def render(self, obj: ActiveChargingProfile) -> dict[str, Any]:
        return render_active(obj)


@codec("charging_profile_response")
class ChargingProfileResponseCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ProfileResponse:
        wire = validated(ChargingProfileResponseSerializer, data)
        return ProfileResponse(result=wire["result"], timeout=wire["timeout"])

    def render(self, obj: ProfileResponse) -> dict[str, Any]:
        return {"result": str(obj.result), "timeout": obj.timeout}


@codec("active_charging_profile_result")
class ActiveChargingProfileResultCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ProfileResult:
        wire = validated(ActiveChargingProfileResultSerializer, data)
        profile = wire.get("profile")
        return ProfileResult(
            result=wire["result"], active_profile=_active(profile) if profile else None
        )

    def render(self, obj: ProfileResult) -> dict[str, Any]:
        wire: dict[str, Any] = {"result": str(obj.result)}
        if obj.active_profile is not None:
            wire["profile"] = render_active(obj.active_profile)
        return wire


class _ResultCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ProfileResult:
        return ProfileResult(result=validated(ProfileResultSerializer, data)["result"])

    def render(self, obj: ProfileResult) -> dict[str, Any]:
        return {"result": str(obj.result)}


@codec("charging_profile_result")
class ChargingProfileResultCodec(_ResultCodec):
    pass


@codec("clear_profile_result")
class ClearProfileResultCodec(_ResultCodec):
    pass


@codec("active_charging_profile_query")
class ActiveProfileQueryCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ActiveProfileQuery:
        wire = validated(ActiveProfileQuerySerializer, _query(data))
        return ActiveProfileQuery(duration=wire["duration"], response_url=wire["response_url"])

    def render(self, obj: ActiveProfileQuery) -> dict[str, Any]:
        return {"duration": obj.duration, "response_url": obj.response_url}


@codec("clear_profile_query")
class ClearProfileQueryCodec:
    def parse(self, data: Any, *, partial: bool = False) -> ClearProfileQuery:
        return ClearProfileQuery(
            response_url=validated(ClearProfileQuerySerializer, _query(data))["response_url"]
        )

    def render(self, obj: ClearProfileQuery) -> dict[str, Any]:
        return {"response_url": obj.response_url}
