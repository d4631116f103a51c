"""The pricing policy (docs/pricing-policy.md), rule by rule, and the choices we made where it is
silent. Each test names the rule it checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.tariffs.pricing import (
    Dimension,
    InvalidSessionInput,
    InvalidTariff,
    NoValidTariff,
    PeriodInput,
    SessionInput,
    price_session,
    select_tariff,
    tariff_spec,
)
from tests.tariffs.helpers import (
    close,
    component,
    element,
    local,
    period,
    rounded,
    session,
    tariff,
)

_T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday


def one_period(at: datetime, zone: str = "UTC", **dims: str) -> SessionInput:
    """A one-period session at ``at`` with the given dimensions (decimal strings)."""
    return SessionInput(
        start=at,
        end=at + timedelta(hours=1),
        periods=(PeriodInput(at, {k: Decimal(v) for k, v in dims.items()}),),
        time_zone=zone,
    )


def priced(spec_tariff: object, sess: SessionInput) -> list[tuple[int, str, int, int]]:
    result = price_session(spec_tariff, sess)  # type: ignore[arg-type]
    return [(x.period_index, x.dimension, x.element_index, x.component_index) for x in result.lines]


# -- a: first matching element with a component of the dimension; first component wins ---------
def test_a_each_dimension_has_its_own_first_match() -> None:
    spec = tariff(
        element(component("TIME", "1.00"), component("TIME", "9.00")),
        element(component("ENERGY", "0.30"), max_power="11"),
        element(component("ENERGY", "0.50"), component("PARKING_TIME", "2.00")),
    )
    lines = priced(spec, one_period(_T0, ENERGY="10", TIME="1", PARKING_TIME="0.5", MAX_POWER="50"))
    assert lines == [
        (0, Dimension.ENERGY, 2, 0),  # element 1 does not match (50 kW ≥ 11 kW)
        (0, Dimension.TIME, 0, 0),  # the first TIME component of element 0
        (0, Dimension.PARKING_TIME, 2, 1),  # element 0 has none: it does not block
    ]


def test_a_an_unpriced_dimension_is_explained() -> None:
    spec = tariff(element(component("ENERGY", "0.30"), start_time="18:00"))
    result = price_session(spec, one_period(_T0, ENERGY="10", TIME="1"))
    assert result.lines == ()
    explanations = result.periods[0].explanations
    assert any("ENERGY 10 kWh: not priced" in text for text in explanations)
    assert any("local time 09:00 is outside 18:00 to 24:00" in text for text in explanations)
    assert any(
        "TIME" in text and "element 0 has no TIME component" in text for text in explanations
    )


# -- b: local time at the period's start; starts inclusive, ends exclusive ----------------------
@pytest.mark.parametrize(
    ("clock", "window", "matches"),
    [
        ("17:00", ("17:00", "20:00"), True),  # start inclusive
        ("19:59", ("17:00", "20:00"), True),
        ("20:00", ("17:00", "20:00"), False),  # end exclusive
        ("16:59", ("17:00", "20:00"), False),
        ("23:30", ("22:00", "06:00"), True),  # wraps past midnight
        ("05:59", ("22:00", "06:00"), True),
        ("06:00", ("22:00", "06:00"), False),
        ("12:00", ("22:00", "06:00"), False),
        ("23:59", ("20:00", "00:00"), True),  # 00:00 as end: until the end of the day
        ("00:00", ("20:00", "00:00"), False),
        ("08:00", (None, "09:00"), True),
        ("09:00", ("09:00", None), True),
    ],
)
def test_b_time_windows(clock: str, window: tuple[str | None, str | None], matches: bool) -> None:
    restrictions = {
        key: value for key, value in zip(("start_time", "end_time"), window, strict=True) if value
    }
    spec = tariff(element(component("ENERGY", "1.00"), **restrictions))
    at = local(f"2024-03-04 {clock}", "Europe/Amsterdam")
    result = price_session(spec, one_period(at, "Europe/Amsterdam", ENERGY="1"))
    assert bool(result.lines) is matches


def test_b_restrictions_use_the_locations_time_zone() -> None:
    spec = tariff(
        element(component("ENERGY", "0.20"), start_time="22:00", end_time="06:00"),
        element(component("ENERGY", "0.40")),
    )
    at = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)
    assert price_session(spec, one_period(at, "UTC", ENERGY="10")).total_cost.excl_vat == 2
    # 23:30 UTC is 18:30 in New York: the day price.
    ny = price_session(spec, one_period(at, "America/New_York", ENERGY="10"))
    assert ny.total_cost.excl_vat == 4
    assert "18:30" in ny.lines[0].reason
    assert "America/New_York" in ny.lines[0].reason


def test_b_weekday_and_dates_are_local() -> None:
    # Sunday 23:30 UTC is Monday 00:30 in Berlin (winter time).
    at = datetime(2024, 3, 3, 23, 30, tzinfo=UTC)
    weekday = tariff(element(component("ENERGY", "1"), day_of_week=["MONDAY"]))
    assert price_session(weekday, one_period(at, "Europe/Berlin", ENERGY="1")).lines
    assert not price_session(weekday, one_period(at, "UTC", ENERGY="1")).lines
    dated = tariff(
        element(component("ENERGY", "1"), start_date="2024-03-04", end_date="2024-03-05")
    )
    assert price_session(dated, one_period(at, "Europe/Berlin", ENERGY="1")).lines
    assert not price_session(dated, one_period(at, "UTC", ENERGY="1")).lines  # still the 3rd
    next_day = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)  # the 5th in Berlin: end is exclusive
    assert not price_session(dated, one_period(next_day, "Europe/Berlin", ENERGY="1")).lines


@pytest.mark.parametrize(
    ("utc", "local_clock"),
    [
        # Spring forward in Amsterdam (2024-03-31): 02:00 CET jumps to 03:00 CEST.
        (datetime(2024, 3, 31, 0, 59, tzinfo=UTC), "01:59"),
        (datetime(2024, 3, 31, 1, 0, tzinfo=UTC), "03:00"),
        # Fall back (2024-10-27): 02:30 happens twice, once in CEST and once in CET.
        (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), "02:30"),
        (datetime(2024, 10, 27, 1, 30, tzinfo=UTC), "02:30"),
    ],
)
def test_b_daylight_saving_follows_the_time_zone_database(utc: datetime, local_clock: str) -> None:
    spec = tariff(
        element(component("ENERGY", "0.10"), start_time="02:00", end_time="03:00"),
        element(component("ENERGY", "0.50")),
    )
    result = price_session(spec, one_period(utc, "Europe/Amsterdam", ENERGY="1"))
    assert f"local time {local_clock}" in result.lines[0].reason or local_clock == "01:59"
    in_window = "02:00" <= local_clock < "03:00"
    assert result.total_cost.excl_vat == (Decimal("0.10") if in_window else Decimal("0.50"))


# -- c: energy before the period, time since the start, MIN_/MAX_ dimensions --------------------
def test_c_kwh_restrictions_compare_the_energy_before_the_period() -> None:
    spec = tariff(
        element(component("ENERGY", "0.50"), max_kwh="10"),
        element(component("ENERGY", "0.20"), min_kwh="10"),
    )
    result = price_session(
        spec,
        session("2024-03-04 10:00", 90, period(0, kwh=10), period(30, kwh=10), period(60, kwh=5)),
    )
    # Period 1 has exactly 10 kWh before it: min inclusive, max exclusive.
    assert [(x.period_index, x.element_index) for x in result.lines] == [(0, 0), (1, 1), (2, 1)]
    assert result.total_energy_cost.excl_vat == Decimal("8.00")
    assert "energy before the period 10 kWh is ≥ min_kwh 10 kWh" in result.lines[1].reason


def test_c_duration_restrictions_compare_the_time_since_the_session_started() -> None:
    spec = tariff(
        element(component("TIME", "0"), max_duration=1800),
        element(component("TIME", "6.00"), min_duration=1800),
    )
    result = price_session(spec, session("2024-03-04 10:00", 60, period(0), period(30)))
    assert [x.element_index for x in result.lines] == [0, 1]  # 1800 s: min inclusive
    assert result.total_cost.excl_vat == Decimal("3.00")


def test_c_current_and_power_compare_the_min_and_max_dimensions() -> None:
    spec = tariff(
        element(component("ENERGY", "0.60"), min_power="50"),
        element(component("ENERGY", "0.40"), max_current="32"),
        element(component("ENERGY", "0.45")),
    )
    lines = price_session(
        spec,
        session(
            "2024-03-04 10:00",
            30,
            period(0, kwh=1, min_power=60, max_power=90),  # min ≥ 50: fast
            period(10, kwh=1, min_power=40, max_power=90, max_current=16),  # min < 50
            period(20, kwh=1, max_power=90),  # reports no MIN_POWER and no MAX_CURRENT
        ),
    ).lines
    assert [x.element_index for x in lines] == [0, 1, 2]
    assert "the period reports no MIN_POWER" in lines[2].reason
    assert "the period reports no MAX_CURRENT" in lines[2].reason


# -- d: a period is priced at its start and never split ------------------------------------------
def test_d_a_period_is_priced_whole_at_its_start() -> None:
    spec = tariff(
        element(component("TIME", "1.00"), end_time="17:00"),
        element(component("TIME", "5.00"), start_time="17:00"),
    )
    # One period from 16:00 to 18:00: all of it at the price of 16:00.
    result = price_session(spec, session("2024-03-04 16:00", 120, period(0)))
    assert result.total_cost.excl_vat == Decimal("2.00")


# -- e: FLAT at most once per session -------------------------------------------------------------
def test_e_flat_is_billed_once_on_the_first_period_where_one_matches() -> None:
    spec = tariff(
        element(component("FLAT", "1.00"), start_time="17:00"),
        element(component("FLAT", "3.00"), start_time="18:00"),
        element(component("ENERGY", "0.30")),
    )
    result = price_session(
        spec,
        session("2024-03-04 16:30", 120, period(0, kwh=5), period(30, kwh=5), period(90, kwh=5)),
    )
    flats = [x for x in result.lines if x.dimension is Dimension.FLAT]
    assert [(x.period_index, x.element_index) for x in flats] == [(1, 0)]
    assert result.total_fixed_cost.excl_vat == Decimal("1.00")
    assert "FLAT: not billed in this period" in result.periods[0].explanations[0]


# -- f: step_size once per session and dimension, TIME not rounded when parking was billed -------
def test_f_parking_is_rounded_even_when_charging_comes_last() -> None:
    """The digest rounds the time dimension of the *last* time-based period (here TIME); our
    policy rounds PARKING_TIME whenever it was billed, and then never TIME."""
    spec = tariff(element(component("TIME", "3.00", 60), component("PARKING_TIME", "5.00", 300)))
    result = price_session(
        spec,
        session(
            "2024-03-04 10:00",
            "27.5",
            period(0, kwh=5),
            period("10.25", parking_min=7),
            period("17.25", kwh=5),
        ),
    )
    time_lines = [x for x in result.lines if x.dimension is Dimension.TIME]
    parking = next(x for x in result.lines if x.dimension is Dimension.PARKING_TIME)
    assert all(x.billed_volume == x.volume for x in time_lines)  # 20.5 min, not 21
    assert close(parking.billed_volume * 60, "10")  # 7 min rounded to 10
    assert rounded(result.total_cost)[0] == "1.86"  # 20.5/60 x 3 + 10/60 x 5
    assert any("TIME: not rounded" in note for note in result.notes)


def test_f_step_size_zero_means_no_rounding() -> None:
    spec = tariff(element(component("ENERGY", "0.25", 0)))
    result = price_session(spec, one_period(_T0, ENERGY="0.1152"))
    assert result.total_cost.excl_vat == Decimal("0.0288")
    assert any("not rounded (step size 0" in note for note in result.notes)


def test_f_reservation_time_is_rounded_on_its_own() -> None:
    """Where the policy is silent: RESERVATION_TIME is its own rounding group, with the step
    size of the last reservation period's component; charging TIME is rounded separately."""
    spec = tariff(
        element(component("TIME", "6.00", 600), reservation="RESERVATION"),
        element(component("TIME", "1.20", 900)),
    )
    result = price_session(
        spec, session("2024-03-04 10:00", 20, period(0, kwh=3), reservation_min=7)
    )
    reservation, charging = result.lines
    assert reservation.dimension is Dimension.RESERVATION_TIME
    assert close(reservation.billed_volume * 60, "10")
    assert charging.dimension is Dimension.TIME
    assert close(charging.billed_volume * 60, "30")
    assert rounded(result.total_reservation_cost) == ("1.00", "1.00")
    assert rounded(result.total_time_cost) == ("0.60", "0.60")


