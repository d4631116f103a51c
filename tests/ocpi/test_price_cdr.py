"""``manage.py price_cdr``: prices a 2.2.1 CDR with the tariff engine and prints JSON."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.ocpi.common import jsonutil
from tests.factories import LocationFactory, PartyFactory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "ocpi" / "2.2.1"
CDR = FIXTURES / "cdrs" / "cdr_example.json"
TARIFFS = FIXTURES / "tariffs"

pytestmark = pytest.mark.django_db


def price(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("price_cdr", *args, stdout=out)
    data: dict[str, Any] = jsonutil.loads(out.getvalue())
    return data


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_bytes(jsonutil.dumps(data))
    return str(path)


def example_cdr() -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(CDR.read_bytes())
    return data


def test_prices_the_spec_example_cdr_with_its_own_tariff() -> None:
    result = price(str(CDR))
    # 1.973 h rounded up to 2 h (step 300 s) at 2.00/h, 10 % VAT: what the CDR itself says.
    assert result["tariff_id"] == "12"
    assert result["total_cost"] == {"excl_vat": Decimal("4.00"), "incl_vat": Decimal("4.400")}
    assert result["total_time_cost"] == result["total_cost"]
    assert result["total_energy_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert result["rounded"]["total_cost"] == {
        "excl_vat": Decimal("4.00"),
        "incl_vat": Decimal("4.40"),
    }
    assert result["reported"]["total_cost"] == result["rounded"]["total_cost"]
    assert result["cdr"]["id"] == "12345"
    assert result["cdr"]["start_date_time"] == "2015-06-29T21:39:09Z"
    assert result["time_zone"] == "UTC"
    assert result["time_zone_source"] == "default"
    assert "time zone unknown" in result["warnings"][0]
    assert "lines" not in result
    for name in ("total_energy", "total_time", "total_parking_time"):
        assert isinstance(result[name], Decimal | int)


def test_numbers_are_printed_as_json_numbers() -> None:
    out = io.StringIO()
    call_command("price_cdr", str(CDR), stdout=out)
    plain = json.loads(out.getvalue())
    assert plain["total_cost"]["excl_vat"] == 4
    assert isinstance(plain["rounded"]["total_cost"]["incl_vat"], float)


def test_explain_adds_the_lines_and_the_reasoning() -> None:
    result = price(str(CDR), "--explain", "--time-zone", "Europe/Brussels")
    assert result["time_zone_source"] == "option"
    assert result["warnings"] == []
    (line,) = result["lines"]
    assert line["dimension"] == "TIME"
    assert (line["element_index"], line["component_index"]) == (0, 0)
    assert line["volume"] == Decimal("1.973")
    assert line["billed_volume"] == 2
    assert "Europe/Brussels" in line["reason"]
    assert "rounded up to 2:00:00" in line["reason"]
    assert result["periods"][0]["explanations"]
    assert any("TIME" in note for note in result["notes"])


def test_the_locations_time_zone_is_used_when_we_know_the_location() -> None:
    party = PartyFactory.create(country_code="BE", party_id="BEC")
    LocationFactory.create(party=party, location_id="loc1", time_zone="Europe/Brussels")
    result = price(str(CDR))
    assert (result["time_zone"], result["time_zone_source"]) == ("Europe/Brussels", "location")


def test_given_tariffs_replace_the_cdrs_own() -> None:
    result = price(str(CDR), "--tariff", str(TARIFFS / "tariff_1_simple_2hour.json"))
    # tariff_1: 2.00/h with step 60 s: 1.973 h = 7102.8 s is billed as 7140 s.
    assert result["rounded"]["total_cost"] == {
        "excl_vat": Decimal("3.97"),
        "incl_vat": Decimal("4.36"),
    }


def test_no_valid_tariff_fails_with_its_code(tmp_path: Path) -> None:
    cdr = example_cdr()
    cdr["start_date_time"] = cdr["charging_periods"][0]["start_date_time"] = "2020-06-29T21:39:09Z"
    cdr["end_date_time"] = "2020-06-29T23:37:32Z"
    with pytest.raises(
        CommandError, match=r"^NO_VALID_TARIFF: tariff 16 was valid until 2019-06-30 23:59:59 UTC"
    ):
        call_command(
            "price_cdr",
            write(tmp_path, "cdr.json", cdr),
            "--tariff",
            str(TARIFFS / "tariff_6_025kwh_start_max_price.json"),
            stdout=io.StringIO(),
        )


def test_no_valid_tariff_exits_non_zero_from_the_command_line(tmp_path: Path) -> None:
    cdr = example_cdr()
    cdr["tariffs"][0]["start_date_time"] = "2016-01-01T00:00:00Z"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "price_cdr",
            write(tmp_path, "cdr.json", cdr),
            "--time-zone",
            "UTC",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "NO_VALID_TARIFF" in done.stderr
    assert "valid from 2016-01-01 00:00:00 UTC" in done.stderr
    assert done.stdout == ""


def test_a_cdr_without_tariffs_has_no_valid_tariff(tmp_path: Path) -> None:
    cdr = example_cdr()
    del cdr["tariffs"]
    with pytest.raises(CommandError, match="NO_VALID_TARIFF: the CDR holds no tariff"):
        call_command("price_cdr", write(tmp_path, "cdr.json", cdr), stdout=io.StringIO())


def test_a_tariff_switch_is_refused(tmp_path: Path) -> None:
    cdr = example_cdr()
    second = copy.deepcopy(cdr["charging_periods"][0])
    second["start_date_time"] = "2015-06-29T22:39:09Z"
    second["tariff_id"] = "13"
    cdr["charging_periods"].append(second)
    with pytest.raises(CommandError, match="TARIFF_SWITCH_UNSUPPORTED"):
        call_command("price_cdr", write(tmp_path, "cdr.json", cdr), stdout=io.StringIO())


def test_a_reservation_cdr_with_several_periods(tmp_path: Path) -> None:
    """A reservation (RESERVATION_TIME), then charging and parking, under tariff_16."""
    cdr = example_cdr()
    cdr["tariffs"] = [
        jsonutil.loads(
            (TARIFFS / "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json").read_bytes()
        )
    ]
    cdr["start_date_time"] = "2024-03-04T10:00:00Z"
    cdr["end_date_time"] = "2024-03-04T11:12:00Z"
    cdr["charging_periods"] = [
        {
            "start_date_time": "2024-03-04T10:00:00Z",
            "dimensions": [{"type": "RESERVATION_TIME", "volume": Decimal("0.2")}],
        },
        {
            "start_date_time": "2024-03-04T10:12:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 20},
                {"type": "TIME", "volume": Decimal("1.0")},
                {"type": "MAX_POWER", "volume": Decimal("22.0")},
            ],
        },
    ]
    result = price(write(tmp_path, "cdr.json", cdr), "--time-zone", "Europe/Berlin", "--explain")
    # 12 min reservation → 15 min at 5.00/h + the 2.00 reservation fee; 20 kWh at 0.25.
    assert result["total_reservation_cost"] == {
        "excl_vat": Decimal("3.25"),
        "incl_vat": Decimal("3.900"),
    }
    assert result["total_fixed_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert result["total_energy_cost"]["excl_vat"] == Decimal("5.00")
    assert result["total_reservation_time"] == Decimal("0.2")
    assert result["total_time"] == Decimal("1.2")  # end - start: 10:00 to 11:12, reservation too
    assert [line["dimension"] for line in result["lines"]] == [
        "FLAT",
        "RESERVATION_TIME",
        "ENERGY",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("charging_periods"), "charging_periods: This field is required"),
        (
            lambda c: c["charging_periods"][0]["dimensions"].append({"type": "TIME", "volume": 1}),
            "TIME is given twice",
        ),
        (
            lambda c: c["charging_periods"][0].update(start_date_time="yesterday"),
            "charging_periods[0].start_date_time",
        ),
        (lambda c: c["tariffs"][0].pop("last_updated"), "tariffs[0]: last_updated"),
        (
            lambda c: c["tariffs"][0]["elements"][0]["price_components"][0].update(price="2.00"),
            "must be a JSON number",
        ),
    ],
)
def test_invalid_cdrs_are_refused_naming_the_field(
    tmp_path: Path, change: Any, message: str
) -> None:
    cdr = example_cdr()
    change(cdr)
    with pytest.raises(CommandError, match="invalid input") as caught:
        call_command("price_cdr", write(tmp_path, "cdr.json", cdr), stdout=io.StringIO())
    assert message in str(caught.value)


def test_unreadable_input_and_unknown_zones_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("price_cdr", str(tmp_path / "missing.json"), stdout=io.StringIO())
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("price_cdr", str(broken), stdout=io.StringIO())
    with pytest.raises(CommandError, match="not an IANA time zone"):
        call_command("price_cdr", str(CDR), "--time-zone", "Mars/Olympus", stdout=io.StringIO())
