"""OCPI JSON: numbers are ``Decimal`` when parsed and JSON numbers (never strings) when rendered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import simplejson

from apps.ocpi.common.timestamps import format_ocpi_datetime


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ocpi_datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; Decimals as numbers, datetimes in OCPI form."""
    text: str = simplejson.dumps(
        data, use_decimal=True, default=_default, separators=(",", ":"), ensure_ascii=False
    )
    return text.encode()


def loads(body: bytes | str) -> Any:
    """Parse JSON with every non-integer number as ``Decimal``. Raises ``ValueError``, also
    for JSON nested deeper than the parser's recursion allows (no OCPI object comes close)."""
    try:
        return simplejson.loads(body, use_decimal=True)
    except RecursionError:
        raise ValueError("nested too deeply") from None