def test_f_an_exact_multiple_adds_no_surplus() -> None:
    spec = tariff(element(component("TIME", "2.00", 1200)))
    result = price_session(spec, session("2024-03-04 10:00", 40, period(0), period(20)))
    assert all(x.billed_volume == x.volume for x in result.lines)
    assert any("already a multiple" in note for note in result.notes)


# -- g: full precision, VAT per component --------------------------------------------------------
def test_g_full_precision_until_display() -> None:
    spec = tariff(element(component("ENERGY", "0.333", 0, vat="21")))
    result = price_session(spec, one_period(_T0, ENERGY="1.111"))
    assert result.total_cost.excl_vat == Decimal("0.369963")
    assert result.total_cost.incl_vat == Decimal("0.44765523")
    assert rounded(result.total_cost) == ("0.37", "0.45")


def test_g_vat_absent_means_incl_equals_excl_and_vat_applies_per_component() -> None:
    spec = tariff(
        element(component("FLAT", "1.00"), component("ENERGY", "0.50", vat="10")),
    )
    result = price_session(spec, one_period(_T0, ENERGY="10"))
    assert result.total_fixed_cost.incl_vat == result.total_fixed_cost.excl_vat == 1
    assert result.total_energy_cost.incl_vat == Decimal("5.5")
    assert result.total_cost.incl_vat == Decimal("6.5")


