from django.db import models


class ChargingRateUnit(models.TextChoices):
    WATTS = "W", "W (total power)"
    AMPERES = "A", "A (per phase)"


class ProfileOperation(models.TextChoices):
    SET = "SET", "Set a profile"
    GET_ACTIVE = "GET_ACTIVE", "Get the active profile"
    CLEAR = "CLEAR", "Clear a profile"


class ProfileResponseType(models.TextChoices):
    """The immediate answer to a request: accepted (and forwarded) or why not."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ProfileResultType(models.TextChoices):
    """The outcome reported later. UNKNOWN: the charger found no matching profile."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class RequestDirection(models.TextChoices):
    RECEIVED = "RECEIVED", "Received (we control the charger)"
    SENT = "SENT", "Sent (a partner controls the charger)"


class RequestStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"  # received: not yet executed; sent: not yet sent
    AWAITING_RESULT = "AWAITING_RESULT", "Awaiting the result"
    REFUSED = "REFUSED", "Refused"  # the immediate answer was not ACCEPTED
    FAILED = "FAILED", "Failed to send"
    COMPLETED = "COMPLETED", "Completed"
    TIMED_OUT = "TIMED_OUT", "Timed out"


OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.AWAITING_RESULT)
