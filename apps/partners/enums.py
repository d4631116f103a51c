from django.db import models


class Role(models.TextChoices):
    CPO = "CPO", "Charge point operator"
    EMSP = "EMSP", "e-Mobility service provider"
    HUB = "HUB", "Roaming hub"
    NAP = "NAP", "National access point"
    NSP = "NSP", "Navigation service provider"
    OTHER = "OTHER", "Other"
    SCSP = "SCSP", "Smart charging service provider"


class ConnectionStatus(models.TextChoices):
    PENDING = "PENDING", "Pending (registration token issued)"
    CONNECTED = "CONNECTED", "Connected"
    SUSPENDED = "SUSPENDED", "Suspended by us"
    UNREGISTERED = "UNREGISTERED", "Unregistered"


class PublishScope(models.TextChoices):
    ALL = "ALL", "All partners"
    SELECTED = "SELECTED", "Selected partners"
    NONE = "NONE", "No partner"


class Reachability(models.TextChoices):
    """A party's connection state as a hub reports it (OCPI ClientInfo ``status``)."""

    CONNECTED = "CONNECTED", "Connected"
    OFFLINE = "OFFLINE", "Offline"
    PLANNED = "PLANNED", "Planned (never connected yet)"
    SUSPENDED = "SUSPENDED", "Suspended (will not return)"
