"""Build a :class:`SessionInput` from a sketch: a start, a duration and period offsets.

For the admin's price preview, tests and the benchmark: each period lasts until the next one
starts (the last one until the end); its parking minutes are PARKING_TIME and the rest TIME.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from apps.tariffs.pricing.model import (
    ZERO,
    Dimension,
    InvalidSessionInput,
    PeriodInput,
    SessionInput,
)

_HOUR = Decimal(3600)


@dataclass(frozen=True, slots=True)
class PeriodSketch:
    """A period starting ``offset`` after charging began (powers in kW, currents in A)."""

    offset: timedelta
    energy_kwh: Decimal = ZERO
    parking: timedelta = timedelta(0)
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None


def hours(span: timedelta) -> Decimal:
    """A timedelta in hours, exactly where the decimal expansion ends (20 min is not)."""
    micros = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
    return Decimal(micros) / 1_000_000 / _HOUR


def sketch_session(
    *,
    start: datetime,
    duration: timedelta,
    periods: Sequence[PeriodSketch],
    time_zone: str,
    reservation: timedelta = timedelta(0),
    reservation_expired: bool = False,
) -> SessionInput:
    """A session whose charging starts at ``start`` and lasts ``duration``.

    A ``reservation`` adds a first period of RESERVATION_TIME before ``start`` (the session
    then starts when the reservation was made). An expired reservation has no charging part:
    ``duration`` and ``periods`` are ignored.
    """
    built: list[PeriodInput] = []
    begin = start - reservation
    if reservation:
        built.append(
            PeriodInput(
                start=begin, dimensions={Dimension.RESERVATION_TIME.value: hours(reservation)}
            )
        )
    if reservation_expired:
        if not reservation:
            raise InvalidSessionInput("an expired reservation needs a reservation time")
        return SessionInput(
            start=begin,
            end=start,
            periods=tuple(built),
            time_zone=time_zone,
            reservation_expired=True,
        )
    if not periods:
        raise InvalidSessionInput("a session needs at least one charging period")
    ordered = sorted(periods, key=lambda p: p.offset)
    if ordered[0].offset != timedelta(0):
        raise InvalidSessionInput("the first period must start at offset 0")
    for index, sketch in enumerate(ordered):
        until = ordered[index + 1].offset if index + 1 < len(ordered) else duration
        length = until - sketch.offset
        if length < timedelta(0):
            raise InvalidSessionInput(f"period {index} starts after the session ends")
        if sketch.parking > length:
            raise InvalidSessionInput(f"period {index}: more parking than the period lasts")
        dimensions: dict[str, Decimal] = {Dimension.ENERGY.value: sketch.energy_kwh}
        charging = length - sketch.parking
        if charging:
            dimensions[Dimension.TIME.value] = hours(charging)
        if sketch.parking:
            dimensions[Dimension.PARKING_TIME.value] = hours(sketch.parking)
        for dimension, value in (
            (Dimension.MIN_POWER, sketch.min_power),
            (Dimension.MAX_POWER, sketch.max_power),
            (Dimension.MIN_CURRENT, sketch.min_current),
            (Dimension.MAX_CURRENT, sketch.max_current),
        ):
            if value is not None:
                dimensions[dimension.value] = value
        built.append(PeriodInput(start=start + sketch.offset, dimensions=dimensions))
    return SessionInput(
        start=begin,
        end=start + duration,
        periods=tuple(built),
        time_zone=time_zone,
        reservation_expired=False if reservation else None,
    )
