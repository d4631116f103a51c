"""OCPI DateTime: always UTC on the wire, as ``YYYY-MM-DDTHH:MM:SS[.fff]Z``.

We emit one strict form and parse leniently: with or without ``Z``, with fractional seconds, and
(logged) with an offset, which some partners send although the spec forbids it.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

_PATTERN = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?"
)


class InvalidTimestamp(ValueError):
    pass


def parse_ocpi_datetime(value: str) -> datetime:
    """Parse an OCPI DateTime into an aware UTC ``datetime``; raise ``InvalidTimestamp``."""
    if not isinstance(value, str):
        raise InvalidTimestamp(f"expected a DateTime string, got {type(value).__name__}")
    match = _PATTERN.fullmatch(value.strip())
    if not match:
        raise InvalidTimestamp(f"{value!r} is not an OCPI DateTime (e.g. 2015-06-29T20:39:09Z)")
    frac = (match["frac"] or "")[:7]  # microseconds at most; extra digits are dropped
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        logger.info("partner sent a DateTime with an offset (%s); converting to UTC", value)
        tz_text = tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
    else:
        tz_text = "+00:00"
    text = f"{match['date']}T{match['time']}{frac}{tz_text}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTimestamp(f"{value!r} is not a valid date/time: {exc}") from None
    return parsed.astimezone(UTC)


def format_ocpi_datetime(value: datetime) -> str:
    """Render an aware datetime as OCPI UTC text; milliseconds only when present."""
    if value.tzinfo is None:
        raise ValueError("refusing to format a naive datetime")
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
