"""Who we are (own parties) and whom we talk to (partners, their parties, connections)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from apps.core.crypto import decrypt_secret, encrypt_secret, hash_secret, secrets_equal
from apps.core.fields import json_field
from apps.partners.enums import ConnectionStatus, PublishScope, Reachability, Role


class Partner(models.Model):
    """A counterparty organisation (a CPO, an eMSP, a hub ...) we have an agreement with."""

    name = models.CharField(max_length=100, unique=True)
    contact_email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartyQuerySet(models.QuerySet["Party"]):
    def own(self) -> PartyQuerySet:
        return self.filter(partner__isnull=True)

    def foreign(self) -> PartyQuerySet:
        return self.filter(partner__isnull=False)


class Party(models.Model):
    """An OCPI party (country_code + party_id) with its roles and business details.

    ``partner`` empty means the party is one of our own (a platform may host several).
    """

    partner = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parties",
        help_text="Empty for our own parties.",
    )
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    party_id = models.CharField(max_length=3)
    roles = json_field(default=list, help_text='List of roles, e.g. ["CPO", "EMSP"]')
    name = models.CharField("business name", max_length=100)
    website = models.URLField(max_length=255, blank=True)
    logo = json_field(null=True, help_text="Image: url, thumbnail, category, type, width, height")
    reachability = models.CharField(
        max_length=16,
        choices=Reachability.choices,
        blank=True,
        help_text="Connection state as a hub reports it (HubClientInfo); empty if never reported",
    )
    reachability_updated = models.DateTimeField(
        null=True, blank=True, help_text="The hub's last_updated of that report"
    )
    reachability_via = models.ForeignKey(
        "PartnerConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The hub connection that reported it",
    )
    provisional = models.BooleanField(
        default=False,
        help_text="Announced by a hub (HubClientInfo), not by the party's own credentials: the "
        "first credentials exchange that lists this party claims it",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PartyQuerySet.as_manager()

    class Meta:
        ordering = ["country_code", "party_id"]
        verbose_name_plural = "parties"
        constraints = [
            models.UniqueConstraint(
                Upper("country_code"), Upper("party_id"), name="party_unique_country_party"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        super().save(*args, **kwargs)

    @property
    def is_own(self) -> bool:
        return self.partner_id is None

    @property
    def code(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    def has_role(self, role: str) -> bool:
        return role in (self.roles or [])

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        unknown = [r for r in (self.roles or []) if r not in Role.values]
        if unknown:
            raise ValidationError({"roles": f"unknown role(s): {', '.join(unknown)}"})


class PartnerConnection(models.Model):
    """One OCPI connection with a partner platform: how to reach it, which version and adapter
    were negotiated, and the credentials tokens in both directions.

    The token we issued is kept only as a SHA-256 hash; the token we send is encrypted with
    ``OCPI_TOKEN_ENCRYPTION_KEYS``. Neither is ever stored in clear.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="connections")
    name = models.CharField(max_length=100, help_text="Operator-facing label")
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.PENDING
    )
    versions_url = models.URLField(max_length=255, blank=True)
    version = models.CharField(
        "negotiated version", max_length=16, blank=True, help_text="Fixed at the handshake"
    )
    endpoints = json_field(
        default=list, help_text="Endpoints of the negotiated version: identifier, role, url"
    )
    adapter_profile = models.CharField(
        max_length=50,
        default="standard",
        help_text="Adapter profile chosen at the handshake (partner dialect)",
    )
    represented_parties = models.ManyToManyField(
        Party,
        blank=True,
        related_name="connections",
        help_text="Parties this connection may speak for (a hub may represent many)",
    )
    last_handshake_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    issued_token_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    issued_token_hint = models.CharField(
        max_length=8, blank=True, editable=False, help_text="Last characters, for support calls"
    )
    issued_token_is_registration = models.BooleanField(
        default=True, editable=False, help_text="True while the issued token is a token A"
    )
    issued_token_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    issued_token_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Registration tokens (token A) expire; others do not"
    )
    pending_issued_token_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="A new token offered during a rotation we started; valid with the current one "
        "until the partner confirms",
    )
    previous_issued_token_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="The token a rotation replaced, still accepted until previous_issued_token_until "
        "so that the partner's requests in flight do not fail",
    )
    previous_issued_token_until = models.DateTimeField(null=True, blank=True, editable=False)
    outbound_paused = models.BooleanField(
        default=False,
        help_text="Hold our pushes to this partner (they queue up and go out when resumed)",
    )
    log_bodies = models.BooleanField(
        "log request bodies",
        default=False,
        help_text="Debug switch: keep request and response bodies (tokens redacted) in the "
        "exchange log",
    )
    send_token_encrypted = models.TextField(blank=True, editable=False)
    authorization_timeout = models.DecimalField(
        "real-time authorization timeout (s)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("60"))],
        help_text="How long a driver waits for this partner's real-time authorization answer "
        "(the whole exchange); after it, the token's whitelist rule decides",
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="connection_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} / {self.name}" if self.name else self.partner.name

    # -- tokens ------------------------------------------------------------------------------
    def set_issued_token(
        self,
        raw: str,
        *,
        registration: bool,
        expires_at: datetime | None = None,
        keep_previous: bool = False,
    ) -> None:
        """Issue ``raw`` as the token the partner calls us with. With ``keep_previous`` (a
        rotation), the token it replaces stays valid for OCPI_TOKEN_ROTATION_OVERLAP_SECONDS;
        a registration token (token A) is never kept."""
        overlap = settings.OCPI_TOKEN_ROTATION_OVERLAP_SECONDS
        if (
            keep_previous
            and overlap
            and self.issued_token_hash
            and not (self.issued_token_is_registration)
        ):
            self.previous_issued_token_hash = self.issued_token_hash
            self.previous_issued_token_until = timezone.now() + timedelta(seconds=overlap)
        else:
            self.previous_issued_token_hash = None
            self.previous_issued_token_until = None
        self.issued_token_hash = hash_secret(raw)
        self.issued_token_hint = raw[-4:]
        self.issued_token_is_registration = registration
        self.issued_token_created_at = timezone.now()
        self.issued_token_expires_at = expires_at
        self.pending_issued_token_hash = None

    def issued_token_matches(self, raw: str) -> bool:
        digest = hash_secret(raw)
        previous = self.previous_issued_token_hash if self.previous_token_valid else None
        return any(
            stored and secrets_equal(stored, digest)
            for stored in (self.issued_token_hash, self.pending_issued_token_hash, previous)
        )

    @property
    def previous_token_valid(self) -> bool:
        until = self.previous_issued_token_until
        return (
            bool(self.previous_issued_token_hash) and until is not None and until > timezone.now()
        )

    @property
    def issued_token_expired(self) -> bool:
        expires = self.issued_token_expires_at
        return expires is not None and expires <= timezone.now()

    def set_send_token(self, raw: str) -> None:
        self.send_token_encrypted = encrypt_secret(raw)

    @property
    def send_token(self) -> str | None:
        return decrypt_secret(self.send_token_encrypted) if self.send_token_encrypted else None

    def endpoint_url(self, identifier: str, role: str) -> str | None:
        for endpoint in self.endpoints or []:
            if endpoint.get("identifier") == identifier and endpoint.get("role") == role:
                url = endpoint.get("url")
                return str(url) if url else None
        return None


class PublishableModel(models.Model):
    """Which partners an object of ours (a location, a tariff) is shared with."""

    publish_scope = models.CharField(
        max_length=8, choices=PublishScope.choices, default=PublishScope.ALL
    )
    publish_partners = models.ManyToManyField(
        Partner,
        blank=True,
        related_name="+",
        help_text="Used when the scope is 'Selected partners'",
    )

    class Meta:
        abstract = True

    @classmethod
    def published_to_q(cls, partner: Partner) -> models.Q:
        """Filter: the objects of this model published to ``partner``."""
        selected = cls.publish_partners.through.objects.filter(  # type: ignore[attr-defined]
            **{f"{cls._meta.model_name}_id": models.OuterRef("pk"), "partner_id": partner.pk}
        )
        return models.Q(publish_scope=PublishScope.ALL) | models.Q(
            models.Exists(selected), publish_scope=PublishScope.SELECTED
        )

    def is_published_to(self, partner: Partner) -> bool:
        if self.publish_scope == PublishScope.ALL:
            return True
        if self.publish_scope == PublishScope.NONE:
            return False
        return self.publish_partners.filter(pk=partner.pk).exists()


class SourcedModel(models.Model):
    """Metadata: the connection a record arrived through (empty when it is ours)."""

    source_connection = models.ForeignKey(
        PartnerConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
