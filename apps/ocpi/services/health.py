"""Health and KPIs per partner connection and module, for the operators' health page.

All figures come from what the platform records anyway: the exchange log (every call in and
out), the outbox (deliveries), the sync cursors, and the CDRs. Each source is read with one
aggregate query over a bounded time window, so the page stays cheap on large tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import Cdr
from apps.ocpi.adapters.registry import adapter_problem
from apps.ocpi.models import DeliveryStatus, ExchangeLogEntry, OutboundDelivery, SyncCursor
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection

SUCCEEDED = Q(http_status__gte=200, http_status__lt=300) & (
    Q(ocpi_status__isnull=True) | Q(ocpi_status__gte=1000, ocpi_status__lt=2000)
)


@dataclass
class ModuleHealth:
    module: str
    successes: int = 0
    failures: int = 0
    last_success: datetime | None = None
    daily: list[tuple[date, int, int]] = field(default_factory=list)  # day, ok, failed
    pending: int = 0
    dead: int = 0
    delivered: int = 0
    sync_lag: timedelta | None = None
    sync_last_success: datetime | None = None
    sync_failures: int = 0
    sync_last_error: str = ""

    @property
    def success_rate(self) -> Decimal | None:
        total = self.successes + self.failures
        return None if not total else Decimal(self.successes * 100) / total

    @property
    def delivery_acceptance(self) -> Decimal | None:
        """Share of finished deliveries the partner accepted (dead ones were refused)."""
        finished = self.delivered + self.dead
        return None if not finished else Decimal(self.delivered * 100) / finished


@dataclass
class ConnectionHealth:
    connection: PartnerConnection
    modules: list[ModuleHealth]
    cdrs_received: int = 0
    cdrs_in_review: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    #: Why nothing can be exchanged at all (e.g. a version we do not speak), shown first.
    problem: str | None = None

    @property
    def cdr_acceptance(self) -> Decimal | None:
        """Received CDRs that passed our checks (not held for review), in percent."""
        if not self.cdrs_received:
            return None
        return Decimal((self.cdrs_received - self.cdrs_in_review) * 100) / self.cdrs_received


def command_success(connection: PartnerConnection) -> str:
    """Commands to or from this partner that ended ACCEPTED, among those with a result."""
    from apps.commands.enums import CommandResultType
    from apps.commands.models import Command

    figures = Command.objects.filter(connection=connection).aggregate(
        done=Count("pk", filter=~Q(result="")),
        ok=Count("pk", filter=Q(result=CommandResultType.ACCEPTED)),
    )
    if not figures["done"]:
        return "no results yet"
    rate = Decimal(figures["ok"] * 100) / figures["done"]
    return f"{rate:.1f} % of {figures['done']}"


#: Extra KPIs per connection: label → function.
KPI_PROVIDERS: dict[str, Callable[[PartnerConnection], str]] = {
    "Command success": command_success,
}


def health_overview(*, days: int = 14, now: datetime | None = None) -> list[ConnectionHealth]:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    connections = list(
        PartnerConnection.objects.exclude(status=ConnectionStatus.UNREGISTERED).select_related(
            "partner"
        )
    )
    by_key: dict[tuple[int, str], ModuleHealth] = {}

    def module(connection_id: int, name: str) -> ModuleHealth:
        key = (connection_id, name or "(none)")
        if key not in by_key:
            by_key[key] = ModuleHealth(module=key[1])
        return by_key[key]

    daily: dict[tuple[int, str], dict[date, list[int]]] = defaultdict(dict)
    exchanges = (
        ExchangeLogEntry.objects.filter(created_at__gte=since, connection__isnull=False)
        .annotate(day=TruncDate("created_at"))
        .values("connection_id", "module", "day")
        .annotate(
            ok=Count("pk", filter=SUCCEEDED),
            failed=Count("pk", filter=~SUCCEEDED),
            last_ok=Max("created_at", filter=SUCCEEDED),
        )
    )
    for row in exchanges:
        health = module(row["connection_id"], row["module"])
        health.successes += row["ok"]
        health.failures += row["failed"]
        if row["last_ok"] and (health.last_success is None or row["last_ok"] > health.last_success):
            health.last_success = row["last_ok"]
        daily[(row["connection_id"], health.module)][row["day"]] = [row["ok"], row["failed"]]
    first_day = since.date()
    for key, days_seen in daily.items():
        by_key[key].daily = [
            (d, *days_seen.get(d, [0, 0]))  # type: ignore[misc]
            for d in (first_day + timedelta(days=i) for i in range(days + 1))
        ]

    deliveries = OutboundDelivery.objects.values("connection_id", "module").annotate(
        pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
        dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD)),
        delivered=Count("pk", filter=Q(status=DeliveryStatus.DELIVERED)),
    )
    for outbox in deliveries:
        health = module(outbox["connection_id"], outbox["module"])
        health.pending = outbox["pending"]
        health.dead = outbox["dead"]
        health.delivered = outbox["delivered"]

    for cursor in SyncCursor.objects.all():
        health = module(cursor.connection_id, cursor.module)
        health.sync_lag = now - cursor.high_water if cursor.high_water else None
        health.sync_last_success = cursor.last_success_at
        health.sync_failures = cursor.failures
        health.sync_last_error = cursor.last_error

    received = (
        Cdr.objects.filter(origin=CdrOrigin.RECEIVED, source_connection__isnull=False)
        .values("source_connection_id")
        .annotate(total=Count("pk"))
    )
    received_by = {r["source_connection_id"]: r["total"] for r in received}
    review = (
        Cdr.objects.needs_review()
        .filter(source_connection__isnull=False)
        .values("source_connection_id")
        .annotate(total=Count("pk", distinct=True))
    )
    review_by = {r["source_connection_id"]: r["total"] for r in review}

    overview = []
    for connection in connections:
        modules = sorted(
            (h for (cid, _), h in by_key.items() if cid == connection.pk), key=lambda h: h.module
        )
        item = ConnectionHealth(
            connection=connection,
            modules=modules,
            cdrs_received=received_by.get(connection.pk, 0),
            cdrs_in_review=review_by.get(connection.pk, 0),
            problem=adapter_problem(connection.adapter_profile, connection.version),
        )
        for name, provider in KPI_PROVIDERS.items():
            item.extra[name] = provider(connection)
        overview.append(item)
    return overview


def sparkline(daily: list[tuple[date, int, int]], *, width: int = 140, height: int = 28) -> str:
    """Inline SVG bars: one per day, successes in green stacked under failures in red."""
    if not daily:
        return ""
    peak = max((ok + failed for _, ok, failed in daily), default=0) or 1
    bar = width / len(daily)
    parts = [
        f'<svg class="roamdesk-spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, (day, ok, failed) in enumerate(daily):
        x = i * bar
        ok_h = height * ok / peak
        failed_h = height * failed / peak
        title = f"<title>{day.isoformat()}: {ok} ok, {failed} failed</title>"
        parts.append(
            f'<g>{title}<rect x="{x:.1f}" y="{height - ok_h:.1f}" width="{max(bar - 1, 1):.1f}" '
            f'height="{ok_h:.1f}" fill="#3c9a5f"/>'
            f'<rect x="{x:.1f}" y="{height - ok_h - failed_h:.1f}" '
            f'width="{max(bar - 1, 1):.1f}" height="{failed_h:.1f}" fill="#c0392b"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
