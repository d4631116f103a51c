from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

# /healthz is public: its answer names what is down, never the driver's error text (hosts,
# ports, user names, file paths); that goes to the log.


def _check_database() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure makes the check red; the details are logged
        logger.warning("healthz: the database does not answer", exc_info=True)
        return {"ok": False, "vendor": connection.vendor, "error": "database unavailable"}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _check_broker() -> dict[str, Any]:
    started = time.monotonic()
    conn = celery_app.connection_for_write()
    transport = conn.transport_cls if isinstance(conn.transport_cls, str) else "custom"
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        # For Redis, a connection is lazy; a real command proves the server answers.
        channel = conn.default_channel
        client = getattr(channel, "client", None)
        if client is not None and hasattr(client, "ping"):
            client.ping()
    except Exception:  # any failure makes the check red; the details are logged
        logger.warning("healthz: the broker does not answer", exc_info=True)
        return {"ok": False, "transport": transport, "error": "broker unavailable"}
    finally:
        conn.release()
    return {
        "ok": True,
        "transport": transport,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and dependencies: 200 when the database and the broker answer, else 503."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
