from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from apps.partners.models import Party, SourcedModel
from apps.tokens.enums import ProfileType, TokenType, WhitelistType


class Token(SourcedModel):
    """A driver's means of identification (card, app id), owned by an eMSP party."""

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="tokens")
    uid = models.CharField(max_length=36, help_text="RFID UID as read, or the app's id")
    type = models.CharField(max_length=16, choices=TokenType.choices, default=TokenType.RFID)
    contract_id = models.CharField(max_length=36, db_index=True)
    visual_number = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(max_length=64)
    group_id = models.CharField(max_length=36, blank=True, db_index=True)
    valid = models.BooleanField(default=True)
    whitelist = models.CharField(max_length=16, choices=WhitelistType.choices)
    language = models.CharField(max_length=2, blank=True, help_text="ISO 639-1")
    default_profile_type = models.CharField(max_length=8, choices=ProfileType.choices, blank=True)
    energy_supplier_name = models.CharField(max_length=64, blank=True)
    energy_contract_id = models.CharField(max_length=64, blank=True)
    last_updated = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["party", "uid"]
        constraints = [
            models.UniqueConstraint("party", Lower("uid"), "type", name="token_unique_uid_type"),
        ]

    def __str__(self) -> str:
        return f"{self.uid} ({self.type})"
