"""The tariff engine: prices a session's charging periods under one tariff.

The rules are our pricing policy, docs/pricing-policy.md (letters a to j refer to it). In short:
each period is priced as a whole at its start (d); per period and dimension the first element
whose restrictions all hold and that has a component of that dimension prices it (a, b, c);
FLAT is billed once per session (e); step_size rounds each dimension's session total once (f);
amounts stay at full precision (g); min_price/max_price clamp the total only (h); reservation
elements price the reservation (i); the tariff must be valid when the session starts (j).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apps.tariffs.pricing import text
from apps.tariffs.pricing.model import (
    NO_AMOUNT,
    ZERO,
    Amount,
    ComponentType,
    CostGroup,
    Dimension,
    ElementSpec,
    InvalidSessionInput,
    NoValidTariff,
    PeriodInput,
    PeriodReport,
    PriceComponentSpec,
    PricedLine,
    PricingResult,
    SessionInput,
    TariffSpec,
)
from apps.tariffs.pricing.restrictions import PeriodContext, Verdict, evaluate

_HUNDRED = Decimal(100)
_HOUR = Decimal(3600)
#: Step sizes count Wh for ENERGY and seconds for the time dimensions.
_STEP_UNITS = {
    Dimension.ENERGY: Decimal(1000),
    Dimension.TIME: _HOUR,
    Dimension.PARKING_TIME: _HOUR,
    Dimension.RESERVATION_TIME: _HOUR,
}
_STEP_UNIT_NAMES = {Dimension.ENERGY: "Wh"}
#: Totals are compared with step multiples at this resolution (Wh or s), so that a third of an
#: hour written as 0.3333… h counts as 1200 s and is not rounded up to the next step.
_STEP_RESOLUTION = Decimal("1e-9")
#: The measured dimensions the engine prices, in the order it explains them.
_PRICED = (Dimension.RESERVATION_TIME, Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)
_COMPONENT = {
    Dimension.RESERVATION_TIME: ComponentType.TIME,
    Dimension.ENERGY: ComponentType.ENERGY,
    Dimension.TIME: ComponentType.TIME,
    Dimension.PARKING_TIME: ComponentType.PARKING_TIME,
}
_GROUP = {
    Dimension.RESERVATION_TIME: CostGroup.RESERVATION,
    Dimension.ENERGY: CostGroup.ENERGY,
    Dimension.TIME: CostGroup.TIME,
    Dimension.PARKING_TIME: CostGroup.PARKING,
}
_CHARGING = (Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)
_COST_GROUPS = tuple(CostGroup)


def price_session(tariff: TariffSpec, session: SessionInput) -> PricingResult:
    """Price ``session`` under ``tariff``.

    Raises ``NoValidTariff`` when the session does not start within the tariff's validity
    window, ``InvalidSessionInput`` when the session is malformed.
    """
    zone = _zone(session.time_zone)
    _validate(session)
    _check_validity(tariff, session.start)
    return _Pricing(tariff, session, zone).run()


def select_tariff(
    tariffs: Sequence[TariffSpec], *, session_start: datetime, tariff_id: str | None = None
) -> TariffSpec:
    """The tariff to price a session with: among ``tariffs`` (those with ``tariff_id`` when
    given), the first one valid when the session starts (policy j). Raises ``NoValidTariff``."""
    candidates = [
        t for t in tariffs if tariff_id is None or t.tariff_id.lower() == tariff_id.lower()
    ]
    if not candidates:
        named = f" with id {tariff_id!r}" if tariff_id is not None else ""
        raise NoValidTariff(f"no tariff{named} was given")
    refusals = []
    for tariff in candidates:
        refusal = _validity_refusal(tariff, session_start)
        if refusal is None:
            return tariff
        refusals.append(refusal)
    raise NoValidTariff("; ".join(refusals))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSessionInput(f"{name!r} is not an IANA time zone name") from None


def _aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _validate(session: SessionInput) -> None:
    if not _aware(session.start) or not _aware(session.end):
        raise InvalidSessionInput("the session's start and end must be aware datetimes")
    if session.end < session.start:
        raise InvalidSessionInput("the session ends before it starts")
    if not session.periods:
        raise InvalidSessionInput("a session needs at least one charging period")
    previous = session.start
    for index, period in enumerate(session.periods):
        if not _aware(period.start):
            raise InvalidSessionInput(f"period {index}: its start must be an aware datetime")
        if period.start < previous:
            raise InvalidSessionInput(
                f"period {index}: starts before the "
                + ("session" if index == 0 else "previous period")
            )
        if period.start > session.end:
            raise InvalidSessionInput(f"period {index}: starts after the session ended")
        previous = period.start
        for name, value in period.dimensions.items():
            if not isinstance(value, Decimal) or not value.is_finite():
                raise InvalidSessionInput(f"period {index}: {name} must be a finite Decimal")
            if name in _STEP_UNITS and name != Dimension.ENERGY and value < 0:
                raise InvalidSessionInput(f"period {index}: {name} must not be negative")


def _validity_refusal(tariff: TariffSpec, start: datetime) -> str | None:
    """Why the tariff does not apply to a session starting at ``start`` (None: it applies)."""
    name = f"tariff {tariff.tariff_id}" if tariff.tariff_id else "the tariff"
    shown = _utc(start)
    if tariff.start_date_time is not None and start < tariff.start_date_time:
        return (
            f"{name} is valid from {_utc(tariff.start_date_time)}; "
            f"the session started earlier, at {shown}"
        )
    if tariff.end_date_time is not None and start >= tariff.end_date_time:
        return (
            f"{name} was valid until {_utc(tariff.end_date_time)} (exclusive); "
            f"the session started at {shown}"
        )
    return None


def _check_validity(tariff: TariffSpec, start: datetime) -> None:
    refusal = _validity_refusal(tariff, start)
    if refusal is not None:
        raise NoValidTariff(refusal)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(slots=True)
class _Draft:
    """A priced line before the session's step_size rounding settles its billed volume."""

    period_index: int
    dimension: Dimension
    cost_group: CostGroup
    element_index: int
    component_index: int
    component: PriceComponentSpec
    volume: Decimal
    reason: str
    #: The step_size surplus in step units (Wh or seconds), exact.
    surplus_units: Decimal = ZERO
    rounding: str = ""


