from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.money import CurrencyError, Money, format_money, minor_units, round_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("12.345", "EUR", "12.35"),  # half away from zero
        ("12.344999", "EUR", "12.34"),
        ("-12.345", "EUR", "-12.35"),
        ("1234.5", "JPY", "1235"),
        ("1.23456", "KWD", "1.235"),
        ("0.1", "EUR", "0.10"),
    ],
)
def test_round_money_uses_the_currency_minor_units(
    amount: str, currency: str, expected: str
) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert rounded == Decimal(expected)
    assert str(rounded) == expected


def test_minor_units_and_bad_input() -> None:
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("BHD")) == (2, 0, 3)
    with pytest.raises(CurrencyError):
        minor_units("eur")
    with pytest.raises(TypeError):
        round_money(1.5, "EUR")  # type: ignore[arg-type]


def test_money_keeps_currency_and_refuses_mixing() -> None:
    total = Money(Decimal("0.1"), "EUR") + Money(Decimal("0.2"), "EUR")
    assert total == Money(Decimal("0.3"), "EUR")  # exact, unlike floats
    assert str(-total) == "-0.30 EUR"
    with pytest.raises(CurrencyError):
        _ = total + Money(Decimal("1"), "GBP")
    with pytest.raises(TypeError):
        Money(0.3, "EUR")  # type: ignore[arg-type]
    assert format_money(None, "EUR") == "—"
    assert format_money(Decimal("2.005"), "EUR") == "2.01 EUR"
