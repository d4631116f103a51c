from django.db import models


class TariffType(models.TextChoices):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT", "Ad-hoc payment"
    PROFILE_CHEAP = "PROFILE_CHEAP", "Profile: cheap"
    PROFILE_FAST = "PROFILE_FAST", "Profile: fast"
    PROFILE_GREEN = "PROFILE_GREEN", "Profile: green"
    REGULAR = "REGULAR", "Regular"


class TariffDimensionType(models.TextChoices):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class VersionOrigin(models.TextChoices):
    PUBLISHED = "PUBLISHED", "Published by us"
    RECEIVED = "RECEIVED", "Received from a partner"