class _Pricing:
    """One run of the engine over one session (holds the state the rules carry across periods)."""

    def __init__(self, tariff: TariffSpec, session: SessionInput, zone: ZoneInfo) -> None:
        self.tariff = tariff
        self.session = session
        self.zone = zone
        self.currency = tariff.currency
        self.drafts: list[_Draft] = []
        self.reports: list[PeriodReport] = []
        self.notes: list[str] = []
        self.has_flat = any(
            c.type is ComponentType.FLAT for e in tariff.elements for c in e.price_components
        )

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> PricingResult:
        session = self.session
        periods = session.periods
        reserved = any(p.volume(Dimension.RESERVATION_TIME) > 0 for p in periods)
        charged = any(p.volume(d) != 0 for p in periods for d in _CHARGING)
        expired = session.reservation_expired
        if expired is None:
            expired = reserved and not charged
        self._describe_session(reserved, expired)

        flat_billed = False
        energy_before = ZERO
        for index, period in enumerate(periods):
            ctx = self._context(period, energy_before, expired)
            verdicts: dict[int, Verdict] = {}
            explanations: list[str] = []
            if self.has_flat and not flat_billed:
                flat_billed = self._price_flat(index, ctx, verdicts, explanations)
            for dimension in _PRICED:
                if dimension in period.dimensions:
                    self._price_dimension(index, dimension, period, ctx, verdicts, explanations)
            self.reports.append(
                PeriodReport(
                    index=index,
                    start=period.start,
                    local_start=ctx.local,
                    energy_before=energy_before,
                    elapsed_seconds=ctx.elapsed_seconds,
                    explanations=tuple(explanations),
                )
            )
            energy_before += period.volume(Dimension.ENERGY)
        if self.has_flat and not flat_billed:
            self.notes.append("FLAT: no element with a FLAT component matched any period.")

        self._round_steps()
        lines = tuple(self._line(d) for d in self.drafts)
        return self._result(lines, periods)

    def _context(self, period: PeriodInput, energy_before: Decimal, expired: bool) -> PeriodContext:
        reserving = period.volume(Dimension.RESERVATION_TIME) > 0
        moment = period.start.astimezone(self.zone)
        return PeriodContext(
            local=moment,
            when=text.moment(moment),
            energy_before=energy_before,
            elapsed_seconds=_seconds(period.start - self.session.start),
            dimensions=period.dimensions,
            reserving=reserving,
            charging=not reserving or any(period.volume(d) != 0 for d in _CHARGING),
            reservation_expired=expired,
        )

    def _verdict(self, index: int, ctx: PeriodContext, cache: dict[int, Verdict]) -> Verdict:
        verdict = cache.get(index)
        if verdict is None:
            verdict = cache[index] = evaluate(self.tariff.elements[index], ctx)
        return verdict

    def _find(
        self,
        kind: ComponentType,
        ctx: PeriodContext,
        cache: dict[int, Verdict],
        *,
        reservation: bool | None,
    ) -> tuple[int, int, PriceComponentSpec, Verdict | None, str]:
        """The first element (of the given reservation kind; None: any) whose restrictions hold
        and that has a ``kind`` component, and why the earlier elements were skipped."""
        failed: list[str] = []
        lacking: list[int] = []
        other_kind: list[int] = []
        found_at: tuple[int, int, PriceComponentSpec, Verdict | None] = (
            -1,
            -1,
            _NO_COMPONENT,
            None,
        )
        for index, element in enumerate(self.tariff.elements):
            is_reservation = element.restrictions.reservation is not None
            if reservation is not None and is_reservation != reservation:
                other_kind.append(index)
                continue
            found = element.component(kind)
            if found is None:
                lacking.append(index)
                continue
            verdict = self._verdict(index, ctx, cache)
            if not verdict.holds:
                failed.append(f"element {index} ({verdict.describe()})")
                continue
            found_at = (index, found[0], found[1], verdict)
            break
        skipped = failed
        if lacking:
            skipped.append(f"{_elements(lacking, 'has', 'have')} no {kind} component")
        if other_kind:
            what = "reservation" if reservation is False else "not reservation"
            skipped.append(f"{_elements(other_kind, 'is a', 'are')} {what} element(s)")
        text_ = f". Skipped: {'; '.join(skipped)}" if skipped else ""
        return (*found_at, text_)

    def _price_flat(
        self, period_index: int, ctx: PeriodContext, cache: dict[int, Verdict], out: list[str]
    ) -> bool:
        element_index, component_index, component, verdict, skipped = self._find(
            ComponentType.FLAT, ctx, cache, reservation=None
        )
        if verdict is None:
            out.append(
                "FLAT: not billed in this period, no element with a FLAT component matches"
                + skipped
            )
            return False
        element = self.tariff.elements[element_index]
        group = CostGroup.RESERVATION if _is_reservation(element) else CostGroup.FIXED
        reason = (
            f"FLAT {text.price(component, self.currency)}: element {element_index}, component "
            f"{component_index}, the first element with a FLAT component whose restrictions "
            f"all hold at {ctx.when} ({verdict.describe()}); billed once per "
            f"session, here, as {'a reservation' if group is CostGroup.RESERVATION else 'a fixed'}"
            " cost" + skipped
        )
        out.append(reason)
        self.drafts.append(
            _Draft(
                period_index=period_index,
                dimension=Dimension.FLAT,
                cost_group=group,
                element_index=element_index,
                component_index=component_index,
                component=component,
                volume=Decimal(1),
                reason=reason,
            )
        )
        return True

    def _price_dimension(
        self,
        period_index: int,
        dimension: Dimension,
        period: PeriodInput,
        ctx: PeriodContext,
        cache: dict[int, Verdict],
        out: list[str],
    ) -> None:
        volume = period.dimensions[dimension]
        shown = f"{dimension} {text.volume(dimension, volume)}"
        if volume == 0:
            return
        if volume < 0:
            out.append(f"{shown}: net energy export, not billed by a charging tariff")
            return
        kind = _COMPONENT[dimension]
        reservation = dimension is Dimension.RESERVATION_TIME
        element_index, component_index, component, verdict, skipped = self._find(
            kind, ctx, cache, reservation=reservation
        )
        if verdict is None:
            which = "reservation element" if reservation else "element"
            out.append(
                f"{shown}: not priced, no {which} with {_a(kind)} component matches at "
                f"{ctx.when}" + skipped
            )
            return
        reason = (
            f"{shown} at {text.price(component, self.currency)}: element {element_index}, "
            f"component {component_index}, the first "
            f"{'reservation element' if reservation else 'element'} with {_a(kind)} component "
            f"whose restrictions all hold at {ctx.when} ({verdict.describe()})" + skipped
        )
        out.append(reason)
        self.drafts.append(
            _Draft(
                period_index=period_index,
                dimension=dimension,
                cost_group=_GROUP[dimension],
                element_index=element_index,
                component_index=component_index,
                component=component,
                volume=volume,
                reason=reason,
            )
        )

    # -- step_size (policy f) ------------------------------------------------------------------
    def _round_steps(self) -> None:
        parking_billed = any(d.dimension is Dimension.PARKING_TIME for d in self.drafts)
        for dimension, per_unit in _STEP_UNITS.items():
            billed = [d for d in self.drafts if d.dimension is dimension]
            if not billed:
                continue
            if dimension is Dimension.TIME and parking_billed:
                self.notes.append(
                    "TIME: not rounded to a step size, because PARKING_TIME was billed in this "
                    "session (the session's time is rounded on its parking only)."
                )
                continue
            last = billed[-1]
            step = last.component.step_size
            total = sum((d.volume for d in billed), ZERO)
            unit = _STEP_UNIT_NAMES.get(dimension, "s")
            total_text = text.volume(dimension, total)
            if step == 0:
                self.notes.append(
                    f"{dimension}: billed total {total_text}, not rounded (step size 0 on "
                    f"period {last.period_index})."
                )
                continue
            units = (total * per_unit).quantize(_STEP_RESOLUTION)
            steps = (units / step).to_integral_value(rounding=ROUND_CEILING)
            rounded_units = steps * step
            if rounded_units == units:
                self.notes.append(
                    f"{dimension}: billed total {total_text} is already a multiple of the step "
                    f"size {step} {unit} (period {last.period_index}'s component)."
                )
                continue
            surplus_units = rounded_units - units
            if surplus_units <= 0:  # pragma: no cover - only reachable through precision noise
                continue
            last.surplus_units = surplus_units
            rounded_text = text.volume(dimension, rounded_units / per_unit)
            surplus_text = text.volume(dimension, surplus_units / per_unit)
            last.rounding = (
                f"Rounded once for the session: {dimension} billed total {total_text} rounded "
                f"up to {rounded_text} with this component's step size of {step} {unit} (the "
                f"last period in which {dimension} was billed); the surplus of {surplus_text} "
                "is billed here, at this price."
            )
            self.notes.append(
                f"{dimension}: billed total {total_text} rounded up to {rounded_text} (step "
                f"{step} {unit}); the surplus of {surplus_text} is billed on period "
                f"{last.period_index}."
            )

    # -- assembling the result -----------------------------------------------------------------
    def _line(self, draft: _Draft) -> PricedLine:
        component = draft.component
        billed, excl = _billed(draft)
        incl = excl if component.vat is None else excl * (1 + component.vat / _HUNDRED)
        reason = draft.reason
        if draft.rounding:
            reason = f"{reason}. {draft.rounding}"
        return PricedLine(
            period_index=draft.period_index,
            dimension=draft.dimension,
            cost_group=draft.cost_group,
            element_index=draft.element_index,
            component_index=draft.component_index,
            volume=draft.volume,
            billed_volume=billed,
            unit_price=component.price,
            vat=component.vat,
            amount=Amount(excl, incl),
            reason=reason,
        )

    def _result(
        self, lines: tuple[PricedLine, ...], periods: Sequence[PeriodInput]
    ) -> PricingResult:
        groups = dict.fromkeys(_COST_GROUPS, NO_AMOUNT)
        for line in lines:
            groups[line.cost_group] = groups[line.cost_group] + line.amount
        uncapped = sum((line.amount for line in lines), NO_AMOUNT)
        total = Amount(
            self._clamp(uncapped.excl_vat, "excl.", self.tariff.min_price_excl_vat,
                        self.tariff.max_price_excl_vat),
            self._clamp(uncapped.incl_vat, "incl.", self.tariff.min_price_incl_vat,
                        self.tariff.max_price_incl_vat),
        )  # fmt: skip
        reservation_time = sum((p.volume(Dimension.RESERVATION_TIME) for p in periods), ZERO)
        return PricingResult(
            currency=self.currency,
            tariff_id=self.tariff.tariff_id,
            total_cost=total,
            total_fixed_cost=groups[CostGroup.FIXED],
            total_energy_cost=groups[CostGroup.ENERGY],
            total_time_cost=groups[CostGroup.TIME],
            total_parking_cost=groups[CostGroup.PARKING],
            total_reservation_cost=groups[CostGroup.RESERVATION],
            total_energy=sum((p.volume(Dimension.ENERGY) for p in periods), ZERO),
            total_time=self._session_time(),
            total_parking_time=sum((p.volume(Dimension.PARKING_TIME) for p in periods), ZERO),
            total_reservation_time=reservation_time,
            uncapped_cost=uncapped,
            lines=lines,
            periods=tuple(self.reports),
            notes=tuple(self.notes),
        )

    def _session_time(self) -> Decimal:
        """OCPI ``total_time``: the hours from the session's start to its end, charging and not
        charging alike. A reservation before charging is part of it (the CDR's start is then
        the reservation's start), so total_time is always end_date_time - start_date_time;
        ``total_reservation_time`` says how much of it was reserved."""
        return _seconds(self.session.end - self.session.start) / _HOUR

    def _clamp(
        self, value: Decimal, label: str, low: Decimal | None, high: Decimal | None
    ) -> Decimal:
        currency = self.currency
        if low is not None and value < low:
            self.notes.append(
                f"min_price {text.number(low)} {currency} {label} VAT lifts the total "
                f"{label} VAT from {text.number(value)} {currency}."
            )
            value = low
        if high is not None and value > high:
            self.notes.append(
                f"max_price {text.number(high)} {currency} {label} VAT caps the total "
                f"{label} VAT from {text.number(value)} {currency}."
            )
            value = high
        return value

    def _describe_session(self, reserved: bool, expired: bool) -> None:
        tariff = self.tariff
        name = f"Tariff {tariff.tariff_id}" if tariff.tariff_id else "The tariff"
        since = f" from {_utc(tariff.start_date_time)}" if tariff.start_date_time else ""
        until = f" until {_utc(tariff.end_date_time)}" if tariff.end_date_time else ""
        window = f"valid{since}{until}" if since or until else "valid at any time"
        count = len(tariff.elements)
        self.notes.append(
            f"{name} ({tariff.currency}, {count} element{'' if count == 1 else 's'}) is "
            f"{window}; the session started at {_utc(self.session.start)}. "
            f"Local time: {self.zone.key}."
        )
        if reserved:
            how = (
                "given"
                if self.session.reservation_expired is not None
                else "inferred: no period has ENERGY, TIME or PARKING_TIME"
                if expired
                else "inferred: the session has charging or parking periods"
            )
            state = "expired" if expired else "was used"
            self.notes.append(f"Reservation: the reservation {state} ({how}).")


