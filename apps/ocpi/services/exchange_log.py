"""The exchange log: one row per OCPI HTTP exchange, in and out.

Bodies are kept only while the connection's ``log_bodies`` debug switch is on, redacted by
:mod:`apps.core.redaction` (token-like keys, URL user info, Authorization values), as are the
URL and the error of every row. Headers are never stored, so neither is the Authorization header.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core.redaction import REDACTED, redact_data, redact_text
from apps.ocpi.common import jsonutil
from apps.ocpi.models import Direction, ExchangeLogEntry
from apps.partners.models import PartnerConnection

#: Non-JSON bodies (HTML error pages, binary junk) are cut to this many bytes.
MAX_TEXT_BODY_BYTES = 64 * 1024
#: JSON bodies are kept whole up to this many characters: a debug switch left on during a full
#: sync would otherwise copy every page (up to OCPI_OUTBOUND_MAX_RESPONSE_BYTES) into the table.
MAX_JSON_BODY_CHARS = 1024 * 1024
PRUNE_BATCH_SIZE = 5000

_SMALLINT_MAX = 32767  # PositiveSmallIntegerField on every backend
__all__ = ["REDACTED", "body_for_log", "exchange_log_prune", "exchange_log_record", "redact"]


def redact(value: Any) -> Any:
    """A copy of a parsed JSON document with credentials redacted (see ``redact_data``)."""
    return redact_data(value)


def _truncate(text: str, limit: int, total: int) -> str:
    return f"{text[:limit]}\n…[truncated, {total} bytes in all]"


def body_for_log(body: bytes) -> str:
    """The text stored for a body: redacted JSON, or the start of a non-JSON body."""
    if not body:
        return ""
    try:
        document = jsonutil.loads(body)
    except ValueError:  # not JSON (UnicodeDecodeError is a ValueError too)
        pass
    except RecursionError:
        return "[body not stored: JSON nested too deeply to redact]"
    else:
        try:
            text = jsonutil.dumps(redact(document)).decode()
        except RecursionError:
            return "[body not stored: JSON nested too deeply to redact]"
        if len(text) > MAX_JSON_BODY_CHARS:
            return _truncate(text, MAX_JSON_BODY_CHARS, len(body))
        return text
    text = body[:MAX_TEXT_BODY_BYTES].decode("utf-8", errors="replace")
    # Broken JSON (a truncated page, a credentials body with a syntax error) may still hold a
    # token: redact what looks like one.
    text = redact_text(text)
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    if len(body) > MAX_TEXT_BODY_BYTES:
        return _truncate(text, MAX_TEXT_BODY_BYTES, len(body))
    return text


_MAX_LENGTHS: dict[str, int | None] = {
    f.name: getattr(f, "max_length", None) for f in ExchangeLogEntry._meta.concrete_fields
}


def _clip(value: str, field: str) -> str:
    max_length = _MAX_LENGTHS[field]
    return value[:max_length] if max_length else value


def _smallint(value: int | None) -> int | None:
    return value if value is not None and 0 <= value <= _SMALLINT_MAX else None


def exchange_log_record(
    *,
    direction: Direction | str,
    connection: PartnerConnection | None,
    method: str,
    url: str,
    module: str = "",
    http_status: int | None = None,
    ocpi_status: int | None = None,
    duration_ms: int | None = None,
    request_id: str = "",
    correlation_id: str = "",
    request_body: bytes | None = None,
    response_body: bytes | None = None,
    error: str = "",
) -> ExchangeLogEntry:
    """Write one exchange log row.

    Sizes are always recorded; bodies only when ``connection.log_bodies`` is on (redacted).
    Values that do not fit a column (ids sent by partners, out-of-range status codes, long
    URLs) are clipped or dropped rather than failing the insert.
    """
    keep_bodies = connection is not None and connection.log_bodies
    return ExchangeLogEntry.objects.create(
        direction=Direction(direction),
        connection=connection,
        method=_clip(method.upper(), "method"),
        url=_clip(redact_text(url), "url"),
        module=_clip(module, "module"),
        http_status=_smallint(http_status),
        ocpi_status=_smallint(ocpi_status),
        duration_ms=max(duration_ms, 0) if duration_ms is not None else None,
        request_id=_clip(request_id, "request_id"),
        correlation_id=_clip(correlation_id, "correlation_id"),
        request_size=len(request_body or b""),
        response_size=len(response_body or b""),
        request_body=body_for_log(request_body or b"") if keep_bodies else "",
        response_body=body_for_log(response_body or b"") if keep_bodies else "",
        error=redact_text(error).replace("\x00", "\ufffd"),
    )


def exchange_log_prune(*, older_than_days: int | None = None) -> int:
    """Delete exchange log rows older than ``older_than_days`` (default: the retention setting).

    Deletes in batches of ids, each its own short statement, so a large backlog never holds
    long locks. Returns the number of rows deleted.
    """
    days = settings.OCPI_EXCHANGE_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("older_than_days must not be negative")
    cutoff = timezone.now() - timedelta(days=days)
    old = ExchangeLogEntry.objects.filter(created_at__lt=cutoff).order_by()
    deleted = 0
    while True:
        ids = list(old.values_list("pk", flat=True)[:PRUNE_BATCH_SIZE])
        if not ids:
            return deleted
        count, _ = ExchangeLogEntry.objects.filter(pk__in=ids).delete()
        deleted += count
