"""Charging profiles as plain values (no ORM), their JSON storage form, and the arithmetic of an
active profile over a time window.

A profile is a list of maximum limits (not targets) in W or A, each period starting
``start_period`` seconds after the profile's start and lasting until the next period starts, the
profile's ``duration`` ends, or (without a duration) the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.smart_charging.enums import ChargingRateUnit


@dataclass(frozen=True)
class ChargingProfilePeriod:
    start_period: int  # seconds from the profile's start
    limit: Decimal  # in the profile's rate unit


@dataclass(frozen=True)
class ChargingProfile:
    charging_rate_unit: ChargingRateUnit
    periods: tuple[ChargingProfilePeriod, ...] = ()
    #: Absolute start; ``None``: relative to the start of charging.
    start_date_time: datetime | None = None
    #: Seconds; ``None``: the last period lasts until the session ends.
    duration: int | None = None
    min_charging_rate: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        """The storage form (Decimals and datetimes as strings: no float ever)."""
        return {
            "charging_rate_unit": str(self.charging_rate_unit),
            "periods": [
                {"start_period": p.start_period, "limit": str(p.limit)} for p in self.periods
            ],
            "start_date_time": self.start_date_time.isoformat() if self.start_date_time else None,
            "duration": self.duration,
            "min_charging_rate": (
                None if self.min_charging_rate is None else str(self.min_charging_rate)
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChargingProfile:
        start = data.get("start_date_time")
        minimum = data.get("min_charging_rate")
        return cls(
            charging_rate_unit=ChargingRateUnit(data["charging_rate_unit"]),
            periods=tuple(
                ChargingProfilePeriod(int(p["start_period"]), Decimal(str(p["limit"])))
                for p in data.get("periods") or ()
            ),
            start_date_time=datetime.fromisoformat(start) if start else None,
            duration=data.get("duration"),
            min_charging_rate=None if minimum is None else Decimal(str(minimum)),
        )


@dataclass(frozen=True)
class ActiveChargingProfile:
    """The limits a charger actually applies, as it calculated them at ``start_date_time``
    (the profile's offsets count from then)."""

    start_date_time: datetime
    charging_profile: ChargingProfile

    def to_json(self) -> dict[str, Any]:
        return {
            "start_date_time": self.start_date_time.isoformat(),
            "charging_profile": self.charging_profile.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActiveChargingProfile:
        return cls(
            start_date_time=datetime.fromisoformat(data["start_date_time"]),
            charging_profile=ChargingProfile.from_json(data["charging_profile"]),
        )


@dataclass(frozen=True)
class ProfileResult:
    """An outcome: ``active_profile`` only for an accepted get-active request."""

    result: str  # ProfileResultType
    active_profile: ActiveChargingProfile | None = None


@dataclass(frozen=True)
class SetChargingProfile:
    charging_profile: ChargingProfile
    response_url: str


@dataclass(frozen=True)
class ProfileResponse:
    """The immediate answer to a request and how long to wait for its result (seconds)."""

    result: str  # ProfileResponseType
    timeout: int


@dataclass(frozen=True)
class ActiveProfileQuery:
    duration: int
    response_url: str


@dataclass(frozen=True)
class ClearProfileQuery:
    response_url: str


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime | None  # None: open-ended
    limit: Decimal


@dataclass(frozen=True)
class _Timeline:
    """Limits over time: ``capacity`` wherever the profile says nothing."""

    segments: list[_Segment] = field(default_factory=list)

    def limit_at(self, moment: datetime, capacity: Decimal) -> Decimal:
        for segment in self.segments:
            if segment.start <= moment and (segment.end is None or moment < segment.end):
                return segment.limit
        return capacity


def _timeline(profile: ChargingProfile, *, charging_started: datetime) -> _Timeline:
    base = profile.start_date_time or charging_started
    end = base + timedelta(seconds=profile.duration) if profile.duration is not None else None
    periods = sorted(profile.periods, key=lambda p: p.start_period)
    segments = []
    for index, period in enumerate(periods):
        start = base + timedelta(seconds=period.start_period)
        following = periods[index + 1] if index + 1 < len(periods) else None
        stop = base + timedelta(seconds=following.start_period) if following else end
        if end is not None and stop is not None:
            stop = min(stop, end)
        if end is not None and start >= end:
            break
        if stop is None or stop > start:
            segments.append(_Segment(start, stop, period.limit))
    return _Timeline(segments)


def active_profile_compute(
    *,
    profile: ChargingProfile | None,
    charging_started: datetime,
    now: datetime,
    duration: int,
    capacity: Decimal,
    unit: ChargingRateUnit,
) -> ActiveChargingProfile:
    """The active profile for the ``duration`` seconds from ``now``.

    ``profile``: the one in force (``None``: none, the EVSE's ``capacity`` applies, in ``unit``).
    Outside the profile's time span the capacity applies too (spec: with no profile active, the
    active profile shows the EVSE's maximum capacity). Periods are relative to ``now``, equal
    neighbours are merged, and the result covers exactly ``duration`` seconds.
    """
    if profile is not None:
        unit = profile.charging_rate_unit
        timeline = _timeline(profile, charging_started=charging_started)
    else:
        timeline = _Timeline()
    window_end = now + timedelta(seconds=duration)
    # The moments where the limit may change, inside the window.
    moments = {now}
    for segment in timeline.segments:
        for edge in (segment.start, segment.end):
            if edge is not None and now < edge < window_end:
                moments.add(edge)
    periods: list[ChargingProfilePeriod] = []
    for moment in sorted(moments):
        limit = timeline.limit_at(moment, capacity)
        if periods and periods[-1].limit == limit:
            continue
        offset = int((moment - now).total_seconds())
        if periods and periods[-1].start_period == offset:
            periods[-1] = ChargingProfilePeriod(offset, limit)  # sub-second edge: last one wins
            continue
        periods.append(ChargingProfilePeriod(offset, limit))
    return ActiveChargingProfile(
        start_date_time=now,
        charging_profile=ChargingProfile(
            charging_rate_unit=unit,
            periods=tuple(periods),
            start_date_time=now,
            duration=duration,
            min_charging_rate=profile.min_charging_rate if profile else None,
        ),
    )