def test_g_time_is_billed_from_its_seconds_so_exact_amounts_stay_exact() -> None:
    # 0.55 h + 0.5 h = 3,780 s, rounded up to 3,900 s (step 300 s); the surplus of 120 s is
    # billed on the last period: (1,800 + 120) s x 2.40 per hour = 1.28 exactly. Dividing the
    # 120 s into hours first (0.0333… h) left 1.279999999999999999999999999.
    spec = tariff(element(component("TIME", "2.40", 300, vat="21"), component("ENERGY", "0.30")))
    result = price_session(
        spec,
        SessionInput(
            start=_T0,
            end=_T0 + timedelta(seconds=3780),
            periods=(
                PeriodInput(_T0, {"TIME": Decimal("0.55"), "ENERGY": Decimal("7.2")}),
                PeriodInput(_T0 + timedelta(seconds=1980), {"TIME": Decimal("0.5")}),
            ),
            time_zone="UTC",
        ),
    )
    time_lines = [x for x in result.lines if x.dimension == Dimension.TIME]
    assert [x.amount.excl_vat for x in time_lines] == [Decimal("1.32"), Decimal("1.28")]
    assert [x.amount.incl_vat for x in time_lines] == [Decimal("1.5972"), Decimal("1.5488")]
    assert result.total_time_cost.excl_vat == Decimal("2.60")
    assert result.total_cost.excl_vat == Decimal("4.76")
    assert result.total_cost.incl_vat == Decimal("5.306")
    assert close(time_lines[1].billed_volume * 3600, "1920")  # what was billed, in hours


