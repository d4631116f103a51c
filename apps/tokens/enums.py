from django.db import models


class TokenType(models.TextChoices):
    AD_HOC_USER = "AD_HOC_USER", "Ad-hoc user"
    APP_USER = "APP_USER", "App user"
    OTHER = "OTHER", "Other"
    RFID = "RFID", "RFID"


class WhitelistType(models.TextChoices):
    ALWAYS = "ALWAYS", "Always (local only)"
    ALLOWED = "ALLOWED", "Allowed (local or real-time)"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE", "Allowed when offline"
    NEVER = "NEVER", "Never (real-time only)"


class ProfileType(models.TextChoices):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class AllowedType(models.TextChoices):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT", "No credit"
    NOT_ALLOWED = "NOT_ALLOWED", "Not allowed here"


class InvalidReason(models.TextChoices):
    """Why one of our tokens is not valid: what a real-time authorization answers for it."""

    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT", "No credit"


class AuthorizationStatus(models.TextChoices):
    """The outcome of one authorization: an OCPI AllowedType, or the eMSP did not know the
    token at all."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT", "No credit"
    NOT_ALLOWED = "NOT_ALLOWED", "Not allowed here"
    UNKNOWN_TOKEN = "UNKNOWN_TOKEN", "Unknown token"


class AuthorizationSource(models.TextChoices):
    """Who decided an authorization."""

    ISSUED = "ISSUED", "Decided by us for a CPO (we are the eMSP)"
    PARTNER = "PARTNER", "Decided by the eMSP in real time"
    FALLBACK = "FALLBACK", "eMSP not reachable: whitelist rule on our copy"
    LOCAL = "LOCAL", "Decided locally from our copy (whitelist ALWAYS)"
