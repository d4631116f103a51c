from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.fields import json_field
from apps.partners.models import PartnerConnection, Party, SourcedModel
from apps.tokens.enums import (
    AuthorizationSource,
    AuthorizationStatus,
    InvalidReason,
    ProfileType,
    TokenType,
    WhitelistType,
)


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
    invalid_reason = models.CharField(
        max_length=16,
        choices=InvalidReason.choices,
        default=InvalidReason.BLOCKED,
        help_text="Our own tokens: what a real-time authorization answers while the token is "
        "not valid",
    )
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


class TokenLocationRestriction(models.Model):
    """Where one of our tokens may charge. A token without any restriction may charge anywhere;
    with restrictions, only at the listed locations (and, when EVSEs are listed, only there)."""

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="location_restrictions")
    cpo = models.ForeignKey(
        Party,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The CPO whose location this is; empty: this location id at any CPO",
    )
    location_id = models.CharField(max_length=36, help_text="The CPO's Location id")
    evse_uids = json_field(
        default=list,
        help_text='EVSE uids of that location the token may use, e.g. ["BE-BEC-E041503001"]; '
        "empty: every EVSE",
    )

    class Meta:
        ordering = ["token", "location_id"]
        constraints = [
            models.UniqueConstraint(
                "token", "cpo", Lower("location_id"), name="token_restriction_unique_location"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token} at {self.location_id}"

    def clean(self) -> None:
        uids = self.evse_uids
        if not isinstance(uids, list) or not all(
            isinstance(uid, str) and 0 < len(uid) <= 36 for uid in uids
        ):
            raise ValidationError({"evse_uids": "a list of EVSE uids (text, at most 36 each)"})


class TokenAuthorization(models.Model):
    """One authorization decision about a token, on either side of the protocol.

    As eMSP (``ISSUED``) we answer a CPO's real-time request and hand out the reference; as CPO
    we record the eMSP's answer (``PARTNER``) or the whitelist rule we applied without one
    (``FALLBACK``, ``LOCAL``). The ``authorization_reference`` travels into the session and the
    CDR, which is how they are matched to the decision later.
    """

    authorization_reference = models.CharField(max_length=36, blank=True, db_index=True)
    source = models.CharField(max_length=16, choices=AuthorizationSource.choices)
    status = models.CharField(max_length=16, choices=AuthorizationStatus.choices)
    token = models.ForeignKey(
        Token,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="authorizations",
        help_text="The token as we hold it, when we hold it",
    )
    token_country_code = models.CharField(max_length=2)
    token_party_id = models.CharField(max_length=3)
    token_uid = models.CharField(max_length=36, db_index=True)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    location_id = models.CharField(
        max_length=36, blank=True, help_text="The location asked about (empty: none given)"
    )
    evse_uids = json_field(default=list, help_text="The EVSEs asked about")
    allowed_evse_uids = json_field(
        default=list, help_text="The EVSEs the answer allows (empty: all asked about)"
    )
    counterpart = models.ForeignKey(
        Party,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The CPO that asked us, or the eMSP we asked",
    )
    connection = models.ForeignKey(
        PartnerConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    info = models.CharField(max_length=512, blank=True, help_text="Message for the driver")
    detail = models.TextField(blank=True, help_text="Why (for operators)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # References we hand out are ours to keep unique; the eMSP's are the eMSP's.
            models.UniqueConstraint(
                fields=["authorization_reference"],
                condition=~models.Q(source=AuthorizationSource.PARTNER)
                & ~models.Q(authorization_reference=""),
                name="token_authorization_unique_own_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token_uid} {self.status} ({self.get_source_display()})"

    @property
    def allowed(self) -> bool:
        return self.status == AuthorizationStatus.ALLOWED
