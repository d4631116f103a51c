from django.db import models


class SessionStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class AuthMethod(models.TextChoices):
    AUTH_REQUEST = "AUTH_REQUEST", "Real-time authorization"
    COMMAND = "COMMAND", "Command (app/remote)"
    WHITELIST = "WHITELIST", "Local whitelist"


class DimensionType(models.TextChoices):
    """What a charging period measures. The last five are reported in sessions only."""

    ENERGY = "ENERGY", "Energy (kWh)"
    MAX_CURRENT = "MAX_CURRENT", "Max current (A)"
    MIN_CURRENT = "MIN_CURRENT", "Min current (A)"
    MAX_POWER = "MAX_POWER", "Max power (kW)"
    MIN_POWER = "MIN_POWER", "Min power (kW)"
    PARKING_TIME = "PARKING_TIME", "Parking time (h)"
    RESERVATION_TIME = "RESERVATION_TIME", "Reservation time (h)"
    TIME = "TIME", "Charging time (h)"
    CURRENT = "CURRENT", "Current (A)"
    ENERGY_EXPORT = "ENERGY_EXPORT", "Energy export (kWh)"
    ENERGY_IMPORT = "ENERGY_IMPORT", "Energy import (kWh)"
    POWER = "POWER", "Power (kW)"
    STATE_OF_CHARGE = "STATE_OF_CHARGE", "State of charge (%)"


SESSION_ONLY_DIMENSIONS = frozenset(
    {
        DimensionType.CURRENT,
        DimensionType.ENERGY_EXPORT,
        DimensionType.ENERGY_IMPORT,
        DimensionType.POWER,
        DimensionType.STATE_OF_CHARGE,
    }
)


class ChargingPreferencesResponse(models.TextChoices):
    """The answer to a driver's charging preferences (what the EVSE makes of them)."""

    ACCEPTED = "ACCEPTED", "Accepted (the EVSE will try, no guarantee)"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED", "Departure time required"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED", "Energy need required"
    NOT_POSSIBLE = "NOT_POSSIBLE", "Not possible"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED", "Profile type not supported"