def test_g_a_third_of_an_hour_written_in_hours_is_its_1200_seconds() -> None:
    # 20 minutes sketched as hours is 0.3333… h (28 digits); at 2.40 per hour it is 0.80.
    spec = tariff(element(component("TIME", "2.40")))
    result = price_session(spec, session("2024-03-04 09:00", 20))
    assert result.total_cost.excl_vat == Decimal("0.80")
    assert result.total_cost.incl_vat == Decimal("0.80")


def test_g_rounding_for_display_uses_the_currencys_minor_units() -> None:
    spec = tariff(element(component("ENERGY", "12.5")), currency="JPY")
    result = price_session(spec, one_period(_T0, ENERGY="1.5"))
    assert result.total_cost.excl_vat == Decimal("18.75")
    assert rounded(result.total_cost, "JPY") == ("19", "19")


# -- h: min_price / max_price clamp the total, excl. and incl. independently ---------------------
def test_h_bounds_apply_separately_and_leave_subtotals_alone() -> None:
    spec = tariff(
        element(component("ENERGY", "0.30", vat="20")),
        min_price_excl_vat="3.00",
        min_price_incl_vat="3.00",
        max_price_excl_vat="20.00",
    )
    result = price_session(spec, one_period(_T0, ENERGY="9"))  # 2.70 excl., 3.24 incl.
    assert result.total_cost.excl_vat == Decimal("3.00")  # lifted
    assert result.total_cost.incl_vat == Decimal("3.240")  # already above its minimum
    assert result.total_energy_cost.excl_vat == Decimal("2.70")
    assert result.uncapped_cost.excl_vat == Decimal("2.70")
    big = price_session(spec, one_period(_T0, ENERGY="100"))
    assert big.total_cost.excl_vat == Decimal("20.00")  # capped
    assert big.total_cost.incl_vat == Decimal("36.0")  # no incl. maximum
    assert any("max_price 20 EUR excl. VAT caps" in note for note in big.notes)


