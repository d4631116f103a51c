from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from apps.core.fields import json_field
from apps.core.immutability import AppendOnlyModel


class AuditLogEntry(AppendOnlyModel):
    """Who did what to which object, with the state before and after. Written by services,
    never edited: the database refuses UPDATE and DELETE on this table."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff user, if a person did it. Deactivate users instead of deleting them.",
    )
    actor_label = models.CharField(
        max_length=150, help_text="Readable actor: a user name, 'system', or a connection."
    )
    action = models.CharField(max_length=64, db_index=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = json_field(null=True)
    after = json_field(null=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.actor_label} {self.action} {self.object_repr}"


class TaskSchedule(models.Model):
    """A background job that waits in the broker, by key ("deliver:12:bulk", "sync:3:cdrs:incr").

    It makes "enqueue this job" idempotent across processes (the web server, workers, beat):
    while a job for a key is waiting, asking for it again sends nothing. The job frees its row
    when it starts, so a change made while it runs asks for (and gets) the next one. A row past
    ``expires_at`` is taken for lost (a broker that dropped the message): asking again sends a
    new job. See :mod:`apps.core.scheduling`.
    """

    key = models.CharField(max_length=120, primary_key=True)
    token = models.CharField(max_length=32, help_text="Identifies the job last sent for the key")
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the waiting job runs (empty: none is waiting)"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    sent = models.PositiveIntegerField(default=0, help_text="Jobs sent for this key in all")

    class Meta:
        verbose_name = "scheduled job"

    def __str__(self) -> str:
        return self.key


class JobFailure(models.Model):
    """A background job that raised, with its reason: shown on the Health page and in the admin
    so that an exception in a worker is never a silent "0 failures". Pruned after
    OCPI_EXCHANGE_LOG_RETENTION_DAYS like the exchange log."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    task = models.CharField(max_length=200, db_index=True)
    arguments = models.CharField(max_length=500, blank=True)
    error = models.TextField()
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "background job failure"

    def __str__(self) -> str:
        return f"{self.task}: {self.error[:80]}"
