"""How many CDRs per second the tariff engine prices: alone, and with OCPI JSON in and out.

    .venv/bin/python -m benchmarks.pricing [--count 2000] [--repeat 3] [--seed 1]

Sessions are generated (seeded, so runs are comparable) with 1 and with 6 charging periods and
priced under one tariff of seven elements: a start fee, day and night energy prices, a fast
charging price above 50 kW, a weekday time fee and a parking fee with a 5-minute step. "engine
alone" times ``price_session`` on ready-made inputs; "JSON in/out" times what ``price_cdr``
does: parse the CDR JSON (with its tariff) through the 2.2.1 adapter, price, render the result
and serialize it. The figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import django


def _priced(kind: str, price: str, step_size: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": Decimal(price), "vat": Decimal("21.0"), "step_size": step_size}


def _element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        element["restrictions"] = restrictions
    return element


WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "RDK",
    "id": "BENCH-1",
    "currency": "EUR",
    "elements": [
        _element(_priced("FLAT", "0.35")),
        _element(_priced("ENERGY", "0.69"), min_power=Decimal("50.00")),
        _element(_priced("ENERGY", "0.27"), start_time="23:00", end_time="07:00"),
        _element(_priced("ENERGY", "0.34")),
        _element(
            _priced("TIME", "1.20", 60), start_time="08:00", end_time="20:00", day_of_week=WEEKDAYS
        ),
        _element(_priced("PARKING_TIME", "2.40", 300), start_time="09:00", end_time="19:00"),
        _element(_priced("PARKING_TIME", "0.60", 300)),
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}
TIME_ZONE = "Europe/Amsterdam"
_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def _ocpi_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_cdr(rng: random.Random, index: int, periods: int) -> dict[str, Any]:
    """A 2.2.1 CDR (only what pricing reads, plus the required totals) with ``periods``
    charging periods: charging ones, then parking for the last one when there are several."""
    start = _EPOCH + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
    at = start
    charging_periods = []
    for number in range(periods):
        minutes = rng.randrange(5, 60)
        seconds = minutes * 60
        hours = Decimal(seconds) / 3600
        if periods > 1 and number == periods - 1:
            dimensions = [{"type": "PARKING_TIME", "volume": round(hours, 4)}]
        else:
            power = Decimal(rng.choice([7, 11, 22, 50, 150]))
            dimensions = [
                {"type": "ENERGY", "volume": round(power * hours * Decimal("0.9"), 3)},
                {"type": "TIME", "volume": round(hours, 4)},
                {"type": "MIN_POWER", "volume": power},
                {"type": "MAX_POWER", "volume": power},
            ]
        charging_periods.append(
            {"start_date_time": _ocpi_time(at), "dimensions": dimensions, "tariff_id": "BENCH-1"}
        )
        at += timedelta(seconds=seconds)
    return {
        "country_code": "NL",
        "party_id": "RDK",
        "id": f"BENCH-{index}",
        "start_date_time": _ocpi_time(start),
        "end_date_time": _ocpi_time(at),
        "cdr_location": {"id": "LOC-BENCH"},
        "currency": "EUR",
        "tariffs": [TARIFF],
        "charging_periods": charging_periods,
        "total_cost": {"excl_vat": Decimal(0), "incl_vat": Decimal(0)},
        "total_energy": Decimal(0),
        "total_time": Decimal(0),
    }


def _best(run: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def measure(count: int, periods: int, repeat: int, seed: int) -> tuple[float, float]:
    """(engine alone, JSON in/out) in CDRs per second."""
    from apps.ocpi.common import jsonutil
    from apps.ocpi.v2_2_1.pricing_input import parse_cdr
    from apps.tariffs.pricing import price_session, result_data

    rng = random.Random(seed)
    documents = [jsonutil.dumps(generate_cdr(rng, index, periods)) for index in range(count)]
    parsed = [parse_cdr(jsonutil.loads(doc)) for doc in documents]
    inputs = [(cdr.select_tariff(), cdr.session(TIME_ZONE)) for cdr in parsed]

    def engine() -> None:
        for tariff, session in inputs:
            price_session(tariff, session)

    def json_in_out() -> None:
        for document in documents:
            cdr = parse_cdr(jsonutil.loads(document))
            result = price_session(cdr.select_tariff(), cdr.session(TIME_ZONE))
            jsonutil.dumps(result_data(result))

    return count / _best(engine, repeat), count / _best(json_in_out, repeat)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pricing", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="CDRs per run (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts (3)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()

    out = sys.stdout
    out.write(
        f"tariff engine: {args.count} generated CDRs per run, best of {args.repeat} "
        f"(Python {platform.python_version()}, {platform.machine()})\n"
    )
    out.write(f"{'periods':>7}  {'engine alone':>18}  {'JSON in/out':>18}\n")
    for periods in (1, 6):
        alone, with_json = measure(args.count, periods, args.repeat, args.seed)
        out.write(f"{periods:>7}  {alone:>12,.0f} CDR/s  {with_json:>12,.0f} CDR/s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
