from django.db import models


class CommandType(models.TextChoices):
    CANCEL_RESERVATION = "CANCEL_RESERVATION", "Cancel reservation"
    RESERVE_NOW = "RESERVE_NOW", "Reserve now"
    START_SESSION = "START_SESSION", "Start session"
    STOP_SESSION = "STOP_SESSION", "Stop session"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR", "Unlock connector"


class CommandDirection(models.TextChoices):
    SENT = "SENT", "Sent by us (eMSP)"
    RECEIVED = "RECEIVED", "Received by us (CPO)"


class CommandResponseType(models.TextChoices):
    """The CPO's immediate answer: did it accept the command and pass it to the charge point?"""

    ACCEPTED = "ACCEPTED", "Accepted"
    NOT_SUPPORTED = "NOT_SUPPORTED", "Not supported"
    REJECTED = "REJECTED", "Rejected"
    UNKNOWN_SESSION = "UNKNOWN_SESSION", "Unknown session"


class CommandResultType(models.TextChoices):
    """The outcome at the charge point, reported later."""

    ACCEPTED = "ACCEPTED", "Accepted"
    CANCELED_RESERVATION = "CANCELED_RESERVATION", "Reservation canceled"
    EVSE_OCCUPIED = "EVSE_OCCUPIED", "EVSE occupied"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE", "EVSE inoperative"
    FAILED = "FAILED", "Failed"
    NOT_SUPPORTED = "NOT_SUPPORTED", "Not supported"
    REJECTED = "REJECTED", "Rejected"
    TIMEOUT = "TIMEOUT", "Timeout (no outcome in time)"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION", "Unknown reservation"