# -- i: reservations -----------------------------------------------------------------------------
def test_i_reservation_elements_price_only_the_reservation() -> None:
    spec = tariff(
        element(component("TIME", "9.00"), reservation="RESERVATION"),
        element(component("TIME", "1.00")),
    )
    plain = price_session(spec, session("2024-03-04 10:00", 60, period(0)))
    assert plain.total_time_cost.excl_vat == 1  # the reservation element never prices TIME
    assert plain.total_reservation_cost.excl_vat == 0
    reserved = price_session(spec, session("2024-03-04 10:00", 60, period(0), reservation_min=20))
    assert rounded(reserved.total_reservation_cost) == ("3.00", "3.00")
    assert reserved.total_time_cost.excl_vat == 1
    assert reserved.total_reservation_time * 60 == pytest.approx(20)
    # total_time runs from the session's start (the reservation's) to its end.
    assert close(reserved.total_time * 60, "80")


def test_total_time_is_end_minus_start_with_a_reservation_before_charging_and_parking() -> None:
    # Reserved 15 min, charged 45 min, parked 30 min: the CDR starts when the reservation was
    # made and ends when the car left, 1 h 30 min later. TIME alone adds up to 0.75 h.
    spec = tariff(
        element(component("TIME", "5.00"), reservation="RESERVATION"),
        element(component("ENERGY", "0.30"), component("PARKING_TIME", "2.00")),
    )
    sess = session(
        "2024-03-04 10:00",
        75,
        period(0, kwh=12),
        period(45, parking_min=30),
        reservation_min=15,
    )
    assert sess.end - sess.start == timedelta(minutes=90)

    result = price_session(spec, sess)

    assert result.total_time == Decimal("1.5")
    assert result.total_parking_time == Decimal("0.5")  # the sum of PARKING_TIME, as before
    assert result.total_reservation_time == Decimal("0.25")
    assert rounded(result.total_reservation_cost) == ("1.25", "1.25")


def test_total_time_is_end_minus_start_even_when_the_periods_start_later() -> None:
    sess = SessionInput(
        start=_T0,
        end=_T0 + timedelta(hours=2),
        periods=(PeriodInput(_T0 + timedelta(minutes=30), {"TIME": Decimal("1.5")}),),
        time_zone="UTC",
    )
    assert price_session(tariff(element(component("TIME", "1.00"))), sess).total_time == 2


