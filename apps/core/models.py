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
