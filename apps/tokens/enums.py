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
