"""Money: ``Decimal`` amounts that always travel with their ISO 4217 currency.

There is exactly one rounding helper, :func:`round_money`. Amounts are kept at full precision
everywhere else and rounded only for display and settlement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from apps.core.errors import DomainError

# ISO 4217 minor units that differ from the usual 2. Source: ISO 4217 list one (2024).
_MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals
    "CLF": 4, "UYW": 4,
}  # fmt: skip
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


class CurrencyError(DomainError):
    code = "INVALID_CURRENCY"


def validate_currency(currency: str) -> str:
    """Return the currency code if it has the ISO 4217 shape, else raise ``CurrencyError``."""
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise CurrencyError(f"{currency!r} is not an ISO 4217 currency code")
    return currency


def minor_units(currency: str) -> int:
    """Number of decimals of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return _MINOR_UNITS.get(validate_currency(currency), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor units, half away from zero.

    The one rounding helper of the project: call it only where an amount leaves full precision
    (display, invoices, settlement), never in between.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money amounts must be Decimal, got {type(amount).__name__}")
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its currency. Arithmetic refuses to mix currencies."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money.amount must be Decimal, got {type(self.amount).__name__}")
        validate_currency(self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return f"{round_money(self.amount, self.currency)} {self.currency}"


def format_money(amount: Decimal | None, currency: str | None) -> str:
    """Human display of an optional amount, rounded through :func:`round_money`."""
    if amount is None or not currency:
        return "—"
    return str(Money(amount, currency))