_NO_COMPONENT = PriceComponentSpec(type=ComponentType.FLAT, price=ZERO, step_size=0)


def _billed(draft: _Draft) -> tuple[Decimal, Decimal]:
    """The billed volume and its amount excl. VAT.

    Time is billed from its seconds, multiplied by the hourly price before dividing by 3600:
    1,200 s at 2.40 per hour is 0.80 exactly, where a third of an hour (0.3333… h, rounded to
    28 digits) times 2.40 is 0.7999…9. Seconds count to the nanosecond (policy g), so hours
    written with 28 digits are read as the seconds they stand for. Energy and FLAT need no
    division: kWh times the price per kWh is exact.
    """
    price = draft.component.price
    per_unit = _STEP_UNITS.get(draft.dimension)
    if per_unit is None:  # FLAT: once
        return draft.volume, draft.volume * price
    if draft.dimension is Dimension.ENERGY:
        billed = draft.volume + draft.surplus_units / per_unit  # Wh to kWh: exact
        return billed, billed * price
    seconds = (draft.volume * per_unit).quantize(_STEP_RESOLUTION) + draft.surplus_units
    billed = seconds / per_unit if draft.surplus_units else draft.volume
    return billed, seconds * price / per_unit


def _seconds(span: timedelta) -> Decimal:
    """A timedelta in seconds, exactly (``total_seconds`` is a float)."""
    whole = span.days * 86_400 + span.seconds
    return (
        Decimal(whole) + Decimal(span.microseconds).scaleb(-6)
        if span.microseconds
        else Decimal(whole)
    )


def _is_reservation(element: ElementSpec) -> bool:
    return element.restrictions.reservation is not None


def _elements(indices: list[int], singular: str, plural: str) -> str:
    if len(indices) == 1:
        return f"element {indices[0]} {singular}"
    return f"elements {', '.join(map(str, indices))} {plural}"


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "AEIOU" else f"a {word}"