def test_i_an_expired_reservation_is_inferred_from_the_periods() -> None:
    spec = tariff(
        element(component("FLAT", "4.00"), reservation="RESERVATION_EXPIRES"),
        element(component("TIME", "2.00", 600), reservation="RESERVATION"),
        element(component("FLAT", "0.50"), component("ENERGY", "0.25")),
    )
    start = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    only_reservation = SessionInput(
        start=start,
        end=start + timedelta(hours=1),
        periods=(PeriodInput(start, {"RESERVATION_TIME": Decimal(1)}),),
        time_zone="UTC",
    )
    result = price_session(spec, only_reservation)
    assert result.total_cost.excl_vat == Decimal("6.00")
    assert any("expired (inferred" in note for note in result.notes)
    # Told otherwise, the expiry fee does not apply.
    used = SessionInput(
        start=start,
        end=start + timedelta(hours=1),
        periods=only_reservation.periods,
        time_zone="UTC",
        reservation_expired=False,
    )
    assert price_session(spec, used).total_cost.excl_vat == Decimal("2.00")


def test_i_a_start_fee_is_not_billed_for_a_reservation_only_period() -> None:
    spec = tariff(
        element(component("TIME", "5.00"), reservation="RESERVATION"),
        element(component("FLAT", "0.50"), component("ENERGY", "0.25")),
    )
    result = price_session(spec, session("2024-03-04 10:00", 0, reservation_min=60, expired=True))
    assert result.total_cost.excl_vat == Decimal("5.00")
    assert result.total_fixed_cost.excl_vat == 0


# -- j: validity window --------------------------------------------------------------------------
def test_j_start_date_time_inclusive_end_date_time_exclusive() -> None:
    spec = tariff(
        element(component("ENERGY", "0.30")),
        start_date_time=_T0,
        end_date_time=_T0 + timedelta(days=1),
    )
    assert price_session(spec, one_period(_T0, ENERGY="1")).lines
    with pytest.raises(NoValidTariff, match="valid from 2024-03-04 09:00:00 UTC"):
        price_session(spec, one_period(_T0 - timedelta(seconds=1), ENERGY="1"))
    with pytest.raises(NoValidTariff, match=r"valid until .* \(exclusive\)") as caught:
        price_session(spec, one_period(_T0 + timedelta(days=1), ENERGY="1"))
    assert str(caught.value).startswith("NO_VALID_TARIFF: ")


def test_j_select_tariff_takes_the_first_valid_one() -> None:
    old = tariff_spec(
        currency="EUR",
        elements=[element(component("ENERGY", "0.20"))],
        tariff_id="OLD",
        end_date_time=_T0,
    )
    new = tariff_spec(
        currency="EUR",
        elements=[element(component("ENERGY", "0.30"))],
        tariff_id="NEW",
        start_date_time=_T0,
    )
    assert select_tariff([old, new], session_start=_T0).tariff_id == "NEW"
    assert select_tariff([old, new], session_start=_T0 - timedelta(hours=1)).tariff_id == "OLD"
    assert select_tariff([old, new], session_start=_T0, tariff_id="new").tariff_id == "NEW"
    with pytest.raises(NoValidTariff, match="tariff OLD was valid until"):
        select_tariff([old, new], session_start=_T0, tariff_id="OLD")
    with pytest.raises(NoValidTariff, match="no tariff with id 'X'"):
        select_tariff([old, new], session_start=_T0, tariff_id="X")


# -- where the policy is silent ------------------------------------------------------------------
def test_net_energy_export_is_not_billed() -> None:
    spec = tariff(element(component("ENERGY", "0.30")))
    result = price_session(spec, one_period(_T0, ENERGY="-2"))
    assert result.lines == ()
    assert result.total_energy == -2
    assert "net energy export" in result.periods[0].explanations[0]


