"""Protocol bookkeeping: the log of every OCPI call in and out."""

from __future__ import annotations

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
        return f"{self.direction} {self.method} {self.url} → {self.http_status}/{self.ocpi_status}"

    @property
    def succeeded(self) -> bool:
        return (
            self.http_status is not None
            and 200 <= self.http_status < 300
            and (self.ocpi_status is None or 1000 <= self.ocpi_status < 2000)
        )
