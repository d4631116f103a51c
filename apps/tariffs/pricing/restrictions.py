"""Whether an element's restrictions hold for a charging period, with the reasons in words.

Policy (docs/pricing-policy.md): everything is evaluated once, at the period's start —
times, dates and weekdays in the location's local time; ``min_kwh``/``max_kwh`` against the
energy delivered before the period; ``min_duration``/``max_duration`` against the time since the
session started; currents and powers against the period's MIN_/MAX_ dimensions. Minimums are
inclusive, maximums exclusive; all restrictions of an element must hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from apps.tariffs.pricing import text
from apps.tariffs.pricing.model import (
    WEEKDAYS,
    Dimension,
    ElementSpec,
    ReservationKind,
    Restrictions,
)

_MIDNIGHT = time(0, 0)

#: Records one restriction's outcome: (holds, reason).
_Note = Callable[[bool, str], None]


@dataclass(frozen=True, slots=True)
class PeriodContext:
    """What restrictions are evaluated against, at one period's start."""

    local: datetime
    energy_before: Decimal
    elapsed_seconds: Decimal
    dimensions: Mapping[str, Decimal]
    #: The period holds RESERVATION_TIME.
    reserving: bool
    #: The period holds charging or parking (ENERGY, TIME or PARKING_TIME), or no reservation.
    charging: bool
    reservation_expired: bool
    #: ``local`` in words, for explanations.
    when: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    holds: bool
    #: Why it holds (every restriction) or why not (only the failing ones).
    reasons: tuple[str, ...]

    def describe(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "no restrictions"


def evaluate(element: ElementSpec, ctx: PeriodContext) -> Verdict:
    """All restrictions of ``element`` at ``ctx`` (logical AND)."""
    r = element.restrictions
    if ctx.charging and r.is_empty:
        return _UNRESTRICTED
    held: list[str] = []
    failed: list[str] = []

    def note(ok: bool, reason: str) -> None:
        (held if ok else failed).append(reason)

    _phase(r, ctx, note)
    if r.start_time is not None or r.end_time is not None:
        now = ctx.local.time()
        ok = in_window(now, r.start_time, r.end_time)
        window = _window(r.start_time, r.end_time)
        note(ok, f"local time {text.clock(now)} is {'within' if ok else 'outside'} {window}")
    today = ctx.local.date()
    if r.start_date is not None:
        ok = today >= r.start_date
        note(ok, f"local date {today} is {'on or after' if ok else 'before'} {r.start_date}")
    if r.end_date is not None:
        ok = today < r.end_date
        note(
            ok,
            f"local date {today} is {'before' if ok else 'on or after'} the end date "
            f"{r.end_date} (exclusive)",
        )
    if r.day_of_week:
        day = WEEKDAYS[ctx.local.weekday()]
        ok = day in r.day_of_week
        days = ", ".join(d for d in WEEKDAYS if d in r.day_of_week)
        note(ok, f"{day} is {'one of' if ok else 'not one of'} {days}")
    _bounds(
        note,
        "energy before the period",
        ctx.energy_before,
        "kWh",
        r.min_kwh,
        r.max_kwh,
        "min_kwh",
        "max_kwh",
    )
    if r.min_duration is not None or r.max_duration is not None:
        elapsed = f"time since the session started {text.duration(ctx.elapsed_seconds)}"
        if r.min_duration is not None:
            ok = ctx.elapsed_seconds >= r.min_duration
            note(ok, f"{elapsed} is {'≥' if ok else '<'} min_duration {_secs(r.min_duration)}")
        if r.max_duration is not None:
            ok = ctx.elapsed_seconds < r.max_duration
            note(ok, f"{elapsed} is {'<' if ok else '≥'} max_duration {_secs(r.max_duration)}")
    _measured(note, ctx, "current", "A", r.min_current, r.max_current)
    _measured(note, ctx, "power", "kW", r.min_power, r.max_power)
    return Verdict(holds=not failed, reasons=tuple(failed if failed else held))


_UNRESTRICTED = Verdict(holds=True, reasons=())


def in_window(now: time, start: time | None, end: time | None) -> bool:
    """``start`` ≤ now < ``end``; an ``end`` before ``start`` wraps past midnight, an ``end`` of
    00:00 means the end of the day, and equal bounds mean the whole day."""
    until = None if end == _MIDNIGHT else end
    begin = start or _MIDNIGHT
    if until is None:
        return now >= begin
    if begin < until:
        return begin <= now < until
    if begin > until:
        return now >= begin or now < until
    return True


def _window(start: time | None, end: time | None) -> str:
    begin = text.clock(start) if start else "00:00"
    until = "24:00" if end is None or end == _MIDNIGHT else text.clock(end)
    wraps = start is not None and end is not None and end != _MIDNIGHT and end < start
    return f"{begin} to {until}" + (" (past midnight)" if wraps else "")


def _phase(r: Restrictions, ctx: PeriodContext, note: _Note) -> None:
    """Reservation elements price the reservation part of a session, the others the rest."""
    if r.reservation is None:
        if not ctx.charging:
            note(False, "not a reservation element, and the period is reservation time only")
        return
    if not ctx.reserving:
        note(False, f"reservation element ({r.reservation}), but the period has no reservation")
        return
    if r.reservation is ReservationKind.RESERVATION_EXPIRES and not ctx.reservation_expired:
        note(False, "RESERVATION_EXPIRES element, but the reservation did not expire")
        return
    state = "expired" if ctx.reservation_expired else "was used"
    note(
        True,
        f"reservation {r.reservation}: the period is reservation time, the reservation {state}",
    )


def _bounds(
    note: _Note,
    label: str,
    value: Decimal,
    unit: str,
    low: Decimal | None,
    high: Decimal | None,
    low_name: str,
    high_name: str,
) -> None:
    if low is not None:
        ok = value >= low
        note(
            ok,
            f"{label} {text.number(value)} {unit} is {'≥' if ok else '<'} {low_name} "
            f"{text.number(low)} {unit}",
        )
    if high is not None:
        ok = value < high
        note(
            ok,
            f"{label} {text.number(value)} {unit} is {'<' if ok else '≥'} {high_name} "
            f"{text.number(high)} {unit}",
        )


_MEASURED = {
    "current": (Dimension.MIN_CURRENT, Dimension.MAX_CURRENT),
    "power": (Dimension.MIN_POWER, Dimension.MAX_POWER),
}


def _measured(
    note: _Note,
    ctx: PeriodContext,
    quantity: str,
    unit: str,
    low: Decimal | None,
    high: Decimal | None,
) -> None:
    """min_<quantity> against the period's MIN_ dimension, max_<quantity> against its MAX_."""
    if low is None and high is None:
        return
    low_dimension, high_dimension = _MEASURED[quantity]
    for bound, dimension, is_min in ((low, low_dimension, True), (high, high_dimension, False)):
        if bound is None:
            continue
        name = f"{'min' if is_min else 'max'}_{quantity}"
        value = ctx.dimensions.get(dimension)
        if value is None:
            note(False, f"{name} {text.number(bound)} {unit}: the period reports no {dimension}")
            continue
        ok = value >= bound if is_min else value < bound
        relation = ("≥" if ok else "<") if is_min else ("<" if ok else "≥")
        note(
            ok,
            f"{dimension} {text.number(value)} {unit} is {relation} {name} "
            f"{text.number(bound)} {unit}",
        )


def _secs(value: Decimal) -> str:
    return f"{text.number(value)} s ({text.duration(value)})"
