from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from apps.ocpi.common import jsonutil
from apps.ocpi.common.timestamps import InvalidTimestamp, format_ocpi_datetime, parse_ocpi_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2016-12-29T17:45:09.2Z", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2018-01-01T03:08:01+02:00", datetime(2018, 1, 1, 1, 8, 1, tzinfo=UTC)),  # tolerated
    ],
)
def test_spec_datetime_forms_parse_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_ocpi_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["2015-06-29", "yesterday", "2015-13-01T00:00:00Z", ""])
def test_bad_datetimes_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_ocpi_datetime(text)


def test_datetimes_are_emitted_in_utc_with_z() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_ocpi_datetime(datetime(2026, 1, 1, 1, 0, tzinfo=cet)) == "2026-01-01T00:00:00Z"
    with_ms = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert format_ocpi_datetime(with_ms) == "2026-01-01T00:00:00.123Z"
    with pytest.raises(ValueError, match="naive"):
        format_ocpi_datetime(datetime(2026, 1, 1))  # noqa: DTZ001


def test_json_numbers_are_decimal_both_ways() -> None:
    data = jsonutil.loads(b'{"price": 0.1, "n": 3, "big": 12345678901234567890.123456789}')
    assert data["price"] == Decimal("0.1")
    assert data["n"] == 3
    assert data["big"] == Decimal("12345678901234567890.123456789")
    out = jsonutil.dumps(
        {"total": data["price"] + Decimal("0.2"), "at": datetime(2026, 1, 1, tzinfo=UTC)}
    )
    assert out == b'{"total":0.3,"at":"2026-01-01T00:00:00Z"}'
