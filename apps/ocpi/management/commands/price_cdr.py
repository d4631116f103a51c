from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.locations.models import Location
from apps.ocpi.common import jsonutil
from apps.ocpi.common.errors import OcpiError
from apps.ocpi.v2_2_1.pricing_input import CdrForPricing, parse_cdr, parse_tariff_spec
from apps.tariffs.pricing import TariffSpec, price_session, result_data

DEFAULT_TIME_ZONE = "UTC"


class Command(BaseCommand):
    help = (
        "Price an OCPI 2.2.1 CDR with the tariff engine (its own tariffs, or the ones given) "
        "and print the result as JSON: every total at full precision and rounded for display. "
        "The CDR's own totals are shown under 'reported' for comparison."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cdr", metavar="CDR_JSON", help="CDR JSON file ('-' for stdin)")
        parser.add_argument(
            "--tariff",
            action="append",
            default=[],
            metavar="TARIFF_JSON",
            help="Tariff JSON file (an object or a list); replaces the CDR's tariffs. Repeatable.",
        )
        parser.add_argument(
            "--time-zone",
            metavar="ZONE",
            help="IANA time zone of the location (default: the location's, when we know it, "
            "else UTC)",
        )
        parser.add_argument(
            "--explain", action="store_true", help="Add the priced lines and per-period reasons"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cdr = parse_cdr(_read_json(options["cdr"]))
            given = tuple(
                spec for path in options["tariff"] for spec in _tariff_specs(_read_json(path))
            )
            time_zone, source = self._time_zone(cdr, options["time_zone"])
            tariff = cdr.select_tariff(given)
            result = price_session(tariff, cdr.session(time_zone))
        except OcpiError as exc:
            raise CommandError(f"invalid input: {exc.message}") from None
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        warnings = []
        if source == "default":
            warnings.append(
                f"time zone unknown (no --time-zone, location {cdr.location_id} not known): "
                f"restrictions were evaluated in {time_zone}"
            )
        if tariff.currency != cdr.currency:
            warnings.append(f"the CDR is in {cdr.currency}, the tariff in {tariff.currency}")
        output = {
            "cdr": {
                "country_code": cdr.country_code,
                "party_id": cdr.party_id,
                "id": cdr.cdr_id,
                "start_date_time": cdr.start,
                "end_date_time": cdr.end,
            },
            "time_zone": time_zone,
            "time_zone_source": source,
            **result_data(result, explain=options["explain"]),
            "reported": cdr.reported,
            "warnings": warnings,
        }
        self.stdout.write(jsonutil.dumps(output).decode())

    def _time_zone(self, cdr: CdrForPricing, option: str | None) -> tuple[str, str]:
        """The zone restrictions are read in: the option, else the CDR location's own."""
        if option:
            try:
                ZoneInfo(option)
            except (ZoneInfoNotFoundError, ValueError):
                raise CommandError(f"--time-zone: {option!r} is not an IANA time zone") from None
            return option, "option"
        known = (
            Location.objects.filter(
                party__country_code__iexact=cdr.country_code,
                party__party_id__iexact=cdr.party_id,
                location_id__iexact=cdr.location_id,
            )
            .values_list("time_zone", flat=True)
            .first()
        )
        if known:
            return known, "location"
        return DEFAULT_TIME_ZONE, "default"


def _read_json(name: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror}") from None
    try:
        return jsonutil.loads(raw)
    except ValueError as exc:
        raise CommandError(f"{name} is not valid JSON: {exc}") from None


def _tariff_specs(data: Any) -> list[TariffSpec]:
    items = data if isinstance(data, list) else [data]
    return [parse_tariff_spec(item) for item in items]
