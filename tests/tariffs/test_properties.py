"""Properties of the tariff engine over generated tariffs and sessions (hypothesis).

* More energy or time never lowers the price — in the two forms in which our policy makes that
  true. Policy f bills the step_size surplus at the price of the *last* billed period, so in
  general more volume in an earlier, cheaper period can lower the price: 4 min at 1.00/h then
  10 min at 2.00/h (step 900 s) bills 4 + 11 min; with 5 min first it bills 5 + 10 min, which is
  cheaper. And with ``min_kwh``/``max_kwh`` restrictions more energy early can move a later
  period to a cheaper element. So we check: (1) growing a volume of the session's last period,
  under any tariff; (2) growing any period's volume when no component rounds (step size 0) and
  no restriction looks at energy.
* Incl. VAT is never below excl. VAT when every VAT rate is ≥ 0 (and the incl. VAT price bounds
  are not below the excl. ones).
* Splitting a period in two, where no element's restrictions change their verdict at the split,
  leaves the price unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from apps.tariffs.pricing import (
    Dimension,
    PeriodInput,
    SessionInput,
    TariffSpec,
    price_session,
    tariff_spec,
)
from apps.tariffs.pricing.restrictions import PeriodContext, evaluate

# No example database: it would be a .hypothesis/ folder in the work tree, and CI starts fresh.
SETTINGS = settings(max_examples=200, deadline=None, database=None)
ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"]
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
CLOCKS = ["00:00", "06:00", "09:30", "12:00", "17:00", "20:00", "22:00"]
TOLERANCE = Decimal("1e-20")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def decimals(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    """Exact decimals with ``places`` decimals in [low, high] (faster than st.decimals)."""
    scale = 10**places
    return st.integers(min_value=low * scale, max_value=high * scale).map(
        lambda n: Decimal(n).scaleb(-places)
    )


prices = decimals(0, 10, 2)
vats = st.none() | decimals(0, 25, 1)
time_steps = st.sampled_from([0, 1, 60, 300, 900, 1800])
energy_steps = st.sampled_from([0, 1, 100, 500, 1000])


@st.composite
def components(draw: st.DrawFn, *, rounding: bool) -> list[dict[str, Any]]:
    kinds = draw(
        st.lists(
            st.sampled_from(["ENERGY", "FLAT", "TIME", "PARKING_TIME"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    result = []
    for kind in kinds:
        step = 0
        if rounding and kind != "FLAT":
            step = draw(energy_steps if kind == "ENERGY" else time_steps)
        component: dict[str, Any] = {"type": kind, "price": draw(prices), "step_size": step}
        vat = draw(vats)
        if vat is not None:
            component["vat"] = vat
        result.append(component)
    return result


def restrictions(*, energy: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "start_time": st.sampled_from(CLOCKS),
        "end_time": st.sampled_from(CLOCKS),
        "day_of_week": st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=4, unique=True),
        "start_date": st.sampled_from(["2024-01-01", "2024-06-15", "2025-03-01"]),
        "min_power": st.sampled_from([Decimal(11), Decimal(22), Decimal(50)]),
        "max_power": st.sampled_from([Decimal(11), Decimal(22), Decimal(50)]),
        "min_current": st.sampled_from([Decimal(16), Decimal(32)]),
        "max_current": st.sampled_from([Decimal(16), Decimal(32)]),
        "min_duration": st.sampled_from([0, 900, 1800, 3600]),
        "max_duration": st.sampled_from([900, 1800, 3600, 7200]),
    }
    if energy:
        optional["min_kwh"] = st.sampled_from([Decimal(5), Decimal(10), Decimal(20)])
        optional["max_kwh"] = st.sampled_from([Decimal(5), Decimal(10), Decimal(20)])
    return st.fixed_dictionaries({}, optional=optional)


@st.composite
def bounds(draw: st.DrawFn) -> dict[str, Any]:
    """Price bounds whose incl. VAT values are never below their excl. VAT values."""
    found: dict[str, Any] = {}
    for name in ("min", "max"):
        if draw(st.booleans()):
            excl = draw(decimals(0, 40, 2))
            found[f"{name}_price_excl_vat"] = excl
            found[f"{name}_price_incl_vat"] = excl + draw(decimals(0, 10, 2))
    return found


@st.composite
def tariffs(draw: st.DrawFn, *, rounding: bool = True, energy: bool = True) -> TariffSpec:
    elements = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        element: dict[str, Any] = {"price_components": draw(components(rounding=rounding))}
        restricted = draw(restrictions(energy=energy))
        if restricted:
            element["restrictions"] = restricted
        elements.append(element)
    return tariff_spec(currency="EUR", elements=elements, **draw(bounds()))


@st.composite
def sessions(draw: st.DrawFn) -> SessionInput:
    """1 to 5 periods, each charging (ENERGY, TIME, power, current) or parking; lengths in
    hundredths of an hour, so every volume is an exact decimal."""
    start = _EPOCH + timedelta(minutes=draw(st.integers(min_value=0, max_value=2 * 365 * 1440)))
    periods = []
    at = start
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        hundredths = draw(st.integers(min_value=2, max_value=300))
        hours = Decimal(hundredths) / 100
        if draw(st.booleans()):
            low = draw(st.sampled_from([Decimal(3), Decimal(11), Decimal(22), Decimal(60)]))
            dims = {
                "ENERGY": draw(decimals(0, 60, 3)),
                "TIME": hours,
                "MIN_POWER": low,
                "MAX_POWER": low + draw(st.sampled_from([Decimal(0), Decimal(5), Decimal(40)])),
                "MIN_CURRENT": draw(st.sampled_from([Decimal(6), Decimal(16), Decimal(32)])),
                "MAX_CURRENT": draw(st.sampled_from([Decimal(16), Decimal(32), Decimal(63)])),
            }
        else:
            dims = {"PARKING_TIME": hours}
        periods.append(PeriodInput(start=at, dimensions=dims))
        at += timedelta(seconds=36 * hundredths)
    return SessionInput(
        start=start, end=at, periods=tuple(periods), time_zone=draw(st.sampled_from(ZONES))
    )


def grown(session: SessionInput, index: int, dimension: str, delta: Decimal) -> SessionInput:
    periods = list(session.periods)
    dims = dict(periods[index].dimensions)
    dims[dimension] += delta
    periods[index] = PeriodInput(start=periods[index].start, dimensions=dims)
    return replace(session, periods=tuple(periods))


def growable(session: SessionInput, index: int) -> list[str]:
    dims = session.periods[index].dimensions
    return [d for d in ("ENERGY", "TIME", "PARKING_TIME") if dims.get(d, Decimal(0)) > 0]


@SETTINGS
@given(tariffs(), sessions(), st.data())
def test_growing_the_last_period_never_lowers_the_price(
    tariff: TariffSpec, session: SessionInput, data: st.DataObject
) -> None:
    last = len(session.periods) - 1
    choices = growable(session, last)
    assume(choices)
    dimension = data.draw(st.sampled_from(choices))
    delta = data.draw(st.integers(min_value=1, max_value=20_000).map(lambda n: Decimal(n) / 1000))
    before = price_session(tariff, session).total_cost
    after = price_session(tariff, grown(session, last, dimension, delta)).total_cost
    assert after.excl_vat >= before.excl_vat
    assert after.incl_vat >= before.incl_vat


@SETTINGS
@given(tariffs(rounding=False, energy=False), sessions(), st.data())
def test_without_rounding_growing_any_period_never_lowers_the_price(
    tariff: TariffSpec, session: SessionInput, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(session.periods) - 1))
    choices = growable(session, index)
    assume(choices)
    dimension = data.draw(st.sampled_from(choices))
    delta = data.draw(st.integers(min_value=1, max_value=20_000).map(lambda n: Decimal(n) / 1000))
    before = price_session(tariff, session).total_cost
    after = price_session(tariff, grown(session, index, dimension, delta)).total_cost
    assert after.excl_vat >= before.excl_vat
    assert after.incl_vat >= before.incl_vat


@SETTINGS
@given(tariffs(), sessions())
def test_incl_vat_is_never_below_excl_vat(tariff: TariffSpec, session: SessionInput) -> None:
    result = price_session(tariff, session)
    assert result.total_cost.incl_vat >= result.total_cost.excl_vat
    for line in result.lines:
        assert line.amount.incl_vat >= line.amount.excl_vat


def _context(session: SessionInput, period: PeriodInput, energy_before: Decimal) -> PeriodContext:
    return PeriodContext(
        local=period.start.astimezone(ZoneInfo(session.time_zone)),
        energy_before=energy_before,
        elapsed_seconds=Decimal((period.start - session.start).total_seconds()),
        dimensions=period.dimensions,
        reserving=False,
        charging=True,
        reservation_expired=False,
    )


@SETTINGS
@given(tariffs(), sessions(), st.data())
def test_splitting_a_period_where_nothing_changes_keeps_the_price(
    tariff: TariffSpec, session: SessionInput, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(session.periods) - 1))
    original = session.periods[index]
    following = session.periods[index + 1].start if index + 1 < len(session.periods) else None
    length = ((following or session.end) - original.start) // timedelta(seconds=36)
    assume(length >= 2)
    cut = data.draw(st.integers(min_value=1, max_value=length - 1))
    first_hours, second_hours = Decimal(cut) / 100, Decimal(length - cut) / 100
    first = dict(original.dimensions)
    second = dict(original.dimensions)
    timed = "TIME" if "TIME" in first else "PARKING_TIME"
    first[timed], second[timed] = first_hours, second_hours
    if "ENERGY" in first:
        energy = first["ENERGY"]
        whole_wh = int(energy * 1000)
        first["ENERGY"] = Decimal(data.draw(st.integers(0, whole_wh))) / 1000
        second["ENERGY"] = energy - first["ENERGY"]
    head = PeriodInput(start=original.start, dimensions=first)
    tail = PeriodInput(start=original.start + timedelta(seconds=36 * cut), dimensions=second)

    before = sum((p.volume(Dimension.ENERGY) for p in session.periods[:index]), start=Decimal(0))
    at_start = _context(session, original, before)
    at_cut = _context(session, tail, before + first.get("ENERGY", Decimal(0)))
    assume(
        all(
            evaluate(element, at_start).holds == evaluate(element, at_cut).holds
            for element in tariff.elements
        )
    )
    periods = (*session.periods[:index], head, tail, *session.periods[index + 1 :])
    split = replace(session, periods=periods)

    whole = price_session(tariff, session)
    parts = price_session(tariff, split)
    assert abs(whole.total_cost.excl_vat - parts.total_cost.excl_vat) < TOLERANCE
    assert abs(whole.total_cost.incl_vat - parts.total_cost.incl_vat) < TOLERANCE
    assert abs(whole.total_energy - parts.total_energy) == 0