def test_totals_of_quantities() -> None:
    result = price_session(
        tariff(element(component("ENERGY", "0.30"))),
        session("2024-03-04 10:00", 90, period(0, kwh=12), period(60, parking_min=30)),
    )
    assert result.total_energy == 12
    assert result.total_time == Decimal("1.5")
    assert result.total_parking_time == Decimal("0.5")
    assert result.total_reservation_time == 0


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: one_period(_T0.replace(tzinfo=None), ENERGY="1"), "aware"),
        (lambda: one_period(_T0, "Mars/Olympus", ENERGY="1"), "not an IANA time zone"),
        (lambda: one_period(_T0, TIME="-1"), "TIME must not be negative"),
        (
            lambda: SessionInput(
                _T0,
                _T0 + timedelta(hours=1),
                (PeriodInput(_T0, {"ENERGY": 1.5}),),  # type: ignore[dict-item]
                "UTC",
            ),
            "finite Decimal",
        ),
        (
            lambda: SessionInput(
                _T0,
                _T0 + timedelta(hours=1),
                (PeriodInput(_T0 + timedelta(minutes=5), {}), PeriodInput(_T0, {})),
                "UTC",
            ),
            "starts before the previous period",
        ),
        (lambda: SessionInput(_T0, _T0, (), "UTC"), "at least one charging period"),
        (
            lambda: SessionInput(_T0, _T0 - timedelta(seconds=1), (PeriodInput(_T0, {}),), "UTC"),
            "ends before it starts",
        ),
    ],
)
def test_malformed_sessions_are_refused(make: object, message: str) -> None:
    spec = tariff(element(component("ENERGY", "0.30")))
    with pytest.raises(InvalidSessionInput, match=message) as caught:
        price_session(spec, make())  # type: ignore[operator]
    assert caught.value.code == "INVALID_PRICING_INPUT"


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ([{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}], "float"),
        ([{"price_components": [{"type": "WATER", "price": "1", "step_size": 1}]}], "WATER"),
        ([{"price_components": [{"type": "TIME", "price": "1", "step_size": -1}]}], "step_size"),
        ([{"price_components": []}], "non-empty list"),
        (
            [
                {
                    "price_components": [{"type": "TIME", "price": "1", "step_size": 1}],
                    "restrictions": {"start_time": "24:00"},
                }
            ],
            "HH:MM",
        ),
        (
            [
                {
                    "price_components": [{"type": "TIME", "price": "1", "step_size": 1}],
                    "restrictions": {"happy_hour": True},
                }
            ],
            "unknown restriction",
        ),
        (
            [
                {
                    "price_components": [{"type": "TIME", "price": "1", "step_size": 1}],
                    "restrictions": {"day_of_week": ["FUNDAY"]},
                }
            ],
            "FUNDAY",
        ),
    ],
)
def test_unpriceable_tariffs_are_refused(elements: list[dict[str, object]], message: str) -> None:
    with pytest.raises(InvalidTariff, match=message):
        tariff_spec(currency="EUR", elements=elements)


def test_null_restrictions_are_absent() -> None:
    spec = tariff_spec(
        currency="EUR",
        elements=[
            {
                "price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}],
                "restrictions": {"start_time": None, "max_kwh": None, "day_of_week": None},
            }
        ],
    )
    assert spec.elements[0].restrictions.is_empty


def test_f_more_time_early_can_cost_less() -> None:
    """A documented consequence of rule f (docs/pricing-policy.md): the rounding surplus is
    billed at the last period's price, so one more minute at the cheap price costs less."""
    spec = tariff(
        element(component("TIME", "1.00", 900), end_time="17:00"),
        element(component("TIME", "2.00", 900), start_time="17:00"),
    )
    four = price_session(spec, session("2024-03-04 16:56", 14, period(0), period(4)))
    five = price_session(spec, session("2024-03-04 16:55", 15, period(0), period(5)))
    assert rounded(four.total_cost)[0] == "0.43"  # 4 min + 11 min (rounded up to 15)
    assert rounded(five.total_cost)[0] == "0.42"  # 5 min + 10 min


def test_c_durations_are_exact_to_the_microsecond() -> None:
    spec = tariff(
        element(component("ENERGY", "0"), max_duration=1800),
        element(component("ENERGY", "1.00")),
    )
    second = _T0 + timedelta(seconds=1799, microseconds=900_000)
    result = price_session(
        spec,
        SessionInput(
            start=_T0,
            end=second + timedelta(minutes=5),
            periods=(
                PeriodInput(_T0, {"ENERGY": Decimal(1)}),
                PeriodInput(second, {"ENERGY": Decimal(1)}),
            ),
            time_zone="UTC",
        ),
    )
    assert result.periods[1].elapsed_seconds == Decimal("1799.9")
    assert result.total_cost.excl_vat == 0  # still under max_duration (exclusive)
