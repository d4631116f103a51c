"""Protocol bookkeeping: the log of every OCPI call in and out."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from apps.partners.models import PartnerConnection


class Direction(models.TextChoices):
    INBOUND = "IN", "Inbound (partner called us)"
    OUTBOUND = "OUT", "Outbound (we called the partner)"


class ExchangeLogEntry(models.Model):
    """One OCPI HTTP exchange. Bodies are kept only while the connection's debug switch is on,
    with tokens redacted. Old rows are pruned after OCPI_EXCHANGE_LOG_RETENTION_DAYS."""

    created_at = models.DateTimeField(default=timezone.now)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    connection = models.ForeignKey(
        PartnerConnection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exchanges",
    )
    method = models.CharField(max_length=8)
    url = models.URLField(max_length=1000)
    module = models.CharField(max_length=32, blank=True, help_text="OCPI module id, if known")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    request_size = models.PositiveIntegerField(default=0)
    response_size = models.PositiveIntegerField(default=0)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="Transport error or OCPI status message")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "exchange"
        verbose_name_plural = "exchange log"
        indexes = [
            models.Index(fields=["-created_at"], name="exchange_time_idx"),
            models.Index(fields=["connection", "-created_at"], name="exchange_conn_time_idx"),
            models.Index(fields=["correlation_id"], name="exchange_correlation_idx"),
            models.Index(fields=["request_id"], name="exchange_request_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.method} {self.url} → {self.outcome}"

    @property
    def outcome(self) -> str:
        """The answer in words: "HTTP 200, OCPI 1000", "HTTP 502", or "no answer" (a
        transport error: the partner was not reached or did not reply)."""
        if self.http_status is None:
            return "no answer"
        if self.ocpi_status is None:
            return f"HTTP {self.http_status}"
        return f"HTTP {self.http_status}, OCPI {self.ocpi_status}"

    @property
    def succeeded(self) -> bool:
        return (
            self.http_status is not None
            and 200 <= self.http_status < 300
            and (self.ocpi_status is None or 1000 <= self.ocpi_status < 2000)
        )


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    IN_FLIGHT = "IN_FLIGHT", "Being sent"
    DELIVERED = "DELIVERED", "Delivered"
    DEAD = "DEAD", "Dead (gave up)"
    DISCARDED = "DISCARDED", "Discarded"


class OutboundDelivery(models.Model):
    """One change to push to one partner connection (the outbox).

    Recorded in the transaction of the change; claimed by a worker with SELECT ... FOR UPDATE
    SKIP LOCKED; rendered from the object's *current* state when sent. At most one PENDING row
    exists per (connection, object): later changes coalesce into it, and a PENDING row is not
    claimed while the same object is IN_FLIGHT, so an older state never overtakes a newer one.
    """

    connection = models.ForeignKey(
        PartnerConnection, on_delete=models.CASCADE, related_name="deliveries"
    )
    module = models.CharField(max_length=32)
    kind = models.CharField(max_length=32, help_text="What changed (location, cdr, ...)")
    object_id = models.BigIntegerField()
    object_label = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(
        max_length=32, blank=True, help_text="Which claim owns the row while it is in flight"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(
        default=timezone.now, help_text="Last change coalesced into this delivery"
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_location = models.URLField(
        max_length=1000, blank=True, help_text="Where the partner stored it (CDR Location header)"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "outbound deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "object_id"],
                condition=models.Q(status="PENDING"),
                name="delivery_one_pending_per_object",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["connection", "status"], name="delivery_conn_status_idx"),
            models.Index(fields=["kind", "object_id"], name="delivery_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_label or self.object_id} → {self.connection_id}"


class SyncCursor(models.Model):
    """Pull sync of one module from one connection: schedule, high-water mark, and the state of
    the run in progress (so a crashed run resumes where it stopped).

    Incremental runs ask for ``date_from`` = ``high_water`` and a ``date_to`` fixed when the run
    starts; when the crawl completes, that ``date_to`` becomes the new high-water mark (spec
    2.7: the previous ``date_to`` is the next ``date_from``: no gap, no overlap). A full resync
    asks without ``date_from``.
    """

    connection = models.ForeignKey(
        PartnerConnection, on_delete=models.CASCADE, related_name="sync_cursors"
    )
    module = models.CharField(max_length=32)
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(
        default=60, help_text="Incremental sync every N minutes (pushes carry the live flow)"
    )
    full_interval_hours = models.PositiveIntegerField(
        default=24, help_text="Full resync every N hours (0: never on schedule)"
    )
    high_water = models.DateTimeField(
        null=True, blank=True, help_text="date_to of the last completed run"
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Failed runs since the last success (the retry waits longer each time)"
    )
    last_run_objects = models.PositiveIntegerField(default=0)
    last_run_invalid = models.PositiveIntegerField(default=0)

    # The run in progress (empty when none).
    run_token = models.CharField(max_length=32, blank=True, editable=False)
    run_lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    run_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    run_full = models.BooleanField(default=False, editable=False)
    run_date_from = models.DateTimeField(null=True, blank=True, editable=False)
    run_date_to = models.DateTimeField(null=True, blank=True, editable=False)
    run_next_url = models.TextField(
        blank=True, editable=False, help_text="Where the interrupted crawl continues"
    )
    run_pages = models.PositiveIntegerField(default=0, editable=False)
    run_objects = models.PositiveIntegerField(default=0, editable=False)
    run_invalid = models.PositiveIntegerField(default=0, editable=False)
    run_total = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["connection", "module"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "module"], name="sync_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connection} / {self.module}"

    @property
    def in_progress(self) -> bool:
        return self.run_started_at is not None

    @property
    def retry_at(self) -> datetime | None:
        """After failed runs, when the schedule tries again: 1, 2, 4 … minutes after the last
        failure, never longer than the cursor's interval. None when the last run succeeded."""
        if not self.consecutive_failures or self.last_error_at is None:
            return None
        wait = min(2 ** min(self.consecutive_failures - 1, 16), max(self.interval_minutes, 1))
        return self.last_error_at + timedelta(minutes=wait)
